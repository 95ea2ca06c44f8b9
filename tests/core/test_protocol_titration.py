"""Titration: the next infusion's dose by the protocol's rules (the depression standard's)."""

from dataclasses import replace
from decimal import Decimal

import pytest

from sustain_core.errors import OutOfRange
from sustain_core.protocols import (
    DEPRESSION_INDUCTION_V1,
    PROTOCOLS,
    TitrationAction,
    TitrationDecision,
    TitrationRule,
    TitrationTrigger,
    get_protocol,
    titrate,
    trigger_reads,
)

pytestmark = pytest.mark.core

D = Decimal
INCREASE, HOLD, REDUCE = TitrationAction.INCREASE, TitrationAction.HOLD, TitrationAction.REDUCE
UNCHANGED = TitrationAction.UNCHANGED
RULES = {rule.trigger: rule for rule in DEPRESSION_INDUCTION_V1.titration}
INCREASE_SOURCE = RULES[TitrationTrigger.NO_RESPONSE].source
HOLD_SOURCE = RULES[TitrationTrigger.DISSOCIATION].source
REDUCE_SOURCE = RULES[TitrationTrigger.BLOOD_PRESSURE].source


def test_depression_standard_titration_rules() -> None:
    assert [
        (r.trigger, r.action, r.step_mg_per_kg, r.limit_mg_per_kg, r.after_infusion)
        for r in DEPRESSION_INDUCTION_V1.titration
    ] == [
        (TitrationTrigger.NO_RESPONSE, INCREASE, D("0.25"), D("0.75"), 2),
        (TitrationTrigger.DISSOCIATION, HOLD, None, None, 1),
        (TitrationTrigger.BLOOD_PRESSURE, REDUCE, D("0.25"), D("0.25"), 1),
    ]


# current mg/kg, infusions given, responded, tolerated, CADSS, systolic, diastolic
#   → action, next mg/kg, reason, source
DECISIONS = [
    pytest.param(
        ("0.5", 1, False, True, None, None, None),
        (UNCHANGED, "0.5", "no increase before 2 infusions are given", INCREASE_SOURCE),
        id="too-early",
    ),
    pytest.param(
        ("0.5", 2, False, True, 10, 150, 90),
        (
            INCREASE,
            "0.75",
            "no response on the PHQ-9 after 2 infusions and tolerated: +0.25 mg/kg up to "
            "0.75 mg/kg",
            INCREASE_SOURCE,
        ),
        id="increase-at-infusion-3",
    ),
    pytest.param(
        ("0.6", 3, False, True, None, None, None),
        (
            INCREASE,
            "0.75",
            "no response on the PHQ-9 after 3 infusions and tolerated: +0.25 mg/kg up to "
            "0.75 mg/kg",
            INCREASE_SOURCE,
        ),
        id="increase-capped-at-maximum",
    ),
    pytest.param(
        ("0.75", 3, False, True, None, None, None),
        (UNCHANGED, "0.75", "already at the maximum 0.75 mg/kg", INCREASE_SOURCE),
        id="at-maximum",
    ),
    pytest.param(
        ("0.5", 3, True, True, None, None, None),
        (UNCHANGED, "0.5", "responded on the PHQ-9: keep the dose", INCREASE_SOURCE),
        id="unchanged-after-response",
    ),
    pytest.param(
        ("0.5", 3, False, False, None, None, None),
        (UNCHANGED, "0.5", "not tolerated: no increase", INCREASE_SOURCE),
        id="not-tolerated",
    ),
    pytest.param(
        ("0.5", 3, False, True, 26, 180, 110),
        (
            INCREASE,
            "0.75",
            "no response on the PHQ-9 after 3 infusions and tolerated: +0.25 mg/kg up to "
            "0.75 mg/kg",
            INCREASE_SOURCE,
        ),
        id="at-the-limits-is-not-above",
    ),
    pytest.param(
        ("0.5", 3, False, True, 30, None, None),
        (HOLD, "0.5", "CADSS 30 above the hold level 26: hold the dose", HOLD_SOURCE),
        id="hold-on-dissociation",
    ),
    pytest.param(
        ("0.75", 3, False, True, None, 185, None),
        (
            REDUCE,
            "0.5",
            "systolic 185 mmHg above 180: −0.25 mg/kg down to 0.25 mg/kg",
            REDUCE_SOURCE,
        ),
        id="reduce-on-systolic",
    ),
    pytest.param(
        ("0.4", 3, False, True, None, 185, 115),
        (
            REDUCE,
            "0.25",
            "systolic 185 mmHg above 180; diastolic 115 mmHg above 110: −0.25 mg/kg down to "
            "0.25 mg/kg",
            REDUCE_SOURCE,
        ),
        id="reduce-stops-at-floor",
    ),
    pytest.param(
        ("0.25", 3, False, True, None, None, 112),
        (
            HOLD,
            "0.25",
            "diastolic 112 mmHg above 110: already at the floor 0.25 mg/kg, hold the dose for "
            "prescriber review",
            REDUCE_SOURCE,
        ),
        id="reduce-at-floor-holds",
    ),
    pytest.param(
        ("0.5", 3, False, True, 40, 190, None),
        (
            REDUCE,
            "0.25",
            "systolic 190 mmHg above 180: −0.25 mg/kg down to 0.25 mg/kg",
            REDUCE_SOURCE,
        ),
        id="blood-pressure-and-dissociation-lower-dose-wins",
    ),
]


@pytest.mark.parametrize(("inputs", "expected"), DECISIONS)
def test_titrate_depression_standard(
    inputs: tuple[str, int, bool, bool, int | None, int | None, int | None],
    expected: tuple[TitrationAction, str, str, str],
) -> None:
    current, given, responded, tolerated, cadss, systolic, diastolic = inputs

    decision = titrate(
        DEPRESSION_INDUCTION_V1,
        current_mg_per_kg=D(current),
        infusions_given=given,
        responded=responded,
        tolerated=tolerated,
        dissociation_score=cadss,
        systolic_max=systolic,
        diastolic_max=diastolic,
    )

    action, mg_per_kg, reason, source = expected
    assert decision == TitrationDecision(action, D(mg_per_kg), reason, source)


def test_titrate_without_rules_keeps_the_dose() -> None:
    decision = titrate(
        get_protocol("murrough-2013", 1),
        current_mg_per_kg=D("0.5"),
        infusions_given=3,
        responded=False,
        tolerated=True,
        dissociation_score=50,
        systolic_max=200,
        diastolic_max=120,
    )

    assert decision == TitrationDecision(
        UNCHANGED, D("0.5"), "the protocol has no dose-increase rule", ""
    )


def test_titrate_safety_rules_only_hold_then_keep() -> None:
    protocol = replace(
        DEPRESSION_INDUCTION_V1,
        titration=(TitrationRule(TitrationTrigger.BLOOD_PRESSURE, HOLD, source="clinic rule"),),
    )

    def after(systolic: int) -> TitrationDecision:
        return titrate(
            protocol,
            current_mg_per_kg=D("0.5"),
            infusions_given=3,
            responded=False,
            tolerated=True,
            dissociation_score=40,
            systolic_max=systolic,
            diastolic_max=None,
        )

    held, calm = after(181), after(150)

    assert (held, calm) == (
        TitrationDecision(
            HOLD, D("0.5"), "systolic 181 mmHg above 180: hold the dose", "clinic rule"
        ),
        TitrationDecision(UNCHANGED, D("0.5"), "the protocol has no dose-increase rule", ""),
    )


@pytest.mark.parametrize(
    ("current", "given", "field", "message"),
    [
        ("0", 1, "current_mg_per_kg", "current_mg_per_kg must be above 0; got 0"),
        ("0.5", -1, "infusions_given", "infusions_given must be 0 or more; got -1"),
    ],
)
def test_titrate_rejects_impossible_inputs(
    current: str, given: int, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        titrate(
            DEPRESSION_INDUCTION_V1,
            current_mg_per_kg=D(current),
            infusions_given=given,
            responded=False,
            tolerated=True,
            dissociation_score=None,
            systolic_max=None,
            diastolic_max=None,
        )

    assert (raised.value.field, raised.value.message) == (field, message)


@pytest.mark.parametrize(
    ("trigger", "reads"),
    [
        (
            TitrationTrigger.NO_RESPONSE,
            "the PHQ-9, the protocol's outcome measure: no fall of 50 % or more from its "
            "baseline yet",
        ),
        (TitrationTrigger.DISSOCIATION, "the CADSS total at the last infusion: above 26"),
        (
            TitrationTrigger.BLOOD_PRESSURE,
            "the highest blood pressure during the last infusion: above 180/110 mmHg",
        ),
    ],
)
def test_trigger_reads_names_the_measure(trigger: TitrationTrigger, reads: str) -> None:
    assert trigger_reads(DEPRESSION_INDUCTION_V1, trigger) == reads


def test_no_response_reads_the_protocols_own_outcome_instrument() -> None:
    ptsd = PROTOCOLS[("ptsd-feder-2021", 1)]

    assert trigger_reads(ptsd, TitrationTrigger.NO_RESPONSE) == (
        "the PCL-5, the protocol's outcome measure: no fall of 30 % or more from its baseline yet"
    )
