"""What the interoperability app keeps: what `sustain fhir-import` took that has no source id
of its own (a medication or a weight from a FHIR resource, so a second import of the same file
takes nothing again; sustain.interop.importer), and the bulk export jobs (FHIR Bulk Data Access
IG v2, "Bulk Data Export": kick-off, status, output files; sustain.interop.fhir.bulk_views)."""

import uuid
from typing import ClassVar

from django.db import models

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
