"""Series search: the patient's availability, and alternatives when the request does not fit.

The site is open Monday to Friday 08:00–18:00 (New York); visits take 2 hours on an hourly
grid; the protocol asks for 3 visits at least 48 h apart within 7 days. The request starts on
Monday 9 November 2026 at 08:00, so the look-ahead runs to Monday 16 November 08:00.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from sustain_core.errors import ClinicalValueError, NoSeriesFound, OutOfRange
from sustain_core.series import (
    Alternative,
    AlternativeKind,
    Availability,
    Candidate,
    ChairId,
    Chairs,
    Interval,
    OpeningHours,
    PatientDiary,
    SeriesResult,
    SeriesRules,
    SiteCalendar,
    Slot,
    candidate_visits,
    plan_series,
    search_series,
    wording,
)

pytestmark = pytest.mark.core

NY = ZoneInfo("America/New_York")
HOUR = dt.timedelta(hours=1)
TWO_HOURS = 2 * HOUR
WEEKDAYS_8_TO_18 = tuple(OpeningHours(day, dt.time(8), dt.time(18)) for day in range(5))
RULES = SeriesRules(count=3, min_gap=48 * HOUR, max_span=dt.timedelta(days=7))
MORNING = ((dt.time(8), dt.time(12)),)
CALENDAR = SiteCalendar(tz=NY, hours=WEEKDAYS_8_TO_18)
A, B = ChairId(1), ChairId(2)


def ny(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=NY)


MONDAY_8AM = ny(11, 9, 8)


def nov(*days: int) -> frozenset[dt.date]:
    return frozenset(dt.date(2026, 11, day) for day in days)


def nov_range(first: int, last: int) -> frozenset[dt.date]:
    return nov(*range(first, last + 1))


def visits(*pairs: tuple[ChairId, dt.datetime]) -> tuple[Slot, ...]:
    """Build expected 2-hour slots from (chair, local start) pairs."""
    return tuple(
        Slot(
            chair=chair, start=start.astimezone(dt.UTC), end=(start + TWO_HOURS).astimezone(dt.UTC)
        )
        for chair, start in pairs
    )


def busy_weekdays(first: int, last: int, opens: int = 8, closes: int = 18) -> list[Interval]:
    """The chair is busy from `opens` to `closes` on each weekday of November first–last."""
    return [
        Interval(start=ny(11, day, opens), end=ny(11, day, closes))
        for day in range(first, last + 1)
        if dt.date(2026, 11, day).weekday() < 5
    ]


@dataclass(frozen=True)
class Shown:
    """An alternative as the booking screen shows it: what ``search_series`` found, and the
    sentence ``series.wording.gives_up`` says for it."""

    slots: tuple[Slot, ...]
    gives_up: str
    kind: AlternativeKind
    rank: int


@dataclass(frozen=True)
class Offer:
    """The booking screen's answer: the series as asked, or the alternatives shown."""

    series: tuple[Slot, ...] | None
    alternatives: tuple[Shown, ...]


def found(
    *,
    rules: SeriesRules = RULES,
    earliest: dt.datetime = MONDAY_8AM,
    chairs: Sequence[ChairId] = (A,),
    chair_busy: Mapping[ChairId, Sequence[Interval]] | None = None,
    patient_busy: Sequence[Interval] = (),
    availability: Availability | None = None,
    requested_span: dt.timedelta | None = None,
    preferred_chair: ChairId | None = None,
    horizon: dt.timedelta = dt.timedelta(days=60),
    max_alternatives: int = 5,
) -> SeriesResult:
    return search_series(
        rules,
        earliest=earliest,
        duration=TWO_HOURS,
        calendar=CALENDAR,
        chairs=Chairs(order=tuple(chairs), busy=chair_busy or {}),
        patient=PatientDiary(busy=patient_busy, availability=availability),
        requested_span=requested_span,
        preferred_chair=preferred_chair,
        step=HOUR,
        horizon=horizon,
        max_alternatives=max_alternatives,
    )


def search(
    *,
    rules: SeriesRules = RULES,
    earliest: dt.datetime = MONDAY_8AM,
    availability: Availability | None = None,
    requested_span: dt.timedelta | None = None,
    preferred_chair: ChairId | None = None,
    **inputs: object,
) -> Offer:
    """Search as the booking screen does, and say what each alternative gives up."""
    result = found(
        rules=rules,
        earliest=earliest,
        availability=availability,
        requested_span=requested_span,
        preferred_chair=preferred_chair,
        **inputs,  # type: ignore[arg-type]
    )
    return Offer(
        series=result.series,
        alternatives=tuple(
            Shown(
                slots=alternative.slots,
                gives_up=wording.gives_up(
                    alternative,
                    rules=rules,
                    earliest=earliest,
                    tz=NY,
                    windows=() if availability is None else availability.windows,
                    preferred_chair=preferred_chair,
                    requested_span=requested_span,
                ),
                kind=alternative.kind,
                rank=alternative.rank,
            )
            for alternative in result.alternatives
        ),
    )


def plan(
    *,
    chairs: Sequence[ChairId] = (A,),
    chair_busy: Mapping[ChairId, Sequence[Interval]] | None = None,
    availability: Availability | None = None,
    max_span: dt.timedelta = dt.timedelta(days=21),
    weekdays: frozenset[int] | None = None,
    horizon: dt.timedelta = dt.timedelta(days=60),
) -> tuple[Slot, ...]:
    return plan_series(
        SeriesRules(count=3, min_gap=48 * HOUR, max_span=max_span, weekdays=weekdays),
        earliest=ny(11, 9, 8),
        duration=TWO_HOURS,
        calendar=CALENDAR,
        chairs=Chairs(order=tuple(chairs), busy=chair_busy or {}),
        patient=PatientDiary(availability=availability),
        step=HOUR,
        horizon=horizon,
    )


MON_WED_FRI_8AM = visits((A, ny(11, 9, 8)), (A, ny(11, 11, 8)), (A, ny(11, 13, 8)))
# After a week away (9–16 November): Tuesday, Thursday, then Monday (6 days 2 h).
AFTER_A_WEEK_AWAY = visits((A, ny(11, 17, 8)), (A, ny(11, 19, 8)), (A, ny(11, 23, 8)))
LATER_BY_8_DAYS = Shown(
    slots=AFTER_A_WEEK_AWAY,
    gives_up="starts 8 days later than asked (Tue 17 Nov)",
    kind=AlternativeKind.LATER_START,
    rank=1,
)
THIRD_WEEK = visits((A, ny(11, 23, 8)), (A, ny(11, 25, 8)), (A, ny(11, 27, 8)))


# -- plan_series with the patient's availability ------------------------------------------------


@pytest.mark.parametrize(
    ("availability", "expected"),
    [
        pytest.param(Availability(), MON_WED_FRI_8AM, id="no-limits"),
        pytest.param(
            Availability(weekdays=frozenset({1, 3})),
            visits((A, ny(11, 10, 8)), (A, ny(11, 12, 8)), (A, ny(11, 17, 8))),
            id="tuesdays-and-thursdays",
        ),
        pytest.param(
            Availability(windows=((dt.time(13), dt.time(18)),)),
            visits((A, ny(11, 9, 13)), (A, ny(11, 11, 13)), (A, ny(11, 13, 13))),
            id="afternoons",
        ),
        pytest.param(
            Availability(windows=((dt.time(7), dt.time(9)), (dt.time(15), dt.time(17)))),
            visits((A, ny(11, 9, 15)), (A, ny(11, 11, 15)), (A, ny(11, 13, 15))),
            id="only-the-window-a-visit-fits",
        ),
        pytest.param(
            Availability(blackout_dates=nov(11)),
            visits((A, ny(11, 9, 8)), (A, ny(11, 12, 8)), (A, ny(11, 16, 8))),
            id="blackout-date",
        ),
    ],
)
def test_plan_series_keeps_to_the_patients_availability(
    availability: Availability, expected: tuple[Slot, ...]
) -> None:
    assert plan(availability=availability) == expected


def test_plan_series_without_availability_is_unchanged() -> None:
    assert plan(availability=None) == plan() == MON_WED_FRI_8AM


def test_plan_series_availability_that_never_fits_raises_no_series_found() -> None:
    evenings = Availability(windows=((dt.time(19), dt.time(21)),))

    with pytest.raises(NoSeriesFound) as raised:
        plan(availability=evenings, weekdays=frozenset({0, 2, 4}))

    assert raised.value.message == (
        "no 3-visit series fits between 2026-11-09 and 2027-01-08: each visit takes 2 h in a "
        "free chair within opening hours and the patient's availability on Monday, Wednesday "
        "or Friday, starts at least 2 days after the previous one, and the series ends within "
        "21 days of its first start"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "message"),
    [
        pytest.param(
            {"weekdays": frozenset()},
            ClinicalValueError,
            "weekdays",
            "at least one weekday is needed; got none",
            id="no-weekdays",
        ),
        pytest.param(
            {"weekdays": frozenset({7})},
            OutOfRange,
            "weekdays",
            "weekdays must be 0 (Monday) to 6 (Sunday); got [7]",
            id="weekday-7",
        ),
        pytest.param(
            {"windows": ((dt.time(12), dt.time(12)),)},
            ClinicalValueError,
            "windows",
            "a window must end after it starts at 12:00; got 12:00",
            id="empty-window",
        ),
    ],
)
def test_availability_invalid_rejected(
    kwargs: dict[str, object], error: type[ClinicalValueError], field: str, message: str
) -> None:
    with pytest.raises(error) as raised:
        Availability(**kwargs)

    assert (type(raised.value), raised.value.field, raised.value.message) == (
        error,
        field,
        message,
    )


def test_plan_series_ignores_busy_time_far_outside_the_search() -> None:
    years = [
        Interval(start=ny(1, 1, 0).replace(year=2025), end=ny(1, 1, 0)),
        Interval(start=ny(6, 1, 0).replace(year=2027), end=ny(6, 1, 0).replace(year=2028)),
    ]
    # Busy from a week before until Monday noon: it counts although it starts long before.
    into_monday = Interval(start=ny(11, 2, 8), end=ny(11, 9, 12))

    assert plan(chair_busy={A: years}) == MON_WED_FRI_8AM
    assert plan(chair_busy={A: [*years, into_monday]}) == visits(
        (A, ny(11, 9, 12)), (A, ny(11, 11, 12)), (A, ny(11, 13, 12))
    )


# -- search_series: the series asked for -------------------------------------------------------


def test_search_series_that_fits_has_no_alternatives() -> None:
    assert search() == Offer(series=MON_WED_FRI_8AM, alternatives=())


def test_search_series_first_visit_exactly_at_the_end_of_the_look_ahead_fits() -> None:
    away_a_week = Availability(blackout_dates=nov_range(9, 15))

    assert search(availability=away_a_week) == Offer(
        series=visits((A, ny(11, 16, 8)), (A, ny(11, 18, 8)), (A, ny(11, 20, 8))),
        alternatives=(),
    )


def test_search_series_is_plan_series_with_the_request() -> None:
    availability = Availability(windows=MORNING, blackout_dates=nov(10))
    busy = {A: busy_weekdays(11, 11), B: busy_weekdays(9, 9, 8, 10)}

    result = search(
        chairs=(A, B),
        chair_busy=busy,
        availability=availability,
        preferred_chair=B,
        requested_span=dt.timedelta(days=6),
    )

    assert result.series == plan(
        chairs=(B,),
        chair_busy=busy,
        availability=availability,
        max_span=dt.timedelta(days=6),
        horizon=dt.timedelta(days=7),
    )
    assert result.series == visits((B, ny(11, 9, 10)), (B, ny(11, 11, 10)), (B, ny(11, 13, 10)))


# -- search_series: alternatives, one kind at a time ----------------------------------------------


def test_search_series_later_start_when_the_patient_is_away() -> None:
    result = search(availability=Availability(blackout_dates=nov_range(9, 16)))

    assert result == Offer(series=None, alternatives=(LATER_BY_8_DAYS,))


def test_search_series_other_time_when_the_window_is_full() -> None:
    mornings_booked = {A: busy_weekdays(9, 20, 8, 12)}

    result = search(chair_busy=mornings_booked, availability=Availability(windows=MORNING))

    assert result == Offer(
        series=None,
        alternatives=(
            Shown(
                slots=visits((A, ny(11, 9, 12)), (A, ny(11, 11, 12)), (A, ny(11, 13, 12))),
                gives_up="at 12:00 instead of the morning window",
                kind=AlternativeKind.OTHER_TIME,
                rank=1,
            ),
            Shown(
                slots=THIRD_WEEK,
                gives_up="starts 14 days later than asked (Mon 23 Nov)",
                kind=AlternativeKind.LATER_START,
                rank=2,
            ),
        ),
    )


@pytest.mark.parametrize(
    ("windows", "name"),
    [
        pytest.param(((dt.time(7), dt.time(8, 30)),), "the morning window", id="morning"),
        pytest.param(((dt.time(13), dt.time(14, 30)),), "the afternoon window", id="afternoon"),
        pytest.param(((dt.time(17), dt.time(18, 30)),), "the evening window", id="evening"),
        pytest.param(((dt.time(11), dt.time(12, 30)),), "the 11:00–12:30 window", id="midday"),
        pytest.param(
            ((dt.time(17), dt.time(18, 30)), (dt.time(7), dt.time(8, 30))),
            "the 07:00–08:30 and 17:00–18:30 windows",
            id="two-windows-in-time-order",
        ),
        pytest.param(
            (
                (dt.time(7), dt.time(8, 30)),
                (dt.time(12), dt.time(13)),
                (dt.time(17), dt.time(18, 30)),
            ),
            "the 07:00–08:30, 12:00–13:00 and 17:00–18:30 windows",
            id="three-windows",
        ),
    ],
)
def test_search_series_other_time_names_the_window(
    windows: tuple[tuple[dt.time, dt.time], ...], name: str
) -> None:
    # No 2-hour visit fits these windows at all, so only another time of day is offered.
    result = search(availability=Availability(windows=windows))

    assert result == Offer(
        series=None,
        alternatives=(
            Shown(
                slots=MON_WED_FRI_8AM,
                gives_up=f"at 08:00 instead of {name}",
                kind=AlternativeKind.OTHER_TIME,
                rank=1,
            ),
        ),
    )


def test_search_series_other_chair_when_the_preferred_one_is_booked() -> None:
    result = search(chairs=(A, B), chair_busy={A: busy_weekdays(9, 20)}, preferred_chair=A)

    assert result == Offer(
        series=None,
        alternatives=(
            Shown(
                slots=visits((B, ny(11, 9, 8)), (B, ny(11, 11, 8)), (B, ny(11, 13, 8))),
                gives_up="in chair 2 instead of chair 1",
                kind=AlternativeKind.OTHER_CHAIR,
                rank=1,
            ),
            Shown(
                slots=THIRD_WEEK,
                gives_up="starts 14 days later than asked (Mon 23 Nov)",
                kind=AlternativeKind.LATER_START,
                rank=2,
            ),
        ),
    )


def test_search_series_preferred_chair_alone_offers_no_other_chair() -> None:
    result = search(chair_busy={A: busy_weekdays(9, 20)}, preferred_chair=A)

    assert [alternative.kind for alternative in result.alternatives] == ["later_start"]


def test_search_series_relaxed_span_in_hours() -> None:
    wednesdays_away = Availability(blackout_dates=nov(11, 18, 25))
    rules = SeriesRules(count=3, min_gap=48 * HOUR, max_span=dt.timedelta(days=8))

    result = search(
        rules=rules,
        availability=wednesdays_away,
        requested_span=108 * HOUR,
        horizon=dt.timedelta(days=14),
    )

    assert result == Offer(
        series=None,
        alternatives=(
            Shown(
                slots=visits((A, ny(11, 9, 8)), (A, ny(11, 12, 8)), (A, ny(11, 16, 8))),
                gives_up="spans 7 days 2 h instead of the 108 h you asked for "
                "(protocol allows 8 days)",
                kind=AlternativeKind.RELAXED_SPAN,
                rank=1,
            ),
        ),
    )


# -- search_series: ranking, duplicates, the cap ----------------------------------------------


FOUR_KINDS = (
    Shown(
        slots=visits((A, ny(11, 9, 8)), (B, ny(11, 11, 8)), (A, ny(11, 13, 8))),
        gives_up="in different chairs instead of only chair 1",
        kind=AlternativeKind.OTHER_CHAIR,
        rank=1,
    ),
    Shown(
        slots=visits((A, ny(11, 9, 8)), (A, ny(11, 12, 8)), (A, ny(11, 16, 8))),
        gives_up="spans 8 days instead of the 5 you asked for (protocol allows 8)",
        kind=AlternativeKind.RELAXED_SPAN,
        rank=2,
    ),
    Shown(
        slots=visits((A, ny(11, 9, 8)), (A, ny(11, 11, 12)), (A, ny(11, 13, 12))),
        gives_up="at times from 08:00 to 12:00 instead of the morning window",
        kind=AlternativeKind.OTHER_TIME,
        rank=3,
    ),
    Shown(
        # Friday 10:00 to Wednesday 12:00 is exactly 5 days.
        slots=visits((A, ny(11, 20, 10)), (A, ny(11, 23, 8)), (A, ny(11, 25, 8))),
        gives_up="starts 11 days later than asked (Fri 20 Nov)",
        kind=AlternativeKind.LATER_START,
        rank=4,
    ),
)


def four_kinds(
    *, max_alternatives: int = 5, chair_busy: Mapping[str, Sequence[Interval]] | None = None
) -> SeriesResult:
    """Chair A, mornings, 5 days asked; chair A is booked on Wednesday mornings (11 and 18)."""
    return search(
        rules=SeriesRules(count=3, min_gap=48 * HOUR, max_span=dt.timedelta(days=8)),
        chairs=(A, B),
        chair_busy=chair_busy or {A: busy_weekdays(11, 11, 8, 12) + busy_weekdays(18, 18, 8, 12)},
        availability=Availability(windows=MORNING),
        requested_span=dt.timedelta(days=5),
        preferred_chair=A,
        max_alternatives=max_alternatives,
    )


def test_search_series_ranks_by_start_then_by_what_is_given_up() -> None:
    # Three start on Monday 9 at 08:00, giving up one thing each: the chair preference before
    # the span the protocol still allows before the patient's window; the later start last.
    assert four_kinds() == Offer(series=None, alternatives=FOUR_KINDS)


@pytest.mark.parametrize(
    ("max_alternatives", "expected"),
    [
        pytest.param(0, (), id="none"),
        pytest.param(2, FOUR_KINDS[:2], id="two"),
        pytest.param(4, FOUR_KINDS, id="all-four"),
    ],
)
def test_search_series_caps_the_alternatives(
    max_alternatives: int, expected: tuple[Shown, ...]
) -> None:
    assert four_kinds(max_alternatives=max_alternatives) == Offer(
        series=None, alternatives=expected
    )


def test_search_series_one_thing_given_up_ranks_before_two_at_the_same_start() -> None:
    # Away until Monday 16; chair A booked on Thursday 19. Both series start on Tuesday 17, but
    # the one in chair B also gives up the chair preference.
    result = search(
        chairs=(A, B),
        chair_busy={A: busy_weekdays(19, 19)},
        availability=Availability(blackout_dates=nov_range(9, 16)),
        preferred_chair=A,
    )

    assert result == Offer(
        series=None,
        alternatives=(
            Shown(
                slots=visits((A, ny(11, 17, 8)), (A, ny(11, 20, 8)), (A, ny(11, 23, 8))),
                gives_up="starts 8 days later than asked (Tue 17 Nov)",
                kind=AlternativeKind.LATER_START,
                rank=1,
            ),
            Shown(
                slots=visits((A, ny(11, 17, 8)), (B, ny(11, 19, 8)), (A, ny(11, 23, 8))),
                gives_up="in different chairs instead of only chair 1, and starts 8 days later "
                "than asked (Tue 17 Nov)",
                kind=AlternativeKind.OTHER_CHAIR,
                rank=2,
            ),
        ),
    )


def test_search_series_returns_structured_alternatives() -> None:
    # What the search returns is structured; the sentences are wording's (see `search`).
    result = found(
        chairs=(A, B),
        chair_busy={A: busy_weekdays(19, 19)},
        availability=Availability(blackout_dates=nov_range(9, 16)),
        preferred_chair=A,
    )

    assert result == SeriesResult(
        series=None,
        alternatives=(
            Alternative(
                slots=visits((A, ny(11, 17, 8)), (A, ny(11, 20, 8)), (A, ny(11, 23, 8))),
                kind=AlternativeKind.LATER_START,
                rank=1,
                late=True,
            ),
            Alternative(
                slots=visits((A, ny(11, 17, 8)), (B, ny(11, 19, 8)), (A, ny(11, 23, 8))),
                kind=AlternativeKind.OTHER_CHAIR,
                rank=2,
                late=True,
            ),
        ),
    )
    assert [alternative.late for alternative in four_kinds_found()] == [False] * 3 + [True]
    # The kinds are the values a booking screen posts back.
    assert [AlternativeKind(kind) for kind in ("later_start", "other_time")] == [
        AlternativeKind.LATER_START,
        AlternativeKind.OTHER_TIME,
    ]


def four_kinds_found() -> tuple[Alternative, ...]:
    return found(
        rules=SeriesRules(count=3, min_gap=48 * HOUR, max_span=dt.timedelta(days=8)),
        chairs=(A, B),
        chair_busy={A: busy_weekdays(11, 11, 8, 12) + busy_weekdays(18, 18, 8, 12)},
        availability=Availability(windows=MORNING),
        requested_span=dt.timedelta(days=5),
        preferred_chair=A,
    ).alternatives


def test_search_series_lists_an_identical_series_once() -> None:
    # Away for a week: without the window, with any chair or with the protocol's span, the
    # earliest series is still the later-start one, so it is listed once, as a later start.
    result = search(
        rules=SeriesRules(count=3, min_gap=48 * HOUR, max_span=dt.timedelta(days=8)),
        chairs=(A, B),
        availability=Availability(windows=MORNING, blackout_dates=nov_range(9, 16)),
        requested_span=dt.timedelta(days=7),
        preferred_chair=A,
    )

    assert result == Offer(series=None, alternatives=(LATER_BY_8_DAYS,))


def test_search_series_with_nothing_within_the_horizon_is_empty() -> None:
    # The horizon is shorter than the look-ahead, so nothing can start later either.
    result = search(
        availability=Availability(blackout_dates=nov_range(9, 12)), horizon=dt.timedelta(days=3)
    )

    assert result == Offer(series=None, alternatives=())


def test_search_series_is_deterministic() -> None:
    wednesday_mornings = busy_weekdays(11, 11, 8, 12) + busy_weekdays(18, 18, 8, 12)
    in_utc = [
        Interval(start=interval.start.astimezone(dt.UTC), end=interval.end.astimezone(dt.UTC))
        for interval in reversed(wednesday_mornings)
    ]

    assert four_kinds() == four_kinds() == four_kinds(chair_busy={A: in_utc, B: []})


# -- search_series: invalid requests ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "message"),
    [
        pytest.param(
            {"requested_span": dt.timedelta(days=8)},
            OutOfRange,
            "requested_span",
            "requested_span must be from the visit duration 2:00:00 to the protocol's "
            "max_span 7 days, 0:00:00; got 8 days, 0:00:00",
            id="span-beyond-protocol",
        ),
        pytest.param(
            {"requested_span": HOUR},
            OutOfRange,
            "requested_span",
            "requested_span must be from the visit duration 2:00:00 to the protocol's "
            "max_span 7 days, 0:00:00; got 1:00:00",
            id="span-shorter-than-a-visit",
        ),
        pytest.param(
            {"preferred_chair": ChairId(9)},
            ClinicalValueError,
            "preferred_chair",
            "preferred_chair must be one of the chairs; got 9",
            id="unknown-chair",
        ),
        pytest.param(
            {"max_alternatives": -1},
            OutOfRange,
            "max_alternatives",
            "max_alternatives must be a whole number, 0 or more; got -1",
            id="negative-cap",
        ),
        pytest.param(
            {"max_alternatives": True},
            OutOfRange,
            "max_alternatives",
            "max_alternatives must be a whole number, 0 or more; got True",
            id="bool-cap",
        ),
        pytest.param(
            {"max_alternatives": 2.5},
            OutOfRange,
            "max_alternatives",
            "max_alternatives must be a whole number, 0 or more; got 2.5",
            id="fractional-cap",
        ),
        pytest.param(
            {"chairs": ()},
            ClinicalValueError,
            "chairs",
            "at least one chair is needed; got none",
            id="no-chairs",
        ),
        pytest.param(
            {"earliest": dt.datetime(2026, 11, 9, 8)},  # noqa: DTZ001 - the naive input under test
            ClinicalValueError,
            "earliest",
            "earliest must be a timezone-aware datetime; got naive 2026-11-09T08:00:00",
            id="naive-earliest",
        ),
        pytest.param(
            {"rules": SeriesRules(count=0, min_gap=48 * HOUR, max_span=dt.timedelta(days=7))},
            OutOfRange,
            "count",
            "count must be a whole number of visits, at least 1; got 0",
            id="invalid-rules",
        ),
        pytest.param(
            {"rules": SeriesRules(count=3, min_gap=48 * HOUR, max_span=HOUR)},
            OutOfRange,
            "max_span",
            "max_span must be at least the visit duration 2:00:00; got 1:00:00",
            id="span-shorter-than-the-visit",
        ),
    ],
)
def test_search_series_invalid_request_rejected(
    kwargs: dict[str, object], error: type[ClinicalValueError], field: str, message: str
) -> None:
    with pytest.raises(error) as raised:
        search(**kwargs)

    assert (type(raised.value), raised.value.field, raised.value.message) == (
        error,
        field,
        message,
    )


# -- candidate_visits ---------------------------------------------------------------------------


def test_candidate_visits_lists_every_free_chair_in_order() -> None:
    candidates = candidate_visits(
        earliest=ny(11, 9, 8),
        until=ny(11, 9, 23),
        duration=TWO_HOURS,
        calendar=CALENDAR,
        chairs=Chairs(
            order=(A, B), busy={A: busy_weekdays(9, 9, 8, 10), B: busy_weekdays(9, 9, 12, 18)}
        ),
        patient=PatientDiary(
            busy=[Interval(start=ny(11, 9, 15), end=ny(11, 9, 16))],
            availability=Availability(windows=((dt.time(8), dt.time(17)),)),
        ),
        step=HOUR,
    )

    monday = dt.date(2026, 11, 9)
    assert candidates == [
        Candidate(start=ny(11, 9, hour), end=ny(11, 9, hour + 2), week=monday, chairs=chairs)
        for hour, chairs in [
            (8, (B,)),
            (9, (B,)),
            (10, (A, B)),
            (11, (A,)),
            (12, (A,)),
            (13, (A,)),
        ]
    ]


def test_candidate_visits_naive_until_rejected() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        candidate_visits(
            earliest=ny(11, 9, 8),
            until=dt.datetime(2026, 11, 9, 23),  # noqa: DTZ001 - the naive input under test
            duration=TWO_HOURS,
            calendar=CALENDAR,
            chairs=Chairs(order=(A,)),
            patient=PatientDiary(),
        )

    assert (raised.value.field, raised.value.message) == (
        "until",
        "until must be a timezone-aware datetime; got naive 2026-11-09T23:00:00",
    )
