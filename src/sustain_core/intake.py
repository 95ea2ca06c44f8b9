"""Batch intake: place a waitlist of new series into free chairs and staff time (OR-Tools CP-SAT).

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

``plan_one_by_one`` books the requests in the given order, each the earliest series
``series.plan_series`` finds in its chairs around ``chairs.busy`` and the series already placed,
clear of the ``staffing.blocks`` of its phases given the shifts, the booked visits and the
visits placed before it: what a front desk booking them one by one gets. A series' own visits
never overlap, so this keeps the staffing of the whole plan.

``plan_batch_cpsat`` places them all at once with one CP-SAT model that minimises the number
left unplaced, then the total days waited, and gives the solver the one-by-one plan as a hint,
so it never returns anything worse. It is a numeric module in the sense of ARCHITECTURE: pure
(no Django, no clock, no I/O), with a solver dependency.

The model is ``series_cpsat``'s, once per request, on the same discrete grid
(``series.candidate_visits`` with the request's visit length and chairs, ``chairs.busy``, and
the ``staffing.blocks`` of its phases given the shifts and the booked visits alone, so a grid
visit that would lack a prescriber, or a nurse to spare even as the only new visit, is left
out, and so is one the request's patient ``diary`` rules out: their other visits, a start
under ``series.INFUSION_GAP_FLOOR`` from one of their infusions, their availability):
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

Objective, lexicographic in one integer sum: unplaced requests × a penalty larger than any
change in days waited, then Σ days waited (local date of the first visit − local date of
``earliest``), then a tie-break smaller than one day: Σ over chosen visits of (rank of the
start among all grid starts × number of site chairs + rank of the chair in the request's
chairs), which favours early starts and, for a visit at a given start, the chairs the request
lists first.
"""

import bisect
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
    ``optimal`` is True only when CP-SAT proved the plan optimal; ``solver_status`` is CP-SAT's
    status name ("ONE_BY_ONE" for ``plan_one_by_one``)."""

    series: Mapping[str, tuple[Slot, ...]]
    unplaced: tuple[str, ...]
    days_waited: int
    optimal: bool
    solver_status: str


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
    chairs, tz = site.chairs.order, site.calendar.tz
    _check_requests(requests, chairs)
    busy: dict[ChairId, list[Interval]] = {
        chair: list(site.chairs.busy.get(chair, ())) for chair in chairs
    }
    visits = list(site.booked)
    placed: dict[str, tuple[Slot, ...]] = {}
    for request in requests:
        try:
            slots = plan_series(
                request.rules,
                earliest=request.earliest,
                duration=request.visit_length,
                calendar=site.calendar,
                chairs=Chairs(order=_chairs(request, chairs), busy=busy),
                patient=request.diary,
                staff_blocks=blocks(
                    site.staff_rules,
                    phases=request.phases,
                    nurse_shifts=site.nurse_shifts,
                    prescriber_shifts=site.prescriber_shifts,
                    booked=visits,
                    start=request.earliest,
                    end=_until(request, site.horizon) + _DAY_MARGIN,
                ),
                step=site.step,
                horizon=site.horizon,
            )
        except NoSeriesFound:
            continue
        placed[request.patient] = slots
        for slot in slots:
            busy[slot.chair].append(Interval(start=slot.start, end=slot.end))
            visits.append(Visit(start=slot.start, phases=request.phases))
    return _plan(requests, placed, tz=tz, optimal=False, status="ONE_BY_ONE")


def plan_batch_cpsat(
    requests: Sequence[IntakeRequest],
    site: IntakeSite,
    *,
    time_limit_s: float = 10.0,
    hint: IntakePlan | None = None,
) -> IntakePlan:
    """Place all requests at once in the ``site`` with CP-SAT (see the module), within
    ``time_limit_s``.

    ``hint`` (None: ``plan_one_by_one`` with the same inputs) is given to CP-SAT as its first
    solution; when CP-SAT ends without a better one, the hint is returned (with CP-SAT's
    status), so the result never has more unplaced requests, nor more days waited with as
    many, than the hint. CP-SAT runs with 2 workers and a fixed seed; plans with the same
    objective may differ in their slots. Inputs are taken as ``plan_series`` takes them;
    ``hint`` must be a valid plan for them.

    Raises ClinicalValueError naming ``requests`` when a patient appears twice, an
    ``earliest`` is naive, the ``phases`` of a request are empty or do not follow one another
    from offset 0 with lengths above 0, or its ``chairs`` are not one or more of ``chairs``,
    each once.
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
        # One window for the whole waitlist: every grid visit lies inside it.
        start = min(request.earliest for request in requests)
        end = max(_until(request, horizon) for request in requests) + _DAY_MARGIN
        segments = profile(
            staff_rules,
            nurse_shifts=site.nurse_shifts,
            prescriber_shifts=site.prescriber_shifts,
            booked=site.booked,
            start=start,
            end=end,
        )
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
        for chair_seats in covering.values():
            points = {start for start, _, _ in chair_seats}
            for _, over in _covering(chair_seats, points):
                if len(over) > 1:
                    self.model.add_at_most_one(seat for _, _, seat in over)
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
            counted = [
                (phase.offset, phase.offset + phase.length, unit // ratio)
                for phase in request.phases
                if (ratio := rules.patients_per_nurse.get(phase.name)) is not None
            ]
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
        bounds = [segment.start for segment in segments]
        points = {start for start, _, _ in phases} | set(bounds)
        for point, over in _covering(phases, points):
            if not over:  # e.g. where the booked visits alone already lack a nurse
                continue
            # Every counted phase lies inside the profile's window: blocks() leaves out grid
            # visits that reach beyond it.
            segment = segments[bisect.bisect_right(bounds, point) - 1]
            spare = int((segment.nurses - segment.nurse_load) * unit)
            heaviest: dict[int, int] = {}
            for _, _, (position, weight, _) in over:
                heaviest[position] = max(heaviest.get(position, 0), weight)
            if sum(heaviest.values()) > spare:
                self.model.add(sum(weight * used for _, _, (_, weight, used) in over) <= spare)

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
