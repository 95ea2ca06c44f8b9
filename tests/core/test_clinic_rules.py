"""A clinic's own rules: every value checked, refusals in plain words naming what is allowed."""

import dataclasses
from decimal import Decimal

import pytest

from sustain_core import clinic_rules
from sustain_core.clinic_rules import DEFAULT, ClinicRules, changed_fields
from sustain_core.dosing import WeightBasis
from sustain_core.errors import OutOfRange

pytestmark = pytest.mark.core


def test_defaults_are_the_documented_starting_point() -> None:
    assert (
        ClinicRules(
            weight_max_age_days=30,
            baseline_max_age_days=30,
            dosing_weight_basis=WeightBasis.ADJUSTED,
            dosing_bmi_threshold=Decimal("30"),
            qids_suicide_threshold=1,
            madrs_suicide_threshold=2,
            ymrs_alert_threshold=12,
            fiqr_min_answered_per_domain=1,
            alert_emails=True,
            fasting_food_hours=6,
            fasting_clear_fluids_hours=2,
            booster_risk_percent=20,
            booster_risk_horizon_days=14,
            reminder_hours=(48, 24),
            visit_preparation=clinic_rules.DEFAULT_PREPARATION,
        )
        == DEFAULT
    )


def test_the_two_roles_fields_cover_every_rule_once() -> None:
    names = [f.name for f in dataclasses.fields(ClinicRules)]
    assert sorted(clinic_rules.CLINICAL_FIELDS + clinic_rules.MESSAGE_FIELDS) == sorted(names)


def test_fasting_hours_are_the_prescribers() -> None:
    assert {"fasting_food_hours", "fasting_clear_fluids_hours"} <= set(clinic_rules.CLINICAL_FIELDS)


def test_the_booster_threshold_is_the_prescribers() -> None:
    assert {"booster_risk_percent", "booster_risk_horizon_days"} <= set(
        clinic_rules.CLINICAL_FIELDS
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight_max_age_days": 366}, "the maximum weight age must be a whole number of days "
         "from 0 to 365; got 366"),
        ({"baseline_max_age_days": -1}, "the baseline's maximum age must be a whole number from 0 "
         "to 365; got -1"),
        ({"baseline_max_age_days": True}, "the baseline's maximum age must be a whole number from "
         "0 to 365; got True"),
        ({"dosing_weight_basis": "lean"}, "the dosing weight must be one of actual, ideal, "
         "adjusted; got 'lean'"),
        ({"dosing_bmi_threshold": Decimal("24.9")}, "BMI threshold must be between 25 and 50 "
         "kg/m² to at most 0.1; got 24.9"),
        ({"qids_suicide_threshold": 0}, "the QIDS-SR16 item 12 alert threshold must be a whole "
         "number from 1 to 3; got 0"),
        ({"qids_suicide_threshold": 4}, "the QIDS-SR16 item 12 alert threshold must be a whole "
         "number from 1 to 3; got 4"),
        ({"madrs_suicide_threshold": 0}, "the MADRS item 10 alert threshold must be a whole "
         "number from 1 to 6; got 0"),
        ({"madrs_suicide_threshold": 7}, "the MADRS item 10 alert threshold must be a whole "
         "number from 1 to 6; got 7"),
        ({"ymrs_alert_threshold": -1}, "the YMRS total above which a mania alert is raised "
         "must be a whole number from 0 to 59; got -1"),
        ({"ymrs_alert_threshold": 60}, "the YMRS total above which a mania alert is raised "
         "must be a whole number from 0 to 59; got 60"),
        ({"fiqr_min_answered_per_domain": 11}, "the FIQR minimum answered items per domain must "
         "be a whole number from 1 to 10; got 11"),
        ({"alert_emails": 1}, "alert e-mails are on or off; got 1"),
        ({"fasting_food_hours": 13}, "the hours without food before an infusion must be a whole "
         "number from 0 to 12; got 13"),
        ({"fasting_food_hours": -1}, "the hours without food before an infusion must be a whole "
         "number from 0 to 12; got -1"),
        ({"fasting_food_hours": 6.5}, "the hours without food before an infusion must be a whole "
         "number from 0 to 12; got 6.5"),
        ({"fasting_clear_fluids_hours": 13}, "the hours without clear fluids before an infusion "
         "must be a whole number from 0 to 12; got 13"),
        ({"fasting_clear_fluids_hours": False}, "the hours without clear fluids before an "
         "infusion must be a whole number from 0 to 12; got False"),
        ({"booster_risk_percent": 0}, "the relapse risk (percent) at which a booster is "
         "suggested must be a whole number from 1 to 99; got 0"),
        ({"booster_risk_percent": 100}, "the relapse risk (percent) at which a booster is "
         "suggested must be a whole number from 1 to 99; got 100"),
        ({"booster_risk_horizon_days": 91}, "the days ahead over which the relapse risk is "
         "checked must be a whole number from 1 to 90; got 91"),
        ({"booster_risk_horizon_days": 0}, "the days ahead over which the relapse risk is "
         "checked must be a whole number from 1 to 90; got 0"),
        ({"reminder_hours": (24, 48)}, "reminder hours must be at most 4 different whole hours "
         "from 1 to 336, largest first; got (24, 48)"),
        ({"reminder_hours": (48, 48)}, "reminder hours must be at most 4 different whole hours "
         "from 1 to 336, largest first; got (48, 48)"),
        ({"reminder_hours": (337,)}, "reminder hours must be at most 4 different whole hours "
         "from 1 to 336, largest first; got (337,)"),
        ({"reminder_hours": (0,)}, "reminder hours must be at most 4 different whole hours from "
         "1 to 336, largest first; got (0,)"),
        ({"reminder_hours": (96, 72, 48, 24, 12)}, "reminder hours must be at most 4 different "
         "whole hours from 1 to 336, largest first; got (96, 72, 48, 24, 12)"),
        ({"reminder_hours": [48]}, "reminder hours must be at most 4 different whole hours from "
         "1 to 336, largest first; got [48]"),
        ({"reminder_hours": (True,)}, "reminder hours must be at most 4 different whole hours "
         "from 1 to 336, largest first; got (True,)"),
        ({"visit_preparation": "  "}, "the preparation text must be 1 to 1000 characters"),
        ({"visit_preparation": "x" * 1001}, "the preparation text must be 1 to 1000 characters"),
    ],
)  # fmt: skip
def test_refused_values_name_the_field_and_what_is_allowed(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(OutOfRange) as refused:
        dataclasses.replace(DEFAULT, **change)  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.message) == (next(iter(change)), message)


@pytest.mark.parametrize(
    "change",
    [
        {"weight_max_age_days": 0},
        {"weight_max_age_days": 365},
        {"baseline_max_age_days": 365},
        {"dosing_weight_basis": WeightBasis.ADJUSTED, "dosing_bmi_threshold": Decimal("27.5")},
        {"qids_suicide_threshold": 3},
        {"fiqr_min_answered_per_domain": 10},
        {"alert_emails": False},
        {"fasting_food_hours": 0},
        {"fasting_food_hours": 12},
        {"fasting_clear_fluids_hours": 0},
        {"fasting_clear_fluids_hours": 12},
        {"booster_risk_percent": 1},
        {"booster_risk_percent": 99},
        {"booster_risk_horizon_days": 90},
        {"reminder_hours": ()},
        {"reminder_hours": (336, 72, 24, 1)},
        {"visit_preparation": "x" * 1000},
    ],
)
def test_values_at_the_bounds_are_accepted(change: dict[str, object]) -> None:
    assert dataclasses.replace(DEFAULT, **change) != DEFAULT  # type: ignore[arg-type]


def test_changed_fields_lists_what_differs_in_order() -> None:
    new = dataclasses.replace(DEFAULT, reminder_hours=(24,), weight_max_age_days=14)
    assert changed_fields(DEFAULT, new) == ("weight_max_age_days", "reminder_hours")
    assert changed_fields(DEFAULT, DEFAULT) == ()
