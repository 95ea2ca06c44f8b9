from dataclasses import replace
from decimal import Decimal

import pytest

from sustain_core import dosing
from sustain_core.errors import OutOfRange
from sustain_core.protocols import PROTOCOLS
from sustain_core.session_dose import plan_protocol_dose

pytestmark = pytest.mark.core


def test_per_session_worked_example():
    plan = plan_protocol_dose(
        PROTOCOLS[("depression-induction", 1)],
        weight_kg=Decimal("70"),
        vial_mg_per_ml=Decimal("50"),
    )
    assert isinstance(plan, dosing.DosePlan)
    assert (plan.dose_mg, plan.drug_volume_ml, plan.pump_rate_ml_per_h) == (
        Decimal("35"), Decimal("0.7"), Decimal("150.0")
    )  # fmt: skip


@pytest.mark.parametrize(
    ("weight_kg", "rate_mg_per_h", "capped"),
    [(Decimal("70"), Decimal("24.5"), False), (Decimal("80"), Decimal("25"), True)],
)
def test_per_hour_crps_cap(weight_kg, rate_mg_per_h, capped):
    crps = next(p for p in PROTOCOLS.values() if p.key.startswith("crps"))
    plan = plan_protocol_dose(crps, weight_kg=weight_kg, vial_mg_per_ml=Decimal("50"))
    assert isinstance(plan, dosing.HourlyDosePlan)
    assert (plan.dose_rate_mg_per_h, plan.capped) == (rate_mg_per_h, capped)


def test_max_single_dose_is_refused():
    standard = PROTOCOLS[("depression-induction", 1)]
    capped = replace(standard, regimen=replace(standard.regimen, max_single_dose_mg=Decimal("40")))
    assert plan_protocol_dose(capped, weight_kg=Decimal("80"), vial_mg_per_ml=Decimal("50"))
    with pytest.raises(OutOfRange) as excinfo:
        plan_protocol_dose(capped, weight_kg=Decimal("90"), vial_mg_per_ml=Decimal("50"))
    assert excinfo.value.field == "dose_mg"


def test_titrated_dose_replaces_the_regimen_dose():
    standard = PROTOCOLS[("depression-induction", 1)]
    plan = plan_protocol_dose(
        standard, weight_kg=Decimal("70"), vial_mg_per_ml=Decimal("50"),
        titrated_mg_per_kg=Decimal("0.75"),
    )  # fmt: skip
    assert plan.dose_mg == Decimal("52.5")


def test_per_hour_regimen_has_no_titrated_dose():
    crps = next(p for p in PROTOCOLS.values() if p.key.startswith("crps"))
    with pytest.raises(OutOfRange) as excinfo:
        plan_protocol_dose(
            crps, weight_kg=Decimal("70"), vial_mg_per_ml=Decimal("50"),
            titrated_mg_per_kg=Decimal("0.4"),
        )  # fmt: skip
    assert excinfo.value.field == "titrated_mg_per_kg"


def test_the_protocols_bag_convention_makes_up_the_bag():
    standard = PROTOCOLS[("depression-induction", 1)]
    added = replace(standard, bag_convention=dosing.BagConvention.ADD)

    withdrawn = plan_protocol_dose(standard, weight_kg=Decimal("70"), vial_mg_per_ml=Decimal("50"))
    plan = plan_protocol_dose(added, weight_kg=Decimal("70"), vial_mg_per_ml=Decimal("50"))

    assert (withdrawn.preparation.final_volume_ml, withdrawn.pump_rate_ml_per_h) == (
        Decimal("100"), Decimal("150.0")
    )  # fmt: skip
    assert (plan.preparation.final_volume_ml, plan.pump_rate_ml_per_h) == (
        Decimal("100.7"), Decimal("151.1")
    )  # fmt: skip


def test_the_delivered_dose_may_not_pass_the_maximum_either():
    # 99 mg at 10 mg/mL is 9.9 mL, halfway between a 10 mL syringe's 0.2 mL marks: 9.8 mL
    # (98 mg). 99.5 mg is 9.95 mL: the nearest mark is 10 mL, 100 mg, above a 99.5 mg maximum.
    standard = PROTOCOLS[("depression-induction", 1)]
    capped = replace(
        standard,
        regimen=replace(standard.regimen, mg_per_kg=Decimal("1"),
                        max_single_dose_mg=Decimal("99.5")),
        titration=(),
    )  # fmt: skip
    plan = plan_protocol_dose(capped, weight_kg=Decimal("99"), vial_mg_per_ml=Decimal("10"))
    assert (plan.dose_mg, plan.preparation.delivered_mg) == (Decimal("99"), Decimal("98"))

    with pytest.raises(OutOfRange) as excinfo:
        plan_protocol_dose(capped, weight_kg=Decimal("99.5"), vial_mg_per_ml=Decimal("10"))
    assert (excinfo.value.field, excinfo.value.message) == (
        "dose_mg",
        "dose must be above 0 and at most 99.5 mg (the protocol's maximum single dose); got 100",
    )
