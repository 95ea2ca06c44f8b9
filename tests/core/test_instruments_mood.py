"""Scoring of the mood instruments: PHQ-9, GAD-7, QIDS-SR16, MADRS and the YMRS (mania)."""

from decimal import Decimal

import pytest

from sustain_core.errors import InvalidAnswer, OutOfRange
from sustain_core.instruments import Score, get_instrument, score

pytestmark = pytest.mark.core


def filled(count: int, item_max: int, total: int) -> dict[str, int | None]:
    """Return items "1".."count" filled in order, each up to item_max, adding up to total."""
    answers: dict[str, int | None] = {}
    remaining = total
    for number in range(1, count + 1):
        answers[str(number)] = min(item_max, remaining)
        remaining -= min(item_max, remaining)
    assert remaining == 0
    return answers


def total_and_severity(result: Score) -> tuple[int | Decimal, str | None]:
    return result.total, result.severity


# --- PHQ-9 [Kroenke2001] -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        pytest.param(0, "minimal", id="0-min"),
        pytest.param(4, "minimal", id="4-minimal-top"),
        pytest.param(5, "mild", id="5-mild-floor"),
        pytest.param(9, "mild", id="9-mild-top"),
        pytest.param(10, "moderate", id="10-moderate-floor"),
        pytest.param(14, "moderate", id="14-moderate-top"),
        pytest.param(15, "moderately severe", id="15-modsev-floor"),
        pytest.param(19, "moderately severe", id="19-modsev-top"),
        pytest.param(20, "severe", id="20-severe-floor"),
        pytest.param(27, "severe", id="27-max"),
    ],
)
def test_phq9_bands(total: int, severity: str) -> None:
    assert total_and_severity(score("phq9", filled(9, 3, total))) == (total, severity)


@pytest.mark.parametrize(
    ("item9", "flags"),
    [
        pytest.param(0, (), id="item9-0-no-flag"),
        pytest.param(1, ("suicide_item_positive",), id="item9-1-flag"),
        pytest.param(3, ("suicide_item_positive",), id="item9-3-flag"),
    ],
)
def test_phq9_suicide_flag_follows_item9(item9: int, flags: tuple[str, ...]) -> None:
    answers = {**filled(9, 3, 10), "9": item9}
    assert score("phq9", answers) == Score(
        instrument="phq9",
        total=10 + item9,
        subscales={},
        severity="moderate",
        flags=flags,
        answered=9,
        prorated=False,
    )


# --- GAD-7 [Spitzer2006] -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        pytest.param(0, "minimal", id="0-min"),
        pytest.param(4, "minimal", id="4-minimal-top"),
        pytest.param(5, "mild", id="5-mild-floor"),
        pytest.param(9, "mild", id="9-mild-top"),
        pytest.param(10, "moderate", id="10-moderate-floor"),
        pytest.param(14, "moderate", id="14-moderate-top"),
        pytest.param(15, "severe", id="15-severe-floor"),
        pytest.param(21, "severe", id="21-max"),
    ],
)
def test_gad7_bands(total: int, severity: str) -> None:
    assert total_and_severity(score("gad7", filled(7, 3, total))) == (total, severity)


def test_gad7_full_score() -> None:
    assert score("gad7", {"1": 3, "2": 2, "3": 1, "4": 0, "5": 3, "6": 2, "7": 1}) == Score(
        instrument="gad7",
        total=12,
        subscales={},
        severity="moderate",
        flags=(),
        answered=7,
        prorated=False,
    )


# --- QIDS-SR16 [GuidelineCentral-QIDS] [IDS-QIDS-interp] ----------------------------------

QIDS_DOMAIN_FIRST_ITEMS = ["1", "5", "6", "10", "11", "12", "13", "14", "15"]


def qids_with_total(total: int) -> dict[str, int | None]:
    """Return QIDS answers whose 9 domain scores add up to total (first item of each domain)."""
    domains = filled(9, 3, total)
    answers: dict[str, int | None] = {str(number): 0 for number in range(1, 17)}
    for domain_index, item in enumerate(QIDS_DOMAIN_FIRST_ITEMS, start=1):
        answers[item] = domains[str(domain_index)]
    return answers


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        pytest.param(0, "none", id="0-min"),
        pytest.param(5, "none", id="5-none-top"),
        pytest.param(6, "mild", id="6-mild-floor"),
        pytest.param(10, "mild", id="10-mild-top"),
        pytest.param(11, "moderate", id="11-moderate-floor"),
        pytest.param(15, "moderate", id="15-moderate-top"),
        pytest.param(16, "severe", id="16-severe-floor"),
        pytest.param(20, "severe", id="20-severe-top"),
        pytest.param(21, "very severe", id="21-very-severe-floor"),
        pytest.param(27, "very severe", id="27-max"),
    ],
)
def test_qids_bands(total: int, severity: str) -> None:
    assert total_and_severity(score("qids_sr16", qids_with_total(total))) == (total, severity)


def test_qids_domains_take_the_maximum_of_their_items() -> None:
    # Summing all 16 items would give 1+3+0+2 + 2 + 2+0+1+0 + 1 + 0 + 0 + 2 + 1 + 0+3 = 18;
    # the domain rule gives sleep 3 + mood 2 + appetite 2 + 1 + 0 + 0 + 2 + 1 + psychomotor 3.
    answers: dict[str, int | None] = {
        "1": 1, "2": 3, "3": 0, "4": 2,  # sleep → 3
        "5": 2,
        "6": 2, "7": 0, "8": 1, "9": 0,  # appetite/weight → 2
        "10": 1, "11": 0, "12": 0, "13": 2, "14": 1,
        "15": 0, "16": 3,  # psychomotor → 3
    }  # fmt: skip
    assert score("qids_sr16", answers) == Score(
        instrument="qids_sr16",
        total=14,
        subscales={
            "sleep": 3,
            "sad_mood": 2,
            "appetite_weight": 2,
            "concentration": 1,
            "self_view": 0,
            "suicidal_ideation": 0,
            "interest": 2,
            "energy": 1,
            "psychomotor": 3,
        },
        severity="moderate",
        flags=(),
        answered=16,
        prorated=False,
    )


@pytest.mark.parametrize(
    ("item12", "threshold", "flags"),
    [
        pytest.param(0, 1, (), id="0-default-threshold"),
        pytest.param(1, 1, ("suicide_item_positive",), id="1-default-threshold"),
        pytest.param(1, 2, (), id="1-below-threshold-2"),
        pytest.param(2, 2, ("suicide_item_positive",), id="2-at-threshold-2"),
        pytest.param(2, 3, (), id="2-below-threshold-3"),
        pytest.param(3, 3, ("suicide_item_positive",), id="3-at-threshold-3"),
    ],
)
def test_qids_suicide_flag_follows_item12_and_threshold(
    item12: int, threshold: int, flags: tuple[str, ...]
) -> None:
    answers = {**qids_with_total(0), "12": item12}
    assert score("qids_sr16", answers, qids_suicide_threshold=threshold).flags == flags


def test_qids_suicide_threshold_defaults_to_1() -> None:
    assert score("qids_sr16", {**qids_with_total(0), "12": 1}).flags == ("suicide_item_positive",)


# --- MADRS [MADRS-McDowell] [Montgomery1979] -----------------------------------------------


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        pytest.param(0, "absent", id="0-min"),
        pytest.param(6, "absent", id="6-absent-top"),
        pytest.param(7, "mild", id="7-mild-floor"),
        pytest.param(19, "mild", id="19-mild-top"),
        pytest.param(20, "moderate", id="20-moderate-floor"),
        pytest.param(34, "moderate", id="34-moderate-top"),
        pytest.param(35, "severe", id="35-severe-floor"),
        pytest.param(60, "severe", id="60-max"),
    ],
)
def test_madrs_snaith_bands(total: int, severity: str) -> None:
    assert total_and_severity(score("madrs", filled(10, 6, total))) == (total, severity)


def test_madrs_ships_item_names_only() -> None:
    items = get_instrument("madrs").items
    assert [(item.label, item.text, item.answer_labels) for item in items] == [
        ("Apparent sadness", None, ()),
        ("Reported sadness", None, ()),
        ("Inner tension", None, ()),
        ("Reduced sleep", None, ()),
        ("Reduced appetite", None, ()),
        ("Concentration difficulties", None, ()),
        ("Lassitude", None, ()),
        ("Inability to feel", None, ()),
        ("Pessimistic thoughts", None, ()),
        ("Suicidal thoughts", None, ()),
    ]


def test_madrs_full_score_flags_item_10_at_the_default_threshold() -> None:
    # Item 10 (suicidal thoughts) at 2, the first anchor above none: flagged (issue 11).
    answers: dict[str, int | None] = {str(number): 2 for number in range(1, 11)}
    assert score("madrs", answers) == Score(
        instrument="madrs",
        total=20,
        subscales={},
        severity="moderate",
        flags=("suicide_item_positive",),
        answered=10,
        prorated=False,
    )


@pytest.mark.parametrize(
    ("item_10", "threshold", "flags"),
    [
        (0, 2, ()),
        (1, 2, ()),
        (2, 2, ("suicide_item_positive",)),
        (6, 2, ("suicide_item_positive",)),
        (3, 4, ()),
        (4, 4, ("suicide_item_positive",)),
        (1, 1, ("suicide_item_positive",)),
    ],
)
def test_madrs_item_10_flags_at_the_clinics_threshold(
    item_10: int, threshold: int, flags: tuple[str, ...]
) -> None:
    answers: dict[str, int | None] = {str(number): 0 for number in range(1, 10)} | {"10": item_10}
    result = score("madrs", answers, madrs_suicide_threshold=threshold)
    assert result.flags == flags


def test_madrs_explicit_plans_are_flagged_even_when_the_total_is_absent() -> None:
    """Item 10 at 6 ("explicit plans") with every other item at 0: total 6, band absent."""
    answers: dict[str, int | None] = {str(number): 0 for number in range(1, 10)} | {"10": 6}
    result = score("madrs", answers)
    assert (result.total, result.severity, result.flags) == (
        6,
        "absent",
        ("suicide_item_positive",),
    )


@pytest.mark.parametrize("threshold", [0, 7, True])
def test_madrs_threshold_outside_1_to_6_is_refused(threshold: int) -> None:
    answers: dict[str, int | None] = {str(number): 0 for number in range(1, 11)}
    with pytest.raises(OutOfRange) as refused:
        score("madrs", answers, madrs_suicide_threshold=threshold)
    assert refused.value.message == (
        f"madrs_suicide_threshold must be an integer 1–6; got {threshold!r}"
    )


# --- YMRS [Young1978] [YMRS-scoring] [PubCompare-CADSS] ------------------------------------

YMRS_ZERO: dict[str, int | None] = {str(number): 0 for number in range(1, 12)}


def test_ymrs_items_5_6_8_9_score_to_8_the_others_to_4() -> None:
    items = get_instrument("ymrs").items
    assert [(item.key, item.label, item.max_value, item.text) for item in items] == [
        ("1", "Elevated mood", 4, None),
        ("2", "Increased motor activity-energy", 4, None),
        ("3", "Sexual interest", 4, None),
        ("4", "Sleep", 4, None),
        ("5", "Irritability", 8, None),
        ("6", "Speech (rate and amount)", 8, None),
        ("7", "Language-thought disorder", 4, None),
        ("8", "Content", 8, None),
        ("9", "Disruptive-aggressive behavior", 8, None),
        ("10", "Appearance", 4, None),
        ("11", "Insight", 4, None),
    ]


def test_ymrs_sums_every_item_to_0_60_with_no_bands() -> None:
    answers = YMRS_ZERO | {"1": 2, "5": 3, "6": 8, "11": 1}
    assert score("ymrs", answers, ymrs_alert_threshold=30) == Score(
        instrument="ymrs",
        total=14,
        subscales={},
        severity=None,
        flags=(),
        answered=11,
        prorated=False,
    )
    highest = {key: 8 if key in {"5", "6", "8", "9"} else 4 for key in YMRS_ZERO}
    assert score("ymrs", highest).total == 60


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"1": 5}, "YMRS item 1 must be 0–4; got 5"),
        ({"5": 9}, "YMRS item 5 must be 0–8; got 9"),
        ({"7": 8}, "YMRS item 7 must be 0–4; got 8"),
        ({"9": None}, "YMRS item 9 is missing"),
    ],
)
def test_ymrs_refuses_answers_outside_each_items_range(answers: dict, message: str) -> None:
    with pytest.raises(InvalidAnswer) as refused:
        score("ymrs", YMRS_ZERO | answers)
    assert refused.value.message == message


@pytest.mark.parametrize(
    ("total_answers", "threshold", "flagged"),
    [
        ({"5": 8, "6": 4}, None, False),  # 12: at the default threshold (remission ≤ 12)
        ({"5": 8, "6": 5}, None, True),  # 13: above it
        ({"1": 1}, 0, True),  # a clinic alerting on any symptom
        ({}, 0, False),
        ({"1": 4, "2": 4, "3": 4, "4": 4}, 16, False),
        ({"1": 4, "2": 4, "3": 4, "4": 4, "10": 1}, 16, True),
    ],
)
def test_ymrs_flags_mania_above_the_clinics_threshold(
    total_answers: dict[str, int], threshold: int | None, flagged: bool
) -> None:
    settings = {} if threshold is None else {"ymrs_alert_threshold": threshold}
    result = score("ymrs", YMRS_ZERO | total_answers, **settings)
    assert result.flags == (("mania_above_threshold",) if flagged else ())


def test_ymrs_at_the_highest_threshold_a_full_score_still_alerts() -> None:
    highest = {key: 8 if key in {"5", "6", "8", "9"} else 4 for key in YMRS_ZERO}
    assert score("ymrs", highest, ymrs_alert_threshold=59).flags == ("mania_above_threshold",)


@pytest.mark.parametrize("threshold", [-1, 60, True])
def test_ymrs_threshold_outside_0_to_59_is_refused(threshold: int) -> None:
    with pytest.raises(OutOfRange) as refused:
        score("ymrs", YMRS_ZERO, ymrs_alert_threshold=threshold)
    assert (refused.value.field, refused.value.message) == (
        "ymrs_alert_threshold",
        f"ymrs_alert_threshold must be an integer 0–59; got {threshold!r}",
    )
