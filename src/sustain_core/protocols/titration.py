"""Titration: the dose for the next infusion, by a protocol's titration rules.

``titrate`` judges the infusions given so far against the protocol's ``TitrationRule`` list
and ``SafetyThresholds`` and returns a ``TitrationDecision``; each decision carries its rule's
source.
"""

from dataclasses import dataclass
from decimal import Decimal

from sustain_core.errors import OutOfRange
from sustain_core.instruments import INSTRUMENTS
from sustain_core.numbers import plain
from sustain_core.protocols.model import (
    Protocol,
    TitrationAction,
    TitrationRule,
    TitrationTrigger,
    _present,
)


@dataclass(frozen=True)
class TitrationDecision:
    """The dose (mg/kg) for the next infusion, what changed, why, and the rule's source."""

    action: TitrationAction
    mg_per_kg: Decimal
    reason: str
    source: str


def titrate(
    protocol: Protocol,
    *,
    current_mg_per_kg: Decimal,
    infusions_given: int,
    responded: bool,
    tolerated: bool,
    dissociation_score: int | None,
    systolic_max: int | None,
    diastolic_max: int | None,
) -> TitrationDecision:
    """Return the dose for the next infusion by the protocol's titration rules.

    Inputs describe the course so far: the dose of the last infusion, how many infusions were
    given, whether the patient has responded (on the protocol's outcome ``instrument``, by its
    ``response_fraction``: the measure the NO_RESPONSE rule reads, named in its reason), whether
    the clinician judged the last infusion tolerated, its CADSS total and the highest systolic
    and diastolic pressures during it (None: not measured, so that rule cannot fire).

    Order: safety first. A BLOOD_PRESSURE rule fires when systolic or diastolic is above the
    stop threshold, a DISSOCIATION rule when CADSS is above the hold level (``safety``); if
    both fire the lower resulting dose wins (a tie goes to blood pressure). HOLD keeps the
    dose; REDUCE subtracts its step down to its floor, and at the floor holds for review.
    Otherwise the NO_RESPONSE rule increases by its step, capped at its maximum, when the
    patient has not responded, tolerated the last infusion and has had ``after_infusion``
    infusions; else the dose is UNCHANGED (no rule, responded, not tolerated, too early, or
    already at the maximum).

    Source: the protocol's rules, each citing its own source (the library's depression
    standard: +0.25 mg/kg after infusion 2 up to 0.75 mg/kg, from the issue; unconfirmed).

    Raises OutOfRange naming ``current_mg_per_kg`` when it is not above 0, or
    ``infusions_given`` when it is negative.
    """
    if not current_mg_per_kg > 0:
        raise OutOfRange(
            "current_mg_per_kg", f"current_mg_per_kg must be above 0; got {current_mg_per_kg}"
        )
    if infusions_given < 0:
        raise OutOfRange(
            "infusions_given", f"infusions_given must be 0 or more; got {infusions_given}"
        )
    rules = {rule.trigger: rule for rule in protocol.titration}
    safety = protocol.safety
    fired: list[TitrationDecision] = []
    pressure = rules.get(TitrationTrigger.BLOOD_PRESSURE)
    above = [
        f"{name} {value} mmHg above {limit}"
        for name, value, limit in (
            ("systolic", systolic_max, safety.stop_systolic_above),
            ("diastolic", diastolic_max, safety.stop_diastolic_above),
        )
        if value is not None and value > limit
    ]
    if pressure is not None and above:
        fired.append(_safety_decision(pressure, current_mg_per_kg, "; ".join(above)))
    dissociation = rules.get(TitrationTrigger.DISSOCIATION)
    if (
        dissociation is not None
        and dissociation_score is not None
        and dissociation_score > safety.cadss_hold_above
    ):
        reason = f"CADSS {dissociation_score} above the hold level {safety.cadss_hold_above}"
        fired.append(_safety_decision(dissociation, current_mg_per_kg, reason))
    if fired:
        return min(fired, key=lambda decision: decision.mg_per_kg)

    increase = rules.get(TitrationTrigger.NO_RESPONSE)
    if increase is None:
        return _unchanged(current_mg_per_kg, "the protocol has no dose-increase rule", "")
    return _increase_decision(
        increase,
        measure=INSTRUMENTS[protocol.instrument].short_title,
        current=current_mg_per_kg,
        infusions_given=infusions_given,
        responded=responded,
        tolerated=tolerated,
    )


def _increase_decision(
    rule: TitrationRule,
    *,
    measure: str,
    current: Decimal,
    infusions_given: int,
    responded: bool,
    tolerated: bool,
) -> TitrationDecision:
    limit, step = _present(rule.limit_mg_per_kg), _present(rule.step_mg_per_kg)
    if responded:
        reason = f"responded on the {measure}: keep the dose"
    elif not tolerated:
        reason = "not tolerated: no increase"
    elif infusions_given < rule.after_infusion:
        reason = f"no increase before {rule.after_infusion} infusions are given"
    elif current >= limit:
        reason = f"already at the maximum {plain(limit)} mg/kg"
    else:
        return TitrationDecision(
            action=TitrationAction.INCREASE,
            mg_per_kg=min(current + step, limit),
            reason=(
                f"no response on the {measure} after {infusions_given} infusions and tolerated: "
                f"+{plain(step)} mg/kg up to {plain(limit)} mg/kg"
            ),
            source=rule.source,
        )
    return _unchanged(current, reason, rule.source)


def _safety_decision(rule: TitrationRule, current: Decimal, reason: str) -> TitrationDecision:
    if rule.action == TitrationAction.HOLD:
        return TitrationDecision(
            TitrationAction.HOLD, current, f"{reason}: hold the dose", rule.source
        )
    floor, step = _present(rule.limit_mg_per_kg), _present(rule.step_mg_per_kg)
    if current <= floor:
        return TitrationDecision(
            TitrationAction.HOLD,
            current,
            f"{reason}: already at the floor {plain(floor)} mg/kg, hold the dose for prescriber "
            "review",
            rule.source,
        )
    return TitrationDecision(
        TitrationAction.REDUCE,
        max(current - step, floor),
        f"{reason}: −{plain(step)} mg/kg down to {plain(floor)} mg/kg",
        rule.source,
    )


def _unchanged(current: Decimal, reason: str, source: str) -> TitrationDecision:
    return TitrationDecision(TitrationAction.UNCHANGED, current, reason, source)


def trigger_reads(protocol: Protocol, trigger: TitrationTrigger) -> str:
    """Say in words which measure a titration trigger reads under ``protocol``.

    NO_RESPONSE reads the protocol's outcome instrument (``Protocol.instrument``): response is
    a fall of at least ``response_fraction`` of its baseline. DISSOCIATION reads the CADSS
    total at the last infusion against ``safety.cadss_hold_above``; BLOOD_PRESSURE the
    highest systolic and diastolic pressure during the last infusion against the stop
    thresholds (``SafetyThresholds``).
    """
    safety = protocol.safety
    if trigger == TitrationTrigger.NO_RESPONSE:
        title = INSTRUMENTS[protocol.instrument].short_title
        percent = plain(protocol.response_fraction * 100)
        return (
            f"the {title}, the protocol's outcome measure: no fall of {percent} % or more from "
            "its baseline yet"
        )
    if trigger == TitrationTrigger.DISSOCIATION:
        return f"the CADSS total at the last infusion: above {safety.cadss_hold_above}"
    return (
        "the highest blood pressure during the last infusion: above "
        f"{safety.stop_systolic_above}/{safety.stop_diastolic_above} mmHg"
    )
