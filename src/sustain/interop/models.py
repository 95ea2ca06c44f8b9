"""A system that reads the FHIR API with its own token (issue 16, item 3; sustain.interop.clients).

A `SystemClient` belongs to one site and acts with one staff role through its own service user
(a member of that site in that role's group, with no usable password: it never signs in on the
web), so it reads what that role may read at that site and no more. Its scopes narrow that
further per resource type ("system/Patient.read", "system/*.read": SMART App Launch v1 scope
syntax, as SMART Backend Services uses it). The OAuth 2.0 side (client id, hashed secret, access
tokens) is django-oauth-toolkit's Application, confidential, client-credentials only.
"""

from typing import ClassVar

from django.db import models

from sustain.accounts.enums import Role
from sustain.accounts.models import Site, User


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
