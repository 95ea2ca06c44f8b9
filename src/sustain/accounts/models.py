import zoneinfo
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from sustain.accounts.enums import (
    AuditAction,
    AuditOutcome,
    Channel,
    DataCategory,
    OutboxStatus,
    Role,
)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name (e.g. America/New_York).")


class Site(models.Model):
    """A clinic location: the unit of data scoping. Every patient belongs to one site."""

    name = models.CharField(max_length=120, unique=True)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    # Shown on every patient self-report page (US default: the 988 Suicide & Crisis Lifeline).
    crisis_resources = models.TextField(
        default="If you are thinking about suicide or are in crisis, call or text 988 (Suicide "
        "& Crisis Lifeline) now, or call 911 in an emergency."
    )
    # The public-holiday list the site takes its closures from (the `holidays` package's ISO
    # country code and optional subdivision; sustain.scheduling.hours). Blank: none chosen.
    holiday_country = models.CharField(max_length=3, blank=True)
    holiday_subdivision = models.CharField(max_length=10, blank=True)
    # Printed on the consent form and the discharge instructions (sustain.clinic.documents);
    # set by a clinic administrator on the site page (sustain.scheduling.sites).
    address = models.TextField(blank=True, help_text="The postal address, one line per row")
    phone = models.CharField(max_length=40, blank=True, help_text="The number patients call")
    # Told at once when a clinician opens an emergency access to one of the site's patients
    # (sustain.care.break_glass, BTG-03); blank: the site's reviewers with an e-mail address.
    privacy_email = models.EmailField("privacy officer's e-mail", blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The site's time zone: calendar days, opening hours and local times are read in it."""
        return zoneinfo.ZoneInfo(self.timezone)


class User(AbstractUser):
    """A staff member. Roles are groups named after `Role`; sites come from memberships."""

    sites = models.ManyToManyField(Site, through="Membership", related_name="staff")

    @property
    def roles(self) -> list[str]:
        return sorted(g.name for g in self.groups.all())

    @property
    def role_label(self) -> str:
        return ", ".join(Role(r).label for r in self.roles if r in Role.values) or "none"


class Membership(models.Model):
    """A staff member's place at a site. ``medical_director``: this prescriber publishes the
    site's protocol versions that change dosing or safety (sustain.accounts.directors)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="memberships")
    medical_director = models.BooleanField(default=False)

    class Meta:
        permissions: ClassVar = [
            ("designate_medical_director", "Designate the prescribers who are medical directors")
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "site"], name="membership_user_site_unique")
        ]


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Audit events are append-only: update is refused.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only: delete is refused.")


class AuditEvent(models.Model):
    """One audited action, hash-chained to the one before it in its lane.

    `lane` is the event's site id (0: no site): each lane is its own chain with its own head, so
    appends at different sites do not wait on each other (issue 15). `seq` numbers the lane
    without gaps; `row_hash` is an HMAC over this row's fields and the previous row's hash with
    the lane's key (sustain.accounts.chain), so a changed, deleted, inserted or moved row breaks
    the chain. Rows are never updated or deleted: the model refuses, and on PostgreSQL a
    trigger does too (migration 0003).
    """

    lane = models.BigIntegerField(default=0, db_default=0, help_text="The site's id; 0: no site")
    seq = models.BigIntegerField()
    recorded_at = models.DateTimeField()
    actor = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    actor_username = models.CharField(max_length=150)
    role = models.CharField(max_length=200, blank=True)
    site = models.ForeignKey(Site, null=True, on_delete=models.PROTECT, related_name="+")
    # A plain id, not a foreign key: the audit trail must not depend on the care tables.
    patient_id = models.BigIntegerField(null=True, db_index=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    category = models.CharField(max_length=30, choices=DataCategory.choices)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=10, choices=AuditOutcome.choices)
    reason = models.CharField(max_length=40, blank=True, help_text="Why it was denied (a code)")
    ip = models.GenericIPAddressField(null=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["id"]  # the order of appends (seq counts per lane)
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["lane", "seq"], name="auditevent_lane_seq")
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Audit events are append-only: update is refused.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only: delete is refused.")


class AuditChainHead(models.Model):
    """One per lane: serializes appends to the lane's chain (locked per append). The lane 0
    row is the one from before lanes (pk 1)."""

    lane = models.BigIntegerField(default=0, unique=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)


class IdempotencyRecord(models.Model):
    """A write that succeeded under an Idempotency-Key: a retry with the same key and the same
    request gets the same answer and changes nothing (security-reliability-interop §4.3)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key")
        ]


class OutboxMessage(models.Model):
    """A message to a patient that a notification backend produced (sustain.accounts.notify).
    The default backend only holds it here: nothing leaves the machine until a clinic
    configures a real e-mail or SMS backend."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="outbox")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=12, choices=OutboxStatus.choices)
    created_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Hand-overs to a backend")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the worker may hand it over (again)"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="Reported by the provider")
    provider_id = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="The provider's id (an SMS's SID)"
    )
    error = models.CharField(max_length=500, blank=True, help_text="The provider's last error")
    to_staff = models.BooleanField(
        default=False,
        help_text="A staff alert: e-mailed through SUSTAIN_EMAIL_* whatever patients' backend",
    )

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]
        indexes: ClassVar = [models.Index(fields=["status", "attempts"], name="outbox_retry")]


class WorkerHeartbeat(models.Model):
    """When a `sustain worker` on a host last said it was alive (/healthz, sustain.accounts.health).

    One row per host, overwritten every SUSTAIN_WORKER_HEARTBEAT_SECONDS by the worker's
    heartbeat thread; no patient data."""

    host = models.CharField(max_length=255, unique=True)
    pid = models.PositiveIntegerField()
    beat_at = models.DateTimeField()


class FormSubmission(models.Model):
    """A staff form's one-time token, consumed by its first POST (issue 14 part 7;
    sustain.accounts.form_tokens). The unique nonce makes a second POST of the same rendered
    form fail to insert, so the write behind it happens once; `result_url` is where the first
    submission led, shown to the second. Rows older than a session's lifetime are pruned."""

    nonce = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(db_index=True)
    result_url = models.CharField(max_length=2000, blank=True)
