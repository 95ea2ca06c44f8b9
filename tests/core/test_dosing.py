import datetime as dt
from decimal import Decimal

import pytest

from sustain_core.dosing import (
    DRAWN_VOLUME_TOLERANCE,
    PUMP_RATE_RESOLUTION_ML_PER_H,
    SYRINGES,
    WEIGHT_MAX_AGE_DAYS_DEFAULT,
    BagConvention,
    DosePlan,
    HourlyDosePlan,
    Preparation,
    Syringe,
    WeightBasis,
    check_max_single_dose,
    check_weight_recency,
    cumulative_mg_per_kg,
    dosing_weight_kg,
    plan_hourly_infusion,
    plan_infusion_dose,
    prepare_bag,
    validate_weight_kg,
)
from sustain_core.errors import OutOfRange

pytestmark = pytest.mark.core

D = Decimal


W, A = BagConvention.WITHDRAW, BagConvention.ADD


@pytest.mark.parametrize(
    ("weight_kg", "vial", "bag", "minutes", "expected"),
    [
        pytest.param(
            D("70"), D("50"), W, 40, (D("35.0"), D("0.7"), D("35"), D("150.0"), D("52.50")),
            id="70kg-50mg-per-ml-worked-example",
        ),
        # 3.5 mL is halfway between a 5 mL syringe's 0.2 mL marks: the lower one, 3.4 mL.
        pytest.param(
            D("70"), D("10"), W, 40, (D("35.0"), D("3.4"), D("34"), D("150.0"), D("52.50")),
            id="70kg-10mg-per-ml-tie-to-the-lower-mark",
        ),
        pytest.param(
            D("72.1"), D("50"), W, 40, (D("36.05"), D("0.72"), D("36"), D("150.0"), D("54.08")),
            id="72.1kg-0.721ml-drawn-0.72ml",
        ),
        pytest.param(
            D("72.3"), D("50"), W, 40, (D("36.15"), D("0.72"), D("36"), D("150.0"), D("54.23")),
            id="72.3kg-dose-rate-half-up",
        ),
        pytest.param(
            D("72.3"), D("10"), W, 40, (D("36.15"), D("3.6"), D("36"), D("150.0"), D("54.23")),
            id="72.3kg-10mg-per-ml-5ml-syringe",
        ),
        pytest.param(
            D("70"), D("50"), W, 45, (D("35.0"), D("0.7"), D("35"), D("133.3"), D("46.67")),
            id="45min-rounds-to-133.3",
        ),
        pytest.param(
            D("70"), D("50"), A, 40, (D("35.0"), D("0.7"), D("35"), D("151.1"), D("52.50")),
            id="drug-added-100.7ml-151.05-half-up",
        ),
        pytest.param(
            D("70"), D("10"), A, 40, (D("35.0"), D("3.4"), D("34"), D("155.1"), D("52.50")),
            id="drug-added-103.4ml",
        ),
        pytest.param(
            D("120"), D("10"), W, 40, (D("60.0"), D("6"), D("60"), D("150.0"), D("90.00")),
            id="10ml-syringe",
        ),
        pytest.param(
            D("150"), D("10"), W, 40, (D("75.0"), D("7.4"), D("74"), D("150.0"), D("112.50")),
            id="7.5ml-halfway-on-a-10ml-syringe-7.4ml",
        ),
    ],
)  # fmt: skip
def test_plan_infusion_dose_half_mg_per_kg_in_100ml(
    weight_kg: Decimal,
    vial: Decimal,
    bag: BagConvention,
    minutes: int,
    expected: tuple[Decimal, Decimal, Decimal, Decimal, Decimal],
) -> None:
    plan = plan_infusion_dose(
        weight_kg=weight_kg,
        mg_per_kg=D("0.5"),
        vial_mg_per_ml=vial,
        bag_volume_ml=D("100"),
        infusion_minutes=minutes,
        bag=bag,
    )

    assert (
        plan.dose_mg,
        plan.drug_volume_ml,
        plan.preparation.delivered_mg,
        plan.pump_rate_ml_per_h,
        plan.dose_rate_mg_per_h,
    ) == expected


def test_plan_infusion_dose_returns_full_plan() -> None:
    plan = plan_infusion_dose(
        weight_kg=D("70"),
        mg_per_kg=D("0.5"),
        vial_mg_per_ml=D("50"),
        bag_volume_ml=D("100"),
        infusion_minutes=40,
        bag=W,
    )

    assert plan == DosePlan(
        weight_kg=D("70"),
        mg_per_kg=D("0.5"),
        dose_mg=D("35"),
        vial_mg_per_ml=D("50"),
        bag_volume_ml=D("100"),
        infusion_minutes=40,
        dose_rate_mg_per_h=D("52.5"),
        preparation=Preparation(
            vial_mg_per_ml=D("50"),
            prescribed_mg=D("35"),
            syringe=Syringe(D("1"), D("0.01")),
            drawn_ml=D("0.7"),
            delivered_mg=D("35"),
            bag=W,
            bag_volume_ml=D("100"),
            final_volume_ml=D("100"),
            infusion_minutes=40,
            pump_rate_ml_per_h=D("150"),
        ),
    )
    # Display figures keep their resolution: the pump takes 0.1 mL/h steps.
    assert (str(plan.pump_rate_ml_per_h), str(plan.dose_rate_mg_per_h)) == ("150.0", "52.50")
    assert D("0.1") == PUMP_RATE_RESOLUTION_ML_PER_H


def test_plan_infusion_dose_highest_dose_is_exact() -> None:
    plan = plan_infusion_dose(
        weight_kg=D("300"),
        mg_per_kg=D("3.0"),
        vial_mg_per_ml=D("50"),
        bag_volume_ml=D("1000"),
        infusion_minutes=600,
        bag=W,
    )

    assert (
        plan.dose_mg,
        plan.drug_volume_ml,
        plan.preparation.syringe,
        plan.pump_rate_ml_per_h,
    ) == (D("900"), D("18"), Syringe(D("20"), D("1")), D("100.0"))


# --- What the nurse reads: the steps in words, the rounding shown with the dose --------------


@pytest.mark.parametrize(
    ("weight_kg", "vial", "bag", "steps"),
    [
        pytest.param(
            D("70"), D("50"), W,
            (
                "Draw 0.7 mL of 50 mg/mL in a 1 mL syringe (marked every 0.01 mL): "
                "0.7 mL = 35 mg, as prescribed.",
                "Withdraw 0.7 mL from the 100 mL bag, then add 0.7 mL of 50 mg/mL: "
                "100 mL at 150.0 mL/h over 40 min.",
            ),
            id="withdraw-worked-example",
        ),
        pytest.param(
            D("72.1"), D("50"), A,
            (
                "Draw 0.72 mL of 50 mg/mL in a 1 mL syringe (marked every 0.01 mL): "
                "0.72 mL = 36 mg; prescribed 36.05 mg (0.721 mL, rounded to the 1 mL "
                "syringe's 0.01 mL marks).",
                "Add 0.72 mL of 50 mg/mL to the 100 mL bag (nothing withdrawn): "
                "100.72 mL at 151.1 mL/h over 40 min.",
            ),
            id="add-rounded",
        ),
    ],
)  # fmt: skip
def test_preparation_steps_say_what_to_do(
    weight_kg: Decimal, vial: Decimal, bag: BagConvention, steps: tuple[str, str]
) -> None:
    plan = plan_infusion_dose(
        weight_kg=weight_kg,
        mg_per_kg=D("0.5"),
        vial_mg_per_ml=vial,
        bag_volume_ml=D("100"),
        infusion_minutes=40,
        bag=bag,
    )

    assert plan.preparation.steps == steps


@pytest.mark.parametrize(
    ("capacity", "volume_ml"),
    [
        pytest.param(D("1"), D("1"), id="1ml-holds-1ml"),
        pytest.param(D("3"), D("1.01"), id="3ml-from-1.01ml"),
        pytest.param(D("5"), D("3.01"), id="5ml-from-3.01ml"),
        pytest.param(D("10"), D("5.01"), id="10ml-from-5.01ml"),
        pytest.param(D("20"), D("10.01"), id="20ml-from-10.01ml"),
        pytest.param(D("20"), D("20"), id="20ml-holds-20ml"),
    ],
)
def test_prepare_bag_uses_the_smallest_syringe_that_holds_the_volume(
    capacity: Decimal, volume_ml: Decimal
) -> None:
    preparation = prepare_bag(
        prescribed_mg=volume_ml * 50,
        vial_mg_per_ml=D("50"),
        bag_volume_ml=D("100"),
        infusion_minutes=40,
        bag=W,
    )

    assert preparation.syringe.capacity_ml == capacity


def test_syringe_graduations_are_the_documented_table() -> None:
    assert [(s.capacity_ml, s.graduation_ml) for s in SYRINGES] == [
        (D("1"), D("0.01")),
        (D("3"), D("0.1")),
        (D("5"), D("0.2")),
        (D("10"), D("0.2")),
        (D("20"), D("1")),
    ]
    assert D("0.05") == DRAWN_VOLUME_TOLERANCE


def test_drawn_volume_within_tolerance_is_drawn_and_shown() -> None:
    # 10.5 mL is halfway between a 20 mL syringe's 1 mL marks: 10 mL, 4.8 % under; shown.
    preparation = prepare_bag(
        prescribed_mg=D("105"), vial_mg_per_ml=D("10"), bag_volume_ml=D("100"),
        infusion_minutes=40, bag=W,
    )  # fmt: skip

    assert (preparation.drawn_ml, preparation.delivered_mg, preparation.rounded) == (
        D("10"), D("100"), True
    )  # fmt: skip
    assert preparation.dose_text == (
        "10 mL = 100 mg; prescribed 105 mg (10.5 mL, rounded to the 20 mL syringe's 1 mL marks)"
    )


@pytest.mark.parametrize(
    ("prescribed_mg", "vial", "bag_volume", "field", "message"),
    [
        pytest.param(
            D("900"), D("10"), D("1000"), "vial_mg_per_ml",
            "90 mL of 10 mg/mL is more than the largest syringe (20 mL) holds; "
            "use the 50 mg/mL vial",
            id="too-big-for-any-syringe",
        ),
        pytest.param(
            D("1500"), D("50"), D("1000"), "vial_mg_per_ml",
            "30 mL of 50 mg/mL is more than the largest syringe (20 mL) holds; "
            "no syringe size here measures it",
            id="too-big-at-the-strongest-vial",
        ),
        pytest.param(
            D("0.3"), D("50"), D("100"), "vial_mg_per_ml",
            "0.006 mL of 50 mg/mL cannot be drawn within 5 % on a 1 mL syringe (marked every "
            "0.01 mL); use the 10 mg/mL vial",
            id="too-small-to-measure",
        ),
        pytest.param(
            D("0.03"), D("10"), D("100"), "vial_mg_per_ml",
            "0.003 mL of 10 mg/mL cannot be drawn within 5 % on a 1 mL syringe (marked every "
            "0.01 mL); no syringe size here measures it",
            id="too-small-at-the-weakest-vial",
        ),
        pytest.param(
            D("35"), D("50"), D("0.5"), "bag_volume_ml",
            "0.7 mL cannot be withdrawn from a 0.5 mL bag",
            id="withdraw-more-than-the-bag",
        ),
    ],
)  # fmt: skip
def test_prepare_bag_refuses_what_no_syringe_measures(
    prescribed_mg: Decimal, vial: Decimal, bag_volume: Decimal, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        prepare_bag(
            prescribed_mg=prescribed_mg, vial_mg_per_ml=vial, bag_volume_ml=bag_volume,
            infusion_minutes=40, bag=W,
        )  # fmt: skip

    assert (raised.value.field, raised.value.message) == (field, message)


def test_prepare_bag_adding_the_drug_to_a_small_bag_is_allowed() -> None:
    preparation = prepare_bag(
        prescribed_mg=D("35"), vial_mg_per_ml=D("50"), bag_volume_ml=D("0.5"),
        infusion_minutes=40, bag=A,
    )  # fmt: skip

    assert (preparation.final_volume_ml, preparation.pump_rate_ml_per_h) == (D("1.2"), D("1.8"))


@pytest.mark.parametrize(
    "weight_kg",
    [
        pytest.param(D("30"), id="lower-bound"),
        pytest.param(D("300"), id="upper-bound"),
        pytest.param(D("72.3"), id="one-decimal"),
        pytest.param(D("72.30"), id="trailing-zero"),
    ],
)
def test_validate_weight_kg_accepts_and_returns_unchanged(weight_kg: Decimal) -> None:
    assert validate_weight_kg(weight_kg) is weight_kg


@pytest.mark.parametrize(
    ("weight_kg", "message"),
    [
        pytest.param(D("0"), "weight must be between 30 and 300 kg; got 0", id="zero"),
        pytest.param(D("400"), "weight must be between 30 and 300 kg; got 400", id="400"),
        pytest.param(D("29.9"), "weight must be between 30 and 300 kg; got 29.9", id="29.9"),
        pytest.param(D("300.1"), "weight must be between 30 and 300 kg; got 300.1", id="300.1"),
        pytest.param(
            D("72.25"),
            "weight must be between 30 and 300 kg to at most 0.1 kg; got 72.25",
            id="two-decimals",
        ),
        pytest.param(
            D("NaN"),
            "weight must be a finite Decimal between 30 and 300 kg; got Decimal('NaN')",
            id="nan",
        ),
        pytest.param(
            D("Infinity"),
            "weight must be a finite Decimal between 30 and 300 kg; got Decimal('Infinity')",
            id="infinity",
        ),
        pytest.param(
            70.5, "weight must be a finite Decimal between 30 and 300 kg; got 70.5", id="float"
        ),
        pytest.param(70, "weight must be a finite Decimal between 30 and 300 kg; got 70", id="int"),
    ],
)
def test_validate_weight_kg_rejects(weight_kg: Decimal, message: str) -> None:
    with pytest.raises(OutOfRange) as raised:
        validate_weight_kg(weight_kg)

    assert (raised.value.field, raised.value.message) == ("weight_kg", message)


_VALID = {
    "weight_kg": D("70"),
    "mg_per_kg": D("0.5"),
    "vial_mg_per_ml": D("50"),
    "bag_volume_ml": D("100"),
    "infusion_minutes": 40,
    "bag": BagConvention.WITHDRAW,
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param(
            "weight_kg", D("400"), "weight must be between 30 and 300 kg; got 400", id="weight"
        ),
        pytest.param(
            "mg_per_kg", D("0"), "dose must be above 0 and at most 3.0 mg/kg; got 0", id="dose-0"
        ),
        pytest.param(
            "mg_per_kg",
            D("3.1"),
            "dose must be above 0 and at most 3.0 mg/kg; got 3.1",
            id="dose-above-max",
        ),
        pytest.param(
            "mg_per_kg",
            0.5,
            "dose must be a finite Decimal above 0 and at most 3.0 mg/kg; got 0.5",
            id="dose-float",
        ),
        pytest.param(
            "vial_mg_per_ml",
            D("100"),
            "100 mg/mL must not be given IV undiluted [Ketalar-label]; use a 10 or 50 mg/mL vial",
            id="vial-100-undiluted",
        ),
        pytest.param(
            "vial_mg_per_ml",
            D("25"),
            "vial strength must be 10 or 50 mg/mL; got 25",
            id="vial-unknown",
        ),
        pytest.param(
            "vial_mg_per_ml",
            D("NaN"),
            "vial strength must be a finite Decimal 10 or 50 mg/mL; got Decimal('NaN')",
            id="vial-nan",
        ),
        pytest.param(
            "bag_volume_ml",
            D("0"),
            "bag volume must be above 0 and at most 1000 mL; got 0",
            id="bag-0",
        ),
        pytest.param(
            "bag_volume_ml",
            D("1000.1"),
            "bag volume must be above 0 and at most 1000 mL; got 1000.1",
            id="bag-above-max",
        ),
        pytest.param(
            "bag_volume_ml",
            100,
            "bag volume must be a finite Decimal above 0 and at most 1000 mL; got 100",
            id="bag-int",
        ),
        pytest.param(
            "infusion_minutes",
            0,
            "infusion time must be a whole number of minutes from 1 to 600; got 0",
            id="minutes-0",
        ),
        pytest.param(
            "infusion_minutes",
            601,
            "infusion time must be a whole number of minutes from 1 to 600; got 601",
            id="minutes-601",
        ),
        pytest.param(
            "infusion_minutes",
            True,
            "infusion time must be a whole number of minutes from 1 to 600; got True",
            id="minutes-bool",
        ),
        pytest.param(
            "infusion_minutes",
            D("40"),
            "infusion time must be a whole number of minutes from 1 to 600; got Decimal('40')",
            id="minutes-decimal",
        ),
        pytest.param(
            "bag", "sideways", "the bag convention must be withdraw or add; got 'sideways'",
            id="bag-convention-unknown",
        ),
    ],
)  # fmt: skip
def test_plan_infusion_dose_rejects_out_of_range(field: str, value: object, message: str) -> None:
    arguments = {**_VALID, field: value}

    with pytest.raises(OutOfRange) as raised:
        plan_infusion_dose(**arguments)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (field, message)


# --- Dosing weight: actual, ideal (Devine) or adjusted, by clinic rule and BMI threshold ------
#
# Worked by hand (IBW = base + 2.3 kg × (height − 152.4 cm) ÷ 2.54; ABW = IBW + 0.4 × (actual −
# IBW) = 0.6 × IBW + 0.4 × actual; one half-up rounding to 0.1 kg at the end):
# - male 180 cm: IBW = 50 + 2.3 × 27.6 ÷ 2.54 = 50 + 24.99213 = 74.99213 → 75.0;
#   at 120 kg (BMI 37.0): ABW = 44.99528 + 48 = 92.99528 → 93.0.
# - female 165 cm: IBW = 45.5 + 2.3 × 12.6 ÷ 2.54 = 45.5 + 11.40945 = 56.90945 → 56.9;
#   at 100 kg (BMI 36.7): ABW = 34.14567 + 40 = 74.14567 → 74.1.
# - male 200 cm (4 m²): IBW = 50 + 2.3 × 47.6 ÷ 2.54 = 93.10236 → 93.1; at 120 kg, BMI is
#   exactly 30.0: ABW = 55.86142 + 48 = 103.86142 → 103.9; at 119.9 kg, BMI 29.975 < 30.
# - male 165.1 cm (exactly 5 ft 5 in): IBW = 50 + 2.3 × 5 = 61.5, exact.
# - female 152.4 cm (5 ft): IBW = 45.5; at 70 kg (BMI 30.1): ABW = 27.3 + 28 = 55.3.
# A half-up tie at 0.1 kg cannot occur: an exact IBW has one decimal, and 0.6 × IBW + 0.4 ×
# actual with one-decimal inputs has an even hundredths digit.


@pytest.mark.parametrize(
    ("actual_kg", "height_cm", "sex", "basis", "bmi_threshold", "expected"),
    [
        pytest.param(D("120"), None, "male", WeightBasis.ACTUAL, None, D("120"), id="actual"),
        pytest.param(
            D("120"), D("180"), "male", WeightBasis.ACTUAL, D("30"), D("120"), id="actual-obese"
        ),
        pytest.param(
            D("120"), D("180"), "male", WeightBasis.IDEAL, D("30"), D("75.0"), id="ideal-male-180"
        ),
        pytest.param(
            D("120"),
            D("180"),
            "male",
            WeightBasis.ADJUSTED,
            D("30"),
            D("93.0"),
            id="adjusted-male-180",
        ),
        pytest.param(
            D("100"),
            D("165"),
            "female",
            WeightBasis.IDEAL,
            D("30"),
            D("56.9"),
            id="ideal-female-165",
        ),
        pytest.param(
            D("100"),
            D("165"),
            "female",
            WeightBasis.ADJUSTED,
            D("30"),
            D("74.1"),
            id="adjusted-female-165",
        ),
        pytest.param(
            D("120.0"),
            D("200"),
            "male",
            WeightBasis.ADJUSTED,
            D("30"),
            D("103.9"),
            id="adjusted-bmi-exactly-threshold",
        ),
        pytest.param(
            D("120.0"),
            D("200"),
            "male",
            WeightBasis.IDEAL,
            D("30"),
            D("93.1"),
            id="ideal-bmi-exactly-threshold",
        ),
        pytest.param(
            D("119.9"),
            D("200"),
            "male",
            WeightBasis.ADJUSTED,
            D("30"),
            D("119.9"),
            id="below-threshold-actual",
        ),
        pytest.param(
            D("90"),
            D("165.1"),
            "male",
            WeightBasis.IDEAL,
            D("30"),
            D("61.5"),
            id="ideal-exact-5ft5",
        ),
        pytest.param(
            D("70"),
            D("152.4"),
            "female",
            WeightBasis.ADJUSTED,
            D("30"),
            D("55.3"),
            id="adjusted-female-5ft",
        ),
        pytest.param(
            D("80"),
            D("180"),
            "other",
            WeightBasis.IDEAL,
            D("30"),
            D("80"),
            id="below-threshold-sex-not-needed",
        ),
        pytest.param(
            D("82"),
            D("180"),
            "male",
            WeightBasis.IDEAL,
            D("25"),
            D("75.0"),
            id="lowest-threshold-25",
        ),
        # Below 5 ft Devine's line is extended (unconfirmed): 2.3 kg less per inch under 5 ft.
        # female 148 cm: IBW = 45.5 − 2.3 × 4.4 ÷ 2.54 = 41.51575 → 41.5; at 70 kg (BMI 32.0):
        # ABW = 24.90945 + 28 = 52.90945 → 52.9. male 140 cm: IBW = 50 − 2.3 × 12.4 ÷ 2.54 =
        # 38.77165 → 38.8 at 60 kg (BMI 30.6). female 130 cm at 60 kg (BMI 35.5): IBW 25.21654,
        # ABW = 15.12992 + 24 = 39.12992 → 39.1.
        pytest.param(
            D("70"), D("148"), "female", WeightBasis.IDEAL, D("30"), D("41.5"),
            id="ideal-female-148cm-below-5ft",
        ),
        pytest.param(
            D("70"), D("148"), "female", WeightBasis.ADJUSTED, D("30"), D("52.9"),
            id="adjusted-female-148cm-below-5ft",
        ),
        pytest.param(
            D("60"), D("140"), "male", WeightBasis.IDEAL, D("30"), D("38.8"),
            id="ideal-male-140cm",
        ),
        pytest.param(
            D("60"), D("130"), "female", WeightBasis.ADJUSTED, D("30"), D("39.1"),
            id="adjusted-female-130cm",
        ),
        pytest.param(
            D("50"), D("140"), "female", WeightBasis.ADJUSTED, D("30"), D("50"),
            id="below-5ft-below-threshold-actual",
        ),
        # Another sex (or none): the weight at BMI 22 (Lemmens 2005, unconfirmed). 180 cm:
        # 22 × 3.24 = 71.28 → 71.3; at 120 kg adjusted 0.6 × 71.28 + 48 = 90.768 → 90.8.
        pytest.param(
            D("120"), D("180"), "other", WeightBasis.IDEAL, D("30"), D("71.3"),
            id="ideal-sex-other-bmi-22",
        ),
        pytest.param(
            D("120"), D("180"), "unknown", WeightBasis.ADJUSTED, D("30"), D("90.8"),
            id="adjusted-sex-unknown-bmi-22",
        ),
        # The 300 kg patient (180 cm, male): 150 mg at 0.5 mg/kg on actual weight;
        # adjusted 0.6 × 74.99213 + 120 = 164.99528 → 165.0 kg, 82.5 mg.
        pytest.param(
            D("300"), D("180"), "male", WeightBasis.ADJUSTED, D("30"), D("165.0"),
            id="issue-300kg-adjusted",
        ),
    ],
)  # fmt: skip
def test_dosing_weight_kg(
    actual_kg: Decimal,
    height_cm: Decimal | None,
    sex: str,
    basis: WeightBasis,
    bmi_threshold: Decimal | None,
    expected: Decimal,
) -> None:
    weight_kg = dosing_weight_kg(
        actual_kg=actual_kg,
        height_cm=height_cm,
        sex=sex,
        basis=basis,
        bmi_threshold=bmi_threshold,
    )

    assert (weight_kg, str(weight_kg)) == (expected, str(expected))


_WEIGHT_RULE = {
    "actual_kg": D("120"),
    "height_cm": D("180"),
    "sex": "male",
    "basis": WeightBasis.ADJUSTED,
    "bmi_threshold": D("30"),
}
_HEIGHT_RANGE = "between 100 and 250 cm to at most 0.1 cm"
_THRESHOLD_RANGE = "between 25 and 50 kg/m² to at most 0.1"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"actual_kg": D("29.9")},
            "weight_kg",
            "weight must be between 30 and 300 kg; got 29.9",
            id="actual-too-low",
        ),
        pytest.param(
            {"basis": "lean"},
            "basis",
            "weight basis must be one of actual, ideal, adjusted; got 'lean'",
            id="basis-unknown",
        ),
        pytest.param(
            {"height_cm": None},
            "height_cm",
            "record the patient's height: the clinic doses on adjusted body weight from a BMI "
            "of 30 kg/m², and the BMI needs the height",
            id="height-missing",
        ),
        pytest.param(
            {"height_cm": None, "basis": WeightBasis.IDEAL, "bmi_threshold": D("32.5")},
            "height_cm",
            "record the patient's height: the clinic doses on ideal body weight from a BMI "
            "of 32.5 kg/m², and the BMI needs the height",
            id="height-missing-ideal",
        ),
        pytest.param(
            {"height_cm": D("99.9")},
            "height_cm",
            f"height must be {_HEIGHT_RANGE}; got 99.9",
            id="height-below-100",
        ),
        pytest.param(
            {"height_cm": D("1E+3")},
            "height_cm",
            f"height must be {_HEIGHT_RANGE}; got 1000",
            id="height-message-without-exponent",
        ),
        pytest.param(
            {
                "height_cm": D("130"),
                "actual_kg": D("60"),
                "sex": "female",
                "basis": WeightBasis.IDEAL,
            },
            "height_cm",
            "at 130 cm the ideal body weight is 25.2 kg, below the 30 kg a dose is calculated "
            "for; a prescriber doses this patient",
            id="ideal-weight-of-a-very-short-patient-below-30kg",
        ),
        pytest.param(
            {"height_cm": D("250.1")},
            "height_cm",
            f"height must be {_HEIGHT_RANGE}; got 250.1",
            id="height-above-250",
        ),
        pytest.param(
            {"height_cm": D("180.05")},
            "height_cm",
            f"height must be {_HEIGHT_RANGE}; got 180.05",
            id="height-two-decimals",
        ),
        pytest.param(
            {"height_cm": D("NaN")},
            "height_cm",
            f"height must be a finite Decimal {_HEIGHT_RANGE}; got Decimal('NaN')",
            id="height-nan",
        ),
        pytest.param(
            {"bmi_threshold": None},
            "bmi_threshold",
            f"ideal or adjusted weight needs a BMI threshold {_THRESHOLD_RANGE}; got none",
            id="threshold-missing",
        ),
        pytest.param(
            {"bmi_threshold": D("24.9")},
            "bmi_threshold",
            f"BMI threshold must be {_THRESHOLD_RANGE}; got 24.9",
            id="threshold-below-25",
        ),
        pytest.param(
            {"bmi_threshold": D("50.1")},
            "bmi_threshold",
            f"BMI threshold must be {_THRESHOLD_RANGE}; got 50.1",
            id="threshold-above-50",
        ),
        pytest.param(
            {"bmi_threshold": D("30.05")},
            "bmi_threshold",
            f"BMI threshold must be {_THRESHOLD_RANGE}; got 30.05",
            id="threshold-two-decimals",
        ),
        pytest.param(
            {"bmi_threshold": 30},
            "bmi_threshold",
            f"BMI threshold must be a finite Decimal {_THRESHOLD_RANGE}; got 30",
            id="threshold-int",
        ),
    ],
)
def test_dosing_weight_kg_rejects(changes: dict[str, object], field: str, message: str) -> None:
    arguments = {**_WEIGHT_RULE, **changes}

    with pytest.raises(OutOfRange) as raised:
        dosing_weight_kg(**arguments)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (field, message)


# --- Weight recency ---------------------------------------------------------------------------

_TODAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("measured_on", "max_age_days"),
    [
        pytest.param(_TODAY, 0, id="same-day-rule"),
        pytest.param(dt.date(2026, 10, 28), 30, id="exactly-30-days"),
        pytest.param(dt.date(2026, 11, 26), 1, id="exactly-1-day"),
        pytest.param(dt.date(2025, 11, 27), 365, id="exactly-365-days"),
    ],
)
def test_check_weight_recency_accepts(measured_on: dt.date, max_age_days: int) -> None:
    check_weight_recency(measured_on=measured_on, today=_TODAY, max_age_days=max_age_days)


@pytest.mark.parametrize(
    ("measured_on", "max_age_days", "field", "message"),
    [
        pytest.param(
            dt.date(2026, 9, 1),
            30,
            "weight_kg",
            "the last weight is from 2026-09-01 (87 days ago); dosing needs one within 30 days",
            id="87-days-old",
        ),
        pytest.param(
            dt.date(2026, 10, 27),
            30,
            "weight_kg",
            "the last weight is from 2026-10-27 (31 days ago); dosing needs one within 30 days",
            id="31-days-old",
        ),
        pytest.param(
            dt.date(2026, 11, 26),
            0,
            "weight_kg",
            "the last weight is from 2026-11-26 (1 day ago); dosing needs one within 0 days",
            id="yesterday-same-day-rule",
        ),
        pytest.param(
            dt.date(2026, 11, 25),
            1,
            "weight_kg",
            "the last weight is from 2026-11-25 (2 days ago); dosing needs one within 1 day",
            id="2-days-old-1-day-rule",
        ),
        pytest.param(
            dt.date(2026, 11, 28),
            30,
            "weight_kg",
            "the last weight is dated 2026-11-28, after today (2026-11-27); "
            "dosing needs one within 30 days",
            id="after-today",
        ),
        pytest.param(
            _TODAY,
            -1,
            "max_age_days",
            "the maximum weight age must be a whole number of days from 0 to 365; got -1",
            id="max-age-negative",
        ),
        pytest.param(
            _TODAY,
            366,
            "max_age_days",
            "the maximum weight age must be a whole number of days from 0 to 365; got 366",
            id="max-age-366",
        ),
        pytest.param(
            _TODAY,
            D("30"),
            "max_age_days",
            "the maximum weight age must be a whole number of days from 0 to 365; "
            "got Decimal('30')",
            id="max-age-decimal",
        ),
    ],
)
def test_check_weight_recency_rejects(
    measured_on: dt.date, max_age_days: int, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        check_weight_recency(measured_on=measured_on, today=_TODAY, max_age_days=max_age_days)

    assert (raised.value.field, raised.value.message) == (field, message)


def test_weight_max_age_default_is_30_days() -> None:
    assert WEIGHT_MAX_AGE_DAYS_DEFAULT == 30


# --- mg/kg/h infusions with an hourly cap ------------------------------------------------------
# CRPS [Schwartzman2009] [NCT00579085]: 0.35 mg/kg/h not exceeding 25 mg/h (≤ 100 mg per 4 h),
# in 100 mL NS at 25 mL/h over 4 h.


def test_plan_hourly_infusion_crps_80kg_is_capped_at_25mg_per_h() -> None:
    plan = plan_hourly_infusion(
        weight_kg=D("80"),
        mg_per_kg_per_h=D("0.35"),
        cap_mg_per_h=D("25"),
        hours=D("4"),
        vial_mg_per_ml=D("50"),
        bag_volume_ml=D("100"),
        bag=W,
    )

    assert plan == HourlyDosePlan(
        weight_kg=D("80"),
        mg_per_kg_per_h=D("0.35"),
        cap_mg_per_h=D("25"),
        uncapped_dose_rate_mg_per_h=D("28"),
        dose_rate_mg_per_h=D("25"),
        capped=True,
        hours=D("4"),
        total_mg=D("100"),
        vial_mg_per_ml=D("50"),
        bag_volume_ml=D("100"),
        preparation=Preparation(
            vial_mg_per_ml=D("50"),
            prescribed_mg=D("100"),
            syringe=Syringe(D("3"), D("0.1")),
            drawn_ml=D("2"),
            delivered_mg=D("100"),
            bag=W,
            bag_volume_ml=D("100"),
            final_volume_ml=D("100"),
            infusion_minutes=240,
            pump_rate_ml_per_h=D("25"),
        ),
    )
    assert str(plan.pump_rate_ml_per_h) == "25.0"
    assert plan.preparation.steps[1] == (
        "Withdraw 2 mL from the 100 mL bag, then add 2 mL of 50 mg/mL: 100 mL at 25.0 mL/h "
        "over 240 min."
    )


@pytest.mark.parametrize(
    ("weight_kg", "mg_per_kg_per_h", "cap", "hours", "vial", "bag", "expected"),
    [
        pytest.param(
            D("80"), D("0.35"), D("25"), D("4"), D("50"), W,
            (D("28.00"), D("25"), True, D("100"), D("2"), D("100"), D("25.0")),
            id="crps-80kg-capped-100ml-at-25ml-per-h",
        ),
        # 1.96 mL on a 3 mL syringe's 0.1 mL marks: 2.0 mL, 100 mg for 98 mg prescribed.
        pytest.param(
            D("70"), D("0.35"), D("25"), D("4"), D("50"), W,
            (D("24.50"), D("24.50"), False, D("98.00"), D("2.0"), D("100"), D("25.0")),
            id="crps-70kg-not-capped-drawn-to-the-nearest-mark",
        ),
        pytest.param(
            D("100"), D("0.25"), D("25"), D("4"), D("10"), W,
            (D("25.00"), D("25.00"), False, D("100.00"), D("10"), D("100"), D("25.0")),
            id="rate-equal-to-cap-not-capped",
        ),
        # 11.2 mL on a 20 mL syringe's 1 mL marks: 11 mL, 110 mg for 112 mg prescribed.
        pytest.param(
            D("80"), D("0.35"), None, D("4"), D("10"), W,
            (D("28.00"), D("28.00"), False, D("112.00"), D("11"), D("110"), D("25.0")),
            id="no-cap",
        ),
        pytest.param(
            D("80"), D("0.35"), D("25"), D("4"), D("50"), A,
            (D("28.00"), D("25"), True, D("100"), D("2"), D("100"), D("25.5")),
            id="crps-drug-added-50mg-per-ml",
        ),
        pytest.param(
            D("80"), D("0.35"), D("25"), D("4"), D("10"), A,
            (D("28.00"), D("25"), True, D("100"), D("10"), D("100"), D("27.5")),
            id="crps-drug-added-10mg-per-ml",
        ),
        # 0.375 mL is halfway between a 1 mL syringe's marks: 0.37 mL.
        pytest.param(
            D("72.3"), D("0.35"), D("25"), D("0.75"), D("50"), W,
            (D("25.305"), D("25"), True, D("18.75"), D("0.37"), D("18.5"), D("133.3")),
            id="45-minutes-pump-rounds-half-up",
        ),
        pytest.param(
            D("300"), D("2"), None, D("1.5"), D("50"), W,
            (D("600"), D("600"), False, D("900"), D("18"), D("900"), D("66.7")),
            id="highest-rate",
        ),
    ],
)  # fmt: skip
def test_plan_hourly_infusion(
    weight_kg: Decimal,
    mg_per_kg_per_h: Decimal,
    cap: Decimal | None,
    hours: Decimal,
    vial: Decimal,
    bag: BagConvention,
    expected: tuple[Decimal, Decimal, bool, Decimal, Decimal, Decimal, Decimal],
) -> None:
    plan = plan_hourly_infusion(
        weight_kg=weight_kg,
        mg_per_kg_per_h=mg_per_kg_per_h,
        cap_mg_per_h=cap,
        hours=hours,
        vial_mg_per_ml=vial,
        bag_volume_ml=D("100"),
        bag=bag,
    )

    assert (
        plan.uncapped_dose_rate_mg_per_h,
        plan.dose_rate_mg_per_h,
        plan.capped,
        plan.total_mg,
        plan.drug_volume_ml,
        plan.preparation.delivered_mg,
        plan.pump_rate_ml_per_h,
    ) == expected


@pytest.mark.parametrize("bag", [W, A], ids=["withdraw", "add"])
@pytest.mark.parametrize("vial", [D("10"), D("50")], ids=["10mg-per-ml", "50mg-per-ml"])
def test_plan_hourly_infusion_agrees_with_plan_infusion_dose(
    vial: Decimal, bag: BagConvention
) -> None:
    # 1 mg/kg/h for 30 min is 0.5 mg/kg in 30 min: the same bag and pump either way.
    hourly = plan_hourly_infusion(
        weight_kg=D("70"),
        mg_per_kg_per_h=D("1"),
        cap_mg_per_h=None,
        hours=D("0.5"),
        vial_mg_per_ml=vial,
        bag_volume_ml=D("100"),
        bag=bag,
    )
    single = plan_infusion_dose(
        weight_kg=D("70"),
        mg_per_kg=D("0.5"),
        vial_mg_per_ml=vial,
        bag_volume_ml=D("100"),
        infusion_minutes=30,
        bag=bag,
    )

    assert (hourly.total_mg, hourly.preparation) == (single.dose_mg, single.preparation)


_HOURLY = {
    "weight_kg": D("80"),
    "mg_per_kg_per_h": D("0.35"),
    "cap_mg_per_h": D("25"),
    "hours": D("4"),
    "vial_mg_per_ml": D("50"),
    "bag_volume_ml": D("100"),
    "bag": BagConvention.WITHDRAW,
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param(
            "weight_kg", D("301"), "weight must be between 30 and 300 kg; got 301", id="weight"
        ),
        pytest.param(
            "mg_per_kg_per_h",
            D("0"),
            "dose rate must be above 0 and at most 2 mg/kg/h; got 0",
            id="rate-0",
        ),
        pytest.param(
            "mg_per_kg_per_h",
            D("2.01"),
            "dose rate must be above 0 and at most 2 mg/kg/h; got 2.01",
            id="rate-above-2",
        ),
        pytest.param(
            "mg_per_kg_per_h",
            D("sNaN"),
            "dose rate must be a finite Decimal above 0 and at most 2 mg/kg/h; got Decimal('sNaN')",
            id="rate-snan",
        ),
        pytest.param(
            "cap_mg_per_h",
            D("0"),
            "hourly cap must be above 0 mg/h, or None for no cap; got 0",
            id="cap-0",
        ),
        pytest.param(
            "cap_mg_per_h",
            25,
            "hourly cap must be a finite Decimal above 0 mg/h, or None for no cap; got 25",
            id="cap-int",
        ),
        pytest.param(
            "hours",
            D("0"),
            "infusion time must be above 0 and at most 10 h in whole minutes; got 0",
            id="hours-0",
        ),
        pytest.param(
            "hours",
            D("10.01"),
            "infusion time must be above 0 and at most 10 h in whole minutes; got 10.01",
            id="hours-above-10",
        ),
        pytest.param(
            "hours",
            D("0.667"),
            "infusion time must be above 0 and at most 10 h in whole minutes; got 0.667",
            id="hours-not-whole-minutes",
        ),
        pytest.param(
            "hours",
            4,
            "infusion time must be a finite Decimal above 0 and at most 10 h in whole minutes; "
            "got 4",
            id="hours-int",
        ),
        pytest.param(
            "vial_mg_per_ml",
            D("100"),
            "100 mg/mL must not be given IV undiluted [Ketalar-label]; use a 10 or 50 mg/mL vial",
            id="vial-100-undiluted",
        ),
        pytest.param(
            "bag_volume_ml",
            D("0"),
            "bag volume must be above 0 and at most 1000 mL; got 0",
            id="bag-0",
        ),
        pytest.param(
            "bag",
            "neither",
            "the bag convention must be withdraw or add; got 'neither'",
            id="bag-convention-unknown",
        ),
    ],
)
def test_plan_hourly_infusion_rejects_out_of_range(field: str, value: object, message: str) -> None:
    arguments = {**_HOURLY, field: value}

    with pytest.raises(OutOfRange) as raised:
        plan_hourly_infusion(**arguments)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (field, message)


def test_plan_hourly_infusion_refuses_a_volume_no_syringe_holds() -> None:
    # 300 kg × 2 mg/kg/h for 10 h = 6000 mg = 120 mL of 50 mg/mL.
    arguments = {**_HOURLY, "weight_kg": D("300"), "mg_per_kg_per_h": D("2"),
                 "cap_mg_per_h": None, "hours": D("10")}  # fmt: skip

    with pytest.raises(OutOfRange) as raised:
        plan_hourly_infusion(**arguments)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (
        "vial_mg_per_ml",
        "120 mL of 50 mg/mL is more than the largest syringe (20 mL) holds; "
        "no syringe size here measures it",
    )


# --- Maximum single dose ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "dose_mg",
    [pytest.param(D("100"), id="equal-to-max"), pytest.param(D("98.00"), id="below-max")],
)
def test_check_max_single_dose_accepts(dose_mg: Decimal) -> None:
    check_max_single_dose(dose_mg=dose_mg, max_single_dose_mg=D("100"))  # no refusal


_MAX_RANGE = "above 0 and at most 100 mg (the protocol's maximum single dose)"


@pytest.mark.parametrize(
    ("dose_mg", "max_single_dose_mg", "field", "message"),
    [
        pytest.param(
            D("100.01"),
            D("100"),
            "dose_mg",
            f"dose must be {_MAX_RANGE}; got 100.01",
            id="above-max",
        ),
        pytest.param(D("0"), D("100"), "dose_mg", f"dose must be {_MAX_RANGE}; got 0", id="zero"),
        pytest.param(
            D("Infinity"),
            D("100"),
            "dose_mg",
            f"dose must be a finite Decimal {_MAX_RANGE}; got Decimal('Infinity')",
            id="infinite",
        ),
        pytest.param(
            D("50"),
            D("0"),
            "max_single_dose_mg",
            "maximum single dose must be above 0 mg; got 0",
            id="max-zero",
        ),
        pytest.param(
            D("50"),
            100.0,
            "max_single_dose_mg",
            "maximum single dose must be a finite Decimal above 0 mg; got 100.0",
            id="max-float",
        ),
    ],
)
def test_check_max_single_dose_rejects(
    dose_mg: Decimal, max_single_dose_mg: Decimal, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        check_max_single_dose(dose_mg=dose_mg, max_single_dose_mg=max_single_dose_mg)

    assert (raised.value.field, raised.value.message) == (field, message)


# --- Cumulative mg/kg per course ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("doses_mg", "weight_kg", "expected"),
    [
        pytest.param([D("35")] * 6, D("70"), D("3.000"), id="six-half-mg-per-kg-at-70kg"),
        pytest.param([D("36.15")] * 6, D("72.3"), D("3.000"), id="six-at-72.3kg"),
        pytest.param([D("35")], D("70.3"), D("0.498"), id="non-terminating-0.49786"),
        pytest.param([D("40.04")], D("80"), D("0.501"), id="tie-0.5005-half-up"),
        pytest.param([D("35"), D("0"), D("52.5")], D("70"), D("1.250"), id="abandoned-dose-0"),
        pytest.param((), D("70"), D("0.000"), id="no-doses"),
        pytest.param((D("100"),) * 10, D("80"), D("12.500"), id="crps-ten-days"),
    ],
)
def test_cumulative_mg_per_kg(
    doses_mg: list[Decimal], weight_kg: Decimal, expected: Decimal
) -> None:
    total = cumulative_mg_per_kg(doses_mg, weight_kg)

    assert (total, str(total)) == (expected, str(expected))


@pytest.mark.parametrize(
    ("doses_mg", "weight_kg", "field", "message"),
    [
        pytest.param(
            [D("35"), D("-1")],
            D("70"),
            "doses_mg",
            "dose 2 must be of 0 mg or more; got -1",
            id="negative-dose",
        ),
        pytest.param(
            [35.0],
            D("70"),
            "doses_mg",
            "dose 1 must be a finite Decimal of 0 mg or more; got 35.0",
            id="float-dose",
        ),
        pytest.param(
            [D("35")],
            D("0"),
            "weight_kg",
            "weight must be between 30 and 300 kg; got 0",
            id="weight-zero",
        ),
    ],
)
def test_cumulative_mg_per_kg_rejects(
    doses_mg: list[Decimal], weight_kg: Decimal, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        cumulative_mg_per_kg(doses_mg, weight_kg)

    assert (raised.value.field, raised.value.message) == (field, message)
