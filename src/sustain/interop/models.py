"""What the interoperability app keeps (issue 16):

- what `sustain fhir-import` took that has no source id of its own (a medication or a weight
  from a FHIR resource, so a second import of the same file takes nothing again;
  sustain.interop.importer);
- the bulk export jobs (FHIR Bulk Data Access IG v2, "Bulk Data Export": kick-off, status,
  output files; sustain.interop.fhir.bulk_views);
- the system clients that read the FHIR API with their own token (sustain.interop.clients).

A system that reads the FHIR API with its own token (issue 16, item 3; sustain.interop.clients).

A `SystemClient` belongs to one site and acts with one staff role through its own service user
(a member of that site in that role's group, with no usable password: it never signs in on the
web), so it reads what that role may read at that site and no more. Its scopes narrow that
further per resource type ("system/Patient.read", "system/*.read": SMART App Launch v1 scope
syntax, as SMART Backend Services uses it). The OAuth 2.0 side (client id, hashed secret, access
tokens) is django-oauth-toolkit's Application, confidential, client-credentials only.
"""

import uuid
from typing import ClassVar

from django.db import models

from sustain.accounts.enums import Role
from sustain.accounts.models import Site, User
from sustain.care.models import Patient


class ImportedResource(models.Model):
    """One source resource (type and id) taken into the patient's record."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    resource_type = models.CharField(max_length=40)
    source_id = models.CharField(max_length=64)
    taken_as = models.CharField(max_length=60)  # the row's model label ("care.Medication")
    taken_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["patient", "resource_type", "source_id"], name="imported_resource_once"
            ),
        ]


class ExportState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportJob(models.Model):
    """One $export: who asked (a staff member, or a system client's service user with the
    token's scopes), the sites and resource types asked for, `_since`; then the worker's
    progress, the files written (`output`: [{type, file, count}]) and the types left out
    (`refused`). The files live under SUSTAIN_EXPORT_DIR/<id>/ until `expires_at`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    scopes = models.JSONField(null=True, blank=True)  # a token's scopes; None: a staff session
    sites = models.ManyToManyField(Site, related_name="+")
    types = models.JSONField(default=list)  # the readable types asked for
    refused = models.JSONField(default=list)  # asked for (or all) but not readable by the caller
    since = models.DateTimeField(null=True, blank=True)
    request_url = models.TextField()
    state = models.CharField(max_length=10, choices=ExportState, default=ExportState.QUEUED)
    progress = models.CharField(max_length=60, blank=True)
    output = models.JSONField(default=list)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)  # the manifest's transactionTime
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"export {self.id} ({self.state})"


class SystemClient(models.Model):
    name = models.CharField(max_length=60, unique=True, help_text="Lower-case letters, digits, -")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="system_clients")
    role = models.CharField(max_length=20, choices=Role.choices)
    scopes = models.CharField(max_length=1000, help_text="The scopes it may ask for, by spaces")
    service_user = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="system_client"
    )
    application = models.OneToOneField(  # django-oauth-toolkit's (swappable) Application
        "oauth2_provider.Application", on_delete=models.PROTECT, related_name="system_client"
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # Named for django-stubs, which cannot follow the untyped django-oauth-toolkit model.
    objects: ClassVar[models.Manager["SystemClient"]] = models.Manager()
    service_user_id: int
    site_id: int

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def active(self) -> bool:
        return self.revoked_at is None
