"""Scoring of PCL-5, the C-SSRS screener and the CADSS."""

import pytest

from sustain_core.errors import InvalidAnswer
from sustain_core.instruments import Score, score

pytestmark = pytest.mark.core


def pcl5(**rated: int) -> dict[str, int | None]:
    """Return PCL-5 answers: all items 0 except ``i<n>=value``."""
    answers: dict[str, int | None] = {str(number): 0 for number in range(1, 21)}
    for name, value in rated.items():
        answers[name.removeprefix("i")] = value
    return answers


# --- PCL-5 [PCL5-scoring] [PCL5-clusters] -------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "total"),
    [
        pytest.param(pcl5(), 0, id="0-min"),
        pytest.param({str(n): 4 for n in range(1, 21)}, 80, id="80-max"),
    ],
)
def test_pcl5_has_no_severity_band(answers: dict[str, int | None], total: int) -> None:
    result = score("pcl5", answers)
    assert (result.total, result.severity) == (total, None)


def test_pcl5_cluster_sums() -> None:
    answers = pcl5(i1=1, i5=2, i6=3, i7=4, i8=2, i14=2, i15=3, i20=4)
    assert score("pcl5", answers) == Score(
        instrument="pcl5",
        total=21,
        subscales={"B": 3, "C": 7, "D": 4, "E": 7},
        severity=None,
        flags=("provisional_ptsd",),
        answered=20,
        prorated=False,
    )


@pytest.mark.parametrize(
    ("answers", "total", "flags"),
    [
        pytest.param(
            pcl5(i1=2, i6=2, i8=2, i9=2, i15=2, i16=2),
            12,
            ("provisional_ptsd",),
            id="rule-met-at-minimum-total-12",
        ),
        pytest.param(
            # Every B item 4 and every D item 2 (34 ≥ 33), but no C item endorsed.
            pcl5(i1=4, i2=4, i3=4, i4=4, i5=4, i8=2, i9=2, i10=2, i11=2, i12=2, i13=2, i14=2),
            34,
            (),
            id="total-34-rule-not-met-no-C",
        ),
        pytest.param({str(n): 1 for n in range(1, 21)}, 20, (), id="all-items-1-none-endorsed"),
        pytest.param(pcl5(i6=2, i8=2, i9=2, i15=2, i16=2), 10, (), id="B-none-endorsed"),
        pytest.param(pcl5(i1=2, i8=2, i9=2, i15=2, i16=2), 10, (), id="C-none-endorsed"),
        pytest.param(pcl5(i1=2, i6=2, i8=4, i15=2, i16=2), 12, (), id="D-only-one-endorsed"),
        pytest.param(pcl5(i1=2, i6=2, i8=2, i9=2, i15=4), 12, (), id="E-only-one-endorsed"),
        pytest.param(
            pcl5(i5=3, i7=2, i13=2, i14=2, i19=2, i20=3), 14, ("provisional_ptsd",), id="last-items"
        ),
    ],
)
def test_pcl5_provisional_ptsd_follows_the_dsm5_rule_not_the_total(
    answers: dict[str, int | None], total: int, flags: tuple[str, ...]
) -> None:
    result = score("pcl5", answers)
    assert (result.total, result.flags) == (total, flags)


# --- C-SSRS screener [CSSRS-screen] [CSSRS-form] [CSSRS-summary] (secondary triage) --------

NO_IDEATION: dict[str, int | None] = {"1": 0, "2": 0, "6": 0}
ACTIVE_IDEATION: dict[str, int | None] = {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0}
ITEM_2 = "suicide_item_positive"  # active suicidal thoughts, whatever the triage (issue 11)


@pytest.mark.parametrize(
    ("answers", "total", "severity", "flags"),
    [
        pytest.param(NO_IDEATION, 0, "none", (), id="all-no-none"),
        pytest.param({**NO_IDEATION, "1": 1}, 1, "low", (), id="wish-dead-only-low"),
        pytest.param(ACTIVE_IDEATION, 1, "low", (ITEM_2,), id="items-1-2-low"),
        pytest.param({**ACTIVE_IDEATION, "1": 0}, 1, "low", (ITEM_2,), id="item-2-without-1-low"),
        pytest.param(
            {**ACTIVE_IDEATION, "3": 1},
            2,
            "moderate",
            ("cssrs_moderate_risk", ITEM_2),
            id="method-moderate",
        ),
        pytest.param(
            {**ACTIVE_IDEATION, "4": 1}, 3, "high", ("cssrs_high_risk", ITEM_2), id="intent-high"
        ),
        pytest.param(
            {**ACTIVE_IDEATION, "5": 1}, 3, "high", ("cssrs_high_risk", ITEM_2), id="plan-high"
        ),
        pytest.param(
            {**ACTIVE_IDEATION, "3": 1, "4": 1, "5": 1},
            3,
            "high",
            ("cssrs_high_risk", ITEM_2),
            id="items-3-4-5-high",
        ),
        pytest.param(
            {**NO_IDEATION, "6": 1, "6_recent": 1},
            3,
            "high",
            ("cssrs_high_risk",),
            id="recent-behaviour-high",
        ),
        pytest.param(
            {**NO_IDEATION, "6": 1, "6_recent": 0},
            2,
            "moderate",
            ("cssrs_moderate_risk",),
            id="past-behaviour-moderate-unconfirmed",
        ),
        pytest.param(
            {**ACTIVE_IDEATION, "3": 1, "6": 1, "6_recent": 1},
            3,
            "high",
            ("cssrs_high_risk", ITEM_2),
            id="method-and-recent-behaviour-high",
        ),
    ],
)
def test_cssrs_triage(
    answers: dict[str, int | None], total: int, severity: str, flags: tuple[str, ...]
) -> None:
    result = score("cssrs_screener", answers)
    assert (result.total, result.severity, result.flags) == (total, severity, flags)


def test_cssrs_full_score_counts_asked_items() -> None:
    answers = {**ACTIVE_IDEATION, "3": 1, "6": 1, "6_recent": 0}
    assert score("cssrs_screener", answers) == Score(
        instrument="cssrs_screener",
        total=2,
        subscales={},
        severity="moderate",
        flags=("cssrs_moderate_risk", ITEM_2),
        answered=7,
        prorated=False,
    )


def test_cssrs_skipped_items_may_be_given_as_none() -> None:
    answers = {**NO_IDEATION, "3": None, "4": None, "5": None, "6_recent": None}
    result = score("cssrs_screener", answers)
    assert (result.total, result.answered) == (0, 3)


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        pytest.param(
            {**NO_IDEATION, "3": 0},
            "item_3",
            "C-SSRS item 3 is asked only when item 2 is yes; leave it unanswered when item 2 is no",
            id="item-3-answered-after-2-no",
        ),
        pytest.param(
            {**NO_IDEATION, "1": 1, "5": 1},
            "item_5",
            "C-SSRS item 5 is asked only when item 2 is yes; leave it unanswered when item 2 is no",
            id="item-5-answered-after-2-no",
        ),
        pytest.param(
            {**NO_IDEATION, "6_recent": 0},
            "item_6_recent",
            "C-SSRS item 6_recent is asked only when item 6 is yes; leave it unanswered when "
            "item 6 is no",
            id="recent-answered-after-6-no",
        ),
        pytest.param(
            {"1": 1, "2": 1, "3": 0, "5": 0, "6": 0},
            "item_4",
            "C-SSRS item 4 is missing; items 3–5 are asked when item 2 is yes",
            id="item-4-missing-after-2-yes",
        ),
        pytest.param(
            {**NO_IDEATION, "6": 1},
            "item_6_recent",
            "C-SSRS item 6_recent is missing; item 6_recent is asked when item 6 is yes",
            id="recent-missing-after-6-yes",
        ),
        pytest.param(
            {"1": 0, "3": 0, "6": 0},
            "item_2",
            "C-SSRS item 2 is missing",
            id="item-2-missing",
        ),
        pytest.param(
            {"1": 1, "2": 1, "6": 1},
            "item_3",
            "C-SSRS items 3, 4, 5 and 6_recent are missing; items 3–5 are asked when item 2 is "
            "yes; item 6_recent is asked when item 6 is yes",
            id="every-asked-item-missing-at-once",
        ),
    ],
)
def test_cssrs_skip_logic_refusals(
    answers: dict[str, int | None], field: str, message: str
) -> None:
    with pytest.raises(InvalidAnswer) as raised:
        score("cssrs_screener", answers)
    assert (raised.value.field, raised.value.message) == (field, message)


# --- CADSS [Bremner1998] [Rodrigues2021-CADSS6] --------------------------------------------


def cadss(**rated: int) -> dict[str, int | None]:
    answers: dict[str, int | None] = {str(number): 0 for number in range(1, 24)}
    for name, value in rated.items():
        answers[name.removeprefix("i")] = value
    return answers


@pytest.mark.parametrize(
    ("answers", "total", "cadss6"),
    [
        pytest.param(cadss(), 0, 0, id="0-min"),
        pytest.param({str(n): 4 for n in range(1, 24)}, 92, 24, id="92-max"),
        pytest.param(cadss(i1=4, i2=4, i6=4, i7=4, i15=4, i22=4), 24, 24, id="only-cadss6-items"),
        pytest.param(cadss(i3=4, i4=4, i5=4, i8=4, i23=4), 20, 0, id="no-cadss6-items"),
        pytest.param(cadss(i1=1, i7=2, i22=3, i23=4), 10, 6, id="mixed"),
    ],
)
def test_cadss_total_and_cadss6_subscale(
    answers: dict[str, int | None], total: int, cadss6: int
) -> None:
    assert score("cadss", answers) == Score(
        instrument="cadss",
        total=total,
        subscales={"cadss6": cadss6},
        severity=None,
        flags=(),
        answered=23,
        prorated=False,
    )
