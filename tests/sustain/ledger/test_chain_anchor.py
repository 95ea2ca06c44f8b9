"""Issue 14: the ledger's chain is anchored like the audit trail's (sustain.accounts.chain):
deleting the newest entries and rewinding the head is caught by the latest checkpoint."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sustain.ledger.chain import CHAIN
from sustain.ledger.models import LedgerEntry
from tests.sustain.accounts.test_audit import tamper
from tests.sustain.ledger.test_chain import entries as entries  # noqa: PLC0414 - its fixture

pytestmark = pytest.mark.db


def test_verify_ledger_catches_a_rewound_head_after_a_checkpoint(entries):
    call_command("audit_anchor")
    kept = LedgerEntry.objects.get(seq=3)
    tamper("DELETE FROM ledger_ledgerentry WHERE seq = 4", [])
    tamper("UPDATE ledger_ledgerchainhead SET last_seq = 3, last_hash = %s", [kept.row_hash])
    assert CHAIN.verify() == (3, None)  # the chain alone cannot tell
    with pytest.raises(CommandError) as broken:
        call_command("verify_ledger")
    assert broken.value.returncode == 1
    assert str(broken.value).startswith(
        "ledger chain BROKEN after 3 good entries: row seq 4, anchored at "
    )
    assert str(broken.value).endswith("is missing: the chain ends at seq 3, so rows were deleted")
