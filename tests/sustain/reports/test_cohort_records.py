"""reports.cohort.course_records on the hand-computed cohort, in a fixed number of queries."""

import datetime as dt
from dataclasses import replace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sustain.accounts.models import Site, User
from sustain.care.enums import CourseStatus
from sustain.care.models import Course
from sustain.reports.cohort import course_records
from tests.core import cohort_cases
from tests.sustain import clinic_builders
from tests.sustain.reports import cohort_db

pytestmark = pytest.mark.db

DAY = dt.timedelta(days=1)


@pytest.fixture
def cohort(north: Site, ada: User, ben: User) -> dict[str, int]:
    return {name: c.pk for name, c in cohort_db.build(north, prescriber=ada, nurse=ben).items()}


def expected(cohort: dict[str, int], north: Site) -> list:
    """The records built by hand, with the database's ids and statuses."""
    found = []
    for case in cohort_cases.CASES:
        rec = cohort_cases.record(case, cohort[case.name])
        found.append(replace(rec, patient_id=rec.patient_id, site_id=north.pk))
    return found


def comparable(records: list) -> list:
    # Patient ids and scores' Decimal places differ from the hand-built values only in form.
    return [
        (
            r.course_id, r.protocol_key, r.instrument, r.infusions, r.induction_count,
            [(o.at, int(o.score)) for o in r.observations],
            r.trajectory.relapse_at if r.trajectory else None,
            r.trajectory.first_response_at if r.trajectory else None,
            r.no_shows, r.booked_visits, r.adverse_events, r.chair_minutes,
            r.last_assessment_at, r.rules, r.relapse_confirmation_days, r.site_id,
        )
        for r in records
    ]  # fmt: skip


def test_course_records_equal_the_hand_built_records(cohort: dict[str, int], north: Site) -> None:
    records = course_records(north, now=cohort_cases.NOW)
    assert comparable(records) == comparable(expected(cohort, north))
    assert [r.status for r in records] == ["maintenance"] * 8
    assert len({r.patient_id for r in records}) == 8


def test_course_records_filter_by_protocol_and_period(cohort: dict[str, int], north: Site) -> None:
    t0 = cohort_cases.T0
    depression = course_records(north, protocol_key="depression-induction", now=cohort_cases.NOW)
    assert [r.course_id for r in depression] == [cohort[n] for n in "ABCDEGH"]
    first_month = course_records(north, since=t0, until=t0 + 30 * DAY, now=cohort_cases.NOW)
    assert [r.course_id for r in first_month] == [cohort[n] for n in "ABCDEFH"]
    # G's first infusion is day 60 at 14:00: in [day 60 14:00, ...), not in [..., 14:00).
    g_start = cohort_cases.CASES[6].instant(0)
    assert [r.course_id for r in course_records(north, since=g_start, now=cohort_cases.NOW)] == [
        cohort["G"]
    ]
    assert course_records(north, until=g_start, since=t0 + 59 * DAY, now=cohort_cases.NOW) == []
    # A's first infusion at 08:00 on day 0: a period from 08:00 + 1 s leaves it out.
    later = course_records(
        north, since=t0 + dt.timedelta(hours=8, seconds=1), until=t0 + DAY, now=cohort_cases.NOW
    )
    assert [r.course_id for r in later] == [cohort[n] for n in "BCDEFH"]


def test_course_records_of_another_site_are_not_read(cohort: dict[str, int], south: Site) -> None:
    assert course_records(south, now=cohort_cases.NOW) == []


def test_course_records_before_anything_was_given(north: Site, ada: User, ben: User) -> None:
    patient = clinic_builders.register(north, ben, "Zed", "Waiting", on=cohort_cases.T0.date())
    course = Course.objects.create(
        patient=patient, protocol_key="depression-induction", protocol_version=1,
        status=CourseStatus.READY, enrolled_at=cohort_cases.T0, enrolled_by=ada,
    )  # fmt: skip
    (record,) = course_records(north, now=cohort_cases.NOW)
    assert (record.course_id, record.infusions, record.trajectory, record.observations) == (
        course.pk,
        (),
        None,
        (),
    )
    assert record.last_assessment_at is None and not record.completed_induction
    assert course_records(north, since=cohort_cases.T0, now=cohort_cases.NOW) == []


def test_course_records_take_a_fixed_number_of_queries(
    cohort: dict[str, int], north: Site, ada: User, ben: User
) -> None:
    with CaptureQueriesContext(connection) as eight:
        assert len(course_records(north, now=cohort_cases.NOW)) == 8
    # Eight more courses (the same cases again, for other patients): the same queries.
    cohort_db.build(north, prescriber=ada, nurse=ben, copy=2)
    with CaptureQueriesContext(connection) as sixteen:
        assert len(course_records(north, now=cohort_cases.NOW)) == 16
    assert len(eight.captured_queries) == len(sixteen.captured_queries) == 5
