"""One way to write a number for people: fixed-point, never scientific, never rounded."""

from decimal import Decimal

import pytest

from sustain_core.numbers import plain

pytestmark = pytest.mark.core

D = Decimal


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        pytest.param(D("5E+1"), None, "50", id="the-cli-printed-5E+1"),
        pytest.param(D("1E+2"), None, "100", id="exponent-100"),
        pytest.param(D("35.00"), None, "35", id="trailing-zeros-dropped"),
        pytest.param(D("0.7230"), None, "0.723", id="decimals-kept"),
        pytest.param(D("1E-7"), None, "0.0000001", id="small-exponent"),
        pytest.param(D("-0"), None, "0", id="negative-zero"),
        pytest.param(D("-2.50"), None, "-2.5", id="negative"),
        pytest.param(D("0.000"), None, "0", id="zero-with-places"),
        pytest.param(7, None, "7", id="int"),
        pytest.param(D("150"), 1, "150.0", id="pump-rate-padded"),
        pytest.param(D("1.5E+2"), 1, "150.0", id="padded-exponent"),
        pytest.param(D("52.125"), 1, "52.125", id="places-never-round"),
        pytest.param(D("3.0"), 0, "3", id="places-0"),
        pytest.param(
            D("1.234567890123456789012345678901234"),
            None,
            "1.234567890123456789012345678901234",
            id="34-digits-not-rounded",
        ),
    ],
)
def test_plain(value: Decimal | int, places: int | None, text: str) -> None:
    assert plain(value, places=places) == text


@pytest.mark.parametrize(
    ("value", "places", "message"),
    [
        pytest.param(D("NaN"), None, "Decimal('NaN') is not a finite number", id="nan"),
        pytest.param(D("-Infinity"), None, "Decimal('-Infinity') is not a finite number", id="inf"),
        pytest.param(D("1"), -1, "places must be 0 or more; got -1", id="negative-places"),
    ],
)
def test_plain_refuses(value: Decimal, places: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=r".*") as raised:
        plain(value, places=places)

    assert str(raised.value) == message
