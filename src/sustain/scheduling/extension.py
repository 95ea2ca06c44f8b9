"""Extending an induction series for a partial or late responder (issue 11, item 4).

The prescriber books more induction visits under the protocol's own series rules, up to its
``extension_max_infusions`` in all (e.g. 12, as KetECT's thrice-weekly course of at most 12
sessions [Ekstrand2022]); sustain_core.protocols.check_extension says who may be extended and
how far. The visits are found like an induction series (sustain_core.series.plan_series: the
protocol's gaps, weekdays, weekly maximum and span, the site's hours, chairs and staff) after
the course's last visit, and each is booked through services.book_visit, which checks it
again under the lock, so every rule a booking keeps holds here too.
"""

import dataclasses
import datetime as dt
import zoneinfo

from django.db import transaction

from sustain.accounts.models import User
from sustain.care import queries as care_queries
from sustain.care import services as care
from sustain.care.enums import CourseStatus
from sustain.care.models import Course
from sustain.care.protocol_versions import protocol_for
from sustain.scheduling import queries, services, staff
from sustain.scheduling.enums import OCCUPYING
from sustain.scheduling.models import Appointment, Chair
from sustain_core import protocols, series
from sustain_core.errors import ClinicalValueError

_EXTENDABLE = (CourseStatus.INDUCTION, CourseStatus.REVIEW)


@transaction.atomic
def extend_series(
    *, course: Course, extra: int, earliest: dt.datetime, by: User, now: dt.datetime
) -> list[Appointment]:
    """Book `extra` more induction visits for the course, from `earliest` at the soonest, and
    extend its induction to match (care.services.extend_induction: from the review it goes
    back to induction). All or nothing.

    Refused with a plain message, nothing booked, when: `by` is not a prescriber; the course
    is not in induction or at its review; the protocol allows no extension, more than its
    series at a time or beyond its maximum in all, or the patient's outcome does not allow it
    (a responder, no score since baseline, or no response where the protocol extends partial
    responders only: check_extension); or no series fits the protocol's rules and the site.
    """
    if not by.has_perm("care.prescribe"):
        raise ClinicalValueError("by", "a prescriber extends the series")
    course = Course.objects.select_related("patient__site").get(pk=course.pk)
    if course.status not in _EXTENDABLE:
        raise ClinicalValueError(
            "course",
            "the series is extended during induction or at the post-induction review; the "
            f"course is in {course.get_status_display()}",
        )
    protocol = protocol_for(course)
    visits = list(course.appointments.filter(status__in=OCCUPYING).order_by("starts_at"))
    measures = care_queries.measure_summaries(
        list(course.patient.assessments.all()),
        queries.as_visits(visits),
        protocol=protocol,
        tz=course.patient.site.tz,
        induction_infusions=course.induction_infusions(protocol),
    )
    primary = care_queries.primary_measure(measures, protocol)
    protocols.check_extension(
        protocol,
        outcome=primary.outcome if primary else None,
        infusions=len(visits),
        extra=extra,
    )
    slots = _find_visits(
        course, protocol, [v.starts_at for v in visits], extra=extra, earliest=earliest, now=now
    )
    care.extend_induction(
        course=course,
        to=len(visits) + extra,
        reason=_why(primary),
        by=by,
        at=now,
    )
    chairs = Chair.objects.in_bulk([slot.chair for slot in slots])
    return [
        services.book_visit(
            course=course, chair=chairs[slot.chair], starts_at=slot.start, by=by, now=now
        )
        for slot in slots
    ]


def _why(primary: care_queries.MeasureSummary | None) -> str:
    if primary is None or primary.outcome is None:  # check_extension refused these already
        return "partial or late responder"
    return (
        f"{primary.outcome} on {primary.instrument.short_title} "
        f"({primary.change_percent} % from baseline)"
    )


def _find_visits(
    course: Course,
    protocol: protocols.Protocol,
    starts: list[dt.datetime],
    *,
    extra: int,
    earliest: dt.datetime,
    now: dt.datetime,
) -> tuple[series.Slot, ...]:
    """The earliest `extra` visits after the course's last one under the protocol's series
    rules, the gap from the last visit included (and never under the platform's floor between
    two infusions, series.INFUSION_GAP_FLOOR). When the first new week would hold more than
    the protocol's weekly maximum with the visits already in it, the search starts again the
    next Monday; a gap longer than the protocol's maximum after the last visit is refused."""
    site = course.patient.site
    calendar = services.site_calendar(site)
    gap = max(protocol.series.min_gap, series.INFUSION_GAP_FLOOR)
    start = max([earliest, *(s + gap for s in starts[-1:])])
    rules = dataclasses.replace(protocol.series, count=extra)
    for _ in range(2):
        slots = _plan(course, protocol, rules, start, now=now)
        broken = _broken_at_the_join(protocol, starts, slots, calendar.tz)
        weekly = [b for b in broken if b.rule == series.SeriesRule.MAX_PER_WEEK]
        if not weekly:
            break
        local = slots[0].start.astimezone(calendar.tz).date()
        monday = local + dt.timedelta(days=7 - local.weekday())
        start = max(start, dt.datetime.combine(monday, dt.time.min, tzinfo=calendar.tz))
    if broken:
        whole = dataclasses.replace(protocol.series, count=len(starts) + extra)
        raise ClinicalValueError(
            "extra",
            "the extension breaks the protocol's series rules: "
            + "; ".join(series.wording.rule_break(b, whole, tz=calendar.tz) for b in broken),
        )
    return slots


def _plan(
    course: Course,
    protocol: protocols.Protocol,
    rules: series.SeriesRules,
    start: dt.datetime,
    *,
    now: dt.datetime,
) -> tuple[series.Slot, ...]:
    """The earliest series from `start` within services.HORIZON: the diary (the site's and
    the patient's visits, other schedulers' holds, the staff) is read for the look-ahead
    first, and for the whole horizon only when nothing fits there
    (services.plan_looking_ahead)."""
    site, patient = course.patient.site, course.patient
    calendar = services.site_calendar(site)
    chairs = tuple(series.ChairId(c.pk) for c in staff.chairs_for(site, protocol))

    def plan(horizon: dt.timedelta) -> tuple[series.Slot, ...]:
        end = start + horizon + rules.max_span
        chair_busy, patient_busy = services.busy_between(site, patient, start, end, now=now)
        return series.plan_series(
            rules,
            earliest=start,
            duration=protocol.visit_length,
            calendar=calendar,
            chairs=series.Chairs(order=chairs, busy=chair_busy),
            patient=series.PatientDiary(
                busy=patient_busy, infusions=[visit.start for visit in patient_busy]
            ),
            staff_blocks=staff.staff_blocks(
                site, start, end, phases=protocol.visit_phases, now=now, patient_id=patient.pk
            ),
            horizon=horizon,
        )

    return services.plan_looking_ahead(plan, horizon=services.HORIZON)


def _broken_at_the_join(
    protocol: protocols.Protocol,
    starts: list[dt.datetime],
    slots: tuple[series.Slot, ...],
    tz: zoneinfo.ZoneInfo,
) -> list[series.RuleBreak]:
    """The series rules the visits already booked and the new ones break together, where a
    new visit is involved (the new ones keep the rules among themselves: plan_series). The
    span is the extension's own, so it is not judged across the whole course."""
    combined = [*starts, *(slot.start for slot in slots)]
    whole = dataclasses.replace(
        protocol.series,
        count=len(combined),
        max_span=combined[-1] - combined[0] + protocol.visit_length,
    )
    return [b for b in series.check_series(whole, combined, tz=tz) if max(b.visits) > len(starts)]
