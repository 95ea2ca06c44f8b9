"""Dose arithmetic for a ketamine infusion: dose, drug volume and pump rate.

All quantities are ``Decimal`` with the unit in the name. Inputs outside the accepted ranges
are rejected with OutOfRange naming the field; nothing is clamped, rounded or coerced except
the two documented display/pump roundings in ``plan_infusion_dose``.
"""

from dataclasses import dataclass
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from sustain_core.errors import OutOfRange

# Vial strengths that may be drawn into the bag: 10 mg/mL and 50 mg/mL. 100 mg/mL must not be
# given IV without proper dilution [Ketalar-label], so it is rejected here.
ALLOWED_VIAL_MG_PER_ML = (Decimal("10"), Decimal("50"))
_UNDILUTED_ONLY_VIAL_MG_PER_ML = Decimal("100")

# An adult plausibility range for data entry (catches lb-for-kg and typing slips). This is not
# a published clinical rule.
WEIGHT_KG_MIN = Decimal("30")
WEIGHT_KG_MAX = Decimal("300")
_WEIGHT_KG_RESOLUTION = Decimal("0.1")

# Highest dose in the range community clinics titrate through, 0.5–3.0 mg/kg
# [CommunityUpdate2022].
MG_PER_KG_MAX = Decimal("3.0")

# Infusion pumps are programmed in steps of 0.1 mL/h; the pump rate is rounded half-up to this
# step (the UI shows the rounded figure and says so).
PUMP_RATE_RESOLUTION_ML_PER_H = Decimal("0.1")
_DOSE_RATE_RESOLUTION_MG_PER_H = Decimal("0.01")

# Data-entry plausibility bounds, not published rules: the largest common infusion bag, and
# ten hours (the longest published infusions here are 4 h, clinical-facts §8f).
_BAG_VOLUME_ML_MAX = Decimal("1000")
_INFUSION_MINUTES_MAX = 600

# Dose and drug volume must be exact: this context raises decimal.Inexact instead of rounding.
# Weights have at most one decimal place and vials are 10 or 50 mg/mL, so the results always
# terminate; only a mg/kg figure with an absurd number of digits could trip the trap.
_EXACT = Context(prec=34, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
# Rates are rounded once, on purpose, half-up; the precision makes any earlier rounding of the
# quotient irrelevant to that final step.
_ROUNDED = Context(prec=34, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero])


@dataclass(frozen=True)
class DosePlan:
    """What to draw up and how to program the pump for one infusion."""

    weight_kg: Decimal
    mg_per_kg: Decimal
    dose_mg: Decimal
    vial_mg_per_ml: Decimal
    drug_volume_ml: Decimal
    bag_volume_ml: Decimal
    infusion_minutes: int
    pump_rate_ml_per_h: Decimal
    dose_rate_mg_per_h: Decimal
    include_drug_volume: bool


def validate_weight_kg(weight_kg: Decimal) -> Decimal:
    """Return the body weight unchanged if it is plausible for an adult dose calculation.

    Accepts a finite ``Decimal`` from 30 to 300 kg inclusive with at most one decimal place
    (WEIGHT_KG_MIN/WEIGHT_KG_MAX: a data-entry plausibility range, not a published rule).
    Floats and ints are rejected rather than converted.

    Raises OutOfRange naming ``weight_kg`` and the allowed range.
    """
    allowed = f"between {WEIGHT_KG_MIN} and {WEIGHT_KG_MAX} kg"
    _check_decimal("weight_kg", weight_kg, what="weight", allowed=allowed)
    if not WEIGHT_KG_MIN <= weight_kg <= WEIGHT_KG_MAX:
        raise OutOfRange("weight_kg", f"weight must be {allowed}; got {weight_kg}")
    if weight_kg.quantize(_WEIGHT_KG_RESOLUTION) != weight_kg:
        raise OutOfRange(
            "weight_kg", f"weight must be {allowed} to at most 0.1 kg; got {weight_kg}"
        )
    return weight_kg


def plan_infusion_dose(
    *,
    weight_kg: Decimal,
    mg_per_kg: Decimal,
    vial_mg_per_ml: Decimal,
    bag_volume_ml: Decimal,
    infusion_minutes: int,
    include_drug_volume: bool = False,
) -> DosePlan:
    """Calculate the dose, drug volume and pump rate of a weight-based infusion.

    - ``dose_mg`` = weight × mg/kg, exact (never rounded).
    - ``drug_volume_ml`` = dose ÷ vial strength, exact (10 and 50 mg/mL always terminate).
    - ``pump_rate_ml_per_h`` = infused volume × 60 ÷ minutes, rounded half-up to
      PUMP_RATE_RESOLUTION_ML_PER_H (0.1 mL/h). The infused volume is the bag volume, plus the
      drug volume when ``include_drug_volume`` is set: whether to add it is a local pharmacy
      rule (unconfirmed, clinical-facts §8f), hence a parameter.
    - ``dose_rate_mg_per_h`` = dose × 60 ÷ minutes rounded half-up to 0.01, a display figure.

    Worked example (clinical-facts §8f, derived): 70 kg × 0.5 mg/kg = 35 mg = 0.7 mL of
    50 mg/mL; 100 mL over 40 min runs at 150.0 mL/h, 52.50 mg/h. The protocol dose and time
    come from the protocol, e.g. 0.5 mg/kg in 100 mL 0.9% NaCl over 40 min [MECP2024].

    Raises OutOfRange naming the field: weight as in ``validate_weight_kg``; ``mg_per_kg``
    above 0 and at most MG_PER_KG_MAX (3.0, [CommunityUpdate2022]); ``vial_mg_per_ml`` one of
    ALLOWED_VIAL_MG_PER_ML (100 mg/mL must not be given IV undiluted [Ketalar-label]);
    ``bag_volume_ml`` above 0 and at most 1000; ``infusion_minutes`` an int 1–600.
    """
    validate_weight_kg(weight_kg)
    _check_mg_per_kg(mg_per_kg)
    _check_vial(vial_mg_per_ml)
    _check_bag_volume(bag_volume_ml)
    _check_infusion_minutes(infusion_minutes)

    with localcontext(_EXACT):
        dose_mg = weight_kg * mg_per_kg
        drug_volume_ml = dose_mg / vial_mg_per_ml
        infused_volume_ml = bag_volume_ml + drug_volume_ml if include_drug_volume else bag_volume_ml
    return DosePlan(
        weight_kg=weight_kg,
        mg_per_kg=mg_per_kg,
        dose_mg=dose_mg,
        vial_mg_per_ml=vial_mg_per_ml,
        drug_volume_ml=drug_volume_ml,
        bag_volume_ml=bag_volume_ml,
        infusion_minutes=infusion_minutes,
        pump_rate_ml_per_h=_per_hour(
            infused_volume_ml, infusion_minutes, PUMP_RATE_RESOLUTION_ML_PER_H
        ),
        dose_rate_mg_per_h=_per_hour(dose_mg, infusion_minutes, _DOSE_RATE_RESOLUTION_MG_PER_H),
        include_drug_volume=include_drug_volume,
    )


def _per_hour(amount: Decimal, minutes: int, resolution: Decimal) -> Decimal:
    with localcontext(_ROUNDED):
        return (amount * 60 / minutes).quantize(resolution)


def _check_decimal(field: str, value: Decimal, *, what: str, allowed: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise OutOfRange(field, f"{what} must be a finite Decimal {allowed}; got {value!r}")


def _check_mg_per_kg(mg_per_kg: Decimal) -> None:
    allowed = f"above 0 and at most {MG_PER_KG_MAX} mg/kg"
    _check_decimal("mg_per_kg", mg_per_kg, what="dose", allowed=allowed)
    if not 0 < mg_per_kg <= MG_PER_KG_MAX:
        raise OutOfRange("mg_per_kg", f"dose must be {allowed}; got {mg_per_kg}")


def _check_vial(vial_mg_per_ml: Decimal) -> None:
    allowed = " or ".join(str(strength) for strength in ALLOWED_VIAL_MG_PER_ML) + " mg/mL"
    _check_decimal("vial_mg_per_ml", vial_mg_per_ml, what="vial strength", allowed=allowed)
    if vial_mg_per_ml == _UNDILUTED_ONLY_VIAL_MG_PER_ML:
        raise OutOfRange(
            "vial_mg_per_ml",
            f"{vial_mg_per_ml} mg/mL must not be given IV undiluted [Ketalar-label]; "
            f"use a {allowed} vial",
        )
    if vial_mg_per_ml not in ALLOWED_VIAL_MG_PER_ML:
        raise OutOfRange("vial_mg_per_ml", f"vial strength must be {allowed}; got {vial_mg_per_ml}")


def _check_bag_volume(bag_volume_ml: Decimal) -> None:
    allowed = f"above 0 and at most {_BAG_VOLUME_ML_MAX} mL"
    _check_decimal("bag_volume_ml", bag_volume_ml, what="bag volume", allowed=allowed)
    if not 0 < bag_volume_ml <= _BAG_VOLUME_ML_MAX:
        raise OutOfRange("bag_volume_ml", f"bag volume must be {allowed}; got {bag_volume_ml}")


def _check_infusion_minutes(infusion_minutes: int) -> None:
    allowed = f"a whole number of minutes from 1 to {_INFUSION_MINUTES_MAX}"
    if (
        isinstance(infusion_minutes, bool)
        or not isinstance(infusion_minutes, int)
        or not 1 <= infusion_minutes <= _INFUSION_MINUTES_MAX
    ):
        raise OutOfRange(
            "infusion_minutes", f"infusion time must be {allowed}; got {infusion_minutes!r}"
        )
