import datetime as dt
from decimal import Decimal

import pytest

from sustain_core.dosing import (
    PUMP_RATE_RESOLUTION_ML_PER_H,
    WEIGHT_MAX_AGE_DAYS_DEFAULT,
    DosePlan,
    HourlyDosePlan,
    WeightBasis,
    check_max_single_dose,
    check_weight_recency,
    cumulative_mg_per_kg,
    dosing_weight_kg,
    plan_hourly_infusion,
    plan_infusion_dose,
    validate_weight_kg,
)
from sustain_core.errors import OutOfRange

pytestmark = pytest.mark.core

D = Decimal


@pytest.mark.parametrize(
    ("weight_kg", "vial", "include_drug_volume", "minutes", "expected"),
    [
        pytest.param(
            D("70"),
            D("50"),
            False,
            40,
            (D("35.0"), D("0.7"), D("150.0"), D("52.50")),
            id="70kg-50mg-per-ml-worked-example",
        ),
        pytest.param(
            D("70"),
            D("10"),
            False,
            40,
            (D("35.0"), D("3.5"), D("150.0"), D("52.50")),
            id="70kg-10mg-per-ml-worked-example",
        ),
        pytest.param(
            D("72.3"),
            D("50"),
            False,
            40,
            (D("36.15"), D("0.723"), D("150.0"), D("54.23")),
            id="72.3kg-dose-rate-half-up",
        ),
        pytest.param(
            D("72.3"),
            D("10"),
            False,
            40,
            (D("36.15"), D("3.615"), D("150.0"), D("54.23")),
            id="72.3kg-10mg-per-ml",
        ),
        pytest.param(
            D("70"),
            D("50"),
            False,
            45,
            (D("35.0"), D("0.7"), D("133.3"), D("46.67")),
            id="45min-rounds-to-133.3",
        ),
        pytest.param(
            D("70"),
            D("50"),
            True,
            40,
            (D("35.0"), D("0.7"), D("151.1"), D("52.50")),
            id="drug-volume-added-151.05-half-up",
        ),
        pytest.param(
            D("70"),
            D("10"),
            True,
            40,
            (D("35.0"), D("3.5"), D("155.3"), D("52.50")),
            id="drug-volume-added-155.25-half-up",
        ),
    ],
)
def test_plan_infusion_dose_half_mg_per_kg_in_100ml(
    weight_kg: Decimal,
    vial: Decimal,
    include_drug_volume: bool,
    minutes: int,
    expected: tuple[Decimal, Decimal, Decimal, Decimal],
) -> None:
    plan = plan_infusion_dose(
        weight_kg=weight_kg,
        mg_per_kg=D("0.5"),
        vial_mg_per_ml=vial,
        bag_volume_ml=D("100"),
        infusion_minutes=minutes,
        include_drug_volume=include_drug_volume,
    )

    assert (
        plan.dose_mg,
        plan.drug_volume_ml,
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
    )

    assert plan == DosePlan(
        weight_kg=D("70"),
        mg_per_kg=D("0.5"),
        dose_mg=D("35"),
        vial_mg_per_ml=D("50"),
        drug_volume_ml=D("0.7"),
        bag_volume_ml=D("100"),
        infusion_minutes=40,
        pump_rate_ml_per_h=D("150"),
        dose_rate_mg_per_h=D("52.5"),
        include_drug_volume=False,
    )
    # Display figures keep their resolution: the pump takes 0.1 mL/h steps.
    assert (str(plan.pump_rate_ml_per_h), str(plan.dose_rate_mg_per_h)) == ("150.0", "52.50")
    assert D("0.1") == PUMP_RATE_RESOLUTION_ML_PER_H


def test_plan_infusion_dose_highest_dose_is_exact() -> None:
    plan = plan_infusion_dose(
        weight_kg=D("300"),
        mg_per_kg=D("3.0"),
        vial_mg_per_ml=D("10"),
        bag_volume_ml=D("1000"),
        infusion_minutes=600,
    )

    assert (plan.dose_mg, plan.drug_volume_ml, plan.pump_rate_ml_per_h) == (
        D("900"),
        D("90"),
        D("100.0"),
    )


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
    ],
)
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
    ],
)
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
_HEIGHT_RANGE = "between 152.4 and 250 cm (Devine starts at 5 ft) to at most 0.1 cm"
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
            f"ideal body weight needs a height {_HEIGHT_RANGE}; got none",
            id="height-missing",
        ),
        pytest.param(
            {"height_cm": D("152.3")},
            "height_cm",
            f"height must be {_HEIGHT_RANGE}; got 152.3",
            id="height-below-5ft",
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
        pytest.param(
            {"sex": "unknown"},
            "sex",
            "ideal body weight (Devine) needs sex female or male; got 'unknown'; "
            "dose this patient on actual weight",
            id="sex-unknown-above-threshold",
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
        drug_volume_ml=D("2"),
        bag_volume_ml=D("100"),
        pump_rate_ml_per_h=D("25"),
        include_drug_volume=False,
    )
    assert str(plan.pump_rate_ml_per_h) == "25.0"


@pytest.mark.parametrize(
    ("weight_kg", "mg_per_kg_per_h", "cap", "hours", "vial", "include_drug_volume", "expected"),
    [
        pytest.param(
            D("80"), D("0.35"), D("25"), D("4"), D("50"), False,
            (D("28.00"), D("25"), True, D("100"), D("2"), D("25.0")),
            id="crps-80kg-capped-100ml-at-25ml-per-h",
        ),
        pytest.param(
            D("70"), D("0.35"), D("25"), D("4"), D("50"), False,
            (D("24.50"), D("24.50"), False, D("98.00"), D("1.96"), D("25.0")),
            id="crps-70kg-not-capped",
        ),
        pytest.param(
            D("100"), D("0.25"), D("25"), D("4"), D("10"), False,
            (D("25.00"), D("25.00"), False, D("100.00"), D("10"), D("25.0")),
            id="rate-equal-to-cap-not-capped",
        ),
        pytest.param(
            D("80"), D("0.35"), None, D("4"), D("10"), False,
            (D("28.00"), D("28.00"), False, D("112.00"), D("11.2"), D("25.0")),
            id="no-cap",
        ),
        pytest.param(
            D("80"), D("0.35"), D("25"), D("4"), D("50"), True,
            (D("28.00"), D("25"), True, D("100"), D("2"), D("25.5")),
            id="crps-drug-volume-added-50mg-per-ml",
        ),
        pytest.param(
            D("80"), D("0.35"), D("25"), D("4"), D("10"), True,
            (D("28.00"), D("25"), True, D("100"), D("10"), D("27.5")),
            id="crps-drug-volume-added-10mg-per-ml",
        ),
        pytest.param(
            D("72.3"), D("0.35"), D("25"), D("0.75"), D("50"), False,
            (D("25.305"), D("25"), True, D("18.75"), D("0.375"), D("133.3")),
            id="45-minutes-pump-rounds-half-up",
        ),
        pytest.param(
            D("300"), D("2"), None, D("10"), D("10"), False,
            (D("600"), D("600"), False, D("6000"), D("600"), D("10.0")),
            id="highest-rate-longest-time",
        ),
    ],
)  # fmt: skip
def test_plan_hourly_infusion(
    weight_kg: Decimal,
    mg_per_kg_per_h: Decimal,
    cap: Decimal | None,
    hours: Decimal,
    vial: Decimal,
    include_drug_volume: bool,
    expected: tuple[Decimal, Decimal, bool, Decimal, Decimal, Decimal],
) -> None:
    plan = plan_hourly_infusion(
        weight_kg=weight_kg,
        mg_per_kg_per_h=mg_per_kg_per_h,
        cap_mg_per_h=cap,
        hours=hours,
        vial_mg_per_ml=vial,
        bag_volume_ml=D("100"),
        include_drug_volume=include_drug_volume,
    )

    assert (
        plan.uncapped_dose_rate_mg_per_h,
        plan.dose_rate_mg_per_h,
        plan.capped,
        plan.total_mg,
        plan.drug_volume_ml,
        plan.pump_rate_ml_per_h,
    ) == expected


@pytest.mark.parametrize("include_drug_volume", [False, True], ids=["bag-only", "bag-plus-drug"])
@pytest.mark.parametrize("vial", [D("10"), D("50")], ids=["10mg-per-ml", "50mg-per-ml"])
def test_plan_hourly_infusion_agrees_with_plan_infusion_dose(
    vial: Decimal, include_drug_volume: bool
) -> None:
    # 1 mg/kg/h for 30 min is 0.5 mg/kg in 30 min: the same bag and pump either way.
    hourly = plan_hourly_infusion(
        weight_kg=D("70"),
        mg_per_kg_per_h=D("1"),
        cap_mg_per_h=None,
        hours=D("0.5"),
        vial_mg_per_ml=vial,
        bag_volume_ml=D("100"),
        include_drug_volume=include_drug_volume,
    )
    single = plan_infusion_dose(
        weight_kg=D("70"),
        mg_per_kg=D("0.5"),
        vial_mg_per_ml=vial,
        bag_volume_ml=D("100"),
        infusion_minutes=30,
        include_drug_volume=include_drug_volume,
    )

    assert (hourly.total_mg, hourly.drug_volume_ml, hourly.pump_rate_ml_per_h) == (
        single.dose_mg,
        single.drug_volume_ml,
        single.pump_rate_ml_per_h,
    )


_HOURLY = {
    "weight_kg": D("80"),
    "mg_per_kg_per_h": D("0.35"),
    "cap_mg_per_h": D("25"),
    "hours": D("4"),
    "vial_mg_per_ml": D("50"),
    "bag_volume_ml": D("100"),
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
    ],
)
def test_plan_hourly_infusion_rejects_out_of_range(field: str, value: object, message: str) -> None:
    arguments = {**_HOURLY, field: value}

    with pytest.raises(OutOfRange) as raised:
        plan_hourly_infusion(**arguments)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (field, message)


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
