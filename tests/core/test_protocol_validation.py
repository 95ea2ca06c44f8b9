"""A protocol that cannot be followed is refused, with the rule it breaks and what is allowed."""

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from sustain_core.errors import ClinicalValueError
from sustain_core.instruments import INSTRUMENTS
from sustain_core.measurement import Anchor, MeasurementRule
from sustain_core.outcomes import DEFAULT_RULES
from sustain_core.protocols import (
    Condition,
    DoseRegimen,
    Protocol,
    RegimenKind,
    SafetyThresholds,
    TitrationAction,
    TitrationRule,
    TitrationTrigger,
    feasible_start_weekdays,
)
from sustain_core.series import SeriesRules

pytestmark = pytest.mark.core

HOUR, DAY, MINUTE = dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(minutes=1)
D = Decimal
PER_SESSION, PER_HOUR = RegimenKind.PER_SESSION, RegimenKind.PER_HOUR
NO_RESPONSE = TitrationTrigger.NO_RESPONSE
DISSOCIATION = TitrationTrigger.DISSOCIATION
BLOOD_PRESSURE = TitrationTrigger.BLOOD_PRESSURE
INCREASE, HOLD, REDUCE = TitrationAction.INCREASE, TitrationAction.HOLD, TitrationAction.REDUCE
KNOWN = ", ".join(sorted(INSTRUMENTS))

# A psychiatric protocol measures a suicide item before every infusion (issue 11).
SUICIDE_PLAN = (
    MeasurementRule("baseline", Anchor.BEFORE_FIRST_INFUSION, ("phq9",), window_before=DAY),
    MeasurementRule(
        "pre_infusion", Anchor.BEFORE_EACH_INFUSION, ("phq9",), window_before=DAY,
        from_infusion=2,
    ),
)  # fmt: skip
BASE = Protocol(
    key="test",
    version=1,
    title="Test",
    condition=Condition.DEPRESSION,
    indications=(Condition.DEPRESSION,),
    regimen=DoseRegimen(kind=PER_SESSION, infusion_minutes=40, mg_per_kg=D("0.5")),
    bag_volume_ml=D("100"),
    series=SeriesRules(count=6, min_gap=48 * HOUR, max_span=21 * DAY),
    instrument="phq9",
    baseline_measures=("phq9",),
    citations=(),
    measurement_plan=SUICIDE_PLAN,
)


def with_series(**changes: Any) -> Callable[[], object]:
    return lambda: replace(BASE, series=replace(BASE.series, **changes))


def with_titration(*rules: TitrationRule) -> Callable[[], object]:
    return lambda: replace(BASE, titration=rules)


def increase(step: str, limit: str) -> TitrationRule:
    return TitrationRule(NO_RESPONSE, INCREASE, D(step), D(limit), after_infusion=2)


REFUSALS = [
    # The four refusals the issue names.
    pytest.param(
        with_series(count=6, min_gap=48 * HOUR, max_span=7 * DAY),
        "series",
        "6 sessions at least 48 h apart, each 2 h long, need 10 days 2 h from the first "
        "start to the last end; max_span is 7 days",
        id="series-cannot-fit",
    ),
    pytest.param(
        lambda: DoseRegimen(PER_SESSION, 40, mg_per_kg=D("0.5"), max_single_dose_mg=D("10")),
        "regimen",
        "0.5 mg/kg gives 15.0 mg at 30 kg, the lightest weight dosed, above the maximum single "
        "dose 10 mg; the maximum must be at least 15.0 mg",
        id="dose-above-its-own-maximum",
    ),
    pytest.param(
        with_titration(increase("0.5", "0.75")),
        "titration",
        "a step of 0.5 mg/kg from 0.5 mg/kg passes the maximum 0.75 mg/kg (step 1 reaches "
        "1.0 mg/kg); the maximum must be the starting dose plus a whole number of steps",
        id="titration-step-past-the-cap",
    ),
    pytest.param(
        lambda: replace(BASE, instrument="hamd"),
        "instrument",
        f"unknown instrument 'hamd' in instrument; known: {KNOWN}",
        id="unknown-instrument",
    ),
    # Series: weekdays and the weekly maximum.
    pytest.param(
        with_series(max_span=12 * DAY, weekdays=frozenset({0, 2})),
        "series",
        "6 sessions on Monday and Wednesday, at least 48 h apart, do not fit within 12 days "
        "from any start day",
        id="weekdays-too-few",
    ),
    pytest.param(
        # Arithmetic allows it (10 days 40 min) but 12 days touch at most three calendar weeks,
        # and 48 h apart at most 5 visits fit two a week (from a Friday: 0, 2 | 4, 6 | 10).
        with_series(max_span=12 * DAY, max_per_week=2),
        "series",
        "6 sessions on any day, at most 2 a week, at least 48 h apart, do not fit within "
        "12 days from any start day",
        id="max-per-week-too-low",
    ),
    pytest.param(
        with_series(count=2, max_span=14 * DAY, max_gap=72 * HOUR, weekdays=frozenset({0})),
        "series",
        "2 sessions on Monday, at least 48 h and at most 72 h apart, do not fit within 14 days "
        "from any start day",
        id="max-gap-too-short-for-the-weekdays",
    ),
    pytest.param(
        with_series(count=0),
        "series",
        "count and max_per_week must be 1 or more, min_gap 0 or more, max_gap at least min_gap, "
        "and weekdays a non-empty set of 0 (Monday) to 6; got SeriesRules(count=0, "
        "min_gap=datetime.timedelta(days=2), max_span=datetime.timedelta(days=21), "
        "max_gap=None, weekdays=None, max_per_week=None)",
        id="series-count-zero",
    ),
    pytest.param(
        with_series(weekdays=frozenset({7})),
        "series",
        "count and max_per_week must be 1 or more, min_gap 0 or more, max_gap at least min_gap, "
        "and weekdays a non-empty set of 0 (Monday) to 6; got SeriesRules(count=6, "
        "min_gap=datetime.timedelta(days=2), max_span=datetime.timedelta(days=21), "
        "max_gap=None, weekdays=frozenset({7}), max_per_week=None)",
        id="series-weekday-out-of-range",
    ),
    # Regimen.
    pytest.param(
        lambda: DoseRegimen(PER_SESSION, 40),
        "regimen",
        "a per_session regimen takes mg_per_kg and no mg_per_kg_per_h or cap_mg_per_h",
        id="per-session-without-dose",
    ),
    pytest.param(
        lambda: DoseRegimen(PER_HOUR, 240, mg_per_kg_per_h=D("0.35")),
        "regimen",
        "a per_hour regimen takes mg_per_kg_per_h and cap_mg_per_h and no mg_per_kg",
        id="per-hour-without-cap",
    ),
    pytest.param(
        lambda: DoseRegimen(PER_SESSION, 40, mg_per_kg=D("0")),
        "regimen",
        "mg_per_kg must be above 0; got 0",
        id="dose-zero",
    ),
    pytest.param(
        lambda: DoseRegimen(PER_SESSION, 0, mg_per_kg=D("0.5")),
        "regimen",
        "infusion_minutes must be above 0; got 0",
        id="no-minutes",
    ),
    pytest.param(
        lambda: DoseRegimen(PER_SESSION, 40, mg_per_kg=D("3.5")),
        "regimen",
        "3.5 mg/kg is above the dosing ceiling 3.0 mg/kg [CommunityUpdate2022]",
        id="dose-above-ceiling",
    ),
    pytest.param(
        lambda: DoseRegimen(PER_HOUR, 240, mg_per_kg_per_h=D("0.35"), cap_mg_per_h=D("10")),
        "regimen",
        "0.35 mg/kg/h is 10.50 mg/h at 30 kg, the lightest weight dosed, above its own cap 10 mg/h",
        id="hourly-rate-above-its-cap",
    ),
    pytest.param(
        lambda: DoseRegimen(
            PER_HOUR,
            240,
            mg_per_kg_per_h=D("0.35"),
            cap_mg_per_h=D("25"),
            max_single_dose_mg=D("90"),
        ),
        "regimen",
        "at up to 25 mg/h for 240 min a session gives up to 100 mg, above the maximum single "
        "dose 90 mg",
        id="hourly-session-above-maximum",
    ),
    # Titration rules on their own.
    pytest.param(
        lambda: TitrationRule(NO_RESPONSE, HOLD),
        "titration",
        "no_response rules can increase; got hold",
        id="no-response-hold",
    ),
    pytest.param(
        lambda: TitrationRule(DISSOCIATION, INCREASE, D("0.25"), D("0.75")),
        "titration",
        "dissociation rules can hold or reduce; got increase",
        id="dissociation-increase",
    ),
    pytest.param(
        lambda: TitrationRule(DISSOCIATION, HOLD, D("0.25")),
        "titration",
        "hold rules take no step_mg_per_kg or limit_mg_per_kg",
        id="hold-with-step",
    ),
    pytest.param(
        lambda: TitrationRule(NO_RESPONSE, INCREASE, D("0.25")),
        "titration",
        "increase rules need a step_mg_per_kg and limit_mg_per_kg above 0; got 0.25 and None",
        id="increase-without-limit",
    ),
    pytest.param(
        lambda: increase("0.5", "3.5"),
        "titration",
        "the limit 3.5 mg/kg is above the dosing ceiling 3.0 mg/kg [CommunityUpdate2022]",
        id="limit-above-ceiling",
    ),
    pytest.param(
        lambda: TitrationRule(NO_RESPONSE, INCREASE, D("0.25"), D("0.75"), after_infusion=0),
        "titration",
        "after_infusion must be 1 or more, and is for no_response rules only; got 0 on a "
        "no_response rule",
        id="after-infusion-zero",
    ),
    pytest.param(
        lambda: TitrationRule(BLOOD_PRESSURE, HOLD, after_infusion=3),
        "titration",
        "after_infusion must be 1 or more, and is for no_response rules only; got 3 on a "
        "blood_pressure rule",
        id="after-infusion-on-safety-rule",
    ),
    # Titration rules against the protocol.
    pytest.param(
        with_titration(TitrationRule(DISSOCIATION, HOLD), TitrationRule(DISSOCIATION, HOLD)),
        "titration",
        "at most one rule per trigger; got ['dissociation', 'dissociation']",
        id="two-rules-one-trigger",
    ),
    pytest.param(
        lambda: replace(
            BASE,
            regimen=DoseRegimen(PER_HOUR, 240, mg_per_kg_per_h=D("0.35"), cap_mg_per_h=D("25")),
            titration=(TitrationRule(DISSOCIATION, HOLD),),
        ),
        "titration",
        "titration rules step a per-session mg/kg dose; this regimen is per hour",
        id="titration-per-hour",
    ),
    pytest.param(
        with_titration(increase("0.25", "0.5")),
        "titration",
        "the maximum 0.5 mg/kg is not above the starting dose 0.5 mg/kg",
        id="maximum-not-above-start",
    ),
    pytest.param(
        with_titration(increase("0.2", "0.75")),
        "titration",
        "a step of 0.2 mg/kg from 0.5 mg/kg passes the maximum 0.75 mg/kg (step 2 reaches "
        "0.9 mg/kg); the maximum must be the starting dose plus a whole number of steps",
        id="ladder-misses-maximum",
    ),
    pytest.param(
        with_titration(TitrationRule(BLOOD_PRESSURE, REDUCE, D("0.25"), D("0.5"))),
        "titration",
        "the blood_pressure floor 0.5 mg/kg must be below the starting dose 0.5 mg/kg",
        id="floor-not-below-start",
    ),
    # Instruments.
    pytest.param(
        lambda: replace(BASE, baseline_measures=("phq9", "hamd")),
        "instrument",
        f"unknown instrument 'hamd' in baseline_measures; known: {KNOWN}",
        id="unknown-baseline-measure",
    ),
    pytest.param(
        lambda: replace(
            BASE,
            measurement_plan=(
                *SUICIDE_PLAN,
                MeasurementRule(
                    "anxiety", Anchor.BEFORE_FIRST_INFUSION, ("hama",), window_before=DAY
                ),
            ),
        ),
        "instrument",
        f"unknown instrument 'hama' in measurement_plan rule anxiety; known: {KNOWN}",
        id="unknown-planned-instrument",
    ),
    pytest.param(
        lambda: replace(BASE, instrument="cadss", baseline_measures=("cadss",)),
        "instrument",
        "cadss has no response or remission rules, so it cannot measure the outcome; choose "
        f"one of {', '.join(sorted(DEFAULT_RULES))}",
        id="instrument-without-outcome-rules",
    ),
    pytest.param(
        lambda: replace(BASE, baseline_measures=("gad7",)),
        "instrument",
        "the outcome instrument phq9 must be among the baseline measures ['gad7']: response is "
        "a fall from its baseline",
        id="instrument-without-baseline",
    ),
    # The rest of the protocol.
    pytest.param(
        lambda: replace(BASE, version=0),
        "version",
        "version must be 1 or more; got 0",
        id="version-zero",
    ),
    pytest.param(
        lambda: replace(BASE, condition=Condition.CRPS),
        "condition",
        "condition must be a primary condition (anxiety, chronic_pain, depression, ptsd); got crps",
        id="condition-not-primary",
    ),
    pytest.param(
        lambda: replace(BASE, indications=()),
        "indications",
        "a protocol needs one or more indications",
        id="no-indications",
    ),
    pytest.param(
        lambda: replace(
            BASE,
            measurement_plan=(SUICIDE_PLAN[0], replace(SUICIDE_PLAN[1], key="baseline")),
        ),
        "measurement_plan",
        "rule keys must be unique; got ['baseline', 'baseline']",
        id="measurement-keys-repeat",
    ),
    pytest.param(
        lambda: replace(BASE, measurement_plan=SUICIDE_PLAN[1:]),
        "measurement_plan",
        "a psychiatric protocol measures a suicide item (PHQ-9, QIDS-SR16, MADRS or the C-SSRS "
        "screener) before infusion 1",
        id="no-suicide-item-before-infusion-1",
    ),
    pytest.param(
        lambda: replace(
            BASE,
            measurement_plan=(
                SUICIDE_PLAN[0],
                MeasurementRule(
                    "pre_infusion",
                    Anchor.BEFORE_EACH_INFUSION,
                    ("gad7",),
                    window_before=DAY,
                    from_infusion=2,
                ),
            ),
        ),
        "measurement_plan",
        "a psychiatric protocol measures a suicide item (PHQ-9, QIDS-SR16, MADRS or the C-SSRS "
        "screener) before each infusion from infusion 2 (boosters included)",
        id="no-suicide-item-before-later-infusions",
    ),
    pytest.param(
        lambda: replace(
            BASE,
            measurement_plan=(
                SUICIDE_PLAN[0],
                replace(SUICIDE_PLAN[1], from_infusion=3),
            ),
        ),
        "measurement_plan",
        "a psychiatric protocol measures a suicide item (PHQ-9, QIDS-SR16, MADRS or the C-SSRS "
        "screener) before each infusion from infusion 2 (boosters included)",
        id="suicide-item-only-from-infusion-3",
    ),
    pytest.param(
        lambda: replace(BASE, minimum_age_years=0),
        "minimum_age_years",
        "minimum_age_years must be from 1 to 120; got 0",
        id="minimum-age-zero",
    ),
    pytest.param(
        lambda: replace(BASE, minimum_age_years=180),
        "minimum_age_years",
        "minimum_age_years must be from 1 to 120; got 180",
        id="minimum-age-typing-error",
    ),
    pytest.param(
        lambda: replace(
            BASE,
            contraindications_absolute=("Pregnancy", "Aneurysm"),
            contraindications_relative=("Glaucoma", "Pregnancy"),
        ),
        "contraindications_absolute",
        "each contraindication is listed once, as absolute or relative; repeated: Pregnancy",
        id="contraindication-absolute-and-relative",
    ),
    pytest.param(
        lambda: replace(BASE, futility_after=7),
        "futility_after",
        "futility_after must be from 1 to the 6 induction infusions; got 7",
        id="futility-after-the-series",
    ),
    pytest.param(
        lambda: replace(BASE, extension_max_infusions=6),
        "extension_max_infusions",
        "an extension must allow more than the 6 induction infusions; got 6",
        id="extension-not-longer",
    ),
    pytest.param(
        lambda: replace(BASE, response_fraction=D("0")),
        "response_fraction",
        "response_fraction must be above 0 and at most 1; got 0",
        id="response-fraction-zero",
    ),
    pytest.param(
        lambda: replace(BASE, response_fraction=D("1.5")),
        "response_fraction",
        "response_fraction must be above 0 and at most 1; got 1.5",
        id="response-fraction-above-one",
    ),
    pytest.param(
        lambda: replace(BASE, partial_response_fraction=D("0.5")),
        "partial_response_fraction",
        "partial_response_fraction must be above 0 and below the response fraction 0.5; got 0.5",
        id="partial-not-below-response",
    ),
    pytest.param(
        lambda: replace(BASE, response_fraction=D("0.2")),
        "partial_response_fraction",
        "partial_response_fraction must be above 0 and below the response fraction 0.2; got 0.25",
        id="default-partial-above-a-lower-response",
    ),
    pytest.param(
        lambda: replace(BASE, partial_response_fraction=D("0")),
        "partial_response_fraction",
        "partial_response_fraction must be above 0 and below the response fraction 0.5; got 0",
        id="partial-zero",
    ),
    pytest.param(
        lambda: SafetyThresholds(stop_spo2_below=101),
        "safety",
        "thresholds must be above 0, SpO2 at most 100 % and CADSS at most 92; got "
        "(160, 100, 180, 110, 110, 101, 26)",
        id="spo2-above-100",
    ),
    pytest.param(
        lambda: SafetyThresholds(defer_systolic_above=190),
        "safety",
        "the deferral threshold 190/100 mmHg must not be above the stop threshold 180/110 mmHg",
        id="deferral-above-stop",
    ),
]


@pytest.mark.parametrize(("build", "field", "message"), REFUSALS)
def test_protocol_refused(build: Callable[[], object], field: str, message: str) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        build()

    assert (raised.value.field, raised.value.message) == (field, message)


def test_per_hour_regimen_within_its_cap_and_maximum_is_accepted() -> None:
    regimen = DoseRegimen(
        PER_HOUR,
        240,
        mg_per_kg_per_h=D("0.35"),
        cap_mg_per_h=D("25"),
        max_single_dose_mg=D("100"),
    )

    assert regimen.mg_per_kg is None


def test_per_session_maximum_reached_above_the_lightest_weight_is_accepted() -> None:
    # 0.5 mg/kg reaches 50 mg at 100 kg; heavier patients are capped at 50 mg.
    regimen = DoseRegimen(PER_SESSION, 40, mg_per_kg=D("0.5"), max_single_dose_mg=D("50"))

    assert regimen.max_single_dose_mg == D("50")


@pytest.mark.parametrize(
    ("rules", "visit", "starts"),
    [
        pytest.param(
            SeriesRules(6, 48 * HOUR, 12 * DAY, weekdays=frozenset({0, 2, 4}), max_per_week=3),
            40 * MINUTE,
            {0},
            id="mwf-12-days-from-monday-only",
        ),
        pytest.param(
            SeriesRules(6, 48 * HOUR, 13 * DAY, weekdays=frozenset({0, 2, 4}), max_per_week=3),
            40 * MINUTE,
            {0, 2, 4},
            id="mwf-13-days-from-any-of-them",
        ),
        pytest.param(
            SeriesRules(10, 24 * HOUR, 12 * DAY, weekdays=frozenset(range(5)), max_per_week=5),
            4 * HOUR,
            {0},
            id="ten-weekdays-in-12-days-from-monday",
        ),
        pytest.param(
            SeriesRules(3, 36 * HOUR, 7 * DAY),
            40 * MINUTE,
            set(range(7)),
            id="gap-rounds-up-to-whole-days",
        ),
        pytest.param(
            SeriesRules(2, 0 * HOUR, 3 * DAY, max_gap=48 * HOUR, weekdays=frozenset({0, 4})),
            40 * MINUTE,
            set(),
            id="max-gap-over-a-weekend",
        ),
        pytest.param(
            SeriesRules(1, 0 * HOUR, DAY, weekdays=frozenset({5, 6})),
            40 * MINUTE,
            {5, 6},
            id="single-visit-on-allowed-days",
        ),
    ],
)
def test_feasible_start_weekdays(rules: SeriesRules, visit: dt.timedelta, starts: set[int]) -> None:
    assert feasible_start_weekdays(rules, visit=visit) == starts
