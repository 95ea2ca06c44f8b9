"""Batch intake: place a waitlist of new series into free chairs and staff time.

Each request carries its own visit template, ``phases`` (e.g. ``Protocol.visit_phases``: the
chair is held from the start of the first phase to the end of the last), and the chairs its
visits may use, in preference order (e.g. only the chairs with the protocol's
``visit.chair_needs``; None: every chair of the site). Staffing is ``staffing``'s: under
``StaffRules`` a patient in a phase at 1:r takes 1/r of a nurse, the nurses on shift must cover
the load of all visits under way, and a prescriber must be on site in the prescriber phases
(the infusion: doses under medical supervision [Sanacora2017-medscape]). The load counts the
visits already ``booked`` and every visit the plan places, across the whole waitlist. The
site (``IntakeSite``) brings its calendar, chairs, shifts and booked visits. Chair occupancy
comes from ``chairs.busy`` only; ``booked`` adds nurse and prescriber needs.

A plan is judged lexicographically: fewer requests left unplaced first, then fewer days waited
in all (local date of the first visit − local date of ``earliest``). Three planners:

``plan_one_by_one`` books the requests in the given order, each the earliest series
``series.plan_series`` finds in its chairs around ``chairs.busy`` and the series already placed,
clear of the ``staffing.blocks`` of its phases given the shifts, the booked visits and the
visits placed before it: what a front desk booking them one by one gets. A series' own visits
never overlap, so this keeps the staffing of the whole plan.

``plan_batch_cpsat`` places them all at once and proves how far from the best it can be:
1. the *alone* series: each request's earliest series with no other newcomer (its ``plan_series``
   on the site as it is). No plan can do better for that patient, so (the requests with no
   series alone, the sum of the others' days waited alone) is a valid lower bound on the whole
   problem: every plan leaves at least those unplaced, and one that leaves no more places
   exactly the others, each at best as early as alone. It is the plan's ``bound``; CP-SAT's
   bound on the full model below is not used: after 30 s on the bench it proved nothing;
2. a ruin-and-recreate search from the hint (one by one): a round picks a request left out (or
   one waiting longer than alone), takes out a few series that overlap its window, books it
   first and the others again one by one, and keeps the result when it is no worse. Every series
   it finds becomes a *column* of its patient;
3. a set-packing CP-SAT model over the columns (at most one per patient) with the exact chair
   and nurse constraints of the full model below, hinted with the search's best plan, picks the
   best combination. Its optimum is only the best over these columns, not a bound: the bound is
   step 1's.
Every step is deterministic: a seeded random generator with a fixed number of rounds, and one
CP-SAT worker with a fixed seed and a deterministic time limit.

``plan_batch_full`` is the earlier exact model of the whole grid, kept for comparison: its
CP-SAT bound is valid too, but on the bench instance it proves little and its result varies with
the machine's speed (a wall-clock limit and two workers). It is
``series_cpsat``'s model, once per request, on the same discrete grid (``series.candidate_visits``
with the request's visit length and chairs, ``chairs.busy``, and the ``staffing.blocks`` of its
phases given the shifts and the booked visits alone, so a grid visit that would lack a
prescriber, or a nurse to spare even as the only new visit, is left out, and so is one the
request's patient ``diary`` rules out: their other visits, a start under
``series.INFUSION_GAP_FLOOR`` from one of their infusions, their availability):
- a boolean "placed" per request; visit v of request r has an order encoding "v starts by
  grid visit j" whose last boolean equals "placed", and one boolean per grid visit and free
  chair, summing to by(j) − by(j − 1), so a placed request takes exactly one chair and time
  per visit and an unplaced one none;
- min gap (at least max(``min_gap``, the request's visit length)), ``max_gap``, ``max_span``
  (the last visit ends within it), the first visit no later than ``earliest + horizon``,
  ``weekdays`` (grid filter) and ``max_per_week`` (a linear sum per local week) as in
  ``series_cpsat``;
- chairs never double-booked: visits are intervals on one line, so a set of visits in one
  chair (of any lengths) overlaps pairwise exactly when every one of them covers the latest
  start among them; per chair and per distinct start s, at most one chosen visit covers s (an
  exact clique cover of the overlaps);
- nurses never over-committed: loads are counted in units of 1/L nurse, L the least common
  multiple of the ratios (a phase at 1:r weighs L/r), and the spare at instant t is L × the
  nurses on shift − the booked visits' load (``staffing.profile``). The chosen visits' load
  only rises where one of their counted phases starts, and the spare only falls where a
  profile segment starts (a booked phase starts, a shift ends), so one constraint at each such
  instant t is exact: Σ weight × chosen over the grid visits of all requests whose counted
  phase covers t ≤ spare at t. It is left out where it cannot bind: one visit per request
  covers t at most (a series' visits never overlap), and the heaviest such choice fits;
- a prescriber is only needed on site, not shared out, so the grid filter alone keeps it.
The set-packing model keeps the last three the same way over its columns' visits (each column
comes from ``plan_series``, which keeps the series rules, the diary and the prescriber).

Objective of both models, lexicographic in one integer sum: unplaced requests × a penalty
larger than any change in days waited, then Σ days waited, then a tie-break smaller than one
day: Σ over chosen visits of (rank of the start among all starts × number of site chairs + rank
of the chair in the request's chairs), which favours early starts and, for a visit at a given
start, the chairs the request lists first. Pure (no Django, no clock, no I/O): a numeric module
in the sense of ARCHITECTURE, with a solver dependency.
"""

import bisect
import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import TypeVar
from zoneinfo import ZoneInfo

from ortools.sat.python import cp_model

from sustain_core.errors import ClinicalValueError, NoSeriesFound
from sustain_core.series import (
    Candidate,
    ChairId,
    Chairs,
    Interval,
    PatientDiary,
    SeriesRules,
    SiteCalendar,
    Slot,
    candidate_visits,
    plan_series,
)
from sustain_core.staffing import Phase, Segment, StaffRules, Visit, blocks, profile

_MICROSECOND = dt.timedelta(microseconds=1)
_ZERO = dt.timedelta(0)
# A grid visit lies within one local day up to the date of its window's end (series._Calendar).
_DAY_MARGIN = dt.timedelta(days=2)
_WORKERS = 2
_SEED = 20_260_101
# Ruin and recreate: the default number of rounds, and at most this many series taken out in
# one (with the request the round is for).
ROUNDS = 300
_RUIN = 4

_T = TypeVar("_T")
# The default: a site without staffing rules, where nothing is checked.
NO_STAFF_RULES = StaffRules()


@dataclass(frozen=True)
class IntakeRequest:
    """One patient on the waitlist: a series under ``rules`` starting at or after ``earliest``
    (aware), each visit following ``phases`` (contiguous from offset 0, e.g.
    ``Protocol.visit_phases``) in one of ``chairs`` (preference order; None: every chair of
    the site), as the patient's ``diary`` allows (e.g. their visits of an earlier course,
    whose starts are ``infusions`` too)."""

    patient: str
    earliest: dt.datetime
    rules: SeriesRules
    phases: tuple[Phase, ...]
    chairs: tuple[ChairId, ...] | None = None
    diary: PatientDiary = field(default_factory=PatientDiary)

    @property
    def visit_length(self) -> dt.timedelta:
        """Chair time for one visit: until the end of the last phase."""
        last = self.phases[-1]
        return last.offset + last.length


@dataclass(frozen=True)
class IntakeSite:
    """The site a waitlist is placed in: its ``calendar``; its ``chairs``, every chair in
    preference order with the times they are taken; the slot grid's ``step`` and the
    ``horizon`` within which a first visit must start (as in ``plan_series``); the
    ``staff_rules`` with the ``nurse_shifts`` and ``prescriber_shifts``; and the visits
    already ``booked`` (their staff needs; their chair time is in ``chairs.busy``)."""

    calendar: SiteCalendar
    chairs: Chairs
    step: dt.timedelta = dt.timedelta(minutes=15)
    horizon: dt.timedelta = dt.timedelta(days=60)
    staff_rules: StaffRules = NO_STAFF_RULES
    nurse_shifts: Sequence[Interval] = ()
    prescriber_shifts: Sequence[Interval] = ()
    booked: Sequence[Visit] = ()


@dataclass(frozen=True)
class IntakePlan:
    """Where the waitlist goes: ``series`` maps each placed patient to their slots in time
    order; ``unplaced`` lists the others in request order. ``days_waited`` is the sum over
    placed patients of (local date of the first visit − local date of ``earliest``).days.

    ``bound`` is a proven lower bound on (unplaced, days waited) over every plan of the same
    inputs, read lexicographically: no plan leaves fewer than ``bound[0]`` unplaced, and none
    that leaves exactly that many waits fewer than ``bound[1]`` days. (0, 0) when the planner
    proves nothing (``plan_one_by_one``). ``optimal`` is True only when the plan is proven best;
    ``solver_status`` says how it was found ("ONE_BY_ONE" for ``plan_one_by_one``, CP-SAT's
    status name for ``plan_batch_full``, "OPTIMAL" or "FEASIBLE" for ``plan_batch_cpsat``:
    whether it meets its bound)."""

    series: Mapping[str, tuple[Slot, ...]]
    unplaced: tuple[str, ...]
    days_waited: int
    optimal: bool
    solver_status: str
    bound: tuple[int, int] = (0, 0)

    @property
    def gap(self) -> tuple[int, int]:
        """How far the plan may be from the best: (unplaced − ``bound[0]``, days waited −
        ``bound[1]``). The days part bounds the days lost only when the first part is 0."""
        return len(self.unplaced) - self.bound[0], self.days_waited - self.bound[1]


def plan_one_by_one(requests: Sequence[IntakeRequest], site: IntakeSite) -> IntakePlan:
    """Book the requests in order, each the earliest series ``plan_series`` finds in its chairs
    around the site's ``chairs.busy`` and the series booked before it, clear of the
    ``staffing.blocks`` of its phases given the site's shifts, its ``booked`` visits and the
    visits booked before it, as its patient's ``diary`` allows; one that does not fit is
    unplaced.

    Raises ClinicalValueError naming ``requests`` for an invalid request (see
    ``plan_batch_cpsat``), and the errors of ``plan_series`` for inputs it rejects
    (NoSeriesFound only leaves a request unplaced).
    """
    _check_requests(requests, site.chairs.order)
    booker = _Booker(requests, site)
    placed: dict[str, tuple[Slot, ...]] = {}
    for request in requests:
        slots = booker.earliest(request, placed)
        if slots is not None:
            placed[request.patient] = slots
    return _plan(requests, placed, tz=site.calendar.tz, optimal=False, status="ONE_BY_ONE")


def plan_batch_cpsat(
    requests: Sequence[IntakeRequest],
    site: IntakeSite,
    *,
    time_limit_s: float = 2.0,
    hint: IntakePlan | None = None,
    rounds: int = ROUNDS,
) -> IntakePlan:
    """Place all requests at once in the ``site`` (see the module): the alone series and the
    bound, ``rounds`` rounds of ruin and recreate from ``hint``, then the set-packing model
    over every series found, within ``time_limit_s`` of CP-SAT's deterministic time (about
    seconds on one core; the result does not depend on the machine's speed).

    ``hint`` (None: ``plan_one_by_one`` with the same inputs) is where the search starts, so
    the result never has more unplaced requests, nor more days waited with as many, than the
    hint. Inputs are taken as ``plan_series`` takes them; ``hint`` must be a valid plan for
    them. The plan's ``bound`` is the alone bound; it is ``optimal`` ("OPTIMAL") when it meets
    it, else "FEASIBLE".

    Raises ClinicalValueError naming ``requests`` when a patient appears twice, an
    ``earliest`` is naive, the ``phases`` of a request are empty or do not follow one another
    from offset 0 with lengths above 0, or its ``chairs`` are not one or more of ``chairs``,
    each once.
    """
    tz = site.calendar.tz
    _check_requests(requests, site.chairs.order)
    if hint is None:
        hint = plan_one_by_one(requests, site)
    # Each patient's series found so far, in the order found (a dict as an ordered set).
    columns: dict[str, dict[tuple[Slot, ...], None]] = {r.patient: {} for r in requests}
    booker = _Booker(requests, site)
    alone: dict[str, int] = {}
    for request in requests:
        slots = booker.earliest(request, {})
        if slots is not None:
            alone[request.patient] = _waited(request, slots, tz)
            columns[request.patient][slots] = None
    bound = (len(requests) - len(alone), sum(alone.values()))
    for patient, slots in hint.series.items():
        columns[patient][slots] = None
    best = _improve(
        requests, booker, dict(hint.series), alone=alone, columns=columns, rounds=rounds
    )
    packed = _pack(requests, site, columns, best, time_limit_s)
    plans = [_plan(requests, found, tz=tz, optimal=False, status="") for found in (packed, best)]
    # CP-SAT starts from the hint `best`, so this keeps `packed` (min keeps the first of equals).
    plan = min(plans, key=lambda plan: (len(plan.unplaced), plan.days_waited))
    optimal = (len(plan.unplaced), plan.days_waited) == bound
    return replace(
        plan, optimal=optimal, solver_status="OPTIMAL" if optimal else "FEASIBLE", bound=bound
    )


def _improve(
    requests: Sequence[IntakeRequest],
    booker: "_Booker",
    placed: dict[str, tuple[Slot, ...]],
    *,
    alone: Mapping[str, int],
    columns: Mapping[str, dict[tuple[Slot, ...], None]],
    rounds: int,
) -> dict[str, tuple[Slot, ...]]:
    """Ruin and recreate, from ``placed``, for ``rounds`` rounds (see the module); return the
    best plan found and add every series found to ``columns``. Stops early when every request
    that fits alone is placed as early as alone (``alone``: its days waited then)."""
    site = booker.site
    tz = site.calendar.tz
    by_patient = {request.patient: request for request in requests}
    rng = random.Random(_SEED)  # noqa: S311 - a reproducible search, not a secret
    score = _score(requests, placed, tz)
    for _ in range(rounds):
        unplaced = [patient for patient in alone if patient not in placed]
        targets = unplaced or [
            patient
            for patient, slots in placed.items()
            if _waited(by_patient[patient], slots, tz) > alone[patient]
        ]
        if not targets:
            break
        target = rng.choice(targets)
        request = by_patient[target]
        start, end = request.earliest, _until(request, site.horizon) + _DAY_MARGIN
        near = [
            patient
            for patient, slots in placed.items()
            if patient != target and slots[0].start < end and start < slots[-1].end
        ]
        ruined = rng.sample(near, min(rng.randint(1, _RUIN), len(near)))
        trial = {
            patient: slots
            for patient, slots in placed.items()
            if patient != target and patient not in ruined
        }
        for patient in (target, *ruined, *(other for other in unplaced if other != target)):
            slots = booker.earliest(by_patient[patient], trial)
            if slots is not None:
                trial[patient] = slots
                columns[patient][slots] = None
        trial_score = _score(requests, trial, tz)
        if trial_score <= score:
            placed, score = trial, trial_score
    return placed


def _pack(
    requests: Sequence[IntakeRequest],
    site: IntakeSite,
    columns: Mapping[str, Collection[tuple[Slot, ...]]],
    hint: Mapping[str, tuple[Slot, ...]],
    time_limit_s: float,
) -> dict[str, tuple[Slot, ...]]:
    """Solve the set-packing model over ``columns`` (see the module), hinted with ``hint``;
    return its plan, or ``hint`` when CP-SAT finds none in time."""
    chairs, tz = site.chairs.order, site.calendar.tz
    model = cp_model.CpModel()
    starts = sorted({slot.start for found in columns.values() for s in found for slot in s})
    rank = {start: number for number, start in enumerate(starts)}
    scale = sum(r.rules.count for r in requests) * max(len(starts), 1) * len(chairs) + 1
    penalty = scale * (len(requests) * (site.horizon.days + 2) + 1)
    objective: list[cp_model.LinearExprT] = []
    covering: dict[ChairId, list[tuple[dt.datetime, dt.datetime, cp_model.IntVar]]] = defaultdict(
        list
    )
    loads: list[tuple[dt.datetime, dt.datetime, tuple[int, int, cp_model.IntVar]]] = []
    unit = math.lcm(*site.staff_rules.patients_per_nurse.values())
    chosen: list[tuple[str, tuple[Slot, ...], cp_model.IntVar]] = []
    for position, request in enumerate(requests):
        preference = {chair: number for number, chair in enumerate(_chairs(request, chairs))}
        counted = _counted(request, site.staff_rules, unit)
        picks: list[cp_model.IntVar] = []
        for slots in columns[request.patient]:
            pick = model.new_bool_var(f"x{position}_{len(picks)}")
            picks.append(pick)
            chosen.append((request.patient, slots, pick))
            model.add_hint(pick, hint.get(request.patient) == slots)
            cost = scale * _waited(request, slots, tz)
            for slot in slots:
                cost += rank[slot.start] * len(chairs) + preference[slot.chair]
                covering[slot.chair].append((slot.start, slot.end, pick))
                loads.extend(
                    (slot.start + begins, slot.start + ends, (position, weight, pick))
                    for begins, ends, weight in counted
                )
            objective.append(cost * pick)
        model.add_at_most_one(picks)
        objective.append(penalty * (1 - sum(picks)))
    _add_chairs(model, covering)
    if loads:
        _add_loads(model, loads, _segments(requests, site), unit)
    model.minimize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = time_limit_s
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = _SEED
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return dict(hint)
    return {patient: slots for patient, slots, pick in chosen if solver.boolean_value(pick)}


def plan_batch_full(
    requests: Sequence[IntakeRequest],
    site: IntakeSite,
    *,
    time_limit_s: float = 10.0,
    hint: IntakePlan | None = None,
) -> IntakePlan:
    """Place all requests at once in the ``site`` with the full CP-SAT model of the grid (see
    the module), within ``time_limit_s`` of wall-clock time, for comparison.

    ``hint`` (None: ``plan_one_by_one`` with the same inputs) is given to CP-SAT as its first
    solution; when CP-SAT ends without a better one, the hint is returned (with CP-SAT's
    status), so the result never has more unplaced requests, nor more days waited with as
    many, than the hint. CP-SAT runs with 2 workers and a fixed seed; plans with the same
    objective may differ in their slots. The plan's ``bound`` is CP-SAT's bound on the model,
    read back as (unplaced, days waited); ``optimal`` when CP-SAT proves its plan optimal.
    Inputs and errors as ``plan_batch_cpsat``'s.
    """
    chairs, tz, horizon, staff_rules = (
        site.chairs.order,
        site.calendar.tz,
        site.horizon,
        site.staff_rules,
    )
    _check_requests(requests, chairs)
    if hint is None:
        hint = plan_one_by_one(requests, site)
    grids: list[list[Candidate]] = []
    segments: list[Segment] = []
    if requests:
        segments = _segments(requests, site)
        # One window for the whole waitlist: every grid visit lies inside it.
        start, end = _window(requests, site)
        # Requests of one visit template share its staff blocks.
        staff_blocks = {
            phases: blocks(
                staff_rules,
                phases=phases,
                nurse_shifts=site.nurse_shifts,
                prescriber_shifts=site.prescriber_shifts,
                booked=site.booked,
                start=start,
                end=end,
            )
            for phases in {request.phases for request in requests}
        }
        grids = [
            candidate_visits(
                earliest=request.earliest,
                until=_until(request, horizon),
                duration=request.visit_length,
                calendar=site.calendar,
                chairs=Chairs(order=_chairs(request, chairs), busy=site.chairs.busy),
                patient=request.diary,
                weekdays=request.rules.weekdays,
                staff_blocks=staff_blocks[request.phases],
                step=site.step,
            )
            for request in requests
        ]
    model = _Model(requests, grids, tz=tz, chairs=chairs, horizon=horizon)
    model.add_nurse_capacity(requests, staff_rules, segments)
    model.add_hint(hint)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_search_workers = _WORKERS
    solver.parameters.random_seed = _SEED
    status = solver.solve(model.model)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _plan(requests, hint.series, tz=tz, optimal=False, status=name)
    # Every plan's objective is penalty × unplaced + scale × days waited + a tie-break below
    # scale, the days and tie-break below penalty.
    lowest = math.ceil(solver.best_objective_bound)
    unplaced = lowest // model.penalty
    bound = (unplaced, (lowest - unplaced * model.penalty) // model.scale)
    found = _plan(
        requests, model.chosen(solver), tz=tz, optimal=status == cp_model.OPTIMAL, status=name
    )
    fallback = _plan(requests, hint.series, tz=tz, optimal=False, status=name)
    # CP-SAT starts from the hint, so this keeps `found` (min keeps the first of equals).
    plan = min(found, fallback, key=lambda plan: (len(plan.unplaced), plan.days_waited))
    return replace(plan, bound=bound)


class _Model:
    """The CP-SAT model of the module docstring, and how to read a plan back from it."""

    def __init__(
        self,
        requests: Sequence[IntakeRequest],
        grids: Sequence[Sequence[Candidate]],
        *,
        tz: ZoneInfo,
        chairs: tuple[ChairId, ...],
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
        # The tie-break of every plan stays below `scale`, one day waited: each chosen visit
        # adds less than len(starts) × len(chairs).
        visits = sum(request.rules.count for request in requests)
        scale = visits * max(len(starts), 1) * len(chairs) + 1
        # Above scale × the most days all requests can wait, plus the tie-break.
        penalty = scale * (len(requests) * (horizon.days + 2) + 1)
        self.penalty, self.scale = penalty, scale
        self.placed: list[cp_model.IntVar] = []
        self.by: list[list[list[cp_model.IntVar]]] = []
        self.allowed: list[list[list[int]]] = []
        self.seats: list[list[dict[tuple[int, ChairId], cp_model.IntVar]]] = []
        # Filled by add_nurse_capacity.
        self.used: list[dict[int, cp_model.IntVar]] = [{} for _ in requests]
        objective: list[cp_model.LinearExprT] = []
        covering: dict[ChairId, list[tuple[dt.datetime, dt.datetime, cp_model.IntVar]]] = (
            defaultdict(list)
        )
        for position, (request, grid) in enumerate(zip(requests, grids, strict=True)):
            placed = self.model.new_bool_var(f"placed{position}")
            self.placed.append(placed)
            objective.append(penalty * (1 - placed))
            first_day = request.earliest.astimezone(tz).date()
            if not self._request(position, request, grid, horizon=horizon):
                self.model.add(placed == 0)
                continue
            preference = {chair: number for number, chair in enumerate(_chairs(request, chairs))}
            for visit, seats in enumerate(self.seats[position]):
                for (index, chair), seat in seats.items():
                    candidate = grid[index]
                    cost = rank[candidate.start] * len(chairs) + preference[chair]
                    if visit == 0:
                        waited = (candidate.start.astimezone(tz).date() - first_day).days
                        cost += scale * waited
                    objective.append(cost * seat)
                    covering[chair].append((candidate.start, candidate.end, seat))
        _add_chairs(self.model, covering)
        self.model.minimize(sum(objective))

    def _position(self, instant: dt.datetime) -> int:
        return (instant - self.base) // _MICROSECOND // self.unit

    def _request(
        self,
        position: int,
        request: IntakeRequest,
        grid: Sequence[Candidate],
        *,
        horizon: dt.timedelta,
    ) -> bool:
        """Add one request's visits and rules; False (and no visits) when a visit number has
        no grid visit at all."""
        model, rules, unit = self.model, request.rules, self.unit
        length = request.visit_length
        self.by.append([])
        self.allowed.append([])
        self.seats.append([])
        at = [self._position(candidate.start) for candidate in grid]
        gap = -(-(max(rules.min_gap, length) // _MICROSECOND) // unit)
        top = None if rules.max_gap is None else rules.max_gap // _MICROSECOND // unit
        spread = (rules.max_span - length) // _MICROSECOND // unit
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
            seats: dict[tuple[int, ChairId], cp_model.IntVar] = {}
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

    def add_nurse_capacity(
        self, requests: Sequence[IntakeRequest], rules: StaffRules, segments: Sequence[Segment]
    ) -> None:
        """Add the cross-request nurse constraints of the module docstring: at each instant
        where a counted phase of a grid visit or a ``segments`` boundary falls, the grid
        visits whose counted phase covers it fit the nurses to spare."""
        if not rules.patients_per_nurse:
            return
        unit = math.lcm(*rules.patients_per_nurse.values())
        phases: list[tuple[dt.datetime, dt.datetime, tuple[int, int, cp_model.IntVar]]] = []
        for position, request in enumerate(requests):
            counted = _counted(request, rules, unit)
            # Whether grid visit `index` is one of the series' visits (one at most: the gap
            # keeps them apart).
            per_index: dict[int, list[cp_model.IntVar]] = defaultdict(list)
            for seats in self.seats[position]:
                for (index, _), seat in seats.items():
                    per_index[index].append(seat)
            for index, index_seats in per_index.items():
                used = self.used[position][index] = self.model.new_bool_var(f"u{position}_{index}")
                self.model.add(sum(index_seats) == used)
                start = self.grids[position][index].start
                phases.extend(
                    (start + begins, start + ends, (position, weight, used))
                    for begins, ends, weight in counted
                )
        _add_loads(self.model, phases, segments, unit)

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
            hinted = {index for index, _ in chosen}
            for index, used in self.used[position].items():
                self.model.add_hint(used, index in hinted)

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


def _add_chairs(
    model: cp_model.CpModel,
    covering: Mapping[ChairId, Sequence[tuple[dt.datetime, dt.datetime, cp_model.IntVar]]],
) -> None:
    """No chair double-booked: per chair and per start of a visit that may sit in it, at most
    one of the (start, end, chosen) visits covering that start is chosen (see the module)."""
    for chair_seats in covering.values():
        points = {start for start, _, _ in chair_seats}
        for _, over in _covering(chair_seats, points):
            if len(over) > 1:
                model.add_at_most_one(seat for _, _, seat in over)


def _add_loads(
    model: cp_model.CpModel,
    phases: Sequence[tuple[dt.datetime, dt.datetime, tuple[int, int, cp_model.IntVar]]],
    segments: Sequence[Segment],
    unit: int,
) -> None:
    """Nurses never over-committed (see the module): at each instant where one of the counted
    ``phases`` (start, end, (request position, weight in 1/``unit`` nurse, chosen)) or a
    ``segments`` boundary falls, the chosen phases covering it fit the nurses to spare."""
    bounds = [segment.start for segment in segments]
    points = {start for start, _, _ in phases} | set(bounds)
    for point, over in _covering(phases, points):
        if not over:  # e.g. where the booked visits alone already lack a nurse
            continue
        # Every counted phase lies inside the profile's window: blocks() leaves out visits
        # that reach beyond it.
        segment = segments[bisect.bisect_right(bounds, point) - 1]
        spare = int((segment.nurses - segment.nurse_load) * unit)
        heaviest: dict[int, int] = {}
        for _, _, (position, weight, _) in over:
            heaviest[position] = max(heaviest.get(position, 0), weight)
        if sum(heaviest.values()) > spare:
            model.add(sum(weight * chosen for _, _, (_, weight, chosen) in over) <= spare)


def _counted(
    request: IntakeRequest, rules: StaffRules, unit: int
) -> list[tuple[dt.timedelta, dt.timedelta, int]]:
    """The request's phases that load the nurses: (from, to) after the visit's start and the
    weight in 1/``unit`` nurse."""
    return [
        (phase.offset, phase.offset + phase.length, unit // ratio)
        for phase in request.phases
        if (ratio := rules.patients_per_nurse.get(phase.name)) is not None
    ]


def _window(requests: Sequence[IntakeRequest], site: IntakeSite) -> tuple[dt.datetime, dt.datetime]:
    """One window around every visit of the waitlist."""
    start = min(request.earliest for request in requests)
    return start, max(_until(request, site.horizon) for request in requests) + _DAY_MARGIN


def _segments(requests: Sequence[IntakeRequest], site: IntakeSite) -> list[Segment]:
    """The site's staffing over ``_window``: shifts and booked visits only."""
    start, end = _window(requests, site)
    return profile(
        site.staff_rules,
        nurse_shifts=site.nurse_shifts,
        prescriber_shifts=site.prescriber_shifts,
        booked=site.booked,
        start=start,
        end=end,
    )


class _Booker:
    """Finds a request's earliest series (``plan_series``) in the site with the series of
    other requests placed too. Only the chair times and visits that can touch the request's
    window are passed on (the site's picked out once per request), so the staffing sweep and
    the chair search read only those: a visit over before the window or starting after it
    changes nothing in it."""

    def __init__(self, requests: Sequence[IntakeRequest], site: IntakeSite) -> None:
        self.site = site
        self.requests = requests
        self._windows: dict[str, tuple[dict[ChairId, list[Interval]], list[Visit]]] = {}

    def earliest(
        self, request: IntakeRequest, placed: Mapping[str, tuple[Slot, ...]]
    ) -> tuple[Slot, ...] | None:
        """The request's earliest series with the ``placed`` series booked too, or None when
        none fits."""
        site = self.site
        start, end = request.earliest, _until(request, site.horizon) + _DAY_MARGIN
        if request.patient not in self._windows:
            self._windows[request.patient] = (
                {
                    chair: [
                        i
                        for i in site.chairs.busy.get(chair, ())
                        if i.start < end and start < i.end
                    ]
                    for chair in site.chairs.order
                },
                [visit for visit in site.booked if visit.start < end and start < _end(visit)],
            )
        own_busy, own_visits = self._windows[request.patient]
        busy = {chair: list(intervals) for chair, intervals in own_busy.items()}
        visits = list(own_visits)
        for other in self.requests:
            for slot in placed.get(other.patient, ()):
                if slot.start < end and start < slot.end:
                    busy[slot.chair].append(Interval(start=slot.start, end=slot.end))
                    visits.append(Visit(start=slot.start, phases=other.phases))
        try:
            return plan_series(
                request.rules,
                earliest=request.earliest,
                duration=request.visit_length,
                calendar=site.calendar,
                chairs=Chairs(order=_chairs(request, site.chairs.order), busy=busy),
                patient=request.diary,
                staff_blocks=blocks(
                    site.staff_rules,
                    phases=request.phases,
                    nurse_shifts=site.nurse_shifts,
                    prescriber_shifts=site.prescriber_shifts,
                    booked=visits,
                    start=start,
                    end=end,
                ),
                step=site.step,
                horizon=site.horizon,
            )
        except NoSeriesFound:
            return None


def _end(visit: Visit) -> dt.datetime:
    last = visit.phases[-1]
    return visit.start + last.offset + last.length


def _waited(request: IntakeRequest, slots: Sequence[Slot], tz: ZoneInfo) -> int:
    """Days from the local date of ``earliest`` to the local date of the first visit."""
    return (slots[0].start.astimezone(tz).date() - request.earliest.astimezone(tz).date()).days


def _score(
    requests: Sequence[IntakeRequest], placed: Mapping[str, tuple[Slot, ...]], tz: ZoneInfo
) -> tuple[int, int]:
    """(unplaced, days waited) of a plan."""
    waited = sum(_waited(r, placed[r.patient], tz) for r in requests if r.patient in placed)
    return len(requests) - len(placed), waited


def _covering(
    items: Sequence[tuple[dt.datetime, dt.datetime, _T]], points: Collection[dt.datetime]
) -> Iterator[tuple[dt.datetime, list[tuple[dt.datetime, dt.datetime, _T]]]]:
    """Yield each of ``points`` in time order with the ``items`` (start, end, payload) whose
    [start, end) covers it."""
    pending = sorted(items, key=lambda item: item[0])
    active: list[tuple[dt.datetime, dt.datetime, _T]] = []
    taken = 0
    for point in sorted(points):
        arrived = taken
        while taken < len(pending) and pending[taken][0] <= point:
            taken += 1
        active = [item for item in chain(active, pending[arrived:taken]) if point < item[1]]
        yield point, active


def _until(request: IntakeRequest, horizon: dt.timedelta) -> dt.datetime:
    """The last day a visit of the request can fall on, as ``plan_series`` searches."""
    return request.earliest.astimezone(dt.UTC) + horizon + request.rules.max_span


def _chairs(request: IntakeRequest, chairs: tuple[ChairId, ...]) -> tuple[ChairId, ...]:
    return chairs if request.chairs is None else request.chairs


def _check_requests(requests: Sequence[IntakeRequest], chairs: Sequence[ChairId]) -> None:
    patients = [request.patient for request in requests]
    twice = sorted({patient for patient in patients if patients.count(patient) > 1})
    if twice:
        raise ClinicalValueError(
            "requests", f"each patient may be on the waitlist once; twice: {', '.join(twice)}"
        )
    for request in requests:
        who = request.patient
        if request.earliest.utcoffset() is None:
            raise ClinicalValueError(
                "requests",
                f"{who}: earliest must be a timezone-aware datetime; got naive "
                f"{request.earliest.isoformat()}",
            )
        if not request.phases:
            raise ClinicalValueError(
                "requests", f"{who}: phases must list at least one visit phase; got none"
            )
        follows = _ZERO
        for phase in request.phases:
            if phase.offset != follows or phase.length <= _ZERO:
                raise ClinicalValueError(
                    "requests",
                    f"{who}: phases must follow one another from the visit's start, each longer "
                    f"than 0; phase {phase.name} must start at {follows} (the end of the one "
                    f"before, 0 for the first) and last longer than 0; got offset "
                    f"{phase.offset}, length {phase.length}",
                )
            follows += phase.length
        allowed = request.chairs
        if allowed is not None and (
            not allowed or len(set(allowed)) != len(allowed) or not set(allowed) <= set(chairs)
        ):
            raise ClinicalValueError(
                "requests",
                f"{who}: chairs must be one or more of the site's chairs "
                f"({', '.join(map(str, chairs))}), each once; got ({', '.join(map(str, allowed))})",
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
        days_waited=_score(requests, series, tz)[1],
        optimal=optimal,
        solver_status=status,
    )
