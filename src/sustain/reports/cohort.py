"""One record per course, read from the database for the cohort statistics (issue 17).

``course_records`` is the shared data interface of the outcomes page, the relapse forecast and
the simulator's fitted inputs: it maps a site's courses, their visits, scores and adverse
events to ``sustain_core.cohort.CourseRecord`` in a fixed number of queries whatever the number
of courses. It reads patient data but names no patient: callers audit what they show.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Min, Q

from sustain.accounts.models import Site
from sustain.care.models import Assessment, Course
from sustain.care.protocol_versions import protocols_for
from sustain.infusion.enums import AdverseEventSeverity
from sustain.infusion.models import AdverseEvent
from sustain.scheduling import queries as scheduling_queries
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment
from sustain_core import cohort, outcomes, protocols

# An infusion starts after the visit's check-in, which no visit template makes longer than a
# day: courses whose first given visit starts this much before `since` are read and then
# kept or left out on the infusion's own instant.
_CHECK_IN_SLACK = dt.timedelta(days=1)


def course_records(
    site: Site,
    *,
    protocol_key: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime,
) -> list[cohort.CourseRecord]:
    """The site's courses as cohort records, in course order (ids ascending).

    ``protocol_key`` keeps one protocol's courses (every version). The period [``since``,
    ``until``) (aware instants; the caller converts the site's local dates) keeps the courses
    whose first infusion was given in it; with neither bound, every course is kept, those not
    started yet included (no infusions). Given = the visit COMPLETED, and an infusion starts
    after check-in, as ``scheduling.queries.as_visits`` says. ``now`` decides which booked
    visits were due (``CourseRecord.booked_visits``).

    The outcome instrument's scores are the patient's scores of the protocol's instrument
    recorded on this course, or on no course (a baseline taken before enrolment) before the
    patient's next course was enrolled. The induction is the first ``induction_count`` given
    infusions (the protocol's series, or the extension: ``Course.induction_infusions``);
    the trajectory follows ``care.queries.measure_summaries`` (the protocol's outcome rules and
    relapse confirmation days) counting only given infusions.

    Queries: courses, clinic protocol versions (only when a course follows one), visits,
    the patients' other courses, scores and adverse events: six at most.
    """
    courses_qs = Course.objects.filter(patient__site=site).select_related("patient")
    if protocol_key is not None:
        courses_qs = courses_qs.filter(protocol_key=protocol_key)
    if since is not None or until is not None:
        courses_qs = courses_qs.annotate(
            first_visit=Min(
                "appointments__starts_at",
                filter=Q(appointments__status=AppointmentStatus.COMPLETED),
            )
        ).filter(first_visit__isnull=False)
        if since is not None:
            courses_qs = courses_qs.filter(first_visit__gte=since - _CHECK_IN_SLACK)
        if until is not None:
            courses_qs = courses_qs.filter(first_visit__lt=until)
    courses = list(courses_qs.order_by("pk"))
    if not courses:
        return []
    found = protocols_for(courses)
    visits = _visits_by_course(courses)
    scores = _scores_by_course(courses, found)
    events = _adverse_events_by_course(courses)
    records = []
    for course in courses:
        protocol = found[course.pk]
        record = _record(
            course,
            protocol,
            visits[course.pk],
            scores[course.pk],
            events.get(course.pk, cohort.AdverseEventCounts()),
            now=now,
        )
        first = record.first_infusion_at
        if since is not None and (first is None or first < since):
            continue
        if until is not None and (first is None or first >= until):
            continue
        records.append(record)
    return records


def _visits_by_course(courses: list[Course]) -> dict[int, list[Appointment]]:
    by_course: dict[int, list[Appointment]] = {c.pk: [] for c in courses}
    for appointment in Appointment.objects.filter(course__in=courses).order_by("starts_at", "pk"):
        by_course[appointment.course_id].append(appointment)
    return by_course


def _scores_by_course(
    courses: list[Course], found: dict[int, protocols.Protocol]
) -> dict[int, list[Assessment]]:
    """Each course's scores of its protocol's instrument (see ``course_records``)."""
    patient_ids = {c.patient_id for c in courses}
    # The next course of the same patient bounds the scores recorded on no course.
    enrolments: dict[int, list[dt.datetime]] = defaultdict(list)
    for patient_id, enrolled_at in (
        Course.objects.filter(patient_id__in=patient_ids)
        .order_by("enrolled_at")
        .values_list("patient_id", "enrolled_at")
    ):
        enrolments[patient_id].append(enrolled_at)
    instruments = {found[c.pk].instrument for c in courses}
    by_patient: dict[int, list[Assessment]] = defaultdict(list)
    for assessment in Assessment.objects.filter(
        patient_id__in=patient_ids, instrument__in=instruments
    ).order_by("completed_at", "pk"):
        by_patient[assessment.patient_id].append(assessment)
    by_course: dict[int, list[Assessment]] = {}
    for course in courses:
        instrument = found[course.pk].instrument
        later = [at for at in enrolments[course.patient_id] if at > course.enrolled_at]
        bound = later[0] if later else None
        by_course[course.pk] = [
            a
            for a in by_patient[course.patient_id]
            if a.instrument == instrument
            and (
                a.course_id == course.pk
                or (a.course_id is None and (bound is None or a.completed_at < bound))
            )
        ]
    return by_course


def _adverse_events_by_course(courses: list[Course]) -> dict[int, cohort.AdverseEventCounts]:
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for course_id, severity, serious in AdverseEvent.objects.filter(
        infusion__course__in=courses
    ).values_list("infusion__course_id", "severity", "serious"):
        counts[course_id][severity] += 1
        counts[course_id]["serious"] += int(serious)
    return {
        course_id: cohort.AdverseEventCounts(
            mild=c[AdverseEventSeverity.MILD],
            moderate=c[AdverseEventSeverity.MODERATE],
            severe=c[AdverseEventSeverity.SEVERE],
            serious=c["serious"],
        )
        for course_id, c in counts.items()
    }


def _record(
    course: Course,
    protocol: protocols.Protocol,
    appointments: list[Appointment],
    scores: Iterable[Assessment],
    adverse: cohort.AdverseEventCounts,
    *,
    now: dt.datetime,
) -> cohort.CourseRecord:
    visits = scheduling_queries.as_visits(appointments)
    infusions = tuple(v.infusion_at for v in visits if v.given)
    given = [a for a in appointments if a.status == AppointmentStatus.COMPLETED]
    induction_count = course.induction_infusions(protocol)
    observations = tuple(
        outcomes.Observation(at=a.completed_at, score=a.total_score) for a in scores
    )
    rules = protocol.outcome_rules(protocol.instrument)
    trajectory = None
    if rules is not None and infusions:
        trajectory = outcomes.assess_trajectory(
            rules,
            observations,
            first_infusion_at=infusions[0],
            last_induction_infusion_at=(
                infusions[induction_count - 1] if len(infusions) >= induction_count else None
            ),
            relapse_confirmation_days=protocol.relapse_confirmation_days,
        )
    return cohort.CourseRecord(
        course_id=course.pk,
        patient_id=course.patient_id,
        site_id=course.patient.site_id,
        protocol_key=course.protocol_key,
        protocol_version=course.protocol_version,
        status=course.status,
        instrument=protocol.instrument,
        rules=rules,
        relapse_confirmation_days=protocol.relapse_confirmation_days,
        enrolled_at=course.enrolled_at,
        infusions=infusions,
        induction_count=induction_count,
        observations=observations,
        trajectory=trajectory,
        no_shows=sum(1 for a in appointments if a.status == AppointmentStatus.NO_SHOW),
        booked_visits=sum(
            1 for a in appointments if a.status != AppointmentStatus.CANCELLED and a.starts_at < now
        ),
        adverse_events=adverse,
        chair_minutes=sum(int((a.ends_at - a.starts_at) / dt.timedelta(minutes=1)) for a in given),
        last_assessment_at=observations[-1].at if observations else None,
    )
