"""Shifts and staffing rules: who is on site, and what the visits need of them.

The rules themselves are pure (sustain_core.staffing); this module reads a site's shifts, its
phase rules and its visits, and refuses shift and rule changes that would leave a booked
visit without the nurses or prescriber it needs. Every change runs under the site's booking
lock (`lock_site`), so it cannot race a booking.
"""

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.care.protocol_versions import protocols_for
from sustain.scheduling.enums import OCCUPYING, StaffRole, TemplatePhase
from sustain.scheduling.models import (
    LONGEST_SHIFT,
    Appointment,
    Chair,
    PhaseStaffing,
    SeriesHold,
    Shift,
)
from sustain_core import protocols, staffing
from sustain_core.errors import ClinicalValueError
from sustain_core.series import Interval, Slot

# Bounds against typing errors in the shift form, not rules about working hours.
MAX_SHIFT = LONGEST_SHIFT
MAX_REPEAT_WEEKS = 26


def staff_rules(site: Site) -> staffing.StaffRules:
    rows = list(PhaseStaffing.objects.filter(site=site))
    return staffing.StaffRules(
        patients_per_nurse={
            staffing.VisitPhaseName(row.phase): row.patients_per_nurse
            for row in rows
            if row.patients_per_nurse
        },
        prescriber_phases=frozenset(
            staffing.VisitPhaseName(row.phase) for row in rows if row.prescriber_on_site
        ),
    )


def template_minutes(protocol: protocols.Protocol) -> dict[str, int]:
    """The Appointment fields that record the protocol's visit template at booking."""
    return {
        "check_in_minutes": protocol.visit.check_in_minutes,
        "infusion_minutes": protocol.regimen.infusion_minutes,
        "recovery_minutes": protocol.visit.recovery_minutes,
        "discharge_minutes": protocol.visit.discharge_minutes,
    }


PHASE_FIELDS = ("check_in_minutes", "infusion_minutes", "recovery_minutes", "discharge_minutes")


def chairs_for(site: Site, protocol: protocols.Protocol) -> list[Chair]:
    """The site's chairs with every capability the protocol's visits need, by name."""
    needs = set(protocol.visit.chair_needs)
    chairs = [c for c in Chair.objects.filter(site=site) if needs <= set(c.capabilities)]
    if not chairs and needs:
        raise ClinicalValueError(
            "chair", f"{site.name} has no chair with {', '.join(sorted(needs))} for these visits"
        )
    if not chairs:
        raise ClinicalValueError("chair", f"{site.name} has no chairs")
    return chairs


def booked_visits(
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    *,
    exclude: Collection[int] = (),
    patient_id: int | None = None,
    holds_at: dt.datetime | None = None,
) -> list[staffing.Visit]:
    """The site's occupying visits (but those in `exclude`) between start and end and, with
    `holds_at`, the holds live at that instant (but the patient's own)."""
    rows = (
        Appointment.objects.occupying(start, end)
        .filter(site=site)
        .exclude(pk__in=exclude)
        .values_list("starts_at", *PHASE_FIELDS)
    )
    # visit_phases is cached: visits of one template share one phases tuple, so the staffing
    # sweep works out each template's load changes once.
    visits = [
        staffing.Visit(start=start, phases=staffing.visit_phases(*minutes))
        for start, *minutes in rows
    ]
    if holds_at is None:
        return visits
    return visits + [
        staffing.Visit(start=slot.start, phases=phases)
        for slot, phases in held_slots(site, now=holds_at, patient_id=patient_id)
    ]


def held_slots(
    site: Site, *, now: dt.datetime, patient_id: int | None = None
) -> list[tuple[Slot, tuple[staffing.Phase, ...]]]:
    """The slots of the series held at the site live `now` (but the patient's own), each with
    its course's visit phases: they take their chairs and load the staff like booked visits."""
    live = SeriesHold.objects.filter(site=site, expires_at__gt=now)
    if patient_id is not None:
        live = live.exclude(course__patient_id=patient_id)
    holds = list(live.select_related("course__patient"))
    protocols = protocols_for(hold.course for hold in holds)
    return [
        (slot, protocols[hold.course_id].visit_phases)
        for hold in holds
        for slot in hold.held_slots()
    ]


def site_profile(
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    *,
    rules: staffing.StaffRules | None = None,
    without_shift: int | None = None,
) -> list[staffing.Segment]:
    """The site's staffing from start to end (sustain_core.staffing.profile) under `rules`
    (default: the site's), counting its booked visits (not holds)."""
    nurses, prescribers = shifts_by_role(site, start, end, without=without_shift)
    return staffing.profile(
        staff_rules(site) if rules is None else rules,
        nurse_shifts=nurses,
        prescriber_shifts=prescribers,
        booked=booked_visits(site, start, end),
        start=start,
        end=end,
    )


def shifts_by_role(
    site: Site, start: dt.datetime, end: dt.datetime, *, without: int | None = None
) -> tuple[list[Interval], list[Interval]]:
    """Nurse and prescriber shifts at the site between start and end."""
    nurses: list[Interval] = []
    prescribers: list[Interval] = []
    shifts = Shift.objects.overlapping(start, end).filter(site=site)
    if without is not None:
        shifts = shifts.exclude(pk=without)
    for role, starts_at, ends_at in shifts.values_list("role", "starts_at", "ends_at"):
        target = nurses if role == StaffRole.NURSE else prescribers
        target.append(Interval(start=starts_at, end=ends_at))
    return nurses, prescribers


def staff_blocks(
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    *,
    phases: tuple[staffing.Phase, ...],
    now: dt.datetime,
    exclude: Collection[int] = (),
    patient_id: int | None = None,
) -> tuple[staffing.Block, ...]:
    """Where a new visit with these phases cannot go for want of staff, counting the site's
    visits (but those in `exclude`) and the holds live `now`; () when the site does not check
    staffing."""
    rules = staff_rules(site)
    if not rules.checked:
        return ()
    nurses, prescribers = shifts_by_role(site, start, end)
    return staffing.blocks(
        rules,
        phases=phases,
        nurse_shifts=nurses,
        prescriber_shifts=prescribers,
        booked=booked_visits(
            site, start, end, exclude=exclude, patient_id=patient_id, holds_at=now
        ),
        start=start,
        end=end,
    )


def check_staffed(
    site: Site,
    *,
    phases: tuple[staffing.Phase, ...],
    starts: Iterable[dt.datetime],
    now: dt.datetime,
    exclude: Collection[int] = (),
    patient_id: int | None = None,
) -> list[str]:
    """Why visits with these phases at these starts lack staff; empty when they are staffed."""
    starts = sorted(starts)
    blocks = staff_blocks(
        site,
        phases=phases,
        start=starts[0] - dt.timedelta(days=1),
        end=starts[-1] + dt.timedelta(days=1),
        now=now,
        exclude=exclude,
        patient_id=patient_id,
    )
    tz = site.tz
    return [
        f"{instant.astimezone(tz):%a %d %b}: {message}"
        for instant in starts
        for message in staffing.conflicts(instant, blocks, tz=tz)
    ]


@dataclass(frozen=True)
class ShiftRequest:
    """A shift on `day` from `starts` to `ends` (local wall clock), repeated weekly."""

    staff: User
    role: StaffRole
    day: dt.date
    starts: dt.time
    ends: dt.time
    weeks: int = 1


def lock_site(site: Site) -> None:
    """Serialize the site's bookings and staffing changes: PostgreSQL row locks on its chairs
    (SQLite's BEGIN IMMEDIATE already gives one writer at a time)."""
    list(Chair.objects.select_for_update().filter(site=site).order_by("pk"))


@transaction.atomic
def add_shifts(*, site: Site, request: ShiftRequest, by: User) -> list[Shift]:
    """Add a shift, repeated on the same weekday for `weeks` weeks, all or nothing.

    Refused when the person lacks the role or the site, the shift is longer than 16 hours or
    ends before it starts, or it overlaps another shift of theirs.
    """
    staff = request.staff
    name = staff.get_full_name() or staff.get_username()
    if not staff.has_perm(f"scheduling.{request.role}_shift"):
        raise ClinicalValueError("staff", f"{name} is not a {request.role.label}")
    if not staff.memberships.filter(site=site).exists():
        raise ClinicalValueError("staff", f"{name} does not work at {site.name}")
    if not 1 <= request.weeks <= MAX_REPEAT_WEEKS:
        raise ClinicalValueError(
            "weeks", f"repeat for 1 to {MAX_REPEAT_WEEKS} weeks; got {request.weeks}"
        )
    tz = site.tz
    lock_site(site)
    shifts: list[Shift] = []
    for week in range(request.weeks):
        day = request.day + dt.timedelta(weeks=week)
        starts_at = dt.datetime.combine(day, request.starts, tz)
        ends_at = dt.datetime.combine(day, request.ends, tz)
        if not starts_at < ends_at <= starts_at + MAX_SHIFT:
            raise ClinicalValueError(
                "ends",
                f"a shift ends after it starts and lasts at most 16 hours; got "
                f"{request.starts:%H:%M}–{request.ends:%H:%M}",
            )
        clash = Shift.objects.overlapping(starts_at, ends_at).filter(staff=staff).first()
        if clash is not None:
            raise ClinicalValueError(
                "starts",
                f"{name} already has a shift "
                f"{clash.starts_at.astimezone(tz):%a %d %b %H:%M}–"
                f"{clash.ends_at.astimezone(tz):%H:%M}",
            )
        shifts.append(
            Shift.objects.create(
                site=site,
                staff=staff,
                role=request.role,
                starts_at=starts_at,
                ends_at=ends_at,
                created_by=by,
            )
        )
    record_event(
        actor=by,
        action=AuditAction.CREATE,
        category=DataCategory.SCHEDULE,
        site=site,
        obj=shifts[0],
    )
    return shifts


@transaction.atomic
def remove_shift(*, shift: Shift, by: User) -> None:
    """Remove a shift, unless booked visits would then lack the nurses or prescriber they
    need: the message names when, so the visits can be moved or cover found first."""
    site = shift.site
    lock_site(site)
    segments = site_profile(site, shift.starts_at, shift.ends_at, without_shift=shift.pk)
    _refuse_shortfall(site, segments, "removing this shift")
    record_event(
        actor=by, action=AuditAction.DELETE, category=DataCategory.SCHEDULE, site=site, obj=shift
    )
    shift.delete()


@transaction.atomic
def set_phase_staffing(
    *, site: Site, rules: Mapping[str, tuple[int | None, bool]], by: User, now: dt.datetime
) -> staffing.StaffRules:
    """Set patients per nurse (None: not counted) and prescriber presence for each phase;
    return the new rules.

    Refused when the visits booked from now on would break the new rules.
    """
    new = staffing.StaffRules(
        patients_per_nurse={
            staffing.VisitPhaseName(phase): ratio for phase, (ratio, _) in rules.items() if ratio
        },
        prescriber_phases=frozenset(
            staffing.VisitPhaseName(phase) for phase, (_, needs) in rules.items() if needs
        ),
    )
    lock_site(site)
    last = (
        Appointment.objects.filter(site=site, status__in=OCCUPYING, ends_at__gt=now)
        .order_by("-ends_at")
        .values_list("ends_at", flat=True)
        .first()
    )
    if last is not None:
        _refuse_shortfall(site, site_profile(site, now, last, rules=new), "these rules")
    for phase in TemplatePhase.values:
        ratio, needs = rules.get(phase, (None, False))
        PhaseStaffing.objects.update_or_create(
            site=site,
            phase=phase,
            defaults={"patients_per_nurse": ratio, "prescriber_on_site": needs},
        )
    record_event(actor=by, action=AuditAction.UPDATE, category=DataCategory.SCHEDULE, site=site)
    return new


def _refuse_shortfall(site: Site, segments: list[staffing.Segment], change: str) -> None:
    short = [s for s in segments if s.short]
    if short:
        tz = site.tz
        when = ", ".join(
            f"{s.start.astimezone(tz):%a %d %b %H:%M}–{s.end.astimezone(tz):%H:%M}"
            for s in short[:3]
        )
        raise ClinicalValueError(
            "shift",
            f"{change} would leave booked visits without the nurses or prescriber they need "
            f"({when}); move the visits or add cover first",
        )


def shifts_between(site: Site, start: dt.datetime, end: dt.datetime) -> list[Shift]:
    return list(
        Shift.objects.overlapping(start, end)
        .filter(site=site)
        .select_related("staff")
        .order_by("starts_at", "role", "staff__last_name")
    )
