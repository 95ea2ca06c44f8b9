"""Series planning: fit a run of visits into a site's opening hours, chairs and a patient's diary.

Instants are aware datetimes and are compared and added in real elapsed time (UTC). Opening
hours are local wall-clock times in the site's time zone, so a visit at 08:00 stays at 08:00
across a daylight-saving change. Weekdays and calendar weeks (Monday to Sunday) are read in
the site's local calendar.

``plan_series`` finds the earliest series for fixed inputs (``series.search`` wraps it for a
booking screen); ``plan_series_dates`` lays a protocol's series out on dates alone;
``check_series`` says which rules a proposed or booked series breaks; ``under_gap_floor``
finds an infusion of the patient too close to a start (``INFUSION_GAP_FLOOR``);
``candidate_visits`` lists the grid ``plan_series`` chooses from, for
``sustain_core.series_cpsat`` to check it against an exact solver. Sentences for people are
``series.wording``'s.
"""

import datetime as dt
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar
from zoneinfo import ZoneInfo

from sustain_core.errors import ClinicalValueError, NoSeriesFound, OutOfRange, OutsideOpeningHours
from sustain_core.series import wording
from sustain_core.series.values import (
    INFUSION_GAP_FLOOR,
    Candidate,
    ChairId,
    Chairs,
    Interval,
    OpeningHours,
    PatientDiary,
    RuleBreak,
    SeriesRule,
    SeriesRules,
    SiteCalendar,
    Slot,
    _check_weekdays,
    _require_aware,
)

if TYPE_CHECKING:  # staffing builds on this package's Interval
    from sustain_core.staffing import Block

_ZERO = dt.timedelta(0)
_ONE_DAY = dt.timedelta(days=1)
_MICROSECOND = dt.timedelta(microseconds=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# plan_series_dates tries the first 7 open days from its start as the first visit day, so every
# allowed weekday gets one chance before it gives up.
_FIRST_DAYS = 7

_T = TypeVar("_T")


def check_within_opening_hours(
    *, start: dt.datetime, end: dt.datetime, calendar: SiteCalendar
) -> None:
    """Check that a visit lies within one opening-hours row of its local day.

    ``start`` and ``end`` are aware instants; they are read as wall-clock times in the
    calendar's ``tz``. The visit must start and end on the same local date, that date must not
    be one of the calendar's ``closed_dates``, and one row of its ``hours`` for its weekday must
    satisfy opens ≤ start and end ≤ closes (a visit may start exactly at opening and end
    exactly at closing).

    Raises ClinicalValueError for a naive datetime or an end not after the start, and
    OutsideOpeningHours naming ``start`` with the day's hours otherwise.
    """
    _require_aware("start", start)
    _require_aware("end", end)
    if not start < end:
        raise ClinicalValueError("end", f"end must be after start {start}; got {end}")
    tz = calendar.tz
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    day = local_start.date()
    if day in calendar.closed_dates:
        raise OutsideOpeningHours("start", wording.closed_on(day, "closed date"))
    rows = _rows_by_weekday(calendar.hours).get(day.weekday(), [])
    if not rows:
        raise OutsideOpeningHours("start", wording.closed_on(day, "no opening hours that weekday"))
    if not any(_fits(row, local_start, local_end) for row in rows):
        raise OutsideOpeningHours("start", wording.outside_hours(rows, local_start, local_end))


def under_gap_floor(start: dt.datetime, others: Iterable[dt.datetime]) -> dt.datetime | None:
    """Return the earliest of ``others`` that starts less than ``INFUSION_GAP_FLOOR`` before or
    after ``start``, or None when every one is at least that far (exactly the floor apart is
    allowed).

    ``start`` and ``others`` are aware start instants of infusions of one patient; the floor
    holds whatever the protocol or the booking path (see ``INFUSION_GAP_FLOOR``). Raises
    ClinicalValueError naming ``start`` for a naive datetime.
    """
    _require_aware("start", start)
    close = [other for other in others if abs(other - start) < INFUSION_GAP_FLOOR]
    return min(close, default=None)


def plan_series(
    rules: SeriesRules,
    *,
    earliest: dt.datetime,
    duration: dt.timedelta,
    calendar: SiteCalendar,
    chairs: Chairs,
    patient: PatientDiary,
    staff_blocks: "Sequence[Block]" = (),
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(days=60),
) -> tuple[Slot, ...]:
    """Find the earliest series of ``rules.count`` visits that fits every constraint.

    ``count``, ``min_gap``, ``max_gap``, ``max_span``, ``weekdays`` and ``max_per_week`` are
    the fields of ``rules``. Each visit lasts ``duration`` and:
    - starts on a ``step`` grid of local wall-clock times from a row's opening time and lies
      within that row (as in ``check_within_opening_hours``), not on one of the
      ``calendar``'s closed dates; wall times skipped by a daylight-saving change are not
      offered;
    - falls on one of ``weekdays`` (0 = Monday, local calendar) when given;
    - sits in a chair that is free (no overlap with ``chairs.busy``), trying ``chairs.order``
      in order; consecutive visits may use different chairs;
    - does not overlap ``patient.busy`` nor the patient's previous visit, and starts at least
      ``INFUSION_GAP_FLOOR`` before or after each of ``patient.infusions`` (the gap between
      the series' own visits is ``min_gap``'s: the protocol's, which its validation keeps at
      the floor or longer);
    - starts at least ``min_gap`` and, when given, at most ``max_gap`` of real elapsed time
      after the previous visit's start;
    - is at most the ``max_per_week``-th visit of the series in its local calendar week
      (Monday to Sunday), when given;
    - with ``patient.availability``: falls on one of its weekdays, lies within one of its
      windows and not on a blackout date (the grid stays the site's; availability only
      removes visits).
    - with ``staff_blocks`` (``staffing.blocks``): none of its phases overlaps the busy times
      of its block, i.e. a nurse is free for the patient in every counted phase and a
      prescriber is on site during the infusion. Staffing only removes grid visits: the visits
      of one series never overlap, so none of them changes the staffing of another.
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
    as far as the search looks. Busy intervals are read once per call: those that can touch
    the search window (``earliest`` to the last day a visit can fall on) are kept, merged and
    searched by bisection; the scan is linear (25,000 intervals take about a millisecond when
    they are in UTC, as the database returns them).

    Ties between chairs go to the first free chair in ``chairs.order``. The result is also the
    componentwise-earliest series: every series that fits has each of its visits at or after
    the same-numbered visit here (the series that fit are closed under taking the earlier of
    two series visit by visit), which is what ``series_cpsat`` checks.

    The rule is generic; the clinical numbers come from the protocol, e.g. 48 h between
    starts for thrice-weekly infusions [Murrough2013] [Shiroma2014], Monday–Wednesday–Friday
    [Shiroma2014], 6 infusions within 21 days [Oliver2022] and twice weekly [Singh2016].

    Raises OutOfRange for a count below 1, a non-positive duration, step or horizon, a
    negative ``min_gap``, a ``max_span`` shorter than one visit, a ``max_gap`` of 0 or shorter
    than ``min_gap``, a weekday outside 0–6 or a ``max_per_week`` below 1; ClinicalValueError
    for a naive ``earliest``, no chairs or an empty ``weekdays``; NoSeriesFound naming
    ``start`` when nothing fits.
    """
    _check_series_inputs(rules, duration=duration, step=step, horizon=horizon)
    _check_spacing(rules)
    _require_aware("earliest", earliest)
    if not chairs.order:
        raise ClinicalValueError("chairs", "at least one chair is needed; got none")

    earliest_utc = earliest.astimezone(dt.UTC)
    latest_first = earliest_utc + horizon
    grid = _Grid(
        earliest=earliest_utc,
        until=latest_first + rules.max_span,
        duration=duration,
        step=step,
        calendar=calendar,
        chairs=chairs,
        patient=patient,
        staff_blocks=staff_blocks,
    )
    availability = patient.availability
    series = grid.earliest_series(
        rules,
        latest_first=latest_first,
        chairs=chairs.order,
        windows=() if availability is None else availability.windows,
    )
    if series is not None:
        return series
    raise NoSeriesFound(
        "start",
        wording.no_series_fits(
            rules,
            duration=duration,
            earliest=earliest,
            latest_first=latest_first,
            tz=calendar.tz,
            availability=availability is not None,
            staffed=bool(staff_blocks),
        ),
    )


def candidate_visits(
    *,
    earliest: dt.datetime,
    until: dt.datetime,
    duration: dt.timedelta,
    calendar: SiteCalendar,
    chairs: Chairs,
    patient: PatientDiary,
    weekdays: Collection[int] | None = None,
    staff_blocks: "Sequence[Block]" = (),
    step: dt.timedelta = dt.timedelta(minutes=15),
) -> list[Candidate]:
    """Return, in time order, every grid visit ``plan_series`` chooses from, with its free chairs.

    The visits start at or after ``earliest`` on the local days up to the date of ``until``
    (``plan_series`` uses ``earliest + horizon + max_span``), on the step grid of the site's
    hours, on allowed days (``weekdays``: the rules'), within the patient's availability and
    clear of ``staff_blocks``, with the patient free and at least one chair free. For an
    exact solver (``series_cpsat``) to work on the same grid. Inputs are taken as
    ``plan_series`` takes them and are not checked again, except that ``earliest`` and
    ``until`` must be aware (ClinicalValueError).
    """
    _require_aware("earliest", earliest)
    _require_aware("until", until)
    grid = _Grid(
        earliest=earliest.astimezone(dt.UTC),
        until=until,
        duration=duration,
        step=step,
        calendar=calendar,
        chairs=chairs,
        patient=patient,
        staff_blocks=staff_blocks,
    )
    windows = () if patient.availability is None else patient.availability.windows
    candidates: list[Candidate] = []
    for week, (start, end, _, _) in grid.visits(until=until, weekdays=weekdays, windows=windows):
        free = grid.free_chairs(chairs.order, start, end)
        if free:
            candidates.append(
                Candidate(start=start, end=end, week=dt.date.fromordinal(week), chairs=free)
            )
    return candidates


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
    raise NoSeriesFound(
        "start",
        wording.no_dates_fit(
            rules,
            start=start,
            last_first=last_first,
            min_days=min_days,
            max_days=max_days,
            closed=bool(closed_dates),
        ),
    )


def check_series(
    rules: SeriesRules, starts: Sequence[dt.datetime], *, tz: ZoneInfo
) -> list[RuleBreak]:
    """Return the protocol rules a proposed or booked series breaks; empty when it keeps them.

    ``starts`` are the aware start instants of the series' visits, in any order (they are
    checked in time order, numbered from 1). Used when one visit is moved, to say which rule
    the move would break (``series.wording.rule_break`` says it with the numbers). The breaks
    come in the order of ``SeriesRules``' fields, each with the visits that break it:
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
    ordered = tuple(sorted(start.astimezone(dt.UTC) for start in starts))
    numbers = tuple(range(1, len(ordered) + 1))
    broken: list[RuleBreak] = []
    if len(ordered) != rules.count:
        broken.append(RuleBreak(SeriesRule.COUNT, numbers, ordered))
    pairs = list(enumerate(itertools.pairwise(ordered), start=1))
    broken.extend(
        RuleBreak(SeriesRule.MIN_GAP, (number, number + 1), (earlier, later))
        for number, (earlier, later) in pairs
        if later - earlier < rules.min_gap
    )
    if ordered and ordered[-1] - ordered[0] >= rules.max_span:
        broken.append(RuleBreak(SeriesRule.MAX_SPAN, (1, len(ordered)), (ordered[0], ordered[-1])))
    if rules.max_gap is not None:
        broken.extend(
            RuleBreak(SeriesRule.MAX_GAP, (number, number + 1), (earlier, later))
            for number, (earlier, later) in pairs
            if later - earlier > rules.max_gap
        )
    local_days = [start.astimezone(tz).date() for start in ordered]
    if rules.weekdays is not None:
        broken.extend(
            RuleBreak(SeriesRule.WEEKDAYS, (number,), (start,))
            for number, start, day in zip(numbers, ordered, local_days, strict=True)
            if day.weekday() not in rules.weekdays
        )
    if rules.max_per_week is not None:
        weeks: dict[dt.date, list[int]] = {}
        for number, day in zip(numbers, local_days, strict=True):
            weeks.setdefault(day - dt.timedelta(days=day.weekday()), []).append(number)
        broken.extend(
            RuleBreak(
                SeriesRule.MAX_PER_WEEK,
                tuple(week),
                tuple(ordered[number - 1] for number in week),
            )
            for _, week in sorted(weeks.items())
            if len(week) > rules.max_per_week
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


def _series_in(
    openings: "_Lazy[_T]",
    rules: SeriesRules,
    *,
    duration: dt.timedelta,
    latest_first: dt.datetime,
) -> tuple[_T, ...] | None:
    """``plan_series``' earliest series for these rules over grid visits of ``duration``
    (positions in microseconds since the epoch), or None."""
    return _earliest_series(
        openings,
        count=rules.count,
        # Not before the previous visit ends: the patient cannot be in two chairs at once,
        # and so this plan can never double-book a chair either.
        min_gap=max(rules.min_gap, duration) // _MICROSECOND,
        max_gap=None if rules.max_gap is None else rules.max_gap // _MICROSECOND,
        max_per_week=rules.max_per_week,
        latest_first=_position(latest_first),
        max_spread=(rules.max_span - duration) // _MICROSECOND,
    )


class _Lazy(Generic[_T]):
    """Items in time order with an integer position and week key, pulled only when needed.

    Most series are found within ``max_span`` of the earliest start, so the slot grid beyond
    that is usually never built. Week keys are the proleptic ordinal of the local Monday.
    """

    def __init__(self, source: Iterator[tuple[int, int, _T]]) -> None:
        self._source = source
        self._items: list[_T] = []
        self.items: Sequence[_T] = self._items
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
        self._items.append(item)
        return True


class _Eager(_Lazy[int]):
    """``_Lazy`` over items known up front, for a caller that filtered them already (the
    diary index): item i is i itself, so the caller builds only the chosen items."""

    def __init__(self, positions: list[int], weeks: list[int]) -> None:
        super().__init__(iter(()))
        self.positions, self.weeks = positions, weeks
        self.items = range(len(positions))


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


# A grid visit: UTC start and end, and its local wall-clock start and end times.
_GridVisit = tuple[dt.datetime, dt.datetime, dt.time, dt.time]


class _Grid:
    """One call's site calendar, chairs and patient's diary, indexed once and shared by its
    searches.

    Busy intervals that can touch a visit between ``earliest`` and the local date of ``until``
    are merged into runs (a linear scan of the rest: visits lie within one local day, so they
    end before ``until`` plus two days). Each day's grid visits that start at or after
    ``earliest`` with the patient free are built on first use and kept.
    """

    def __init__(
        self,
        *,
        earliest: dt.datetime,
        until: dt.datetime,
        duration: dt.timedelta,
        step: dt.timedelta,
        calendar: SiteCalendar,
        chairs: Chairs,
        patient: PatientDiary,
        staff_blocks: "Sequence[Block]",
    ) -> None:
        self._earliest = earliest
        self._duration = duration
        self._step = step
        self._tz = calendar.tz
        self._rows = _rows_by_weekday(calendar.hours)
        self._closed = calendar.closed_dates
        availability = patient.availability
        self._blackout = frozenset() if availability is None else availability.blackout_dates
        self._patient_days = None if availability is None else availability.weekdays
        edge = until.astimezone(dt.UTC) + 2 * _ONE_DAY
        taken = [*patient.busy, *_floor_zones(patient.infusions, duration)]
        self._patient = _merge(_touching(taken, earliest, edge))
        self._chairs = {
            chair: _merge(_touching(chairs.busy.get(chair, ()), earliest, edge))
            for chair in chairs.order
        }
        self._staff: list[tuple[dt.timedelta, dt.timedelta, _Runs]] = []
        # Each day's grid visits with the patient free, and those also clear of the staff
        # blocks (built again when the blocks change).
        self._free_grids: dict[dt.date, list[_GridVisit]] = {}
        self._grids: dict[dt.date, list[_GridVisit]] = {}
        self.use_staff(staff_blocks)

    def use_staff(self, staff_blocks: "Sequence[Block]") -> None:
        """Search with these staff blocks from now on (the day grids are filtered again)."""
        self._staff = [
            (
                block.phase.offset,
                block.phase.offset + block.phase.length,
                _Runs(
                    starts=tuple(start for start, _ in block.busy),
                    ends=tuple(end for _, end in block.busy),
                ),
            )
            for block in staff_blocks
        ]
        self._grids = {}

    def earliest_series(
        self,
        rules: SeriesRules,
        *,
        latest_first: dt.datetime,
        chairs: Sequence[ChairId],
        windows: tuple[tuple[dt.time, dt.time], ...],
    ) -> tuple[Slot, ...] | None:
        """Return ``plan_series``' series for these rules over the calendar, in these chairs
        and windows, or None."""
        openings = _Lazy(
            self._free_slots(
                until=latest_first + rules.max_span,
                chairs=chairs,
                weekdays=rules.weekdays,
                windows=windows,
            )
        )
        return _series_in(openings, rules, duration=self._duration, latest_first=latest_first)

    def visits(
        self,
        *,
        until: dt.datetime,
        weekdays: Collection[int] | None,
        windows: tuple[tuple[dt.time, dt.time], ...],
    ) -> Iterator[tuple[int, _GridVisit]]:
        """Yield, in time order with their week key, the grid visits the patient is free for.

        Days run from ``earliest``'s to ``until``'s local date: open, allowed by ``weekdays``
        and the patient's days, not blacked out. Visits lie within one of ``windows`` if any.
        """
        allowed = {
            day
            for day in range(7)
            if (weekdays is None or day in weekdays)
            and (self._patient_days is None or day in self._patient_days)
        }
        day, last_day = (
            self._earliest.astimezone(self._tz).date(),
            until.astimezone(self._tz).date(),
        )
        while day <= last_day:
            if day.weekday() in allowed and day not in self._closed and day not in self._blackout:
                week = day.toordinal() - day.weekday()
                for visit in self._grid(day):
                    if not windows or any(
                        opens <= visit[2] and visit[3] <= closes for opens, closes in windows
                    ):
                        yield week, visit
            day += _ONE_DAY

    def free_chairs(
        self, chairs: Sequence[ChairId], start: dt.datetime, end: dt.datetime
    ) -> tuple[ChairId, ...]:
        """Return the chairs free from ``start`` to ``end``, in ``chairs`` order."""
        return tuple(chair for chair in chairs if _is_free(self._chairs[chair], start, end))

    def _free_slots(
        self,
        *,
        until: dt.datetime,
        chairs: Sequence[ChairId],
        weekdays: Collection[int] | None,
        windows: tuple[tuple[dt.time, dt.time], ...],
    ) -> Iterator[tuple[int, int, Slot]]:
        """Yield ``visits`` that some chair is free for, each in the first free chair in
        ``chairs`` order, with its position (microseconds since the epoch) and week key."""
        runs = [(chair, self._chairs[chair]) for chair in chairs]
        for week, (start, end, _, _) in self.visits(
            until=until, weekdays=weekdays, windows=windows
        ):
            chair = next((chair for chair, busy in runs if _is_free(busy, start, end)), None)
            if chair is not None:
                yield _position(start), week, Slot(chair=chair, start=start, end=end)

    def _grid(self, day: dt.date) -> list[_GridVisit]:
        if day not in self._grids:
            if day not in self._free_grids:
                self._free_grids[day] = [
                    visit
                    for visit in _grid_visits(
                        day,
                        self._rows.get(day.weekday(), []),
                        duration=self._duration,
                        step=self._step,
                        tz=self._tz,
                    )
                    if visit[0] >= self._earliest and _is_free(self._patient, visit[0], visit[1])
                ]
            self._grids[day] = [
                visit
                for visit in self._free_grids[day]
                if all(
                    _is_free(busy, visit[0] + begins, visit[0] + ends)
                    for begins, ends, busy in self._staff
                )
            ]
        return self._grids[day]


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


def _grid_visits(
    day: dt.date,
    rows: Sequence[OpeningHours],
    *,
    duration: dt.timedelta,
    step: dt.timedelta,
    tz: ZoneInfo,
) -> list[_GridVisit]:
    """Return the day's grid visits that fit within a row, sorted by start, once each."""
    visits: dict[dt.datetime, _GridVisit] = {}
    for row in rows:
        wall, closes = dt.datetime.combine(day, row.opens), dt.datetime.combine(day, row.closes)
        while wall < closes:
            start = _wall_to_utc(wall, tz)
            if start is not None:
                end = start + duration
                local_start, local_end = start.astimezone(tz), end.astimezone(tz)
                if _fits(row, local_start, local_end):
                    visits[start] = (start, end, local_start.time(), local_end.time())
            wall += step
    return [visits[start] for start in sorted(visits)]


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
    # In UTC, so that lookups compare plain fields instead of converting every time; most
    # instants come from the database in UTC already. Sorting plain pairs needs no key call.
    utc = dt.UTC
    pairs = sorted(
        (
            start if (start := interval.start).tzinfo is utc else start.astimezone(utc),
            end if (end := interval.end).tzinfo is utc else end.astimezone(utc),
        )
        for interval in intervals
    )
    starts: list[dt.datetime] = []
    ends: list[dt.datetime] = []
    for start, end in pairs:
        if ends and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return _Runs(starts=tuple(starts), ends=tuple(ends))


def _floor_zones(infusions: Sequence[dt.datetime], duration: dt.timedelta) -> list[Interval]:
    """The patient's time a visit of ``duration`` must not overlap to start at least
    ``INFUSION_GAP_FLOOR`` from each of ``infusions``: a visit starting at s overlaps
    [t − floor + duration, t + floor) exactly when t − floor < s < t + floor. (A visit longer
    than the floor is kept from [t, t + floor): a little more than the floor asks.)"""
    lead = INFUSION_GAP_FLOOR - min(duration, INFUSION_GAP_FLOOR)
    return [Interval(start=start - lead, end=start + INFUSION_GAP_FLOOR) for start in infusions]


def _touching(
    intervals: Sequence[Interval], start: dt.datetime, end: dt.datetime
) -> list[Interval]:
    """Return the intervals that overlap [start, end) (UTC bounds: a fast comparison)."""
    return [interval for interval in intervals if interval.start < end and start < interval.end]


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
    _check_spacing(rules)


def _check_series_inputs(
    rules: SeriesRules, *, duration: dt.timedelta, step: dt.timedelta, horizon: dt.timedelta
) -> None:
    _check_count(rules.count)
    for field, value in (("duration", duration), ("step", step), ("horizon", horizon)):
        if value <= _ZERO:
            raise OutOfRange(field, f"{field} must be longer than 0; got {value}")
    if rules.max_span < duration:
        raise OutOfRange(
            "max_span",
            f"max_span must be at least the visit duration {duration}; got {rules.max_span}",
        )


def _check_spacing(rules: SeriesRules) -> None:
    min_gap, max_gap, max_per_week = rules.min_gap, rules.max_gap, rules.max_per_week
    if min_gap < _ZERO:
        raise OutOfRange("min_gap", f"min_gap must be 0 or longer; got {min_gap}")
    if max_gap is not None and (max_gap <= _ZERO or max_gap < min_gap):
        raise OutOfRange(
            "max_gap",
            f"max_gap must be longer than 0 and at least min_gap {min_gap}; got {max_gap}",
        )
    _check_weekdays(rules.weekdays)
    if max_per_week is not None and (
        isinstance(max_per_week, bool) or not isinstance(max_per_week, int) or max_per_week < 1
    ):
        raise OutOfRange(
            "max_per_week",
            f"max_per_week must be a whole number of visits, at least 1; got {max_per_week!r}",
        )
