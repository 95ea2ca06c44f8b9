import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import pytest

from sustain_core.errors import ClinicalValueError, NoSeriesFound, OutOfRange, OutsideOpeningHours
from sustain_core.series import (
    ChairId,
    Chairs,
    Interval,
    OpeningHours,
    PatientDiary,
    RuleBreak,
    SeriesRule,
    SeriesRules,
    SiteCalendar,
    Slot,
    check_series,
    check_within_opening_hours,
    plan_series,
    plan_series_dates,
)
from sustain_core.series.wording import rule_break

pytestmark = pytest.mark.core

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
MON_TO_FRI_8_TO_18 = tuple(OpeningHours(day, dt.time(8), dt.time(18)) for day in range(5))
EVERY_DAY_8_TO_18 = tuple(OpeningHours(day, dt.time(8), dt.time(18)) for day in range(7))
FORTY_MINUTES = dt.timedelta(minutes=40)
A, B, C, D, E, F = (ChairId(number) for number in range(1, 7))


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
    chairs: Sequence[ChairId] = (A,),
    chair_busy: Mapping[ChairId, Sequence[Interval]] | None = None,
    patient_busy: Sequence[Interval] = (),
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(days=60),
    max_gap: dt.timedelta | None = None,
    weekdays: frozenset[int] | None = None,
    max_per_week: int | None = None,
) -> tuple[Slot, ...]:
    return plan_series(
        SeriesRules(
            count=count,
            min_gap=min_gap,
            max_span=max_span,
            max_gap=max_gap,
            weekdays=weekdays,
            max_per_week=max_per_week,
        ),
        earliest=earliest,
        duration=duration,
        calendar=SiteCalendar(tz=NY, hours=tuple(hours), closed_dates=closed_dates),
        chairs=Chairs(order=tuple(chairs), busy=chair_busy or {}),
        patient=PatientDiary(busy=patient_busy),
        step=step,
        horizon=horizon,
    )


def visits(*slots: tuple[ChairId, dt.datetime]) -> tuple[Slot, ...]:
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
                (A, ny(11, 9, 8)),
                (A, ny(11, 11, 8)),
                (A, ny(11, 13, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
            ),
            id="plain-weeks-mon-wed-fri",
        ),
        pytest.param(
            {"earliest": ny(11, 9, 7, 52)},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 11, 8)),
                (A, ny(11, 13, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
            ),
            id="earliest-before-opening",
        ),
        pytest.param(
            {"earliest": ny(11, 9, 8, 5)},
            visits(
                (A, ny(11, 9, 8, 15)),
                (A, ny(11, 11, 8, 15)),
                (A, ny(11, 13, 8, 15)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
            ),
            id="earliest-off-grid-rounds-up-to-next-step",
        ),
        pytest.param(
            {"closed_dates": frozenset({dt.date(2026, 11, 11)})},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 12, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
                (A, ny(11, 23, 8)),
            ),
            id="closed-day-skipped",
        ),
        pytest.param(
            {
                "chairs": (A, B),
                "chair_busy": {
                    A: [
                        busy(ny(11, 11, 7), ny(11, 11, 9)),
                        busy(ny(11, 11, 8, 30), ny(11, 11, 12)),
                        busy(ny(11, 11, 9), ny(11, 11, 10)),
                    ]
                },
            },
            visits(
                (A, ny(11, 9, 8)),
                (B, ny(11, 11, 8)),
                (A, ny(11, 13, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
            ),
            id="busy-chair-moves-visit-to-next-chair",
        ),
        pytest.param(
            {"chair_busy": {A: [busy(ny(11, 11, 8, 30), ny(11, 11, 9))]}},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 11, 9)),
                (A, ny(11, 13, 9)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
            ),
            id="only-chair-busy-moves-visit-later",
        ),
        pytest.param(
            {"patient_busy": [busy(ny(11, 11, 8), ny(11, 11, 10))]},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 11, 10)),
                (A, ny(11, 13, 10)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
            ),
            id="patient-busy-interval-respected",
        ),
        pytest.param(
            {"patient_busy": [busy(ny(11, 9, 7), ny(11, 9, 8))]},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 11, 8)),
                (A, ny(11, 13, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
            ),
            id="patient-busy-ending-at-start-does-not-overlap",
        ),
        pytest.param(
            # Friday 08:00 → Monday 08:40 spans 3 days 40 min; Friday 08:45 is the first that fits.
            {"earliest": ny(11, 13, 8), "count": 2, "max_span": dt.timedelta(days=3)},
            visits((A, ny(11, 13, 8, 45)), (A, ny(11, 16, 8))),
            id="first-start-moves-until-series-fits-span",
        ),
        pytest.param(
            {"count": 1},
            visits((A, ny(11, 9, 8))),
            id="single-visit",
        ),
        pytest.param(
            {"count": 3, "min_gap": dt.timedelta(0)},
            visits((A, ny(11, 9, 8)), (A, ny(11, 9, 8, 45)), (A, ny(11, 9, 9, 30))),
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
            visits((A, ny(11, 9, 13)), (A, ny(11, 9, 14))),
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

    assert slots == visits((A, ny(10, 31, 17)), (A, ny(11, 2, 16)))
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

    assert slots == (Slot(chair=A, start=utc(3, 8, 7, 30), end=utc(3, 8, 7, 45)),)
    assert slots[0].start.astimezone(NY).time() == dt.time(3, 30)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="no-weekday-rules"),
        pytest.param({"weekdays": frozenset({0, 2, 4})}, id="weekdays-mon-wed-fri"),
        pytest.param(
            {
                "weekdays": frozenset({0, 2, 4}),
                "max_per_week": 3,
                "max_gap": dt.timedelta(hours=96),
            },
            id="weekdays-weekly-maximum-and-max-gap",
        ),
    ],
)
def test_plan_series_busy_clinic_finds_the_free_chair(extra: dict[str, object]) -> None:
    # Six chairs, 100 busy blocks each: A–E are free for 10 minutes in every 2 hours, F for 1 h.
    # This is also the speed check: it runs in a few milliseconds inside a booking transaction.
    chairs = (A, B, C, D, E, F)
    weekdays = [dt.date(2026, 11, 9) + dt.timedelta(days=d) for d in range(28)]
    weekdays = [day for day in weekdays if day.weekday() < 5]
    block = {chair: dt.timedelta(hours=1, minutes=50) for chair in chairs[:5]}
    block[F] = dt.timedelta(hours=1)
    chair_busy = {
        chair: [
            busy(start, start + block[chair])
            for day in weekdays
            for start in (dt.datetime.combine(day, dt.time(8 + 2 * j), NY) for j in range(5))
        ]
        for chair in chairs
    }

    slots = plan(chairs=chairs, chair_busy=chair_busy, **extra)  # type: ignore[arg-type]

    assert [len(chair_busy[chair]) for chair in chairs] == [100] * 6
    assert slots == visits(
        (F, ny(11, 9, 9)),
        (F, ny(11, 11, 9)),
        (F, ny(11, 13, 9)),
        (F, ny(11, 16, 9)),
        (F, ny(11, 18, 9)),
        (F, ny(11, 20, 9)),
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
            {"chair_busy": {A: [busy(ny(11, 1, 0), ny(12, 31, 0))]}, "horizon": dt.timedelta(1)},
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


# -- plan_series: weekdays, weekly maximum and max_gap ---------------------------------------

DAY = dt.timedelta(hours=24)
MON_WED_THU = frozenset({0, 2, 3})


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param(
            {"hours": EVERY_DAY_8_TO_18, "min_gap": DAY, "weekdays": frozenset({0, 2, 4})},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 11, 8)),
                (A, ny(11, 13, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
            ),
            id="weekdays-mon-wed-fri-on-a-site-open-every-day",
        ),
        pytest.param(
            {"count": 4, "weekdays": frozenset({1, 3})},
            visits(
                (A, ny(11, 10, 8)),
                (A, ny(11, 12, 8)),
                (A, ny(11, 17, 8)),
                (A, ny(11, 19, 8)),
            ),
            id="weekdays-tue-thu-first-visit-moves-to-tuesday",
        ),
        pytest.param(
            {"hours": EVERY_DAY_8_TO_18, "min_gap": DAY, "max_per_week": 3},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 10, 8)),
                (A, ny(11, 11, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 17, 8)),
                (A, ny(11, 18, 8)),
            ),
            id="max-3-a-week-any-weekday-fills-each-week-early",
        ),
        pytest.param(
            # Monday–Tuesday–Wednesday would leave 5 days to next Monday: the third visit waits
            # for Friday, the first day from which next Monday is within 72 h.
            {
                "hours": EVERY_DAY_8_TO_18,
                "min_gap": DAY,
                "max_per_week": 3,
                "max_gap": dt.timedelta(hours=72),
            },
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 10, 8)),
                (A, ny(11, 13, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 17, 8)),
                (A, ny(11, 18, 8)),
            ),
            id="max-3-a-week-with-max-gap-places-a-visit-later",
        ),
        pytest.param(
            # Twice weekly (Singh 2016 style): the third 48-h slot each week is refused.
            {"max_per_week": 2},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 11, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 23, 8)),
                (A, ny(11, 25, 8)),
            ),
            id="twice-weekly",
        ),
        pytest.param(
            # Greedy Monday → Wednesday strands visit 3 (Friday to Sunday are not allowed and
            # Monday is 5 days on); Monday → Thursday → Monday keeps every gap within 96 h.
            {"count": 4, "weekdays": MON_WED_THU, "max_gap": dt.timedelta(hours=96)},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 12, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
            ),
            id="max-gap-backtracks-past-the-earliest-next-visit",
        ),
        pytest.param(
            # Closed Wednesday and Thursday: from any Monday slot the next visit would be more
            # than 72 h on, so the first visit moves to Tuesday.
            {
                "count": 3,
                "max_gap": dt.timedelta(hours=72),
                "closed_dates": frozenset({dt.date(2026, 11, 11), dt.date(2026, 11, 12)}),
            },
            visits((A, ny(11, 10, 8)), (A, ny(11, 13, 8)), (A, ny(11, 16, 8))),
            id="closure-beyond-max-gap-moves-the-first-visit",
        ),
        pytest.param(
            # Without max_gap the same closure gives Monday → Friday (96 h).
            {
                "count": 3,
                "closed_dates": frozenset({dt.date(2026, 11, 11), dt.date(2026, 11, 12)}),
            },
            visits((A, ny(11, 9, 8)), (A, ny(11, 13, 8)), (A, ny(11, 16, 8))),
            id="same-closure-without-max-gap",
        ),
        pytest.param(
            # Monday 08:00 + 72 h is Thursday 08:00: a gap of exactly max_gap is allowed.
            {"count": 2, "max_gap": dt.timedelta(hours=72), "weekdays": frozenset({0, 3})},
            visits((A, ny(11, 9, 8)), (A, ny(11, 12, 8))),
            id="gap-equal-to-max-gap-allowed",
        ),
        pytest.param(
            # Thursday 09:00 + 72 h is Sunday 09:00: the 09:15 visit is 15 min too late, so
            # the first visit moves to Thursday 09:15.
            {
                "count": 2,
                "earliest": ny(11, 12, 9),
                "hours": (
                    OpeningHours(3, dt.time(9), dt.time(18)),
                    OpeningHours(6, dt.time(9, 15), dt.time(18)),
                ),
                "max_gap": dt.timedelta(hours=72),
            },
            visits((A, ny(11, 12, 9, 15)), (A, ny(11, 15, 9, 15))),
            id="max-gap-counted-to-the-minute",
        ),
        pytest.param(
            {"max_gap": dt.timedelta(days=7), "weekdays": frozenset(range(5))},
            visits(
                (A, ny(11, 9, 8)),
                (A, ny(11, 11, 8)),
                (A, ny(11, 13, 8)),
                (A, ny(11, 16, 8)),
                (A, ny(11, 18, 8)),
                (A, ny(11, 20, 8)),
            ),
            id="loose-rules-change-nothing",
        ),
        pytest.param(
            # Weeks are local calendar weeks across the fall-back change of Sunday 1 November.
            {
                "count": 4,
                "earliest": ny(10, 28, 8),
                "hours": EVERY_DAY_8_TO_18,
                "min_gap": DAY,
                "max_per_week": 2,
            },
            visits(
                (A, ny(10, 28, 8)),
                (A, ny(10, 29, 8)),
                (A, ny(11, 2, 8)),
                (A, ny(11, 3, 8)),
            ),
            id="local-weeks-across-dst",
        ),
        pytest.param(
            {"count": 3, "weekdays": frozenset({0}), "max_per_week": 1},
            visits((A, ny(11, 9, 8)), (A, ny(11, 16, 8)), (A, ny(11, 23, 8))),
            id="weekly-mondays",
        ),
    ],
)
def test_plan_series_weekday_rules_table(
    kwargs: dict[str, object], expected: tuple[Slot, ...]
) -> None:
    assert plan(**kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            # Every week must be crossed Friday → Monday (at least 62 h 40 min) after at most
            # three 48-h visits.
            {
                "max_gap": dt.timedelta(hours=60),
                "weekdays": frozenset(range(5)),
                "max_per_week": 3,
            },
            "no 6-visit series fits between 2026-11-09 and 2027-01-08: each visit takes 40 min "
            "in a free chair within opening hours on Monday, Tuesday, Wednesday, Thursday or "
            "Friday, starts at least 2 days and at most 60 h after the previous one, no more than "
            "3 visits in one calendar week (Monday–Sunday), and the series ends within 21 "
            "days of its first start",
            id="weekend-longer-than-max-gap",
        ),
        pytest.param(
            {"weekdays": frozenset({5}), "horizon": dt.timedelta(days=1)},
            "no 6-visit series fits between 2026-11-09 and 2026-11-10: each visit takes 40 min "
            "in a free chair within opening hours on Saturday, starts at least 2 days after the "
            "previous one, and the series ends within 21 days of its first start",
            id="only-weekday-is-closed",
        ),
        pytest.param(
            {"max_per_week": 1, "count": 5, "horizon": dt.timedelta(days=1)},
            "no 5-visit series fits between 2026-11-09 and 2026-11-10: each visit takes 40 min "
            "in a free chair within opening hours, starts at least 2 days after the previous "
            "one, no more than 1 visit in one calendar week (Monday–Sunday), and the "
            "series ends within 21 days of its first start",
            id="weekly-maximum-too-low-for-span",
        ),
        pytest.param(
            {
                "count": 2,
                "min_gap": dt.timedelta(0),
                "max_gap": dt.timedelta(hours=48),
                "duration": dt.timedelta(hours=10),
                "max_span": dt.timedelta(days=3),
                "hours": (OpeningHours(0, dt.time(8), dt.time(18)),),
                "horizon": dt.timedelta(days=1),
            },
            "no 2-visit series fits between 2026-11-09 and 2026-11-10: each visit takes 10 h "
            "in a free chair within opening hours, starts at least 0 days and at most 2 days "
            "after the previous one, and the series ends within 3 days of its first start",
            id="open-once-a-week-beyond-max-gap",
        ),
    ],
)
def test_plan_series_weekday_rules_impossible_raises_no_series_found(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(NoSeriesFound) as raised:
        plan(**kwargs)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == ("start", message)


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "message"),
    [
        pytest.param(
            {"max_gap": dt.timedelta(0)},
            OutOfRange,
            "max_gap",
            "max_gap must be longer than 0 and at least min_gap 2 days, 0:00:00; got 0:00:00",
            id="max-gap-0",
        ),
        pytest.param(
            {"max_gap": dt.timedelta(hours=47)},
            OutOfRange,
            "max_gap",
            "max_gap must be longer than 0 and at least min_gap 2 days, 0:00:00; got 1 day, "
            "23:00:00",
            id="max-gap-below-min-gap",
        ),
        pytest.param(
            {"weekdays": frozenset()},
            ClinicalValueError,
            "weekdays",
            "at least one weekday is needed; got none",
            id="weekdays-empty",
        ),
        pytest.param(
            {"weekdays": frozenset({0, 7})},
            OutOfRange,
            "weekdays",
            "weekdays must be 0 (Monday) to 6 (Sunday); got [7]",
            id="weekday-7",
        ),
        pytest.param(
            {"weekdays": frozenset({True})},
            OutOfRange,
            "weekdays",
            "weekdays must be 0 (Monday) to 6 (Sunday); got [True]",
            id="weekday-bool",
        ),
        pytest.param(
            {"max_per_week": 0},
            OutOfRange,
            "max_per_week",
            "max_per_week must be a whole number of visits, at least 1; got 0",
            id="max-per-week-0",
        ),
        pytest.param(
            {"max_per_week": True},
            OutOfRange,
            "max_per_week",
            "max_per_week must be a whole number of visits, at least 1; got True",
            id="max-per-week-bool",
        ),
    ],
)
def test_plan_series_weekday_rules_invalid_rejected(
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
        calendar=SiteCalendar(
            tz=NY, hours=tuple(hours), closed_dates=frozenset({dt.date(2026, 11, 26)})
        ),
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


# -- plan_series_dates -------------------------------------------------------------------------

MWF = frozenset({0, 2, 4})
# Murrough 2013 / Shiroma 2014: 6 infusions, 48 h apart, Monday–Wednesday–Friday, 12 days.
MURROUGH = SeriesRules(count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=12),
                       weekdays=MWF)  # fmt: skip
MONDAY_2_MARCH = dt.date(2026, 3, 2)


def march(*days: int) -> tuple[dt.date, ...]:
    return tuple(dt.date(2026, 3, day) for day in days)


@pytest.mark.parametrize(
    ("rules", "start", "closed", "expected"),
    [
        pytest.param(MURROUGH, MONDAY_2_MARCH, (), march(2, 4, 6, 9, 11, 13), id="murrough-mwf"),
        pytest.param(
            MURROUGH, dt.date(2026, 3, 1), (), march(2, 4, 6, 9, 11, 13),
            id="sunday-start-moves-to-monday",
        ),
        pytest.param(
            # From Wednesday or Friday the sixth visit is 12 days on: only a Monday fits.
            MURROUGH, dt.date(2026, 3, 3), (), march(9, 11, 13, 16, 18, 20),
            id="tuesday-start-moves-to-the-next-monday-that-fits",
        ),
        pytest.param(
            # The closed Wednesday does not use up a first day: Monday 9 is still tried.
            MURROUGH, MONDAY_2_MARCH, (dt.date(2026, 3, 4),), march(9, 11, 13, 16, 18, 20),
            id="closed-date-moves-the-series",
        ),
        pytest.param(
            # Twice weekly, 2 a week at most, over 4 weeks (Singh 2016 style).
            SeriesRules(count=8, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=28),
                        max_per_week=2),
            MONDAY_2_MARCH, (), march(2, 4, 9, 11, 16, 18, 23, 25),
            id="twice-weekly-max-2-a-week",
        ),
        pytest.param(
            SeriesRules(count=8, min_gap=dt.timedelta(hours=72), max_span=dt.timedelta(days=28),
                        weekdays=frozenset({0, 3})),
            MONDAY_2_MARCH, (), march(2, 5, 9, 12, 16, 19, 23, 26),
            id="twice-weekly-mon-thu",
        ),
        pytest.param(
            # Monday → Wednesday would strand the third visit (Monday is 5 days on).
            SeriesRules(count=4, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=14),
                        max_gap=dt.timedelta(hours=96), weekdays=MON_WED_THU),
            MONDAY_2_MARCH, (), march(2, 5, 9, 11),
            id="max-gap-backtracks",
        ),
        pytest.param(
            # 36 h rounds up to 2 days, 84 h down to 3 days: from Monday 2 the next visit
            # would fall on the closed Wednesday 4 or Thursday 5, so the series starts on
            # Tuesday 3, then Friday 6 (3 days) and Sunday 8 (2 days).
            SeriesRules(count=3, min_gap=dt.timedelta(hours=36), max_span=dt.timedelta(days=10),
                        max_gap=dt.timedelta(hours=84)),
            MONDAY_2_MARCH, (dt.date(2026, 3, 4), dt.date(2026, 3, 5)), march(3, 6, 8),
            id="gaps-round-to-whole-days",
        ),
        pytest.param(
            SeriesRules(count=3, min_gap=dt.timedelta(0), max_span=dt.timedelta(days=3)),
            MONDAY_2_MARCH, (), march(2, 3, 4),
            id="zero-gap-is-one-visit-a-day",
        ),
        pytest.param(
            SeriesRules(count=1, min_gap=dt.timedelta(0), max_span=dt.timedelta(days=1),
                        weekdays=frozenset({4})),
            MONDAY_2_MARCH, (), march(6),
            id="single-visit-on-the-first-allowed-day",
        ),
    ],
)  # fmt: skip
def test_plan_series_dates_table(
    rules: SeriesRules,
    start: dt.date,
    closed: tuple[dt.date, ...],
    expected: tuple[dt.date, ...],
) -> None:
    assert plan_series_dates(rules, start=start, closed_dates=closed) == expected


@pytest.mark.parametrize(
    ("rules", "closed", "message"),
    [
        pytest.param(
            SeriesRules(count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=7)),
            (),
            "no 6-visit series starts between 2026-03-02 and 2026-03-08: visits on dates at "
            "least 2 days apart, and all within 7 days counting the first and the last visit's "
            "day",
            id="six-48-h-apart-within-7-days",
        ),
        pytest.param(
            # Friday → Monday is 3 days; at most 2 days (60 h rounds down) is allowed.
            SeriesRules(count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=21),
                        max_gap=dt.timedelta(hours=60), weekdays=MWF, max_per_week=3),
            (dt.date(2026, 3, 20),),
            "no 6-visit series starts between 2026-03-02 and 2026-03-08: visits on dates at "
            "least 2 days and at most 2 days apart, only on Monday, Wednesday or Friday, at "
            "most 3 in one calendar week (Monday–Sunday), not on closed dates, and all within "
            "21 days counting the first and the last visit's day",
            id="weekend-longer-than-max-gap",
        ),
        pytest.param(
            SeriesRules(count=2, min_gap=dt.timedelta(hours=1), max_span=dt.timedelta(hours=12),
                        max_gap=dt.timedelta(hours=12)),
            (dt.date(2026, 3, 2),),
            "no 2-visit series starts between 2026-03-02 and 2026-03-09: visits on dates at "
            "least 1 day and at most 0 days apart, not on closed dates, and all within 12 h "
            "counting the first and the last visit's day",
            id="two-visits-within-one-day",
        ),
    ],
)  # fmt: skip
def test_plan_series_dates_impossible_raises_no_series_found(
    rules: SeriesRules, closed: tuple[dt.date, ...], message: str
) -> None:
    with pytest.raises(NoSeriesFound) as raised:
        plan_series_dates(rules, start=MONDAY_2_MARCH, closed_dates=closed)

    assert (raised.value.field, raised.value.message) == ("start", message)


WEEK = dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("rules", "error", "field", "message"),
    [
        pytest.param(
            SeriesRules(count=0, min_gap=DAY, max_span=WEEK),
            OutOfRange, "count", "count must be a whole number of visits, at least 1; got 0",
            id="count-0",
        ),
        pytest.param(
            SeriesRules(count=2, min_gap=DAY, max_span=dt.timedelta(0)),
            OutOfRange, "max_span", "max_span must be longer than 0; got 0:00:00",
            id="span-0",
        ),
        pytest.param(
            SeriesRules(count=2, min_gap=-DAY, max_span=WEEK),
            OutOfRange, "min_gap", "min_gap must be 0 or longer; got -1 day, 0:00:00",
            id="min-gap-negative",
        ),
        pytest.param(
            SeriesRules(count=2, min_gap=2 * DAY, max_span=WEEK, max_gap=DAY),
            OutOfRange, "max_gap",
            "max_gap must be longer than 0 and at least min_gap 2 days, 0:00:00; got 1 day, "
            "0:00:00",
            id="max-gap-below-min-gap",
        ),
        pytest.param(
            SeriesRules(count=2, min_gap=DAY, max_span=WEEK, weekdays=frozenset()),
            ClinicalValueError, "weekdays", "at least one weekday is needed; got none",
            id="weekdays-empty",
        ),
        pytest.param(
            SeriesRules(count=2, min_gap=DAY, max_span=WEEK, max_per_week=0),
            OutOfRange, "max_per_week",
            "max_per_week must be a whole number of visits, at least 1; got 0",
            id="max-per-week-0",
        ),
    ],
)  # fmt: skip
def test_series_rules_invalid_rejected(
    rules: SeriesRules, error: type[ClinicalValueError], field: str, message: str
) -> None:
    for call in (
        lambda: plan_series_dates(rules, start=MONDAY_2_MARCH),
        lambda: check_series(rules, [], tz=NY),
    ):
        with pytest.raises(error) as raised:
            call()

        assert (type(raised.value), raised.value.field, raised.value.message) == (
            error,
            field,
            message,
        )


# -- check_series --------------------------------------------------------------------------------

# Monday 6 April 2026 onwards: no daylight-saving change inside the series.
MURROUGH_STARTS = tuple(ny(4, day, 8) for day in (6, 8, 10, 13, 15, 17))


def moved(number: int, to: dt.datetime) -> list[dt.datetime]:
    """The Murrough series with visit ``number`` (from 1) moved to ``to``."""
    starts = list(MURROUGH_STARTS)
    starts[number - 1] = to
    return starts


@pytest.mark.parametrize(
    ("rules", "starts", "expected"),
    [
        pytest.param(MURROUGH, list(MURROUGH_STARTS), [], id="murrough-as-planned"),
        pytest.param(
            MURROUGH, list(reversed(MURROUGH_STARTS)), [], id="order-does-not-matter",
        ),
        pytest.param(
            MURROUGH, moved(3, ny(4, 10, 17, 30)), [], id="later-the-same-day-keeps-every-rule",
        ),
        pytest.param(
            MURROUGH,
            moved(3, ny(4, 11, 8)),
            ["weekdays: visit 3 is on Saturday 2026-04-11; the protocol allows Monday, "
             "Wednesday and Friday"],
            id="moved-to-saturday",
        ),
        pytest.param(
            MURROUGH,
            moved(3, ny(4, 10, 7, 30)),
            ["min_gap: visits 2 and 3 start 1 day 23 h 30 min apart (Wednesday 2026-04-08 "
             "08:00 → Friday 2026-04-10 07:30); the protocol requires at least 2 days"],
            id="moved-half-an-hour-earlier",
        ),
        pytest.param(
            MURROUGH,
            moved(6, ny(4, 20, 8)),
            ["max_span: the last visit starts 14 days after the first (Monday 2026-04-06 08:00 "
             "→ Monday 2026-04-20 08:00); the series must end within 12 days of its first "
             "start"],
            id="last-visit-moved-a-weekend-later",
        ),
        pytest.param(
            MURROUGH,
            moved(4, ny(4, 11, 8)),
            ["min_gap: visits 3 and 4 start 1 day apart (Friday 2026-04-10 08:00 → Saturday "
             "2026-04-11 08:00); the protocol requires at least 2 days",
             "weekdays: visit 4 is on Saturday 2026-04-11; the protocol allows Monday, "
             "Wednesday and Friday"],
            id="moved-earlier-breaks-two-rules",
        ),
        pytest.param(
            SeriesRules(count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=12),
                        max_gap=dt.timedelta(hours=72), max_per_week=2),
            list(MURROUGH_STARTS[:5]),
            ["count: the series has 5 visits; the protocol asks for 6",
             "max_per_week: 3 visits in the week of Monday 2026-04-06; the protocol allows at "
             "most 2"],
            id="count-and-weekly-maximum",
        ),
        pytest.param(
            SeriesRules(count=2, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=12),
                        max_gap=dt.timedelta(hours=72)),
            [ny(4, 10, 8), ny(4, 14, 8)],
            ["max_gap: visits 1 and 2 start 4 days apart (Friday 2026-04-10 08:00 → Tuesday "
             "2026-04-14 08:00); the protocol allows at most 3 days"],
            id="max-gap",
        ),
        pytest.param(
            # New York springs forward on Sunday 8 March: Friday 08:00 → Monday 08:00 is 71 h.
            SeriesRules(count=2, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=12),
                        max_gap=dt.timedelta(hours=70)),
            [ny(3, 6, 8), ny(3, 9, 8)],
            ["max_gap: visits 1 and 2 start 2 days 23 h apart (Friday 2026-03-06 08:00 → "
             "Monday 2026-03-09 08:00); the protocol allows at most 70 h"],
            id="max-gap-in-real-time-across-dst",
        ),
        pytest.param(
            # Saturday 08:00 → Monday 08:00 across the spring-forward change is 47 h.
            SeriesRules(count=2, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=12)),
            [ny(3, 7, 8), ny(3, 9, 8)],
            ["min_gap: visits 1 and 2 start 1 day 23 h apart (Saturday 2026-03-07 08:00 → "
             "Monday 2026-03-09 08:00); the protocol requires at least 2 days"],
            id="min-gap-in-real-time-across-dst",
        ),
        pytest.param(
            SeriesRules(count=2, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=12)),
            [ny(4, 10, 8), utc(4, 10, 12)],
            ["min_gap: visits 1 and 2 start 0 min apart (Friday 2026-04-10 08:00 → Friday "
             "2026-04-10 08:00); the protocol requires at least 2 days"],
            id="same-instant-in-two-zones",
        ),
        pytest.param(MURROUGH, [], ["count: the series has 0 visits; the protocol asks for 6"],
                     id="no-visits"),
    ],
)  # fmt: skip
def test_check_series_table(
    rules: SeriesRules, starts: list[dt.datetime], expected: list[str]
) -> None:
    assert [rule_break(broken, rules, tz=NY) for broken in check_series(rules, starts, tz=NY)] == (
        expected
    )


def as_utc(*instants: dt.datetime) -> tuple[dt.datetime, ...]:
    return tuple(instant.astimezone(UTC) for instant in instants)


@pytest.mark.parametrize(
    ("rules", "starts", "expected"),
    [
        pytest.param(
            MURROUGH,
            moved(4, ny(4, 11, 8)),
            [RuleBreak(SeriesRule.MIN_GAP, (3, 4), as_utc(ny(4, 10, 8), ny(4, 11, 8))),
             RuleBreak(SeriesRule.WEEKDAYS, (4,), as_utc(ny(4, 11, 8)))],
            id="gap-and-weekday",
        ),
        pytest.param(
            SeriesRules(count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=12),
                        max_gap=dt.timedelta(hours=72), max_per_week=2),
            list(reversed(MURROUGH_STARTS[:5])),
            [RuleBreak(SeriesRule.COUNT, (1, 2, 3, 4, 5), as_utc(*MURROUGH_STARTS[:5])),
             RuleBreak(SeriesRule.MAX_PER_WEEK, (1, 2, 3), as_utc(*MURROUGH_STARTS[:3]))],
            id="count-and-weekly-maximum",
        ),
        pytest.param(
            MURROUGH,
            moved(6, ny(4, 20, 8)),
            [RuleBreak(SeriesRule.MAX_SPAN, (1, 6), as_utc(ny(4, 6, 8), ny(4, 20, 8)))],
            id="span",
        ),
        pytest.param(
            SeriesRules(count=2, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=12),
                        max_gap=dt.timedelta(hours=72)),
            [ny(4, 14, 8), ny(4, 10, 8)],
            [RuleBreak(SeriesRule.MAX_GAP, (1, 2), as_utc(ny(4, 10, 8), ny(4, 14, 8)))],
            id="max-gap",
        ),
    ],
)  # fmt: skip
def test_check_series_names_the_visits_that_break_each_rule(
    rules: SeriesRules, starts: list[dt.datetime], expected: list[RuleBreak]
) -> None:
    assert check_series(rules, starts, tz=NY) == expected


def test_check_series_naive_start_rejected() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        check_series(MURROUGH, [dt.datetime(2026, 3, 2, 8)], tz=NY)  # noqa: DTZ001 - naive on purpose

    assert (raised.value.field, raised.value.message) == (
        "starts",
        "starts must be a timezone-aware datetime; got naive 2026-03-02T08:00:00",
    )


def test_check_series_accepts_what_plan_series_plans() -> None:
    rules = SeriesRules(count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=12),
                        max_gap=dt.timedelta(hours=72), weekdays=MWF, max_per_week=3)  # fmt: skip
    slots = plan(
        count=rules.count,
        min_gap=rules.min_gap,
        max_span=rules.max_span,
        max_gap=rules.max_gap,
        weekdays=rules.weekdays,
        max_per_week=rules.max_per_week,
    )

    assert check_series(rules, [slot.start for slot in slots], tz=NY) == []
