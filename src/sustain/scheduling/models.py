import datetime as dt
import uuid
from collections.abc import Iterable
from typing import ClassVar

from django.db import models
from django.db.models import F, Q

from sustain.accounts.enums import OutboxStatus
from sustain.accounts.models import OutboxMessage, Site, User
from sustain.scheduling.enums import (
    OCCUPYING,
    AppointmentStatus,
    CancellationReason,
    StaffRole,
    TemplatePhase,
    VisitPhase,
    Weekday,
)
from sustain_core import series


class OpeningHours(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering: ClassVar = ["weekday", "opens"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(opens__lt=F("closes")), name="hours_open_before_close"
            ),
            models.UniqueConstraint(fields=["site", "weekday", "opens"], name="hours_unique"),
        ]


class Closure(models.Model):
    """A day the site is closed (holiday, training)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=120)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["site", "date"], name="closure_unique_day")
        ]


class Chair(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="chairs")
    name = models.CharField(max_length=40)
    # ChairCapability values; a protocol's visits only go to chairs with all it needs.
    capabilities = models.JSONField(default=list, blank=True)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["site", "name"], name="chair_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


# No visit lasts longer: every path that books or moves one keeps it within one opening-hours
# row of one local day (series.check_within_opening_hours; 25 h on a day the clocks go back).
# The overlap reads below bound starts_at from both sides with it, so the (site, starts_at)
# and (patient, starts_at) indexes read the window only, not every earlier visit.
LONGEST_VISIT = dt.timedelta(hours=26)


class AppointmentQuerySet(models.QuerySet["Appointment"]):
    def occupying(self, start: dt.datetime, end: dt.datetime) -> "AppointmentQuerySet":
        """The visits that hold their chair and the patient's time (booked or completed) and
        overlap [start, end): the one overlap rule of booking (half-open: touching is free)."""
        return self.filter(
            status__in=OCCUPYING,
            starts_at__lt=end,
            starts_at__gt=start - LONGEST_VISIT,
            ends_at__gt=start,
        )


class Appointment(models.Model):
    """One infusion visit in a chair. Overlaps, and two visits of one patient starting under
    the infusion gap floor (sustain_core.series.INFUSION_GAP_FLOOR), are refused by the
    booking services under a lock and, on PostgreSQL, by exclusion constraints (migration
    0001: appt_no_chair_overlap, appt_no_patient_overlap; appt_infusion_gap_floor)."""

    # Site and patient: indexed first in (site, starts_at) and (patient, starts_at) (Meta).
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(
        "care.Patient", on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    course = models.ForeignKey("care.Course", on_delete=models.PROTECT, related_name="appointments")
    number = models.PositiveSmallIntegerField(help_text="Infusion number within the course")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    booked_at = models.DateTimeField()
    booked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # iCalendar identity (RFC 5545 §3.8.4.7 UID, §3.8.7.4 SEQUENCE): the UID never changes;
    # SEQUENCE goes up whenever the visit is moved or cancelled (calendar.touch_appointment).
    phase = models.CharField(max_length=20, choices=VisitPhase.choices, blank=True)
    # When the next timed vital signs become overdue (the chair-side record keeps it; the day
    # board shows it). Null: no reading is due.
    vitals_overdue_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=20, choices=CancellationReason.choices, blank=True)
    cancel_note = models.CharField(max_length=300, blank=True)
    # Who cancelled the visit and when (services.cancel_visit); the patient page keeps showing
    # a cancelled visit, struck through, with these and the reason.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set when a prescriber kept a move that breaks the protocol's series rules.
    override_reason = models.CharField(max_length=300, blank=True)
    # The patient's answer through a reminder's link (sustain.scheduling.replies), for this
    # visit time: a move or a cancellation clears it (calendar.touch_appointment).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    change_requested_at = models.DateTimeField(null=True, blank=True)
    change_note = models.CharField(max_length=500, blank=True)
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sequence = models.PositiveIntegerField(default=0, editable=False)
    # The visit template when it was booked (sustain_core.protocols.VisitTemplate): planned
    # phases from starts_at, in this order; together they fill starts_at to ends_at.
    check_in_minutes = models.PositiveSmallIntegerField(default=0)
    infusion_minutes = models.PositiveSmallIntegerField(default=0)
    recovery_minutes = models.PositiveSmallIntegerField(default=0)
    discharge_minutes = models.PositiveSmallIntegerField(default=0)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["starts_at", "pk"]
        permissions: ClassVar = [
            ("override_series_rules", "Keep a visit move that breaks the series rules")
        ]
        # The reads that make them (issue 15): a site's visits in a window (the day board, the
        # week, the run sheet, the booking searches' diary and staff load), a patient's in
        # time order (the patient page, the infusion gap floor) and the booked visits starting
        # soon at every site (the reminder sweep).
        indexes: ClassVar = [
            models.Index(fields=["site", "starts_at"], name="appt_site_starts"),
            models.Index(fields=["patient", "starts_at"], name="appt_patient_starts"),
            models.Index(
                fields=["starts_at"],
                condition=Q(status=AppointmentStatus.BOOKED),
                name="appt_booked_starts",
            ),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="appt_start_before_end"
            ),
            models.UniqueConstraint(
                fields=["course", "number"],
                condition=~Q(status=AppointmentStatus.CANCELLED),
                name="appt_unique_number_in_course",
            ),
            models.CheckConstraint(
                condition=~Q(status=AppointmentStatus.CANCELLED) | ~Q(cancel_reason=""),
                name="appt_cancelled_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True) | Q(change_requested_at__isnull=True),
                name="appt_confirmed_or_change_requested",
            ),
            models.CheckConstraint(
                condition=Q(change_requested_at__isnull=False) | Q(change_note=""),
                name="appt_change_note_with_request",
            ),
        ]


class CalendarFeed(models.Model):
    """A secret, revocable iCalendar subscription URL for one patient's visits.

    Only the SHA-256 of the URL's token is stored; the token itself is shown once to the
    staff member who created the feed (sustain.scheduling.calendar.create_feed). A patient has
    at most one active feed; revoking it makes the URL a 404.
    """

    patient = models.ForeignKey(
        "care.Patient", on_delete=models.PROTECT, related_name="calendar_feeds"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(revoked_at__isnull=True),
                name="calendarfeed_one_active_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False),
                name="calendarfeed_revoked_at_and_by_together",
            ),
        ]


SENT_STATUSES = frozenset({OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.UNDELIVERED})


class VisitReminder(models.Model):
    """One reminder of a visit, `hours_before` it starts (the site's reminder hours).

    The unique constraint makes each reminder go out once per visit time even when two
    workers sweep at the same moment. `visit_starts_at` is part of it so that a visit moved to
    another time is reminded again for its new time. When one sweep finds several reminders
    of a visit due at once (e.g. a visit booked 20 h ahead is due both its 48 h and its 24 h
    reminder), one message covers them all and every row points to it.

    The row records the claim, not the sending: the reminder has left only when its outbox
    message says so (`sent`). A message that fails is handed over again by the worker with
    backoff, then dead-lettered for a clinic administrator to send again (issue 14), so the
    reminder is neither lost nor sent twice.
    """

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    hours_before = models.PositiveSmallIntegerField()
    visit_starts_at = models.DateTimeField(help_text="The visit time this reminder announced")
    queued_at = models.DateTimeField(
        help_text="When the reminder was claimed and its message queued; whether it left is "
        "the message's status (issue 14)"
    )
    message = models.ForeignKey(
        OutboxMessage,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Set in the same transaction that claims the reminder",
    )

    class Meta:
        ordering: ClassVar = ["queued_at", "pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["appointment", "hours_before", "visit_starts_at"],
                name="visitreminder_once_per_visit_time",
            )
        ]

    @property
    def sent(self) -> bool:
        """Whether the provider accepted the reminder's message (the outbox's status)."""
        return self.message is not None and self.message.status in SENT_STATUSES


class SeriesHold(models.Model):
    """Chair time held for a few minutes while a scheduler confirms a previewed series.

    Other searches treat held slots as taken (scheduling.services._busy); booking the held
    choice books exactly these slots, if they are still free. Expired holds are ignored.
    """

    course = models.ForeignKey("care.Course", on_delete=models.CASCADE, related_name="holds")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=20)
    slots = models.JSONField(help_text="[[chair id, start ISO, end ISO], ...] in UTC")
    held_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    @staticmethod
    def encode(slots: Iterable[series.Slot]) -> list[list[object]]:
        """The `slots` field's value for these slots."""
        return [[slot.chair, slot.start.isoformat(), slot.end.isoformat()] for slot in slots]

    def held_slots(self) -> tuple[series.Slot, ...]:
        return tuple(
            series.Slot(
                chair=series.ChairId(chair_id),
                start=dt.datetime.fromisoformat(starts),
                end=dt.datetime.fromisoformat(ends),
            )
            for chair_id, starts, ends in self.slots
        )


# No shift lasts longer (scheduling.staff.add_shifts refuses it; no other path writes one):
# the overlap read bounds starts_at from both sides with it, for the (site, starts_at) index.
LONGEST_SHIFT = dt.timedelta(hours=16)


class ShiftQuerySet(models.QuerySet["Shift"]):
    def overlapping(self, start: dt.datetime, end: dt.datetime) -> "ShiftQuerySet":
        """The shifts that overlap [start, end) (half-open: a shift ending at 12:00 does not
        overlap one starting then)."""
        return self.filter(
            starts_at__lt=end, starts_at__gt=start - LONGEST_SHIFT, ends_at__gt=start
        )


class Shift(models.Model):
    """A nurse or prescriber on site from starts_at to ends_at.

    Nurses on shift carry the nurse load of the visits under way; a prescriber phase (the
    infusion) needs a prescriber on shift (sustain_core.staffing). One person's shifts never
    overlap (migration 0012 on PostgreSQL; scheduling.staff.add_shifts checks on both).
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="shifts")
    staff = models.ForeignKey(User, on_delete=models.PROTECT, related_name="shifts")
    role = models.CharField(max_length=20, choices=StaffRole.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    objects = ShiftQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["starts_at", "pk"]
        permissions: ClassVar = [
            ("nurse_shift", "Can be on shift as a nurse"),
            ("prescriber_shift", "Can be on shift as a prescriber"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="shift_start_before_end"
            )
        ]
        indexes: ClassVar = [models.Index(fields=["site", "starts_at"])]


class PhaseStaffing(models.Model):
    """A site's staffing rule for one visit phase: patients per nurse (blank: the phase puts no
    load on the nurses) and whether a prescriber must be on site. Clinic settings: no
    published ratio exists (clinical-facts), so nothing is assumed; a site with no rows has
    staffing unchecked, and says so on its staffing page."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="phase_staffing")
    phase = models.CharField(max_length=20, choices=TemplatePhase.choices)
    patients_per_nurse = models.PositiveSmallIntegerField(null=True, blank=True)
    prescriber_on_site = models.BooleanField(default=False)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["site", "phase"], name="phasestaffing_unique"),
            models.CheckConstraint(
                condition=Q(patients_per_nurse__isnull=True)
                | Q(patients_per_nurse__gte=1, patients_per_nurse__lte=12),
                name="phasestaffing_ratio_1_to_12",
            ),
        ]


class VisitLink(models.Model):
    """A signed, single-use link in a visit reminder: the patient confirms the visit or asks to
    change it, without replying to the message (sustain.scheduling.replies).

    Like the self-report links (sustain.accounts.links), only the nonce's SHA-256 is stored;
    the link is for one visit time and expires when the visit starts.
    """

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="links")
    visit_starts_at = models.DateTimeField(help_text="The visit time the reminder announced")
    nonce_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="visitlink_expires_after_creation",
            )
        ]


class DiaryVersion(models.Model):
    """A site's diary version (issue 15): raised by database triggers (migration 0007) in the
    same transaction as every change the series search reads, whatever wrote it (a service,
    the admin, raw SQL). ``sustain.scheduling.diary`` compares it with its cached index.

    A table of its own, not a column on Site: ``Site.save()`` would write a stale value back.
    ``epoch`` is drawn at random when the row is made, so a version number reached again after
    the row was rolled back or the database restored is not taken for the cached one. No
    foreign key: the triggers write here on any delete, a test flush's included.
    """

    site_id = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField()
    epoch = models.BigIntegerField()

    objects: ClassVar[models.Manager["DiaryVersion"]] = models.Manager()

    class Meta:
        default_permissions = ()  # written by the database only, granted to no role


class DiaryChange(models.Model):
    """What raised a site's diary version: an appointment (its id), or the site's setup (null:
    hours, closures, chairs, shifts, staffing rules, time zone). Written by the triggers, one
    row per version; rows 1,000 versions old are pruned by them (a cache that far behind
    rebuilds)."""

    site_id = models.BigIntegerField()
    version = models.BigIntegerField()
    appointment_id = models.BigIntegerField(null=True)

    objects: ClassVar[models.Manager["DiaryChange"]] = models.Manager()

    class Meta:
        default_permissions = ()
        indexes: ClassVar = [models.Index(fields=["site_id", "version"], name="diarychange_site")]
