import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import pytest

from sustain_core.errors import ClinicalValueError, NoSeriesFound, OutOfRange, OutsideOpeningHours
from sustain_core.series import (
    Interval,
    OpeningHours,
    Slot,
    check_within_opening_hours,
    plan_series,
)

pytestmark = pytest.mark.core

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
MON_TO_FRI_8_TO_18 = tuple(OpeningHours(day, dt.time(8), dt.time(18)) for day in range(5))
EVERY_DAY_8_TO_18 = tuple(OpeningHours(day, dt.time(8), dt.time(18)) for day in range(7))
FORTY_MINUTES = dt.timedelta(minutes=40)


def ny(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=NY)


def utc(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


MONDAY_9_NOV_8AM = ny(11, 9, 8)


def busy(start: dt.datetime, end: dt.datetime) -> Interval:
    return Interval(start=start, end=end)


def plan(
    *,
    count: int = 6,
    min_gap: dt.timedelta = dt.timedelta(hours=48),
    max_span: dt.timedelta = dt.timedelta(days=21),
    duration: dt.timedelta = FORTY_MINUTES,
    earliest: dt.datetime = MONDAY_9_NOV_8AM,
    hours: Sequence[OpeningHours] = MON_TO_FRI_8_TO_18,
    closed_dates: frozenset[dt.date] = frozenset(),
    chairs: Sequence[str] = ("A",),
    chair_busy: Mapping[str, Sequence[Interval]] | None = None,
    patient_busy: Sequence[Interval] = (),
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(days=60),
) -> tuple[Slot, ...]:
    return plan_series(
        count=count,
        min_gap=min_gap,
        max_span=max_span,
        duration=duration,
        earliest=earliest,
        tz=NY,
        hours=hours,
        closed_dates=closed_dates,
        chairs=chairs,
        chair_busy=chair_busy or {},
        patient_busy=patient_busy,
        step=step,
        horizon=horizon,
    )


def visits(*slots: tuple[str, dt.datetime]) -> tuple[Slot, ...]:
    """Build expected 40-minute slots from (chair, local start) pairs."""
    return tuple(
        Slot(chair=chair, start=start.astimezone(UTC), end=(start + FORTY_MINUTES).astimezone(UTC))
        for chair, start in slots
    )


# -- plan_series -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param(
            {},
            visits(
                ("A", ny(11, 9, 8)),
                ("A", ny(11, 11, 8)),
                ("A", ny(11, 13, 8)),
                ("A", ny(11, 16, 8)),
                ("A", ny(11, 18, 8)),
                ("A", ny(11, 20, 8)),
            ),
            id="plain-weeks-mon-wed-fri",
        ),
        pytest.param(
            {"earliest": ny(11, 9, 7, 52)},
            visits(
                ("A", ny(11, 9, 8)),
                ("A", ny(11, 11, 8)),
                ("A", ny(11, 13, 8)),
                ("A", ny(11, 16, 8)),
                ("A", ny(11, 18, 8)),
                ("A", ny(11, 20, 8)),
            ),
            id="earliest-before-opening",
        ),
        pytest.param(
            {"earliest": ny(11, 9, 8, 5)},
            visits(
                ("A", ny(11, 9, 8, 15)),
                ("A", ny(11, 11, 8, 15)),
                ("A", ny(11, 13, 8, 15)),
                ("A", ny(11, 16, 8)),
                ("A", ny(11, 18, 8)),
                ("A", ny(11, 20, 8)),
            ),
            id="earliest-off-grid-rounds-up-to-next-step",
        ),
        pytest.param(
            {"closed_dates": frozenset({dt.date(2026, 11, 11)})},
            visits(
                ("A", ny(11, 9, 8)),
                ("A", ny(11, 12, 8)),
                ("A", ny(11, 16, 8)),
                ("A", ny(11, 18, 8)),
                ("A", ny(11, 20, 8)),
                ("A", ny(11, 23, 8)),
            ),
            id="closed-day-skipped",
        ),
        pytest.param(
            {
                "chairs": ("A", "B"),
                "chair_busy": {
                    "A": [
                        busy(ny(11, 11, 7), ny(11, 11, 9)),
                        busy(ny(11, 11, 8, 30), ny(11, 11, 12)),
                        busy(ny(11, 11, 9), ny(11, 11, 10)),
                    ]
                },
            },
            visits(
                ("A", ny(11, 9, 8)),
                ("B", ny(11, 11, 8)),
                ("A", ny(11, 13, 8)),
                ("A", ny(11, 16, 8)),
                ("A", ny(11, 18, 8)),
                ("A", ny(11, 20, 8)),
            ),
            id="busy-chair-moves-visit-to-next-chair",
        ),
        pytest.param(
            {"chair_busy": {"A": [busy(ny(11, 11, 8, 30), ny(11, 11, 9))]}},
            visits(
                ("A", ny(11, 9, 8)),
                ("A", ny(11, 11, 9)),
                ("A", ny(11, 13, 9)),
                ("A", ny(11, 16, 8)),
                ("A", ny(11, 18, 8)),
                ("A", ny(11, 20, 8)),
            ),
            id="only-chair-busy-moves-visit-later",
        ),
        pytest.param(
            {"patient_busy": [busy(ny(11, 11, 8), ny(11, 11, 10))]},
            visits(
                ("A", ny(11, 9, 8)),
                ("A", ny(11, 11, 10)),
                ("A", ny(11, 13, 10)),
                ("A", ny(11, 16, 8)),
                ("A", ny(11, 18, 8)),
                ("A", ny(11, 20, 8)),
            ),
            id="patient-busy-interval-respected",
        ),
        pytest.param(
            {"patient_busy": [busy(ny(11, 9, 7), ny(11, 9, 8))]},
            visits(
                ("A", ny(11, 9, 8)),
                ("A", ny(11, 11, 8)),
                ("A", ny(11, 13, 8)),
                ("A", ny(11, 16, 8)),
                ("A", ny(11, 18, 8)),
                ("A", ny(11, 20, 8)),
            ),
            id="patient-busy-ending-at-start-does-not-overlap",
        ),
        pytest.param(
            # Friday 08:00 → Monday 08:40 spans 3 days 40 min; Friday 08:45 is the first that fits.
            {"earliest": ny(11, 13, 8), "count": 2, "max_span": dt.timedelta(days=3)},
            visits(("A", ny(11, 13, 8, 45)), ("A", ny(11, 16, 8))),
            id="first-start-moves-until-series-fits-span",
        ),
        pytest.param(
            {"count": 1},
            visits(("A", ny(11, 9, 8))),
            id="single-visit",
        ),
        pytest.param(
            {"count": 3, "min_gap": dt.timedelta(0)},
            visits(("A", ny(11, 9, 8)), ("A", ny(11, 9, 8, 45)), ("A", ny(11, 9, 9, 30))),
            id="zero-gap-visits-never-overlap",
        ),
        pytest.param(
            {
                "count": 2,
                "hours": (
                    OpeningHours(0, dt.time(13), dt.time(18)),
                    OpeningHours(0, dt.time(8), dt.time(12)),
                ),
                "patient_busy": [busy(ny(11, 9, 8), ny(11, 9, 11, 30))],
                "min_gap": dt.timedelta(hours=1),
            },
            visits(("A", ny(11, 9, 13)), ("A", ny(11, 9, 14))),
            id="split-day-visit-not-across-lunch",
        ),
    ],
)
def test_plan_series_table(kwargs: dict[str, object], expected: tuple[Slot, ...]) -> None:
    assert plan(**kwargs) == expected  # type: ignore[arg-type]


def test_plan_series_dst_week_keeps_local_wall_time() -> None:
    # New York falls back on Sunday 2026-11-01: 08:00 is 12:00 UTC before, 13:00 UTC after.
    slots = plan(earliest=ny(10, 28, 8))

    assert [slot.start for slot in slots] == [
        utc(10, 28, 12),
        utc(10, 30, 12),
        utc(11, 2, 13),
        utc(11, 4, 13),
        utc(11, 6, 13),
        utc(11, 9, 13),
    ]
    assert {slot.start.astimezone(NY).time() for slot in slots} == {dt.time(8)}
    gaps = [later.start - earlier.start for earlier, later in itertools.pairwise(slots)]
    # Friday 08:00 EDT to Monday 08:00 EST is 73 h of real time.
    assert gaps == [dt.timedelta(hours=h) for h in (48, 73, 48, 48, 72)]


def test_plan_series_dst_gap_is_measured_in_real_time() -> None:
    # Saturday 17:00 EDT + 48 h real time is Monday 16:00 EST, not 17:00 wall time.
    slots = plan(count=2, earliest=ny(10, 31, 17), hours=EVERY_DAY_8_TO_18)

    assert slots == visits(("A", ny(10, 31, 17)), ("A", ny(11, 2, 16)))
    assert slots[1].start - slots[0].start == dt.timedelta(hours=48)


def test_plan_series_skips_wall_times_missing_at_spring_forward() -> None:
    # On 2026-03-08 New York skips 02:00–03:00; grid times 02:15 and 02:40 do not exist.
    slots = plan(
        count=1,
        duration=dt.timedelta(minutes=15),
        earliest=ny(3, 8, 1),
        hours=(OpeningHours(6, dt.time(1), dt.time(5)),),
        step=dt.timedelta(minutes=25),
        patient_busy=[busy(ny(3, 8, 0), ny(3, 8, 3, 10))],
    )

    assert slots == (Slot(chair="A", start=utc(3, 8, 7, 30), end=utc(3, 8, 7, 45)),)
    assert slots[0].start.astimezone(NY).time() == dt.time(3, 30)


def test_plan_series_busy_clinic_finds_the_free_chair() -> None:
    # Six chairs, 100 busy blocks each: A–E are free for 10 minutes in every 2 hours, F for 1 h.
    chairs = ("A", "B", "C", "D", "E", "F")
    weekdays = [dt.date(2026, 11, 9) + dt.timedelta(days=d) for d in range(28)]
    weekdays = [day for day in weekdays if day.weekday() < 5]
    block = {chair: dt.timedelta(hours=1, minutes=50) for chair in chairs[:5]}
    block["F"] = dt.timedelta(hours=1)
    chair_busy = {
        chair: [
            busy(start, start + block[chair])
            for day in weekdays
            for start in (dt.datetime.combine(day, dt.time(8 + 2 * j), NY) for j in range(5))
        ]
        for chair in chairs
    }

    slots = plan(chairs=chairs, chair_busy=chair_busy)

    assert [len(chair_busy[chair]) for chair in chairs] == [100] * 6
    assert slots == visits(
        ("F", ny(11, 9, 9)),
        ("F", ny(11, 11, 9)),
        ("F", ny(11, 13, 9)),
        ("F", ny(11, 16, 9)),
        ("F", ny(11, 18, 9)),
        ("F", ny(11, 20, 9)),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"max_span": dt.timedelta(days=7)},
            "no 6-visit series fits between 2026-11-09 and 2027-01-08: each visit takes 40 min "
            "in a free chair within opening hours, starts at least 2 days after the previous one, "
            "and the series ends within 7 days of its first start",
            id="span-too-short",
        ),
        pytest.param(
            {"count": 2, "min_gap": dt.timedelta(days=30)},
            "no 2-visit series fits between 2026-11-09 and 2027-01-08: each visit takes 40 min "
            "in a free chair within opening hours, starts at least 30 days after the previous "
            "one, and the series ends within 21 days of its first start",
            id="gap-longer-than-span",
        ),
        pytest.param(
            {"count": 4, "min_gap": dt.timedelta(hours=36), "max_span": dt.timedelta(days=3)},
            "no 4-visit series fits between 2026-11-09 and 2027-01-08: each visit takes 40 min "
            "in a free chair within opening hours, starts at least 36 h after the previous one, "
            "and the series ends within 3 days of its first start",
            id="gaps-add-up-beyond-span",
        ),
        pytest.param(
            {"hours": (), "duration": dt.timedelta(minutes=45, seconds=30)},
            "no 6-visit series fits between 2026-11-09 and 2027-01-08: each visit takes 45.5 min "
            "in a free chair within opening hours, starts at least 2 days after the previous one, "
            "and the series ends within 21 days of its first start",
            id="no-opening-hours",
        ),
        pytest.param(
            {"chair_busy": {"A": [busy(ny(11, 1, 0), ny(12, 31, 0))]}, "horizon": dt.timedelta(1)},
            "no 6-visit series fits between 2026-11-09 and 2026-11-10: each visit takes 40 min "
            "in a free chair within opening hours, starts at least 2 days after the previous one, "
            "and the series ends within 21 days of its first start",
            id="chair-always-busy",
        ),
    ],
)
def test_plan_series_impossible_raises_no_series_found(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(NoSeriesFound) as raised:
        plan(**kwargs)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == ("start", message)


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "message"),
    [
        pytest.param(
            {"count": 0},
            OutOfRange,
            "count",
            "count must be a whole number of visits, at least 1; got 0",
            id="count-0",
        ),
        pytest.param(
            {"count": True},
            OutOfRange,
            "count",
            "count must be a whole number of visits, at least 1; got True",
            id="count-bool",
        ),
        pytest.param(
            {"duration": dt.timedelta(0)},
            OutOfRange,
            "duration",
            "duration must be longer than 0; got 0:00:00",
            id="duration-0",
        ),
        pytest.param(
            {"step": dt.timedelta(minutes=-15)},
            OutOfRange,
            "step",
            "step must be longer than 0; got -1 day, 23:45:00",
            id="step-negative",
        ),
        pytest.param(
            {"horizon": dt.timedelta(0)},
            OutOfRange,
            "horizon",
            "horizon must be longer than 0; got 0:00:00",
            id="horizon-0",
        ),
        pytest.param(
            {"min_gap": dt.timedelta(hours=-1)},
            OutOfRange,
            "min_gap",
            "min_gap must be 0 or longer; got -1 day, 23:00:00",
            id="min-gap-negative",
        ),
        pytest.param(
            {"max_span": dt.timedelta(minutes=30)},
            OutOfRange,
            "max_span",
            "max_span must be at least the visit duration 0:40:00; got 0:30:00",
            id="span-shorter-than-visit",
        ),
        pytest.param(
            {"earliest": dt.datetime(2026, 11, 9, 8)},  # noqa: DTZ001 - naive on purpose
            ClinicalValueError,
            "earliest",
            "earliest must be a timezone-aware datetime; got naive 2026-11-09T08:00:00",
            id="earliest-naive",
        ),
        pytest.param(
            {"chairs": ()},
            ClinicalValueError,
            "chairs",
            "at least one chair is needed; got none",
            id="no-chairs",
        ),
    ],
)
def test_plan_series_invalid_input_rejected(
    kwargs: dict[str, object], error: type[ClinicalValueError], field: str, message: str
) -> None:
    with pytest.raises(error) as raised:
        plan(**kwargs)  # type: ignore[arg-type]

    assert (type(raised.value), raised.value.field, raised.value.message) == (error, field, message)


# -- check_within_opening_hours ----------------------------------------------------------------

TUESDAY = (2026, 12, 1)
LUNCH_BREAK = (
    OpeningHours(1, dt.time(13), dt.time(18)),
    OpeningHours(1, dt.time(8), dt.time(12)),
)


def check(
    start: dt.datetime,
    end: dt.datetime,
    hours: Sequence[OpeningHours] = MON_TO_FRI_8_TO_18,
) -> None:
    check_within_opening_hours(
        start=start,
        end=end,
        tz=NY,
        hours=hours,
        closed_dates={dt.date(2026, 11, 26)},
    )


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        pytest.param(ny(12, 1, 8), ny(12, 1, 8, 40), MON_TO_FRI_8_TO_18, id="exactly-at-open"),
        pytest.param(ny(12, 1, 17, 20), ny(12, 1, 18), MON_TO_FRI_8_TO_18, id="ends-at-close"),
        pytest.param(utc(12, 1, 13), utc(12, 1, 13, 40), MON_TO_FRI_8_TO_18, id="utc-instants"),
        pytest.param(ny(12, 1, 13), ny(12, 1, 13, 40), LUNCH_BREAK, id="second-row"),
    ],
)
def test_check_within_opening_hours_accepts(
    start: dt.datetime, end: dt.datetime, hours: Sequence[OpeningHours]
) -> None:
    check(start, end, hours)  # does not raise


@pytest.mark.parametrize(
    ("start", "end", "hours", "message"),
    [
        pytest.param(
            ny(12, 1, 7),
            ny(12, 1, 7, 40),
            MON_TO_FRI_8_TO_18,
            "Tuesday 2026-12-01 opens 08:00–18:00; 07:00–07:40 is outside",
            id="before-opening",
        ),
        pytest.param(
            ny(12, 1, 17, 30),
            ny(12, 1, 18, 10),
            MON_TO_FRI_8_TO_18,
            "Tuesday 2026-12-01 opens 08:00–18:00; 17:30–18:10 is outside",
            id="crosses-closing",
        ),
        pytest.param(
            ny(12, 1, 17, 30),
            ny(12, 2, 9),
            MON_TO_FRI_8_TO_18,
            "Tuesday 2026-12-01 opens 08:00–18:00; 17:30–09:00 is outside",
            id="crosses-midnight",
        ),
        pytest.param(
            ny(12, 1, 11, 40),
            ny(12, 1, 12, 20),
            LUNCH_BREAK,
            "Tuesday 2026-12-01 opens 08:00–12:00, 13:00–18:00; 11:40–12:20 is outside",
            id="across-lunch-break",
        ),
        pytest.param(
            ny(11, 29, 9),
            ny(11, 29, 9, 40),
            MON_TO_FRI_8_TO_18,
            "the site is closed on Sunday 2026-11-29 (no opening hours that weekday)",
            id="sunday",
        ),
        pytest.param(
            ny(11, 26, 9),
            ny(11, 26, 9, 40),
            MON_TO_FRI_8_TO_18,
            "the site is closed on Thursday 2026-11-26 (closed date)",
            id="closed-date",
        ),
    ],
)
def test_check_within_opening_hours_rejects(
    start: dt.datetime, end: dt.datetime, hours: Sequence[OpeningHours], message: str
) -> None:
    with pytest.raises(OutsideOpeningHours) as raised:
        check(start, end, hours)

    assert (raised.value.field, raised.value.message) == ("start", message)


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        pytest.param(
            dt.datetime(*TUESDAY, 8),  # noqa: DTZ001 - naive on purpose
            ny(12, 1, 8, 40),
            "start",
            "start must be a timezone-aware datetime; got naive 2026-12-01T08:00:00",
            id="naive-start",
        ),
        pytest.param(
            ny(12, 1, 8),
            dt.datetime(*TUESDAY, 8, 40),  # noqa: DTZ001 - naive on purpose
            "end",
            "end must be a timezone-aware datetime; got naive 2026-12-01T08:40:00",
            id="naive-end",
        ),
        pytest.param(
            ny(12, 1, 8),
            ny(12, 1, 8),
            "end",
            "end must be after start 2026-12-01 08:00:00-05:00; got 2026-12-01 08:00:00-05:00",
            id="empty-visit",
        ),
    ],
)
def test_check_within_opening_hours_invalid_input_rejected(
    start: dt.datetime, end: dt.datetime, field: str, message: str
) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        check(start, end)

    assert (type(raised.value), raised.value.field, raised.value.message) == (
        ClinicalValueError,
        field,
        message,
    )


# -- value objects ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        pytest.param(busy(ny(12, 1, 7), ny(12, 1, 8)), False, id="touching-before"),
        pytest.param(busy(ny(12, 1, 9), ny(12, 1, 10)), False, id="touching-after"),
        pytest.param(busy(ny(12, 1, 10), ny(12, 1, 11)), False, id="disjoint"),
        pytest.param(busy(ny(12, 1, 8, 59), ny(12, 1, 10)), True, id="overlaps-end"),
        pytest.param(busy(ny(12, 1, 8, 15), ny(12, 1, 8, 30)), True, id="contained"),
        pytest.param(busy(utc(12, 1, 13), utc(12, 1, 13, 1)), True, id="same-instant-other-zone"),
    ],
)
def test_interval_overlaps_half_open(other: Interval, expected: bool) -> None:
    interval = busy(ny(12, 1, 8), ny(12, 1, 9))

    assert (interval.overlaps(other), other.overlaps(interval)) == (expected, expected)


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        pytest.param(
            dt.datetime(*TUESDAY, 8),  # noqa: DTZ001 - naive on purpose
            ny(12, 1, 9),
            "start",
            "start must be a timezone-aware datetime; got naive 2026-12-01T08:00:00",
            id="naive-start",
        ),
        pytest.param(
            ny(12, 1, 9),
            ny(12, 1, 8),
            "end",
            "end must be after start 2026-12-01 09:00:00-05:00; got 2026-12-01 08:00:00-05:00",
            id="end-before-start",
        ),
    ],
)
def test_interval_invalid_rejected(
    start: dt.datetime, end: dt.datetime, field: str, message: str
) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        Interval(start=start, end=end)

    assert (raised.value.field, raised.value.message) == (field, message)


@pytest.mark.parametrize(
    ("weekday", "opens", "closes", "field", "message"),
    [
        pytest.param(
            7,
            dt.time(8),
            dt.time(18),
            "weekday",
            "weekday must be 0 (Monday) to 6 (Sunday); got 7",
            id="weekday-7",
        ),
        pytest.param(
            0,
            dt.time(18),
            dt.time(8),
            "closes",
            "closing time must be after the opening time 18:00; got 08:00",
            id="closes-before-opens",
        ),
        pytest.param(
            0,
            dt.time(8),
            dt.time(8),
            "closes",
            "closing time must be after the opening time 08:00; got 08:00",
            id="closes-at-opening",
        ),
    ],
)
def test_opening_hours_invalid_rejected(
    weekday: int, opens: dt.time, closes: dt.time, field: str, message: str
) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        OpeningHours(weekday=weekday, opens=opens, closes=closes)

    assert (raised.value.field, raised.value.message) == (field, message)
