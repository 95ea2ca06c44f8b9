"""The infusion gap floor: two infusions of one patient start at least 24 h apart
(series.INFUSION_GAP_FLOOR), and the planner never offers a visit under it from the patient's
other infusions (their PatientDiary's ``infusions``).

The site is open Monday to Friday 08:00–18:00 (New York); visits take 40 minutes on a
15-minute grid; the search starts on Monday 9 November 2026 at 08:00.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from sustain_core.errors import ClinicalValueError
from sustain_core.series import (
    INFUSION_GAP_FLOOR,
    AlternativeKind,
    Candidate,
    ChairId,
    Chairs,
    Interval,
    OpeningHours,
    PatientDiary,
    SeriesRules,
    SiteCalendar,
    candidate_visits,
    plan_series,
    search_series,
    under_gap_floor,
    wording,
)

pytestmark = pytest.mark.core

NY = ZoneInfo("America/New_York")
CALENDAR = SiteCalendar(
    tz=NY, hours=tuple(OpeningHours(day, dt.time(8), dt.time(18)) for day in range(5))
)
FORTY_MINUTES = dt.timedelta(minutes=40)
A = ChairId(1)


def ny(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """November 2026 in New York (the 9th is a Monday)."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=NY)


def diary(*infusions: dt.datetime) -> PatientDiary:
    """The patient's other visits, 40 minutes each, and their starts as infusions."""
    return PatientDiary(
        busy=[Interval(start=start, end=start + FORTY_MINUTES) for start in infusions],
        infusions=infusions,
    )


def plan(patient: PatientDiary, *, count: int = 1) -> tuple[dt.datetime, ...]:
    slots = plan_series(
        SeriesRules(count=count, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=21)),
        earliest=ny(9, 8),
        duration=FORTY_MINUTES,
        calendar=CALENDAR,
        chairs=Chairs(order=(A,)),
        patient=patient,
    )
    return tuple(slot.start for slot in slots)


def test_the_floor_is_24_hours() -> None:
    assert dt.timedelta(hours=24) == INFUSION_GAP_FLOOR


@pytest.mark.parametrize(
    ("others", "expected"),
    [
        pytest.param([], None, id="no-other-infusion"),
        pytest.param([ny(10, 9)], None, id="exactly-24-h-after"),
        pytest.param([ny(8, 9)], None, id="exactly-24-h-before"),
        pytest.param([ny(10, 8, 59)], ny(10, 8, 59), id="23-h-59-min-after"),
        pytest.param([ny(8, 9, 1)], ny(8, 9, 1), id="23-h-59-min-before"),
        pytest.param([ny(9, 11)], ny(9, 11), id="2-h-after"),
        pytest.param([ny(9, 9)], ny(9, 9), id="the-same-instant"),
        pytest.param([ny(10, 8), ny(8, 10), ny(12, 9)], ny(8, 10), id="the-earliest-of-two"),
        pytest.param(
            [dt.datetime(2026, 11, 10, 13, 59, tzinfo=dt.UTC)],
            dt.datetime(2026, 11, 10, 13, 59, tzinfo=dt.UTC),
            id="in-another-zone",  # 08:59 in New York
        ),
    ],
)
def test_under_gap_floor(others: list[dt.datetime], expected: dt.datetime | None) -> None:
    assert under_gap_floor(ny(9, 9), others) == expected


def test_under_gap_floor_naive_start_rejected() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        under_gap_floor(dt.datetime(2026, 11, 9, 9), [ny(9, 9)])  # noqa: DTZ001 - under test

    assert (raised.value.field, raised.value.message) == (
        "start",
        "start must be a timezone-aware datetime; got naive 2026-11-09T09:00:00",
    )


def test_patient_diary_naive_infusion_rejected() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        PatientDiary(infusions=[dt.datetime(2026, 11, 9, 9)])  # noqa: DTZ001 - under test

    assert (raised.value.field, raised.value.message) == (
        "infusions",
        "infusions must be a timezone-aware datetime; got naive 2026-11-09T09:00:00",
    )


def test_wording_names_the_other_visit_in_the_site_s_zone() -> None:
    other = dt.datetime(2026, 12, 8, 14, 0, tzinfo=dt.UTC)  # 09:00 in New York

    assert wording.under_gap_floor(other, NY) == (
        "infusions of one patient start at least 24 h apart; this patient has a visit at "
        "2026-12-08 09:00"
    )


@pytest.mark.parametrize(
    ("infusions", "expected"),
    [
        pytest.param((), (ny(9, 8),), id="none-first-grid-visit"),
        # Visits of another course this morning: the first one 24 h later, not 23 h 45 min.
        pytest.param((ny(9, 9),), (ny(10, 9),), id="this-morning-exactly-24-h-later"),
        pytest.param((ny(8, 10),), (ny(9, 10),), id="the-day-before-counts-in-the-morning"),
        pytest.param((ny(10, 8),), (ny(9, 8),), id="tomorrow-exactly-24-h-before"),
        # 07:45 on Tuesday keeps all of Monday (23 h 45 min before) and Tuesday.
        pytest.param((ny(10, 7, 45),), (ny(11, 8),), id="tomorrow-early-keeps-two-days"),
    ],
)
def test_plan_series_keeps_the_floor_from_the_patient_s_infusions(
    infusions: tuple[dt.datetime, ...], expected: tuple[dt.datetime, ...]
) -> None:
    assert plan(diary(*infusions)) == expected


def test_plan_series_keeps_the_floor_around_an_infusion_within_the_series() -> None:
    # Visit 2 is due 48 h after Monday 08:00; the patient's infusion on Wednesday at 12:00
    # keeps it to Thursday 12:00.
    assert plan(diary(ny(11, 12)), count=2) == (ny(9, 8), ny(12, 12))


def test_plan_series_floor_without_busy_time_alone() -> None:
    # The starts alone keep the floor (the overlap of the visits is busy time's part).
    assert plan(PatientDiary(infusions=[ny(9, 9)])) == (ny(10, 9),)


@pytest.mark.parametrize(
    ("span_days", "expected"),
    [
        pytest.param(7, (ny(10, 10), ny(12, 10), ny(16, 8)), id="from-24-h-later"),
        # Within 5 days, Tuesday 10:00 → Thursday → Monday is too long: Wednesday 08:45 (the
        # first grid start after Tuesday from which Monday 08:00 ends the series in time).
        pytest.param(5, (ny(11, 8, 45), ny(13, 8, 45), ny(16, 8)), id="within-a-shorter-span"),
    ],
)
def test_search_series_keeps_the_floor(span_days: int, expected: tuple[dt.datetime, ...]) -> None:
    # Without the floor the series is Monday, Wednesday and Friday at 08:00 (2 h before the
    # patient's other visit on Monday at 10:00).
    result = search_series(
        SeriesRules(count=3, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=7)),
        earliest=ny(9, 8),
        duration=FORTY_MINUTES,
        calendar=CALENDAR,
        chairs=Chairs(order=(A,)),
        patient=diary(ny(9, 10)),
        requested_span=dt.timedelta(days=span_days),
    )

    assert tuple(slot.start for slot in result.series or ()) == expected


def test_search_series_alternatives_keep_the_floor() -> None:
    # Chair A, preferred, is taken until Monday 16 November; the patient has a visit on
    # Tuesday 17 at 09:00. Without the floor the later start would begin Tuesday 17 at 08:00.
    b = ChairId(2)
    result = search_series(
        SeriesRules(count=3, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=7)),
        earliest=ny(9, 8),
        duration=FORTY_MINUTES,
        calendar=CALENDAR,
        chairs=Chairs(order=(A, b), busy={A: [Interval(start=ny(9, 8), end=ny(16, 18))]}),
        patient=diary(ny(17, 9)),
        preferred_chair=A,
    )

    assert result.series is None
    assert [
        (alternative.kind, [slot.start for slot in alternative.slots])
        for alternative in result.alternatives
    ] == [
        (AlternativeKind.OTHER_CHAIR, [ny(9, 8), ny(11, 8), ny(13, 8)]),
        (AlternativeKind.LATER_START, [ny(18, 9), ny(20, 9), ny(23, 8)]),
    ]


def test_candidate_visits_leave_out_visits_under_the_floor() -> None:
    candidates = candidate_visits(
        earliest=ny(9, 8),
        until=ny(10, 23),
        duration=FORTY_MINUTES,
        calendar=CALENDAR,
        chairs=Chairs(order=(A,)),
        patient=diary(ny(9, 17)),
        step=dt.timedelta(hours=1),
    )

    # Every Monday visit and Tuesday's until 16:00 start under 24 h from Monday 17:00.
    assert [candidate.start for candidate in candidates] == [ny(10, 17)]
    assert candidates[0] == Candidate(
        start=ny(10, 17), end=ny(10, 17, 40), week=dt.date(2026, 11, 9), chairs=(A,)
    )
