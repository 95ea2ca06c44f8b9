"""Staff for infusion visits: nurse load per visit phase, and a prescriber on site.

A visit follows its protocol's template (``protocols.VisitTemplate``): check-in and
pre-infusion checks, the infusion, recovery and observation, discharge (``visit_phases``
builds its phases from their minutes). The chair is held for the whole visit; nurse load is
counted per phase. A site sets how many patients one nurse may
look after in each phase (``StaffRules``; e.g. 1:4 while infusing, 1:6 in recovery — clinic
settings: no published ratio exists in clinical-facts, so none is hard-coded) and which phases
need a prescriber on site (the infusion: all doses under medical supervision
[Sanacora2017-medscape]).

Load is counted as a share of a nurse: a patient in a phase with ratio 1:r takes 1/r of a
nurse, and at every instant the shares of the visits under way must not exceed the nurses on
shift. Patients in different phases share nurses: two infusing at 1:4 and three recovering at
1:6 need 2/4 + 3/6 = 1 nurse. The shares are counted exactly, in whole units of 1/L nurse
where L is the least common multiple of the ratios.

Pure: no Django, no clock, no I/O. ``profile`` sweeps the shifts and booked visits into
segments of constant staffing (for display and for checking changes); ``blocks`` sweeps them
into the times each phase of a new visit may not overlap, the input ``series.plan_series``
and ``series.search_series`` take as ``staff_blocks``.
"""

import datetime as dt
import functools
import math
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from itertools import accumulate, groupby
from zoneinfo import ZoneInfo

from sustain_core.errors import OutOfRange
from sustain_core.series import Interval

MAX_PATIENTS_PER_NURSE = 12  # a bound against typing errors, not a clinical rule
# Before and after the window a profile covers nothing is known, so nothing is staffed.
_FOREVER_US = 3650 * 86_400_000_000


class VisitPhaseName(StrEnum):
    """The phases of an infusion visit, in order (``protocols.VisitTemplate``)."""

    CHECK_IN = "check_in"
    INFUSION = "infusion"
    RECOVERY = "recovery"
    DISCHARGE = "discharge"


@dataclass(frozen=True)
class Phase:
    """One phase of a visit: ``name`` (e.g. INFUSION), from ``offset`` after the visit's
    start, for ``length``."""

    name: VisitPhaseName
    offset: dt.timedelta
    length: dt.timedelta


@functools.lru_cache(maxsize=256)
def visit_phases(
    check_in_minutes: int,
    infusion_minutes: int,
    recovery_minutes: int,
    discharge_minutes: int,
    /,
) -> tuple[Phase, ...]:
    """Return a visit's phases in order, each from the end of the one before (the first from
    the visit's start), from their minutes; a phase of 0 minutes is left out.

    The one builder for a protocol's template (``Protocol.visit_phases``) and a booked visit's
    recorded minutes. Cached: the same minutes give the very same tuple, so visits of one
    template share it and the staffing sweep works out its load changes once.
    """
    minutes = zip(
        VisitPhaseName,
        (check_in_minutes, infusion_minutes, recovery_minutes, discharge_minutes),
        strict=True,
    )
    phases: list[Phase] = []
    offset = dt.timedelta(0)
    for name, length in minutes:
        if length:
            phases.append(Phase(name=name, offset=offset, length=dt.timedelta(minutes=length)))
            offset += dt.timedelta(minutes=length)
    return tuple(phases)


@dataclass(frozen=True)
class Visit:
    """A booked (or held) visit as staffing sees it: its start and its template's phases."""

    start: dt.datetime
    phases: tuple[Phase, ...]


@dataclass(frozen=True)
class StaffRules:
    """A site's staffing rules: ``patients_per_nurse`` by phase name (a phase not named puts
    no load on the nurses) and the ``prescriber_phases`` that need a prescriber on site.

    Empty rules check nothing (a site that has not set them up). Raises OutOfRange naming
    ``patients_per_nurse`` for a ratio that is not a whole number from 1 to
    ``MAX_PATIENTS_PER_NURSE``.
    """

    patients_per_nurse: Mapping[VisitPhaseName, int] = field(default_factory=dict)
    prescriber_phases: frozenset[VisitPhaseName] = frozenset()

    def __post_init__(self) -> None:
        for phase, ratio in self.patients_per_nurse.items():
            if (
                isinstance(ratio, bool)
                or not isinstance(ratio, int)
                or not 1 <= ratio <= MAX_PATIENTS_PER_NURSE
            ):
                raise OutOfRange(
                    "patients_per_nurse",
                    f"patients per nurse in {phase} must be a whole number from 1 to "
                    f"{MAX_PATIENTS_PER_NURSE}; got {ratio!r}",
                )

    @property
    def checked(self) -> bool:
        """True when the rules ask for anything at all."""
        return bool(self.patients_per_nurse or self.prescriber_phases)


@dataclass(frozen=True)
class Segment:
    """A stretch of time with constant staffing: ``nurses`` and ``prescribers`` on shift,
    ``nurse_load`` the nurses the visits under way need, ``needs_prescriber`` whether one of
    them is in a prescriber phase."""

    start: dt.datetime
    end: dt.datetime
    nurses: int
    nurse_load: Fraction
    prescribers: int
    needs_prescriber: bool

    @property
    def short(self) -> bool:
        """True when the visits under way need more nurses than are on shift, or a prescriber
        and none is on site."""
        return self.nurse_load > self.nurses or (self.needs_prescriber and not self.prescribers)


@dataclass(frozen=True)
class Block:
    """Where one phase of a new visit may not fall: ``phase`` may not overlap ``busy``, the
    (start, end) UTC runs, disjoint and in time order.

    ``why`` says what is missing there, in words for a booking screen.
    """

    phase: Phase
    busy: tuple[tuple[dt.datetime, dt.datetime], ...]
    why: str


def profile(
    rules: StaffRules,
    *,
    nurse_shifts: Sequence[Interval],
    prescriber_shifts: Sequence[Interval],
    booked: Sequence[Visit],
    start: dt.datetime,
    end: dt.datetime,
) -> list[Segment]:
    """Return the staffing from ``start`` to ``end`` as consecutive segments, in time order.

    Every instant of [start, end) lies in exactly one segment; a segment starts wherever a
    shift starts or ends or a booked visit changes phase. Shifts of one role may overlap (two
    nurses); each counts. Raises ClinicalValueError naming ``end`` unless start < end (both
    aware).
    """
    return _Sweep(
        rules,
        nurse_shifts=nurse_shifts,
        prescriber_shifts=prescriber_shifts,
        booked=booked,
        start=start,
        end=end,
    ).segments()


def blocks(
    rules: StaffRules,
    *,
    phases: Sequence[Phase],
    nurse_shifts: Sequence[Interval],
    prescriber_shifts: Sequence[Interval],
    booked: Sequence[Visit],
    start: dt.datetime,
    end: dt.datetime,
) -> tuple[Block, ...]:
    """Return where each phase of a new visit with ``phases`` may not fall, given the shifts
    and booked visits between ``start`` and ``end`` (as in ``profile``).

    A phase with ratio 1:r may not overlap a stretch where the nurses on shift have less than
    1/r of a nurse to spare (no nurse on shift at all included); a prescriber phase may not
    overlap a stretch with no prescriber on site. Before ``start`` and from ``end`` on nothing
    is known, so every checked phase is blocked there too. Phases the rules do not count give
    no block; empty rules give none at all.
    """
    if not rules.checked:
        return ()
    sweep = _Sweep(
        rules,
        nurse_shifts=nurse_shifts,
        prescriber_shifts=prescriber_shifts,
        booked=booked,
        start=start,
        end=end,
    )
    spare = sweep.spare()
    found: list[Block] = []
    for phase in phases:
        ratio = rules.patients_per_nurse.get(phase.name)
        if ratio is not None:
            share = sweep.unit // ratio
            found.append(
                Block(
                    phase=phase,
                    busy=sweep.runs([left < share for left in spare]),
                    why=_nurse_why(phase, ratio),
                )
            )
        if phase.name in rules.prescriber_phases:
            found.append(
                Block(
                    phase=phase,
                    busy=sweep.runs([not on_site for on_site in sweep.prescribers()]),
                    why=_prescriber_why(phase),
                )
            )
    return tuple(found)


def conflicts(start: dt.datetime, staff_blocks: Sequence[Block], *, tz: ZoneInfo) -> list[str]:
    """Return why a visit starting at ``start`` breaks ``staff_blocks``; empty when it keeps
    them. Each message names the phase's local clock times, e.g. "no prescriber on site
    during the infusion (10:15–10:55)"."""
    broken: list[str] = []
    for block in staff_blocks:
        begins = start + block.phase.offset
        ends = begins + block.phase.length
        if any(begins < busy_end and busy_start < ends for busy_start, busy_end in block.busy):
            broken.append(
                f"{block.why} ({begins.astimezone(tz):%H:%M}–{ends.astimezone(tz):%H:%M})"
            )
    return broken


def _nurse_why(phase: Phase, ratio: int) -> str:
    """A nurse block's ``why``: for ``blocks`` and the diary index's conflicts."""
    return f"no nurse free for another patient in {phase.name.replace('_', ' ')} (1:{ratio})"


def _prescriber_why(phase: Phase) -> str:
    """A prescriber block's ``why``: for ``blocks`` and the diary index's conflicts."""
    return f"no prescriber on site during the {phase.name.replace('_', ' ')}"


class _Sweep:
    """Staffing between ``start`` and ``end`` as parallel lists, one entry per segment:
    ``times`` (UTC starts) and ``ends``, nurses and prescribers on shift, the nurse load in
    units of 1/``unit`` nurse (``unit`` the least common multiple of the ratios), and how many
    visits under way need a prescriber.

    Built from the changes at each instant, counted in whole microseconds from ``start`` (an
    integer sweep is several times faster than one over datetimes): a change before ``start``
    counts at ``start`` (so a phase over before the window adds and removes its load there),
    and changes from ``end`` on are left out. Visits that share one ``phases`` tuple share its
    list of changes.
    """

    def __init__(
        self,
        rules: StaffRules,
        *,
        nurse_shifts: Sequence[Interval],
        prescriber_shifts: Sequence[Interval],
        booked: Sequence[Visit],
        start: dt.datetime,
        end: dt.datetime,
    ) -> None:
        Interval(start=start, end=end)  # checks the window
        start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        self.start, self.end = start, end
        self.last = last = _micro(end - start)
        ratios = rules.patients_per_nurse
        self.unit = unit = math.lcm(*ratios.values()) if ratios else 1
        nurses: defaultdict[int, int] = defaultdict(int)
        prescribers: defaultdict[int, int] = defaultdict(int)
        needs: defaultdict[int, int] = defaultdict(int)
        load: defaultdict[int, int] = defaultdict(int)
        for shifts, changes in ((nurse_shifts, nurses), (prescriber_shifts, prescribers)):
            for shift in shifts:
                if shift.start < end and start < shift.end:
                    changes[max(_micro(shift.start - start), 0)] += 1
                    changes[_micro(shift.end - start)] -= 1
        plans: dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
        for visit in booked:
            plan = plans.get(id(visit.phases))
            if plan is None:
                plan = plans[id(visit.phases)] = _changes(visit.phases, rules, unit)
            since = visit.start - start  # in microseconds, inline: this loop is the hot one
            begins = (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds
            if begins < 0:  # under way when the window opens
                for offset, weight in plan[0]:
                    load[max(begins + offset, 0)] += weight
                for offset, need in plan[1]:
                    needs[max(begins + offset, 0)] += need
                continue
            for offset, weight in plan[0]:
                load[begins + offset] += weight
            for offset, need in plan[1]:
                needs[begins + offset] += need
        positions = sorted(set(nurses).union(prescribers, needs, load, (0,)))
        self.positions = positions[: bisect_left(positions, last)]
        self._nurses, self._prescribers, self._needs, self._load = nurses, prescribers, needs, load

    def _running(self, changes: dict[int, int]) -> list[int]:
        return list(accumulate(changes.get(at, 0) for at in self.positions))

    def spare(self) -> list[int]:
        """Per segment: nurses on shift minus the load, in units."""
        nurses, load, unit = self._nurses, self._load, self.unit
        return list(accumulate(nurses.get(at, 0) * unit - load.get(at, 0) for at in self.positions))

    def prescribers(self) -> list[int]:
        """Per segment: prescribers on shift."""
        return self._running(self._prescribers)

    def runs(self, flags: list[bool]) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """The flagged segments merged into intervals, with all time before ``start`` and
        from ``end`` on."""
        positions, last = self.positions, self.last
        runs: list[list[int]] = [[-_FOREVER_US, 0]]
        for flagged, group in groupby(range(len(flags)), flags.__getitem__):
            first = next(group)
            if not flagged:
                continue
            tail = deque(group, maxlen=1)  # noqa: B031 - the rest of the group: its last index
            after = (tail[0] if tail else first) + 1
            until = positions[after] if after < len(positions) else last
            if runs[-1][1] == positions[first]:
                runs[-1][1] = until
            else:
                runs.append([positions[first], until])
        if runs[-1][1] == last:
            runs[-1][1] = last + _FOREVER_US
        else:
            runs.append([last, last + _FOREVER_US])
        return tuple((self.instant(begins), self.instant(ends)) for begins, ends in runs)

    def instant(self, position: int) -> dt.datetime:
        """The instant ``position`` microseconds after ``start``."""
        return self.start + dt.timedelta(microseconds=position)

    def segments(self) -> list[Segment]:
        starts = [self.instant(at) for at in self.positions]
        return [
            Segment(
                start=begins,
                end=ends,
                nurses=nurses,
                nurse_load=Fraction(load, self.unit),
                prescribers=prescribers,
                needs_prescriber=needs > 0,
            )
            for begins, ends, nurses, load, prescribers, needs in zip(
                starts,
                [*starts[1:], self.end],
                self._running(self._nurses),
                self._running(self._load),
                self.prescribers(),
                self._running(self._needs),
                strict=True,
            )
        ]


def _changes(
    phases: Sequence[Phase], rules: StaffRules, unit: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """At each phase boundary where something changes, in microseconds from the visit's
    start: (offset, change of nurse load in units) and (offset, change of visits needing a
    prescriber)."""
    load: defaultdict[int, int] = defaultdict(int)
    needs: defaultdict[int, int] = defaultdict(int)
    for phase in phases:
        ratio = rules.patients_per_nurse.get(phase.name)
        weight = unit // ratio if ratio else 0
        need = int(phase.name in rules.prescriber_phases)
        for offset, sign in ((phase.offset, 1), (phase.offset + phase.length, -1)):
            load[_micro(offset)] += sign * weight
            needs[_micro(offset)] += sign * need
    return (
        [(at, change) for at, change in load.items() if change],
        [(at, change) for at, change in needs.items() if change],
    )


def _micro(duration: dt.timedelta) -> int:
    """A duration in whole microseconds (exact, and faster than ``duration // 1 µs``)."""
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds
