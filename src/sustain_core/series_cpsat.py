"""An exact solver for series planning (OR-Tools CP-SAT), to check ``series.plan_series``.

``plan_series`` finds the earliest series with a memoised search; this module states the same
problem as a constraint model and lets CP-SAT prove the optimum, so tests and the benchmark
can compare the two on generated instances. It is a numeric module in the sense of
ARCHITECTURE: pure (no Django, no clock, no I/O), but with a solver dependency.

The model works on the same discrete grid as ``plan_series``, from the same inputs (the
protocol's ``SeriesRules``, the ``SiteCalendar``, the ``Chairs`` and the ``PatientDiary``):
``series.candidate_visits`` lists every grid visit (inside the site's hours and the patient's
availability, not on a closed or blackout date, the patient free) with the chairs free for
it. Visit number v has
- an order encoding of its start: one boolean "visit v starts by grid visit j" per grid
  visit it can have, each implying the next (the last one holds);
- one boolean per grid visit and free chair, "visit v takes this chair at this time"; those
  of grid visit j sum to by(j) − by(j − 1), so each visit takes exactly one.
The rules are implications between the order booleans, so they propagate as clauses:
- consecutive starts at least max(``min_gap``, ``duration``) apart (the patient is never in
  two chairs at once): "v + 1 starts by t" implies "v starts by t − gap";
- at most ``max_gap`` apart: "v starts by t" implies "v + 1 starts by t + max_gap";
- the first visit no later than ``earliest + horizon`` (its only grid visits), and the last
  one ending within ``max_span`` of the first start: "the first starts by t" implies "the last
  starts by t + max_span − duration";
- at most ``max_per_week`` visits in one local Monday-to-Sunday week (a linear sum).

Objective: minimise Σ (W · time rank + chair rank) over the chosen visits, where time rank
is the grid visit's place in time order, chair rank its chair's place in ``chairs.order`` and
W = count × len(chairs), more than all chair ranks together can change. The series that fit
are closed under taking the earlier of two series visit by visit (gap, span and week limits
all survive it), so the smallest sum of time ranks is reached only by the componentwise
earliest series: the one with the earliest first start, then the earliest last end, and each
visit as early as it can be. Between chairs at that time the first free one in
``chairs.order`` wins. That is the tie-break ``plan_series`` uses, so the optimum is unique
and equal to its answer. CP-SAT runs with its default parameters (all cores) and a time
limit.
"""

import bisect
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from sustain_core.series import (
    Candidate,
    ChairId,
    Chairs,
    PatientDiary,
    SeriesRules,
    SiteCalendar,
    Slot,
    candidate_visits,
)
from sustain_core.staffing import Block

_MICROSECOND = dt.timedelta(microseconds=1)


class SolverStopped(RuntimeError):
    """CP-SAT stopped (at its time limit) before proving the optimum or that none exists."""


def solve_series_cpsat(
    rules: SeriesRules,
    *,
    earliest: dt.datetime,
    duration: dt.timedelta,
    calendar: SiteCalendar,
    chairs: Chairs,
    patient: PatientDiary,
    staff_blocks: Sequence[Block] = (),
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(days=60),
    time_limit_s: float = 30,
) -> tuple[Slot, ...] | None:
    """Return the series ``plan_series`` returns for the same inputs, solved exactly; or None.

    None means the model is infeasible (``plan_series`` raises NoSeriesFound). The inputs are
    ``plan_series``' and are not checked again: pass inputs it accepts. Raises SolverStopped
    when CP-SAT reaches ``time_limit_s`` seconds without an answer it has proven.
    """
    latest_first = earliest.astimezone(dt.UTC) + horizon
    candidates = candidate_visits(
        earliest=earliest,
        until=latest_first + rules.max_span,
        duration=duration,
        calendar=calendar,
        chairs=chairs,
        patient=patient,
        weekdays=rules.weekdays,
        staff_blocks=staff_blocks,
        step=step,
    )
    if not candidates:
        return None
    built = _build_model(
        candidates,
        _Times.of(
            candidates,
            gap=max(rules.min_gap, duration),
            max_gap=rules.max_gap,
            spread=rules.max_span - duration,
            latest_first=latest_first,
        ),
        count=rules.count,
        chairs=chairs.order,
        max_per_week=rules.max_per_week,
    )
    if built is None:
        return None
    model, seated = built
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        return None
    if status != cp_model.OPTIMAL:
        raise SolverStopped(
            f"CP-SAT stopped with status {solver.status_name(status)} after {time_limit_s} s"
        )
    return tuple(
        Slot(chair=chair, start=candidates[index].start, end=candidates[index].end)
        for seats in seated
        for (index, chair), var in seats.items()
        if solver.boolean_value(var)
    )


@dataclass(frozen=True)
class _Times:
    """Grid starts and limits as integers in the largest unit dividing every gap between
    starts (15 min on a plain 15-minute grid): small numbers keep the model small. Limits are
    rounded inwards, which is exact because every start lies on that unit."""

    at: tuple[int, ...]  # each grid visit's start, from the first one
    gap: int  # least between consecutive starts
    top: int | None  # most between consecutive starts
    spread: int  # most from the first start to the last
    last_first: int  # latest first start

    @classmethod
    def of(
        cls,
        candidates: Sequence[Candidate],
        *,
        gap: dt.timedelta,
        max_gap: dt.timedelta | None,
        spread: dt.timedelta,
        latest_first: dt.datetime,
    ) -> "_Times":
        base = candidates[0].start
        offsets = [(candidate.start - base) // _MICROSECOND for candidate in candidates]
        unit = math.gcd(*offsets) or 1
        return cls(
            at=tuple(offset // unit for offset in offsets),
            gap=-(-(gap // _MICROSECOND) // unit),
            top=None if max_gap is None else max_gap // _MICROSECOND // unit,
            spread=spread // _MICROSECOND // unit,
            last_first=(latest_first - base) // _MICROSECOND // unit,
        )


def _build_model(
    candidates: Sequence[Candidate],
    times: _Times,
    *,
    count: int,
    chairs: Sequence[ChairId],
    max_per_week: int | None,
) -> tuple[cp_model.CpModel, list[dict[tuple[int, ChairId], cp_model.IntVar]]] | None:
    """Return the model (see the module) and its chair booleans; None if a visit number has
    no grid visit at all."""
    at, gap, top, spread = times.at, times.gap, times.top, times.spread
    model = cp_model.CpModel()
    weight = count * len(chairs)
    rank = {chair: number for number, chair in enumerate(chairs)}
    allowed: list[list[int]] = []
    by_start: list[list[cp_model.IntVar]] = []  # by_start[v][j]: visit v starts by allowed[v][j]
    seated: list[dict[tuple[int, ChairId], cp_model.IntVar]] = []
    per_week: dict[dt.date, list[cp_model.IntVar]] = defaultdict(list)
    objective = []
    for visit in range(count):
        # The grid visits visit number v can have at all: `v` gaps after the first grid visit,
        # and early enough for the first visit to be on time and the rest to fit the span.
        latest = times.last_first + min(spread, visit * (spread if top is None else top))
        latest = min(latest, times.last_first + spread - (count - 1 - visit) * gap)
        indices = [index for index, start in enumerate(at) if visit * gap <= start <= latest]
        if not indices:
            return None
        by = [model.new_bool_var(f"by{visit}_{j}") for j in range(len(indices))]
        model.add(by[-1] == 1)
        seats: dict[tuple[int, ChairId], cp_model.IntVar] = {}
        for j, index in enumerate(indices):
            if j:
                model.add_implication(by[j - 1], by[j])
            here = []
            for chair in candidates[index].chairs:
                seat = seats[index, chair] = model.new_bool_var(f"v{visit}_{index}_{chair}")
                objective.append((weight * index + rank[chair]) * seat)
                per_week[candidates[index].week].append(seat)
                here.append(seat)
            model.add(sum(here) == by[j] - (by[j - 1] if j else 0))
        allowed.append(indices)
        by_start.append(by)
        seated.append(seats)

    def link(source: int, target: int, shift: int) -> None:
        """by(source, j) ⇒ by(target, last allowed start ≤ start j + shift); none: forbidden."""
        positions = [at[index] for index in allowed[target]]
        for j, index in enumerate(allowed[source]):
            last = bisect.bisect_right(positions, at[index] + shift) - 1
            if last < 0:
                model.add(by_start[source][j] == 0)
            else:
                model.add_implication(by_start[source][j], by_start[target][last])

    for visit in range(count - 1):
        link(visit + 1, visit, -gap)
        if top is not None:
            link(visit, visit + 1, top)
    link(0, count - 1, spread)
    if max_per_week is not None:
        for week_vars in per_week.values():
            model.add(sum(week_vars) <= max_per_week)
    model.minimize(sum(objective))
    return model, seated
