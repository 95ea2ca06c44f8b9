import pytest

from sustain_core.errors import InvalidAnswer
from sustain_core.questionnaires import PHQ9, Phq9Score, Phq9Severity, score_phq9

pytestmark = pytest.mark.core


def _answers(total: int, *, item9: int = 0) -> list[int | None]:
    """Return nine answers with item 9 = ``item9`` that add up to ``total``."""
    answers: list[int | None] = []
    remaining = total - item9
    for _ in range(8):
        answers.append(min(3, remaining))
        remaining -= min(3, remaining)
    return [*answers, item9]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param([0] * 9, Phq9Score(0, Phq9Severity.MINIMAL, 0), id="all-zero-minimal"),
        pytest.param(_answers(4), Phq9Score(4, Phq9Severity.MINIMAL, 0), id="4-minimal"),
        pytest.param(_answers(5), Phq9Score(5, Phq9Severity.MILD, 0), id="5-mild"),
        pytest.param(_answers(9), Phq9Score(9, Phq9Severity.MILD, 0), id="9-mild"),
        pytest.param(_answers(10), Phq9Score(10, Phq9Severity.MODERATE, 0), id="10-moderate"),
        pytest.param(_answers(14), Phq9Score(14, Phq9Severity.MODERATE, 0), id="14-moderate"),
        pytest.param(
            _answers(15), Phq9Score(15, Phq9Severity.MODERATELY_SEVERE, 0), id="15-mod-severe"
        ),
        pytest.param(
            _answers(19), Phq9Score(19, Phq9Severity.MODERATELY_SEVERE, 0), id="19-mod-severe"
        ),
        pytest.param(_answers(20), Phq9Score(20, Phq9Severity.SEVERE, 0), id="20-severe"),
        pytest.param([3] * 9, Phq9Score(27, Phq9Severity.SEVERE, 3), id="27-severe"),
        pytest.param(
            [0, 0, 0, 0, 0, 0, 0, 0, 1], Phq9Score(1, Phq9Severity.MINIMAL, 1), id="item9-only"
        ),
    ],
)
def test_score_phq9_valid_answers(answers: list[int | None], expected: Phq9Score) -> None:
    assert score_phq9(answers) == expected


@pytest.mark.parametrize(
    ("item9", "expected"),
    [
        pytest.param(0, False, id="item9-0-no-flag"),
        pytest.param(1, True, id="item9-1-flag"),
        pytest.param(3, True, id="item9-3-flag"),
    ],
)
def test_score_phq9_suicide_risk_flag_follows_item9(item9: int, expected: bool) -> None:
    assert score_phq9(_answers(10, item9=item9)).suicide_risk_flag is expected


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        pytest.param([0] * 8, "answers", "PHQ-9 needs exactly 9 answers; got 8", id="8-answers"),
        pytest.param([0] * 10, "answers", "PHQ-9 needs exactly 9 answers; got 10", id="10-answers"),
        pytest.param(
            [0, 0, 0, 4, 0, 0, 0, 0, 0], "item_4", "PHQ-9 item 4 must be 0–3; got 4", id="item-4"
        ),
        pytest.param(
            [0, 0, 0, 0, 0, 0, 0, 0, -1],
            "item_9",
            "PHQ-9 item 9 must be 0–3; got -1",
            id="item-neg",
        ),
        pytest.param(
            [0, None, 0, 0, 0, 0, 0, 0, 0], "item_2", "PHQ-9 item 2 is missing", id="missing"
        ),
        pytest.param(
            [True, 0, 0, 0, 0, 0, 0, 0, 0],
            "item_1",
            "PHQ-9 item 1 must be an integer 0–3; got True",
            id="bool",
        ),
        pytest.param(
            [0, 0, "2", 0, 0, 0, 0, 0, 0],
            "item_3",
            "PHQ-9 item 3 must be an integer 0–3; got '2'",
            id="string",
        ),
    ],
)
def test_score_phq9_invalid_answers_rejected(
    answers: list[int | None], field: str, message: str
) -> None:
    with pytest.raises(InvalidAnswer) as raised:
        score_phq9(answers)

    assert (raised.value.field, raised.value.message) == (field, message)
    assert str(raised.value) == f"{field}: {message}"


def test_phq9_instrument_definition() -> None:
    assert (len(PHQ9.items), PHQ9.item_max, PHQ9.loinc_panel, PHQ9.loinc_total) == (
        9,
        3,
        "44249-1",
        "44261-6",
    )
    assert PHQ9.items[0] == "Little interest or pleasure in doing things"
    assert PHQ9.items[8] == (
        "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert PHQ9.answer_labels == (
        "Not at all",
        "Several days",
        "More than half the days",
        "Nearly every day",
    )
    assert PHQ9.citation == "Kroenke2001"
