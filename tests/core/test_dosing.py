from decimal import Decimal

import pytest

from sustain_core.dosing import (
    PUMP_RATE_RESOLUTION_ML_PER_H,
    DosePlan,
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
