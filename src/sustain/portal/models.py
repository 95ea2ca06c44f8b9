from typing import ClassVar

from django.db import models
from django.db.models import F, Q

from sustain.accounts.enums import Channel
from sustain.accounts.models import User
from sustain.care.enums import Timepoint


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


class KioskGuard(models.Model):
    """How many wrong tablet codes were checked in the current window, per site (issue 14,
    item 5). `scope` is "site:<id>" for a tablet opened with its site, else "network". A check
    is counted by one conditional UPDATE before the code is compared, so parallel guesses
    cannot exceed SUSTAIN_KIOSK_MAX_FAILURES; no address is involved, so a proxy in front of
    every tablet does not lock them all (sustain.portal.services.redeem_kiosk_code)."""

    scope = models.CharField(max_length=40, unique=True)
    window_ends_at = models.DateTimeField()
    failures = models.PositiveSmallIntegerField(default=0)
