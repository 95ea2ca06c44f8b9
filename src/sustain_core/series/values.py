"""The values series planning works with: the site's calendar, the chairs, the patient's diary,
the protocol's series rules, and what a search finds.

Instants are aware datetimes; opening hours and availability windows are local wall-clock
times in the site's time zone (``SiteCalendar.tz``).
"""

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NewType
from zoneinfo import ZoneInfo

from sustain_core.errors import ClinicalValueError, OutOfRange

ChairId = NewType("ChairId", int)
"""A chair, by the number the site gives it (the Django layer: the chair's primary key)."""


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
class SiteCalendar:
    """A site's calendar: its time zone, its opening ``hours`` (local wall-clock times in
    ``tz``) and the local dates it is closed."""

    tz: ZoneInfo
    hours: tuple[OpeningHours, ...]
    closed_dates: frozenset[dt.date] = frozenset()


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
class Chairs:
    """The chairs a series may use, in the clinic's order of preference (``order``: ties go to
    the first free one), and the times each is taken (``busy``; a chair not there is free)."""

    order: tuple[ChairId, ...]
    busy: Mapping[ChairId, Sequence[Interval]] = field(default_factory=dict)


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


INFUSION_GAP_FLOOR = dt.timedelta(hours=24)
"""The least time between the starts of any two infusions of one patient, whatever the
protocol or the booking path (induction, booster, move, prescriber override): a platform
guardrail against typing errors, not a clinical rule (issue 11 found two infusions booked
under 24 h apart). The shortest gap in the library is 24 h, the daily CRPS infusions
[Schwartzman2009]; a protocol's own ``min_gap`` may only be longer."""


@dataclass(frozen=True)
class PatientDiary:
    """The patient's diary: the times they are taken (``busy``), the starts of their other
    infusions (``infusions``: a visit is offered only ``INFUSION_GAP_FLOOR`` or more before or
    after each) and, if given, when they can come (``availability``; None: any time the site
    is open).

    Raises ClinicalValueError naming ``infusions`` for a naive start.
    """

    busy: Sequence[Interval] = ()
    availability: Availability | None = None
    infusions: Sequence[dt.datetime] = ()

    def __post_init__(self) -> None:
        for start in self.infusions:
            _require_aware("infusions", start)


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


class SeriesRule(StrEnum):
    """A rule of ``SeriesRules``, by its field name."""

    COUNT = "count"
    MIN_GAP = "min_gap"
    MAX_SPAN = "max_span"
    MAX_GAP = "max_gap"
    WEEKDAYS = "weekdays"
    MAX_PER_WEEK = "max_per_week"


@dataclass(frozen=True)
class RuleBreak:
    """A rule a series breaks (``check_series``) and the visits that break it.

    ``visits`` are their numbers (from 1, in time order) and ``starts`` their start instants
    (UTC), in time order: COUNT, every visit of the series; MIN_GAP and MAX_GAP, the two
    consecutive visits too close or too far apart; MAX_SPAN, the first and the last;
    WEEKDAYS, the visit on a day that is not allowed; MAX_PER_WEEK, the visits of the local
    calendar week that holds too many.
    """

    rule: SeriesRule
    visits: tuple[int, ...]
    starts: tuple[dt.datetime, ...]


@dataclass(frozen=True)
class Slot:
    """One planned visit: a chair from ``start`` to ``end`` (aware, in UTC)."""

    chair: ChairId
    start: dt.datetime
    end: dt.datetime


class AlternativeKind(StrEnum):
    """What an alternative relaxes (``search_series``); the values are what a booking screen
    posts back."""

    LATER_START = "later_start"
    OTHER_TIME = "other_time"
    OTHER_CHAIR = "other_chair"
    RELAXED_SPAN = "relaxed_span"


@dataclass(frozen=True)
class Alternative:
    """A series that fits when the request does not, and the one thing it gives up.

    ``kind`` says what it relaxes; ``late`` is True when it also starts after the look-ahead
    (always for LATER_START; for another kind, a second thing given up); ``rank`` counts from
    1 (see ``search_series``). ``series.wording.gives_up`` says it in a sentence.
    """

    slots: tuple[Slot, ...]
    kind: AlternativeKind
    rank: int
    late: bool


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
    chairs: tuple[ChairId, ...]


def _require_aware(field: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ClinicalValueError(
            field, f"{field} must be a timezone-aware datetime; got naive {value.isoformat()}"
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
