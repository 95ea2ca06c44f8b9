import datetime as dt
from dataclasses import replace

import pytest

from sustain_core.course import (
    FINAL_PHASES,
    CourseFacts,
    Phase,
    TransitionRefused,
    age_years,
    allowed_transitions,
    check_transition,
)
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.medications import DrugClass

pytestmark = pytest.mark.core

TODAY = dt.date(2026, 11, 27)

# Every guard met: consent, a signed screen, all baselines, a weight 10 days old, all six
# induction infusions given and a signed review.
ALL_MET = CourseFacts(
    consent_signed=True,
    contraindication_screen_signed_by_prescriber=True,
    baseline_measures_missing=(),
    weight_measured_on=dt.date(2026, 11, 17),
    induction_infusions_given=6,
    induction_infusions_planned=6,
    review_signed_by_prescriber=True,
    today=TODAY,
)
# No guard met; the weight is 87 days old.
NONE_MET = CourseFacts(
    consent_signed=False,
    contraindication_screen_signed_by_prescriber=False,
    baseline_measures_missing=("phq9", "gad7"),
    weight_measured_on=dt.date(2026, 9, 1),
    induction_infusions_given=4,
    induction_infusions_planned=6,
    review_signed_by_prescriber=False,
    today=TODAY,
)

P = Phase
ALLOWED = {
    P.REFERRED: {P.SCREENING, P.DISCONTINUED},
    P.SCREENING: {P.READY, P.DISCONTINUED},
    P.READY: {P.INDUCTION, P.PAUSED, P.DISCONTINUED},
    P.INDUCTION: {P.REVIEW, P.PAUSED, P.DISCONTINUED},
    P.REVIEW: {P.INDUCTION, P.MAINTENANCE, P.COMPLETED, P.DISCONTINUED},  # extension
    P.MAINTENANCE: {P.RELAPSED, P.COMPLETED, P.PAUSED, P.DISCONTINUED},
    P.RELAPSED: {P.MAINTENANCE, P.COMPLETED, P.DISCONTINUED},
    P.PAUSED: {P.READY, P.INDUCTION, P.MAINTENANCE, P.DISCONTINUED},
    P.COMPLETED: set(),
    P.DISCONTINUED: set(),
}
# How a refusal names the allowed phases, in lifecycle order.
ALLOWED_NAMES = {
    P.REFERRED: "screening, discontinued",
    P.SCREENING: "ready, discontinued",
    P.READY: "induction, discontinued, paused",
    P.INDUCTION: "review, discontinued, paused",
    P.REVIEW: "induction, maintenance, completed, discontinued",
    P.MAINTENANCE: "relapsed, completed, discontinued, paused",
    P.RELAPSED: "maintenance, completed, discontinued",
    P.PAUSED: "ready, induction, maintenance, discontinued",
}
GUARDED_TARGETS = {P.READY, P.INDUCTION, P.REVIEW, P.MAINTENANCE, P.DISCONTINUED}

ALLOWED_PAIRS = [
    pytest.param(current, target, id=f"{current}-to-{target}")
    for current in Phase
    for target in Phase
    if target in ALLOWED[current]
]
REFUSED_PAIRS = [
    pytest.param(current, target, id=f"{current}-to-{target}")
    for current in Phase
    for target in Phase
    if target not in ALLOWED[current]
]
UNGUARDED_PAIRS = [
    pytest.param(current, target, id=f"{current}-to-{target}")
    for current in Phase
    for target in Phase
    if target in ALLOWED[current] and target not in GUARDED_TARGETS
]


def refusal(current: str, target: str, facts: CourseFacts, reason: str = "") -> str:
    with pytest.raises(TransitionRefused) as raised:
        check_transition(current, target, facts, reason=reason)  # type: ignore[arg-type]
    assert raised.value.field == "status"
    return raised.value.message


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_allowed_transitions_match_lifecycle(phase: Phase) -> None:
    assert allowed_transitions(phase) == frozenset(ALLOWED[phase])


def test_phase_values_are_lower_case_and_final_phases_are_completed_and_discontinued() -> None:
    assert [phase.value for phase in Phase] == [
        "referred",
        "screening",
        "ready",
        "induction",
        "review",
        "maintenance",
        "relapsed",
        "completed",
        "discontinued",
        "paused",
    ]
    assert frozenset({P.COMPLETED, P.DISCONTINUED}) == FINAL_PHASES


@pytest.mark.parametrize(("current", "target"), ALLOWED_PAIRS)
def test_check_transition_allows_every_lifecycle_move_when_guards_met(
    current: Phase, target: Phase
) -> None:
    check_transition(current, target, ALL_MET, reason="patient request")  # no refusal


@pytest.mark.parametrize(("current", "target"), UNGUARDED_PAIRS)
def test_check_transition_unguarded_move_needs_no_facts(current: Phase, target: Phase) -> None:
    check_transition(current, target, NONE_MET)  # no refusal


@pytest.mark.parametrize(("current", "target"), REFUSED_PAIRS)
def test_check_transition_refuses_moves_outside_lifecycle(current: Phase, target: Phase) -> None:
    if current in FINAL_PHASES:
        expected = f"a {current} course is final; it cannot move to {target}"
    else:
        expected = f"a course in {current} can move to {ALLOWED_NAMES[current]}; not to {target}"

    assert refusal(current, target, ALL_MET, reason="patient request") == expected


INDUCTION_ALL_UNMET = (
    "induction needs: signed consent; a contraindication screen signed by a prescriber; "
    "baseline PHQ-9, GAD-7; a weight measured within 30 days (last: 2026-09-01)"
)


@pytest.mark.parametrize(
    ("current", "target", "facts", "reason", "expected"),
    [
        pytest.param(
            P.SCREENING,
            P.READY,
            NONE_MET,
            "",
            "ready needs: signed consent; a contraindication screen signed by a prescriber",
            id="ready-nothing-met",
        ),
        pytest.param(
            P.SCREENING,
            P.READY,
            replace(ALL_MET, consent_signed=False),
            "",
            "ready needs: signed consent",
            id="ready-no-consent",
        ),
        pytest.param(
            P.SCREENING,
            P.READY,
            replace(ALL_MET, contraindication_screen_signed_by_prescriber=False),
            "",
            "ready needs: a contraindication screen signed by a prescriber",
            id="ready-screen-unsigned",
        ),
        pytest.param(
            P.READY, P.INDUCTION, NONE_MET, "", INDUCTION_ALL_UNMET, id="induction-nothing-met"
        ),
        pytest.param(
            P.PAUSED,
            P.INDUCTION,
            NONE_MET,
            "",
            INDUCTION_ALL_UNMET,
            id="resume-induction-nothing-met",
        ),
        pytest.param(
            P.READY,
            P.INDUCTION,
            replace(ALL_MET, baseline_measures_missing=("madrs",)),
            "",
            "induction needs: baseline MADRS",
            id="induction-one-baseline-missing",
        ),
        pytest.param(
            P.READY,
            P.INDUCTION,
            replace(ALL_MET, weight_measured_on=None),
            "",
            "induction needs: a weight measured within 30 days (none recorded)",
            id="induction-no-weight",
        ),
        pytest.param(
            P.READY,
            P.INDUCTION,
            replace(ALL_MET, weight_measured_on=dt.date(2026, 10, 27)),
            "",
            "induction needs: a weight measured within 30 days (last: 2026-10-27)",
            id="induction-weight-31-days-old",
        ),
        pytest.param(
            P.READY,
            P.INDUCTION,
            replace(ALL_MET, weight_measured_on=dt.date(2026, 11, 28)),
            "",
            "induction needs: a weight measured within 30 days (last: 2026-11-28, after today)",
            id="induction-weight-after-today",
        ),
        pytest.param(
            P.READY,
            P.INDUCTION,
            replace(ALL_MET, weight_measured_on=dt.date(2026, 11, 26), weight_max_age_days=0),
            "",
            "induction needs: a weight measured within 0 days (last: 2026-11-26)",
            id="induction-same-day-rule-yesterday",
        ),
        pytest.param(
            P.INDUCTION,
            P.REVIEW,
            NONE_MET,
            "",
            "review needs: all 6 planned induction infusions given (4 so far) "
            "or a reason for stopping early",
            id="review-early-without-reason",
        ),
        pytest.param(
            P.INDUCTION,
            P.REVIEW,
            NONE_MET,
            "  ",
            "review needs: all 6 planned induction infusions given (4 so far) "
            "or a reason for stopping early",
            id="review-early-blank-reason",
        ),
        pytest.param(
            P.REVIEW,
            P.MAINTENANCE,
            NONE_MET,
            "",
            "maintenance needs: a post-induction review signed by a prescriber",
            id="maintenance-review-unsigned",
        ),
        pytest.param(
            P.RELAPSED,
            P.MAINTENANCE,
            NONE_MET,
            "",
            "maintenance needs: a post-induction review signed by a prescriber",
            id="relapsed-back-to-maintenance-review-unsigned",
        ),
        pytest.param(
            P.PAUSED,
            P.MAINTENANCE,
            NONE_MET,
            "",
            "maintenance needs: a post-induction review signed by a prescriber",
            id="resume-maintenance-review-unsigned",
        ),
        pytest.param(
            P.PAUSED,
            P.READY,
            NONE_MET,
            "",
            "ready needs: signed consent; a contraindication screen signed by a prescriber",
            id="resume-ready-nothing-met",
        ),
        pytest.param(
            P.INDUCTION,
            P.DISCONTINUED,
            ALL_MET,
            " \t",
            "discontinued needs: a reason",
            id="discontinue-blank-reason",
        ),
    ],
)
def test_check_transition_lists_every_unmet_guard(
    current: Phase, target: Phase, facts: CourseFacts, reason: str, expected: str
) -> None:
    assert refusal(current, target, facts, reason) == expected


@pytest.mark.parametrize(
    "current", [phase for phase in Phase if phase not in FINAL_PHASES], ids=str
)
def test_check_transition_discontinuation_without_reason_refused(current: Phase) -> None:
    assert refusal(current, P.DISCONTINUED, ALL_MET) == "discontinued needs: a reason"


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        pytest.param(ALL_MET, "", id="all-given"),
        pytest.param(replace(ALL_MET, induction_infusions_given=7), "", id="more-than-planned"),
        pytest.param(NONE_MET, "no response after 4 infusions", id="stopped-early-with-reason"),
    ],
)
def test_check_transition_induction_to_review(facts: CourseFacts, reason: str) -> None:
    check_transition(P.INDUCTION, P.REVIEW, facts, reason=reason)  # no refusal


@pytest.mark.parametrize("target", [P.PAUSED, P.DISCONTINUED], ids=str)
def test_check_transition_uncounted_infusions_matter_only_for_review(target: Phase) -> None:
    uncounted = replace(ALL_MET, induction_infusions_given=None)
    check_transition(P.INDUCTION, target, uncounted, reason="moving away")  # no refusal


def test_check_transition_to_review_needs_the_infusions_counted() -> None:
    uncounted = replace(ALL_MET, induction_infusions_given=None)
    with pytest.raises(OutOfRange) as refused:
        check_transition(P.INDUCTION, P.REVIEW, uncounted, reason="stopping early")
    assert (refused.value.field, refused.value.message) == (
        "induction_infusions_given",
        "count the induction infusions given before review",
    )


@pytest.mark.parametrize(
    ("weight_measured_on", "max_age_days"),
    [
        pytest.param(dt.date(2026, 10, 28), 30, id="exactly-30-days"),
        pytest.param(TODAY, 30, id="today"),
        pytest.param(TODAY, 0, id="same-day-rule"),
        pytest.param(dt.date(2026, 8, 29), 90, id="clinic-90-days"),
    ],
)
def test_check_transition_induction_accepts_current_weight(
    weight_measured_on: dt.date, max_age_days: int
) -> None:
    facts = replace(
        ALL_MET, weight_measured_on=weight_measured_on, weight_max_age_days=max_age_days
    )

    check_transition(P.READY, P.INDUCTION, facts)  # no refusal


def test_check_transition_accepts_plain_status_strings() -> None:
    check_transition("review", "maintenance", ALL_MET)  # type: ignore[arg-type]
    assert allowed_transitions("relapsed") == frozenset(  # type: ignore[arg-type]
        {P.MAINTENANCE, P.COMPLETED, P.DISCONTINUED}
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [pytest.param("bogus", "screening", id="current"), pytest.param("referred", "", id="target")],
)
def test_check_transition_refuses_unknown_phase(current: str, target: str) -> None:
    unknown = current if current == "bogus" else target

    assert refusal(current, target, ALL_MET) == (
        "phase must be one of referred, screening, ready, induction, review, maintenance, "
        f"relapsed, completed, discontinued, paused; got {unknown!r}"
    )


def test_allowed_transitions_refuses_unknown_phase() -> None:
    with pytest.raises(TransitionRefused) as raised:
        allowed_transitions("active")  # type: ignore[arg-type]

    assert raised.value.field == "status"


def test_transition_refused_is_a_clinical_value_error() -> None:
    assert issubclass(TransitionRefused, ClinicalValueError)


def test_course_facts_default_weight_age_is_30_days() -> None:
    assert ALL_MET.weight_max_age_days == 30


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"weight_max_age_days": -1},
            "weight_max_age_days",
            "the maximum weight age must be a whole number of days from 0 to 365; got -1",
            id="weight-age-negative",
        ),
        pytest.param(
            {"weight_max_age_days": 366},
            "weight_max_age_days",
            "the maximum weight age must be a whole number of days from 0 to 365; got 366",
            id="weight-age-366",
        ),
        pytest.param(
            {"weight_max_age_days": True},
            "weight_max_age_days",
            "the maximum weight age must be a whole number of days from 0 to 365; got True",
            id="weight-age-bool",
        ),
        pytest.param(
            {"induction_infusions_given": -1},
            "induction_infusions_given",
            "induction_infusions_given must be a whole number from 0 up; got -1",
            id="given-negative",
        ),
        pytest.param(
            {"induction_infusions_planned": 0},
            "induction_infusions_planned",
            "induction_infusions_planned must be a whole number from 1 up; got 0",
            id="planned-zero",
        ),
        pytest.param(
            {"induction_infusions_planned": 6.0},
            "induction_infusions_planned",
            "induction_infusions_planned must be a whole number from 1 up; got 6.0",
            id="planned-float",
        ),
        pytest.param(
            {"induction_infusions_given": False},
            "induction_infusions_given",
            "induction_infusions_given must be a whole number from 0 up; got False",
            id="given-bool",
        ),
        pytest.param(
            {"age_years": -1},
            "age_years",
            "age_years must be a whole number from 0 up; got -1",
            id="age-negative",
        ),
        pytest.param(
            {"minimum_age_years": 18.0},
            "minimum_age_years",
            "minimum_age_years must be a whole number from 0 up; got 18.0",
            id="minimum-age-float",
        ),
        pytest.param(
            {"baseline_measures_missing": ["phq9"]},
            "baseline_measures_missing",
            "missing baseline measures must be a tuple of instrument codes; got ['phq9']",
            id="baseline-list",
        ),
        pytest.param(
            {"baseline_measures_missing": ("phq9", " ")},
            "baseline_measures_missing",
            "missing baseline measures must be a tuple of instrument codes; got ('phq9', ' ')",
            id="baseline-blank-code",
        ),
        pytest.param(
            # A short title is not a code: the guards name instruments by their titles.
            {"baseline_measures_missing": ("PHQ-9",)},
            "baseline_measures_missing",
            "missing baseline measures must be a tuple of instrument codes; got ('PHQ-9',)",
            id="baseline-unknown-code",
        ),
    ],
)
def test_course_facts_rejects_malformed_facts(
    changes: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        replace(ALL_MET, **changes)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (field, message)


PREGNANCY = "Pregnancy (grade B, low certainty, as relative) [Cohen2018-GC]"
HYPERSENSITIVITY = "Known hypersensitivity to ketamine or any component of the product"


@pytest.mark.parametrize("target", [P.READY, P.INDUCTION], ids=str)
def test_a_present_absolute_contraindication_blocks_ready_and_induction(target: Phase) -> None:
    facts = replace(ALL_MET, absolute_contraindications=(PREGNANCY, HYPERSENSITIVITY))
    current = P.SCREENING if target == P.READY else P.READY

    assert refusal(current, target, facts) == (
        f"{target} needs: no absolute contraindication (present: Pregnancy; {HYPERSENSITIVITY})"
    )


def test_an_absolute_contraindication_does_not_block_stopping_or_maintenance() -> None:
    facts = replace(ALL_MET, absolute_contraindications=(PREGNANCY,))

    check_transition(P.INDUCTION, P.REVIEW, facts)
    check_transition(P.REVIEW, P.MAINTENANCE, facts)  # the gate blocks its infusions
    check_transition(P.INDUCTION, P.DISCONTINUED, facts, reason="pregnant")


@pytest.mark.parametrize(
    ("age", "minimum", "met"),
    [(17, 18, False), (18, 18, True), (40, None, True), (None, 18, True), (0, 1, False)],
)
def test_induction_needs_the_protocols_minimum_age(
    age: int | None, minimum: int | None, met: bool
) -> None:
    facts = replace(ALL_MET, age_years=age, minimum_age_years=minimum)

    if met:
        check_transition(P.READY, P.INDUCTION, facts)
    else:
        assert refusal(P.READY, P.INDUCTION, facts) == (
            f"induction needs: a patient aged {minimum} or over, as the protocol requires "
            f"(the patient is {age})"
        )


@pytest.mark.parametrize(
    ("born", "today", "years"),
    [
        (dt.date(2008, 12, 7), dt.date(2026, 12, 6), 17),
        (dt.date(2008, 12, 6), dt.date(2026, 12, 6), 18),
        (dt.date(2008, 2, 29), dt.date(2026, 2, 28), 17),
        (dt.date(2008, 2, 29), dt.date(2026, 3, 1), 18),
        (dt.date(2026, 12, 6), dt.date(2026, 12, 6), 0),
    ],
)
def test_age_years_counts_whole_years(born: dt.date, today: dt.date, years: int) -> None:
    assert age_years(born, today) == years


def test_age_years_refuses_a_birth_after_today() -> None:
    with pytest.raises(OutOfRange) as raised:
        age_years(dt.date(2026, 12, 7), dt.date(2026, 12, 6))

    assert raised.value.field == "date_of_birth"
    assert raised.value.message == "the date of birth 2026-12-07 is after today (2026-12-06)"


def test_induction_needs_each_required_medication_class_on_the_list() -> None:
    """The bipolar-depression protocol: a mood stabiliser [Diazgranados2010] (issue 11)."""
    missing = replace(ALL_MET, medication_classes_missing=(DrugClass.MOOD_STABILISER,))
    with pytest.raises(TransitionRefused) as refused:
        check_transition(P.READY, P.INDUCTION, missing)
    assert refused.value.message == "induction needs: a mood stabiliser on the medication list"
    check_transition(P.READY, P.INDUCTION, ALL_MET)  # none required: no refusal
    check_transition(P.SCREENING, P.READY, missing)  # only induction asks


@pytest.mark.parametrize("value", [("mood_stabiliser", "antipsychotic"), ["mood_stabiliser"]])
def test_course_facts_refuse_unknown_medication_classes(value: object) -> None:
    with pytest.raises(OutOfRange) as raised:
        replace(ALL_MET, medication_classes_missing=value)  # type: ignore[arg-type]
    assert raised.value.field == "medication_classes_missing"
