"""The patient page's per-instrument summaries: baseline, outcome, trajectory, chart."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from sustain.care import queries, services
from sustain.scheduling import services as scheduling
from sustain.scheduling.queries import as_visits
from sustain_core import protocols
from sustain_core.outcomes import Outcome, TrajectoryStatus

pytestmark = pytest.mark.db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def phq9(total: int) -> dict[str, int]:
    answers = {str(n): 0 for n in range(1, 10)}
    for n in range(total):
        answers[str(n % 8 + 1)] += 1  # items 1–8 only: item 9 stays 0
    return answers


def test_response_then_confirmed_relapse(pat, ada, ben, sam):
    course = services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    visits = scheduling.book_series(
        course=course,
        earliest=dt.datetime(2026, 11, 2, tzinfo=NEW_YORK),
        by=sam,
        now=dt.datetime(2026, 10, 30, 12, tzinfo=NEW_YORK),  # booked the Friday before
    )
    first = visits[0].starts_at
    last = visits[-1].starts_at + dt.timedelta(minutes=visits[-1].check_in_minutes)  # infusion 6
    timeline = [
        (first - dt.timedelta(hours=1), 20),  # baseline
        (visits[2].starts_at - dt.timedelta(hours=1), 9),  # response before infusion 3
        (last + dt.timedelta(days=14), 15),  # lost response …
        (last + dt.timedelta(days=21), 16),  # … confirmed 7 days later
    ]
    for at, total in timeline:
        services.record_assessment(
            patient=pat, instrument="phq9", answers=phq9(total), timepoint="follow_up", by=ben,
            completed_at=at, now=timezone.now()
        )  # fmt: skip

    [summary] = queries.measure_summaries(
        list(pat.assessments.all()),
        as_visits(visits),
        protocol=protocols.DEPRESSION_INDUCTION_V1,
        tz=NEW_YORK,
    )

    trajectory = summary.trajectory
    assert (summary.baseline.total_score, summary.latest.total_score) == (20, 16)
    assert (summary.outcome, summary.change_percent) == (Outcome.NO_RESPONSE, Decimal("-20.0"))
    assert trajectory.status == TrajectoryStatus.RELAPSED
    assert trajectory.days_to_response == (visits[2].starts_at - first).days - 1
    assert trajectory.days_to_relapse == 14
    assert summary.remission_max == 4
    assert summary.chart.count('class="point"') == 4
