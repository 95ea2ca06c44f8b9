import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from sustain.accounts.access import require_permission, users_with_perm
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Membership, Site, User
from sustain.care.enums import CourseStatus
from sustain.care.models import ACTIVE_COURSE_STATUSES, Assessment, Course, Patient
from sustain.care.protocol_versions import protocols_for
from sustain.care.queries import Visit, due_measures
from sustain.scheduling import staff
from sustain.scheduling.enums import OCCUPYING, AppointmentStatus, StaffRole
from sustain.scheduling.models import Appointment, Chair, Shift
from sustain_core import measurement, staffing


def day_schedule(site: Site, day: dt.date) -> list[tuple[Chair, list[Appointment]]]:
    """Every chair of the site with its visits on `day` (a calendar day in the site's zone)."""
    return schedule(site, day, days=1)[day]


def schedule(
    site: Site, first: dt.date, *, days: int
) -> dict[dt.date, list[tuple[Chair, list[Appointment]]]]:
    """For each of `days` calendar days from `first` (in the site's zone), every chair of the
    site with its visits that day: two queries whatever the number of days and visits."""
    tz = site.tz
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(first + dt.timedelta(days=days), dt.time.min, tzinfo=tz)
    by_day_and_chair: dict[tuple[dt.date, int], list[Appointment]] = defaultdict(list)
    for appointment in (
        Appointment.objects.filter(site=site, starts_at__gte=start, starts_at__lt=end)
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("patient", "chair")
    ):
        day = appointment.starts_at.astimezone(tz).date()
        by_day_and_chair[day, appointment.chair_id].append(appointment)
    chairs = list(site.chairs.all())
    return {
        day: [(chair, by_day_and_chair[day, chair.pk]) for chair in chairs]
        for day in (first + dt.timedelta(days=n) for n in range(days))
    }


@dataclass(frozen=True)
class DayBoard:
    """One site's day: each chair's visits, each with the measures its patient still owes,
    the staffing strip (empty when the site does not check staffing), and the notes a higher
    app gives on the day's visits (BOARD_NOTES), by appointment id."""

    rows: list[tuple[Chair, list[tuple[Appointment, list[measurement.DueItem]]]]]
    staffing: list[staffing.Segment]
    staffing_checked: bool
    notes: dict[int, list[str]] = dataclasses.field(default_factory=dict)


# What a higher app knows of a site's visits on a day and the board shows (the ledger's visits
# whose draws are not yet given or wasted): each provider maps appointment ids to a note. The
# board cannot import those apps (they sit above it), so each registers its provider when it
# is ready (sustain.ledger.apps): the lower app offers the function, the higher one calls it.
BOARD_NOTES: list[Callable[[Site, dt.date], dict[int, str]]] = []


def add_board_notes(provider: Callable[[Site, dt.date], dict[int, str]]) -> None:
    if provider not in BOARD_NOTES:
        BOARD_NOTES.append(provider)


def day_board(user: User, site: Site, day: dt.date, *, now: dt.datetime) -> DayBoard:
    """The day board of one of the user's sites (scheduling.view_appointment): names, times,
    visit phases and the questionnaires due, never a score. One audit event for the board."""
    require_permission(user, "scheduling.view_appointment", category=DataCategory.SCHEDULE)
    rows = day_schedule(site, day)
    due = due_by_patient(sorted({v.patient_id for _, visits in rows for v in visits}), now=now)
    rules = staff.staff_rules(site)
    record_event(actor=user, action=AuditAction.READ, category=DataCategory.SCHEDULE, site=site)
    notes: dict[int, list[str]] = defaultdict(list)
    for provider in BOARD_NOTES:
        for appointment_id, note in provider(site, day).items():
            notes[appointment_id].append(note)
    return DayBoard(
        rows=[(chair, [(v, due[v.patient_id]) for v in visits]) for chair, visits in rows],
        staffing=day_staffing(site, day, rules=rules),
        staffing_checked=rules.checked,
        notes=dict(notes),
    )


def change_requests(site: Site, *, now: dt.datetime) -> list[Appointment]:
    """The site's coming visits whose patient asked, through a reminder's link, to change them
    (sustain.scheduling.replies), soonest first: the scheduler's calls to make. For a page that
    checked the permission and audits its read (the day board)."""
    return list(
        Appointment.objects.filter(
            site=site,
            status=AppointmentStatus.BOOKED,
            starts_at__gt=now,
            change_requested_at__isnull=False,
        )
        .select_related("patient", "chair")
        .order_by("starts_at", "pk")
    )


def week_board(
    user: User, site: Site, monday: dt.date
) -> dict[dt.date, list[tuple[Chair, list[Appointment]]]]:
    """The week of one of the user's sites from `monday` (scheduling.view_appointment), each
    day's chairs with their visits. One audit event for the week."""
    require_permission(user, "scheduling.view_appointment", category=DataCategory.SCHEDULE)
    week = schedule(site, monday, days=7)
    record_event(actor=user, action=AuditAction.READ, category=DataCategory.SCHEDULE, site=site)
    return week


def visits_to_export(user: User, site: Site, first: dt.date, *, days: int) -> list[Appointment]:
    """The visits the day board (days=1) or the week view (days=7 from a Monday) of one of
    the user's sites shows, in the page's order: day by day, chair by chair, by time
    (scheduling.view_appointment). The caller audits the export."""
    require_permission(user, "scheduling.view_appointment", category=DataCategory.SCHEDULE)
    return [
        visit
        for rows in schedule(site, first, days=days).values()
        for _, visits in rows
        for visit in visits
    ]


def waiting_courses(sites: QuerySet[Site]) -> list[Course]:
    """Courses waiting for their induction series: screening or ready, no visit booked."""
    booked = Appointment.objects.filter(course=OuterRef("pk")).exclude(
        status=AppointmentStatus.CANCELLED
    )
    return list(
        Course.objects.filter(
            patient__site__in=sites, status__in=[CourseStatus.SCREENING, CourseStatus.READY]
        )
        .exclude(Exists(booked))
        .select_related("patient__site")
        .order_by("enrolled_at")
    )


def get_shift_for_user(user: User, shift_id: int) -> Shift:
    """A shift at one of the user's sites, or 404."""
    shift = (
        Shift.objects.select_related("site", "staff")
        .filter(pk=shift_id, site__memberships__user=user)
        .first()
    )
    if shift is None:
        raise Http404("No such shift.")
    return shift


def get_chair_for_user(user: User, chair_id: int) -> Chair:
    """A chair at one of the user's sites, or 404."""
    chair = (
        Chair.objects.select_related("site")
        .filter(pk=chair_id, site__memberships__user=user)
        .first()
    )
    if chair is None:
        raise Http404("No such chair.")
    return chair


def shift_staff(site: Site) -> QuerySet[User]:
    """The site's members who can take a shift (as a nurse or a prescriber), by name."""
    return (
        (
            users_with_perm("scheduling.nurse_shift", site)
            | users_with_perm("scheduling.prescriber_shift", site)
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def site_prescribers(site: Site) -> list[tuple[User, bool]]:
    """The site's active prescribers by name, each with whether they are one of its medical
    directors (sustain.accounts.directors)."""
    people = users_with_perm("care.prescribe", site).order_by("last_name", "first_name", "username")
    directors = set(
        Membership.objects.filter(site=site, medical_director=True).values_list(
            "user_id", flat=True
        )
    )
    return [(person, person.pk in directors) for person in people]


@dataclass(frozen=True)
class RotaRow:
    """One person in one role over a week: their shifts on each of the seven days."""

    person: User
    role: StaffRole
    days: tuple[tuple[Shift, ...], ...]


def week_rota(site: Site, monday: dt.date) -> list[RotaRow]:
    """The shifts starting in the week from `monday` (site's calendar), one row per person and
    role, nurses first, then by name."""
    tz = site.tz
    start = dt.datetime.combine(monday, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time.min, tzinfo=tz)
    by_row: dict[tuple[int, str], list[list[Shift]]] = {}
    people: dict[int, User] = {}
    for shift in staff.shifts_between(site, start, end):
        day = (shift.starts_at.astimezone(tz).date() - monday).days
        if not 0 <= day < 7:  # began the week before, overnight
            continue
        people[shift.staff_id] = shift.staff
        by_row.setdefault((shift.staff_id, shift.role), [[] for _ in range(7)])[day].append(shift)
    rows = [
        RotaRow(person=people[pk], role=StaffRole(role), days=tuple(tuple(d) for d in days))
        for (pk, role), days in by_row.items()
    ]
    roles = list(StaffRole.values)
    return sorted(
        rows,
        key=lambda r: (
            roles.index(r.role),
            r.person.last_name,
            r.person.first_name,
            r.person.username,
        ),
    )


def day_staffing(site: Site, day: dt.date, *, rules: staffing.StaffRules) -> list[staffing.Segment]:
    """The site's staffing on `day` under its `rules` (staff.staff_rules) from its first
    opening to its last closing, with consecutive stretches of identical figures merged; empty
    when the site does not check staffing or is closed that day."""
    hours = list(site.opening_hours.filter(weekday=day.weekday()))
    if not hours or site.closures.filter(date=day).exists():
        return []
    if not rules.checked:
        return []
    tz = site.tz
    opens = dt.datetime.combine(day, min(h.opens for h in hours), tzinfo=tz)
    closes = dt.datetime.combine(day, max(h.closes for h in hours), tzinfo=tz)
    merged: list[staffing.Segment] = []
    for segment in staff.site_profile(site, opens, closes, rules=rules):
        last = merged[-1] if merged else None
        if last is not None and _figures(last) == _figures(segment) and last.end == segment.start:
            merged[-1] = dataclasses.replace(last, end=segment.end)
        else:
            merged.append(segment)
    return merged


def _figures(segment: staffing.Segment) -> tuple[object, ...]:
    return (segment.nurses, segment.nurse_load, segment.prescribers, segment.needs_prescriber)


def as_visits(appointments: Sequence[Appointment]) -> list[Visit]:
    """The appointments as the measures see them (care.queries.Visit), cancelled ones left out;
    the infusion starts after the visit's check-in time."""
    return [
        Visit(
            number=a.number,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            infusion_at=a.starts_at + dt.timedelta(minutes=a.check_in_minutes),
            given=a.status == AppointmentStatus.COMPLETED,
        )
        for a in appointments
        if a.status != AppointmentStatus.CANCELLED
    ]


def next_booked_visit(patient: Patient) -> Appointment | None:
    """The patient's earliest visit still booked (the one a pre-infusion PHQ-9 precedes)."""
    return (
        patient.appointments.filter(status=AppointmentStatus.BOOKED).order_by("starts_at").first()
    )


def get_appointment_for_user(user: User, appointment_id: int) -> Appointment:
    """An appointment at one of the user's sites, or 404 (callers check the permission and
    audit what they do with it)."""
    appointment = (
        Appointment.objects.select_related("patient__site", "course", "chair", "site")
        .filter(pk=appointment_id, site__memberships__user=user)
        .first()
    )
    if appointment is None:
        raise Http404("No such appointment.")
    return appointment


def due_by_patient(
    patient_ids: Sequence[int], *, now: dt.datetime
) -> dict[int, list[measurement.DueItem]]:
    """Due and overdue measures for several patients at once (day boards, the worker's links):
    a fixed number of queries whatever the number of patients."""
    courses = {
        c.patient_id: c
        for c in Course.objects.filter(
            patient_id__in=patient_ids, status__in=ACTIVE_COURSE_STATUSES
        ).select_related("patient__site")
    }
    protocols = protocols_for(courses.values())
    appointments: dict[int, list[Appointment]] = {pid: [] for pid in patient_ids}
    for appointment in Appointment.objects.filter(
        course__in=courses.values(), status__in=OCCUPYING
    ).order_by("starts_at"):
        appointments[appointment.patient_id].append(appointment)
    done: dict[int, list[measurement.Completion]] = {pid: [] for pid in patient_ids}
    for patient_id, code, at in Assessment.objects.filter(patient_id__in=patient_ids).values_list(
        "patient_id", "instrument", "completed_at"
    ):
        done[patient_id].append(measurement.Completion(instrument=code, at=at))
    due: dict[int, list[measurement.DueItem]] = {}
    for pid in patient_ids:
        course = courses.get(pid)
        items = due_measures(
            course,
            as_visits(appointments[pid]),
            done[pid],
            now=now,
            protocol=protocols[course.pk] if course else None,
        )
        due[pid] = [
            item
            for item in items
            if item.status in {measurement.DueStatus.DUE, measurement.DueStatus.OVERDUE}
        ]
    return due
