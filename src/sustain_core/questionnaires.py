"""Questionnaire definitions and scoring rules."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sustain_core.errors import InvalidAnswer


@dataclass(frozen=True)
class Instrument:
    """A self-report instrument: its wording, answer scale, codes and source.

    ``answer_labels[i]`` is the label of the answer that scores ``i``.
    """

    key: str
    title: str
    recall: str
    items: tuple[str, ...]
    answer_labels: tuple[str, ...]
    loinc_panel: str
    loinc_total: str
    citation: str

    @property
    def item_max(self) -> int:
        """Return the highest score a single item can take."""
        return len(self.answer_labels) - 1


PHQ9 = Instrument(
    key="phq9",
    title="Patient Health Questionnaire-9 (PHQ-9)",
    recall=(
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    ),
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your "
        "family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    answer_labels=("Not at all", "Several days", "More than half the days", "Nearly every day"),
    # LOINC panel and total-score codes [LOINC-FHIR-repos]; the PHQ-9 is public domain
    # [CamCOPS-PHQ9].
    loinc_panel="44249-1",
    loinc_total="44261-6",
    citation="Kroenke2001",
)


class Phq9Severity(StrEnum):
    """PHQ-9 severity band of a total score [Kroenke2001]."""

    MINIMAL = "minimal"
    MILD = "mild"
    MODERATE = "moderate"
    MODERATELY_SEVERE = "moderately severe"
    SEVERE = "severe"


# Lowest total of each band above minimal, highest first: cut-points 5/10/15/20 [Kroenke2001].
_PHQ9_SEVERITY_FLOORS = (
    (20, Phq9Severity.SEVERE),
    (15, Phq9Severity.MODERATELY_SEVERE),
    (10, Phq9Severity.MODERATE),
    (5, Phq9Severity.MILD),
)


@dataclass(frozen=True)
class Phq9Score:
    """A scored PHQ-9: total 0–27, its severity band and the item-9 answer."""

    total: int
    severity: Phq9Severity
    item9: int

    @property
    def suicide_risk_flag(self) -> bool:
        """Return True when item 9 (thoughts of death or self-harm) is answered above 0.

        Any non-zero item 9 must start the clinic's safety workflow. This is an implementation
        requirement and standard practice, unconfirmed as a published rule (clinical-facts §7).
        """
        return self.item9 > 0


def score_phq9(answers: Sequence[int | None]) -> Phq9Score:
    """Score a PHQ-9 from its nine item answers, in item order.

    Each answer must be an int 0–3 (a bool is not accepted as a number). Scoring is the plain
    sum, 0–27, banded at 5/10/15/20 [Kroenke2001]. Nothing is imputed: a missing answer
    (``None``) is rejected, so a partial questionnaire never yields a total.

    Raises InvalidAnswer naming ``answers`` when there are not exactly nine answers, or
    ``item_<n>`` (1-based) for the first missing or out-of-range answer.
    """
    item_count = len(PHQ9.items)
    if len(answers) != item_count:
        raise InvalidAnswer(
            "answers", f"PHQ-9 needs exactly {item_count} answers; got {len(answers)}"
        )
    scores = [_checked_item(number, answer) for number, answer in enumerate(answers, start=1)]
    total = sum(scores)
    return Phq9Score(total=total, severity=_phq9_severity(total), item9=scores[8])


def _checked_item(number: int, answer: int | None) -> int:
    field = f"item_{number}"
    if answer is None:
        raise InvalidAnswer(field, f"PHQ-9 item {number} is missing")
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise InvalidAnswer(
            field, f"PHQ-9 item {number} must be an integer 0–{PHQ9.item_max}; got {answer!r}"
        )
    if not 0 <= answer <= PHQ9.item_max:
        raise InvalidAnswer(field, f"PHQ-9 item {number} must be 0–{PHQ9.item_max}; got {answer}")
    return answer


def _phq9_severity(total: int) -> Phq9Severity:
    for floor, severity in _PHQ9_SEVERITY_FLOORS:
        if total >= floor:
            return severity
    return Phq9Severity.MINIMAL
