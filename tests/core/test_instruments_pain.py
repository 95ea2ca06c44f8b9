"""Scoring of the pain instruments: pain NRS, BPI-SF and FIQR."""

from decimal import Decimal

import pytest

from sustain_core.errors import InvalidAnswer
from sustain_core.instruments import Score, score

pytestmark = pytest.mark.core

SEVERITY_KEYS = ("worst", "least", "average", "now")
INTERFERENCE_KEYS = (
    "general_activity",
    "mood",
    "walking",
    "normal_work",
    "relations",
    "sleep",
    "enjoyment",
)


def refused(code: str, answers: dict[str, int | None], **settings: int) -> tuple[str, str]:
    with pytest.raises(InvalidAnswer) as raised:
        score(code, answers, **settings)  # type: ignore[arg-type]
    return raised.value.field, raised.value.message


# --- Pain NRS [Farrar2001] -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 5, 10], ids=["0-min", "5-mid", "10-max"])
def test_pain_nrs_total_is_the_rating_without_bands(value: int) -> None:
    assert score("pain_nrs", {"1": value}) == Score(
        instrument="pain_nrs",
        total=value,
        subscales={},
        severity=None,
        flags=(),
        answered=1,
        prorated=False,
    )


# --- BPI-SF [BPI-guide-excerpt] [ePPOC-BPI] --------------------------------------------------


def bpi(severity_sum: int, **interference: int) -> dict[str, int | None]:
    """Return BPI-SF answers: severity items filled in order up to 10 each, adding up to
    severity_sum, and the given interference items (all 7 at 0 when none are given)."""
    answers: dict[str, int | None] = {}
    remaining = severity_sum
    for key in SEVERITY_KEYS:
        answers[key] = min(10, remaining)
        remaining -= min(10, remaining)
    answers.update(interference or dict.fromkeys(INTERFERENCE_KEYS, 0))
    return answers


@pytest.mark.parametrize(
    ("severity_sum", "mean", "severity"),
    [
        pytest.param(0, Decimal(0), "mild", id="0-min"),
        pytest.param(16, Decimal(4), "mild", id="4-mild-top"),
        pytest.param(17, Decimal("4.25"), "mild", id="4.25-mild"),
        pytest.param(18, Decimal("4.5"), "mild", id="4.5-between-bands-is-mild"),
        pytest.param(19, Decimal("4.75"), "mild", id="4.75-mild"),
        pytest.param(20, Decimal(5), "moderate", id="5-moderate-floor"),
        pytest.param(24, Decimal(6), "moderate", id="6-moderate-top"),
        pytest.param(27, Decimal("6.75"), "moderate", id="6.75-between-bands-is-moderate"),
        pytest.param(28, Decimal(7), "severe", id="7-severe-floor"),
        pytest.param(40, Decimal(10), "severe", id="10-max"),
    ],
)
def test_bpi_severity_mean_bands(severity_sum: int, mean: Decimal, severity: str) -> None:
    result = score("bpi_sf", bpi(severity_sum))
    assert (result.total, result.subscales["severity"], result.severity) == (
        mean,
        mean,
        severity,
    )


def test_bpi_interference_with_4_of_7_is_prorated() -> None:
    answers = bpi(18, mood=1, walking=2, sleep=3, enjoyment=1)
    assert score("bpi_sf", answers) == Score(
        instrument="bpi_sf",
        total=Decimal("4.5"),
        subscales={"severity": Decimal("4.5"), "interference": Decimal("1.75")},  # 7 / 4
        severity="mild",
        flags=(),
        answered=8,
        prorated=True,
    )


def test_bpi_all_11_answered_is_not_prorated() -> None:
    answers = bpi(
        21,
        general_activity=1,
        mood=2,
        walking=1,
        normal_work=2,
        relations=1,
        sleep=2,
        enjoyment=1,
    )
    assert score("bpi_sf", answers) == Score(
        instrument="bpi_sf",
        total=Decimal("5.25"),
        subscales={"severity": Decimal("5.25"), "interference": Decimal("1.43")},  # 10/7
        severity="moderate",
        flags=(),
        answered=11,
        prorated=False,
    )


@pytest.mark.parametrize(
    ("interference", "mean"),
    [
        pytest.param(
            {"mood": 1, "walking": 2, "sleep": 3, "relations": 1}, Decimal("1.75"), id="4-of-7"
        ),
        pytest.param(
            {"mood": 1, "walking": 2, "sleep": 3, "relations": 1, "enjoyment": 0},
            Decimal("1.4"),
            id="5-of-7-exact",
        ),
        pytest.param(
            dict.fromkeys(INTERFERENCE_KEYS[:5], 1) | {"sleep": 0},
            Decimal("0.83"),
            id="6-of-7-rounded-5/6",
        ),
        pytest.param(
            dict.fromkeys(INTERFERENCE_KEYS[:6], 3) | {"enjoyment": 2},
            Decimal("2.86"),
            id="7-of-7-rounded-20/7",
        ),
        pytest.param(
            dict.fromkeys(INTERFERENCE_KEYS[:6], 0) | {"enjoyment": 6},
            Decimal("0.86"),
            id="7-of-7-rounded-up-6/7",
        ),
    ],
)
def test_bpi_interference_mean(interference: dict[str, int], mean: Decimal) -> None:
    assert score("bpi_sf", bpi(0, **interference)).subscales["interference"] == mean


@pytest.mark.parametrize(
    ("interference", "items", "got"),
    [
        pytest.param(
            {"general_activity": 1, "mood": 1, "walking": 1},
            "normal_work, relations, sleep and enjoyment",
            3,
            id="3-of-7",
        ),
        pytest.param(
            {"general_activity": None, "mood": 1, "sleep": 2, "enjoyment": 0},
            "general_activity, walking, normal_work and relations",
            3,
            id="3-of-7-with-none",
        ),
        pytest.param(
            {},
            "general_activity, mood, walking, normal_work, relations, sleep and enjoyment",
            0,
            id="0-of-7",
        ),
    ],
)
def test_bpi_interference_with_fewer_than_4_is_refused(
    interference: dict[str, int | None], items: str, got: int
) -> None:
    answers: dict[str, int | None] = {**dict.fromkeys(SEVERITY_KEYS, 5), **interference}
    assert refused("bpi_sf", answers) == (
        f"item_{items.partition(',')[0]}",
        f"BPI-SF items {items} are missing; the interference score needs at least 4 of its 7 "
        f"items answered, got {got}",
    )


def test_bpi_severity_needs_all_4_items() -> None:
    answers: dict[str, int | None] = {**bpi(0), "now": None}
    assert refused("bpi_sf", answers) == (
        "item_now",
        "BPI-SF item now is missing; the severity score needs all 4 severity items "
        "(worst, least, average, now)",
    )


# --- FIQR [Bennett2009] [FIQR-scoring] -------------------------------------------------------


def fiqr(values: dict[int, int | None]) -> dict[str, int | None]:
    """Return FIQR answers: all 21 items 0 except those given (None leaves one unanswered)."""
    answers: dict[str, int | None] = {str(number): 0 for number in range(1, 22)}
    answers.update({str(number): value for number, value in values.items()})
    return answers


@pytest.mark.parametrize(
    ("answers", "total"),
    [
        pytest.param(fiqr({}), Decimal(0), id="0-min"),
        pytest.param({str(n): 10 for n in range(1, 22)}, Decimal(100), id="100-max"),
    ],
)
def test_fiqr_range_has_no_bands(answers: dict[str, int | None], total: Decimal) -> None:
    result = score("fiqr", answers)
    assert (result.total, result.severity) == (total, None)


def test_fiqr_complete_response_non_terminating_thirds() -> None:
    # function 4 + 3 + 3 = 10 → 10/3 = 3.333… → 3.33; overall 0; symptoms 1 → 1/2 = 0.5;
    # total 10/3 + 1/2 = 23/6 = 3.8333… → 3.83 (rounded from the exact sum).
    answers = fiqr({1: 4, 2: 3, 3: 3, 12: 1})
    assert score("fiqr", answers) == Score(
        instrument="fiqr",
        total=Decimal("3.83"),
        subscales={"function": Decimal("3.33"), "overall": Decimal(0), "symptoms": Decimal("0.5")},
        severity=None,
        flags=(),
        answered=21,
        prorated=False,
    )


def test_fiqr_function_two_thirds_round_half_up() -> None:
    # function 20 → 20/3 = 6.666… → 6.67
    result = score("fiqr", fiqr({1: 10, 2: 10}))
    assert (result.total, result.subscales["function"]) == (Decimal("6.67"), Decimal("6.67"))


def test_fiqr_scales_domains_with_missing_items() -> None:
    # function: items 1–8 = 1..8 answered (sum 36), item 9 missing → 36 × 9/8 = 40.5, ÷ 3 = 13.5
    # overall: item 10 = 7, item 11 missing → 7 × 2/1 = 14, ÷ 1 = 14
    # symptoms: items 12–21 all 3 → 30, ÷ 2 = 15
    # total 13.5 + 14 + 15 = 42.5, from 19 answered items
    answers = fiqr({n: n for n in range(1, 9)} | {9: None, 10: 7, 11: None})
    answers.update({str(n): 3 for n in range(12, 22)})
    assert score("fiqr", answers) == Score(
        instrument="fiqr",
        total=Decimal("42.5"),
        subscales={"function": Decimal("13.5"), "overall": Decimal(14), "symptoms": Decimal(15)},
        severity=None,
        flags=(),
        answered=19,
        prorated=True,
    )


def test_fiqr_domain_with_one_answered_item_is_scaled_by_default() -> None:
    # symptoms: only item 12 = 4 → 4 × 10/1 = 40, ÷ 2 = 20
    answers = fiqr(dict.fromkeys(range(13, 22), None) | {12: 4})
    result = score("fiqr", answers)
    assert (result.total, result.subscales["symptoms"], result.answered, result.prorated) == (
        Decimal(20),
        Decimal(20),
        12,
        True,
    )


def test_fiqr_names_every_domain_short_of_items_at_once() -> None:
    answers = fiqr(dict.fromkeys([*range(1, 10), 11], None))
    assert refused("fiqr", answers, fiqr_min_answered_per_domain=2) == (
        "item_1",
        "FIQR items 1, 2, 3, 4, 5, 6, 7, 8 and 9 are missing; the function domain needs at "
        "least 2 of its 9 items answered, got 0; item 11 is missing; the overall domain needs "
        "at least 2 of its 2 items answered, got 1",
    )


@pytest.mark.parametrize(
    ("missing", "minimum", "field", "message"),
    [
        pytest.param(
            range(12, 22),
            1,
            "item_12",
            "FIQR items 12, 13, 14, 15, 16, 17, 18, 19, 20 and 21 are missing; the symptoms "
            "domain needs at least 1 of its 10 items answered, got 0",
            id="symptoms-empty-default",
        ),
        pytest.param(
            range(5, 10),
            5,
            "item_5",
            "FIQR items 5, 6, 7, 8 and 9 are missing; the function domain needs at least 5 of "
            "its 9 items answered, got 4",
            id="function-4-of-9-minimum-5",
        ),
        pytest.param(
            [11],
            5,
            "item_11",
            "FIQR item 11 is missing; the overall domain needs at least 2 of its 2 items "
            "answered, got 1",
            id="overall-minimum-capped-at-2",
        ),
    ],
)
def test_fiqr_domain_below_minimum_is_refused(
    missing: range | list[int], minimum: int, field: str, message: str
) -> None:
    answers = fiqr(dict.fromkeys(missing, None))
    assert refused("fiqr", answers, fiqr_min_answered_per_domain=minimum) == (field, message)


def test_fiqr_minimum_setting_accepts_a_domain_that_reaches_it() -> None:
    # function items 1–5 = 6 (sum 30), 6–9 missing → 30 × 9/5 = 54, ÷ 3 = 18
    answers = fiqr(dict.fromkeys(range(1, 6), 6) | dict.fromkeys(range(6, 10), None))
    result = score("fiqr", answers, fiqr_min_answered_per_domain=5)
    assert (result.total, result.answered, result.prorated) == (Decimal(18), 17, True)
