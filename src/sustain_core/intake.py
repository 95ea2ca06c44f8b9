"""Batch intake: place a waitlist of new series into free capacity (OR-Tools CP-SAT).

``plan_one_by_one`` books the requests in the given order, each the earliest series
``series.plan_series`` finds around the existing bookings and the series already placed: what a
front desk booking them one by one gets. ``plan_batch_cpsat`` places them all at once with one
CP-SAT model that minimises the number left unplaced, then the total days waited, and gives
the solver the one-by-one plan as a hint, so it never returns anything worse. It is a numeric
module in the sense of ARCHITECTURE: pure (no Django, no clock, no I/O), with a solver
dependency.

The model is ``series_cpsat``'s, once per request, on the same discrete grid
(``series.candidate_visits`` with the existing bookings only; the patients are assumed free,
as there is no patient diary in a request):
- a boolean "placed" per request; visit v of request r has an order encoding "v starts by
  grid visit j" whose last boolean equals "placed", and one boolean per grid visit and free
  chair, summing to by(j) − by(j − 1), so a placed request takes exactly one chair and time
  per visit and an unplaced one none;
- min gap (at least max(``min_gap``, ``duration``)), ``max_gap``, ``max_span``, the first
  visit no later than ``earliest + horizon``, ``weekdays`` (grid filter) and ``max_per_week``
  (a linear sum per local week) as in ``series_cpsat``;
- chairs never double-booked: every visit lasts ``duration``, so a set of visits in one chair
  overlaps pairwise exactly when they all cover the latest start among them; per chair and per
  distinct start s, at most one chosen visit covers s (an exact clique cover of the overlaps).
Not supported: the patient's own diary and ``Availability`` (a request carries neither).

Objective, lexicographic in one integer sum: unplaced requests × a penalty larger than any
change in days waited, then Σ days waited (local date of the first visit − local date of
``earliest``), then a tie-break smaller than one day: Σ over chosen visits of (time rank ×
(number of requests − position of the request) × chairs + chair rank), so among plans with the
same days waited, visits are early, earlier requests (arrival order) get the earlier times,
and the first free chair in ``chairs`` order wins.
"""

import bisect
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ortools.sat.python import cp_model

from sustain_core.errors import ClinicalValueError, NoSeriesFound
from sustain_core.series import (
    Candidate,
    Interval,
    OpeningHours,
    SeriesRules,
    Slot,
    candidate_visits,
    plan_series,
)

_MICROSECOND = dt.timedelta(microseconds=1)
_WORKERS = 2
_SEED = 20_260_101


@dataclass(frozen=True)
class IntakeRequest:
    """One patient on the waitlist: a series under ``rules`` starting at or after ``earliest``
    (aware)."""

    patient: str
    earliest: dt.datetime
    rules: SeriesRules


@dataclass(frozen=True)
class IntakePlan:
    """Where the waitlist goes: ``series`` maps each placed patient to their slots in time
    order; ``unplaced`` lists the others in request order. ``days_waited`` is the sum over
    placed patients of (local date of the first visit − local date of ``earliest``).days.
    ``optimal`` is True only when CP-SAT proved the plan optimal; ``solver_status`` is CP-SAT's
    status name ("ONE_BY_ONE" for ``plan_one_by_one``)."""

    series: Mapping[str, tuple[Slot, ...]]
    unplaced: tuple[str, ...]
    days_waited: int
    optimal: bool
    solver_status: str


def plan_one_by_one(
    requests: Sequence[IntakeRequest],
    *,
    tz: ZoneInfo,
    hours: Sequence[OpeningHours],
    closed_dates: Collection[dt.date],
    chairs: Sequence[str],
    chair_busy: Mapping[str, Sequence[Interval]],
    duration: dt.timedelta,
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(days=60),
) -> IntakePlan:
    """Book the requests in order, each the earliest series ``plan_series`` finds around
    ``chair_busy`` and the series booked before it; one that does not fit is unplaced.

    Raises ClinicalValueError naming ``requests`` when a patient appears twice, and the errors
    of ``plan_series`` for inputs it rejects (NoSeriesFound only leaves a request unplaced).
    """
    _check_unique(requests)
    busy: dict[str, list[Interval]] = {chair: list(chair_busy.get(chair, ())) for chair in chairs}
    placed: dict[str, tuple[Slot, ...]] = {}
    for request in requests:
        rules = request.rules
        try:
            slots = plan_series(
                count=rules.count,
                min_gap=rules.min_gap,
                max_span=rules.max_span,
                duration=duration,
                earliest=request.earliest,
                tz=tz,
                hours=hours,
                closed_dates=closed_dates,
                chairs=chairs,
                chair_busy=busy,
                patient_busy=(),
                step=step,
                horizon=horizon,
                max_gap=rules.max_gap,
                weekdays=rules.weekdays,
                max_per_week=rules.max_per_week,
            )
        except NoSeriesFound:
            continue
        placed[request.patient] = slots
        for slot in slots:
            busy[slot.chair].append(Interval(start=slot.start, end=slot.end))
    return _plan(requests, placed, tz=tz, optimal=False, status="ONE_BY_ONE")


def plan_batch_cpsat(
    requests: Sequence[IntakeRequest],
    *,
    tz: ZoneInfo,
    hours: Sequence[OpeningHours],
    closed_dates: Collection[dt.date],
    chairs: Sequence[str],
    chair_busy: Mapping[str, Sequence[Interval]],
    duration: dt.timedelta,
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(days=60),
    time_limit_s: float = 10.0,
    hint: IntakePlan | None = None,
) -> IntakePlan:
    """Place all requests at once with CP-SAT (see the module), within ``time_limit_s``.

    ``hint`` (None: ``plan_one_by_one`` with the same inputs) is given to CP-SAT as its first
    solution; when CP-SAT ends without a better one, the hint is returned (with CP-SAT's
    status), so the result never has more unplaced requests, nor more days waited with as
    many, than the hint. CP-SAT runs with 2 workers and a fixed seed; a plan proven optimal is
    the unique optimum of the objective (up to identical requests), so it is the same on every
    run. Inputs are taken as ``plan_series`` takes them; ``hint`` must be a valid plan for
    them. Raises ClinicalValueError naming ``requests`` when a patient appears twice.
    """
    _check_unique(requests)
    inputs = {
        "tz": tz,
        "hours": hours,
        "closed_dates": closed_dates,
        "chairs": chairs,
        "chair_busy": chair_busy,
        "duration": duration,
        "step": step,
        "horizon": horizon,
    }
    if hint is None:
        hint = plan_one_by_one(requests, **inputs)  # type: ignore[arg-type]
    grids = [
        candidate_visits(
            earliest=request.earliest,
            until=request.earliest.astimezone(dt.UTC) + horizon + request.rules.max_span,
            duration=duration,
            tz=tz,
            hours=hours,
            closed_dates=closed_dates,
            chairs=chairs,
            chair_busy=chair_busy,
            patient_busy=(),
            step=step,
            weekdays=request.rules.weekdays,
        )
        for request in requests
    ]
    model = _Model(requests, grids, tz=tz, chairs=chairs, duration=duration, horizon=horizon)
    model.add_hint(hint)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_search_workers = _WORKERS
    solver.parameters.random_seed = _SEED
    status = solver.solve(model.model)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _plan(requests, hint.series, tz=tz, optimal=False, status=name)
    found = _plan(
        requests, model.chosen(solver), tz=tz, optimal=status == cp_model.OPTIMAL, status=name
    )
    fallback = _plan(requests, hint.series, tz=tz, optimal=False, status=name)
    # CP-SAT starts from the hint, so this keeps `found` (min keeps the first of equals).
    return min(found, fallback, key=lambda plan: (len(plan.unplaced), plan.days_waited))


class _Model:
    """The CP-SAT model of the module docstring, and how to read a plan back from it."""

    def __init__(
        self,
        requests: Sequence[IntakeRequest],
        grids: Sequence[Sequence[Candidate]],
        *,
        tz: ZoneInfo,
        chairs: Sequence[str],
        duration: dt.timedelta,
        horizon: dt.timedelta,
    ) -> None:
        self.model = cp_model.CpModel()
        self.grids = grids
        self.patients = [request.patient for request in requests]
        starts = sorted({candidate.start for grid in grids for candidate in grid})
        base = starts[0] if starts else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        offsets = [(start - base) // _MICROSECOND for start in starts]
        self.unit = math.gcd(*offsets) or 1
        self.base = base
        rank = {start: number for number, start in enumerate(starts)}
        # The tie-break of every plan stays below `scale`, one day waited.
        per_visit = max(len(starts), 1)
        scale = per_visit * sum(request.rules.count for request in requests) + 1
        penalty = scale * len(requests) * (horizon.days + 2)
        self.placed: list[cp_model.IntVar] = []
        self.by: list[list[list[cp_model.IntVar]]] = []
        self.allowed: list[list[list[int]]] = []
        self.seats: list[list[dict[tuple[int, str], cp_model.IntVar]]] = []
        objective: list[cp_model.LinearExprT] = []
        covering: dict[str, list[tuple[dt.datetime, dt.datetime, cp_model.IntVar]]] = defaultdict(
            list
        )
        for position, (request, grid) in enumerate(zip(requests, grids, strict=True)):
            placed = self.model.new_bool_var(f"placed{position}")
            self.placed.append(placed)
            objective.append(penalty * (1 - placed))
            first_day = request.earliest.astimezone(tz).date()
            if not self._request(position, request, grid, duration=duration, horizon=horizon):
                self.model.add(placed == 0)
                continue
            for visit, seats in enumerate(self.seats[position]):
                for (index, chair), seat in seats.items():
                    candidate = grid[index]
                    cost = rank[candidate.start]
                    if visit == 0:
                        waited = (candidate.start.astimezone(tz).date() - first_day).days
                        cost += scale * waited
                    objective.append(cost * seat)
                    covering[chair].append((candidate.start, candidate.end, seat))
        for chair_seats in covering.values():
            chair_seats.sort(key=lambda item: item[0])
            for point in sorted({start for start, _, _ in chair_seats}):
                over = [seat for start, end, seat in chair_seats if start <= point < end]
                if len(over) > 1:
                    self.model.add_at_most_one(over)
        self.model.minimize(sum(objective))

    def _position(self, instant: dt.datetime) -> int:
        return (instant - self.base) // _MICROSECOND // self.unit

    def _request(
        self,
        position: int,
        request: IntakeRequest,
        grid: Sequence[Candidate],
        *,
        duration: dt.timedelta,
        horizon: dt.timedelta,
    ) -> bool:
        """Add one request's visits and rules; False (and no visits) when a visit number has
        no grid visit at all."""
        model, rules, unit = self.model, request.rules, self.unit
        self.by.append([])
        self.allowed.append([])
        self.seats.append([])
        at = [self._position(candidate.start) for candidate in grid]
        gap = -(-(max(rules.min_gap, duration) // _MICROSECOND) // unit)
        top = None if rules.max_gap is None else rules.max_gap // _MICROSECOND // unit
        spread = (rules.max_span - duration) // _MICROSECOND // unit
        last_first = self._position(request.earliest.astimezone(dt.UTC) + horizon)
        first = at[0] if at else 0
        plans: list[list[int]] = []
        for visit in range(rules.count):
            latest = last_first + min(spread, visit * (spread if top is None else top))
            latest = min(latest, last_first + spread - (rules.count - 1 - visit) * gap)
            indices = [j for j, start in enumerate(at) if first + visit * gap <= start <= latest]
            if not indices:
                return False
            plans.append(indices)
        placed = self.placed[position]
        per_week: dict[dt.date, list[cp_model.IntVar]] = defaultdict(list)
        for visit, indices in enumerate(plans):
            by = [model.new_bool_var(f"by{position}_{visit}_{j}") for j in range(len(indices))]
            model.add(by[-1] == placed)
            seats: dict[tuple[int, str], cp_model.IntVar] = {}
            for j, index in enumerate(indices):
                if j:
                    model.add_implication(by[j - 1], by[j])
                here = []
                for chair in grid[index].chairs:
                    seat = seats[index, chair] = model.new_bool_var(
                        f"s{position}_{visit}_{index}_{chair}"
                    )
                    per_week[grid[index].week].append(seat)
                    here.append(seat)
                model.add(sum(here) == by[j] - (by[j - 1] if j else 0))
            self.by[position].append(by)
            self.allowed[position].append(indices)
            self.seats[position].append(seats)

        def link(source: int, target: int, shift: int) -> None:
            """by(source, j) ⇒ by(target, last allowed start ≤ start j + shift)."""
            positions = [at[index] for index in plans[target]]
            for j, index in enumerate(plans[source]):
                last = bisect.bisect_right(positions, at[index] + shift) - 1
                if last < 0:
                    model.add(self.by[position][source][j] == 0)
                else:
                    model.add_implication(
                        self.by[position][source][j], self.by[position][target][last]
                    )

        for visit in range(rules.count - 1):
            link(visit + 1, visit, -gap)
            if top is not None:
                link(visit, visit + 1, top)
        link(0, rules.count - 1, spread)
        if rules.max_per_week is not None:
            for week_seats in per_week.values():
                model.add(sum(week_seats) <= rules.max_per_week)
        return True

    def add_hint(self, hint: IntakePlan) -> None:
        """Hint every variable: the hinted series where it has them, unplaced elsewhere."""
        for position, placed in enumerate(self.placed):
            slots = hint.series.get(self.patients[position], ()) if self.seats[position] else ()
            index_of = {candidate.start: j for j, candidate in enumerate(self.grids[position])}
            chosen = [(index_of[slot.start], slot.chair) for slot in slots]
            self.model.add_hint(placed, bool(chosen))
            for visit, seats in enumerate(self.seats[position]):
                for (index, chair), seat in seats.items():
                    self.model.add_hint(seat, chosen[visit] == (index, chair) if chosen else False)
                for j, index in enumerate(self.allowed[position][visit]):
                    by = self.by[position][visit][j]
                    self.model.add_hint(by, bool(chosen) and chosen[visit][0] <= index)

    def chosen(self, solver: cp_model.CpSolver) -> dict[str, tuple[Slot, ...]]:
        """The series of the placed requests in the solver's answer."""
        series: dict[str, tuple[Slot, ...]] = {}
        for position, seats_by_visit in enumerate(self.seats):
            if not solver.boolean_value(self.placed[position]):
                continue
            grid = self.grids[position]
            series[self.patients[position]] = tuple(
                Slot(chair=chair, start=grid[index].start, end=grid[index].end)
                for seats in seats_by_visit
                for (index, chair), seat in seats.items()
                if solver.boolean_value(seat)
            )
        return series


def _check_unique(requests: Sequence[IntakeRequest]) -> None:
    patients = [request.patient for request in requests]
    twice = sorted({patient for patient in patients if patients.count(patient) > 1})
    if twice:
        raise ClinicalValueError(
            "requests", f"each patient may be on the waitlist once; twice: {', '.join(twice)}"
        )


def _plan(
    requests: Sequence[IntakeRequest],
    placed: Mapping[str, tuple[Slot, ...]],
    *,
    tz: ZoneInfo,
    optimal: bool,
    status: str,
) -> IntakePlan:
    series = {
        request.patient: tuple(sorted(placed[request.patient], key=lambda slot: slot.start))
        for request in requests
        if request.patient in placed
    }
    return IntakePlan(
        series=series,
        unplaced=tuple(request.patient for request in requests if request.patient not in placed),
        days_waited=sum(
            (
                series[request.patient][0].start.astimezone(tz).date()
                - request.earliest.astimezone(tz).date()
            ).days
            for request in requests
            if request.patient in series
        ),
        optimal=optimal,
        solver_status=status,
    )
