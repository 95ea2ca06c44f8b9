from typing import ClassVar

from django.db import models
from django.db.models import F, Q

from sustain.accounts.models import Site, User
from sustain.care.enums import Timepoint
from sustain.portal.enums import Channel, OutboxStatus


class Invitation(models.Model):
    """A signed, expiring, single-use link that lets one patient answer their questionnaires.

    The link carries `<id>.<nonce>` signed with the secret key; only the nonce's SHA-256 is
    stored. `used_at` is set by one conditional UPDATE, so two submissions cannot both count.
    """

    patient = models.ForeignKey(
        "care.Patient", on_delete=models.PROTECT, related_name="invitations"
    )
    instruments = models.JSONField(help_text="Instrument codes the patient is asked to complete")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    sent_to = models.CharField(max_length=254)
    timepoint = models.CharField(max_length=20, choices=Timepoint.choices)
    nonce_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        User, null=True, on_delete=models.PROTECT, related_name="+", help_text="None: the worker"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="invitation_expires_after_creation",
            )
        ]


class OutboxMessage(models.Model):
    """A message the notification backend produced. The default backend only holds it here:
    nothing leaves the machine until a clinic configures a real e-mail or SMS backend."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="outbox")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=OutboxStatus.choices)
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]
