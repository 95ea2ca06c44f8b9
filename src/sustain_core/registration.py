"""The identifiers a controlled-substance record names: a DEA registration number and a
product's National Drug Code. Pure checks; each refusal is a ClinicalValueError naming the rule.

A DEA registration number is two letters (the registrant type, then usually the first letter
of the registrant's last or business name) and seven digits, the last a check digit: add the
1st, 3rd and 5th digits, add twice the sum of the 2nd, 4th and 6th, and the last digit of the
total is the 7th digit (takerx.com/verify.html, "Here are the steps to verify a DEA number";
e.g. AP5836727: 5 + 3 + 7 = 15, 2 × (8 + 6 + 2) = 32, 15 + 32 = 47, check digit 7). A number
that passes can still be unregistered: the check catches typing errors, not forgeries.
"""

import re

from sustain_core.errors import ClinicalValueError

_DEA = re.compile(r"[A-Z]{2}[0-9]{7}")
# An NDC is 10 digits in three hyphenated parts (4-4-2, 5-3-2 or 5-4-1), or the 11-digit
# 5-4-2 form billing uses.
_NDC = re.compile(
    r"[0-9]{4}-[0-9]{4}-[0-9]{2}|[0-9]{5}-[0-9]{3}-[0-9]{2}|[0-9]{5}-[0-9]{4}-[0-9]{1,2}"
)


def dea_check_digit(digits: str) -> int:
    """The check digit of the first six digits of a DEA number."""
    d = [int(c) for c in digits[:6]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def dea_number(value: str, field: str = "dea_number") -> str:
    """`value` as a DEA registration number (upper case, spaces removed), or refused."""
    number = value.replace(" ", "").upper()
    if not _DEA.fullmatch(number):
        raise ClinicalValueError(
            field, f"a DEA number is 2 letters and 7 digits (e.g. AP5836727); got {value!r}"
        )
    expected = dea_check_digit(number[2:])
    if int(number[-1]) != expected:
        raise ClinicalValueError(
            field,
            f"{number} fails the DEA check digit (its last digit should be {expected}); check "
            "the number for a typing error",
        )
    return number


def ndc(value: str, field: str = "ndc") -> str:
    """`value` as a National Drug Code in one of its hyphenated forms, or refused."""
    code = value.strip()
    if not _NDC.fullmatch(code):
        raise ClinicalValueError(
            field,
            "an NDC is 10 digits as 4-4-2, 5-3-2 or 5-4-1, or 11 digits as 5-4-2 "
            f"(e.g. 42023-0113-10); got {value!r}",
        )
    return code
