"""Series planning: fit a run of visits into a site's opening hours, chairs and a patient's diary.

Instants are aware datetimes and are compared and added in real elapsed time (UTC). Opening
hours are local wall-clock times in the site's time zone, so a visit at 08:00 stays at 08:00
across a daylight-saving change. Weekdays and calendar weeks (Monday to Sunday) are read in
the site's local calendar.
"""

import datetime as dt
import itertools
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from sustain_core.errors import ClinicalValueError, NoSeriesFound, OutOfRange, OutsideOpeningHours

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ZERO = dt.timedelta(0)
_ONE_DAY = dt.timedelta(days=1)
_MICROSECOND = dt.timedelta(microseconds=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# plan_series_dates tries the first 7 open days from its start as the first visit day, so every
# allowed weekday gets one chance before it gives up.
_FIRST_DAYS = 7

_T = TypeVar("_T")


@dataclass(frozen=True)
class OpeningHours:
    """The hours a site is open on one weekday (0 = Monday), as local wall-clock times.

    A weekday may have several rows (for example around a lunch break); a weekday with no row
    is closed.
    """

    weekday: int
    opens: dt.time
    closes: dt.time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ClinicalValueError(
                "weekday", f"weekday must be 0 (Monday) to 6 (Sunday); got {self.weekday}"
            )
        if not self.opens < self.closes:
            raise ClinicalValueError(
                "closes",
                f"closing time must be after the opening time {self.opens:%H:%M}; "
                f"got {self.closes:%H:%M}",
            )


@dataclass(frozen=True)
class Interval:
    """A half-open period [start, end) between two aware instants."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if not self.start < self.end:
            raise ClinicalValueError("end", f"end must be after start {self.start}; got {self.end}")

    def overlaps(self, other: "Interval") -> bool:
        """Return True when the two periods share an instant (touching ends do not)."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class SeriesRules:
    """A protocol's rules for an infusion series.

    ``count`` visits; consecutive starts at least ``min_gap`` and at most ``max_gap`` apart
    (None: no maximum); the last visit ends within ``max_span`` of the first start; visits only
    on ``weekdays`` (0 = Monday; None: any open day); at most ``max_per_week`` in any calendar
    week, Monday to Sunday (None: no limit).

    For example, Murrough 2013 / Shiroma 2014: 6 infusions Monday–Wednesday–Friday within 12
    days [Murrough2013] [Shiroma2014]; twice weekly was as effective as thrice weekly
    [Singh2016].

    The values are checked where they are used (``plan_series_dates``, ``check_series``, and
    the protocol's own ``series`` check), not on construction.
    """

    count: int
    min_gap: dt.timedelta
    max_span: dt.timedelta
    max_gap: dt.timedelta | None = None
    weekdays: frozenset[int] | None = None
    max_per_week: int | None = None


@dataclass(frozen=True)
class Slot:
    """One planned visit: a chair from ``start`` to ``end`` (aware, in UTC)."""

    chair: str
    start: dt.datetime
    end: dt.datetime


def check_within_opening_hours(
    *,
    start: dt.datetime,
    end: dt.datetime,
    tz: ZoneInfo,
    hours: Sequence[OpeningHours],
    closed_dates: Collection[dt.date],
) -> None:
    """Check that a visit lies within one opening-hours row of its local day.

    ``start`` and ``end`` are aware instants; they are read as wall-clock times in ``tz``. The
    visit must start and end on the same local date, that date must not be in
    ``closed_dates``, and one row for its weekday must satisfy opens ≤ start and end ≤ closes
    (a visit may start exactly at opening and end exactly at closing).

    Raises ClinicalValueError for a naive datetime or an end not after the start, and
    OutsideOpeningHours naming ``start`` with the day's hours otherwise.
    """
    _require_aware("start", start)
    _require_aware("end", end)
    if not start < end:
        raise ClinicalValueError("end", f"end must be after start {start}; got {end}")
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    day = local_start.date()
    day_label = f"{_WEEKDAY_NAMES[day.weekday()]} {day.isoformat()}"
    if day in closed_dates:
        raise OutsideOpeningHours("start", f"the site is closed on {day_label} (closed date)")
    rows = _rows_by_weekday(hours).get(day.weekday(), [])
    if not rows:
        raise OutsideOpeningHours(
            "start", f"the site is closed on {day_label} (no opening hours that weekday)"
        )
    if not any(_fits(row, local_start, local_end) for row in rows):
        opening = ", ".join(f"{row.opens:%H:%M}–{row.closes:%H:%M}" for row in rows)
        raise OutsideOpeningHours(
            "start",
            f"{day_label} opens {opening}; {local_start:%H:%M}–{local_end:%H:%M} is outside",
        )


def plan_series(
    *,
    count: int,
    min_gap: dt.timedelta,
    max_span: dt.timedelta,
    duration: dt.timedelta,
    earliest: dt.datetime,
    tz: ZoneInfo,
    hours: Sequence[OpeningHours],
    closed_dates: Collection[dt.date],
    chairs: Sequence[str],
    chair_busy: Mapping[str, Sequence[Interval]],
    patient_busy: Sequence[Interval],
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(days=60),
    max_gap: dt.timedelta | None = None,
    weekdays: Collection[int] | None = None,
    max_per_week: int | None = None,
) -> tuple[Slot, ...]:
    """Find the earliest series of ``count`` visits that fits every constraint.

    Each visit lasts ``duration`` and:
    - starts on a ``step`` grid of local wall-clock times from a row's opening time and lies
      within that row (as in ``check_within_opening_hours``), not on a closed date; wall times
      skipped by a daylight-saving change are not offered;
    - falls on one of ``weekdays`` (0 = Monday, local calendar) when given;
    - sits in a chair that is free (no overlap with ``chair_busy``), trying ``chairs`` in the
      given order; consecutive visits may use different chairs;
    - does not overlap ``patient_busy`` nor the patient's previous visit;
    - starts at least ``min_gap`` and, when given, at most ``max_gap`` of real elapsed time
      after the previous visit's start;
    - is at most the ``max_per_week``-th visit of the series in its local calendar week
      (Monday to Sunday), when given.
    The first visit starts at or after ``earliest`` and no later than ``earliest + horizon``,
    and the last visit ends no later than ``max_span`` after the first one starts. Leaving out
    ``max_gap``, ``weekdays`` and ``max_per_week`` gives exactly the earlier greedy results.

    Search: first visits are tried in time order; from each, every next visit is the *first
    completable* free slot in its window, i.e. the first slot from ``min_gap`` (or the previous
    visit's end) up to ``max_gap`` that the week's count allows and from which the remaining
    visits can still be placed. Exchange argument: if two candidate next visits j < j' can
    both be completed, the earliest-ending completion from j ends no later than the one from
    j' — wherever the two chains would cross, the chain from j can step onto the other
    chain's next visit, which then lies inside its gap window, and an earlier visit never has
    more series visits in its calendar week. So following the first completable slot gives
    the earliest series (in time order, visit by visit) and also the one that ends first; a
    first visit whose earliest-ending series breaks ``max_span`` has no series that fits.
    Greedy "earliest next slot" is not enough with ``max_gap``: a visit placed early can leave
    the next allowed slot beyond ``max_gap`` (e.g. Monday → Wednesday, when only Monday,
    Wednesday and Thursday are allowed and 96 h is the most between visits, strands the third
    visit, while Monday → Thursday → Monday works). Whether a state (slot, visits left, visits
    so far in its week) can be completed is memoised, and runs of dead states are skipped with
    path-compressed pointers, so the work across all first visits is bounded by slots × count ×
    ``max_per_week``; without ``max_gap`` the earliest allowed slot is always completable when
    any later one is, and the search is the greedy one. Free slots are generated lazily, only
    as far as the search looks.

    The rule is generic; the clinical numbers come from the protocol, e.g. 48 h between
    starts for thrice-weekly infusions [Murrough2013] [Shiroma2014], Monday–Wednesday–Friday
    [Shiroma2014], 6 infusions within 21 days [Oliver2022] and twice weekly [Singh2016].

    Raises OutOfRange for a count below 1, a non-positive duration, step or horizon, a
    negative ``min_gap``, a ``max_span`` shorter than one visit, a ``max_gap`` of 0 or shorter
    than ``min_gap``, a weekday outside 0–6 or a ``max_per_week`` below 1; ClinicalValueError
    for a naive ``earliest``, no chairs or an empty ``weekdays``; NoSeriesFound naming
    ``start`` when nothing fits.
    """
    _check_series_inputs(
        count=count,
        min_gap=min_gap,
        max_span=max_span,
        duration=duration,
        step=step,
        horizon=horizon,
    )
    _check_spacing(min_gap=min_gap, max_gap=max_gap, weekdays=weekdays, max_per_week=max_per_week)
    _require_aware("earliest", earliest)
    if not chairs:
        raise ClinicalValueError("chairs", "at least one chair is needed; got none")

    earliest_utc = earliest.astimezone(dt.UTC)
    latest_first = earliest_utc + horizon
    openings = _Lazy(
        _free_slots(
            earliest=earliest_utc,
            until=latest_first + max_span,
            duration=duration,
            step=step,
            tz=tz,
            hours=hours,
            closed_dates=closed_dates,
            weekdays=None if weekdays is None else frozenset(weekdays),
            chairs=chairs,
            chair_busy=chair_busy,
            patient_busy=patient_busy,
        )
    )
    series = _earliest_series(
        openings,
        count=count,
        # Not before the previous visit ends: the patient cannot be in two chairs at once, and
        # so this plan can never double-book a chair either.
        min_gap=max(min_gap, duration) // _MICROSECOND,
        max_gap=None if max_gap is None else max_gap // _MICROSECOND,
        max_per_week=max_per_week,
        latest_first=_position(latest_first),
        max_spread=(max_span - duration) // _MICROSECOND,
    )
    if series is not None:
        return series
    where = " within opening hours"
    if weekdays is not None:
        where += f" on {_weekday_list(weekdays, 'or')}"
    week = (
        ""
        if max_per_week is None
        else f"no more than {_visits(max_per_week)} in one calendar week (Monday–Sunday), "
    )
    raise NoSeriesFound(
        "start",
        f"no {count}-visit series fits between {earliest.astimezone(tz):%Y-%m-%d} and "
        f"{latest_first.astimezone(tz):%Y-%m-%d}: each visit takes {_describe(duration)} in a "
        f"free chair{where}, starts {_gap_rule(min_gap, max_gap)} after the previous one, "
        f"{week}and the series ends within {_describe(max_span)} of its first start",
    )


def plan_series_dates(
    rules: SeriesRules, *, start: dt.date, closed_dates: Collection[dt.date] = ()
) -> tuple[dt.date, ...]:
    """Return the dates of a protocol's series in a clinic open every day, one visit a day.

    For ``sustain plan-series``: the calendar a protocol gives before any site's hours, chairs
    or diary are known. The dates are the earliest series (as in ``plan_series``) such that:
    - consecutive dates are at least ``min_gap`` apart counted in whole days, rounded up
      (visits at the same time of day: 48 h → 2 days, 36 h → 2 days; never two visits on one
      day), and at most ``max_gap`` apart rounded down (84 h → 3 days);
    - every date is one of ``rules.weekdays`` and not in ``closed_dates``;
    - at most ``max_per_week`` dates fall in one Monday-to-Sunday week;
    - last date − first date < ``max_span``: the span counts the last visit's day, so 12 days
      allows Monday of week 1 to Friday of week 2 (11 days between them, 12 calendar days),
      matching "6 infusions within a 12-day period" [Murrough2013] [Shiroma2014]. This is
      the same as ``plan_series`` for a visit starting and ending on its day.
    The first date is ``start`` or later: a start on a day that is not allowed (a weekday
    outside ``rules.weekdays`` or a closed date) moves to the next allowed day, and a first
    day from which the series cannot fit moves to the next one, for the first 7 open days
    from ``start`` (each weekday once; closed dates do not count, so a closure cannot use up
    a weekday's chance). Daylight-saving shifts of an hour are ignored (these are dates, not
    instants).

    Raises OutOfRange naming the field of ``rules`` for a count below 1, a negative
    ``min_gap``, a ``max_span`` of 0 or less, a ``max_gap`` of 0 or shorter than ``min_gap``, a
    weekday outside 0–6 or a ``max_per_week`` below 1, and ClinicalValueError for an empty
    ``weekdays``; NoSeriesFound naming ``start`` when no first day among those starts a
    series that fits.
    """
    _check_rules(rules)
    min_days = max(1, -(-rules.min_gap // _ONE_DAY))
    max_days = None if rules.max_gap is None else rules.max_gap // _ONE_DAY
    max_spread = -(-rules.max_span // _ONE_DAY) - 1
    last_first, open_days = start, int(start not in closed_dates)
    while open_days < _FIRST_DAYS:
        last_first += _ONE_DAY
        open_days += last_first not in closed_dates
    days = _Lazy(
        _open_days(
            start,
            last_first + dt.timedelta(days=max_spread),
            weekdays=rules.weekdays,
            closed_dates=closed_dates,
        )
    )
    series = _earliest_series(
        days,
        count=rules.count,
        min_gap=min_days,
        max_gap=max_days,
        max_per_week=rules.max_per_week,
        latest_first=last_first.toordinal(),
        max_spread=max_spread,
    )
    if series is not None:
        return series
    apart = f"at least {_days(min_days)}"
    if max_days is not None:
        apart += f" and at most {_days(max_days)}"
    limits = ""
    if rules.weekdays is not None:
        limits += f", only on {_weekday_list(rules.weekdays, 'or')}"
    if rules.max_per_week is not None:
        limits += f", at most {rules.max_per_week} in one calendar week (Monday–Sunday)"
    if closed_dates:
        limits += ", not on closed dates"
    raise NoSeriesFound(
        "start",
        f"no {rules.count}-visit series starts between {start.isoformat()} and "
        f"{last_first.isoformat()}: visits on dates {apart} apart{limits}, and all within "
        f"{_describe(rules.max_span)} counting the first and the last visit's day",
    )


def check_series(rules: SeriesRules, starts: Sequence[dt.datetime], *, tz: ZoneInfo) -> list[str]:
    """Return the protocol rules a proposed or booked series breaks; empty when it keeps them.

    ``starts`` are the aware start instants of the series' visits, in any order (they are
    checked in time order, numbered from 1). Used when one visit is moved, to say which rule
    the move would break. Each message starts with the rule's field name and gives the
    numbers, in the order of ``SeriesRules``' fields:
    - ``count``: the series has a different number of visits;
    - ``min_gap`` / ``max_gap``: two consecutive starts are closer / further apart in real
      elapsed time;
    - ``max_span``: the last visit starts ``max_span`` or more after the first. Only starts are
      known here, so the span is start to start and must be shorter than ``max_span`` (a visit
      takes some time); any series ``plan_series`` returns passes;
    - ``weekdays``: a visit's local day (in ``tz``) is not an allowed weekday;
    - ``max_per_week``: a local Monday-to-Sunday week holds more visits than allowed.

    Raises ClinicalValueError naming ``starts`` for a naive datetime, and the errors of
    ``plan_series_dates`` for invalid ``rules``.
    """
    _check_rules(rules)
    for start in starts:
        _require_aware("starts", start)
    # In UTC: aware datetimes sharing one tzinfo compare and subtract as wall-clock times.
    ordered = sorted(start.astimezone(dt.UTC) for start in starts)
    broken: list[str] = []
    if len(ordered) != rules.count:
        broken.append(
            f"count: the series has {len(ordered)} visits; the protocol asks for {rules.count}"
        )
    pairs = list(enumerate(itertools.pairwise(ordered), start=1))
    broken.extend(
        f"min_gap: visits {number} and {number + 1} start {_describe_exact(later - earlier)} "
        f"apart ({_local(earlier, tz)} → {_local(later, tz)}); the protocol requires at least "
        f"{_describe(rules.min_gap)}"
        for number, (earlier, later) in pairs
        if later - earlier < rules.min_gap
    )
    if ordered and ordered[-1] - ordered[0] >= rules.max_span:
        broken.append(
            f"max_span: the last visit starts {_describe_exact(ordered[-1] - ordered[0])} after "
            f"the first ({_local(ordered[0], tz)} → {_local(ordered[-1], tz)}); the series must "
            f"end within {_describe(rules.max_span)} of its first start"
        )
    if rules.max_gap is not None:
        broken.extend(
            f"max_gap: visits {number} and {number + 1} start {_describe_exact(later - earlier)} "
            f"apart ({_local(earlier, tz)} → {_local(later, tz)}); the protocol allows at most "
            f"{_describe(rules.max_gap)}"
            for number, (earlier, later) in pairs
            if later - earlier > rules.max_gap
        )
    local_days = [start.astimezone(tz).date() for start in ordered]
    if rules.weekdays is not None:
        broken.extend(
            f"weekdays: visit {number} is on {_WEEKDAY_NAMES[day.weekday()]} {day.isoformat()}; "
            f"the protocol allows {_weekday_list(rules.weekdays, 'and')}"
            for number, day in enumerate(local_days, start=1)
            if day.weekday() not in rules.weekdays
        )
    if rules.max_per_week is not None:
        per_week = Counter(day - dt.timedelta(days=day.weekday()) for day in local_days)
        broken.extend(
            f"max_per_week: {visits} visits in the week of Monday {monday.isoformat()}; the "
            f"protocol allows at most {rules.max_per_week}"
            for monday, visits in sorted(per_week.items())
            if visits > rules.max_per_week
        )
    return broken


def _earliest_series(
    openings: "_Lazy[_T]",
    *,
    count: int,
    min_gap: int,
    max_gap: int | None,
    max_per_week: int | None,
    latest_first: int,
    max_spread: int,
) -> tuple[_T, ...] | None:
    """Return the earliest series over ``openings`` (see ``plan_series``), or None.

    Positions are integers in one unit (microseconds or days): consecutive visits are
    ``min_gap`` to ``max_gap`` apart, the first is at most at ``latest_first`` and the last at
    most ``max_spread`` after the first.
    """
    search = _Search(openings, min_gap=min_gap, max_gap=max_gap, max_per_week=max_per_week)
    in_week = 0 if max_per_week is None else 1
    first = 0
    while (position := openings.position(first)) is not None and position <= latest_first:
        last = search.last_index(first, count - 1, in_week)
        if last is not None and openings.positions[last] - position <= max_spread:
            return tuple(openings.items[index] for index in search.chain(first, count - 1, in_week))
        first += 1
    return None


class _Lazy(Generic[_T]):
    """Items in time order with an integer position and week key, pulled only when needed.

    Most series are found within ``max_span`` of the earliest start, so the slot grid beyond
    that is usually never built. Week keys are the proleptic ordinal of the local Monday.
    """

    def __init__(self, source: Iterator[tuple[int, int, _T]]) -> None:
        self._source = source
        self.items: list[_T] = []
        self.positions: list[int] = []
        self.weeks: list[int] = []

    def position(self, index: int) -> int | None:
        """Return the position of the item at ``index``, or None when there are no more."""
        while len(self.positions) <= index:
            if not self._pull():
                return None
        return self.positions[index]

    def index_at_or_after(self, position: int, *, lo: int) -> int:
        """Return the index, from ``lo`` on, of the first item at or after ``position``."""
        while not self.positions or self.positions[-1] < position:
            if not self._pull():
                break
        return bisect_left(self.positions, position, lo=lo)

    def index_after_week(self, week: int, *, lo: int) -> int:
        """Return the index, from ``lo`` on, of the first item in a week later than ``week``."""
        while not self.weeks or self.weeks[-1] <= week:
            if not self._pull():
                break
        return bisect_right(self.weeks, week, lo=lo)

    def _pull(self) -> bool:
        pulled = next(self._source, None)
        if pulled is None:
            return False
        position, week, item = pulled
        self.positions.append(position)
        self.weeks.append(week)
        self.items.append(item)
        return True


class _Search(Generic[_T]):
    """Memoised "first completable next visit" search over ``_Lazy`` items (see plan_series).

    A state is (index, visits still to place after it, series visits so far in its week; 0
    when weeks are not counted). ``last_index`` recurses once per visit still to place, so the
    depth is about twice ``count`` frames (a series is a few dozen visits at most).
    """

    def __init__(
        self,
        openings: _Lazy[_T],
        *,
        min_gap: int,
        max_gap: int | None,
        max_per_week: int | None,
    ) -> None:
        self._openings = openings
        self._min_gap = min_gap
        self._max_gap = max_gap
        self._max_per_week = max_per_week
        self._next: dict[tuple[int, int, int], tuple[int, int]] = {}
        self._last: dict[tuple[int, int, int], int | None] = {}
        # Per (visits left, week count): index → a later index to try instead, for states
        # known to have no completion (a union-find "next live" structure).
        self._dead: dict[tuple[int, int], dict[int, int]] = {}

    def last_index(self, index: int, remaining: int, in_week: int) -> int | None:
        """Return the index of the last visit of the earliest completion, or None if none."""
        if remaining == 0:
            return index
        state = (index, remaining, in_week)
        if state not in self._last:
            self._last[state] = self._complete(index, remaining, in_week)
            if self._last[state] is None:
                self._dead.setdefault((remaining, in_week), {})[index] = index + 1
        return self._last[state]

    def chain(self, index: int, remaining: int, in_week: int) -> list[int]:
        """Return the indices of the completion found by ``last_index`` (which must succeed)."""
        indices = [index]
        while remaining:
            index, in_week = self._next[(index, remaining, in_week)]
            remaining -= 1
            indices.append(index)
        return indices

    def _complete(self, index: int, remaining: int, in_week: int) -> int | None:
        openings = self._openings
        position = openings.positions[index]
        lo = openings.index_at_or_after(position + self._min_gap, lo=index + 1)
        limit = None if self._max_gap is None else position + self._max_gap
        # Each phase: (first candidate, first index past the phase or None, week count there).
        phases: list[tuple[int, int | None, int]]
        if self._max_per_week is None:
            phases = [(lo, None, 0)]
        else:
            later_week = openings.index_after_week(openings.weeks[index], lo=lo)
            phases = [(later_week, None, 1)]
            if in_week < self._max_per_week:
                phases.insert(0, (lo, later_week, in_week + 1))
        for first, stop, count_then in phases:
            dead = self._dead.setdefault((remaining - 1, count_then), {})
            candidate = first
            while True:
                candidate = _skip_dead(dead, candidate)
                if stop is not None and candidate >= stop:
                    break
                at = openings.position(candidate)
                if at is None or (limit is not None and at > limit):
                    break
                last = self.last_index(candidate, remaining - 1, count_then)
                if last is not None:
                    self._next[(index, remaining, in_week)] = (candidate, count_then)
                    return last
                candidate += 1
        return None


def _skip_dead(dead: dict[int, int], index: int) -> int:
    """Return the first index from ``index`` on not known to be dead, compressing the path."""
    live = index
    while live in dead:
        live = dead[live]
    while index != live:
        dead[index], index = live, dead[index]
    return live


def _free_slots(
    *,
    earliest: dt.datetime,
    until: dt.datetime,
    duration: dt.timedelta,
    step: dt.timedelta,
    tz: ZoneInfo,
    hours: Sequence[OpeningHours],
    closed_dates: Collection[dt.date],
    weekdays: frozenset[int] | None,
    chairs: Sequence[str],
    chair_busy: Mapping[str, Sequence[Interval]],
    patient_busy: Sequence[Interval],
) -> Iterator[tuple[int, int, Slot]]:
    """Yield, in time order, the grid visits that the patient and some chair are free for.

    Visits start at or after ``earliest``, on open allowed days up to the local date of
    ``until``; each takes the first free chair in ``chairs`` order. Each comes with its
    position (microseconds since the epoch) and its local week key.
    """
    rows_by_weekday = _rows_by_weekday(hours)
    patient = _merge(patient_busy)
    chair_runs = {chair: _merge(chair_busy.get(chair, ())) for chair in chairs}
    day, last_day = earliest.astimezone(tz).date(), until.astimezone(tz).date()
    while day <= last_day:
        if day not in closed_dates and (weekdays is None or day.weekday() in weekdays):
            rows = rows_by_weekday.get(day.weekday(), [])
            week = day.toordinal() - day.weekday()
            for start in _grid_starts(day, rows, duration=duration, step=step, tz=tz):
                end = start + duration
                if start < earliest or not _is_free(patient, start, end):
                    continue
                chair = next((c for c in chairs if _is_free(chair_runs[c], start, end)), None)
                if chair is not None:
                    yield _position(start), week, Slot(chair=chair, start=start, end=end)
        day += _ONE_DAY


def _open_days(
    first: dt.date,
    last: dt.date,
    *,
    weekdays: frozenset[int] | None,
    closed_dates: Collection[dt.date],
) -> Iterator[tuple[int, int, dt.date]]:
    """Yield the allowed days from ``first`` to ``last`` with their ordinal and week key."""
    day = first
    while day <= last:
        if day not in closed_dates and (weekdays is None or day.weekday() in weekdays):
            yield day.toordinal(), day.toordinal() - day.weekday(), day
        day += _ONE_DAY


def _position(instant: dt.datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _grid_starts(
    day: dt.date,
    rows: Sequence[OpeningHours],
    *,
    duration: dt.timedelta,
    step: dt.timedelta,
    tz: ZoneInfo,
) -> list[dt.datetime]:
    """Return the sorted UTC starts of the day's grid visits that fit within a row."""
    starts: set[dt.datetime] = set()
    for row in rows:
        wall, closes = dt.datetime.combine(day, row.opens), dt.datetime.combine(day, row.closes)
        while wall < closes:
            start = _wall_to_utc(wall, tz)
            if start is not None and _fits(
                row, start.astimezone(tz), (start + duration).astimezone(tz)
            ):
                starts.add(start)
            wall += step
    return sorted(starts)


def _wall_to_utc(wall: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """Return the UTC instant of a naive local wall time, or None if the clocks skip it.

    An ambiguous wall time (repeated when the clocks go back) maps to its first occurrence.
    """
    start = wall.replace(tzinfo=tz).astimezone(dt.UTC)
    if start.astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return start


def _fits(row: OpeningHours, local_start: dt.datetime, local_end: dt.datetime) -> bool:
    return (
        local_start.date() == local_end.date()
        and row.opens <= local_start.time()
        and local_end.time() <= row.closes
    )


def _rows_by_weekday(hours: Sequence[OpeningHours]) -> dict[int, list[OpeningHours]]:
    rows: dict[int, list[OpeningHours]] = {}
    for row in sorted(hours, key=lambda row: (row.weekday, row.opens)):
        rows.setdefault(row.weekday, []).append(row)
    return rows


@dataclass(frozen=True)
class _Runs:
    """Busy intervals merged into disjoint UTC runs, sorted by start (so ends are too)."""

    starts: tuple[dt.datetime, ...]
    ends: tuple[dt.datetime, ...]


def _merge(intervals: Sequence[Interval]) -> _Runs:
    starts: list[dt.datetime] = []
    ends: list[dt.datetime] = []
    for interval in sorted(intervals, key=lambda interval: interval.start):
        # In UTC, so that lookups compare plain fields instead of converting every time.
        start, end = interval.start.astimezone(dt.UTC), interval.end.astimezone(dt.UTC)
        if ends and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return _Runs(starts=tuple(starts), ends=tuple(ends))


def _is_free(runs: _Runs, start: dt.datetime, end: dt.datetime) -> bool:
    # Only the last run starting before `end` can overlap [start, end): runs are disjoint, so it
    # also ends last among those.
    index = bisect_left(runs.starts, end)
    return index == 0 or runs.ends[index - 1] <= start


def _check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise OutOfRange(
            "count", f"count must be a whole number of visits, at least 1; got {count!r}"
        )


def _check_rules(rules: SeriesRules) -> None:
    _check_count(rules.count)
    if rules.max_span <= _ZERO:
        raise OutOfRange("max_span", f"max_span must be longer than 0; got {rules.max_span}")
    _check_spacing(
        min_gap=rules.min_gap,
        max_gap=rules.max_gap,
        weekdays=rules.weekdays,
        max_per_week=rules.max_per_week,
    )


def _check_series_inputs(
    *,
    count: int,
    min_gap: dt.timedelta,
    max_span: dt.timedelta,
    duration: dt.timedelta,
    step: dt.timedelta,
    horizon: dt.timedelta,
) -> None:
    _check_count(count)
    for field, value in (("duration", duration), ("step", step), ("horizon", horizon)):
        if value <= _ZERO:
            raise OutOfRange(field, f"{field} must be longer than 0; got {value}")
    if max_span < duration:
        raise OutOfRange(
            "max_span", f"max_span must be at least the visit duration {duration}; got {max_span}"
        )


def _check_spacing(
    *,
    min_gap: dt.timedelta,
    max_gap: dt.timedelta | None,
    weekdays: Collection[int] | None,
    max_per_week: int | None,
) -> None:
    if min_gap < _ZERO:
        raise OutOfRange("min_gap", f"min_gap must be 0 or longer; got {min_gap}")
    if max_gap is not None and (max_gap <= _ZERO or max_gap < min_gap):
        raise OutOfRange(
            "max_gap",
            f"max_gap must be longer than 0 and at least min_gap {min_gap}; got {max_gap}",
        )
    if weekdays is not None:
        if not weekdays:
            raise ClinicalValueError("weekdays", "at least one weekday is needed; got none")
        wrong = sorted(
            (day for day in weekdays if isinstance(day, bool) or day not in range(7)), key=repr
        )
        if wrong:
            raise OutOfRange(
                "weekdays", f"weekdays must be 0 (Monday) to 6 (Sunday); got {wrong!r}"
            )
    if max_per_week is not None and (
        isinstance(max_per_week, bool) or not isinstance(max_per_week, int) or max_per_week < 1
    ):
        raise OutOfRange(
            "max_per_week",
            f"max_per_week must be a whole number of visits, at least 1; got {max_per_week!r}",
        )


def _require_aware(field: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ClinicalValueError(
            field, f"{field} must be a timezone-aware datetime; got naive {value.isoformat()}"
        )


def _gap_rule(min_gap: dt.timedelta, max_gap: dt.timedelta | None) -> str:
    rule = f"at least {_describe(min_gap)}"
    if max_gap is not None:
        rule += f" and at most {_describe(max_gap)}"
    return rule


def _weekday_list(weekdays: Collection[int], conjunction: str) -> str:
    names = [_WEEKDAY_NAMES[day] for day in sorted(weekdays)]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def _local(instant: dt.datetime, tz: ZoneInfo) -> str:
    local = instant.astimezone(tz)
    return f"{_WEEKDAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M}"


def _visits(visits: int) -> str:
    return "1 visit" if visits == 1 else f"{visits} visits"


def _days(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def _describe(duration: dt.timedelta) -> str:
    if duration % _ONE_DAY == _ZERO:
        return _days(duration.days)
    if duration % dt.timedelta(hours=1) == _ZERO:
        return f"{duration // dt.timedelta(hours=1)} h"
    return f"{duration / dt.timedelta(minutes=1):g} min"


def _describe_exact(duration: dt.timedelta) -> str:
    """Describe a non-negative elapsed time as days, hours and minutes ("1 day 23 h 30 min")."""
    minutes = duration // dt.timedelta(minutes=1)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [_days(days)] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes or not parts else []
    return " ".join(parts)
