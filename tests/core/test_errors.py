"""The ledger's refusals name their rule: the class's own, or a narrower one given."""

import pytest

from sustain_core.errors import (
    ClinicalValueError,
    ExpiredLot,
    InsufficientStock,
    LedgerRefused,
    WitnessNotAllowed,
)

pytestmark = pytest.mark.core


@pytest.mark.parametrize(
    ("error", "rule"),
    [
        (InsufficientStock, "negative_balance"),
        (ExpiredLot, "expired_lot"),
        (WitnessNotAllowed, "witness_not_allowed"),
    ],
)
def test_a_ledger_refusal_names_its_class_rule(error, rule):
    refused = error("container", "holds 5 mg")
    assert (refused.rule, refused.field, refused.message) == (rule, "container", "holds 5 mg")
    assert isinstance(refused, LedgerRefused)
    assert isinstance(refused, ClinicalValueError)


def test_a_ledger_refusal_may_name_a_narrower_rule():
    refused = WitnessNotAllowed("witness", "drew for this visit", rule="witness_is_drawer")
    assert refused.rule == "witness_is_drawer"
    assert str(refused) == "witness: drew for this visit"
