from decimal import Decimal

import pytest

from sustain_core.errors import OutOfRange
from sustain_core.outcomes import Outcome, classify_phq9_outcome, percent_change

pytestmark = pytest.mark.core


@pytest.mark.parametrize(
    ("baseline", "current", "expected"),
    [
        pytest.param(20, 10, Outcome.RESPONSE, id="20-to-10-response-at-exactly-50pct"),
        pytest.param(20, 11, Outcome.NO_RESPONSE, id="20-to-11-no-response"),
        pytest.param(20, 4, Outcome.REMISSION, id="20-to-4-remission"),
        pytest.param(20, 5, Outcome.RESPONSE, id="20-to-5-response-not-remission"),
        pytest.param(21, 10, Outcome.RESPONSE, id="21-to-10-response"),
        pytest.param(21, 11, Outcome.NO_RESPONSE, id="21-to-11-under-50pct"),
        pytest.param(9, 4, Outcome.REMISSION, id="9-to-4-remission-over-response"),
        pytest.param(5, 0, Outcome.REMISSION, id="baseline-5-classifiable"),
        pytest.param(20, 27, Outcome.NO_RESPONSE, id="worse"),
        pytest.param(3, 0, Outcome.NOT_CLASSIFIABLE, id="baseline-3-not-classifiable"),
        pytest.param(4, 20, Outcome.NOT_CLASSIFIABLE, id="baseline-4-not-classifiable"),
    ],
)
def test_classify_phq9_outcome_table(baseline: int, current: int, expected: Outcome) -> None:
    assert classify_phq9_outcome(baseline_total=baseline, current_total=current) is expected


_OUT_OF_RANGE = [
    pytest.param(-1, 10, "baseline_total", "PHQ-9 total must be an integer 0–27; got -1", id="neg"),
    pytest.param(28, 10, "baseline_total", "PHQ-9 total must be an integer 0–27; got 28", id="28"),
    pytest.param(20, 28, "current_total", "PHQ-9 total must be an integer 0–27; got 28", id="c28"),
    pytest.param(
        20, True, "current_total", "PHQ-9 total must be an integer 0–27; got True", id="b"
    ),
    pytest.param(
        20.0, 10, "baseline_total", "PHQ-9 total must be an integer 0–27; got 20.0", id="f"
    ),
]


@pytest.mark.parametrize(("baseline", "current", "field", "message"), _OUT_OF_RANGE)
def test_classify_phq9_outcome_out_of_range_rejected(
    baseline: int, current: int, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        classify_phq9_outcome(baseline_total=baseline, current_total=current)

    assert (raised.value.field, raised.value.message) == (field, message)


@pytest.mark.parametrize(("baseline", "current", "field", "message"), _OUT_OF_RANGE)
def test_percent_change_out_of_range_rejected(
    baseline: int, current: int, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        percent_change(baseline_total=baseline, current_total=current)

    assert (raised.value.field, raised.value.message) == (field, message)


@pytest.mark.parametrize(
    ("baseline", "current", "expected"),
    [
        pytest.param(20, 10, Decimal("-50.0"), id="halved"),
        pytest.param(20, 20, Decimal("0.0"), id="unchanged"),
        pytest.param(3, 2, Decimal("-33.3"), id="thirds-round-down"),
        pytest.param(6, 5, Decimal("-16.7"), id="sixths-round-up"),
        pytest.param(16, 15, Decimal("-6.3"), id="half-rounds-away-from-zero-negative"),
        pytest.param(16, 17, Decimal("6.3"), id="half-rounds-away-from-zero-positive"),
        pytest.param(1, 27, Decimal("2600.0"), id="large-increase"),
        pytest.param(0, 5, None, id="baseline-0-undefined"),
    ],
)
def test_percent_change_table(baseline: int, current: int, expected: Decimal | None) -> None:
    assert percent_change(baseline_total=baseline, current_total=current) == expected


def test_percent_change_keeps_one_decimal_place() -> None:
    assert str(percent_change(baseline_total=20, current_total=10)) == "-50.0"
