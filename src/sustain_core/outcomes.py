"""Treatment outcome rules: response and remission on PHQ-9 totals."""

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from sustain_core.errors import OutOfRange
from sustain_core.questionnaires import PHQ9

_PHQ9_TOTAL_MAX = len(PHQ9.items) * PHQ9.item_max
# Remission is a PHQ-9 total below 5 [McInnes2022]; it is also the bottom of the "mild" band
# [Kroenke2001], so a baseline below it was never in the depressed range.
_PHQ9_REMISSION_BELOW = 5


class Outcome(StrEnum):
    """Outcome of a treatment course measured against its baseline score."""

    REMISSION = "remission"
    RESPONSE = "response"
    NO_RESPONSE = "no response"
    NOT_CLASSIFIABLE = "not classifiable"


def classify_phq9_outcome(*, baseline_total: int, current_total: int) -> Outcome:
    """Classify a current PHQ-9 total against the baseline total.

    Remission: current total below 5. Response: a reduction of at least 50% from baseline,
    computed in integers as ``2 * current <= baseline`` [McInnes2022]. Remission takes
    precedence over response. A baseline below 5 was never in the depressed range, so
    remission and response are undefined and the outcome is NOT_CLASSIFIABLE.

    Raises OutOfRange naming the field when a total is not an integer 0–27.
    """
    _check_total("baseline_total", baseline_total)
    _check_total("current_total", current_total)
    if baseline_total < _PHQ9_REMISSION_BELOW:
        return Outcome.NOT_CLASSIFIABLE
    if current_total < _PHQ9_REMISSION_BELOW:
        return Outcome.REMISSION
    if 2 * current_total <= baseline_total:
        return Outcome.RESPONSE
    return Outcome.NO_RESPONSE


def percent_change(*, baseline_total: int, current_total: int) -> Decimal | None:
    """Return the change from baseline in percent, for display.

    ``(current - baseline) / baseline * 100`` rounded to 0.1 with ROUND_HALF_UP (halves away
    from zero: -6.25 becomes -6.3). Negative means improvement. This is a display figure only;
    decisions use ``classify_phq9_outcome``, which works on the exact integers. Returns None
    when the baseline is 0, where a relative change is undefined.

    Raises OutOfRange naming the field when a total is not an integer 0–27.
    """
    _check_total("baseline_total", baseline_total)
    _check_total("current_total", current_total)
    if baseline_total == 0:
        return None
    change = Decimal((current_total - baseline_total) * 100) / baseline_total
    return change.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _check_total(field: str, total: int) -> None:
    if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total <= _PHQ9_TOTAL_MAX:
        raise OutOfRange(
            field, f"PHQ-9 total must be an integer 0–{_PHQ9_TOTAL_MAX}; got {total!r}"
        )
