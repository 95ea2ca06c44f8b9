"""Series planning: fit a run of visits into a site's opening hours, chairs and a patient's diary.

Instants are aware datetimes and are compared and added in real elapsed time (UTC). Opening
hours are local wall-clock times in the site's time zone, so a visit at 08:00 stays at 08:00
across a daylight-saving change.
"""

import datetime as dt
from bisect import bisect_left
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sustain_core.errors import ClinicalValueError, NoSeriesFound, OutOfRange, OutsideOpeningHours

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ZERO = dt.timedelta(0)


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
) -> tuple[Slot, ...]:
    """Find the earliest series of ``count`` visits that fits every constraint.

    Each visit lasts ``duration`` and:
    - starts on a ``step`` grid of local wall-clock times from a row's opening time and lies
      within that row (as in ``check_within_opening_hours``), not on a closed date; wall times
      skipped by a daylight-saving change are not offered;
    - sits in a chair that is free (no overlap with ``chair_busy``), trying ``chairs`` in the
      given order; consecutive visits may use different chairs;
    - does not overlap ``patient_busy`` nor the patient's previous visit;
    - starts at least ``min_gap`` of real elapsed time after the previous visit's start.
    The first visit starts at or after ``earliest`` and no later than ``earliest + horizon``,
    and the last visit ends no later than ``max_span`` after the first one starts.

    Greedy search: for each possible first start in time order, place every next visit at the
    earliest feasible slot; return the first complete series. For a fixed first visit the
    earliest placement is optimal, so no series is missed.

    The rule is generic; the clinical numbers come from the protocol, e.g. 48 h between
    starts for thrice-weekly infusions [Murrough2013] [Shiroma2014] and 6 infusions within
    21 days [Oliver2022].

    Raises OutOfRange for a count below 1, a non-positive duration, step or horizon, a
    negative ``min_gap`` or a ``max_span`` shorter than one visit; ClinicalValueError for a
    naive ``earliest`` or no chairs; NoSeriesFound naming ``start`` when nothing fits.
    """
    _check_series_inputs(
        count=count,
        min_gap=min_gap,
        max_span=max_span,
        duration=duration,
        step=step,
        horizon=horizon,
    )
    _require_aware("earliest", earliest)
    if not chairs:
        raise ClinicalValueError("chairs", "at least one chair is needed; got none")

    earliest_utc = earliest.astimezone(dt.UTC)
    latest_first = earliest_utc + horizon
    openings = _LazySlots(
        _free_slots(
            earliest=earliest_utc,
            until=latest_first + max_span,
            duration=duration,
            step=step,
            tz=tz,
            hours=hours,
            closed_dates=closed_dates,
            chairs=chairs,
            chair_busy=chair_busy,
            patient_busy=patient_busy,
        )
    )
    first_index = 0
    while (first := openings.at(first_index)) is not None and first.start <= latest_first:
        series = _series_from(
            openings, first_index=first_index, count=count, min_gap=min_gap, max_span=max_span
        )
        if series is not None:
            return series
        first_index += 1
    raise NoSeriesFound(
        "start",
        f"no {count}-visit series fits between {earliest.astimezone(tz):%Y-%m-%d} and "
        f"{latest_first.astimezone(tz):%Y-%m-%d}: each visit takes {_describe(duration)} in a "
        f"free chair within opening hours, starts at least {_describe(min_gap)} after the "
        f"previous one, and the series ends within {_describe(max_span)} of its first start",
    )


def _series_from(
    openings: "_LazySlots",
    *,
    first_index: int,
    count: int,
    min_gap: dt.timedelta,
    max_span: dt.timedelta,
) -> tuple[Slot, ...] | None:
    first = openings.slots[first_index]
    series = [first]
    index = first_index
    while len(series) < count:
        previous = series[-1]
        # Not before the previous visit ends: the patient cannot be in two chairs at once, and
        # so this plan can never double-book a chair either.
        not_before = max(previous.start + min_gap, previous.end)
        index = openings.index_at_or_after(not_before, lo=index + 1)
        following = openings.at(index)
        if following is None or following.end > first.start + max_span:
            return None
        series.append(following)
    return tuple(series)


class _LazySlots:
    """Free slots in time order, pulled from ``source`` only as far as the search looks.

    Most series are found within ``max_span`` of ``earliest``, so the grid beyond that is
    usually never built.
    """

    def __init__(self, source: Iterator[Slot]) -> None:
        self._source = source
        self.slots: list[Slot] = []
        self._starts: list[dt.datetime] = []

    def at(self, index: int) -> Slot | None:
        """Return the slot at ``index``, or None when there are no more."""
        while len(self.slots) <= index:
            if not self._pull():
                return None
        return self.slots[index]

    def index_at_or_after(self, instant: dt.datetime, *, lo: int) -> int:
        """Return the index, from ``lo`` on, of the first slot starting at or after ``instant``."""
        while not self._starts or self._starts[-1] < instant:
            if not self._pull():
                break
        return bisect_left(self._starts, instant, lo=lo)

    def _pull(self) -> bool:
        slot = next(self._source, None)
        if slot is None:
            return False
        self.slots.append(slot)
        self._starts.append(slot.start)
        return True


def _free_slots(
    *,
    earliest: dt.datetime,
    until: dt.datetime,
    duration: dt.timedelta,
    step: dt.timedelta,
    tz: ZoneInfo,
    hours: Sequence[OpeningHours],
    closed_dates: Collection[dt.date],
    chairs: Sequence[str],
    chair_busy: Mapping[str, Sequence[Interval]],
    patient_busy: Sequence[Interval],
) -> Iterator[Slot]:
    """Yield, in time order, the grid visits that the patient and some chair are free for.

    Visits start at or after ``earliest``, on open days up to the local date of ``until``; each
    takes the first free chair in ``chairs`` order.
    """
    rows_by_weekday = _rows_by_weekday(hours)
    patient = _merge(patient_busy)
    chair_runs = {chair: _merge(chair_busy.get(chair, ())) for chair in chairs}
    day, last_day = earliest.astimezone(tz).date(), until.astimezone(tz).date()
    while day <= last_day:
        if day not in closed_dates:
            rows = rows_by_weekday.get(day.weekday(), [])
            for start in _grid_starts(day, rows, duration=duration, step=step, tz=tz):
                end = start + duration
                if start < earliest or not _is_free(patient, start, end):
                    continue
                chair = next((c for c in chairs if _is_free(chair_runs[c], start, end)), None)
                if chair is not None:
                    yield Slot(chair=chair, start=start, end=end)
        day += dt.timedelta(days=1)


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


def _check_series_inputs(
    *,
    count: int,
    min_gap: dt.timedelta,
    max_span: dt.timedelta,
    duration: dt.timedelta,
    step: dt.timedelta,
    horizon: dt.timedelta,
) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise OutOfRange(
            "count", f"count must be a whole number of visits, at least 1; got {count!r}"
        )
    for field, value in (("duration", duration), ("step", step), ("horizon", horizon)):
        if value <= _ZERO:
            raise OutOfRange(field, f"{field} must be longer than 0; got {value}")
    if min_gap < _ZERO:
        raise OutOfRange("min_gap", f"min_gap must be 0 or longer; got {min_gap}")
    if max_span < duration:
        raise OutOfRange(
            "max_span", f"max_span must be at least the visit duration {duration}; got {max_span}"
        )


def _require_aware(field: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ClinicalValueError(
            field, f"{field} must be a timezone-aware datetime; got naive {value.isoformat()}"
        )


def _describe(duration: dt.timedelta) -> str:
    if duration % dt.timedelta(days=1) == _ZERO:
        return f"{duration.days} days"
    if duration % dt.timedelta(hours=1) == _ZERO:
        return f"{duration // dt.timedelta(hours=1)} h"
    return f"{duration / dt.timedelta(minutes=1):g} min"
