"""Booking a booster from the maintenance plan signed at the post-induction review (issue 13).

The plan's boosters and their windows are sustain_core.maintenance.plan_boosters' (through
care.queries.due_boosters, as the patient page lists them): each may be booked from its
``earliest_on`` to its ``latest_on``, in the site's calendar days. A booster is booked in its
window only: at a chosen time, or at the earliest free time in the window (a chair the
protocol's visit can use, the site's hours and closures, staff, the patient's other visits
and the infusion gap floor, as sustain_core.series.plan_series finds a visit). Either way the
visit is booked through services.book_visit, which checks it all again under the lock.
"""

import dataclasses
import datetime as dt

from django.db import transaction

from sustain.accounts.models import User
from sustain.care import queries as care_queries
from sustain.care.enums import CourseStatus
from sustain.care.models import Course
from sustain.care.protocol_versions import protocol_for
from sustain.scheduling import queries, services, staff
from sustain.scheduling.models import Appointment, Chair
from sustain_core import maintenance, series
from sustain_core.errors import ClinicalValueError, NoSeriesFound

BOOSTER_PHASES = (CourseStatus.MAINTENANCE, CourseStatus.RELAPSED)


def due_boosters(
    course: Course, *, today: dt.date
) -> list[tuple[maintenance.Booster, care_queries.Visit | None]]:
    """The course's boosters due in the next 60 days, each with the visit booked in its window
    (care.queries.due_boosters, from the course's visits and the patient's scores)."""
    patient = course.patient
    tz = patient.site.tz
    protocol = protocol_for(course)
    visits = queries.as_visits(list(course.appointments.all()))
    measures = care_queries.measure_summaries(
        list(patient.assessments.all()),
        visits,
        protocol=protocol,
        tz=tz,
        induction_infusions=course.induction_infusions(protocol),
    )
    return care_queries.due_boosters(course, visits, measures, today=today, tz=tz)


@transaction.atomic
def book_booster(
    *,
    course: Course,
    number: int,
    by: User,
    now: dt.datetime,
    chair: Chair | None = None,
    starts_at: dt.datetime | None = None,
) -> Appointment:
    """Book booster `number` of the course's maintenance plan inside its window.

    With `starts_at` (and `chair`), at that time, refused when it is in the past or its day is
    outside the booster's window (the message names the window); without, at the earliest
    free time in the window from now (in `chair` if given). Refused, naming why, when the
    course is not in maintenance, the booster is not due or is booked already, or no time in
    the window is free. Source: the plan's boosters and windows,
    sustain_core.maintenance.plan_boosters (the window is a clinic default, unconfirmed).
    """
    course = Course.objects.select_related("patient__site").get(pk=course.pk)
    tz = course.patient.site.tz
    # Under the site's and the patient's lock from here: two schedulers booking the same
    # booster at once cannot both find it unbooked.
    services.lock_booking(course.patient.site, course.patient)
    if course.status not in BOOSTER_PHASES:
        raise ClinicalValueError(
            "course",
            f"the course is in {course.get_status_display()}; boosters are booked in maintenance",
        )
    planned = due_boosters(course, today=now.astimezone(tz).date())
    found = next(((b, v) for b, v in planned if b.number == number), None)
    if found is None:
        raise ClinicalValueError("booster", f"booster {number} is not due in the maintenance plan")
    booster, booked = found
    if booked is not None:
        raise services.BookingConflict(
            "booster",
            f"booster {number} is booked already, {booked.starts_at.astimezone(tz):%a %d %b %H:%M}",
        )
    window = f"{booster.earliest_on:%a %d %b} to {booster.latest_on:%a %d %b %Y}"
    if starts_at is not None:
        services.check_not_past(starts_at, now=now, tz=tz)
        if chair is None:
            raise ClinicalValueError("chair", "choose a chair for the booster")
        day = starts_at.astimezone(tz).date()
        if not booster.earliest_on <= day <= booster.latest_on:
            raise ClinicalValueError(
                "starts_at",
                f"{day:%a %d %b %Y} is outside booster {number}'s window, {window}",
            )
    else:
        opens = max(dt.datetime.combine(booster.earliest_on, dt.time.min, tzinfo=tz), now)
        closes = dt.datetime.combine(
            booster.latest_on + dt.timedelta(days=1), dt.time.min, tzinfo=tz
        )
        slot = _earliest_free(course, opens, closes, chair=chair, now=now)
        if slot is None:
            raise NoSeriesFound(
                "booster",
                f"no time is free for booster {number} in its window, {window} (a chair, the "
                "site's hours and the staff a visit needs); choose a time or change the diary",
            )
        chair, starts_at = Chair.objects.get(pk=slot.chair), slot.start
    return services.book_visit(course=course, chair=chair, starts_at=starts_at, by=by, now=now)


def _earliest_free(
    course: Course,
    opens: dt.datetime,
    closes: dt.datetime,
    *,
    chair: Chair | None,
    now: dt.datetime,
) -> series.Slot | None:
    """The earliest visit that fits between `opens` and `closes` (a visit starting before
    `closes`), or None (also when the window is over). The diary is read for the first week
    of the window first, and for all of it only when nothing fits there."""
    if opens >= closes:
        return None
    site, patient = course.patient.site, course.patient
    protocol = protocol_for(course)
    chairs = tuple(series.ChairId(c.pk) for c in staff.chairs_for(site, protocol))
    if chair is not None:
        chairs = tuple(c for c in chairs if c == chair.pk)
        if not chairs:
            raise ClinicalValueError("chair", f"chair {chair.name} lacks what these visits need")
    # One visit: the span only has to hold it, and the diary is read up to the latest end.
    one = dataclasses.replace(
        protocol.series, count=1, max_span=protocol.visit_length, max_gap=None, weekdays=None,
        max_per_week=None,
    )  # fmt: skip
    calendar = services.site_calendar(site)

    def plan(horizon: dt.timedelta) -> tuple[series.Slot, ...]:
        until = opens + horizon + protocol.visit_length
        chair_busy, patient_busy = services.busy_between(site, patient, opens, until, now=now)
        return series.plan_series(
            one, earliest=opens, duration=protocol.visit_length, calendar=calendar,
            chairs=series.Chairs(order=chairs, busy=chair_busy),
            patient=series.PatientDiary(
                busy=patient_busy, infusions=[visit.start for visit in patient_busy]
            ),
            horizon=horizon,
            staff_blocks=staff.staff_blocks(
                site, opens, until, phases=protocol.visit_phases, now=now, patient_id=patient.pk
            ),
        )  # fmt: skip

    try:
        (slot,) = services.plan_looking_ahead(plan, horizon=closes - opens)
    except ClinicalValueError:
        return None
    return slot if slot.start < closes else None
