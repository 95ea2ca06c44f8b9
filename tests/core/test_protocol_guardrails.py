"""Platform guardrails (issue 11, item 3): limits no protocol or clinic version can pass, each a
bound against typing errors; every library protocol passes them all."""

import copy
import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from sustain_core import dosing
from sustain_core.errors import ClinicalValueError, OutOfRange, RulesBroken
from sustain_core.protocols import (
    DEPRESSION_INDUCTION_V1,
    PROTOCOLS,
    WORDING_AND_SCHEDULING_PATHS,
    clinical_changes,
    get_protocol,
    guardrails,
    protocol_from_dict,
    protocol_to_dict,
)
from sustain_core.session_dose import plan_protocol_dose

pytestmark = pytest.mark.core

D = Decimal
LIBRARY = sorted(PROTOCOLS.values(), key=lambda protocol: protocol.key)
GUARD = "(a platform bound against typing errors, not a clinical rule)"


def edited(**tables: dict[str, object]) -> dict[str, object]:
    """The depression standard's dict with some keys of its tables (or top-level values)
    changed."""
    data = copy.deepcopy(protocol_to_dict(DEPRESSION_INDUCTION_V1))
    for name, changes in tables.items():
        if isinstance(data[name], dict):
            data[name].update(changes)  # type: ignore[union-attr]
        else:
            data[name] = changes
    return data


def refusal(data: dict[str, object]) -> ClinicalValueError:
    with pytest.raises(ClinicalValueError) as raised:
        protocol_from_dict(data)
    return raised.value


@pytest.mark.parametrize("protocol", LIBRARY, ids=lambda p: p.key)
def test_every_library_protocol_passes_every_guardrail(protocol):
    assert guardrails.protocol_breaches(protocol) == ()


@pytest.mark.parametrize("protocol", LIBRARY, ids=lambda p: p.key)
@pytest.mark.parametrize("weight_kg", [dosing.WEIGHT_KG_MIN, dosing.WEIGHT_KG_MAX])
def test_every_library_starting_dose_is_planned_at_every_accepted_weight(protocol, weight_kg):
    plan = plan_protocol_dose(protocol, weight_kg=weight_kg, vial_mg_per_ml=D("50"))

    dose_mg = plan.dose_mg if isinstance(plan, dosing.DosePlan) else plan.total_mg
    assert dose_mg <= guardrails.SESSION_MG_MAX


def test_three_mg_per_kg_over_one_minute_is_refused_for_its_start_and_its_rate():
    broken = refusal(edited(regimen={"mg_per_kg": "3.0", "infusion_minutes": 1}, titration=[]))

    assert isinstance(broken, RulesBroken)
    assert [(e.field, e.message) for e in broken.errors] == [
        ("regimen", "regimen.mg_per_kg 3.0 mg/kg is above the highest psychiatric starting dose "
         f"1.0 mg/kg [ASKP-basics-2018] {GUARD[:-1]}); titrate up instead"),
        ("regimen", "regimen.mg_per_kg 3.0 mg/kg over 1 min runs at 180.00 mg/kg/h, above 2 "
         "mg/kg/h [Cohen2018-GC]: at most 0.033 mg/kg over 1 min " + GUARD),
    ]  # fmt: skip
    assert str(broken) == (
        f"regimen: {broken.errors[0].message}; regimen: {broken.errors[1].message}"
    )


def test_every_broken_rule_is_named_not_only_the_first():
    broken = refusal(
        edited(
            instrument="hamd",
            safety={"stop_spo2_below": 50},
            series={"min_gap_hours": 1},
            visit={"recovery_minutes": 0},
        )
    )

    assert isinstance(broken, RulesBroken)
    assert [e.field for e in broken.errors] == ["instrument", "safety", "visit", "series"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        pytest.param(
            edited(safety={"stop_spo2_below": 50}), "safety",
            f"safety.stop_spo2_below must be from 85 to 95 %; got 50 {GUARD}", id="spo2-50",
        ),
        pytest.param(
            edited(series={"min_gap_hours": 1}), "series",
            f"series.min_gap must be at least 24 h between two infusions of a series of 6; got "
            f"1 h {GUARD}", id="one-hour-gap",
        ),
        pytest.param(
            edited(visit={"recovery_minutes": 0}), "visit",
            "visit.recovery_minutes must be at least 60 min: observe ≥ 60 min after the final "
            "dose [ED-scirp]; got 0", id="no-recovery",
        ),
        pytest.param(
            edited(monitoring={"min_observation_minutes": 0}), "monitoring",
            f"monitoring.min_observation_minutes must be from 60 to 600 min; got 0 {GUARD}",
            id="no-observation",
        ),
        pytest.param(
            edited(regimen={"mg_per_kg": "0.05"}, titration=[]),
            "regimen",
            f"regimen.mg_per_kg 0.05 mg/kg is below the lowest dose reported to help, 0.1 mg/kg "
            f"[Andrade2017] {GUARD}",
            id="start-below-0.1",
        ),
        pytest.param(
            edited(regimen={"mg_per_kg": "1.1", "infusion_minutes": 60}, titration=[]),
            "regimen",
            f"regimen.mg_per_kg 1.1 mg/kg is above the highest psychiatric starting dose 1.0 "
            f"mg/kg [ASKP-basics-2018] {GUARD[:-1]}); titrate up instead",
            id="psychiatric-start-above-1",
        ),
        pytest.param(
            edited(titration=[{
                "trigger": "no_response", "action": "increase", "step_mg_per_kg": "0.5",
                "limit_mg_per_kg": "1.5", "after_infusion": 2,
            }]),
            "titration",
            "titration[0].limit_mg_per_kg 1.5 mg/kg over 40 min runs at 2.25 mg/kg/h, above 2 "
            f"mg/kg/h [Cohen2018-GC]: at most 1.333 mg/kg over 40 min {GUARD}",
            id="titration-limit-too-fast",
        ),
        pytest.param(
            edited(regimen={"max_single_dose_mg": "200"}), "regimen",
            f"regimen.max_single_dose_mg 200 mg is above the platform ceiling of 150 mg per "
            f"session {GUARD}", id="maximum-single-dose-above-ceiling",
        ),
        pytest.param(
            edited(monitoring={"cadss_after_start_minutes": 101}), "monitoring",
            "monitoring.cadss_after_start_minutes 101 is after the booked recovery ends "
            "(100 min from the start of the infusion); the patient has left",
            id="cadss-after-the-patient-left",
        ),
        pytest.param(
            edited(maintenance_options=[{
                "kind": "symptom_triggered", "label": "Booster on relapse", "min_gap_hours": 12,
            }]),
            "maintenance_options",
            "maintenance_options[0].min_gap must be at least 24 h after the previous infusion; "
            f"got 12 h {GUARD}", id="booster-12-h-after",
        ),
    ],
)  # fmt: skip
def test_a_guardrail_refuses_a_protocol(data, field, message):
    refused = refusal(data)

    assert (type(refused), refused.field, refused.message) == (ClinicalValueError, field, message)


CRPS = get_protocol("crps-schwartzman-2009", 1)


@pytest.mark.parametrize(
    ("regimen", "message"),
    [
        pytest.param(
            {"mg_per_kg_per_h": "2.5", "cap_mg_per_h": "100", "infusion_minutes": 60},
            f"regimen.mg_per_kg_per_h 2.5 mg/kg/h is above 2 mg/kg/h [Cohen2018-GC] {GUARD}",
            id="rate-above-2",
        ),
        pytest.param(
            {"mg_per_kg_per_h": "0.035"},
            f"regimen.mg_per_kg_per_h 0.035 mg/kg/h is below 0.1 mg/kg/h, under the lowest rate "
            f"reported, 0.35 mg/kg/h [Schwartzman2009] {GUARD}",
            id="rate-below-0.1",
        ),
        pytest.param(
            {"cap_mg_per_h": "50", "max_single_dose_mg": None},
            f"at up to 50 mg/h for 240 min a session gives up to 200 mg, above the platform "
            f"ceiling of 150 mg per session {GUARD}",
            id="per-hour-session-above-150-mg",
        ),
    ],
)
def test_a_per_hour_regimen_is_held_by_the_rate_and_the_session_ceiling(regimen, message):
    data = protocol_to_dict(CRPS)
    data["regimen"].update(regimen)  # type: ignore[attr-defined]

    refused = refusal(data)

    assert (refused.field, refused.message) == ("regimen", message)


def test_chronic_pain_may_start_above_the_psychiatric_starting_ceiling():
    data = protocol_to_dict(get_protocol("neuropathic-pain", 1))
    data["regimen"].update({"mg_per_kg": "1.5", "infusion_minutes": 60})  # type: ignore[attr-defined]

    assert protocol_from_dict(data).regimen.mg_per_kg == D("1.5")


def test_a_single_infusion_needs_no_gap():
    protocol = get_protocol("suicidal-ideation", 1)

    assert (protocol.series.count, protocol.series.min_gap) == (1, dt.timedelta(0))


@pytest.mark.parametrize(("name", "bounds"), sorted(guardrails.SAFETY_BOUNDS.items()))
def test_each_safety_threshold_is_accepted_at_its_bounds_and_refused_past_them(name, bounds):
    low, high, unit = bounds
    # Deferral must not be above its stop threshold: room for every case.
    room = {"defer_systolic_above": 130, "defer_diastolic_above": 80,
            "stop_systolic_above": 200, "stop_diastolic_above": 120}  # fmt: skip
    accepted = [protocol_from_dict(edited(safety={**room, name: value})) for value in (low, high)]

    assert [getattr(protocol.safety, name) for protocol in accepted] == [low, high]
    for value in (low - 1, high + 1):
        refused = refusal(edited(safety={**room, name: value}))
        assert (refused.field, refused.message) == (
            "safety", f"safety.{name} must be from {low} to {high} {unit}; got {value} {GUARD}"
        )  # fmt: skip


# MonitoringPlan's own ranges: a value past them is refused by the plan before any guardrail.
PLAN_RANGES = {"vitals_every_minutes": (1, 60), "min_observation_minutes": (0, 600),
               "aldrete_min": (0, 10), "vitals_return_percent": (1, 100)}  # fmt: skip


@pytest.mark.parametrize(("name", "bounds"), sorted(guardrails.MONITORING_BOUNDS.items()))
def test_each_monitoring_value_is_accepted_at_its_bounds_and_refused_past_them(name, bounds):
    low, high, unit = bounds
    accepted = [protocol_from_dict(edited(monitoring={name: value})) for value in (low, high)]

    assert [getattr(protocol.monitoring, name) for protocol in accepted] == [low, high]
    own_low, own_high = PLAN_RANGES[name]
    past = [value for value in (low - 1, high + 1) if own_low <= value <= own_high]
    assert past  # every guardrail here is narrower than the plan's own range on one side
    for value in past:
        refused = refusal(edited(monitoring={name: value}))
        assert (refused.field, refused.message) == (
            "monitoring",
            f"monitoring.{name} must be from {low} to {high} {unit}; got {value} {GUARD}",
        )


@pytest.mark.parametrize(
    ("mg_per_kg", "minutes"),
    [("1.333", 40), ("0.5", 15), ("3.0", 90), ("3.0", 600)],
)
def test_a_session_dose_within_the_ceiling_is_accepted(mg_per_kg, minutes):
    guardrails.check_session_dose(mg_per_kg=D(mg_per_kg), infusion_minutes=minutes)


@pytest.mark.parametrize(
    ("mg_per_kg", "minutes", "message"),
    [
        ("1.334", 40, "1.334 mg/kg over 40 min (2.00 mg/kg/h) is above the platform ceiling: at "
         "most 1.333 mg/kg over 40 min, 3.0 mg/kg [CommunityUpdate2022] and 2 mg/kg/h "
         "[Cohen2018-GC] " + GUARD),
        ("3.1", 600, "3.1 mg/kg over 600 min (0.31 mg/kg/h) is above the platform ceiling: at "
         "most 3.0 mg/kg over 600 min, 3.0 mg/kg [CommunityUpdate2022] and 2 mg/kg/h "
         "[Cohen2018-GC] " + GUARD),
    ],
)  # fmt: skip
def test_a_session_dose_past_the_ceiling_is_refused(mg_per_kg, minutes, message):
    with pytest.raises(OutOfRange) as raised:
        guardrails.check_session_dose(mg_per_kg=D(mg_per_kg), infusion_minutes=minutes)

    assert (raised.value.field, raised.value.message) == ("mg_per_kg", message)


@pytest.mark.parametrize(("minutes", "ceiling"), [(1, "0.033"), (40, "1.333"), (90, "3.0")])
def test_the_session_ceiling_is_the_lower_of_3_mg_per_kg_and_2_mg_per_kg_per_h(minutes, ceiling):
    assert guardrails.session_ceiling_mg_per_kg(minutes) == D(ceiling)


def test_the_absolute_ceiling_is_150_mg_per_session():
    guardrails.check_session_mg(D("150"))
    with pytest.raises(OutOfRange) as raised:
        guardrails.check_session_mg(D("150.05"))

    assert (raised.value.field, raised.value.message) == (
        "dose_mg",
        f"150.05 mg in one session is above the platform ceiling of 150 mg per session "
        f"{GUARD[:-1]}); dose on ideal or adjusted body weight (clinic rules) or at a lower mg/kg",
    )


def test_300_kg_after_titration_is_refused_at_planning():
    """The issue's case: 300 kg × 0.5 mg/kg = 150 mg is the most; 0.75 mg/kg gives 225 mg."""
    standard = DEPRESSION_INDUCTION_V1
    weight, vial = D("300"), D("50")

    assert plan_protocol_dose(standard, weight_kg=weight, vial_mg_per_ml=vial).dose_mg == 150
    with pytest.raises(OutOfRange) as raised:
        plan_protocol_dose(
            standard, weight_kg=weight, vial_mg_per_ml=vial, titrated_mg_per_kg=D("0.75")
        )
    assert (raised.value.field, raised.value.message.split(" (")[0]) == (
        "dose_mg", "225 mg in one session is above the platform ceiling of 150 mg per session"
    )  # fmt: skip


def test_a_titrated_dose_too_fast_for_the_protocols_minutes_is_refused_at_planning():
    with pytest.raises(OutOfRange) as raised:
        plan_protocol_dose(
            DEPRESSION_INDUCTION_V1, weight_kg=D("70"), vial_mg_per_ml=D("50"),
            titrated_mg_per_kg=D("1.5"),
        )  # fmt: skip

    assert raised.value.field == "mg_per_kg"


@pytest.mark.parametrize(
    ("key", "cap"),
    [("depression-induction", D("0.75")), ("murrough-2013", D("0.5")),
     ("crps-schwartzman-2009", None)],
)  # fmt: skip
def test_the_titration_cap_is_the_increase_limit_or_the_start(key, cap):
    assert guardrails.titration_cap_mg_per_kg(get_protocol(key, 1)) == cap


CHANGES = [
    pytest.param({"title": "Our depression induction"}, [], id="title"),
    pytest.param({"notes": "Ask about the drive home."}, [], id="notes"),
    pytest.param({"series": {"weekdays": [0, 2, 4]}}, [], id="weekdays"),
    pytest.param({"visit": {"check_in_minutes": 20, "discharge_minutes": 10}}, [], id="visit"),
    pytest.param({"safety": {"source": "Our clinic's rule"}}, [], id="source"),
    pytest.param({"regimen": {"infusion_minutes": 45}}, ["regimen.infusion_minutes"],
                 id="minutes"),
    pytest.param({"bag_volume_ml": "250"}, ["bag_volume_ml"], id="bag"),
    pytest.param({"safety": {"stop_spo2_below": 90}}, ["safety.stop_spo2_below"], id="spo2"),
    pytest.param({"series": {"min_gap_hours": 72, "max_span_days": 28}},
                 ["series.min_gap_hours", "series.max_span_days"], id="gap-and-span"),
    pytest.param({"visit": {"recovery_minutes": 90}}, ["visit.recovery_minutes"], id="recovery"),
    pytest.param({"monitoring": {"pregnancy_test": True}}, ["monitoring.pregnancy_test"],
                 id="monitoring"),
    pytest.param({"contraindications_absolute": ["Pregnancy"]},
                 ["contraindications_absolute"], id="contraindications"),
    pytest.param({"title": "Slower", "regimen": {"infusion_minutes": 50}},
                 ["regimen.infusion_minutes"], id="title-and-minutes"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "clinical"), CHANGES)
def test_clinical_changes_are_those_of_dosing_or_safety(change, clinical):
    new = protocol_from_dict(edited(**change))

    assert clinical_changes(DEPRESSION_INDUCTION_V1, new) == clinical


def test_a_changed_titration_rule_is_clinical_but_its_source_is_not():
    data = edited()
    data["titration"][0]["source"] = "Our clinic's rule"  # type: ignore[index]
    worded = protocol_from_dict(data)
    data["titration"][0]["after_infusion"] = 3  # type: ignore[index]

    assert clinical_changes(DEPRESSION_INDUCTION_V1, worded) == []
    assert clinical_changes(worded, protocol_from_dict(data)) == ["titration[0].after_infusion"]


def leaf_paths(value: object, path: str = "") -> set[str]:
    """Every leaf path of a protocol dict, list positions left out (as the classification)."""
    if isinstance(value, dict):
        return set().union(*(leaf_paths(v, f"{path}.{k}" if path else k) for k, v in value.items()))
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return set().union(*(leaf_paths(item, path) for item in value))
    return {path}


def test_every_wording_or_scheduling_path_is_a_path_of_the_protocol_shape():
    paths = leaf_paths(protocol_to_dict(DEPRESSION_INDUCTION_V1)) | leaf_paths(
        protocol_to_dict(CRPS)
    )

    assert paths >= WORDING_AND_SCHEDULING_PATHS


def test_without_an_increase_rule_the_titration_cap_is_the_start():
    safety_only = replace(DEPRESSION_INDUCTION_V1, titration=DEPRESSION_INDUCTION_V1.titration[1:])

    assert [rule.trigger for rule in safety_only.titration] == ["dissociation", "blood_pressure"]
    assert guardrails.titration_cap_mg_per_kg(safety_only) == D("0.5")
