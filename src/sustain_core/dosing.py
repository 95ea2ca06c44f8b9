"""Dose arithmetic for a ketamine infusion: dosing weight, dose, drug volume and pump rate.

All quantities are ``Decimal`` with the unit in the name. Inputs outside the accepted ranges
are rejected with OutOfRange naming the field; nothing is clamped, rounded or coerced except
at the documented steps: the drawn volume rounded to the marks of the syringe it is drawn in
(``Preparation``, shown with the delivered and the prescribed dose), the display/pump
roundings in ``plan_infusion_dose`` and ``plan_hourly_infusion``, the 0.1 kg of an ideal or
adjusted body weight (``dosing_weight_kg``) and the 0.001 mg/kg of ``cumulative_mg_per_kg``.
An hourly cap is a protocol rule, not a clamp: ``HourlyDosePlan`` says whether it applied and
what the uncapped rate was. Every number in a message is written by ``numbers.plain``.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_DOWN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import StrEnum

from sustain_core.errors import OutOfRange
from sustain_core.numbers import plain

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

# The largest hourly rate for an outpatient ketamine infusion: the chronic-pain guideline's
# 0.5–2 mg/kg/h [Cohen2018-GC]. Its "up to 7 mg/kg/h in refractory ICU cases" is not a clinic
# infusion, so it is refused here. The lower end is "above 0": the CRPS regimen runs at
# 0.35 mg/kg/h [Schwartzman2009], below the guideline's 0.5.
MG_PER_KG_PER_H_MAX = Decimal("2")

# How old the weight used for dosing may be. 30 days is a clinic default, not a published rule
# (unconfirmed); the clinic sets it within 0 (weighed the same day) to 365 days, a data-entry
# bound (unconfirmed).
WEIGHT_MAX_AGE_DAYS_DEFAULT = 30
WEIGHT_MAX_AGE_DAYS_LIMIT = 365

# Ideal body weight by Devine: 50 kg (men) or 45.5 kg (women) + 2.3 kg per inch over 5 ft.
# (not in clinical-facts; Devine 1974, unconfirmed here.) The formula starts at 5 ft =
# 152.4 cm; below it the same line is extended, 2.3 kg less per inch under 5 ft (an
# extrapolation, unconfirmed), so that a shorter adult can be dosed. 100–250 cm is a bound
# against typing errors, not a clinical rule.
DEVINE_BASE_HEIGHT_CM = Decimal("152.4")
HEIGHT_CM_MIN = Decimal("100")
HEIGHT_CM_MAX = Decimal("250")
_HEIGHT_CM_RESOLUTION = Decimal("0.1")
_DEVINE_BASE_KG = {"male": Decimal("50"), "female": Decimal("45.5")}
# Devine has a formula for men and one for women only. For a patient recorded with another sex
# (or none) the ideal body weight is the weight at a BMI of 22 (Lemmens HJ, Brodsky JB,
# Bernstein DP. Estimating ideal body weight — a new formula. Obes Surg 2005;15(7):1082-1083;
# not in clinical-facts, unconfirmed here), which needs no sex and stays below the actual
# weight of anyone at a BMI threshold of 25 or more.
_SEX_NEUTRAL_IDEAL_BMI = Decimal("22")
_DEVINE_KG_PER_INCH = Decimal("2.3")
_CM_PER_INCH = Decimal("2.54")
# Adjusted body weight = IBW + 0.4 × (actual − IBW). (not in clinical-facts; the usual
# adjusted-weight factor, unconfirmed here.)
_ADJUSTED_FRACTION = Decimal("0.4")
# The BMI from which a clinic doses on ideal or adjusted weight. clinical-facts §2a mentions
# only an unconfirmed "BMI > 30 caveat" [Sanacora2017-summaries]; the clinic sets the
# threshold. Bounds: 25 (where overweight starts) to 50, data-entry bounds (unconfirmed). The
# lower bound also guarantees the dosing weight never exceeds the actual weight: with BMI ≥ T
# and T > 23.3, T·h² > Devine IBW at every height (the discriminant of
# T·h² − 90.55·h + 88 is negative), so nothing needs a silent min(actual, ideal).
BMI_THRESHOLD_MIN = Decimal("25")
BMI_THRESHOLD_MAX = Decimal("50")
_BMI_THRESHOLD_RESOLUTION = Decimal("0.1")

# Cumulative mg/kg is rounded once, half-up, to this resolution (a dose divided by a weight
# such as 70.3 kg does not terminate).
CUMULATIVE_MG_PER_KG_RESOLUTION = Decimal("0.001")


class WeightBasis(StrEnum):
    """Which body weight a clinic doses on (a clinic rule; clinical-facts §2a, unconfirmed)."""

    ACTUAL = "actual"
    IDEAL = "ideal"
    ADJUSTED = "adjusted"


class BagConvention(StrEnum):
    """How the drawn drug goes into the infusion bag; every protocol says which.

    - WITHDRAW: withdraw the drug's volume from the bag first, then add the drug; the bag ends
      at its nominal volume and the pump runs that volume in the infusion time.
    - ADD: add the drug to the bag; the final volume is the bag's plus the drug's, and the
      pump runs the final volume in the infusion time.

    Either way the whole drawn dose runs in the infusion time. Neither withdrawing nor
    counting the drug's volume leaves up to ~10 % of the dose in the bag when the pump stops,
    or runs ~11 % long (20 mL in a 200 mL bag; issue 11). Which one a clinic uses is a local
    pharmacy rule (clinical-facts §8f, unconfirmed), hence a protocol field.
    """

    WITHDRAW = "withdraw"
    ADD = "add"


@dataclass(frozen=True)
class Syringe:
    """A syringe the drug is drawn in: how much it holds and how far apart its marks are."""

    capacity_ml: Decimal
    graduation_ml: Decimal


# The drug is drawn in the smallest of these syringes that holds it, and the volume is rounded
# to its marks. Graduations: 1 mL (tuberculin) every 0.01 mL, 3 mL every 0.1 mL, 5 mL and
# 10 mL every 0.2 mL (secondary: the Royal Melbourne Institute of Technology as quoted at
# https://pt.411answers.com/a/como-se-le-uma-seringa.html; not in clinical-facts); 20 mL every
# 1 mL (unconfirmed; a secondary summary, https://hotelsabruzzo.com/how-do-you-measure-the-
# volume-of-a-syringe). Makers differ (some 10 mL syringes are marked every 0.5 mL): these are
# common sizes, not a clinic's stock (unconfirmed).
SYRINGES = (
    Syringe(Decimal("1"), Decimal("0.01")),
    Syringe(Decimal("3"), Decimal("0.1")),
    Syringe(Decimal("5"), Decimal("0.2")),
    Syringe(Decimal("10"), Decimal("0.2")),
    Syringe(Decimal("20"), Decimal("1")),
)
# A drawn volume that cannot come within 5 % of the prescribed volume on its syringe is refused
# (a platform bound, unconfirmed; it only catches volumes under 0.1 mL, where a 1 mL syringe's
# 0.01 mL marks are more than 5 % apart): the other vial strength measures it.
DRAWN_VOLUME_TOLERANCE = Decimal("0.05")


@dataclass(frozen=True)
class Preparation:
    """How to make up the bag for one infusion: what to draw, in which syringe, what goes into
    the bag and how to program the pump.

    ``prescribed_mg`` is the dose calculated (exact); ``drawn_ml`` the volume drawn, rounded
    to the nearest mark of ``syringe`` (exactly halfway: the lower mark); ``delivered_mg`` =
    drawn × vial strength, the dose given. ``final_volume_ml`` is the bag's volume (WITHDRAW)
    or bag + drawn (ADD), and ``pump_rate_ml_per_h`` runs it in ``infusion_minutes``, rounded
    half-up to 0.1 mL/h.
    """

    vial_mg_per_ml: Decimal
    prescribed_mg: Decimal
    syringe: Syringe
    drawn_ml: Decimal
    delivered_mg: Decimal
    bag: BagConvention
    bag_volume_ml: Decimal
    final_volume_ml: Decimal
    infusion_minutes: int
    pump_rate_ml_per_h: Decimal

    @property
    def exact_volume_ml(self) -> Decimal:
        """The prescribed dose's volume before rounding to the syringe's marks."""
        with localcontext(_ROUNDED):
            return self.prescribed_mg / self.vial_mg_per_ml

    @property
    def rounded(self) -> bool:
        """Whether the drawn volume differs from the prescribed dose's volume."""
        return self.delivered_mg != self.prescribed_mg

    @property
    def dose_text(self) -> str:
        """The drawn volume and the dose it gives, with the prescribed dose when they differ:
        "0.72 mL = 36 mg; prescribed 36.05 mg (0.721 mL, rounded to the 1 mL syringe's
        0.01 mL marks)"."""
        drawn = f"{plain(self.drawn_ml)} mL = {plain(self.delivered_mg)} mg"
        if not self.rounded:
            return f"{drawn}, as prescribed"
        return (
            f"{drawn}; prescribed {plain(self.prescribed_mg)} mg "
            f"({plain(self.exact_volume_ml)} mL, rounded to the {plain(self.syringe.capacity_ml)}"
            f" mL syringe's {plain(self.syringe.graduation_ml)} mL marks)"
        )

    @property
    def steps(self) -> tuple[str, str]:
        """What the nurse does, in words: draw the drug, then make up the bag and run it."""
        drug = f"{plain(self.drawn_ml)} mL of {plain(self.vial_mg_per_ml)} mg/mL"
        draw = (
            f"Draw {drug} in a {plain(self.syringe.capacity_ml)} mL syringe (marked every "
            f"{plain(self.syringe.graduation_ml)} mL): {self.dose_text}."
        )
        run = (
            f"{plain(self.final_volume_ml)} mL at {plain(self.pump_rate_ml_per_h, places=1)} "
            f"mL/h over {self.infusion_minutes} min"
        )
        bag = f"{plain(self.bag_volume_ml)} mL bag"
        if self.bag == BagConvention.WITHDRAW:
            make_up = f"Withdraw {plain(self.drawn_ml)} mL from the {bag}, then add {drug}: {run}."
        else:
            make_up = f"Add {drug} to the {bag} (nothing withdrawn): {run}."
        return draw, make_up


# Dose and drug volume must be exact: this context raises decimal.Inexact instead of rounding.
# Weights have at most one decimal place and vials are 10 or 50 mg/mL, so the results always
# terminate; only a mg/kg figure with an absurd number of digits could trip the trap.
_EXACT = Context(prec=34, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
# Rates are rounded once, on purpose, half-up; the precision makes any earlier rounding of the
# quotient irrelevant to that final step.
_ROUNDED = Context(prec=34, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero])


@dataclass(frozen=True)
class DosePlan:
    """What to draw up and how to program the pump for one infusion.

    ``dose_mg`` is the prescribed dose (weight × mg/kg, exact); ``preparation`` says what to
    draw, the dose that gives, and how to make up and run the bag.
    """

    weight_kg: Decimal
    mg_per_kg: Decimal
    dose_mg: Decimal
    vial_mg_per_ml: Decimal
    bag_volume_ml: Decimal
    infusion_minutes: int
    dose_rate_mg_per_h: Decimal
    preparation: Preparation

    @property
    def drug_volume_ml(self) -> Decimal:
        """The volume drawn, rounded to the syringe's marks."""
        return self.preparation.drawn_ml

    @property
    def pump_rate_ml_per_h(self) -> Decimal:
        """The pump rate for the bag's final volume."""
        return self.preparation.pump_rate_ml_per_h


@dataclass(frozen=True)
class HourlyDosePlan:
    """What to draw up and how to program the pump for one mg/kg/h infusion.

    ``uncapped_dose_rate_mg_per_h`` is weight × mg/kg/h; ``dose_rate_mg_per_h`` is the rate
    prescribed, the protocol's cap when ``capped``. ``cap_mg_per_h`` is None for a protocol
    without one. ``total_mg`` is the prescribed session dose; ``preparation`` says what to
    draw, the dose that gives, and how to make up and run the bag.
    """

    weight_kg: Decimal
    mg_per_kg_per_h: Decimal
    cap_mg_per_h: Decimal | None
    uncapped_dose_rate_mg_per_h: Decimal
    dose_rate_mg_per_h: Decimal
    capped: bool
    hours: Decimal
    total_mg: Decimal
    vial_mg_per_ml: Decimal
    bag_volume_ml: Decimal
    preparation: Preparation

    @property
    def drug_volume_ml(self) -> Decimal:
        """The volume drawn, rounded to the syringe's marks."""
        return self.preparation.drawn_ml

    @property
    def pump_rate_ml_per_h(self) -> Decimal:
        """The pump rate for the bag's final volume."""
        return self.preparation.pump_rate_ml_per_h


def validate_weight_kg(weight_kg: Decimal) -> Decimal:
    """Return the body weight unchanged if it is plausible for an adult dose calculation.

    Accepts a finite ``Decimal`` from 30 to 300 kg inclusive with at most one decimal place
    (WEIGHT_KG_MIN/WEIGHT_KG_MAX: a data-entry plausibility range, not a published rule).
    Floats and ints are rejected rather than converted.

    Raises OutOfRange naming ``weight_kg`` and the allowed range.
    """
    allowed = f"between {plain(WEIGHT_KG_MIN)} and {plain(WEIGHT_KG_MAX)} kg"
    _check_decimal("weight_kg", weight_kg, what="weight", allowed=allowed)
    if not WEIGHT_KG_MIN <= weight_kg <= WEIGHT_KG_MAX:
        raise OutOfRange("weight_kg", f"weight must be {allowed}; got {plain(weight_kg)}")
    if weight_kg.quantize(_WEIGHT_KG_RESOLUTION) != weight_kg:
        raise OutOfRange(
            "weight_kg", f"weight must be {allowed} to at most 0.1 kg; got {plain(weight_kg)}"
        )
    return weight_kg


def plan_infusion_dose(
    *,
    weight_kg: Decimal,
    mg_per_kg: Decimal,
    vial_mg_per_ml: Decimal,
    bag_volume_ml: Decimal,
    infusion_minutes: int,
    bag: BagConvention,
) -> DosePlan:
    """Calculate the dose, what to draw and the pump rate of a weight-based infusion.

    - ``dose_mg`` = weight × mg/kg, exact (never rounded): the prescribed dose.
    - ``preparation`` (see ``prepare_bag``): the prescribed volume (dose ÷ vial strength)
      rounded to the marks of the smallest syringe that holds it, the dose that volume gives,
      and the pump rate of the bag's final volume under the protocol's ``bag`` convention
      (withdraw the drug's volume first, or add it), rounded half-up to
      PUMP_RATE_RESOLUTION_ML_PER_H (0.1 mL/h).
    - ``dose_rate_mg_per_h`` = prescribed dose × 60 ÷ minutes rounded half-up to 0.01, a
      display figure.

    Worked example (clinical-facts §8f, derived): 70 kg × 0.5 mg/kg = 35 mg = 0.7 mL of
    50 mg/mL in a 1 mL syringe; withdraw 0.7 mL from the 100 mL bag, then add the drug:
    100 mL over 40 min runs at 150.0 mL/h, 52.50 mg/h. The protocol dose and time come from
    the protocol, e.g. 0.5 mg/kg in 100 mL 0.9% NaCl over 40 min [MECP2024].

    Raises OutOfRange naming the field: weight as in ``validate_weight_kg``; ``mg_per_kg``
    above 0 and at most MG_PER_KG_MAX (3.0, [CommunityUpdate2022]); ``vial_mg_per_ml`` one of
    ALLOWED_VIAL_MG_PER_ML (100 mg/mL must not be given IV undiluted [Ketalar-label]);
    ``bag_volume_ml`` above 0 and at most 1000; ``infusion_minutes`` an int 1–600; ``bag`` a
    BagConvention; and as ``prepare_bag`` for a volume no syringe here measures.
    """
    validate_weight_kg(weight_kg)
    _check_mg_per_kg(mg_per_kg)
    _check_vial(vial_mg_per_ml)
    _check_bag_volume(bag_volume_ml)
    _check_infusion_minutes(infusion_minutes)

    with localcontext(_EXACT):
        dose_mg = weight_kg * mg_per_kg
    return DosePlan(
        weight_kg=weight_kg,
        mg_per_kg=mg_per_kg,
        dose_mg=dose_mg,
        vial_mg_per_ml=vial_mg_per_ml,
        bag_volume_ml=bag_volume_ml,
        infusion_minutes=infusion_minutes,
        dose_rate_mg_per_h=_per_hour(dose_mg, infusion_minutes, _DOSE_RATE_RESOLUTION_MG_PER_H),
        preparation=prepare_bag(
            prescribed_mg=dose_mg,
            vial_mg_per_ml=vial_mg_per_ml,
            bag_volume_ml=bag_volume_ml,
            infusion_minutes=infusion_minutes,
            bag=bag,
        ),
    )


def prepare_bag(
    *,
    prescribed_mg: Decimal,
    vial_mg_per_ml: Decimal,
    bag_volume_ml: Decimal,
    infusion_minutes: int,
    bag: BagConvention,
) -> Preparation:
    """Say what to draw, in which syringe, and how to make up and run the bag.

    - The prescribed volume is ``prescribed_mg`` ÷ ``vial_mg_per_ml`` (exact). It is drawn in
      the smallest syringe of SYRINGES that holds it and rounded to that syringe's nearest
      mark (1 mL: 0.01 mL, 3 mL: 0.1 mL, 5 and 10 mL: 0.2 mL, secondary; 20 mL: 1 mL,
      unconfirmed), a volume exactly halfway to the lower mark so that a tie never adds
      drug (3.5 mL on a 5 mL syringe → 3.4 mL): a documented rounding step, shown with the
      delivered and the prescribed dose (``Preparation.dose_text``), never a silent one. The
      delivered dose is the drawn volume × the vial strength. 0.721 mL → 0.72 mL = 36 mg;
      prescribed 36.05 mg.
    - WITHDRAW: the drawn volume is first withdrawn from the bag, so the final volume is the
      bag's; ADD: the final volume is bag + drawn. The pump rate is the final volume × 60 ÷
      minutes, rounded half-up to 0.1 mL/h, so the whole dose runs in the infusion time.

    Raises OutOfRange naming ``vial_mg_per_ml`` when the volume is more than the largest
    syringe holds (20 mL), or when it cannot be drawn within DRAWN_VOLUME_TOLERANCE (5 %,
    a platform bound, unconfirmed) of the prescribed volume on its syringe (volumes under
    0.1 mL): the message says which vial strength measures it; ``bag_volume_ml`` when the
    drug's volume cannot be withdrawn from the bag (it is not less than the bag's);
    ``bag`` when it is not a BagConvention. Inputs are those of a plan, already checked.
    """
    if bag not in tuple(BagConvention):
        allowed = " or ".join(BagConvention)
        raise OutOfRange("bag", f"the bag convention must be {allowed}; got {bag!r}")
    with localcontext(_EXACT):
        exact_ml = prescribed_mg / vial_mg_per_ml
    fits = [syringe for syringe in SYRINGES if exact_ml <= syringe.capacity_ml]
    vial = f"{plain(exact_ml)} mL of {plain(vial_mg_per_ml)} mg/mL"
    if not fits:
        raise OutOfRange(
            "vial_mg_per_ml",
            f"{vial} is more than the largest syringe ({plain(SYRINGES[-1].capacity_ml)} mL) "
            f"holds; {_other_vial(vial_mg_per_ml, stronger=True)}",
        )
    syringe = fits[0]
    with localcontext(_ROUNDED):
        # The nearest mark; exactly halfway goes to the lower one, so a tie never adds drug.
        marks = (exact_ml / syringe.graduation_ml).quantize(Decimal(1), rounding=ROUND_HALF_DOWN)
        drawn_ml = marks * syringe.graduation_ml
        off_by = abs(drawn_ml - exact_ml) / exact_ml
    if off_by > DRAWN_VOLUME_TOLERANCE:
        raise OutOfRange(
            "vial_mg_per_ml",
            f"{vial} cannot be drawn within {plain(DRAWN_VOLUME_TOLERANCE * 100)} % on a "
            f"{plain(syringe.capacity_ml)} mL syringe (marked every "
            f"{plain(syringe.graduation_ml)} mL); {_other_vial(vial_mg_per_ml, stronger=False)}",
        )
    if bag == BagConvention.WITHDRAW and drawn_ml >= bag_volume_ml:
        raise OutOfRange(
            "bag_volume_ml",
            f"{plain(drawn_ml)} mL cannot be withdrawn from a {plain(bag_volume_ml)} mL bag",
        )
    with localcontext(_EXACT):
        delivered_mg = drawn_ml * vial_mg_per_ml
        final_ml = bag_volume_ml if bag == BagConvention.WITHDRAW else bag_volume_ml + drawn_ml
    return Preparation(
        vial_mg_per_ml=vial_mg_per_ml,
        prescribed_mg=prescribed_mg,
        syringe=syringe,
        drawn_ml=drawn_ml,
        delivered_mg=delivered_mg,
        bag=bag,
        bag_volume_ml=bag_volume_ml,
        final_volume_ml=final_ml,
        infusion_minutes=infusion_minutes,
        pump_rate_ml_per_h=_per_hour(final_ml, infusion_minutes, PUMP_RATE_RESOLUTION_ML_PER_H),
    )


def _other_vial(vial_mg_per_ml: Decimal, *, stronger: bool) -> str:
    """Name the vial strength that would measure the volume, or say there is none."""
    others = [
        strength
        for strength in ALLOWED_VIAL_MG_PER_ML
        if (strength > vial_mg_per_ml if stronger else strength < vial_mg_per_ml)
    ]
    if not others:
        return "no syringe size here measures it"
    return f"use the {plain(others[0] if stronger else others[-1])} mg/mL vial"


def dosing_weight_kg(
    *,
    actual_kg: Decimal,
    height_cm: Decimal | None,
    sex: str,
    basis: WeightBasis,
    bmi_threshold: Decimal | None,
) -> Decimal:
    """Return the body weight to dose on under the clinic's weight rule.

    - ``ACTUAL``: the actual weight; height, sex and threshold are not used.
    - ``IDEAL`` / ``ADJUSTED``: when BMI ≥ ``bmi_threshold`` (required), the ideal body weight
      by Devine, 50 kg (male) or 45.5 kg (female) + 2.3 kg per inch over 5 ft, or the
      adjusted body weight IBW + 0.4 × (actual − IBW); below the threshold, the actual
      weight. Sources: (not in clinical-facts; Devine 1974, unconfirmed here); the
      adjusted-weight factor 0.4 likewise unconfirmed; whether and from which BMI to dose
      obese patients on another weight is a clinic rule (clinical-facts §2a: "actual vs
      ideal body weight; BMI > 30 caveat", unconfirmed). The comparison is BMI ≥ threshold,
      WHO-style (obesity from BMI 30), evaluated exactly as actual ≥ threshold × height².
    - Below 5 ft (152.4 cm), where Devine's published formula stops, the same line is
      extended: 2.3 kg less per inch under 5 ft (an extrapolation, unconfirmed), so that
      148 cm (female) gives 41.5 kg. A threshold of 25 or more keeps the ideal weight below
      the actual weight at every height (see BMI_THRESHOLD_MIN).
    - A patient recorded with a sex other than female or male (Devine has no formula for
      them): the ideal body weight is the weight at a BMI of 22, 22 × height² (Lemmens 2005;
      not in clinical-facts, unconfirmed), so that such a patient is dosed too.
    - Rounding: the ideal or adjusted weight is rounded once, half-up, to 0.1 kg, the
      resolution of ``validate_weight_kg`` (intermediates carry 34 significant digits, far
      finer than the step). The actual weight is returned unchanged.

    Raises OutOfRange naming the field: ``actual_kg`` as in ``validate_weight_kg`` (field
    ``weight_kg``); ``basis`` a WeightBasis; for IDEAL/ADJUSTED, ``height_cm`` recorded (the
    message says to record it: the BMI needs it) and as in ``validate_height_cm``,
    ``bmi_threshold`` 25–50 kg/m² to 0.1, and ``height_cm`` again when the ideal or adjusted
    weight of a very short patient is below WEIGHT_KG_MIN (30 kg), which no dose here is
    calculated for.
    """
    validate_weight_kg(actual_kg)
    if basis not in tuple(WeightBasis):
        allowed = ", ".join(WeightBasis)
        raise OutOfRange("basis", f"weight basis must be one of {allowed}; got {basis!r}")
    if basis == WeightBasis.ACTUAL:
        return actual_kg
    bmi_threshold = validate_bmi_threshold(bmi_threshold)
    if height_cm is None:
        raise OutOfRange(
            "height_cm",
            f"record the patient's height: the clinic doses on {basis} body weight from a BMI "
            f"of {plain(bmi_threshold)} kg/m², and the BMI needs the height",
        )
    validate_height_cm(height_cm)
    with localcontext(_EXACT):
        below_threshold = actual_kg < bmi_threshold * (height_cm / 100) ** 2
    if below_threshold:
        return actual_kg
    with localcontext(_ROUNDED):
        if sex in _DEVINE_BASE_KG:
            weight_kg = (
                _DEVINE_BASE_KG[sex]
                + _DEVINE_KG_PER_INCH * (height_cm - DEVINE_BASE_HEIGHT_CM) / _CM_PER_INCH
            )
        else:
            weight_kg = _SEX_NEUTRAL_IDEAL_BMI * (height_cm / 100) ** 2
        if basis == WeightBasis.ADJUSTED:
            weight_kg += _ADJUSTED_FRACTION * (actual_kg - weight_kg)
        weight_kg = weight_kg.quantize(_WEIGHT_KG_RESOLUTION)
    if weight_kg < WEIGHT_KG_MIN:
        raise OutOfRange(
            "height_cm",
            f"at {plain(height_cm)} cm the {basis} body weight is {plain(weight_kg)} kg, below "
            f"the {plain(WEIGHT_KG_MIN)} kg a dose is calculated for; a prescriber doses this "
            "patient",
        )
    return weight_kg


def validate_height_cm(height_cm: Decimal) -> Decimal:
    """Return a height unchanged if it is a finite Decimal of 100–250 cm to at most 0.1 cm.

    The range is a bound against typing errors, not a clinical rule. Raises OutOfRange naming
    ``height_cm``.
    """
    allowed = f"between {plain(HEIGHT_CM_MIN)} and {plain(HEIGHT_CM_MAX)} cm to at most 0.1 cm"
    _check_decimal("height_cm", height_cm, what="height", allowed=allowed)
    if not (
        HEIGHT_CM_MIN <= height_cm <= HEIGHT_CM_MAX
        and height_cm.quantize(_HEIGHT_CM_RESOLUTION) == height_cm
    ):
        raise OutOfRange("height_cm", f"height must be {allowed}; got {plain(height_cm)}")
    return height_cm


def validate_weight_max_age_days(max_age_days: int, *, field: str = "max_age_days") -> int:
    """Return the clinic's maximum weight age unchanged if it is a whole number of days 0–365.

    The 30-day default (WEIGHT_MAX_AGE_DAYS_DEFAULT) and the 365-day bound are clinic
    settings, not published rules (unconfirmed). Raises OutOfRange naming ``field``.
    """
    if (
        isinstance(max_age_days, bool)
        or not isinstance(max_age_days, int)
        or not 0 <= max_age_days <= WEIGHT_MAX_AGE_DAYS_LIMIT
    ):
        raise OutOfRange(
            field,
            f"the maximum weight age must be a whole number of days from 0 to "
            f"{WEIGHT_MAX_AGE_DAYS_LIMIT}; got {max_age_days!r}",
        )
    return max_age_days


def check_weight_recency(*, measured_on: dt.date, today: dt.date, max_age_days: int) -> None:
    """Refuse a dosing weight older than ``max_age_days`` on ``today`` (or dated after it).

    A weight measured exactly ``max_age_days`` days before ``today`` is accepted; one day
    older is refused. ``max_age_days`` is a clinic setting (default 30, unconfirmed; see
    ``validate_weight_max_age_days``). mg/kg dosing needs a current weight; how current is
    not in clinical-facts (unconfirmed).

    Raises OutOfRange on ``weight_kg`` (too old, or dated after today), or on
    ``max_age_days`` when it is out of range.
    """
    validate_weight_max_age_days(max_age_days)
    age_days = (today - measured_on).days
    needs = f"dosing needs one within {_days(max_age_days)}"
    if age_days < 0:
        raise OutOfRange(
            "weight_kg", f"the last weight is dated {measured_on}, after today ({today}); {needs}"
        )
    if age_days > max_age_days:
        raise OutOfRange(
            "weight_kg",
            f"the last weight is from {measured_on} ({_days(age_days)} ago); {needs}",
        )


def plan_hourly_infusion(
    *,
    weight_kg: Decimal,
    mg_per_kg_per_h: Decimal,
    cap_mg_per_h: Decimal | None,
    hours: Decimal,
    vial_mg_per_ml: Decimal,
    bag_volume_ml: Decimal,
    bag: BagConvention,
) -> HourlyDosePlan:
    """Calculate the dose rate, total dose, drug volume and pump rate of a mg/kg/h infusion.

    - ``uncapped_dose_rate_mg_per_h`` = weight × mg/kg/h, exact.
    - ``dose_rate_mg_per_h`` = the uncapped rate, or ``cap_mg_per_h`` when the uncapped rate
      is above it (``capped`` is then True). The cap is the protocol's rule, e.g. CRPS:
      0.35 mg/kg/h not exceeding 25 mg/h, ≤ 100 mg per 4 h [Schwartzman2009]. A rate equal
      to the cap is not capped.
    - ``total_mg`` = dose rate × hours, exact: the prescribed session dose.
    - ``preparation``: the volume to draw, rounded to the syringe's marks, the dose it gives,
      and the pump rate of the bag's final volume over the hours, as in
      ``plan_infusion_dose`` (``prepare_bag``).

    Worked example [Schwartzman2009] [NCT00579085]: 80 kg × 0.35 mg/kg/h = 28 mg/h, capped
    at 25 mg/h; over 4 h 100 mg = 2 mL of 50 mg/mL; withdraw 2 mL from the 100 mL bag, then
    add the drug: 100 mL NS at 25.0 mL/h.

    Raises OutOfRange naming the field: weight as in ``validate_weight_kg``;
    ``mg_per_kg_per_h`` above 0 and at most MG_PER_KG_PER_H_MAX (2, [Cohen2018-GC]);
    ``cap_mg_per_h`` None or above 0; ``hours`` above 0 and at most 10 in whole minutes
    (the plausibility bound of ``plan_infusion_dose``); vial, bag volume, bag convention and
    the drawn volume as in ``plan_infusion_dose``.
    """
    validate_weight_kg(weight_kg)
    _check_mg_per_kg_per_h(mg_per_kg_per_h)
    _check_cap(cap_mg_per_h)
    minutes = _check_hours(hours)
    _check_vial(vial_mg_per_ml)
    _check_bag_volume(bag_volume_ml)

    with localcontext(_EXACT):
        uncapped_mg_per_h = weight_kg * mg_per_kg_per_h
        dose_rate_mg_per_h = uncapped_mg_per_h
        capped = False
        if cap_mg_per_h is not None and uncapped_mg_per_h > cap_mg_per_h:
            dose_rate_mg_per_h = cap_mg_per_h
            capped = True
        total_mg = dose_rate_mg_per_h * hours
    return HourlyDosePlan(
        weight_kg=weight_kg,
        mg_per_kg_per_h=mg_per_kg_per_h,
        cap_mg_per_h=cap_mg_per_h,
        uncapped_dose_rate_mg_per_h=uncapped_mg_per_h,
        dose_rate_mg_per_h=dose_rate_mg_per_h,
        capped=capped,
        hours=hours,
        total_mg=total_mg,
        vial_mg_per_ml=vial_mg_per_ml,
        bag_volume_ml=bag_volume_ml,
        preparation=prepare_bag(
            prescribed_mg=total_mg,
            vial_mg_per_ml=vial_mg_per_ml,
            bag_volume_ml=bag_volume_ml,
            infusion_minutes=minutes,
            bag=bag,
        ),
    )


def check_max_single_dose(*, dose_mg: Decimal, max_single_dose_mg: Decimal) -> None:
    """Refuse a session dose above the protocol's maximum single dose.

    The maximum is the protocol's, e.g. ≤ 100 mg per 4-h CRPS infusion [Schwartzman2009];
    a dose equal to it is accepted. Raises OutOfRange on ``max_single_dose_mg`` unless it is
    a finite Decimal above 0, and on ``dose_mg`` unless it is above 0 and at most the maximum.
    """
    allowed_max = "above 0 mg"
    _check_decimal(
        "max_single_dose_mg", max_single_dose_mg, what="maximum single dose", allowed=allowed_max
    )
    if not max_single_dose_mg > 0:
        raise OutOfRange(
            "max_single_dose_mg",
            f"maximum single dose must be {allowed_max}; got {plain(max_single_dose_mg)}",
        )
    allowed = (
        f"above 0 and at most {plain(max_single_dose_mg)} mg (the protocol's maximum single dose)"
    )
    _check_decimal("dose_mg", dose_mg, what="dose", allowed=allowed)
    if not 0 < dose_mg <= max_single_dose_mg:
        raise OutOfRange("dose_mg", f"dose must be {allowed}; got {plain(dose_mg)}")


def cumulative_mg_per_kg(doses_mg: Sequence[Decimal], weight_kg: Decimal) -> Decimal:
    """Return the course's cumulative dose in mg/kg: the sum of ``doses_mg`` ÷ ``weight_kg``.

    The sum is exact; the quotient is rounded once, half-up, to
    CUMULATIVE_MG_PER_KG_RESOLUTION (0.001 mg/kg), because a dose divided by a weight such as
    70.3 kg does not terminate. The weight is the one the caller chooses to report against
    (e.g. the course's dosing weight); no published cumulative limit is applied here
    (clinical-facts §2b: higher total doses, more benefit [Cohen2018-GC]). An empty course is
    0.000 mg/kg.

    Raises OutOfRange on ``weight_kg`` as in ``validate_weight_kg`` and on ``doses_mg`` unless
    every dose is a finite Decimal of 0 mg or more (0 records an abandoned infusion).
    """
    validate_weight_kg(weight_kg)
    allowed = "of 0 mg or more"
    for number, dose_mg in enumerate(doses_mg, start=1):
        _check_decimal("doses_mg", dose_mg, what=f"dose {number}", allowed=allowed)
        if dose_mg < 0:
            raise OutOfRange("doses_mg", f"dose {number} must be {allowed}; got {plain(dose_mg)}")
    with localcontext(_EXACT):
        total_mg = sum(doses_mg, Decimal(0))
    with localcontext(_ROUNDED):
        return (total_mg / weight_kg).quantize(CUMULATIVE_MG_PER_KG_RESOLUTION)


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def _per_hour(amount: Decimal, minutes: int, resolution: Decimal) -> Decimal:
    with localcontext(_ROUNDED):
        return (amount * 60 / minutes).quantize(resolution)


def _check_decimal(field: str, value: Decimal, *, what: str, allowed: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise OutOfRange(field, f"{what} must be a finite Decimal {allowed}; got {value!r}")


def _check_mg_per_kg(mg_per_kg: Decimal) -> None:
    allowed = f"above 0 and at most {plain(MG_PER_KG_MAX, places=1)} mg/kg"
    _check_decimal("mg_per_kg", mg_per_kg, what="dose", allowed=allowed)
    if not 0 < mg_per_kg <= MG_PER_KG_MAX:
        raise OutOfRange("mg_per_kg", f"dose must be {allowed}; got {plain(mg_per_kg)}")


def _check_vial(vial_mg_per_ml: Decimal) -> None:
    allowed = " or ".join(plain(strength) for strength in ALLOWED_VIAL_MG_PER_ML) + " mg/mL"
    _check_decimal("vial_mg_per_ml", vial_mg_per_ml, what="vial strength", allowed=allowed)
    if vial_mg_per_ml == _UNDILUTED_ONLY_VIAL_MG_PER_ML:
        raise OutOfRange(
            "vial_mg_per_ml",
            f"{plain(vial_mg_per_ml)} mg/mL must not be given IV undiluted [Ketalar-label]; "
            f"use a {allowed} vial",
        )
    if vial_mg_per_ml not in ALLOWED_VIAL_MG_PER_ML:
        raise OutOfRange(
            "vial_mg_per_ml", f"vial strength must be {allowed}; got {plain(vial_mg_per_ml)}"
        )


def _check_bag_volume(bag_volume_ml: Decimal) -> None:
    allowed = f"above 0 and at most {plain(_BAG_VOLUME_ML_MAX)} mL"
    _check_decimal("bag_volume_ml", bag_volume_ml, what="bag volume", allowed=allowed)
    if not 0 < bag_volume_ml <= _BAG_VOLUME_ML_MAX:
        raise OutOfRange(
            "bag_volume_ml", f"bag volume must be {allowed}; got {plain(bag_volume_ml)}"
        )


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


def validate_bmi_threshold(bmi_threshold: Decimal | None) -> Decimal:
    """Return the BMI threshold of the clinic's weight rule unchanged if it is 25–50 kg/m² to
    0.1 (a clinic rule, unconfirmed: clinical-facts §2a); raise OutOfRange otherwise."""
    allowed = (
        f"between {plain(BMI_THRESHOLD_MIN)} and {plain(BMI_THRESHOLD_MAX)} kg/m² to at most 0.1"
    )
    if bmi_threshold is None:
        raise OutOfRange(
            "bmi_threshold", f"ideal or adjusted weight needs a BMI threshold {allowed}; got none"
        )
    _check_decimal("bmi_threshold", bmi_threshold, what="BMI threshold", allowed=allowed)
    if not (
        BMI_THRESHOLD_MIN <= bmi_threshold <= BMI_THRESHOLD_MAX
        and bmi_threshold.quantize(_BMI_THRESHOLD_RESOLUTION) == bmi_threshold
    ):
        raise OutOfRange(
            "bmi_threshold", f"BMI threshold must be {allowed}; got {plain(bmi_threshold)}"
        )
    return bmi_threshold


def _check_mg_per_kg_per_h(mg_per_kg_per_h: Decimal) -> None:
    allowed = f"above 0 and at most {plain(MG_PER_KG_PER_H_MAX)} mg/kg/h"
    _check_decimal("mg_per_kg_per_h", mg_per_kg_per_h, what="dose rate", allowed=allowed)
    if not 0 < mg_per_kg_per_h <= MG_PER_KG_PER_H_MAX:
        raise OutOfRange(
            "mg_per_kg_per_h", f"dose rate must be {allowed}; got {plain(mg_per_kg_per_h)}"
        )


def _check_cap(cap_mg_per_h: Decimal | None) -> None:
    if cap_mg_per_h is None:
        return
    allowed = "above 0 mg/h, or None for no cap"
    _check_decimal("cap_mg_per_h", cap_mg_per_h, what="hourly cap", allowed=allowed)
    if not cap_mg_per_h > 0:
        raise OutOfRange("cap_mg_per_h", f"hourly cap must be {allowed}; got {plain(cap_mg_per_h)}")


def _check_hours(hours: Decimal) -> int:
    """Return the infusion time in whole minutes, which the pump-rate step works in."""
    allowed = f"above 0 and at most {_INFUSION_MINUTES_MAX // 60} h in whole minutes"
    _check_decimal("hours", hours, what="infusion time", allowed=allowed)
    with localcontext(_EXACT):
        minutes = hours * 60
    if not (0 < minutes <= _INFUSION_MINUTES_MAX and minutes == minutes.to_integral_value()):
        raise OutOfRange("hours", f"infusion time must be {allowed}; got {plain(hours)}")
    return int(minutes)
