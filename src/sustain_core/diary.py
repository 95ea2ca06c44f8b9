"""A site's diary, indexed once and shared by every series search at the site (issue 15).

``DiaryIndex`` holds what is the same for every request at a site: its calendar (hours,
closures, zone), its chairs' booked visits, its staffing rules and shifts. A search adds
what is the request's own (the protocol's rules and visit template, the patient's diary, the
holds live now) and answers exactly as ``series.search_series`` does on the same data with
``staffing.blocks`` as its ``staff``: the reference it is tested against.

An index is a value: ``with_changes`` returns a new index with visits added, replaced or
removed (booking, moving, cancelling) and leaves the old one untouched, so a search running
in another thread keeps a consistent diary. ``version`` is the caller's: the site's diary
version the index reflects (``sustain.scheduling.diary`` keeps it in step with the database).

How it is fast: instants are int64 microseconds since the epoch (exact, never rounded), in
numpy arrays that are never written after they are made (a new index shares the unchanged
ones). Per chair, the busy intervals sorted by start with the running maximum of their ends;
the staffing as one sorted stream of changes of the nurses' spare capacity (in units of
1/lcm(ratios) nurse: shifts add, the visits' phases take) and one of prescribers on shift.
Per local week and (visit length, step), built on first use and kept: the grid visits (local
wall times from ``_grid_visits``, so daylight-saving gaps are left out exactly; closed dates
removed), which chairs are free for each, and which are staffed for a visit template. A
search is then vector work on its window's grid visits (its start, weekdays, blackout dates,
the patient's diary, holds, windows, first free chair in the order asked) and the planner's
own ``_earliest_series`` over the survivors, with ``search_series``' look-ahead, relaxations
and ranking (``series.search._answer``).

Pure: no Django, no clock, no I/O.
"""

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from sustain_core import staffing
from sustain_core.series import (
    ChairId,
    Interval,
    PatientDiary,
    SeriesResult,
    SeriesRules,
    SiteCalendar,
    Slot,
)
from sustain_core.series.planner import (
    _EPOCH,
    _check_rules,
    _check_series_inputs,
    _Eager,
    _floor_zones,
    _grid_visits,
    _position,
    _rows_by_weekday,
    _series_in,
)
from sustain_core.series.search import _answer, _check_request

_Ints = npt.NDArray[np.int64]
_Bools = npt.NDArray[np.bool_]
_A = TypeVar("_A", _Ints, _Bools)
_ONE_DAY = dt.timedelta(days=1)
_NO_INTS: _Ints = np.zeros(0, dtype=np.int64)
_NO_INTS.flags.writeable = False
# A staffed phase of a visit template: offset and length in microseconds, whether it needs a
# prescriber (else a nurse), the level below which it is blocked (share of a nurse in units,
# or 1 prescriber), and the phase and ratio for the conflict messages.
_Need = tuple[int, int, bool, int, staffing.Phase, int]


@dataclass(frozen=True)
class DiaryVisit:
    """A visit that holds a chair and puts load on the staff: booked, given, or held."""

    chair: ChairId
    start: dt.datetime
    end: dt.datetime
    phases: tuple[staffing.Phase, ...]


@dataclass(frozen=True)
class _Busy:
    """One chair's visits: ``keys``, ``starts`` and ``ends`` sorted by (start, end, key), and
    ``reach`` the running maximum of the ends (so intervals may overlap)."""

    keys: _Ints
    starts: _Ints
    ends: _Ints
    reach: _Ints


@dataclass(frozen=True)
class _Stream:
    """A step function as its changes: sorted distinct ``at``, nonzero ``change``, and
    ``value`` the running sum (the value from ``at[i]`` on; 0 before the first)."""

    at: _Ints
    change: _Ints
    value: _Ints


@dataclass(frozen=True)
class _Week:
    """One local week's grid visits for one (length, step), in time order: UTC ``starts`` and
    ``ends``, local wall-clock ``walls`` and ``wall_ends`` (microseconds from midnight), local
    ``days`` (ordinals) and their ``weekdays``."""

    starts: _Ints
    ends: _Ints
    walls: _Ints
    wall_ends: _Ints
    days: _Ints
    weekdays: _Ints


class DiaryIndex:
    """A site's calendar, booked visits and staffing, for its series searches (see module)."""

    def __init__(
        self,
        *,
        calendar: SiteCalendar,
        staff_rules: staffing.StaffRules,
        nurse_shifts: Sequence[Interval],
        prescriber_shifts: Sequence[Interval],
        visits: Mapping[int, DiaryVisit],
        version: int = 0,
    ) -> None:
        self.calendar = calendar
        self.staff_rules = staff_rules
        self.nurse_shifts = tuple(nurse_shifts)
        self.prescriber_shifts = tuple(prescriber_shifts)
        self.visits = dict(visits)
        self.version = version
        ratios = staff_rules.patients_per_nurse
        self._unit = math.lcm(*ratios.values()) if ratios else 1
        self._rows = _rows_by_weekday(calendar.hours)
        self._prescribers = _stream(*_shift_changes(self.prescriber_shifts, 1))
        nurse_at, nurse_change = _shift_changes(self.nurse_shifts, self._unit)
        load_at, load_change = self._load(self.visits.values(), -1)
        self._spare = _stream(
            np.concatenate((nurse_at, load_at)), np.concatenate((nurse_change, load_change))
        )
        by_chair: dict[ChairId, dict[int, DiaryVisit]] = {}
        for key, visit in self.visits.items():
            by_chair.setdefault(visit.chair, {})[key] = visit
        self._chairs = {
            chair: _busy(_NO_INTS, _NO_INTS, _NO_INTS, own) for chair, own in by_chair.items()
        }
        self._columns = {chair: column for column, chair in enumerate(sorted(self._chairs))}
        # Built on first use. Grid weeks depend on the calendar alone, so every index derived
        # from this one shares the dict; chairs and staffing hold the (start, end) of what
        # they read, so that ``with_changes`` keeps those its visits do not touch.
        self._grids: dict[tuple[int, int, int], _Week] = {}
        self._free: dict[tuple[int, int, int], tuple[int, int, _Bools]] = {}
        self._staffed: dict[tuple[int, int, tuple[_Need, ...], int], tuple[int, int, _Bools]] = {}

    def with_changes(
        self,
        *,
        version: int,
        removed: Iterable[int] = (),
        added: Mapping[int, DiaryVisit] | None = None,
    ) -> "DiaryIndex":
        """A new index at ``version``: the visits keyed in ``removed`` left out (a key not
        there is ignored), then those in ``added`` added or, for a key already there,
        replaced. This index is not changed."""
        added = dict(added or {})
        visits = dict(self.visits)
        gone: dict[int, DiaryVisit] = {}
        for key in [*removed, *added]:
            if key in visits:
                gone[key] = visits.pop(key)
        visits.update(added)
        new = object.__new__(DiaryIndex)
        new.__dict__.update(self.__dict__)
        new.visits, new.version = visits, version
        gone_at, gone_change = self._load(gone.values(), 1)
        added_at, added_change = self._load(added.values(), -1)
        spare = self._spare
        new._spare = _stream(
            np.concatenate((spare.at, gone_at, added_at)),
            np.concatenate((spare.change, gone_change, added_change)),
        )
        new._chairs = dict(self._chairs)
        by_chair: dict[ChairId, tuple[list[int], dict[int, DiaryVisit]]] = {}
        for key, visit in gone.items():
            by_chair.setdefault(visit.chair, ([], {}))[0].append(key)
        for key, visit in added.items():
            by_chair.setdefault(visit.chair, ([], {}))[1][key] = visit
        for chair, (out, into) in by_chair.items():
            old = self._chairs.get(chair)
            keep = (
                _busy(*_without(old, out), into)
                if old
                else _busy(_NO_INTS, _NO_INTS, _NO_INTS, into)
            )
            if len(keep.starts):
                new._chairs[chair] = keep
            else:
                del new._chairs[chair]
        spans = [_touches(visit) for visit in [*gone.values(), *added.values()]]
        if new._chairs.keys() == self._chairs.keys():
            new._free = {
                key: entry for key, entry in self._free.items() if not _overlap(entry, spans)
            }
        else:
            new._columns = {chair: column for column, chair in enumerate(sorted(new._chairs))}
            new._free = {}
        new._staffed = {
            key: entry for key, entry in self._staffed.items() if not _overlap(entry, spans)
        }
        return new

    def search(
        self,
        rules: SeriesRules,
        *,
        earliest: dt.datetime,
        duration: dt.timedelta,
        phases: tuple[staffing.Phase, ...],
        chairs: Sequence[ChairId],
        patient: PatientDiary,
        held: Sequence[DiaryVisit] = (),
        requested_span: dt.timedelta | None = None,
        preferred_chair: ChairId | None = None,
        step: dt.timedelta = dt.timedelta(minutes=15),
        horizon: dt.timedelta = dt.timedelta(days=60),
        max_alternatives: int = 5,
    ) -> SeriesResult:
        """``series.search_series`` over this diary plus ``held`` (visits held live now, which
        take their chairs and load the staff), in ``chairs`` order, for visits of ``duration``
        with ``phases``; the other arguments and the errors are ``search_series``' own."""
        _check_rules(rules)
        _check_series_inputs(rules, duration=duration, step=step, horizon=horizon)
        order = tuple(chairs)
        span = _check_request(
            rules=rules,
            earliest=earliest,
            duration=duration,
            chairs=order,
            requested_span=requested_span,
            preferred_chair=preferred_chair,
            max_alternatives=max_alternatives,
        )
        earliest_utc = earliest.astimezone(dt.UTC)
        begins = _position(earliest_utc)
        latest_first = earliest_utc + horizon
        tz = self.calendar.tz
        first_day = earliest_utc.astimezone(tz).date()
        last_day = (latest_first + rules.max_span).astimezone(tz).date()
        needs = self._needs(phases)
        weeks = self._weeks(duration, step, needs, first_day, last_day)
        starts, ends, walls, wall_ends, days, weekdays = (
            np.concatenate([getattr(week, name) for week, _, _ in weeks])
            for name in ("starts", "ends", "walls", "wall_ends", "days", "weekdays")
        )
        availability = patient.availability
        allowed = np.array(
            [
                (rules.weekdays is None or day in rules.weekdays)
                and (
                    availability is None
                    or availability.weekdays is None
                    or day in availability.weekdays
                )
                for day in range(7)
            ]
        )
        keep = (
            (starts >= begins)
            & (days <= last_day.toordinal())
            & allowed[weekdays]
            & np.concatenate([staffed for _, _, staffed in weeks])
        )
        if availability is not None and availability.blackout_dates:
            blackout = [day.toordinal() for day in availability.blackout_dates]
            keep &= ~np.isin(days, np.array(blackout, dtype=np.int64))
        taken = [*patient.busy, *_floor_zones(patient.infusions, duration)]
        if taken:
            busy = _busy(
                _NO_INTS,
                np.array([_position(interval.start) for interval in taken], dtype=np.int64),
                np.array([_position(interval.end) for interval in taken], dtype=np.int64),
            )
            keep &= ~_hits(busy.starts, busy.reach, starts, ends)
        if held:
            keep &= ~self._short(needs, starts, held).any(axis=1)
        rows = np.flatnonzero(keep)
        starts, ends, walls, wall_ends, weeks_of = (
            starts[rows],
            ends[rows],
            walls[rows],
            wall_ends[rows],
            days[rows] - weekdays[rows],  # the proleptic ordinal of the local Monday
        )
        columns = [self._columns.get(chair, len(self._columns)) for chair in order]
        chair_free = np.concatenate([free for _, free, _ in weeks])[
            np.ix_(rows, np.array(columns, dtype=np.int64))
        ]
        for visit in held:
            overlaps = (_position(visit.start) < ends) & (starts < _position(visit.end))
            for column, chair in enumerate(order):
                if chair == visit.chair:
                    chair_free[:, column] &= ~overlaps
        lead = min((offset for offset, *_ in needs), default=0)
        reach = max((offset + length for offset, length, *_ in needs), default=0)
        where = {chair: order.index(chair) for chair in order}

        def find(
            *,
            staff_until: dt.datetime,
            chairs: Sequence[ChairId],
            windows: tuple[tuple[dt.time, dt.time], ...],
            max_span: dt.timedelta,
        ) -> tuple[Slot, ...] | None:
            picked = chair_free[:, [where[chair] for chair in chairs]]
            fits = picked.any(axis=1)
            if needs:
                fits &= (starts + lead >= begins) & (starts + reach <= _position(staff_until))
            if windows:
                inside = np.zeros(len(starts), dtype=np.bool_)
                for opens, closes in windows:
                    inside |= (walls >= _wall(opens)) & (wall_ends <= _wall(closes))
                fits &= inside
            chosen = np.flatnonzero(fits)
            found = _series_in(
                _Eager(starts[chosen].tolist(), weeks_of[chosen].tolist()),
                dataclasses.replace(rules, max_span=max_span),
                duration=duration,
                latest_first=latest_first,
            )
            if found is None:
                return None
            first = picked.argmax(axis=1)
            return tuple(
                Slot(
                    chair=chairs[int(first[chosen[index]])],
                    start=_instant(int(starts[chosen[index]])),
                    end=_instant(int(ends[chosen[index]])),
                )
                for index in found
            )

        return _answer(
            find,
            rules=rules,
            earliest=earliest_utc,
            horizon=horizon,
            span=span,
            chairs=order,
            preferred_chair=preferred_chair,
            windows=() if availability is None else availability.windows,
            max_alternatives=max_alternatives,
            staffed=bool(needs),
        )

    def conflicts(
        self,
        slots: Sequence[Slot],
        *,
        phases: tuple[staffing.Phase, ...],
        held: Sequence[DiaryVisit] = (),
    ) -> list[str]:
        """Why ``slots`` (visits with ``phases``) can no longer be booked in this diary plus
        ``held``: a chair taken, or staff short (``staffing.conflicts``' words), one message
        each, naming the local day; empty when every slot is still free and staffed. For the
        check made under the site's lock before a booking is written."""
        tz = self.calendar.tz
        found: list[str] = []
        for slot in slots:
            at, until = np.array([_position(slot.start)]), np.array([_position(slot.end)])
            busy = self._chairs.get(slot.chair)
            if (busy is not None and _hits(busy.starts, busy.reach, at, until)[0]) or any(
                visit.chair == slot.chair and visit.start < slot.end and slot.start < visit.end
                for visit in held
            ):
                found.append(f"{slot.start.astimezone(tz):%a %d %b %H:%M}: the chair was taken")
        needs = self._needs(phases)
        if not (needs and slots):
            return found
        starts = sorted(slot.start for slot in slots)
        at = np.array([_position(start) for start in starts], dtype=np.int64)
        short = self._short(needs, at, held)
        lowest = _position(starts[0] - _ONE_DAY)
        highest = _position(starts[-1] + _ONE_DAY)
        for row, start in enumerate(starts):
            for column, (offset, length, prescriber, _, phase, ratio) in enumerate(needs):
                phase_at = int(at[row]) + offset
                if short[row, column] or phase_at < lowest or phase_at + length > highest:
                    why = (
                        staffing._prescriber_why(phase)
                        if prescriber
                        else staffing._nurse_why(phase, ratio)
                    )
                    begins = start + phase.offset
                    found.append(
                        f"{start.astimezone(tz):%a %d %b}: {why} "
                        f"({begins.astimezone(tz):%H:%M}–"
                        f"{(begins + phase.length).astimezone(tz):%H:%M})"
                    )
        return found

    def warm(
        self,
        *,
        duration: dt.timedelta,
        phases: tuple[staffing.Phase, ...],
        start: dt.datetime,
        end: dt.datetime,
        step: dt.timedelta = dt.timedelta(minutes=15),
    ) -> None:
        """Build the grid weeks a search for visits of ``duration`` with ``phases`` would
        build on first use, for the local weeks from ``start`` to ``end`` (e.g. when a process
        loads a site, so its first searches do not pay for them)."""
        tz = self.calendar.tz
        self._weeks(
            duration,
            step,
            self._needs(phases),
            start.astimezone(tz).date(),
            end.astimezone(tz).date(),
        )

    def _weeks(
        self,
        duration: dt.timedelta,
        step: dt.timedelta,
        needs: tuple[_Need, ...],
        first: dt.date,
        last: dt.date,
    ) -> list[tuple[_Week, _Bools, _Bools]]:
        """``_week`` for the local weeks from ``first`` to ``last``."""
        return [
            self._week(_micro(duration), _micro(step), needs, monday)
            for monday in range(
                first.toordinal() - first.weekday(), last.toordinal() - last.weekday() + 1, 7
            )
        ]

    def _needs(self, phases: tuple[staffing.Phase, ...]) -> tuple[_Need, ...]:
        """The staffed phases of a visit with ``phases``, in ``staffing.blocks``' order."""
        rules = self.staff_rules
        needs: list[_Need] = []
        for phase in phases:
            offset, length = _micro(phase.offset), _micro(phase.length)
            ratio = rules.patients_per_nurse.get(phase.name)
            if ratio is not None:
                needs.append((offset, length, False, self._unit // ratio, phase, ratio))
            if phase.name in rules.prescriber_phases:
                needs.append((offset, length, True, 1, phase, 0))
        return tuple(needs)

    def _load(self, visits: Iterable[DiaryVisit], sign: int) -> tuple[_Ints, _Ints]:
        """The changes of spare nurse capacity the visits make, times ``sign`` (-1: they
        take it; 1: taking them away gives it back)."""
        by_phases: dict[int, tuple[tuple[staffing.Phase, ...], list[int]]] = {}
        for visit in visits:
            by_phases.setdefault(id(visit.phases), (visit.phases, []))[1].append(
                _position(visit.start)
            )
        at, change = [_NO_INTS], [_NO_INTS]
        for phases, starts in by_phases.values():
            begins = np.array(starts, dtype=np.int64)
            for offset, weight in staffing._changes(phases, self.staff_rules, self._unit)[0]:
                at.append(begins + offset)
                change.append(np.full(len(begins), sign * weight, dtype=np.int64))
        return np.concatenate(at), np.concatenate(change)

    def _short(self, needs: tuple[_Need, ...], at: _Ints, held: Sequence[DiaryVisit]) -> _Bools:
        """Per visit starting at ``at`` (rows) and per need (columns): whether the staff are
        short there, with ``held`` loading them too (the window's edges aside)."""
        short = np.zeros((len(at), len(needs)), dtype=np.bool_)
        if not len(at):
            return short
        extra = _stream(*self._load(held, -1)) if held else None
        for column, (offset, length, prescriber, level, _, _) in enumerate(needs):
            begins = at + offset
            runs = _below(
                self._prescribers if prescriber else self._spare,
                int(begins.min()),
                int(begins.max()) + length,
                level,
                None if prescriber else extra,
            )
            short[:, column] = _hits(*runs, begins, begins + length)
        return short

    def _week(
        self, duration: int, step: int, needs: tuple[_Need, ...], monday: int
    ) -> tuple[_Week, _Bools, _Bools]:
        """A local week's grid visits, which chairs are free for each (a column per chair in
        ``_columns`` order and a last one always free, for a chair with no visits) and
        whether the staff are there for each; built on first use."""
        week = self._grids.get((duration, step, monday))
        if week is None:
            week = self._grids[(duration, step, monday)] = self._grid_week(duration, step, monday)
        span = (int(week.starts[0]), int(week.ends[-1])) if len(week.starts) else (0, 0)
        free = self._free.get((duration, step, monday))
        if free is None:
            matrix = np.ones((len(week.starts), len(self._columns) + 1), dtype=np.bool_)
            for chair, column in self._columns.items():
                busy = self._chairs[chair]
                matrix[:, column] = ~_hits(busy.starts, busy.reach, week.starts, week.ends)
            free = self._free[(duration, step, monday)] = (*span, _frozen(matrix))
        staffed = self._staffed.get((duration, step, needs, monday))
        if staffed is None:
            lead = min((offset for offset, *_ in needs), default=0)
            reach = max((offset + length for offset, length, *_ in needs), default=0)
            staffed = self._staffed[(duration, step, needs, monday)] = (
                span[0] + min(lead, 0),
                span[1] + max(reach - duration, 0),
                _frozen(np.logical_not(self._short(needs, week.starts, ()).any(axis=1))),
            )
        return week, free[2], staffed[2]

    def _grid_week(self, duration: int, step: int, monday: int) -> _Week:
        """The week's grid visits, day by day as ``series.planner`` builds them."""
        columns: list[list[int]] = [[], [], [], [], [], []]
        for ordinal in range(monday, monday + 7):
            day = dt.date.fromordinal(ordinal)
            if day in self.calendar.closed_dates:
                continue
            for start, end, wall, wall_end in _grid_visits(
                day,
                self._rows.get(day.weekday(), []),
                duration=dt.timedelta(microseconds=duration),
                step=dt.timedelta(microseconds=step),
                tz=self.calendar.tz,
            ):
                for values, value in zip(
                    columns,
                    (
                        _position(start),
                        _position(end),
                        _wall(wall),
                        _wall(wall_end),
                        ordinal,
                        day.weekday(),
                    ),
                    strict=True,
                ):
                    values.append(value)
        return _Week(*(_frozen(np.array(values, dtype=np.int64)) for values in columns))


def _frozen(array: _A) -> _A:
    """``array``, made read-only: indexes share arrays, so none is ever written again."""
    array.flags.writeable = False
    return array


def _stream(at: _Ints, change: _Ints) -> _Stream:
    """The step function of these changes (several at one instant add up)."""
    order = np.argsort(at, kind="stable")
    at, change = at[order], change[order]
    if len(at):
        firsts = np.flatnonzero(np.concatenate(([True], at[1:] != at[:-1])))
        sums = np.add.reduceat(change, firsts)
        kept = sums != 0
        at, change = at[firsts][kept], sums[kept]
    return _Stream(at=_frozen(at), change=_frozen(change), value=_frozen(np.cumsum(change)))


def _shift_changes(shifts: Sequence[Interval], weight: int) -> tuple[_Ints, _Ints]:
    """Each shift adds ``weight`` from its start to its end."""
    at = [_position(shift.start) for shift in shifts] + [_position(shift.end) for shift in shifts]
    change = [weight] * len(shifts) + [-weight] * len(shifts)
    return np.array(at, dtype=np.int64), np.array(change, dtype=np.int64)


def _below(
    stream: _Stream, lo: int, hi: int, level: int, extra: _Stream | None
) -> tuple[_Ints, _Ints]:
    """The runs (starts, ends; disjoint, in order) within [lo, hi) where ``stream`` plus
    ``extra`` is below ``level``."""
    first = int(np.searchsorted(stream.at, lo, side="right"))
    last = int(np.searchsorted(stream.at, hi, side="left"))
    at = np.concatenate(([lo], stream.at[first:last]))
    value = np.concatenate(([stream.value[first - 1] if first else 0], stream.value[first:last]))
    if extra is not None:
        merged = np.union1d(at, extra.at[(extra.at > lo) & (extra.at < hi)])
        value = (
            value[np.searchsorted(at, merged, side="right") - 1]
            + np.concatenate(([0], extra.value))[np.searchsorted(extra.at, merged, side="right")]
        )
        at = merged
    flagged = np.concatenate(([False], value < level, [False]))
    edges = np.flatnonzero(flagged[1:] != flagged[:-1])
    bounds = np.append(at, hi)
    return bounds[edges[0::2]], bounds[edges[1::2]]


def _hits(starts: _Ints, reach: _Ints, begins: _Ints, ends: _Ints) -> _Bools:
    """Which [begins, ends) overlap an interval, given the intervals' ``starts`` sorted and
    ``reach`` the running maximum of their ends (``planner._is_free``, on arrays)."""
    index = np.searchsorted(starts, ends, side="left")
    if not len(starts):
        return np.zeros(len(begins), dtype=np.bool_)
    return (index > 0) & (reach[index - 1] > begins)


def _busy(
    keys: _Ints, starts: _Ints, ends: _Ints, added: Mapping[int, DiaryVisit] | None = None
) -> _Busy:
    """Intervals (keyed) with the ``added`` visits', sorted by (start, end, key)."""
    if added:
        keys = np.concatenate((keys, np.array(list(added), dtype=np.int64)))
        starts = np.concatenate(
            (starts, np.array([_position(v.start) for v in added.values()], dtype=np.int64))
        )
        ends = np.concatenate(
            (ends, np.array([_position(v.end) for v in added.values()], dtype=np.int64))
        )
    order = np.lexsort((keys, ends, starts)) if len(keys) else np.argsort(starts, kind="stable")
    ends = ends[order]
    return _Busy(
        keys=_frozen(keys[order]) if len(keys) else _NO_INTS,
        starts=_frozen(starts[order]),
        ends=_frozen(ends),
        reach=_frozen(np.maximum.accumulate(ends) if len(ends) else ends),
    )


def _without(busy: _Busy, keys: list[int]) -> tuple[_Ints, _Ints, _Ints]:
    """A chair's keys, starts and ends without the visits keyed in ``keys``."""
    kept = ~np.isin(busy.keys, np.array(keys, dtype=np.int64))
    return busy.keys[kept], busy.starts[kept], busy.ends[kept]


def _touches(visit: DiaryVisit) -> tuple[int, int]:
    """The time a visit's chair and staff load cover, from its first to its last instant."""
    start = _position(visit.start)
    return (
        start + min(0, *(_micro(phase.offset) for phase in visit.phases)),
        max(
            _position(visit.end),
            start + max((_micro(phase.offset + phase.length) for phase in visit.phases), default=0),
        ),
    )


def _overlap(entry: tuple[int, int, object], spans: list[tuple[int, int]]) -> bool:
    """Whether a cached week's (start, end, …) meets one of the changed visits' ``spans``."""
    return any(lo < entry[1] and entry[0] < hi for lo, hi in spans)


def _micro(duration: dt.timedelta) -> int:
    """A duration in whole microseconds (exact)."""
    return staffing._micro(duration)


def _wall(time: dt.time) -> int:
    """A local wall-clock time in microseconds from midnight."""
    return ((time.hour * 60 + time.minute) * 60 + time.second) * 1_000_000 + time.microsecond


def _instant(position: int) -> dt.datetime:
    """The UTC instant ``position`` microseconds after the epoch (exact)."""
    return _EPOCH + dt.timedelta(microseconds=position)
