"""Series planning in words, for people: what an alternative gives up, which rule a series
breaks, why nothing fits, which infusion a visit would start too close to, and the dates,
weekdays and durations in those sentences.

The search and the checks return structured values (``Alternative``, ``RuleBreak``); the edge
that shows them (a booking screen, a reschedule refusal) phrases them here. Weekdays and
dates are read in the site's local calendar (``tz``).
"""

import datetime as dt
from collections.abc import Collection, Sequence
from zoneinfo import ZoneInfo

from sustain_core.series.values import (
    INFUSION_GAP_FLOOR,
    Alternative,
    AlternativeKind,
    ChairId,
    OpeningHours,
    RuleBreak,
    SeriesRule,
    SeriesRules,
    Slot,
)

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SHORT_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SHORT_MONTHS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
)  # fmt: skip
_ZERO = dt.timedelta(0)
_ONE_DAY = dt.timedelta(days=1)
# Windows ending by noon are "the morning window", starting at 17:00 or later "the evening".
_NOON = dt.time(12)
_EVENING = dt.time(17)


# -- Sentences -------------------------------------------------------------------------------


def gives_up(
    alternative: Alternative,
    *,
    rules: SeriesRules,
    earliest: dt.datetime,
    tz: ZoneInfo,
    windows: Sequence[tuple[dt.time, dt.time]] = (),
    preferred_chair: ChairId | None = None,
    requested_span: dt.timedelta | None = None,
) -> str:
    """Say in one plain sentence what ``alternative`` gives up, for the booking screen.

    The other arguments are the request ``search_series`` answered: the protocol's ``rules``,
    its ``earliest`` start, the patient's time ``windows``, the ``preferred_chair`` and the
    ``requested_span`` (None: the protocol's ``max_span``); ``tz`` is the site's. E.g. "in
    chair 2 instead of chair 1", "at 12:00 instead of the morning window", "spans 8 days
    instead of the 5 you asked for (protocol allows 8)"; an alternative that also starts
    after the look-ahead adds ", and starts 9 days later than asked (Mon 14 Dec)".
    """
    slots, kind = alternative.slots, alternative.kind
    first_day = slots[0].start.astimezone(tz).date()
    later = (
        f"starts {days((first_day - earliest.astimezone(tz).date()).days)} later than asked "
        f"({short_date(first_day)})"
    )
    if kind == AlternativeKind.LATER_START:
        return later
    if kind == AlternativeKind.OTHER_TIME:
        text = f"at {_start_times(slots, tz)} instead of {_window_name(windows)}"
    elif kind == AlternativeKind.OTHER_CHAIR:
        text = _other_chairs(slots, preferred_chair)
    else:
        text = _longer_span(
            slots,
            requested=rules.max_span if requested_span is None else requested_span,
            allowed=rules.max_span,
        )
    return f"{text}, and {later}" if alternative.late else text


def rule_break(broken: RuleBreak, rules: SeriesRules, *, tz: ZoneInfo) -> str:
    """Say which rule a series breaks, with the numbers (``check_series``).

    The sentence starts with the rule's field name, e.g. "min_gap: visits 2 and 3 start 1 day
    23 h 30 min apart (Wednesday 2026-04-08 08:00 → Friday 2026-04-10 07:30); the protocol
    requires at least 2 days"; ``rules`` are the ones checked and ``tz`` the site's.
    """
    rule, starts = broken.rule, broken.starts
    if rule == SeriesRule.COUNT:
        return f"count: the series has {len(starts)} visits; the protocol asks for {rules.count}"
    if rule in {SeriesRule.MIN_GAP, SeriesRule.MAX_GAP}:
        (number, _), (earlier, later) = broken.visits, starts
        limit = (
            f"requires at least {describe(rules.min_gap)}"
            if rule == SeriesRule.MIN_GAP
            else f"allows at most {describe(rules.max_gap or _ZERO)}"
        )
        return (
            f"{rule}: visits {number} and {number + 1} start {describe_exact(later - earlier)} "
            f"apart ({local(earlier, tz)} → {local(later, tz)}); the protocol {limit}"
        )
    if rule == SeriesRule.MAX_SPAN:
        first, last = starts
        return (
            f"max_span: the last visit starts {describe_exact(last - first)} after the first "
            f"({local(first, tz)} → {local(last, tz)}); the series must end within "
            f"{describe(rules.max_span)} of its first start"
        )
    day = starts[0].astimezone(tz).date()
    if rule == SeriesRule.WEEKDAYS:
        return (
            f"weekdays: visit {broken.visits[0]} is on {day_label(day)}; the protocol allows "
            f"{weekday_list(rules.weekdays or (), 'and')}"
        )
    monday = day - dt.timedelta(days=day.weekday())
    return (
        f"max_per_week: {len(starts)} visits in the week of Monday {monday.isoformat()}; the "
        f"protocol allows at most {rules.max_per_week}"
    )


# -- Refusals --------------------------------------------------------------------------------


def no_series_fits(
    rules: SeriesRules,
    *,
    duration: dt.timedelta,
    earliest: dt.datetime,
    latest_first: dt.datetime,
    tz: ZoneInfo,
    availability: bool,
    staffed: bool,
) -> str:
    """Why ``plan_series`` found nothing: the window searched and every rule it kept
    (``availability``: the patient's availability was given; ``staffed``: staff blocks)."""
    where = " within opening hours"
    if availability:
        where += " and the patient's availability"
    if staffed:
        where += ", with the nurses and prescriber it needs on shift"
    if rules.weekdays is not None:
        where += f" on {weekday_list(rules.weekdays, 'or')}"
    week = (
        ""
        if rules.max_per_week is None
        else f"no more than {visits(rules.max_per_week)} in one calendar week (Monday–Sunday), "
    )
    return (
        f"no {rules.count}-visit series fits between {earliest.astimezone(tz):%Y-%m-%d} and "
        f"{latest_first.astimezone(tz):%Y-%m-%d}: each visit takes {describe(duration)} in a "
        f"free chair{where}, starts {gap_rule(rules.min_gap, rules.max_gap)} after the previous "
        f"one, {week}and the series ends within {describe(rules.max_span)} of its first start"
    )


def no_dates_fit(
    rules: SeriesRules,
    *,
    start: dt.date,
    last_first: dt.date,
    min_days: int,
    max_days: int | None,
    closed: bool,
) -> str:
    """Why ``plan_series_dates`` found nothing from ``start`` to ``last_first``, with the
    gaps in whole days (``closed``: some dates were closed)."""
    apart = f"at least {days(min_days)}"
    if max_days is not None:
        apart += f" and at most {days(max_days)}"
    limits = ""
    if rules.weekdays is not None:
        limits += f", only on {weekday_list(rules.weekdays, 'or')}"
    if rules.max_per_week is not None:
        limits += f", at most {rules.max_per_week} in one calendar week (Monday–Sunday)"
    if closed:
        limits += ", not on closed dates"
    return (
        f"no {rules.count}-visit series starts between {start.isoformat()} and "
        f"{last_first.isoformat()}: visits on dates {apart} apart{limits}, and all within "
        f"{describe(rules.max_span)} counting the first and the last visit's day"
    )


def under_gap_floor(other: dt.datetime, tz: ZoneInfo) -> str:
    """A visit would start under ``INFUSION_GAP_FLOOR`` from the patient's infusion at
    ``other`` (``series.under_gap_floor``), named in the site's time zone ``tz``."""
    hours = INFUSION_GAP_FLOOR // dt.timedelta(hours=1)
    return (
        f"infusions of one patient start at least {hours} h apart; this patient has a visit "
        f"at {other.astimezone(tz):%Y-%m-%d %H:%M}"
    )


def closed_on(day: dt.date, why: str) -> str:
    """The site is closed on ``day`` (``why``: "closed date", ...)."""
    return f"the site is closed on {day_label(day)} ({why})"


def outside_hours(
    rows: Sequence[OpeningHours], local_start: dt.datetime, local_end: dt.datetime
) -> str:
    """A visit from ``local_start`` to ``local_end`` lies outside its day's opening ``rows``."""
    opening = ", ".join(f"{row.opens:%H:%M}–{row.closes:%H:%M}" for row in rows)
    return (
        f"{day_label(local_start.date())} opens {opening}; "
        f"{local_start:%H:%M}–{local_end:%H:%M} is outside"
    )


# -- Dates, weekdays and durations -----------------------------------------------------------


def day_label(day: dt.date) -> str:
    """Name a date with its weekday: "Tuesday 2026-12-01"."""
    return f"{_WEEKDAY_NAMES[day.weekday()]} {day.isoformat()}"


def local(instant: dt.datetime, tz: ZoneInfo) -> str:
    """Name an instant by its local weekday, date and time: "Monday 2026-04-06 08:00"."""
    local_time = instant.astimezone(tz)
    return f"{_WEEKDAY_NAMES[local_time.weekday()]} {local_time:%Y-%m-%d %H:%M}"


def short_date(day: dt.date) -> str:
    """Name a date the way a booking screen does: "Mon 14 Dec"."""
    return f"{_SHORT_WEEKDAYS[day.weekday()]} {day.day} {_SHORT_MONTHS[day.month - 1]}"


def weekday_list(weekdays: Collection[int], conjunction: str) -> str:
    """Name weekdays (0 = Monday) in order: "Monday, Wednesday and Friday"."""
    names = [_WEEKDAY_NAMES[day] for day in sorted(weekdays)]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def visits(count: int) -> str:
    """Count visits in words: "1 visit", "3 visits"."""
    return "1 visit" if count == 1 else f"{count} visits"


def days(count: int) -> str:
    """Count days in words: "1 day", "3 days"."""
    return "1 day" if count == 1 else f"{count} days"


def describe(duration: dt.timedelta) -> str:
    """Describe a duration in its largest whole unit: "2 days", "36 h", "45.5 min"."""
    if duration % _ONE_DAY == _ZERO:
        return days(duration.days)
    if duration % dt.timedelta(hours=1) == _ZERO:
        return f"{duration // dt.timedelta(hours=1)} h"
    return f"{duration / dt.timedelta(minutes=1):g} min"


def describe_exact(duration: dt.timedelta) -> str:
    """Describe a non-negative elapsed time as days, hours and minutes ("1 day 23 h 30 min")."""
    minutes = duration // dt.timedelta(minutes=1)
    whole_days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [days(whole_days)] if whole_days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes or not parts else []
    return " ".join(parts)


def gap_rule(min_gap: dt.timedelta, max_gap: dt.timedelta | None) -> str:
    """The gap rule in words: "at least 2 days", "at least 2 days and at most 60 h"."""
    rule = f"at least {describe(min_gap)}"
    if max_gap is not None:
        rule += f" and at most {describe(max_gap)}"
    return rule


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


def _other_chairs(slots: Sequence[Slot], preferred: ChairId | None) -> str:
    used = {slot.chair for slot in slots}
    if len(used) == 1:
        return f"in chair {slots[0].chair} instead of chair {preferred}"
    return f"in different chairs instead of only chair {preferred}"


def _longer_span(slots: Sequence[Slot], *, requested: dt.timedelta, allowed: dt.timedelta) -> str:
    span = slots[-1].end - slots[0].start
    if requested % _ONE_DAY == _ZERO and allowed % _ONE_DAY == _ZERO:
        # Whole days, counting a part day as a day: 18 days 2 h spans 19 days.
        return (
            f"spans {days(-(-span // _ONE_DAY))} instead of the {requested.days} you asked for "
            f"(protocol allows {allowed.days})"
        )
    return (
        f"spans {describe_exact(span)} instead of the {describe(requested)} you asked for "
        f"(protocol allows {describe(allowed)})"
    )
