import math

import numpy as np
import pytest

from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.simulate import (
    CohortParameters,
    Policy,
    PolicyKind,
    forecast_interval_days,
    parse_policy,
    simulate,
    summarise,
    weibull_scale_for_median,
)

pytestmark = pytest.mark.core

MURROUGH = CohortParameters.from_literature("murrough")
# Never relapses within a year: the Weibull's scale is 10 years and its shape 20.
NEVER = CohortParameters.from_fitted(shape=20.0, scale_days=3650.0, response_probability=1.0)
FIELDS = ("responded", "days_in_program", "relapse_free_days", "relapse_days", "infusions",
          "relapses", "longest_relapse_days")  # fmt: skip


def run(policy: str, parameters: CohortParameters = MURROUGH, *, patients: int = 4000,
        years: float = 1.0, seed: int = 7):  # fmt: skip
    return simulate(parameters, parse_policy(policy), patients=patients, years=years, seed=seed)


def test_presets_cite_their_response_and_murrough_median():
    assert [CohortParameters.from_literature(p).response_probability for p in
            ("murrough", "shiroma", "mcinnes")] == [17 / 24, 11 / 12, 0.536]  # fmt: skip
    assert MURROUGH.relapse_median_days == pytest.approx(18.0, rel=1e-12)
    assert MURROUGH.still_responding(18.0) == pytest.approx(0.5, rel=1e-12)
    assert "[Murrough2013]" in MURROUGH.source and "assumption" in MURROUGH.source
    assert CohortParameters.from_literature("shiroma", relapse_shape=2.0).relapse_shape == 2.0


def test_fitted_parameters_keep_the_clinic_values():
    fitted = CohortParameters.from_fitted(
        shape=1.5, scale_days=30.0, response_probability=0.6, induction_infusions=8,
        induction_days=21, visit_minutes=150,
    )  # fmt: skip
    assert (fitted.relapse_shape, fitted.relapse_scale_days, fitted.response_probability,
            fitted.induction_infusions, fitted.induction_days, fitted.visit_minutes) == (
        1.5, 30.0, 0.6, 8, 21, 150)  # fmt: skip
    assert weibull_scale_for_median(30.0 * math.log(2) ** (1 / 1.5), 1.5) == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"response_probability": 1.5}, "response_probability"),
        ({"response_probability": float("nan")}, "response_probability"),
        ({"response_probability": True}, "response_probability"),
        ({"response_probability": "0.5"}, "response_probability"),
        ({"relapse_shape": 0.0}, "relapse_shape"),
        ({"relapse_shape": 21.0}, "relapse_shape"),
        ({"relapse_scale_days": -1.0}, "relapse_scale_days"),
        ({"relapse_scale_days": float("inf")}, "relapse_scale_days"),
        ({"induction_infusions": 0}, "induction_infusions"),
        ({"induction_infusions": 6.0}, "induction_infusions"),
        ({"induction_days": 366}, "induction_days"),
        ({"visit_minutes": 0}, "visit_minutes"),
    ],
)
def test_parameters_refuse_values_out_of_range(changes, field):
    values = {"response_probability": 0.7, "relapse_shape": 1.2, "relapse_scale_days": 24.0}
    with pytest.raises(OutOfRange) as refused:
        CohortParameters(**(values | changes))
    assert refused.value.field == field


def test_unknown_preset_and_bad_shape_are_refused():
    with pytest.raises(ClinicalValueError, match="mcinnes, murrough, shiroma; got 'x'"):
        CohortParameters.from_literature("x")
    for shape in (0.0, "1"):
        with pytest.raises(OutOfRange) as refused:
            CohortParameters.from_literature("murrough", relapse_shape=shape)  # type: ignore[arg-type]
        assert refused.value.field == "relapse_shape"


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("none", Policy(PolicyKind.NONE)),
        ("fixed:28", Policy(PolicyKind.FIXED, intervals_days=(28,))),
        ("taper:7,14,21,28", Policy(PolicyKind.TAPER, intervals_days=(7, 14, 21, 28))),
        ("symptom:7", Policy(PolicyKind.SYMPTOM, assessment_days=7)),
        ("symptom:7,14", Policy(PolicyKind.SYMPTOM, assessment_days=7, confirmation_days=14)),
        ("forecast:0.2", Policy(PolicyKind.FORECAST, threshold=0.2)),
        ("forecast:0.3,14", Policy(PolicyKind.FORECAST, threshold=0.3, horizon_days=14)),
        ("forecast:0.3,14,3",
         Policy(PolicyKind.FORECAST, threshold=0.3, horizon_days=14, min_gap_days=3)),
    ],
)  # fmt: skip
def test_policies_parse_as_written(text, policy):
    assert parse_policy(text) == policy
    assert parse_policy(policy.label) == policy


def test_policy_labels():
    assert [parse_policy(t).label for t in ("none", "fixed:7", "symptom:7,7", "forecast:0.2")] == [
        "none", "fixed:7", "symptom:7,7", "forecast:0.2,7,7"]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("weekly", "policy"),
        ("fixed:x", "policy"),
        ("fixed", "intervals_days"),
        ("fixed:7,14", "intervals_days"),
        ("fixed:0", "intervals_days"),
        ("none:7", "intervals_days"),
        ("taper:" + ",".join(["7"] * 21), "intervals_days"),
        ("symptom", "policy"),
        ("symptom:7,7,7", "policy"),
        ("symptom:0", "assessment_days"),
        ("symptom:7,-1", "confirmation_days"),
        ("forecast", "policy"),
        ("forecast:1,2,3,4", "policy"),
        ("forecast:0.2,7,7,7", "policy"),
        ("forecast:1", "threshold"),
        ("forecast:0", "threshold"),
        ("forecast:nan", "threshold"),
        ("forecast:0.2,0", "horizon_days"),
        ("forecast:0.2,7,0", "min_gap_days"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(text, field):
    with pytest.raises(ClinicalValueError) as refused:
        parse_policy(text)
    assert refused.value.field == field


def test_a_policy_refuses_an_unknown_kind_and_another_kinds_field():
    with pytest.raises(ClinicalValueError, match="none, fixed, taper, symptom, forecast"):
        Policy("weekly")  # type: ignore[arg-type]
    assert Policy("fixed", intervals_days=(7,)).kind is PolicyKind.FIXED  # type: ignore[arg-type]
    with pytest.raises(ClinicalValueError, match="a fixed policy does not take threshold"):
        Policy(PolicyKind.FIXED, intervals_days=(7,), threshold=0.5)
    with pytest.raises(ClinicalValueError, match="takes 1 to 20 interval"):
        Policy(PolicyKind.TAPER)


def test_same_seed_same_cohort_and_another_seed_another():
    for policy in ("fixed:7", "symptom:7,7"):
        first, again, other = run(policy), run(policy), run(policy, seed=8)
        for name in FIELDS:
            assert np.array_equal(getattr(first, name), getattr(again, name)), name
        assert not np.array_equal(first.relapse_free_days, other.relapse_free_days)
        assert summarise(first) == summarise(again)


def test_response_fraction_is_the_probability():
    # 20,000 patients: the standard error of the fraction is 0.0032; 0.015 is about 4.7 of them.
    cohort = run("none", patients=20_000)
    assert abs(cohort.responded.mean() - 17 / 24) < 0.015
    assert summarise(cohort).responders == int(cohort.responded.sum())


def test_without_maintenance_the_median_time_to_relapse_is_the_weibull_median():
    # Followed 5 years, a responder's relapse-free days are his time to relapse. About 14,000
    # responders: the median's standard error is about 0.18 days; 1 day is about 5 of them.
    cohort = run("none", patients=20_000, years=5.0)
    responders = cohort.relapse_free_days[cohort.responded]
    assert abs(float(np.median(responders)) - 18.0) < 1.0
    assert (cohort.relapses[cohort.responded] == 1).mean() == 1.0


def test_accounting_identities_hold_for_every_patient_and_policy():
    for policy in ("none", "fixed:7", "taper:7,14,21,28", "symptom:7,7", "forecast:0.2"):
        cohort = run(policy)
        induction = np.where(cohort.responded, 0.0, 12.0)
        in_maintenance = cohort.relapse_free_days + cohort.relapse_days
        assert np.allclose(cohort.days_in_program - 12.0 * cohort.responded, in_maintenance
                           + induction), policy  # fmt: skip
        assert np.array_equal(cohort.days_in_program[cohort.responded],
                              np.full(int(cohort.responded.sum()), 365.25))  # fmt: skip
        assert np.array_equal(cohort.infusions[~cohort.responded],
                              np.full(int((~cohort.responded).sum()), 6))  # fmt: skip
        outcome = summarise(cohort)
        days = outcome.induction_days + outcome.relapse_free_days + outcome.relapse_days
        assert days == pytest.approx(float(cohort.days_in_program.sum()), rel=1e-12)
        assert outcome.patient_years == pytest.approx(days / 365.25, rel=1e-12)
        assert outcome.per_year["infusions"] == outcome.infusions / outcome.patient_years
        assert outcome.chair_hours == outcome.infusions * 2.0


def test_weekly_boosters_give_more_relapse_free_days_and_more_infusions_than_none():
    none, weekly = summarise(run("none")), summarise(run("fixed:7"))
    assert weekly.relapse_free_days > 5 * none.relapse_free_days
    assert weekly.infusions > 5 * none.infusions
    assert weekly.longest_relapse_days <= 7.0


def test_scheduled_boosters_count_as_the_schedule_says():
    # 353.25 days of maintenance: every 28 days gives 12 boosters (the 13th would be day 364);
    # the taper 7, 14, 21, 28 gives boosters on days 7, 21, 42, 70, 98, ..., 350: 3 + 11 = 14.
    assert set(run("fixed:28", NEVER, patients=10).infusions) == {6 + 12}
    assert set(run("taper:7,14,21,28", NEVER, patients=10).infusions) == {6 + 14}
    assert set(run("none", NEVER, patients=10).relapse_days) == {0.0}


@pytest.mark.parametrize(
    ("policy", "bound"),
    [("symptom:7", 7), ("symptom:7,7", 14), ("symptom:7,3", 14), ("symptom:14,7", 28)],
)
def test_symptom_triggered_relapse_lasts_at_most_assessment_plus_confirmation(policy, bound):
    cohort = run(policy)
    assert cohort.longest_relapse_days.max() <= bound
    assert cohort.longest_relapse_days.max() > bound - 1  # the bound is reached, near enough
    assert (cohort.infusions - 6 <= cohort.relapses).all()  # a booster follows each relapse


def test_symptom_triggered_beats_no_maintenance_with_fewer_infusions_than_weekly():
    none, symptom, weekly = (summarise(run(p)) for p in ("none", "symptom:7", "fixed:7"))
    assert none.relapse_free_days < symptom.relapse_free_days
    assert symptom.infusions < weekly.infusions


def test_no_responders_or_all_responders():
    nobody = CohortParameters.from_fitted(shape=1.2, scale_days=24.0, response_probability=0.0)
    cohort = run("symptom:7", nobody, patients=50)
    assert summarise(cohort).responders == 0 and set(cohort.days_in_program) == {12.0}
    everyone = run("symptom:7", NEVER, patients=50)
    assert everyone.responded.all() and set(everyone.infusions) == {6}


def test_forecast_interval_solves_the_weibull_risk_in_closed_form_for_shape_2():
    # k = 2: (t + h)^2 - t^2 = c gives t = (c - h^2) / 2h, c = -lambda^2 ln(1 - p).
    parameters = CohortParameters.from_fitted(shape=2.0, scale_days=60.0, response_probability=1)
    policy = Policy(PolicyKind.FORECAST, threshold=0.2, horizon_days=7, min_gap_days=1)
    c = -(60.0**2) * math.log(1 - 0.2)
    exact = (c - 7**2) / (2 * 7)
    assert forecast_interval_days(parameters, policy) == math.ceil(exact) == 54
    assert parameters.conditional_relapse_risk(exact, 7) == pytest.approx(0.2, rel=1e-9)
    far = Policy(PolicyKind.FORECAST, threshold=0.99, horizon_days=1, min_gap_days=1)
    interval = forecast_interval_days(parameters, far)
    assert interval is not None
    assert parameters.conditional_relapse_risk(interval, 1) >= 0.99
    assert parameters.conditional_relapse_risk(interval - 1, 1) < 0.99


def test_forecast_interval_at_the_minimum_gap_or_never():
    weekly = parse_policy("forecast:0.2")  # Murrough's risk over a week is above 20 % by day 7
    assert forecast_interval_days(MURROUGH, weekly) == 7
    flat = CohortParameters.from_fitted(shape=1.0, scale_days=100.0, response_probability=1.0)
    assert flat.conditional_relapse_risk(7, 7) < 0.2
    assert forecast_interval_days(flat, weekly) is None
    with pytest.raises(ClinicalValueError, match="a forecast policy is needed; got fixed:7"):
        forecast_interval_days(MURROUGH, parse_policy("fixed:7"))


def test_forecast_policy_boosts_at_its_interval_and_without_one_is_no_maintenance():
    forecast, fixed = run("forecast:0.2"), run("fixed:7")
    assert forecast.booster_interval_days == 7
    assert np.array_equal(forecast.relapse_days, fixed.relapse_days)
    flat = CohortParameters.from_fitted(shape=1.0, scale_days=100.0, response_probability=0.7)
    never, none = run("forecast:0.2", flat), run("none", flat)
    assert never.booster_interval_days is None
    assert np.array_equal(never.relapse_free_days, none.relapse_free_days)


def test_chairs_needed_is_weekly_chair_hours_over_one_chairs_hours():
    outcome = summarise(run("fixed:28"))
    chairs = outcome.chairs_needed(intake_per_week=5, chair_hours_per_week=50, utilisation=0.8)
    assert chairs == 5 * (outcome.chair_hours / outcome.patients) / (50 * 0.8)
    assert outcome.chair_hours_per_patient == outcome.chair_hours / 4000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"intake_per_week": -1}, "intake_per_week"),
        ({"chair_hours_per_week": 0}, "chair_hours_per_week"),
        ({"chair_hours_per_week": 169}, "chair_hours_per_week"),
        ({"utilisation": 0}, "utilisation"),
        ({"utilisation": 1.2}, "utilisation"),
    ],
)
def test_chairs_needed_refuses_values_out_of_range(changes, field):
    outcome = summarise(run("none", patients=10))
    values = {"intake_per_week": 5, "chair_hours_per_week": 50, "utilisation": 0.85}
    with pytest.raises(OutOfRange) as refused:
        outcome.chairs_needed(**(values | changes))
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"patients": 0}, "patients"),
        ({"patients": 10_000_001}, "patients"),
        ({"seed": -1}, "seed"),
        ({"years": 0}, "years"),
        ({"years": 51}, "years"),
        ({"years": 12 / 365.25}, "years"),  # ends with induction
    ],
)
def test_simulate_refuses_bad_sizes(arguments, field):
    values = {"patients": 10, "years": 1.0, "seed": 1} | arguments
    with pytest.raises(OutOfRange) as refused:
        simulate(MURROUGH, parse_policy("none"), **values)
    assert refused.value.field == field
