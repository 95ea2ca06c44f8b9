"""Booking infusion visits into chairs.

The series search itself is pure (sustain_core.series.plan_series); this module feeds it the
site's hours, closures, chairs and existing bookings, and writes the result under a lock so
two schedulers cannot book the same chair time.
"""

import datetime as dt
import zoneinfo
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import Site, User
from sustain.care.enums import CourseStatus
from sustain.care.models import Course, Patient
from sustain.care.protocol_versions import protocol_for
from sustain.care.services import record_patient_event
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment, Chair
from sustain_core import protocols, series
from sustain_core.errors import ClinicalValueError

HORIZON = dt.timedelta(days=60)


class BookingConflict(ClinicalValueError):
    """The time is taken, or the booking exists already: HTTP 409 in the API."""


SERIES_BOOKABLE = (CourseStatus.SCREENING, CourseStatus.READY)
OCCUPYING = (AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED)


def site_calendar(
    site: Site,
) -> tuple[zoneinfo.ZoneInfo, list[series.OpeningHours], set[dt.date]]:
    hours = [
        series.OpeningHours(weekday=h.weekday, opens=h.opens, closes=h.closes)
        for h in site.opening_hours.all()
    ]
    closed = set(site.closures.values_list("date", flat=True))
    return zoneinfo.ZoneInfo(site.timezone), hours, closed


def _busy(
    site: Site, patient: Patient, start: dt.datetime, end: dt.datetime
) -> tuple[dict[str, list[series.Interval]], list[series.Interval]]:
    chair_busy: dict[str, list[series.Interval]] = defaultdict(list)
    patient_busy: list[series.Interval] = []
    rows = Appointment.objects.filter(
        Q(site=site) | Q(patient=patient),
        status__in=OCCUPYING,
        starts_at__lt=end,
        ends_at__gt=start,
    ).values_list("chair_id", "patient_id", "starts_at", "ends_at")
    for chair_id, patient_id, starts_at, ends_at in rows:
        interval = series.Interval(start=starts_at, end=ends_at)
        chair_busy[str(chair_id)].append(interval)
        if patient_id == patient.pk:
            patient_busy.append(interval)
    return chair_busy, patient_busy


def propose_series(*, course: Course, earliest: dt.datetime) -> tuple[series.Slot, ...]:
    """The first induction series that fits the protocol's spacing and the site's calendar.

    Spacing, window, weekdays and weekly maximum come from the course's protocol (e.g.
    depression-induction v1: 6 visits, ≥ 48 h apart, within 21 days [Oliver2022]; Murrough
    2013: Monday, Wednesday and Friday within 12 days [Murrough2013]).
    """
    protocol = protocol_for(course)
    rules = protocol.series
    site = course.patient.site
    tz, hours, closed = site_calendar(site)
    chairs = [str(pk) for pk in Chair.objects.filter(site=site).values_list("pk", flat=True)]
    if not chairs:
        raise ClinicalValueError("chair", f"{site.name} has no chairs")
    chair_busy, patient_busy = _busy(site, course.patient, earliest, earliest + HORIZON * 2)
    return series.plan_series(
        count=rules.count,
        min_gap=rules.min_gap,
        max_span=rules.max_span,
        max_gap=rules.max_gap,
        weekdays=rules.weekdays,
        max_per_week=rules.max_per_week,
        duration=visit_length(site, protocol),
        earliest=earliest,
        tz=tz,
        hours=hours,
        closed_dates=closed,
        chairs=chairs,
        chair_busy=chair_busy,
        patient_busy=patient_busy,
        horizon=HORIZON,
    )


def visit_length(site: Site, protocol: protocols.Protocol) -> dt.timedelta:
    """Chair time for one visit: the site's visit length, or the infusion itself if longer
    (a 4-hour pain infusion). Visit templates with phases replace this in issue 5."""
    return dt.timedelta(minutes=max(site.visit_minutes, protocol.regimen.infusion_minutes))


def _lock(site: Site, patient: Patient) -> None:
    # Serialize bookings per site: PostgreSQL row locks on the site's chairs and the patient;
    # SQLite's BEGIN IMMEDIATE already gives one writer at a time. On PostgreSQL the
    # exclusion constraints of migration 0002 are the backstop.
    list(Chair.objects.select_for_update().filter(site=site).order_by("pk"))
    Patient.objects.select_for_update().get(pk=patient.pk)


@transaction.atomic
def book_series(*, course: Course, earliest: dt.datetime, by: User) -> list[Appointment]:
    """Book the whole induction series at once (the course enters induction at infusion 1)."""
    patient = course.patient
    site = patient.site
    _lock(site, patient)
    course.refresh_from_db()
    if course.status not in SERIES_BOOKABLE:
        raise ClinicalValueError(
            "course",
            f"the course is in {course.get_status_display()}; the induction series is booked "
            "during screening or when the course is ready",
        )
    if course.appointments.exclude(status=AppointmentStatus.CANCELLED).exists():
        raise BookingConflict("course", "the induction series is already booked")
    slots = propose_series(course=course, earliest=earliest)
    chairs = Chair.objects.in_bulk([int(slot.chair) for slot in slots])
    now = timezone.now()
    try:
        with transaction.atomic():  # a savepoint: the database's own refusal becomes a 409
            appointments = [
                Appointment.objects.create(
                    site=site,
                    chair=chairs[int(slot.chair)],
                    patient=patient,
                    course=course,
                    number=number,
                    starts_at=slot.start,
                    ends_at=slot.end,
                    booked_at=now,
                    booked_by=by,
                )
                for number, slot in enumerate(slots, start=1)
            ]
    except IntegrityError:
        raise BookingConflict(
            "starts_at", "a chair or the patient was booked at that time meanwhile; search again"
        ) from None
    record_patient_event(by=by, patient=patient, category=DataCategory.SCHEDULE, obj=course)
    return appointments


@transaction.atomic
def book_visit(*, course: Course, chair: Chair, starts_at: dt.datetime, by: User) -> Appointment:
    """Book one more visit in a given chair at a given time (e.g. a booster or a re-book).

    Refused with a message when it falls outside the site's hours, on a closure, or overlaps
    the chair's or the patient's other visits.
    """
    patient = course.patient
    site = patient.site
    if chair.site_id != site.pk:
        raise ClinicalValueError("chair", "the chair belongs to another site")
    _lock(site, patient)
    tz, hours, closed = site_calendar(site)
    ends_at = starts_at + visit_length(site, protocol_for(course))
    series.check_within_opening_hours(
        start=starts_at, end=ends_at, tz=tz, hours=hours, closed_dates=closed
    )
    overlapping = Appointment.objects.filter(
        Q(chair=chair) | Q(patient=patient),
        status__in=OCCUPYING,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    ).first()
    if overlapping is not None:
        whose = "the patient" if overlapping.patient_id == patient.pk else f"chair {chair.name}"
        raise BookingConflict("starts_at", f"{whose} is already booked at that time")
    last = course.appointments.exclude(status=AppointmentStatus.CANCELLED).order_by("-number")
    number = (last.values_list("number", flat=True).first() or 0) + 1
    appointment = Appointment.objects.create(
        site=site,
        chair=chair,
        patient=patient,
        course=course,
        number=number,
        starts_at=starts_at,
        ends_at=ends_at,
        booked_at=timezone.now(),
        booked_by=by,
    )
    record_patient_event(by=by, patient=patient, category=DataCategory.SCHEDULE, obj=appointment)
    return appointment
