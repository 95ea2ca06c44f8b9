"""The infusion day: vitals, the pre-infusion gate, timed readings, discharge and the stages."""

import datetime as dt
from dataclasses import replace

import pytest

from sustain_core.dosing import WeightBasis
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.infusion_day import (
    DischargeFacts,
    DueReading,
    GateFacts,
    GateFailure,
    GateItem,
    PregnancyTest,
    ReadingStatus,
    Resolver,
    Stage,
    Vitals,
    aldrete_score,
    allowed_moves,
    check_move,
    deferral_reasons,
    discharge_failures,
    gate_failures,
    next_overdue_at,
    stop_reasons,
    vitals_due,
)
from sustain_core.protocols import SafetyThresholds

pytestmark = pytest.mark.core

SECOND, MIN, HOUR = dt.timedelta(seconds=1), dt.timedelta(minutes=1), dt.timedelta(hours=1)
TODAY = dt.date(2026, 12, 6)
NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
SAFETY = SafetyThresholds()  # defer above 160/100, stop above 180/110, HR 110, SpO₂ below 92
NORMAL = Vitals(
    systolic_mmhg=118,
    diastolic_mmhg=76,
    heart_rate_bpm=72,
    spo2_percent=98,
    respiratory_rate_per_min=14,
)
NURSE, PRESCRIBER = Resolver.NURSE, Resolver.PRESCRIBER


def vitals(**change: object) -> Vitals:
    return replace(NORMAL, **change)  # type: ignore[arg-type]


# --- Vitals: plausibility bounds (against typing errors) ------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"systolic_mmhg": 50, "diastolic_mmhg": 30},
        {"systolic_mmhg": 300},
        {"diastolic_mmhg": 20},
        {"systolic_mmhg": 250, "diastolic_mmhg": 200},
        {"heart_rate_bpm": 20},
        {"heart_rate_bpm": 250},
        {"spo2_percent": 50},
        {"spo2_percent": 100},
        {"respiratory_rate_per_min": 4},
        {"respiratory_rate_per_min": 60},
        {"systolic_mmhg": 77, "diastolic_mmhg": 76},
    ],
    ids=str,
)
def test_vitals_at_the_plausibility_bounds_are_accepted(change: dict[str, object]) -> None:
    assert vitals(**change) != NORMAL


SYSTOLIC = "systolic blood pressure must be a whole number of mmHg from 50 to 300"
DIASTOLIC = "diastolic blood pressure must be a whole number of mmHg from 20 to 200"
HEART_RATE = "heart rate must be a whole number of beats per minute from 20 to 250"
SPO2 = "SpO₂ must be a whole number of % from 50 to 100"
RESPIRATION = "respiratory rate must be a whole number of breaths per minute from 4 to 60"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"systolic_mmhg": 49, "diastolic_mmhg": 30}, "systolic_mmhg", f"{SYSTOLIC}; got 49"),
        ({"systolic_mmhg": 301}, "systolic_mmhg", f"{SYSTOLIC}; got 301"),
        ({"systolic_mmhg": 20, "diastolic_mmhg": 300}, "systolic_mmhg", f"{SYSTOLIC}; got 20"),
        ({"systolic_mmhg": True}, "systolic_mmhg", f"{SYSTOLIC}; got True"),
        ({"systolic_mmhg": 120.5}, "systolic_mmhg", f"{SYSTOLIC}; got 120.5"),
        ({"diastolic_mmhg": 19}, "diastolic_mmhg", f"{DIASTOLIC}; got 19"),
        ({"systolic_mmhg": 250, "diastolic_mmhg": 201}, "diastolic_mmhg", f"{DIASTOLIC}; got 201"),
        ({"diastolic_mmhg": "76"}, "diastolic_mmhg", f"{DIASTOLIC}; got '76'"),
        ({"heart_rate_bpm": 19}, "heart_rate_bpm", f"{HEART_RATE}; got 19"),
        ({"heart_rate_bpm": -5}, "heart_rate_bpm", f"{HEART_RATE}; got -5"),
        ({"heart_rate_bpm": 251}, "heart_rate_bpm", f"{HEART_RATE}; got 251"),
        ({"spo2_percent": 49}, "spo2_percent", f"{SPO2}; got 49"),
        ({"spo2_percent": 140}, "spo2_percent", f"{SPO2}; got 140"),
        ({"spo2_percent": False}, "spo2_percent", f"{SPO2}; got False"),
        ({"respiratory_rate_per_min": 3}, "respiratory_rate_per_min", f"{RESPIRATION}; got 3"),
        ({"respiratory_rate_per_min": 61}, "respiratory_rate_per_min", f"{RESPIRATION}; got 61"),
        (
            {"systolic_mmhg": 76, "diastolic_mmhg": 76},
            "diastolic_mmhg",
            "diastolic blood pressure must be below the systolic; got 76/76 mmHg",
        ),
        (
            {"systolic_mmhg": 90, "diastolic_mmhg": 120},
            "diastolic_mmhg",
            "diastolic blood pressure must be below the systolic; got 90/120 mmHg",
        ),
    ],
    ids=str,
)
def test_implausible_vitals_are_refused(
    change: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as refused:
        vitals(**change)

    assert (refused.value.field, refused.value.message) == (field, message)


# --- Deferral before, stop during ---------------------------------------------------------


@pytest.mark.parametrize(
    ("systolic", "diastolic", "reasons"),
    [
        (160, 100, ()),
        (161, 100, ("blood pressure 161/100 mmHg is above the deferral threshold 160/100 mmHg",)),
        (160, 101, ("blood pressure 160/101 mmHg is above the deferral threshold 160/100 mmHg",)),
        (170, 95, ("blood pressure 170/95 mmHg is above the deferral threshold 160/100 mmHg",)),
    ],
)
def test_deferral_reasons_at_and_beyond_the_thresholds(
    systolic: int, diastolic: int, reasons: tuple[str, ...]
) -> None:
    reading = vitals(systolic_mmhg=systolic, diastolic_mmhg=diastolic)

    assert deferral_reasons(reading, SAFETY) == reasons


AT_STOP = {"systolic_mmhg": 180, "diastolic_mmhg": 110, "heart_rate_bpm": 110, "spo2_percent": 92}
STOP_SYSTOLIC = "systolic 181 mmHg is above the stop threshold 180 mmHg"
STOP_DIASTOLIC = "diastolic 111 mmHg is above the stop threshold 110 mmHg"
STOP_HEART_RATE = "heart rate 111 bpm is above the stop threshold 110 bpm"
STOP_SPO2 = "SpO₂ 91 % is below the stop threshold 92 %"


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({}, ()),
        ({"systolic_mmhg": 181}, (STOP_SYSTOLIC,)),
        ({"diastolic_mmhg": 111}, (STOP_DIASTOLIC,)),
        ({"heart_rate_bpm": 111}, (STOP_HEART_RATE,)),
        ({"spo2_percent": 91}, (STOP_SPO2,)),
        (
            {
                "systolic_mmhg": 181,
                "diastolic_mmhg": 111,
                "heart_rate_bpm": 111,
                "spo2_percent": 91,
            },
            (STOP_SYSTOLIC, STOP_DIASTOLIC, STOP_HEART_RATE, STOP_SPO2),
        ),
    ],
    ids=str,
)
def test_stop_reasons_at_and_beyond_the_thresholds(
    change: dict[str, int], reasons: tuple[str, ...]
) -> None:
    assert stop_reasons(vitals(**(AT_STOP | change)), SAFETY) == reasons


def test_thresholds_are_the_protocols() -> None:
    strict = SafetyThresholds(defer_systolic_above=140, defer_diastolic_above=90)

    assert deferral_reasons(vitals(systolic_mmhg=150), strict) == (
        "blood pressure 150/76 mmHg is above the deferral threshold 140/90 mmHg",
    )


# --- The modified Aldrete score -------------------------------------------------------------

ALDRETE_ITEMS = ("activity", "respiration", "circulation", "consciousness", "oxygen_saturation")
ALL_TWO = dict.fromkeys(ALDRETE_ITEMS, 2)


@pytest.mark.parametrize(
    ("items", "total"),
    [
        (ALL_TWO, 10),
        (dict.fromkeys(ALDRETE_ITEMS, 0), 0),
        (ALL_TWO | {"activity": 1}, 9),
        (ALL_TWO | {"consciousness": 1, "oxygen_saturation": 1}, 8),
    ],
    ids=str,
)
def test_aldrete_score_adds_the_five_items(items: dict[str, int], total: int) -> None:
    assert aldrete_score(**items) == total


@pytest.mark.parametrize(
    ("item", "value", "words"),
    [
        ("activity", 3, "activity"),
        ("respiration", -1, "respiration"),
        ("circulation", True, "circulation"),
        ("consciousness", 1.5, "consciousness"),
        ("oxygen_saturation", 3, "oxygen saturation"),
    ],
)
def test_aldrete_score_refuses_an_item_outside_0_to_2(item: str, value: object, words: str) -> None:
    with pytest.raises(OutOfRange) as refused:
        aldrete_score(**(ALL_TWO | {item: value}))  # type: ignore[arg-type]

    assert (refused.value.field, refused.value.message) == (
        item,
        f"the modified Aldrete {words} item must be a whole number from 0 to 2; got {value!r}",
    )


# --- The pre-infusion gate ------------------------------------------------------------------

# Every check met: fasted 8 h from food and 3 h from clear fluids, normal vitals, the last
# infusion exactly the protocol's 48 h ago.
OPEN = GateFacts(
    today=TODAY,
    visit_day=TODAY,
    now=NOW,
    identity_confirmed=True,
    last_food_at=NOW - 8 * HOUR,
    last_clear_fluids_at=NOW - 3 * HOUR,
    fasting_food=6 * HOUR,
    fasting_clear_fluids=2 * HOUR,
    escort_present=True,
    no_driving_confirmed=True,
    pregnancy_test_required=False,
    pregnancy_test=PregnancyTest.NOT_APPLICABLE,
    substance_use_asked=True,
    medication_changes_asked=True,
    baseline_vitals=NORMAL,
    blood_pressure_accepted=False,
    weight_current=True,
    measures_missing=(),
    open_suicide_alert=False,
    suicide_risk_cleared=False,
    last_infusion_at=NOW - 48 * HOUR,
    min_gap=48 * HOUR,
    dose_review_pending=False,
)


def gate(**change: object) -> GateFacts:
    return replace(OPEN, **change)  # type: ignore[arg-type]


def failure(item: GateItem, message: str, *resolvers: Resolver) -> GateFailure:
    return GateFailure(item, message, resolvers)


IDENTITY = failure(GateItem.IDENTITY, "confirm the patient's identity", NURSE)
VISIT_TODAY = failure(GateItem.VISIT_TODAY, "this visit is on 2026-12-08, not today (2026-12-06)")
ESCORT = failure(GateItem.ESCORT, "confirm a responsible adult will take the patient home", NURSE)
NO_DRIVING = failure(
    GateItem.NO_DRIVING, "confirm the patient will not drive after the infusion", NURSE
)
PREGNANCY_POSITIVE = failure(
    GateItem.PREGNANCY,
    "the pregnancy test is positive: a prescriber must decide before any infusion",
    PRESCRIBER,
)
PREGNANCY_NOT_DONE = failure(
    GateItem.PREGNANCY, "do a pregnancy test: the protocol asks for one", NURSE
)
SUBSTANCE_USE = failure(
    GateItem.SUBSTANCE_USE, "ask about alcohol and drug use since the last visit", NURSE
)
MEDICATION_CHANGES = failure(
    GateItem.MEDICATION_CHANGES, "ask about medication changes since the last visit", NURSE
)
BASELINE_VITALS = failure(GateItem.BASELINE_VITALS, "record the pre-infusion vital signs", NURSE)
BLOOD_PRESSURE = failure(
    GateItem.BLOOD_PRESSURE,
    "blood pressure 170/95 mmHg is above the deferral threshold 160/100 mmHg: a nurse may "
    "recheck it, or a prescriber may accept it with a reason",
    NURSE,
    PRESCRIBER,
)
WEIGHT = failure(GateItem.WEIGHT, "record a weight: none within the clinic's 30 days", NURSE)
MEASURES = failure(GateItem.PRE_INFUSION_MEASURES, "complete the pre-infusion PHQ-9, GAD-7", NURSE)
SUICIDE_RISK = failure(
    GateItem.SUICIDE_RISK,
    "an open suicide-risk alert: a prescriber must clear the patient for today with a note",
    PRESCRIBER,
)
MIN_GAP = failure(
    GateItem.MIN_GAP,
    "the last infusion was 20 h ago; the protocol allows one at least 48 h after the last",
)
DOSE_REVIEW = failure(
    GateItem.DOSE_REVIEW,
    "the last infusion was stopped for blood pressure: a prescriber must review the dose",
    PRESCRIBER,
)
ASK_FOOD = "ask when the patient last ate"
ASK_FLUIDS = "ask when the patient last drank clear fluids"
ATE = "the patient ate 4 h 30 min ago; the clinic asks for 6 h without food (1 h 30 min to go)"
DRANK = (
    "the patient drank clear fluids 1 h 59 min ago; the clinic asks for 2 h without them "
    "(1 min to go)"
)
HIGH_BP = vitals(systolic_mmhg=170, diastolic_mmhg=95)

# Each check alone: the change that breaks it, and its one failure.
ALONE = [
    ({"identity_confirmed": False}, IDENTITY),
    ({"visit_day": dt.date(2026, 12, 8)}, VISIT_TODAY),
    ({"last_food_at": None}, failure(GateItem.FASTING, ASK_FOOD, NURSE)),
    ({"last_clear_fluids_at": None}, failure(GateItem.FASTING, ASK_FLUIDS, NURSE)),
    ({"last_food_at": NOW - (4 * HOUR + 30 * MIN)}, failure(GateItem.FASTING, ATE)),
    ({"escort_present": False}, ESCORT),
    ({"no_driving_confirmed": False}, NO_DRIVING),
    ({"pregnancy_test": PregnancyTest.POSITIVE}, PREGNANCY_POSITIVE),
    (
        {"pregnancy_test_required": True, "pregnancy_test": PregnancyTest.NOT_DONE},
        PREGNANCY_NOT_DONE,
    ),
    ({"substance_use_asked": False}, SUBSTANCE_USE),
    ({"medication_changes_asked": False}, MEDICATION_CHANGES),
    ({"baseline_vitals": None}, BASELINE_VITALS),
    ({"baseline_vitals": HIGH_BP}, BLOOD_PRESSURE),
    ({"weight_current": False}, WEIGHT),
    ({"measures_missing": ("phq9", "gad7")}, MEASURES),
    ({"open_suicide_alert": True}, SUICIDE_RISK),
    ({"last_infusion_at": NOW - 20 * HOUR}, MIN_GAP),
    ({"dose_review_pending": True}, DOSE_REVIEW),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [pytest.param(change, expected, id=str(change)) for change, expected in ALONE],
)
def test_each_gate_check_alone(change: dict[str, object], expected: GateFailure) -> None:
    assert gate_failures(gate(**change), SAFETY) == (expected,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"last_clear_fluids_at": NOW - (HOUR + 59 * MIN)}, DRANK),
        # 1 h 59 min 30 s ago: shown as 1 h 59 min ago, the 30 s to go as a whole minute.
        ({"last_clear_fluids_at": NOW - (HOUR + 59 * MIN + 30 * SECOND)}, DRANK),
        ({"last_food_at": None, "last_clear_fluids_at": None}, f"{ASK_FOOD}; {ASK_FLUIDS}"),
        (
            {"last_food_at": NOW - (4 * HOUR + 30 * MIN), "last_clear_fluids_at": None},
            f"{ATE}; {ASK_FLUIDS}",
        ),
        (
            {"last_food_at": NOW - 45 * MIN, "fasting_food": 1 * HOUR},
            "the patient ate 45 min ago; the clinic asks for 1 h without food (15 min to go)",
        ),
    ],
    ids=str,
)
def test_fasting_names_what_is_missing(change: dict[str, object], message: str) -> None:
    resolvers = (NURSE,) if None in change.values() else ()

    assert gate_failures(gate(**change), SAFETY) == (
        failure(GateItem.FASTING, message, *resolvers),
    )


@pytest.mark.parametrize(
    "change",
    [
        # Exactly the clinic's hours since food and clear fluids.
        {"last_food_at": NOW - 6 * HOUR, "last_clear_fluids_at": NOW - 2 * HOUR},
        # A clinic that asks for no fasting.
        {"last_food_at": NOW, "fasting_food": dt.timedelta(0)},
        {"pregnancy_test_required": True, "pregnancy_test": PregnancyTest.NEGATIVE},
        {"pregnancy_test_required": True, "pregnancy_test": PregnancyTest.NOT_APPLICABLE},
        {"pregnancy_test": PregnancyTest.NOT_DONE},
        # At the deferral threshold, or above it and accepted by a prescriber.
        {"baseline_vitals": vitals(systolic_mmhg=160, diastolic_mmhg=100)},
        {"baseline_vitals": HIGH_BP, "blood_pressure_accepted": True},
        {"open_suicide_alert": True, "suicide_risk_cleared": True},
        {"suicide_risk_cleared": True},
        {"last_infusion_at": None},
    ],
    ids=str,
)
def test_gate_stays_open(change: dict[str, object]) -> None:
    assert gate_failures(gate(**change), SAFETY) == ()


def test_gate_lists_every_unmet_check_in_order() -> None:
    closed = gate(
        identity_confirmed=False,
        visit_day=dt.date(2026, 12, 8),
        last_food_at=None,
        last_clear_fluids_at=None,
        escort_present=False,
        no_driving_confirmed=False,
        pregnancy_test=PregnancyTest.POSITIVE,
        substance_use_asked=False,
        medication_changes_asked=False,
        baseline_vitals=None,
        weight_current=False,
        weight_max_age_days=14,
        height_missing_for=WeightBasis.ADJUSTED,
        measures_missing=("phq9", "gad7"),
        open_suicide_alert=True,
        last_infusion_at=NOW - 20 * HOUR,
        dose_review_pending=True,
        absolute_contraindications=("Pregnancy", "Known hypersensitivity"),
        last_doses_missing=("lorazepam (benzodiazepine)", "tramadol (opioid)"),
    )

    failures = gate_failures(closed, SAFETY)

    # Without baseline vitals there is no blood pressure to judge: one item short of all.
    assert [f.item for f in failures] == [item for item in GateItem if item != "blood_pressure"]
    assert failures == (
        IDENTITY,
        VISIT_TODAY,
        failure(
            GateItem.CONTRAINDICATION,
            "an absolute contraindication is present (Pregnancy; Known hypersensitivity): no "
            "infusion until a prescriber signs a new contraindication screen without it",
        ),
        failure(GateItem.FASTING, f"{ASK_FOOD}; {ASK_FLUIDS}", NURSE),
        ESCORT,
        NO_DRIVING,
        PREGNANCY_POSITIVE,
        SUBSTANCE_USE,
        MEDICATION_CHANGES,
        failure(
            GateItem.LAST_DOSES,
            "record when the patient last took lorazepam (benzodiazepine), tramadol (opioid)",
            NURSE,
        ),
        BASELINE_VITALS,
        failure(GateItem.WEIGHT, "record a weight: none within the clinic's 14 days", NURSE),
        failure(
            GateItem.HEIGHT,
            "record the patient's height: the clinic doses on adjusted body weight above a BMI "
            "threshold, and the BMI needs the height",
            NURSE,
        ),
        MEASURES,
        SUICIDE_RISK,
        MIN_GAP,
        DOSE_REVIEW,
    )
    # With vitals above the deferral threshold, blood pressure takes baseline vitals' place.
    high = gate_failures(replace(closed, baseline_vitals=HIGH_BP), SAFETY)
    assert [f.item for f in high] == [item for item in GateItem if item != "baseline_vitals"]


def test_min_gap_names_hours_and_minutes() -> None:
    facts = gate(last_infusion_at=NOW - (47 * HOUR + 30 * MIN))

    assert gate_failures(facts, SAFETY)[0].message == (
        "the last infusion was 47 h 30 min ago; the protocol allows one at least 48 h after the "
        "last"
    )


NAIVE = dt.datetime(2026, 12, 6, 10, 0)  # noqa: DTZ001 - the refused case


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"now": NAIVE},
            "now",
            "the current time must carry its time zone; got 2026-12-06 10:00:00",
        ),
        (
            {"last_food_at": NAIVE},
            "last_food_at",
            "the time the patient last ate must carry its time zone; got 2026-12-06 10:00:00",
        ),
        (
            {"last_clear_fluids_at": NOW + MIN},
            "last_clear_fluids_at",
            "the time the patient last drank clear fluids must not be later than now; got "
            "2026-12-06 10:01:00+00:00 (now 2026-12-06 10:00:00+00:00)",
        ),
        (
            {"last_infusion_at": NOW + HOUR},
            "last_infusion_at",
            "the start of the last infusion must not be later than now; got "
            "2026-12-06 11:00:00+00:00 (now 2026-12-06 10:00:00+00:00)",
        ),
        (
            {"fasting_food": -HOUR},
            "fasting_food",
            "the time without food must not be negative; got -1 day, 23:00:00",
        ),
        (
            {"fasting_clear_fluids": -MIN},
            "fasting_clear_fluids",
            "the time without clear fluids must not be negative; got -1 day, 23:59:00",
        ),
        (
            {"min_gap": -HOUR},
            "min_gap",
            "the least time between infusions must not be negative; got -1 day, 23:00:00",
        ),
        (
            {"measures_missing": ("phq10",)},
            "measures_missing",
            "missing measures must be a tuple of instrument codes; got ('phq10',)",
        ),
        (
            {"measures_missing": ["phq9"]},
            "measures_missing",
            "missing measures must be a tuple of instrument codes; got ['phq9']",
        ),
        (
            {"last_doses_missing": ("lorazepam", " ")},
            "last_doses_missing",
            "medications must be a tuple of names; got ('lorazepam', ' ')",
        ),
        (
            {"last_doses_missing": ["lorazepam"]},
            "last_doses_missing",
            "medications must be a tuple of names; got ['lorazepam']",
        ),
        (
            {"weight_max_age_days": 366},
            "weight_max_age_days",
            "the maximum weight age must be a whole number of days from 0 to 365; got 366",
        ),
        (
            {"height_missing_for": WeightBasis.ACTUAL},
            "height_missing_for",
            "a height is missing only for ideal or adjusted weight dosing; got "
            "<WeightBasis.ACTUAL: 'actual'>",
        ),
    ],
    ids=str,
)
def test_gate_facts_refuse(change: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(OutOfRange) as refused:
        gate(**change)

    assert (refused.value.field, refused.value.message) == (field, message)


# --- Timed vital signs ----------------------------------------------------------------------

START = NOW
# A 40-min infusion and 60 min of observation, readings every 15 min: due at 10:15, 10:30,
# 10:45, 11:00, 11:15 and 11:30 (11:45 is after the end of observation at 11:40).
DUE_AT = [START + k * 15 * MIN for k in range(1, 7)]
TK, DU, OV, UP = (
    ReadingStatus.TAKEN,
    ReadingStatus.DUE,
    ReadingStatus.OVERDUE,
    ReadingStatus.UPCOMING,
)


def at(hour: int, minute: int, second: int = 0) -> dt.datetime:
    return NOW.replace(hour=hour, minute=minute, second=second)


@pytest.mark.parametrize(
    ("taken", "now", "statuses"),
    [
        pytest.param([], at(10, 0), (UP, UP, UP, UP, UP, UP), id="before-the-first"),
        pytest.param([], at(10, 15), (DU, UP, UP, UP, UP, UP), id="due-at-its-time"),
        pytest.param([], at(10, 22, 29), (DU, UP, UP, UP, UP, UP), id="due-until-half-an-interval"),
        pytest.param(
            [], at(10, 22, 30), (OV, UP, UP, UP, UP, UP), id="overdue-after-half-an-interval"
        ),
        pytest.param([], at(10, 40), (OV, OV, UP, UP, UP, UP), id="two-overdue"),
        pytest.param([at(10, 7, 30)], at(10, 10), (TK, UP, UP, UP, UP, UP), id="taken-early-edge"),
        pytest.param([at(10, 7, 29)], at(10, 10), (UP, UP, UP, UP, UP, UP), id="too-early"),
        pytest.param([at(10, 22, 29)], at(10, 25), (TK, UP, UP, UP, UP, UP), id="taken-late-edge"),
        pytest.param(
            [at(10, 22, 30)], at(10, 25), (OV, TK, UP, UP, UP, UP), id="late-covers-only-the-next"
        ),
        pytest.param(
            [at(10, 16), at(10, 29), at(10, 31)],
            at(10, 31),
            (TK, TK, UP, UP, UP, UP),
            id="two-readings-one-slot",
        ),
        pytest.param(
            [at(10, 15), at(10, 30), at(10, 45), at(11, 0), at(11, 15), at(11, 30)],
            at(11, 40),
            (TK, TK, TK, TK, TK, TK),
            id="all-taken",
        ),
        pytest.param(
            [at(10, 15), at(10, 45)], at(11, 5), (TK, OV, TK, DU, UP, UP), id="one-missed"
        ),
    ],
)
def test_vitals_due(
    taken: list[dt.datetime], now: dt.datetime, statuses: tuple[ReadingStatus, ...]
) -> None:
    due = vitals_due(
        started_at=START, observe_until=at(11, 40), every=15 * MIN, taken=taken, now=now
    )

    assert due == tuple(DueReading(moment, s) for moment, s in zip(DUE_AT, statuses, strict=True))


@pytest.mark.parametrize(
    ("observe_until", "count"),
    [(at(11, 30), 6), (at(11, 29, 59), 5), (at(10, 14), 0), (at(9, 0), 0)],
    ids=str,
)
def test_vitals_due_up_to_the_end_of_observation(observe_until: dt.datetime, count: int) -> None:
    due = vitals_due(
        started_at=START, observe_until=observe_until, every=15 * MIN, taken=(), now=NOW
    )

    assert [reading.at for reading in due] == DUE_AT[:count]


@pytest.mark.parametrize(
    ("taken", "overdue_at"),
    [
        pytest.param([], at(10, 22, 30), id="none-yet: the first, half an interval on"),
        pytest.param([at(10, 16)], at(10, 37, 30), id="first-taken"),
        pytest.param([at(10, 39)], at(11, 7, 30), id="late-reading-meets-the-next"),
        pytest.param([at(10, 15), at(10, 50)], at(11, 7, 30), id="missed-one-left-behind"),
        pytest.param([at(11, 31)], None, id="none-left-before-the-end"),
    ],
)
def test_next_overdue_at(taken: list[dt.datetime], overdue_at: dt.datetime | None) -> None:
    assert (
        next_overdue_at(started_at=START, observe_until=at(11, 30), every=15 * MIN, taken=taken)
        == overdue_at
    )


@pytest.mark.parametrize("every", [dt.timedelta(0), -MIN])
def test_vitals_due_refuses_an_interval_that_is_not_above_0(every: dt.timedelta) -> None:
    with pytest.raises(OutOfRange) as refused:
        vitals_due(started_at=START, observe_until=at(11, 40), every=every, taken=(), now=NOW)

    assert (refused.value.field, refused.value.message) == (
        "every",
        f"the time between readings must be above 0; got {every}",
    )


# --- Discharge ------------------------------------------------------------------------------

ENDED = NOW - 60 * MIN
LATEST = vitals(systolic_mmhg=144, diastolic_mmhg=64, heart_rate_bpm=84, spo2_percent=92)
# Every criterion met: 60 min observed, Aldrete 9, vitals within 20 % of baseline (exactly
# 20 % above for systolic), SpO₂ at the stop threshold.
READY = DischargeFacts(
    infusion_ended_at=ENDED,
    now=NOW,
    min_observation=60 * MIN,
    aldrete=9,
    aldrete_min=9,
    baseline=vitals(systolic_mmhg=120, diastolic_mmhg=80, heart_rate_bpm=70),
    latest=LATEST,
    return_percent=20,
    safety=SAFETY,
    dissociation_resolved=True,
    escort_present=True,
)


def discharge(**change: object) -> DischargeFacts:
    return replace(READY, **change)  # type: ignore[arg-type]


def test_discharge_when_every_criterion_is_met() -> None:
    assert discharge_failures(READY) == ()


@pytest.mark.parametrize(
    ("change", "failures"),
    [
        (
            {"infusion_ended_at": NOW - 35 * MIN},
            ("observed 35 min of the 60 min needed after the infusion",),
        ),
        (
            {"infusion_ended_at": NOW - (59 * MIN + 59 * SECOND)},
            ("observed 59 min of the 60 min needed after the infusion",),
        ),
        ({"aldrete": None}, ("score the modified Aldrete (at least 9 needed)",)),
        ({"aldrete": 8}, ("modified Aldrete 8, below 9",)),
        ({"baseline": None}, ("no pre-infusion vital signs to compare with",)),
        ({"latest": None}, ("take the vital signs after the infusion",)),
        (
            {"baseline": vitals(systolic_mmhg=118), "latest": vitals(systolic_mmhg=152)},
            ("systolic 152 mmHg is more than 20 % above the baseline 118",),
        ),
        (
            {"latest": replace(LATEST, diastolic_mmhg=63)},
            ("diastolic 63 mmHg is more than 20 % below the baseline 80",),
        ),
        (
            {"latest": replace(LATEST, heart_rate_bpm=85)},
            ("heart rate 85 bpm is more than 20 % above the baseline 70",),
        ),
        (
            {"latest": replace(LATEST, spo2_percent=91)},
            ("SpO₂ 91 % is below 92 %",),
        ),
        (
            {"baseline": None, "latest": replace(LATEST, spo2_percent=91)},
            ("no pre-infusion vital signs to compare with", "SpO₂ 91 % is below 92 %"),
        ),
        ({"dissociation_resolved": False}, ("dissociation has not yet resolved",)),
        ({"escort_present": False}, ("no escort",)),
        ({"return_percent": 10}, (
            "systolic 144 mmHg is more than 10 % above the baseline 120",
            "diastolic 64 mmHg is more than 10 % below the baseline 80",
            "heart rate 84 bpm is more than 10 % above the baseline 70",
        )),
    ],
    ids=str,
)  # fmt: skip
def test_each_discharge_criterion(change: dict[str, object], failures: tuple[str, ...]) -> None:
    assert discharge_failures(discharge(**change)) == failures


def test_discharge_lists_every_unmet_criterion_in_order() -> None:
    facts = discharge(
        infusion_ended_at=NOW - 35 * MIN,
        aldrete=8,
        baseline=vitals(systolic_mmhg=118),
        latest=vitals(systolic_mmhg=152, spo2_percent=90),
        dissociation_resolved=False,
        escort_present=False,
    )

    assert discharge_failures(facts) == (
        "observed 35 min of the 60 min needed after the infusion",
        "modified Aldrete 8, below 9",
        "systolic 152 mmHg is more than 20 % above the baseline 118",
        "SpO₂ 90 % is below 92 %",
        "dissociation has not yet resolved",
        "no escort",
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"now": NAIVE},
            "now",
            "the current time must carry its time zone; got 2026-12-06 10:00:00",
        ),
        (
            {"infusion_ended_at": NAIVE},
            "infusion_ended_at",
            "the end of the infusion must carry its time zone; got 2026-12-06 10:00:00",
        ),
        (
            {"infusion_ended_at": NOW + MIN},
            "infusion_ended_at",
            "the end of the infusion must not be later than now; got 2026-12-06 10:01:00+00:00 "
            "(now 2026-12-06 10:00:00+00:00)",
        ),
        (
            {"min_observation": -MIN},
            "min_observation",
            "the observation time must not be negative; got -1 day, 23:59:00",
        ),
        (
            {"aldrete": 11},
            "aldrete",
            "the modified Aldrete score must be a whole number from 0 to 10; got 11",
        ),
        (
            {"aldrete": True},
            "aldrete",
            "the modified Aldrete score must be a whole number from 0 to 10; got True",
        ),
        (
            {"aldrete_min": -1},
            "aldrete_min",
            "the least modified Aldrete score must be a whole number from 0 to 10; got -1",
        ),
        (
            {"return_percent": 0},
            "return_percent",
            "the allowed change from baseline (%) must be a whole number from 1 to 100; got 0",
        ),
    ],
    ids=str,
)
def test_discharge_facts_refuse(change: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(OutOfRange) as refused:
        discharge(**change)

    assert (refused.value.field, refused.value.message) == (field, message)


# --- The record's stages --------------------------------------------------------------------

S = Stage
MOVES = {
    S.CHECKING_IN: {S.READY},
    S.READY: {S.INFUSING},
    S.INFUSING: {S.STOPPED, S.RECOVERING},
    S.STOPPED: {S.INFUSING, S.RECOVERING},
    S.RECOVERING: {S.DISCHARGED},
    S.DISCHARGED: {S.SIGNED},
    S.SIGNED: {S.COSIGNED},
    S.COSIGNED: set(),
}
WORDS = {S.CHECKING_IN: "checking in", S.COSIGNED: "co-signed"}
ALLOWED_WORDS = {
    S.CHECKING_IN: "ready",
    S.READY: "infusing",
    S.INFUSING: "stopped or recovering",
    S.STOPPED: "infusing or recovering",
    S.RECOVERING: "discharged",
    S.DISCHARGED: "signed",
    S.SIGNED: "co-signed",
}


@pytest.mark.parametrize("stage", list(Stage))
def test_allowed_moves(stage: Stage) -> None:
    assert allowed_moves(stage) == MOVES[stage]


@pytest.mark.parametrize(
    ("current", "target"),
    [
        pytest.param(current, target, id=f"{current}-to-{target}")
        for current in Stage
        for target in Stage
        if target in MOVES[current]
    ],
)
def test_allowed_move_passes(current: Stage, target: Stage) -> None:
    check_move(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        pytest.param(current, target, id=f"{current}-to-{target}")
        for current in Stage
        for target in Stage
        if target not in MOVES[current]
    ],
)
def test_refused_move_says_where_the_record_can_go(current: Stage, target: Stage) -> None:
    with pytest.raises(ClinicalValueError) as refused:
        check_move(current, target)

    now, then = WORDS.get(current, current), WORDS.get(target, target)
    expected = (
        f"the record is co-signed and locked; it cannot go to {then}"
        if current == S.COSIGNED
        else f"from {now} the record can only go to {ALLOWED_WORDS[current]}, not to {then}"
    )
    assert (refused.value.field, refused.value.message) == ("stage", expected)


def test_refused_move_examples() -> None:
    with pytest.raises(ClinicalValueError) as refused:
        check_move(S.READY, S.DISCHARGED)
    assert (
        refused.value.message == "from ready the record can only go to infusing, not to discharged"
    )


@pytest.mark.parametrize(
    "call",
    [lambda: allowed_moves("resting"), lambda: check_move(S.READY, "resting")],  # type: ignore[arg-type]
)
def test_unknown_stage_is_refused(call: object) -> None:
    with pytest.raises(ClinicalValueError) as refused:
        call()  # type: ignore[operator]

    assert (refused.value.field, refused.value.message) == (
        "stage",
        "the stage must be one of checking_in, ready, infusing, stopped, recovering, "
        "discharged, signed, cosigned; got 'resting'",
    )


def test_stages_accept_their_text_values() -> None:
    assert allowed_moves("stopped") == {S.INFUSING, S.RECOVERING}  # type: ignore[arg-type]


def test_min_gap_is_never_under_the_platform_floor() -> None:
    """A single-infusion protocol has no gap of its own (0 h); the gate still keeps any two
    infusions of one patient 24 h apart (series.INFUSION_GAP_FLOOR, issue 11)."""
    facts = gate(min_gap=dt.timedelta(0), last_infusion_at=NOW - 20 * HOUR)

    assert gate_failures(facts, SAFETY)[0].message == (
        "the last infusion was 20 h ago; infusions of one patient start at least 24 h apart, "
        "whatever the protocol"
    )
    assert gate_failures(replace(facts, last_infusion_at=NOW - 24 * HOUR), SAFETY) == ()
