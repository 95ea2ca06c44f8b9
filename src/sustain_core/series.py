"""Series planning: fit a run of visits into a site's opening hours, chairs and a patient's diary.

Instants are aware datetimes and are compared and added in real elapsed time (UTC). Opening
hours are local wall-clock times in the site's time zone, so a visit at 08:00 stays at 08:00
across a daylight-saving change. Weekdays and calendar weeks (Monday to Sunday) are read in
the site's local calendar.

``plan_series`` finds the earliest series for fixed inputs; ``search_series`` wraps it for a
booking screen: the patient's availability and preferences, and ranked alternatives when the
request does not fit soon. ``sustain_core.series_cpsat`` checks both against an exact solver.
"""

import datetime as dt
import itertools
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar
from zoneinfo import ZoneInfo

from sustain_core.errors import ClinicalValueError, NoSeriesFound, OutOfRange, OutsideOpeningHours

if TYPE_CHECKING:  # staffing builds on this module's Interval
    from sustain_core.staffing import Block

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ZERO = dt.timedelta(0)
_ONE_DAY = dt.timedelta(days=1)
_MICROSECOND = dt.timedelta(microseconds=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# plan_series_dates tries the first 7 open days from its start as the first visit day, so every
# allowed weekday gets one chance before it gives up.
_FIRST_DAYS = 7
# search_series answers the request as asked only when its first visit is this soon.
LOOK_AHEAD = dt.timedelta(days=7)
_SHORT_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SHORT_MONTHS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
)  # fmt: skip
# "How little it gives up", for alternatives that start at the same instant: the clinic's
# chair preference, then a span the protocol still allows, then the patient's hours, and a
# later start last.
_KIND_ORDER = ("other_chair", "relaxed_span", "other_time", "later_start")
# Windows ending by noon are "the morning window", starting at 17:00 or later "the evening".
_NOON = dt.time(12)
_EVENING = dt.time(17)

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


@dataclass(frozen=True)
class Availability:
    """When the patient can come, on top of the site's hours.

    ``weekdays``: the patient's days (0 = Monday, local calendar; None: any day the protocol
    and the site allow). ``windows``: local wall-clock (start, end) windows; a visit must lie
    within one of them, start ≥ window start and end ≤ window end (empty: any time the site
    is open). ``blackout_dates``: local dates the patient cannot come.

    Raises ClinicalValueError for an empty ``weekdays`` or a window that does not end after it
    starts, and OutOfRange for a weekday outside 0–6.
    """

    weekdays: frozenset[int] | None = None
    windows: tuple[tuple[dt.time, dt.time], ...] = ()
    blackout_dates: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        _check_weekdays(self.weekdays)
        for opens, closes in self.windows:
            if not opens < closes:
                raise ClinicalValueError(
                    "windows",
                    f"a window must end after it starts at {opens:%H:%M}; got {closes:%H:%M}",
                )


@dataclass(frozen=True)
class Alternative:
    """A series that fits when the request does not, and the one thing it gives up.

    ``kind`` is "later_start", "other_time", "other_chair" or "relaxed_span"; ``gives_up`` is
    one plain sentence for the booking screen; ``rank`` counts from 1 (see ``search_series``).
    """

    slots: tuple[Slot, ...]
    gives_up: str
    kind: str
    rank: int


@dataclass(frozen=True)
class SeriesResult:
    """What ``search_series`` found: the series as asked, or None and ranked alternatives."""

    series: tuple[Slot, ...] | None
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class Candidate:
    """One grid visit the patient is free for, with every chair free for it (``chairs`` order).

    ``week`` is the local Monday of its week. ``candidate_visits`` lists them, for an exact
    solver to choose from the same grid as ``plan_series``.
    """

    start: dt.datetime
    end: dt.datetime
    week: dt.date
    chairs: tuple[str, ...]


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
    availability: Availability | None = None,
    staff_blocks: "Sequence[Block]" = (),
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
      (Monday to Sunday), when given;
    - with ``availability``: falls on one of its weekdays, lies within one of its windows and
      not on a blackout date (the grid stays the site's; availability only removes visits).
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

    Ties between chairs go to the first free chair in ``chairs`` order. The result is also the
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
    calendar = _Calendar(
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
        availability=availability,
        staff_blocks=staff_blocks,
    )
    series = calendar.earliest_series(
        count=count,
        min_gap=min_gap,
        max_gap=max_gap,
        max_span=max_span,
        max_per_week=max_per_week,
        latest_first=latest_first,
        chairs=chairs,
        weekdays=weekdays,
        windows=() if availability is None else availability.windows,
    )
    if series is not None:
        return series
    where = " within opening hours"
    if availability is not None:
        where += " and the patient's availability"
    if staff_blocks:
        where += ", with the nurses and prescriber it needs on shift"
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


def search_series(
    *,
    rules: SeriesRules,
    earliest: dt.datetime,
    tz: ZoneInfo,
    hours: Sequence[OpeningHours],
    closed_dates: Collection[dt.date],
    chairs: Sequence[str],
    chair_busy: Mapping[str, Sequence[Interval]],
    patient_busy: Sequence[Interval],
    duration: dt.timedelta,
    availability: Availability | None = None,
    requested_span: dt.timedelta | None = None,
    preferred_chair: str | None = None,
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(days=60),
    max_alternatives: int = 5,
    staff: "Callable[[dt.datetime, dt.datetime], Sequence[Block]] | None" = None,
) -> SeriesResult:
    """Find the series a booking screen offers: the one asked for, or ranked alternatives.

    The request is the protocol's ``rules`` plus the patient's ``availability``, a
    ``requested_span`` no longer than the protocol's ``max_span`` (None: the protocol's), and
    a ``preferred_chair`` (None: any chair; given, the series as asked uses only that chair,
    and "another chair" is an alternative). Every search is ``plan_series`` with these inputs,
    so it is the earliest series (componentwise), ties between chairs going to the first free
    one in ``chairs`` order, with ``step`` and ``horizon`` as there; the busy intervals and
    each day's grid are indexed once per call and shared by the searches.

    ``staff`` gives the staff blocks (``plan_series``' ``staff_blocks``) between two instants,
    all time outside them blocked (as ``staffing.blocks`` does). It is called for
    ``earliest`` to the look-ahead plus ``max_span`` first: a series as asked found there is
    exactly the one the whole horizon gives (the earliest series over the whole horizon is
    componentwise no later, so it lies in that window too). Only when none is found there is
    it called again for the whole horizon, for the alternatives.

    Look-ahead: the request fits when its earliest series starts no later than ``LOOK_AHEAD``
    (7 days, or ``horizon`` when shorter) after ``earliest``; then ``series`` is that series and
    there are no alternatives. Otherwise ``series`` is None and the alternatives relax one
    thing each, searching the whole ``horizon``:
    - "later_start": everything honoured, starting after the look-ahead;
    - "other_time": without the patient's time windows (days, blackout dates, chair and span
      kept), when windows were given;
    - "other_chair": any chair, the preferred one first, when a preferred chair was given and
      the site has others;
    - "relaxed_span": the protocol's ``max_span`` instead of the requested span, when that was
      shorter.
    A relaxed series that differs from the later-start one really uses what it relaxes (were
    it to keep it, it would fit everything and be the later-start series); one that also
    starts after the look-ahead says so too ("…, and starts 9 days later than asked (Mon 14
    Dec)").

    Ranking: by the first visit's start; then by how little is given up: one thing before
    two (a relaxation that also starts late), then the clinic's chair preference, a span the
    protocol still allows, the patient's hours, and a later start. Identical slot sequences are
    listed once, under the better rank. At most ``max_alternatives`` are returned (at most four
    kinds exist); ranks count from 1. The same inputs always give the same result.

    Raises the errors of ``plan_series`` for invalid rules or inputs (naming the field of
    ``rules``), OutOfRange for a ``requested_span`` shorter than one visit or longer than the
    protocol's ``max_span`` and for a negative ``max_alternatives``, and ClinicalValueError for
    a ``preferred_chair`` not among ``chairs``. Never raises NoSeriesFound: nothing that fits
    gives ``SeriesResult(None, ())``.
    """
    _check_rules(rules)
    _check_series_inputs(
        count=rules.count,
        min_gap=rules.min_gap,
        max_span=rules.max_span,
        duration=duration,
        step=step,
        horizon=horizon,
    )
    span = _check_request(
        rules=rules,
        earliest=earliest,
        duration=duration,
        chairs=chairs,
        requested_span=requested_span,
        preferred_chair=preferred_chair,
        max_alternatives=max_alternatives,
    )
    earliest_utc = earliest.astimezone(dt.UTC)
    latest_first = earliest_utc + horizon
    calendar = _Calendar(
        earliest=earliest_utc,
        until=latest_first + rules.max_span,
        duration=duration,
        step=step,
        tz=tz,
        hours=hours,
        closed_dates=closed_dates,
        chairs=chairs,
        chair_busy=chair_busy,
        patient_busy=patient_busy,
        availability=availability,
        staff_blocks=(),
    )
    asked_chairs = tuple(chairs) if preferred_chair is None else (preferred_chair,)
    windows = () if availability is None else availability.windows

    def find(
        *,
        chairs: Sequence[str] = asked_chairs,
        windows: tuple[tuple[dt.time, dt.time], ...] = windows,
        max_span: dt.timedelta = span,
    ) -> tuple[Slot, ...] | None:
        return calendar.earliest_series(
            count=rules.count,
            min_gap=rules.min_gap,
            max_gap=rules.max_gap,
            max_span=max_span,
            max_per_week=rules.max_per_week,
            latest_first=latest_first,
            chairs=chairs,
            weekdays=rules.weekdays,
            windows=windows,
        )

    soon = earliest_utc + min(LOOK_AHEAD, horizon)
    if staff is not None:
        calendar.use_staff(staff(earliest_utc, soon + rules.max_span))
        asked = find()
        if asked is not None and asked[0].start <= soon:
            return SeriesResult(series=asked, alternatives=())
        calendar.use_staff(staff(earliest_utc, latest_first + rules.max_span))
    asked = find()
    if asked is not None and asked[0].start <= soon:
        return SeriesResult(series=asked, alternatives=())
    found: list[tuple[str, tuple[Slot, ...] | None]] = [("later_start", asked)]
    if windows:
        found.append(("other_time", find(windows=())))
    others = tuple(chair for chair in chairs if chair != preferred_chair)
    if preferred_chair is not None and others:
        found.append(("other_chair", find(chairs=(preferred_chair, *others))))
    if span < rules.max_span:
        found.append(("relaxed_span", find(max_span=rules.max_span)))

    return SeriesResult(
        series=None,
        alternatives=_rank(
            [(kind, slots) for kind, slots in found if slots is not None],
            soon=soon,
            max_alternatives=max_alternatives,
            describe=_Describe(
                asked_day=earliest.astimezone(tz).date(),
                tz=tz,
                windows=windows,
                preferred_chair=preferred_chair,
                requested_span=span,
                max_span=rules.max_span,
            ),
        ),
    )


def _check_request(
    *,
    rules: SeriesRules,
    earliest: dt.datetime,
    duration: dt.timedelta,
    chairs: Sequence[str],
    requested_span: dt.timedelta | None,
    preferred_chair: str | None,
    max_alternatives: int,
) -> dt.timedelta:
    """Check ``search_series``' own inputs and return the span the request asks for."""
    _require_aware("earliest", earliest)
    if not chairs:
        raise ClinicalValueError("chairs", "at least one chair is needed; got none")
    span = rules.max_span if requested_span is None else requested_span
    if not duration <= span <= rules.max_span:
        raise OutOfRange(
            "requested_span",
            f"requested_span must be from the visit duration {duration} to the protocol's "
            f"max_span {rules.max_span}; got {requested_span}",
        )
    if preferred_chair is not None and preferred_chair not in chairs:
        raise ClinicalValueError(
            "preferred_chair", f"preferred_chair must be one of the chairs; got {preferred_chair!r}"
        )
    if (
        isinstance(max_alternatives, bool)
        or not isinstance(max_alternatives, int)
        or max_alternatives < 0
    ):
        raise OutOfRange(
            "max_alternatives",
            f"max_alternatives must be a whole number, 0 or more; got {max_alternatives!r}",
        )
    return span


@dataclass(frozen=True)
class _Describe:
    """What an alternative's sentence needs to know about the request."""

    asked_day: dt.date
    tz: ZoneInfo
    windows: tuple[tuple[dt.time, dt.time], ...]
    preferred_chair: str | None
    requested_span: dt.timedelta
    max_span: dt.timedelta

    def gives_up(self, kind: str, slots: tuple[Slot, ...], *, late: bool) -> str:
        """Say what a series of ``kind`` gives up; ``late``: it also starts after the look-ahead."""
        first_day = slots[0].start.astimezone(self.tz).date()
        later = (
            f"starts {_days((first_day - self.asked_day).days)} later than asked "
            f"({_short_date(first_day)})"
        )
        if kind == "later_start":
            return later
        if kind == "other_time":
            text = f"at {_start_times(slots, self.tz)} instead of {_window_name(self.windows)}"
        elif kind == "other_chair":
            text = _other_chairs(slots, self.preferred_chair)
        else:
            text = _longer_span(slots, requested=self.requested_span, allowed=self.max_span)
        return f"{text}, and {later}" if late else text


def _rank(
    found: list[tuple[str, tuple[Slot, ...]]],
    *,
    soon: dt.datetime,
    max_alternatives: int,
    describe: _Describe,
) -> tuple[Alternative, ...]:
    """Rank, deduplicate and cap ``search_series``' alternatives (see there)."""

    def key(option: tuple[str, tuple[Slot, ...]]) -> tuple[dt.datetime, int, int]:
        kind, slots = option
        given_up = 1 + (kind != "later_start" and slots[0].start > soon)
        return slots[0].start, given_up, _KIND_ORDER.index(kind)

    alternatives: list[Alternative] = []
    for kind, slots in sorted(found, key=key):
        if len(alternatives) == max_alternatives:
            break
        if any(alternative.slots == slots for alternative in alternatives):
            continue
        late = kind != "later_start" and slots[0].start > soon
        alternatives.append(
            Alternative(
                slots=slots,
                gives_up=describe.gives_up(kind, slots, late=late),
                kind=kind,
                rank=len(alternatives) + 1,
            )
        )
    return tuple(alternatives)


def candidate_visits(
    *,
    earliest: dt.datetime,
    until: dt.datetime,
    duration: dt.timedelta,
    tz: ZoneInfo,
    hours: Sequence[OpeningHours],
    closed_dates: Collection[dt.date],
    chairs: Sequence[str],
    chair_busy: Mapping[str, Sequence[Interval]],
    patient_busy: Sequence[Interval],
    step: dt.timedelta = dt.timedelta(minutes=15),
    weekdays: Collection[int] | None = None,
    availability: Availability | None = None,
    staff_blocks: "Sequence[Block]" = (),
) -> list[Candidate]:
    """Return, in time order, every grid visit ``plan_series`` chooses from, with its free chairs.

    The visits start at or after ``earliest`` on the local days up to the date of ``until``
    (``plan_series`` uses ``earliest + horizon + max_span``), on the step grid of the site's
    hours, on allowed days, within ``availability`` and clear of ``staff_blocks``, with the
    patient free and at least one chair free. For an exact solver (``series_cpsat``) to work
    on the same grid. Inputs are taken as ``plan_series`` takes them and are not checked
    again, except that ``earliest`` and ``until`` must be aware (ClinicalValueError).
    """
    _require_aware("earliest", earliest)
    _require_aware("until", until)
    calendar = _Calendar(
        earliest=earliest.astimezone(dt.UTC),
        until=until,
        duration=duration,
        step=step,
        tz=tz,
        hours=hours,
        closed_dates=closed_dates,
        chairs=chairs,
        chair_busy=chair_busy,
        patient_busy=patient_busy,
        availability=availability,
        staff_blocks=staff_blocks,
    )
    windows = () if availability is None else availability.windows
    candidates: list[Candidate] = []
    for week, (start, end, _, _) in calendar.visits(
        until=until, weekdays=weekdays, windows=windows
    ):
        free = calendar.free_chairs(chairs, start, end)
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


# A grid visit: UTC start and end, and its local wall-clock start and end times.
_GridVisit = tuple[dt.datetime, dt.datetime, dt.time, dt.time]


class _Calendar:
    """One call's site calendar and diaries, indexed once and shared by its searches.

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
        tz: ZoneInfo,
        hours: Sequence[OpeningHours],
        closed_dates: Collection[dt.date],
        chairs: Sequence[str],
        chair_busy: Mapping[str, Sequence[Interval]],
        patient_busy: Sequence[Interval],
        availability: Availability | None,
        staff_blocks: "Sequence[Block]",
    ) -> None:
        self._earliest = earliest
        self._duration = duration
        self._step = step
        self._tz = tz
        self._rows = _rows_by_weekday(hours)
        self._closed = closed_dates
        self._blackout = frozenset() if availability is None else availability.blackout_dates
        self._patient_days = None if availability is None else availability.weekdays
        edge = until.astimezone(dt.UTC) + 2 * _ONE_DAY
        self._patient = _merge(_touching(patient_busy, earliest, edge))
        self._chairs = {
            chair: _merge(_touching(chair_busy.get(chair, ()), earliest, edge)) for chair in chairs
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
        *,
        count: int,
        min_gap: dt.timedelta,
        max_gap: dt.timedelta | None,
        max_span: dt.timedelta,
        max_per_week: int | None,
        latest_first: dt.datetime,
        chairs: Sequence[str],
        weekdays: Collection[int] | None,
        windows: tuple[tuple[dt.time, dt.time], ...],
    ) -> tuple[Slot, ...] | None:
        """Return ``plan_series``' series for these rules over the calendar, or None."""
        openings = _Lazy(
            self._free_slots(
                until=latest_first + max_span, chairs=chairs, weekdays=weekdays, windows=windows
            )
        )
        return _earliest_series(
            openings,
            count=count,
            # Not before the previous visit ends: the patient cannot be in two chairs at once,
            # and so this plan can never double-book a chair either.
            min_gap=max(min_gap, self._duration) // _MICROSECOND,
            max_gap=None if max_gap is None else max_gap // _MICROSECOND,
            max_per_week=max_per_week,
            latest_first=_position(latest_first),
            max_spread=(max_span - self._duration) // _MICROSECOND,
        )

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
        self, chairs: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> tuple[str, ...]:
        """Return the chairs free from ``start`` to ``end``, in ``chairs`` order."""
        return tuple(chair for chair in chairs if _is_free(self._chairs[chair], start, end))

    def _free_slots(
        self,
        *,
        until: dt.datetime,
        chairs: Sequence[str],
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
    _check_weekdays(weekdays)
    if max_per_week is not None and (
        isinstance(max_per_week, bool) or not isinstance(max_per_week, int) or max_per_week < 1
    ):
        raise OutOfRange(
            "max_per_week",
            f"max_per_week must be a whole number of visits, at least 1; got {max_per_week!r}",
        )


def _check_weekdays(weekdays: Collection[int] | None) -> None:
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


def _short_date(day: dt.date) -> str:
    """Name a date the way a booking screen does: "Mon 14 Dec"."""
    return f"{_SHORT_WEEKDAYS[day.weekday()]} {day.day} {_SHORT_MONTHS[day.month - 1]}"


def _start_times(slots: Sequence[Slot], tz: ZoneInfo) -> str:
    times = sorted({slot.start.astimezone(tz).time() for slot in slots})
    if len(times) == 1:
        return f"{times[0]:%H:%M}"
    return f"times from {times[0]:%H:%M} to {times[-1]:%H:%M}"


def _window_name(windows: Sequence[tuple[dt.time, dt.time]]) -> str:
    if len(windows) > 1:
        spans = [f"{opens:%H:%M}–{closes:%H:%M}" for opens, closes in sorted(windows)]
        return f"the {', '.join(spans[:-1])} and {spans[-1]} windows"
    ((opens, closes),) = windows
    if closes <= _NOON:
        return "the morning window"
    if opens >= _EVENING:
        return "the evening window"
    if opens >= _NOON and closes <= _EVENING:
        return "the afternoon window"
    return f"the {opens:%H:%M}–{closes:%H:%M} window"


def _other_chairs(slots: Sequence[Slot], preferred: str | None) -> str:
    used = {slot.chair for slot in slots}
    if len(used) == 1:
        return f"in chair {slots[0].chair} instead of chair {preferred}"
    return f"in different chairs instead of only chair {preferred}"


def _longer_span(slots: Sequence[Slot], *, requested: dt.timedelta, allowed: dt.timedelta) -> str:
    span = slots[-1].end - slots[0].start
    if requested % _ONE_DAY == _ZERO and allowed % _ONE_DAY == _ZERO:
        # Whole days, counting a part day as a day: 18 days 2 h spans 19 days.
        return (
            f"spans {_days(-(-span // _ONE_DAY))} instead of the {requested.days} you asked for "
            f"(protocol allows {allowed.days})"
        )
    return (
        f"spans {_describe_exact(span)} instead of the {_describe(requested)} you asked for "
        f"(protocol allows {_describe(allowed)})"
    )
