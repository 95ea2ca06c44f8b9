"""Protocol validation: the checks that a protocol's parts fit together, and whether its
induction series can be booked at all.

``Protocol.__post_init__`` runs ``check_protocol``; this module only reads the protocol, so it
imports the model for types alone (the model imports it). Each refusal is a
ClinicalValueError naming the rule it breaks.
"""

import datetime as dt
from typing import TYPE_CHECKING

from sustain_core.errors import ClinicalValueError, RulesBroken
from sustain_core.instruments import INSTRUMENTS, SUICIDE_ITEM_INSTRUMENTS
from sustain_core.measurement import Anchor
from sustain_core.outcomes import DEFAULT_RULES
from sustain_core.protocols import guardrails
from sustain_core.series import SeriesRules

if TYPE_CHECKING:  # the model runs these checks on construction
    from sustain_core.protocols.model import Protocol

_ZERO = dt.timedelta(0)
_MINUTE = dt.timedelta(minutes=1)
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)
_AGE_YEARS_MAX = 120  # a bound against typing errors, not a clinical rule
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def check_protocol(protocol: "Protocol") -> None:
    """Refuse a protocol whose parts do not fit together, naming every rule it breaks.

    The checks, each run even when one before it failed: ``series`` (the induction cannot
    fit; see ``feasible_start_weekdays``), ``instrument`` (an unknown code, an outcome
    instrument without response rules or not measured at baseline), ``measurement_plan``
    (rule keys repeat, no suicide item before every infusion of a psychiatric protocol),
    ``titration`` (two rules for one trigger, a per-hour regimen, a limit that does not suit
    the starting dose; see ``TitrationRule.check_start``), ``futility_after``,
    ``extension_max_infusions``, ``response_fraction``, ``partial_response_fraction`` (above
    0, below the response fraction), ``minimum_age_years`` (1 to 120, a
    bound against typing errors), ``contraindications_absolute`` (an item listed twice, or
    as both absolute and relative), ``required_medication_classes`` (a class listed twice),
    then every platform guardrail
    (``guardrails.protocol_breaches``). One broken rule raises its own ClinicalValueError;
    several raise RulesBroken, which holds each in that order.
    """
    found: list[ClinicalValueError] = []
    for check in (
        _check_series_of,
        _check_instruments,
        _check_measurement_keys,
        _check_suicide_items,
        _check_titration,
        _check_counts,
    ):
        try:
            check(protocol)
        except ClinicalValueError as error:
            found.append(error)
    found.extend(guardrails.protocol_breaches(protocol))
    if len(found) == 1:
        raise found[0]
    if found:
        raise RulesBroken(tuple(found))


def _check_series_of(protocol: "Protocol") -> None:
    _check_series(protocol.series, visit=protocol.visit_length)


def _check_measurement_keys(protocol: "Protocol") -> None:
    keys = [rule.key for rule in protocol.measurement_plan]
    if len(set(keys)) != len(keys):
        raise ClinicalValueError("measurement_plan", f"rule keys must be unique; got {keys}")


def _check_counts(protocol: "Protocol") -> None:
    count = protocol.series.count
    if protocol.futility_after is not None and not 1 <= protocol.futility_after <= count:
        raise ClinicalValueError(
            "futility_after",
            f"futility_after must be from 1 to the {count} induction infusions; "
            f"got {protocol.futility_after}",
        )
    if protocol.extension_max_infusions is not None and protocol.extension_max_infusions <= count:
        raise ClinicalValueError(
            "extension_max_infusions",
            f"an extension must allow more than the {count} induction infusions; "
            f"got {protocol.extension_max_infusions}",
        )
    minimum_age = protocol.minimum_age_years
    if minimum_age is not None and not 1 <= minimum_age <= _AGE_YEARS_MAX:
        raise ClinicalValueError(
            "minimum_age_years",
            f"minimum_age_years must be from 1 to {_AGE_YEARS_MAX}; got {minimum_age}",
        )
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ClinicalValueError(
            "contraindications_absolute",
            f"each contraindication is listed once, as absolute or relative; repeated: "
            f"{'; '.join(repeated)}",
        )
    if not 0 < protocol.response_fraction <= 1:
        raise ClinicalValueError(
            "response_fraction",
            f"response_fraction must be above 0 and at most 1; got {protocol.response_fraction}",
        )
    required = [str(code) for code in protocol.required_medication_classes]
    if len(set(required)) != len(required):
        raise ClinicalValueError(
            "required_medication_classes",
            f"each required medication class is listed once; got {', '.join(required)}",
        )
    if not 0 < protocol.partial_response_fraction < protocol.response_fraction:
        raise ClinicalValueError(
            "partial_response_fraction",
            "partial_response_fraction must be above 0 and below the response fraction "
            f"{protocol.response_fraction}; got {protocol.partial_response_fraction}",
        )


def _check_suicide_items(protocol: "Protocol") -> None:
    """A psychiatric protocol (any but chronic pain) measures a suicide item before every
    infusion: before infusion 1 (its baseline or a rule from infusion 1) and before each later
    one, boosters included (a before-each rule from infusion 2 at the latest). A suicide item
    is one that raises a suicide-risk alert (``SUICIDE_ITEM_INSTRUMENTS``); the pre-infusion
    gate then blocks the infusion until a prescriber clears the patient (issue 11: 10 of 13
    library protocols could never raise an alert). An implementation requirement, like the
    item-9 alert itself (clinical-facts §7)."""
    if protocol.condition == "chronic_pain":  # Condition.CHRONIC_PAIN (the model imports us)
        return
    asks = [
        rule
        for rule in protocol.measurement_plan
        if SUICIDE_ITEM_INSTRUMENTS & set(rule.instruments)
    ]
    each = [rule.from_infusion for rule in asks if rule.anchor == Anchor.BEFORE_EACH_INFUSION]
    first = any(rule.anchor == Anchor.BEFORE_FIRST_INFUSION for rule in asks) or 1 in each
    names = "PHQ-9, QIDS-SR16, MADRS or the C-SSRS screener"
    if not first:
        raise ClinicalValueError(
            "measurement_plan",
            f"a psychiatric protocol measures a suicide item ({names}) before infusion 1",
        )
    if not any(start <= 2 for start in each):
        raise ClinicalValueError(
            "measurement_plan",
            f"a psychiatric protocol measures a suicide item ({names}) before each infusion "
            "from infusion 2 (boosters included)",
        )


def _check_instruments(protocol: "Protocol") -> None:
    used = [
        ("instrument", protocol.instrument),
        *(("baseline_measures", code) for code in protocol.baseline_measures),
        *(
            (f"measurement_plan rule {rule.key}", code)
            for rule in protocol.measurement_plan
            for code in rule.instruments
        ),
    ]
    known = ", ".join(sorted(INSTRUMENTS))
    for where, code in used:
        if code not in INSTRUMENTS:
            raise ClinicalValueError(
                "instrument", f"unknown instrument {code!r} in {where}; known: {known}"
            )
    if protocol.instrument not in DEFAULT_RULES:
        scored = ", ".join(sorted(DEFAULT_RULES))
        raise ClinicalValueError(
            "instrument",
            f"{protocol.instrument} has no response or remission rules, so it cannot measure "
            f"the outcome; choose one of {scored}",
        )
    if protocol.instrument not in protocol.baseline_measures:
        raise ClinicalValueError(
            "instrument",
            f"the outcome instrument {protocol.instrument} must be among the baseline measures "
            f"{list(protocol.baseline_measures)}: response is a fall from its baseline",
        )


def _check_titration(protocol: "Protocol") -> None:
    triggers = [rule.trigger for rule in protocol.titration]
    if len(set(triggers)) != len(triggers):
        raise ClinicalValueError(
            "titration", f"at most one rule per trigger; got {[str(t) for t in triggers]}"
        )
    start = protocol.regimen.mg_per_kg
    if start is None:
        if protocol.titration:
            raise ClinicalValueError(
                "titration",
                "titration rules step a per-session mg/kg dose; this regimen is per hour",
            )
        return
    for rule in protocol.titration:
        rule.check_start(start)


# --- Series feasibility ---------------------------------------------------------------------


def feasible_start_weekdays(rules: SeriesRules, *, visit: dt.timedelta) -> frozenset[int]:
    """Return the weekdays (0 = Monday) an induction can start on and still keep its rules.

    Calendar model: one visit of length ``visit`` per day at the same time of day, so
    consecutive visits are a whole number of days apart, at least ceil(min_gap ÷ 24 h) and
    at least 1, and at most ``max_gap``; visits only on ``weekdays``, at most ``max_per_week``
    in a Monday–Sunday week, and the last visit ends within ``max_span`` of the first start.
    From each allowed start day every next visit takes the earliest day that fits.

    For example Murrough 2013 (6 visits, Monday–Wednesday–Friday, 48 h, 12 days
    [Murrough2013]) fits only from a Monday: from a Wednesday the sixth visit falls on day 12.
    A planner can use the result to offer only start days that work.
    """
    weekdays = rules.weekdays if rules.weekdays is not None else frozenset(range(7))
    min_days = max(1, -(-rules.min_gap // _DAY))
    last_day = (rules.max_span - visit) // _DAY
    return frozenset(
        start
        for start in sorted(weekdays)
        if _fits_from(rules, start, weekdays, min_days=min_days, last_day=last_day)
    )


def _fits_from(
    rules: SeriesRules, start: int, weekdays: frozenset[int], *, min_days: int, last_day: int
) -> bool:
    """Return True when the greedy earliest placement from ``start`` places every visit.

    Day numbers count from the first visit; ``start + day`` is the day's offset from the
    Monday of the first week, so ``% 7`` is its weekday and ``// 7`` its calendar week.
    """
    per_week = {0: 1}
    most_per_week = rules.max_per_week if rules.max_per_week is not None else rules.count

    def allowed(day: int) -> bool:
        weekday, week = (start + day) % 7, (start + day) // 7
        return weekday in weekdays and per_week.get(week, 0) < most_per_week

    day = 0
    for _ in range(rules.count - 1):
        candidate = day + min_days
        while candidate <= last_day and not allowed(candidate):
            candidate += 1
        if candidate > last_day or (
            rules.max_gap is not None and (candidate - day) * _DAY > rules.max_gap
        ):
            return False
        week = (start + candidate) // 7
        per_week[week] = per_week.get(week, 0) + 1
        day = candidate
    return True


def _check_series(rules: SeriesRules, *, visit: dt.timedelta) -> None:
    """Refuse series rules no calendar can satisfy, naming ``series``."""
    weekdays = rules.weekdays
    if (
        rules.count < 1
        or rules.min_gap < _ZERO
        or (rules.max_gap is not None and rules.max_gap < rules.min_gap)
        or (weekdays is not None and (not weekdays or not weekdays <= frozenset(range(7))))
        or (rules.max_per_week is not None and rules.max_per_week < 1)
    ):
        raise ClinicalValueError(
            "series",
            "count and max_per_week must be 1 or more, min_gap 0 or more, max_gap at least "
            f"min_gap, and weekdays a non-empty set of 0 (Monday) to 6; got {rules}",
        )
    needed = (rules.count - 1) * rules.min_gap + visit
    if needed > rules.max_span:
        raise ClinicalValueError(
            "series",
            f"{rules.count} sessions at least {_hours(rules.min_gap)} apart, each "
            f"{_text(visit)} long, need {_text(needed)} from the first start to the last end; "
            f"max_span is {_text(rules.max_span)}",
        )
    if not feasible_start_weekdays(rules, visit=visit):
        on = (
            "any day"
            if weekdays is None
            else " and ".join(_WEEKDAY_NAMES[day] for day in sorted(weekdays))
        )
        per_week = "" if rules.max_per_week is None else f", at most {rules.max_per_week} a week"
        at_most = "" if rules.max_gap is None else f" and at most {_hours(rules.max_gap)}"
        raise ClinicalValueError(
            "series",
            f"{rules.count} sessions on {on}{per_week}, at least {_hours(rules.min_gap)}"
            f"{at_most} apart, do not fit within {_text(rules.max_span)} from any start day",
        )


def _hours(duration: dt.timedelta) -> str:
    return f"{duration / _HOUR:g} h"


def _text(duration: dt.timedelta) -> str:
    days, rest = divmod(duration, _DAY)
    hours, rest = divmod(rest, _HOUR)
    minutes = rest / _MINUTE
    parts = [
        f"{days} day{'s' if days != 1 else ''}" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes:g} min" if minutes else "",
    ]
    return " ".join(part for part in parts if part) or "0 h"
