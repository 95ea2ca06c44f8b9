"""Booking infusion visits into chairs.

The series search itself is pure (sustain_core.series.plan_series); this module feeds it the
site's hours, closures, chairs and existing bookings, and writes the result under a lock so
two schedulers cannot book the same chair time.

Every path that creates or moves a visit (book_series, book_visit, reschedule_visit with its
repair and a prescriber's override, place_waitlist through book_series) keeps the infusion gap
floor: two infusions of one patient start at least sustain_core.series.INFUSION_GAP_FLOOR
apart, across all their courses (_check_gap_floor, or _check_still_free for a series searched
outside the lock, under the lock; on PostgreSQL also the exclusion constraint
appt_infusion_gap_floor). The searches do not offer a visit under it either.
"""

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q

from sustain.accounts.bounds import check_date
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.care.enums import CourseStatus
from sustain.care.models import Course, Patient
from sustain.care.protocol_versions import protocol_for
from sustain.care.services import record_patient_event
from sustain.scheduling import diary, queries, staff
from sustain.scheduling.calendar import touch_appointment
from sustain.scheduling.enums import OCCUPYING, AppointmentStatus, CancellationReason, VisitPhase
from sustain.scheduling.models import Appointment, Chair, SeriesHold
from sustain_core import intake, protocols, series
from sustain_core.errors import ClinicalValueError, NoSeriesFound, OutOfRange

HORIZON = dt.timedelta(days=60)
# TST-03: how far ahead anything is booked or searched (a visit, a move, a series' first day),
# inside the closures' horizon (hours.CLOSURE_HORIZON, 3 years) so a closure can still be set
# on any booked day. It also keeps date arithmetic far from datetime's year 9999.
PLANNING_HORIZON = dt.timedelta(days=2 * 366)
MAX_SPAN_DAYS = 366  # a requested series span: at most a year (every protocol's is weeks)
MAX_ABSENCE_DAYS = 366  # a patient's absence within a search: at most a year of dates


class BookingConflict(ClinicalValueError):
    """The time is taken, or the booking exists already: HTTP 409 in the API."""


SERIES_BOOKABLE = (CourseStatus.SCREENING, CourseStatus.READY)
# A cancelled visit can be booked again while its course still gives infusions.
REBOOKABLE = (*SERIES_BOOKABLE, CourseStatus.INDUCTION, CourseStatus.MAINTENANCE)


site_calendar = diary.site_calendar  # for the other booking modules


def _busy(
    site: Site,
    patient: Patient,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    exclude: Collection[int] = (),
) -> tuple[dict[series.ChairId, list[series.Interval]], list[series.Interval]]:
    """Chair and patient time taken between start and end, widened by the infusion gap floor
    (a visit of the patient the day before `start` keeps the first hours of the window; visits
    in `exclude` left out), and the chair time of other courses' holds live `now`. The
    patient's intervals are their infusions, booked or given: their starts are the
    PatientDiary's `infusions`."""
    chair_busy: dict[series.ChairId, list[series.Interval]] = defaultdict(list)
    patient_busy: list[series.Interval] = []
    floor = series.INFUSION_GAP_FLOOR
    rows = (
        Appointment.objects.occupying(start - floor, end + floor)
        .filter(Q(site=site) | Q(patient=patient))
        .exclude(pk__in=exclude)
        .values_list("chair_id", "patient_id", "starts_at", "ends_at")
    )
    for chair_id, patient_id, starts_at, ends_at in rows:
        interval = series.Interval(start=starts_at, end=ends_at)
        chair_busy[series.ChairId(chair_id)].append(interval)
        if patient_id == patient.pk:
            patient_busy.append(interval)
    # Chair time another scheduler is confirming counts as taken until its hold expires.
    holds = SeriesHold.objects.filter(site=site, expires_at__gt=now).exclude(
        course__patient=patient
    )
    for hold in holds:
        for slot in hold.held_slots():
            chair_busy[slot.chair].append(series.Interval(start=slot.start, end=slot.end))
    return chair_busy, patient_busy


busy_between = _busy  # for the other booking modules (boosters, extension)


def plan_looking_ahead(
    plan: Callable[[dt.timedelta], tuple[series.Slot, ...]], *, horizon: dt.timedelta
) -> tuple[series.Slot, ...]:
    """The earliest series `plan(h)` finds with its first visit within `horizon`, reading the
    look-ahead (series.LOOK_AHEAD, 7 days) first and the whole horizon only on a miss.

    `plan(h)` reads the diary for first visits within `h` of its earliest (to `h` plus its
    rules' span) and runs series.plan_series with horizon `h`, raising NoSeriesFound when
    nothing fits. Exact: plan_series gives the componentwise-earliest series, so when one
    starts within the look-ahead the whole horizon's earliest starts no later and is that
    same series; the diary beyond the look-ahead's window cannot change it.
    """
    soon = min(series.LOOK_AHEAD, horizon)
    if soon < horizon:
        with contextlib.suppress(NoSeriesFound):
            return plan(soon)
    return plan(horizon)


HOLD_MINUTES = 5


@transaction.atomic
def hold_series(
    *, course: Course, result: series.SeriesResult, by: User, now: dt.datetime
) -> dt.datetime:
    """Hold the previewed series and its alternatives for HOLD_MINUTES; return the expiry.

    A new preview of the same course replaces its holds. Only a member of the course's site
    may hold its chairs (PermissionDenied otherwise; issue 14 item 6).
    """
    if not by.memberships.filter(site_id=course.patient.site_id).exists():
        raise PermissionDenied("You may hold chairs only at your own sites.")
    expires_at = now + dt.timedelta(minutes=HOLD_MINUTES)
    SeriesHold.objects.filter(course=course).delete()
    options = [(EARLIEST, result.series)] if result.series else []
    options += [(a.kind, a.slots) for a in result.alternatives]
    SeriesHold.objects.bulk_create(
        SeriesHold(
            course=course,
            site=course.patient.site,
            choice=choice,
            slots=SeriesHold.encode(slots),
            held_by=by,
            expires_at=expires_at,
        )
        for choice, slots in options
        if slots
    )
    return expires_at


@dataclass(frozen=True)
class SeriesRequest:
    """What the scheduler asks for: from when, the patient's availability, a chair, a span.

    Bounded (TST-03) so no request costs more than a search within the planning horizon:
    a span of 1..MAX_SPAN_DAYS days, at most MAX_ABSENCE_DAYS away dates, each within
    sustain.accounts.bounds; the first day is checked against `now` in propose_series.
    """

    earliest: dt.datetime
    availability: series.Availability | None = None
    preferred_chair: Chair | None = None
    requested_span: dt.timedelta | None = None

    def __post_init__(self) -> None:
        span = self.requested_span
        if span is not None and not dt.timedelta(days=1) <= span <= dt.timedelta(
            days=MAX_SPAN_DAYS
        ):
            raise OutOfRange(
                "span_days",
                f"the span must be between 1 and {MAX_SPAN_DAYS} days; got {span.days}",
            )
        away = self.availability.blackout_dates if self.availability else frozenset()
        if len(away) > MAX_ABSENCE_DAYS:
            raise OutOfRange(
                "away_until",
                f"an absence may last at most {MAX_ABSENCE_DAYS} days; got {len(away)}",
            )
        for day in away:
            check_date(day, "away_from", "a day away")


def away_dates(first: dt.date, last: dt.date | None = None) -> frozenset[dt.date]:
    """The dates of an absence from `first` to `last` (inclusive; None: one day), refused
    (OutOfRange, before any set is built) when a date lies outside sustain.accounts.bounds,
    `last` is before `first`, or it lasts over MAX_ABSENCE_DAYS (TST-03: a 9,999-year absence
    took 6 s to build and search)."""
    check_date(first, "away_from", "the first day away")
    last = check_date(last, "away_until", "the last day away") if last else first
    days = (last - first).days + 1
    if days < 1:
        raise ClinicalValueError("away_until", "the last day away must not be before the first")
    if days > MAX_ABSENCE_DAYS:
        raise OutOfRange(
            "away_until", f"an absence may last at most {MAX_ABSENCE_DAYS} days; got {days}"
        )
    return frozenset(first + dt.timedelta(days=n) for n in range(days))


def check_first_day(earliest: dt.datetime, *, now: dt.datetime, tz: zoneinfo.ZoneInfo) -> None:
    """A series search or booking starts within PLANNING_HORIZON from now (TST-03)."""
    if earliest > now + PLANNING_HORIZON:
        raise OutOfRange(
            "first_day",
            f"the first day must be within {PLANNING_HORIZON.days} days from today: by "
            f"{(now + PLANNING_HORIZON).astimezone(tz):%d %B %Y}; got "
            f"{earliest.astimezone(tz):%d %B %Y}",
        )


EARLIEST = "earliest"  # the choice that takes the request as asked, or its later start


def propose_series(
    *, course: Course, request: SeriesRequest, now: dt.datetime
) -> series.SeriesResult:
    """The series as asked, or ranked alternatives (sustain_core.series.search_series).

    Spacing, window, weekdays and weekly maximum come from the course's protocol (e.g.
    depression-induction v1: 6 visits, ≥ 48 h apart, within 21 days [Oliver2022]; Murrough
    2013: Monday, Wednesday and Friday within 12 days [Murrough2013]). No visit starts under
    the infusion gap floor from another infusion of the patient, of any course.

    Searched in the site's diary index (scheduling.diary, issue 15) plus what is the
    request's own: the holds of other patients' series live `now`, and the patient's
    infusions at any site. The answer is ``propose_series_reference``'s (tested).
    """
    protocol, chairs, preferred = _series_request(course, request, now)
    site = course.patient.site
    earliest = request.earliest
    index = diary.index_for(site, now=now, earliest=earliest)
    floor = series.INFUSION_GAP_FLOOR
    patient_busy = [
        series.Interval(start=starts_at, end=ends_at)
        for starts_at, ends_at in Appointment.objects.occupying(
            earliest - floor, earliest + HORIZON * 2 + floor
        )
        .filter(patient=course.patient)
        .values_list("starts_at", "ends_at")
    ]
    return index.search(
        protocol.series,
        earliest=earliest,
        duration=protocol.visit_length,
        phases=protocol.visit_phases,
        chairs=chairs,
        patient=series.PatientDiary(
            busy=patient_busy,
            availability=request.availability,
            infusions=[visit.start for visit in patient_busy],
        ),
        held=diary.held_visits(site, now=now, patient_id=course.patient_id),
        requested_span=request.requested_span,
        preferred_chair=preferred,
        horizon=HORIZON,
    )


def _series_request(
    course: Course, request: SeriesRequest, now: dt.datetime
) -> tuple[protocols.Protocol, tuple[series.ChairId, ...], series.ChairId | None]:
    """The course's protocol, the chairs its visits may use and the preferred one, the
    request checked."""
    protocol = protocol_for(course)
    site = course.patient.site
    chairs = tuple(series.ChairId(chair.pk) for chair in staff.chairs_for(site, protocol))
    preferred = series.ChairId(request.preferred_chair.pk) if request.preferred_chair else None
    if request.preferred_chair is not None and preferred not in chairs:
        raise ClinicalValueError(
            "chair", f"chair {request.preferred_chair.name} lacks what these visits need"
        )
    check_first_day(request.earliest, now=now, tz=site.tz)
    return protocol, chairs, preferred


def propose_series_reference(
    *, course: Course, request: SeriesRequest, now: dt.datetime
) -> series.SeriesResult:
    """``propose_series`` as before the diary index: every interval read from the database
    for the request. Kept as the reference the index path is compared with."""
    protocol, chairs, preferred = _series_request(course, request, now)
    site = course.patient.site
    earliest = request.earliest
    window = (earliest, earliest + HORIZON * 2)
    chair_busy, patient_busy = _busy(site, course.patient, *window, now=now)
    return series.search_series(
        protocol.series,
        earliest=earliest,
        duration=protocol.visit_length,
        calendar=site_calendar(site),
        chairs=series.Chairs(order=chairs, busy=chair_busy),
        patient=series.PatientDiary(
            busy=patient_busy,
            availability=request.availability,
            infusions=[visit.start for visit in patient_busy],
        ),
        requested_span=request.requested_span,
        preferred_chair=preferred,
        horizon=HORIZON,
        staff=functools.partial(
            staff.staff_blocks,
            site,
            phases=protocol.visit_phases,
            now=now,
            patient_id=course.patient_id,
        ),
    )


def _held_slots(
    course: Course, choice: str, by: User, now: dt.datetime
) -> tuple[series.Slot, ...] | None:
    """The slots this scheduler holds for this choice, if the hold is still valid and free:
    no visit took them, the site is still open then (hours or a closure may have changed since
    the hold) and the staff still suffice."""
    hold = SeriesHold.objects.filter(
        course=course, choice=choice, held_by=by, expires_at__gt=now
    ).first()
    SeriesHold.objects.filter(course=course).delete()  # booked or not, the holds are done
    if hold is None:
        return None
    slots = hold.held_slots()
    taken = (
        Appointment.objects.occupying(min(s.start for s in slots), max(s.end for s in slots))
        .filter(Q(chair_id__in=[s.chair for s in slots]) | Q(patient=course.patient))
        .values_list("chair_id", "patient_id", "starts_at", "ends_at")
    )
    for chair_id, patient_id, starts_at, ends_at in taken:
        for slot in slots:
            same = chair_id == slot.chair or patient_id == course.patient_id
            if same and starts_at < slot.end and slot.start < ends_at:
                raise BookingConflict("choice", "the held series was taken meanwhile; search again")
    calendar = site_calendar(course.patient.site)
    for slot in slots:
        try:
            series.check_within_opening_hours(start=slot.start, end=slot.end, calendar=calendar)
        except ClinicalValueError as closed:
            raise BookingConflict(
                "choice",
                f"the held series is no longer within the site's hours: {closed.message}; "
                "search again",
            ) from closed
    short = staff.check_staffed(
        course.patient.site,
        phases=protocol_for(course).visit_phases,
        starts=[slot.start for slot in slots],
        now=now,
        patient_id=course.patient_id,
    )
    if short:
        raise BookingConflict(
            "choice", f"the held series lacks staff now: {'; '.join(short)}; search again"
        )
    return slots


def chosen_slots(result: series.SeriesResult, choice: str) -> tuple[series.Slot, ...] | None:
    """The series a choice names: as asked (EARLIEST: else the later start), or an alternative."""
    if choice == EARLIEST and result.series is not None:
        return result.series
    kind = series.AlternativeKind.LATER_START if choice == EARLIEST else choice
    return next((a.slots for a in result.alternatives if a.kind == kind), None)


def _lock(site: Site, patient: Patient) -> None:
    # The site's lock (staff.lock_site) and the patient's row. On PostgreSQL the exclusion
    # constraints (overlaps: migration 0001; the infusion gap floor: appt_infusion_gap_floor)
    # are the backstop; on SQLite the checks made under this lock are all there is.
    staff.lock_site(site)
    Patient.objects.select_for_update().get(pk=patient.pk)


lock_booking = _lock  # for the other booking modules (boosters)


# book_series' searches at most: all but the last outside the lock. On bench/run.py (8 threads,
# one site, one first day: every thread wants the same earliest series) 3 made 110 searches for
# 40 series: a search outside the lock after a lost one nearly always lost again.
SERIES_ATTEMPTS = 2


class _Stale(Exception):
    """The searched series is no longer free under the lock: search again."""


def book_series(
    *,
    course: Course,
    earliest: dt.datetime,
    by: User,
    now: dt.datetime,
    request: SeriesRequest | None = None,
    choice: str = EARLIEST,
) -> list[Appointment]:
    """Book the whole induction series at once, all or nothing (infusion 1 starts induction).

    The series booked is the one `choice` names (EARLIEST, or an alternative's kind), from a
    search run outside the site's lock and outside any transaction, so that bookings at the
    site are not serialized behind it (on SQLite every transaction holds the one writer lock).
    Under the lock only the chosen slots are checked again (_check_still_free) and written, in
    one short transaction. If another booking took them between the search and the lock, the
    search runs again, at most SERIES_ATTEMPTS times in all, the last time under the lock (as
    every search did before issue 15): a booking that loses the race is booked all the same,
    or refused because no series fits any more, never for the race. Unraced, the series
    booked is the one the search finds, as before.

    A series this scheduler holds for `choice` (a preview, or place_waitlist's plan) is not
    searched: it is checked under the lock as held (_held_slots), and refused if it is gone;
    nor is anything booked if a visit would start under the infusion gap floor from another
    infusion of the patient (e.g. one booked for them since the preview was held).
    """
    check_first_day(earliest, now=now, tz=course.patient.site.tz)
    _check_bookable(course)  # before searching: the usual refusal costs no search
    wanted = request or SeriesRequest(earliest=earliest)
    held = SeriesHold.objects.filter(
        course=course, choice=choice, held_by=by, expires_at__gt=now
    ).exists()
    for _ in range(SERIES_ATTEMPTS - 1):
        searched = None if held else _search(course, wanted, choice, now)
        try:
            return _book_slots(course, searched, by=by, now=now, choice=choice)
        except _Stale:
            held = False  # or a hold gone meanwhile (expired): search
    return _book_slots(course, None, by=by, now=now, choice=choice, search=wanted)


def _check_bookable(course: Course) -> None:
    """The course's induction series can be booked: the course is in screening or ready, and
    its series is not booked yet."""
    course.refresh_from_db()
    if course.status not in SERIES_BOOKABLE:
        raise ClinicalValueError(
            "course",
            f"the course is in {course.get_status_display()}; the induction series is booked "
            "during screening or when the course is ready",
        )
    if course.appointments.exclude(status=AppointmentStatus.CANCELLED).exists():
        raise BookingConflict("course", "the induction series is already booked")


def _search(
    course: Course, request: SeriesRequest, choice: str, now: dt.datetime
) -> tuple[series.Slot, ...]:
    """The slots of the series `choice` names in a search for `request` (propose_series)."""
    slots = chosen_slots(propose_series(course=course, request=request, now=now), choice)
    if slots is None and choice == EARLIEST:
        site = course.patient.site
        staffed = ", with the nurses and prescriber it needs on shift"
        raise NoSeriesFound(
            "start",
            f"no series fits in the {HORIZON.days} days from {request.earliest:%Y-%m-%d}: free "
            f"chairs within opening hours{staffed if staff.staff_rules(site).checked else ''}",
        )
    if slots is None:
        raise BookingConflict("choice", "that alternative is no longer free; search again")
    return slots


@transaction.atomic
def _book_slots(
    course: Course,
    searched: tuple[series.Slot, ...] | None,
    *,
    by: User,
    now: dt.datetime,
    choice: str,
    search: SeriesRequest | None = None,
) -> list[Appointment]:
    """Under the lock: book the held series if there is one; else the `searched` one, checked
    again (_Stale when it is gone); else, with `search`, the series a search under the lock
    finds (_Stale without). The audit event is the last write."""
    patient = course.patient
    site = patient.site
    _lock(site, patient)
    _check_bookable(course)
    protocol = protocol_for(course)
    slots = _held_slots(course, choice, by, now)
    if slots is None and searched is not None:
        slots = searched
        chairs = Chair.objects.in_bulk([slot.chair for slot in slots])
        _check_still_free(course, protocol, slots, chairs, now=now)
    else:
        if slots is None:
            if search is None:
                raise _Stale
            slots = _search(course, search, choice, now)
        chairs = Chair.objects.in_bulk([slot.chair for slot in slots])
        # Checked here as before issue 15; _check_still_free checks a searched series.
        _check_gap_floor(patient, [slot.start for slot in slots], exclude=(), tz=site.tz)
    check_not_past(min(slot.start for slot in slots), now=now, tz=site.tz)
    template = staff.template_minutes(protocol)
    with _refused_by_database():
        appointments = Appointment.objects.bulk_create(
            Appointment(
                site=site,
                chair=chairs[slot.chair],
                patient=patient,
                course=course,
                number=number,
                starts_at=slot.start,
                ends_at=slot.end,
                booked_at=now,
                booked_by=by,
                **template,
            )
            for number, slot in enumerate(slots, start=1)
        )
    record_patient_event(by=by, patient=patient, category=DataCategory.SCHEDULE, obj=course)
    return appointments


def _check_still_free(
    course: Course,
    protocol: protocols.Protocol,
    slots: Sequence[series.Slot],
    chairs: dict[int, Chair],
    *,
    now: dt.datetime,
) -> None:
    """Raise _Stale unless the slots a search chose outside the lock still pass every check
    that search made: their chairs exist with what the visits need and are free (no visit, no
    live hold of another patient's course), the patient is free and no visit starts under the
    infusion gap floor from another of their infusions, the site is open then, and the staff
    suffice. Chairs, holds and staff are checked in the site's diary index read under the lock
    (DiaryIndex.conflicts, tested against staffing.blocks): every change that takes chair
    time or staff at the site takes this lock, so the index is the site as it is now; the
    chairs and the patient are also read from the database (_taken). Callers hold the lock
    (_lock)."""
    patient, site = course.patient, course.patient.site
    needs = set(protocol.visit.chair_needs)
    index = diary.index_for(site, now=now, earliest=min(s.start for s in slots))
    if (
        any(
            slot.chair not in chairs
            or chairs[slot.chair].site_id != site.pk
            or not needs <= set(chairs[slot.chair].capabilities)
            or not _within_hours(slot, index.calendar)  # hours and closures as of now
            for slot in slots
        )
        or _taken(patient, slots)
        or index.conflicts(
            slots,
            phases=protocol.visit_phases,
            held=diary.held_visits(site, now=now, patient_id=patient.pk),
        )
    ):
        raise _Stale


def _within_hours(slot: series.Slot, calendar: series.SiteCalendar) -> bool:
    try:
        series.check_within_opening_hours(start=slot.start, end=slot.end, calendar=calendar)
    except ClinicalValueError:
        return False
    return True


def _taken(patient: Patient, slots: Sequence[series.Slot]) -> bool:
    """Whether a visit holds one of the slots' chairs at its time, or the patient then, or one
    of the slots starts under the infusion gap floor from another infusion of the patient (or
    an earlier slot). One query over the slots' span, widened by the floor, that asks the
    database only whether such a visit exists (reading every visit of the span's chairs cost
    9 ms a booking on a year's diary)."""
    floor = series.INFUSION_GAP_FLOOR
    starts = [slot.start for slot in slots]
    if any(series.under_gap_floor(start, starts[:n]) is not None for n, start in enumerate(starts)):
        return True
    in_chair, of_patient = Q(), Q()
    for slot in slots:
        overlaps = Q(starts_at__lt=slot.end, ends_at__gt=slot.start)
        in_chair |= overlaps & Q(chair_id=slot.chair)
        # Under the floor: the other start lies less than the floor before or after this one.
        of_patient |= overlaps | Q(
            starts_at__gt=slot.start - floor, starts_at__lt=slot.start + floor
        )
    return (
        Appointment.objects.occupying(min(starts) - floor, max(s.end for s in slots) + floor)
        .filter(in_chair | (Q(patient=patient) & of_patient))
        .exists()
    )


@transaction.atomic
def book_visit(
    *,
    course: Course,
    chair: Chair,
    starts_at: dt.datetime,
    by: User,
    now: dt.datetime,
    number: int | None = None,
) -> Appointment:
    """Book one more visit in a given chair at a given time (e.g. a booster or a re-book).

    Refused with a message when it starts in the past (checked first: the real reason), falls
    outside the site's hours, on a closure, overlaps the chair's or the patient's other
    visits, or starts under the infusion gap floor from another infusion of the patient (any
    course).
    """
    patient = course.patient
    site = patient.site
    if chair.site_id != site.pk:
        raise ClinicalValueError("chair", "the chair belongs to another site")
    check_not_past(starts_at, now=now, tz=site.tz)
    _lock(site, patient)
    protocol = protocol_for(course)
    ends_at = starts_at + protocol.visit_length
    series.check_within_opening_hours(start=starts_at, end=ends_at, calendar=site_calendar(site))
    _check_chair(chair, protocol)
    _check_free(chair, patient, starts_at, ends_at, exclude=[])
    _check_gap_floor(patient, [starts_at], exclude=(), tz=site.tz)
    _check_staffed(course, protocol, starts_at, now=now, exclude=[])
    kept = course.appointments.exclude(status=AppointmentStatus.CANCELLED)
    if number is None or kept.filter(number=number).exists():
        number = (kept.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    with _refused_by_database():
        appointment = Appointment.objects.create(
            site=site,
            chair=chair,
            patient=patient,
            course=course,
            number=number,
            starts_at=starts_at,
            ends_at=ends_at,
            booked_at=now,
            booked_by=by,
            **staff.template_minutes(protocol),
        )
    record_patient_event(by=by, patient=patient, category=DataCategory.SCHEDULE, obj=appointment)
    return appointment


def rebook_visit(
    *, cancelled: Appointment, chair: Chair, starts_at: dt.datetime, by: User, now: dt.datetime
) -> Appointment:
    """Book a cancelled visit again, for the same course, under its number while no other
    visit holds it (else the next): every check of book_visit applies (the past first)."""
    cancelled = Appointment.objects.select_related("course__patient__site").get(pk=cancelled.pk)
    if cancelled.status != AppointmentStatus.CANCELLED:
        raise ClinicalValueError("status", "only a cancelled visit is booked again")
    if cancelled.course.status not in REBOOKABLE:
        raise ClinicalValueError(
            "course",
            f"the course is {cancelled.course.get_status_display()}; its visits are not booked "
            "again",
        )
    return book_visit(
        course=cancelled.course, chair=chair, starts_at=starts_at, by=by, now=now,
        number=cancelled.number,
    )  # fmt: skip


def _audit_visit(appointment: Appointment, by: User, action: AuditAction) -> None:
    record_patient_event(
        by=by, patient=appointment.patient, category=DataCategory.SCHEDULE, obj=appointment,
        action=action,
    )  # fmt: skip


@transaction.atomic
def cancel_visit(
    *,
    appointment: Appointment,
    reason: CancellationReason,
    note: str,
    by: User,
    now: dt.datetime,
) -> Appointment:
    """Cancel a booked visit with a coded reason; calendars get STATUS:CANCELLED. Who and
    when are kept on the visit, which stays on the patient's list (struck through), with a
    re-book (rebook_visit)."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.status != AppointmentStatus.BOOKED:
        raise ClinicalValueError(
            "status",
            f"only a booked visit can be cancelled; it is {appointment.get_status_display()}",
        )
    if reason == CancellationReason.RESCHEDULED:
        raise ClinicalValueError("reason", "to give the visit another time, move it")
    if reason == CancellationReason.OTHER and not note.strip():
        raise ClinicalValueError("note", "say why, for a cancellation of kind other")
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancel_reason = reason
    appointment.cancel_note = note.strip()
    appointment.cancelled_at, appointment.cancelled_by = now, by
    appointment.save(
        update_fields=["status", "cancel_reason", "cancel_note", "cancelled_at", "cancelled_by"]
    )
    touch_appointment(appointment)
    _audit_visit(appointment, by, AuditAction.UPDATE)
    return appointment


@transaction.atomic
def mark_no_show(*, appointment: Appointment, by: User, now: dt.datetime) -> Appointment:
    """The patient did not come: the chair time is freed and the visit can be moved later."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.status != AppointmentStatus.BOOKED or appointment.phase:
        raise ClinicalValueError("status", "only a booked visit the patient has not arrived for")
    if appointment.starts_at > now:
        raise ClinicalValueError("status", "a visit cannot be a no-show before it starts")
    appointment.status = AppointmentStatus.NO_SHOW
    appointment.save(update_fields=["status"])
    touch_appointment(appointment)
    _audit_visit(appointment, by, AuditAction.UPDATE)
    return appointment


def set_phase(
    appointment: Appointment, phase: VisitPhase, *, vitals_overdue_at: dt.datetime | None
) -> None:
    """Show the visit at `phase` on the day board, with when its next vital signs become
    overdue. The chair-side record (sustain.infusion.chairside) calls this as it changes, in
    its own transaction: the board follows the record and has no way of its own to move a
    visit on."""
    Appointment.objects.filter(pk=appointment.pk).update(
        phase=phase, vitals_overdue_at=vitals_overdue_at
    )
    appointment.phase, appointment.vitals_overdue_at = phase, vitals_overdue_at


@dataclass(frozen=True)
class VisitChange:
    """One visit a move changes: its time and chair before and after."""

    visit_id: int
    number: int
    old_start: dt.datetime
    new_start: dt.datetime
    new_end: dt.datetime
    old_chair: str
    new_chair: str


@dataclass(frozen=True)
class MovePlan:
    """What a move would change, computed and checked but not saved (preview_move)."""

    changes: list[VisitChange]  # the moved visit first, then the later ones re-timed with it
    overridden: list[str]  # the rules a prescriber keeps broken, with a reason

    @property
    def fingerprint(self) -> str:
        """Names this plan exactly: every visit, its old and new time and chair. Saving
        (reschedule_visit with `expected`) refuses if the plan made then has another."""
        text = ";".join(
            f"{c.visit_id}:{c.old_start.isoformat()}>{c.new_start.isoformat()}:"
            f"{c.old_chair}>{c.new_chair}"
            for c in self.changes
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Rescheduled:
    moved: Appointment
    repaired: list[Appointment]  # later visits moved to keep the protocol's series rules
    overridden: list[str]  # the rules a prescriber chose to break, with a reason
    plan: MovePlan


@transaction.atomic
def preview_move(
    *,
    appointment: Appointment,
    starts_at: dt.datetime,
    by: User,
    now: dt.datetime,
    chair: Chair | None = None,
    override_reason: str = "",
) -> MovePlan:
    """Every visit the move would change (old → new time and chair), refused for the same
    reasons as the move itself; nothing is saved. The scheduler confirms this plan, and
    reschedule_visit saves it only if it is still the plan then."""
    _, _, plan = _plan_move(
        appointment=appointment, starts_at=starts_at, by=by, now=now, chair=chair,
        override_reason=override_reason,
    )  # fmt: skip
    return plan


@transaction.atomic
def reschedule_visit(
    *,
    appointment: Appointment,
    starts_at: dt.datetime,
    by: User,
    now: dt.datetime,
    chair: Chair | None = None,
    override_reason: str = "",
    expected: str | None = None,
) -> Rescheduled:
    """Move one visit; repair the rest of the induction series to keep the protocol's rules.

    When the move breaks a series rule (sustain_core.series.check_series: gaps, span,
    weekdays, weekly maximum), the later booked visits are planned again after it
    (sustain_core.series.plan_series). If no repair fits, the move is refused naming the
    rules, unless a prescriber keeps it with a reason (stored and audited). No visit moves
    into the past, for any role (check_not_past, before every other check). No reason keeps a
    visit under the infusion gap floor from another infusion of the patient: that move is
    refused for everyone, before the series rules are weighed.

    `expected` is the fingerprint of the plan the scheduler previewed (preview_move): if the
    plan made now differs (a visit booked or moved meanwhile changes the repair), nothing is
    saved and the refusal asks for a new preview.
    """
    appointment, repaired, plan = _plan_move(
        appointment=appointment, starts_at=starts_at, by=by, now=now, chair=chair,
        override_reason=override_reason,
    )  # fmt: skip
    if expected is not None and plan.fingerprint != expected:
        raise BookingConflict(
            "plan",
            "the visits this move changes are not those previewed (a visit was booked or moved "
            "meanwhile); nothing was saved: preview the move again",
        )
    moving = [appointment, *repaired]
    _place(moving)
    for visit in moving:
        touch_appointment(visit)
        _audit_visit(visit, by, AuditAction.UPDATE)
    return Rescheduled(moved=appointment, repaired=repaired, overridden=plan.overridden, plan=plan)


def _plan_move(
    *,
    appointment: Appointment,
    starts_at: dt.datetime,
    by: User,
    now: dt.datetime,
    chair: Chair | None,
    override_reason: str,
) -> tuple[Appointment, list[Appointment], MovePlan]:
    """The move, checked, with the visits it changes set to their new places in memory (the
    caller saves them, or not); under the site's and the patient's lock."""
    appointment = Appointment.objects.select_related("course", "patient__site", "chair").get(
        pk=appointment.pk
    )
    course, patient, site = appointment.course, appointment.patient, appointment.patient.site
    if appointment.status not in {AppointmentStatus.BOOKED, AppointmentStatus.NO_SHOW}:
        raise ClinicalValueError(
            "status", f"a {appointment.get_status_display()} visit stays where it is"
        )
    check_not_past(starts_at, now=now, tz=site.tz)
    _lock(site, patient)
    protocol = protocol_for(course)
    calendar = site_calendar(site)
    chair = chair or appointment.chair
    ends_at = starts_at + protocol.visit_length
    series.check_within_opening_hours(start=starts_at, end=ends_at, calendar=calendar)
    _check_chair(chair, protocol)
    _check_free(chair, patient, starts_at, ends_at, exclude=[appointment.pk])
    _check_staffed(course, protocol, starts_at, now=now, exclude=[appointment.pk])
    repaired: list[Appointment] = []
    broken: list[str] = []
    before: dict[int, tuple[dt.datetime, str]] = {
        appointment.pk: (appointment.starts_at, appointment.chair.name)
    }
    if appointment.number <= protocol.induction_infusions:
        others = list(
            course.appointments.filter(
                status__in=OCCUPYING, number__lte=protocol.induction_infusions
            )
            .exclude(pk=appointment.pk)
            .select_related("chair")
        )
        before |= {a.pk: (a.starts_at, a.chair.name) for a in others}
        broken = _broken_rules(
            protocol.series, [*(a.starts_at for a in others), starts_at], calendar.tz
        )
        later = sorted(
            (
                a
                for a in others
                if a.number > appointment.number and a.status == AppointmentStatus.BOOKED
            ),
            key=lambda a: a.number,
        )
        if broken and later:
            repaired = _repair(
                later=later,
                earlier=[a.starts_at for a in others if a not in later],
                moved=appointment,
                moved_start=starts_at,
                chair=chair,
                protocol=protocol,
                now=now,
            )
            if repaired:
                broken = []
    moving = [appointment, *repaired]
    _check_gap_floor(
        patient,
        [starts_at, *(visit.starts_at for visit in repaired)],
        exclude=[visit.pk for visit in moving],
        tz=calendar.tz,
    )
    if broken:
        if not override_reason.strip():
            raise ClinicalValueError(
                "starts_at",
                "this move breaks the protocol's series rules and the rest cannot be repaired: "
                + "; ".join(broken)
                + ". A prescriber can keep it with a reason.",
            )
        if not by.has_perm("scheduling.override_series_rules"):
            raise ClinicalValueError("override_reason", "only a prescriber can break a series rule")
    appointment.starts_at, appointment.ends_at, appointment.chair = starts_at, ends_at, chair
    for field, minutes in staff.template_minutes(protocol).items():
        setattr(appointment, field, minutes)
    appointment.override_reason = override_reason.strip() if broken else ""
    plan = MovePlan(
        changes=[
            VisitChange(
                visit_id=visit.pk,
                number=visit.number,
                old_start=before[visit.pk][0],
                new_start=visit.starts_at,
                new_end=visit.ends_at,
                old_chair=before[visit.pk][1],
                new_chair=visit.chair.name,
            )
            for visit in moving
        ],
        overridden=broken,
    )
    return appointment, repaired, plan


def _place(visits: list[Appointment]) -> None:
    """Save moved visits at their new times in two steps: first out of the overlap check
    (status cancelled, "rescheduled"), then back in at their places. Moving one by one could
    pass through a moment where two of them overlap, which PostgreSQL's exclusion constraint
    refuses row by row (the overlaps, and the infusion gap floor)."""
    Appointment.objects.filter(pk__in=[v.pk for v in visits]).update(
        status=AppointmentStatus.CANCELLED, cancel_reason=CancellationReason.RESCHEDULED
    )
    with _refused_by_database():
        for visit in visits:
            visit.status, visit.cancel_reason = AppointmentStatus.BOOKED, ""
            visit.save(
                update_fields=[
                    "starts_at", "ends_at", "chair", "status", "cancel_reason", "override_reason",
                    *staff.PHASE_FIELDS,
                ]
            )  # fmt: skip


def _broken_rules(
    rules: series.SeriesRules, starts: list[dt.datetime], tz: zoneinfo.ZoneInfo
) -> list[str]:
    """The series rules these starts break, in words (sustain_core.series.wording)."""
    # Visits missed (no-shows) are not in the series any more: judge what remains.
    remaining = dataclasses.replace(rules, count=len(starts))
    return [
        series.wording.rule_break(broken, remaining, tz=tz)
        for broken in series.check_series(remaining, starts, tz=tz)
    ]


def check_not_past(starts_at: dt.datetime, *, now: dt.datetime, tz: zoneinfo.ZoneInfo) -> None:
    """Refuse a visit (booked, moved or re-booked) that would start before `now`, for every
    role and path, before any other check: a time in the past is the real reason, whatever
    else that time would break (a chair taken then, the site's hours). Nor one beyond
    PLANNING_HORIZON from now (TST-03)."""
    if starts_at > now + PLANNING_HORIZON:
        raise OutOfRange(
            "starts_at",
            f"the new time must be within {PLANNING_HORIZON.days} days from now: by "
            f"{(now + PLANNING_HORIZON).astimezone(tz):%d %B %Y}; got "
            f"{starts_at.astimezone(tz):%d %B %Y}",
        )
    if starts_at < now:
        raise ClinicalValueError(
            "starts_at",
            f"the new time is in the past: {starts_at.astimezone(tz):%a %d %b %Y %H:%M} is "
            f"before now ({now.astimezone(tz):%a %d %b %Y %H:%M}); choose a later time",
        )


def _check_free(
    chair: Chair,
    patient: Patient,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    *,
    exclude: list[int],
) -> None:
    clash = (
        Appointment.objects.occupying(starts_at, ends_at)
        .filter(Q(chair=chair) | Q(patient=patient))
        .exclude(pk__in=exclude)
        .first()
    )
    if clash is not None:
        whose = "the patient" if clash.patient_id == patient.pk else f"chair {chair.name}"
        raise BookingConflict("starts_at", f"{whose} is already booked at that time")


def _check_gap_floor(
    patient: Patient,
    starts: Sequence[dt.datetime],
    *,
    exclude: Collection[int],
    tz: zoneinfo.ZoneInfo,
) -> None:
    """Refuse (BookingConflict, naming the other visit in the site's zone `tz`) any of `starts`
    under sustain_core.series.INFUSION_GAP_FLOOR from another infusion of the patient: one of
    their visits of any course, other than those in `exclude` (the ones being moved), or
    another of `starts`. Callers hold the lock (_lock), so on SQLite this check is what keeps
    the floor; PostgreSQL also refuses it itself (exclusion constraint appt_infusion_gap_floor).

    A visit counts while booked or completed (OCCUPYING): a booked one is to be given, a
    completed one was. A cancelled visit gave nothing (only a booked visit can be cancelled,
    and a visit is completed when its dose is confirmed), and neither did a no-show: the
    patient never arrived (mark_no_show refuses a visit under way), so no drug was given and
    it holds no time for the floor.
    """
    floor = series.INFUSION_GAP_FLOOR
    others = list(
        Appointment.objects.filter(
            patient=patient,
            status__in=OCCUPYING,
            starts_at__gt=min(starts) - floor,
            starts_at__lt=max(starts) + floor,
        )
        .exclude(pk__in=exclude)
        .values_list("starts_at", flat=True)
    )
    for number, start in enumerate(starts):
        other = series.under_gap_floor(start, [*others, *starts[:number]])
        if other is not None:
            raise BookingConflict("starts_at", series.wording.under_gap_floor(other, tz))


@contextlib.contextmanager
def _refused_by_database() -> Iterator[None]:
    """A savepoint around the writes of a booking: should the database refuse them itself (on
    PostgreSQL the exclusion constraints against overlaps and under the infusion gap floor,
    after a check that missed it), the refusal becomes a 409 with a message, not a 500."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise BookingConflict(
            "starts_at",
            "a chair or the patient was booked at or near that time meanwhile; search again",
        ) from None


def _check_chair(chair: Chair, protocol: protocols.Protocol) -> None:
    missing = set(protocol.visit.chair_needs) - set(chair.capabilities)
    if missing:
        raise ClinicalValueError(
            "chair", f"chair {chair.name} lacks {', '.join(sorted(missing))} for these visits"
        )


def _check_staffed(
    course: Course,
    protocol: protocols.Protocol,
    starts_at: dt.datetime,
    *,
    now: dt.datetime,
    exclude: list[int],
) -> None:
    short = staff.check_staffed(
        course.patient.site,
        phases=protocol.visit_phases,
        starts=[starts_at],
        now=now,
        exclude=exclude,
        patient_id=course.patient_id,
    )
    if short:
        raise BookingConflict("starts_at", "; ".join(short))


def _repair(
    *,
    later: list[Appointment],
    earlier: list[dt.datetime],
    moved: Appointment,
    moved_start: dt.datetime,
    chair: Chair,
    protocol: protocols.Protocol,
    now: dt.datetime,
) -> list[Appointment]:
    """Plan the later visits again after the moved one; [] when nothing fits the rules."""
    site = moved.patient.site
    rules = protocol.series
    first = min([*earlier, moved_start])
    earliest = moved_start + rules.min_gap
    span_left = first + rules.max_span - earliest
    if span_left <= dt.timedelta(0):
        return []
    calendar = site_calendar(site)
    chairs = tuple(series.ChairId(chair.pk) for chair in staff.chairs_for(site, protocol))
    moving = {a.pk for a in later} | {moved.pk}
    chair_busy, patient_busy = _busy(
        site, moved.patient, earliest, earliest + span_left, now=now, exclude=moving
    )
    moved_visit = series.Interval(start=moved_start, end=moved_start + protocol.visit_length)
    patient_busy.append(moved_visit)  # its start is an infusion too (the gap floor)
    chair_busy[series.ChairId(chair.pk)].append(moved_visit)
    try:
        slots = series.plan_series(
            dataclasses.replace(
                rules, count=len(later), max_span=span_left, max_per_week=None
            ),
            earliest=earliest, duration=protocol.visit_length, calendar=calendar,
            chairs=series.Chairs(order=chairs, busy=chair_busy),
            patient=series.PatientDiary(
                busy=patient_busy, infusions=[visit.start for visit in patient_busy]
            ),
            horizon=span_left,
            staff_blocks=staff.staff_blocks(
                site, phases=protocol.visit_phases, start=earliest,
                end=earliest + span_left + dt.timedelta(days=1), now=now, exclude=moving,
                patient_id=moved.patient_id,
            ),
        )  # fmt: skip
    except ClinicalValueError:
        return []
    if _broken_rules(rules, [*earlier, moved_start, *(s.start for s in slots)], calendar.tz):
        return []  # e.g. the weekly maximum across the old and new visits
    chairs_by_pk = Chair.objects.in_bulk([s.chair for s in slots])
    template = staff.template_minutes(protocol)
    for visit, slot in zip(later, slots, strict=True):  # placed by the caller, all at once
        visit.starts_at, visit.ends_at = slot.start, slot.end
        visit.chair = chairs_by_pk[slot.chair]
        for field, minutes in template.items():
            setattr(visit, field, minutes)
    return later


BATCH = "batch"


def place_waitlist(
    *, site: Site, by: User, now: dt.datetime, time_limit_s: float, book: bool
) -> tuple[intake.IntakePlan, intake.IntakePlan]:
    """Place every waiting course's induction series at once (sustain_core.intake), against
    one by one.

    Each course brings its protocol's visit template and the chairs that template allows;
    the site's shifts, staffing rules, visits and other schedulers' holds count as in a
    booking (sustain_core.intake). A course whose protocol needs a chair the site lacks is
    left out (its booking screen says why). Each patient's own visits (of an earlier course)
    are theirs: no series overlaps them or starts under the infusion gap floor from them.
    With `book`, each placed series is held for its course and booked through `book_series`,
    so every booking is checked and audited as if made by hand. Returns (one by one, batch).
    """
    calendar = site_calendar(site)
    tz = calendar.tz
    earliest = dt.datetime.combine(
        now.astimezone(tz).date() + dt.timedelta(days=1), dt.time.min, tzinfo=tz
    )
    placeable = []
    for course in queries.waiting_courses(Site.objects.filter(pk=site.pk)):
        protocol = protocol_for(course)
        try:
            chairs = tuple(series.ChairId(chair.pk) for chair in staff.chairs_for(site, protocol))
        except ClinicalValueError:
            continue
        placeable.append((course, protocol, chairs))
    # The diary is read as far as a series can reach: its first visit within HORIZON, its
    # last within the protocol's span, and the two days' margin of sustain_core.intake's
    # staff blocks.
    longest = max((protocol.series.max_span for _, protocol, _ in placeable), default=HORIZON)
    end = earliest + HORIZON + longest + dt.timedelta(days=2)
    # The patients' own visits (e.g. of an earlier course): their time, and the infusion gap
    # floor around each start.
    own: dict[int, list[series.Interval]] = defaultdict(list)
    for patient_id, starts_at, ends_at in (
        Appointment.objects.occupying(
            earliest - series.INFUSION_GAP_FLOOR, end + series.INFUSION_GAP_FLOOR
        )
        .filter(patient__in=[course.patient_id for course, _, _ in placeable])
        .values_list("patient_id", "starts_at", "ends_at")
    ):
        own[patient_id].append(series.Interval(start=starts_at, end=ends_at))
    courses, requests = [], []
    for course, protocol, chairs in placeable:
        courses.append(course)
        visits = own[course.patient_id]
        requests.append(
            intake.IntakeRequest(
                patient=str(course.pk), earliest=earliest, rules=protocol.series,
                phases=protocol.visit_phases, chairs=chairs,
                diary=series.PatientDiary(busy=visits, infusions=[v.start for v in visits]),
            )
        )  # fmt: skip
    chair_busy: dict[series.ChairId, list[series.Interval]] = defaultdict(list)
    for chair_id, starts_at, ends_at in (
        Appointment.objects.occupying(earliest, end)
        .filter(site=site)
        .values_list("chair_id", "starts_at", "ends_at")
    ):
        chair_busy[series.ChairId(chair_id)].append(series.Interval(start=starts_at, end=ends_at))
    nurses, prescribers = staff.shifts_by_role(site, earliest, end)
    at_site = intake.IntakeSite(
        calendar=calendar,
        chairs=series.Chairs(
            order=tuple(series.ChairId(pk) for pk in site.chairs.values_list("pk", flat=True)),
            busy=chair_busy,
        ),
        step=dt.timedelta(hours=1), horizon=HORIZON, staff_rules=staff.staff_rules(site),
        nurse_shifts=nurses, prescriber_shifts=prescribers,
        booked=staff.booked_visits(site, earliest, end, holds_at=now),
    )  # fmt: skip
    greedy = intake.plan_one_by_one(requests, at_site)
    batch = intake.plan_batch_cpsat(requests, at_site, time_limit_s=time_limit_s, hint=greedy)
    if book:
        _book_batch(batch, courses, site=site, earliest=earliest, by=by, now=now)
    return greedy, batch


@transaction.atomic
def _book_batch(
    batch: intake.IntakePlan,
    courses: list[Course],
    *,
    site: Site,
    earliest: dt.datetime,
    by: User,
    now: dt.datetime,
) -> None:
    """Book the batch plan all or nothing: if one series is refused (a visit booked meanwhile),
    none is booked."""
    by_pk = {str(c.pk): c for c in courses}
    for course_pk, slots in sorted(batch.series.items()):
        course = by_pk[course_pk]
        SeriesHold.objects.create(
            course=course, site=site, choice=BATCH, held_by=by,
            slots=SeriesHold.encode(slots),
            expires_at=now + dt.timedelta(minutes=HOLD_MINUTES),
        )  # fmt: skip
        book_series(course=course, earliest=earliest, by=by, now=now, choice=BATCH)
