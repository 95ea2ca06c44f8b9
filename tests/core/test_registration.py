"""DEA registration numbers (2 letters, 7 digits, the check digit) and NDCs."""

import pytest

from sustain_core import registration
from sustain_core.errors import ClinicalValueError

pytestmark = pytest.mark.core


@pytest.mark.parametrize(
    ("typed", "number"),
    [("AP5836727", "AP5836727"), ("bn 123 4563", "BN1234563"), ("FJ5184279", "FJ5184279")],
)
def test_a_valid_dea_number_is_read_in_capitals(typed, number):
    assert registration.dea_number(typed) == number


def test_the_check_digit_is_the_last_digit_of_odd_plus_twice_even():
    # AP5836727: 5 + 3 + 7 = 15, 2 × (8 + 6 + 2) = 32, 47 → 7
    assert registration.dea_check_digit("583672") == 7


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("AP583672", "a DEA number is 2 letters and 7 digits (e.g. AP5836727); got 'AP583672'"),
        ("A15836727", "a DEA number is 2 letters and 7 digits (e.g. AP5836727); got 'A15836727'"),
        ("AP5836728", "AP5836728 fails the DEA check digit (its last digit should be 7); check "
         "the number for a typing error"),
        ("AB4523763", "AB4523763 fails the DEA check digit (its last digit should be 1); check "
         "the number for a typing error"),
    ],
)  # fmt: skip
def test_a_dea_number_is_refused(typed, message):
    with pytest.raises(ClinicalValueError) as refused:
        registration.dea_number(typed)
    assert (refused.value.field, refused.value.message) == ("dea_number", message)


@pytest.mark.parametrize("code", ["42023-0113-10", "0409-2051-05", "12345-678-90", "12345-6789-0"])
def test_an_ndc_in_each_form(code):
    assert registration.ndc(f" {code} ") == code


@pytest.mark.parametrize("code", ["12345-678-9", "4202301131", "42023-0113-100", "abcd-efgh-ij"])
def test_an_ndc_is_refused(code):
    with pytest.raises(ClinicalValueError) as refused:
        registration.ndc(code)
    assert refused.value.field == "ndc"
