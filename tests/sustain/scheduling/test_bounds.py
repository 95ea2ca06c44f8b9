"""TST-03: the scheduling services bound what they are asked (every path: API, pages, CLI):
a visit, move or series within PLANNING_HORIZON, a requested span of 1..MAX_SPAN_DAYS, an
absence of at most MAX_ABSENCE_DAYS dates within sustain.accounts.bounds. Refusals are plain
OutOfRange messages naming the field; nothing is saved."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from sustain.care import services as care_services
from sustain.scheduling import services
from sustain.scheduling.models import Appointment
from sustain_core import series
from sustain_core.errors import OutOfRange

NEW_YORK = dt.timezone(dt.timedelta(hours=-5))


def enrol(patient, prescriber):
    return care_services.enrol_patient(
        patient=patient, protocol_key="depression-induction", protocol_version=1,
        by=prescriber, now=timezone.now(),
    )  # fmt: skip


def far(days: int) -> dt.datetime:
    return timezone.now().replace(hour=14, minute=0, second=0, microsecond=0) + dt.timedelta(
        days=days
    )


def test_a_series_beyond_the_planning_horizon_is_refused_before_any_search(pat, ada, sam):
    course = enrol(pat, ada)
    beyond = far(services.PLANNING_HORIZON.days + 1)
    with pytest.raises(OutOfRange) as refused:
        services.book_series(course=course, earliest=beyond, by=sam, now=timezone.now())
    assert refused.value.field == "first_day"
    assert "must be within 732 days from today" in refused.value.message
    with pytest.raises(OutOfRange):
        services.propose_series(
            course=course, request=services.SeriesRequest(earliest=beyond), now=timezone.now()
        )
    assert not Appointment.objects.exists()


def test_a_visit_or_move_beyond_the_horizon_is_refused(north, pat, ada, sam):
    course = enrol(pat, ada)
    chair = north.chairs.first()
    with pytest.raises(OutOfRange) as refused:
        services.book_visit(
            course=course, chair=chair, starts_at=far(800), by=sam, now=timezone.now()
        )
    assert refused.value.field == "starts_at"
    visit = services.book_series(course=course, earliest=far(3), by=sam, now=timezone.now())[0]
    with pytest.raises(OutOfRange):
        services.reschedule_visit(
            appointment=visit, starts_at=far(5000), by=sam, now=timezone.now()
        )
    visit.refresh_from_db()
    assert visit.starts_at < far(30)


@pytest.mark.parametrize("days", [0, services.MAX_SPAN_DAYS + 1, 10**6])
def test_a_requested_span_is_bounded(days):
    with pytest.raises(OutOfRange) as refused:
        services.SeriesRequest(earliest=far(1), requested_span=dt.timedelta(days=days))
    assert refused.value.field == "span_days"


def test_an_absence_is_bounded_before_its_dates_are_built():
    started = time.perf_counter()
    with pytest.raises(OutOfRange) as refused:
        services.away_dates(dt.date(2026, 12, 1), dt.date(2199, 12, 31))
    assert time.perf_counter() - started < 0.1
    assert refused.value.field == "away_until"
    with pytest.raises(OutOfRange):
        services.away_dates(dt.date(1, 1, 1), dt.date(2026, 12, 1))
    assert len(services.away_dates(dt.date(2026, 12, 1), dt.date(2027, 11, 30))) == 365
    away = frozenset(dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(400))
    with pytest.raises(OutOfRange):
        services.SeriesRequest(
            earliest=far(1), availability=series.Availability(blackout_dates=away)
        )


def test_a_search_within_the_bounds_stays_quick(pat, ada):
    """The longest absence and span allowed still search in well under a second."""
    course = enrol(pat, ada)
    request = services.SeriesRequest(
        earliest=far(1),
        availability=series.Availability(
            blackout_dates=services.away_dates(far(400).date(), far(765).date())
        ),
        requested_span=dt.timedelta(days=21),  # the protocol's own span
    )
    started = time.perf_counter()
    result = services.propose_series(course=course, request=request, now=timezone.now())
    assert time.perf_counter() - started < 2
    assert result.series is not None
