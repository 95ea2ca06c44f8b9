"""Staff for infusion visits: nurse load per visit phase, and a prescriber on site.

A visit follows its protocol's template (``protocols.VisitTemplate``): check-in and
pre-infusion checks, the infusion, recovery and observation, discharge. The chair is held for
the whole visit; nurse load is counted per phase. A site sets how many patients one nurse may
look after in each phase (``StaffRules``; e.g. 1:4 while infusing, 1:6 in recovery — clinic
settings: no published ratio exists in clinical-facts, so none is hard-coded) and which phases
need a prescriber on site (the infusion: all doses under medical supervision
[Sanacora2017-medscape]).

Load is counted as a share of a nurse: a patient in a phase with ratio 1:r takes 1/r of a
nurse, and at every instant the shares of the visits under way must not exceed the nurses on
shift. Patients in different phases share nurses: two infusing at 1:4 and three recovering at
1:6 need 2/4 + 3/6 = 1 nurse. The shares are counted exactly, in whole units of 1/L nurse
where L is the least common multiple of the ratios.

Pure: no Django, no clock, no I/O. ``profile`` sweeps the shifts and booked visits once;
``blocks`` turns that into the times each phase of a new visit may not overlap, the input
``series.plan_series`` and ``series.search_series`` take as ``staff_blocks``.
"""

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from zoneinfo import ZoneInfo

from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.series import Interval

MAX_PATIENTS_PER_NURSE = 12
# Before and after the window a profile covers nothing is known, so nothing is staffed.
_FOREVER = dt.timedelta(days=3650)


@dataclass(frozen=True)
class Phase:
    """One phase of a visit: ``name`` (e.g. "infusion"), from ``offset`` after the visit's
    start, for ``length``."""

    name: str
    offset: dt.timedelta
    length: dt.timedelta


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

    patients_per_nurse: Mapping[str, int] = field(default_factory=dict)
    prescriber_phases: frozenset[str] = frozenset()

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
    """Where one phase of a new visit may not fall: ``phase`` may not overlap ``busy``.

    ``why`` says what is missing there, in words for a booking screen.
    """

    phase: Phase
    busy: tuple[Interval, ...]
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
    window = Interval(start=start, end=end)
    unit, weights = _units(rules)
    nurse_delta: dict[dt.datetime, int] = {start: 0}
    prescriber_delta: dict[dt.datetime, int] = {start: 0}
    need_delta: dict[dt.datetime, int] = {start: 0}
    load_delta: dict[dt.datetime, int] = {start: 0}
    for shifts, delta in ((nurse_shifts, nurse_delta), (prescriber_shifts, prescriber_delta)):
        for shift in shifts:
            if shift.overlaps(window):
                _add(delta, max(shift.start, start), 1)
                _add(delta, shift.end, -1)
    for visit in booked:
        for phase in visit.phases:
            weight = weights.get(phase.name, 0)
            needs_one = phase.name in rules.prescriber_phases
            if not (weight or needs_one):
                continue
            begins = visit.start + phase.offset
            ends = begins + phase.length
            if ends <= start or end <= begins:
                continue
            begins = max(begins, start)
            if weight:
                _add(load_delta, begins, weight)
                _add(load_delta, ends, -weight)
            if needs_one:
                _add(need_delta, begins, 1)
                _add(need_delta, ends, -1)
    times = sorted(
        {
            instant.astimezone(dt.UTC)
            for delta in (nurse_delta, prescriber_delta, need_delta, load_delta)
            for instant in delta
            if instant < end
        }
    )
    segments: list[Segment] = []
    nurses = prescribers = needs = load = 0
    for index, instant in enumerate(times):
        nurses += nurse_delta.get(instant, 0)
        prescribers += prescriber_delta.get(instant, 0)
        needs += need_delta.get(instant, 0)
        load += load_delta.get(instant, 0)
        until = times[index + 1] if index + 1 < len(times) else end.astimezone(dt.UTC)
        segments.append(
            Segment(
                start=instant,
                end=until,
                nurses=nurses,
                nurse_load=Fraction(load, unit),
                prescribers=prescribers,
                needs_prescriber=needs > 0,
            )
        )
    return segments


def blocks(
    rules: StaffRules, *, phases: Sequence[Phase], segments: Sequence[Segment]
) -> tuple[Block, ...]:
    """Return where each phase of a new visit with ``phases`` may not fall.

    A phase with ratio 1:r may not overlap a stretch where the nurses on shift have less than
    1/r of a nurse to spare (no nurse on shift at all included); a prescriber phase may not
    overlap a stretch with no prescriber on site. ``segments`` is a ``profile``; before its
    first and after its last segment nothing is known, so every checked phase is blocked there
    too. Phases the rules do not count give no block; empty rules give none at all.
    """
    if not rules.checked:
        return ()
    if not segments:
        raise ClinicalValueError("segments", "a profile has at least one segment; got none")
    first, last = segments[0].start, segments[-1].end
    outside = (
        Interval(start=first - _FOREVER, end=first),
        Interval(start=last, end=last + _FOREVER),
    )
    found: list[Block] = []
    for phase in phases:
        label = phase.name.replace("_", " ")
        ratio = rules.patients_per_nurse.get(phase.name)
        if ratio is not None:
            share = Fraction(1, ratio)
            found.append(
                Block(
                    phase=phase,
                    busy=_merged(outside, (s for s in segments if s.nurses - s.nurse_load < share)),
                    why=f"no nurse free for another patient in {label} (1:{ratio})",
                )
            )
        if phase.name in rules.prescriber_phases:
            found.append(
                Block(
                    phase=phase,
                    busy=_merged(outside, (s for s in segments if not s.prescribers)),
                    why=f"no prescriber on site during the {label}",
                )
            )
    return tuple(found)


def conflicts(start: dt.datetime, staff_blocks: Sequence[Block], *, tz: ZoneInfo) -> list[str]:
    """Return why a visit starting at ``start`` breaks ``staff_blocks``; empty when it keeps
    them. Each message names the phase's local clock times, e.g. "no prescriber on site
    during the infusion (10:15–10:55)"."""
    broken: list[str] = []
    for block in staff_blocks:
        phase = Interval(
            start=start + block.phase.offset, end=start + block.phase.offset + block.phase.length
        )
        if any(phase.overlaps(busy) for busy in block.busy):
            broken.append(
                f"{block.why} ({phase.start.astimezone(tz):%H:%M}–{phase.end.astimezone(tz):%H:%M})"
            )
    return broken


def _units(rules: StaffRules) -> tuple[int, dict[str, int]]:
    """The unit 1/L of a nurse (L the least common multiple of the ratios) and each phase's
    load in that unit."""
    unit = math.lcm(*rules.patients_per_nurse.values()) if rules.patients_per_nurse else 1
    return unit, {phase: unit // ratio for phase, ratio in rules.patients_per_nurse.items()}


def _add(delta: dict[dt.datetime, int], instant: dt.datetime, value: int) -> None:
    delta[instant] = delta.get(instant, 0) + value


def _merged(
    outside: tuple[Interval, Interval], segments: Iterator[Segment]
) -> tuple[Interval, ...]:
    runs: list[Interval] = [outside[0]]
    for segment in segments:
        if runs[-1].end == segment.start:
            runs[-1] = Interval(start=runs[-1].start, end=segment.end)
        else:
            runs.append(Interval(start=segment.start, end=segment.end))
    if runs[-1].end == outside[1].start:
        runs[-1] = Interval(start=runs[-1].start, end=outside[1].end)
    else:
        runs.append(outside[1])
    return tuple(runs)
