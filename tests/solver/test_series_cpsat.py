"""plan_series against an exact CP-SAT model of the same problem, on generated instances."""

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sustain_core.errors import NoSeriesFound
from sustain_core.series import (
    Availability,
    ChairId,
    Chairs,
    Interval,
    OpeningHours,
    PatientDiary,
    SeriesRules,
    SiteCalendar,
    Slot,
    plan_series,
)
from sustain_core.series_cpsat import SolverStopped, solve_series_cpsat
from sustain_core.staffing import Phase, StaffRules, Visit, VisitPhaseName, blocks

pytestmark = pytest.mark.solver  # CP-SAT runs: kept out of the 1-second core run

NY = ZoneInfo("America/New_York")
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
MORNING = (dt.time(8), dt.time(12))
SPLIT_DAY = ((dt.time(10), dt.time(14)), (dt.time(15), dt.time(17)))
# Mondays to start from: an autumn fortnight over the end of daylight saving time (1 November
# 2026), one over its start (8 March 2026), and a plain summer one.
FIRST_DAYS = (dt.date(2026, 10, 19), dt.date(2026, 3, 2), dt.date(2026, 6, 1))
INSTANCES = 60


def instance(seed: int) -> dict[str, Any]:
    """A small random site and request: 2–4 chairs, busy chairs and patient, random rules (as
    flat inputs: ``arguments`` makes them the planner's)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    chairs = [ChairId(number) for number in range(1, rng.randint(2, 4) + 1)]
    if rng.random() < 0.5:
        hours = [OpeningHours(day, dt.time(8), dt.time(14)) for day in range(6)]
    else:
        hours = [OpeningHours(day, dt.time(8), dt.time(12)) for day in range(5)]
        hours += [OpeningHours(day, dt.time(13), dt.time(17)) for day in range(5)]
    first_day = rng.choice(FIRST_DAYS) + dt.timedelta(days=rng.randint(0, 13))
    count = rng.randint(3, 6)
    min_gap = rng.choice((24 * HOUR, 48 * HOUR))
    horizon = dt.timedelta(days=rng.randint(5, 14))
    max_span = dt.timedelta(days=rng.randint(2 * (count - 1), 3 * count))
    days = (horizon + max_span).days + 2

    def somewhen() -> Interval:
        day = first_day + dt.timedelta(days=rng.randint(0, days))
        start = dt.datetime.combine(day, dt.time(rng.randint(7, 16), rng.choice((0, 30))), NY)
        return Interval(start=start, end=start + rng.choice((30, 60, 120, 240)) * MINUTE)

    availability = None
    if rng.random() < 0.5:
        availability = Availability(
            weekdays=rng.choice((None, frozenset(rng.sample(range(6), 4)))),
            windows=rng.choice(((), (MORNING,), SPLIT_DAY)),
            blackout_dates=frozenset(
                first_day + dt.timedelta(days=rng.randint(0, days))
                for _ in range(rng.randint(0, 2))
            ),
        )
    return {
        "count": count,
        "min_gap": min_gap,
        "max_span": max_span,
        "duration": rng.choice((HOUR, 90 * MINUTE, 2 * HOUR)),
        "earliest": dt.datetime.combine(first_day, dt.time(rng.choice((0, 8, 10, 13))), NY),
        "tz": NY,
        "hours": hours,
        "closed_dates": frozenset(
            first_day + dt.timedelta(days=rng.randint(0, days)) for _ in range(rng.randint(0, 2))
        ),
        "chairs": chairs,
        "chair_busy": {
            chair: [somewhen() for _ in range(rng.randint(5, 4 * days))] for chair in chairs
        },
        "patient_busy": [somewhen() for _ in range(rng.randint(0, 4))],
        "step": rng.choice((30 * MINUTE, HOUR)),
        "horizon": horizon,
        "max_gap": rng.choice(
            (None, min_gap + 24 * HOUR, min_gap + 48 * HOUR, min_gap + 72 * HOUR)
        ),
        "weekdays": rng.choice((None, None, frozenset(rng.sample(range(6), rng.randint(3, 5))))),
        "max_per_week": rng.choice((None, None, 2, 3)),
        "availability": availability,
    }


def arguments(inputs: dict[str, Any]) -> dict[str, Any]:
    """The flat inputs of ``instance`` as ``plan_series`` and ``solve_series_cpsat`` take them."""
    return {
        "rules": SeriesRules(
            count=inputs["count"],
            min_gap=inputs["min_gap"],
            max_span=inputs["max_span"],
            max_gap=inputs["max_gap"],
            weekdays=inputs["weekdays"],
            max_per_week=inputs["max_per_week"],
        ),
        "earliest": inputs["earliest"],
        "duration": inputs["duration"],
        "calendar": SiteCalendar(
            tz=inputs["tz"], hours=tuple(inputs["hours"]), closed_dates=inputs["closed_dates"]
        ),
        "chairs": Chairs(order=tuple(inputs["chairs"]), busy=inputs["chair_busy"]),
        "patient": PatientDiary(busy=inputs["patient_busy"], availability=inputs["availability"]),
        "staff_blocks": inputs.get("staff_blocks", ()),
        "step": inputs["step"],
        "horizon": inputs["horizon"],
    }


def planned(inputs: dict[str, Any]) -> tuple[Slot, ...] | None:
    try:
        return plan_series(**arguments(inputs))
    except NoSeriesFound:
        return None


def solved(inputs: dict[str, Any], time_limit_s: float = 30) -> tuple[Slot, ...] | None:
    return solve_series_cpsat(**arguments(inputs), time_limit_s=time_limit_s)


def test_generated_instances_cover_both_outcomes() -> None:
    outcomes = [planned(instance(seed)) is None for seed in range(INSTANCES)]

    assert (outcomes.count(False), outcomes.count(True)) == (40, 20)


@pytest.mark.parametrize("seed", range(INSTANCES))
def test_plan_series_matches_cpsat(seed: int) -> None:
    inputs = instance(seed)

    assert planned(inputs) == solved(inputs)


def test_cpsat_without_any_grid_visit_is_none() -> None:
    inputs = instance(0) | {"closed_dates": frozenset(), "hours": []}

    assert solved(inputs) is None


def test_cpsat_when_the_last_visit_cannot_reach_the_grid_is_none() -> None:
    # A one-day horizon and the span leave the sixth visit no grid visit at all.
    inputs = instance(0) | {"count": 6, "horizon": dt.timedelta(days=1)}
    inputs |= {"max_span": dt.timedelta(days=2), "min_gap": 24 * HOUR}

    assert (planned(inputs), solved(inputs)) == (None, None)


def test_cpsat_stopped_by_its_time_limit_raises() -> None:
    inputs = instance(1)

    with pytest.raises(SolverStopped) as raised:
        solved(inputs, time_limit_s=0.0)

    assert str(raised.value) == "CP-SAT stopped with status UNKNOWN after 0.0 s"


STAFF_RULES = StaffRules(
    patients_per_nurse={
        VisitPhaseName.CHECK_IN: 2,
        VisitPhaseName.INFUSION: 4,
        VisitPhaseName.RECOVERY: 6,
    },
    prescriber_phases=frozenset({VisitPhaseName.INFUSION}),
)


def staffed_instance(seed: int) -> dict[str, Any]:
    """``instance`` with staff: random nurse and prescriber shifts and other patients' visits,
    every chair visit a 15 min check-in, infusion and recovery."""
    inputs = instance(seed)
    rng = random.Random(-seed)  # noqa: S311 - reproducible test data, not secrets
    duration: dt.timedelta = inputs["duration"]
    phases = (
        Phase(name=VisitPhaseName.CHECK_IN, offset=dt.timedelta(0), length=15 * MINUTE),
        Phase(name=VisitPhaseName.INFUSION, offset=15 * MINUTE, length=duration / 2 - 15 * MINUTE),
        Phase(name=VisitPhaseName.RECOVERY, offset=duration / 2, length=duration / 2),
    )
    earliest: dt.datetime = inputs["earliest"]
    days = 40

    def shifts(most: int, length_hours: tuple[int, ...]) -> list[Interval]:
        found = []
        for day in range(days):
            for _ in range(rng.randint(most - 2, most)):
                start = dt.datetime.combine(
                    earliest.date() + dt.timedelta(days=day), dt.time(rng.randint(7, 13)), NY
                )
                found.append(Interval(start=start, end=start + rng.choice(length_hours) * HOUR))
        return found

    others = [
        Visit(start=interval.start, phases=phases)
        for busy in inputs["chair_busy"].values()
        for interval in busy
        if rng.random() < 0.3
    ]
    end = earliest + dt.timedelta(days=days)
    staff_blocks = blocks(
        STAFF_RULES,
        phases=phases,
        nurse_shifts=shifts(4, (6, 8, 10)),
        prescriber_shifts=shifts(2, (4, 6, 8)),
        booked=others,
        start=earliest,
        end=end,
    )
    return inputs | {"staff_blocks": staff_blocks}


def test_staffed_instances_cover_both_outcomes_and_staff_changes_most() -> None:
    seeds = range(INSTANCES // 2)
    outcomes = [planned(staffed_instance(seed)) is None for seed in seeds]
    changed = [planned(staffed_instance(seed)) != planned(instance(seed)) for seed in seeds]

    assert (outcomes.count(False), outcomes.count(True)) == (12, 18)
    assert changed.count(True) == 21


@pytest.mark.parametrize("seed", range(INSTANCES // 2))
def test_staffed_plan_series_matches_cpsat(seed: int) -> None:
    inputs = staffed_instance(seed)

    assert planned(inputs) == solved(inputs)
