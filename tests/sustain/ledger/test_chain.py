"""The ledger's hash chain and `sustain verify-ledger` (issue 12, item 2): an entry edited in
the database behind the application's back is found and named."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from sustain.ledger import services
from sustain.ledger.chain import verify_chain
from sustain.ledger.models import LedgerEntry
from tests.sustain import clinic_builders as build
from tests.sustain.accounts.test_audit import tamper
from tests.sustain.ledger.conftest import MONDAY

pytestmark = pytest.mark.db


@pytest.fixture
def entries(vials, visit, ben):
    """Three receipts and a 35 mg draw for Pat's visit."""
    services.draw_for_visit(
        container=vials[0], appointment=visit, dose_mg=Decimal("35"), by=ben,
        now=build.at(visit.site, MONDAY, 8, 30),
    )  # fmt: skip
    return list(LedgerEntry.objects.order_by("seq"))


def test_verify_ledger_reports_every_entry_verified(entries, capsys):
    call_command("verify_ledger")
    assert capsys.readouterr().out == "ledger chain OK: 4 entries verified\n"


def test_verify_ledger_names_an_entry_edited_in_the_database(entries):
    tamper("UPDATE ledger_ledgerentry SET quantity_mg = 3.5, change_mg = -3.5 WHERE seq = 4", [])
    with pytest.raises(CommandError) as broken:
        call_command("verify_ledger")
    assert broken.value.returncode == 1
    assert str(broken.value) == (
        f"ledger chain BROKEN after 3 good entries: entry seq 4 (id {entries[3].pk}, draw) does "
        "not match its hash: changed or inserted"
    )


def test_verify_ledger_finds_a_deleted_entry(entries):
    tamper("DELETE FROM ledger_ledgerentry WHERE seq = 2", [])
    report = verify_chain()
    assert (report.ok, report.entries_checked) == (False, 1)
    assert report.problem == f"entry seq 2 is missing: deleted before entry id {entries[2].pk}"


def test_verify_ledger_finds_the_last_entry_deleted(entries):
    tamper("DELETE FROM ledger_ledgerentry WHERE seq = 4", [])
    assert verify_chain().problem == (
        "the chain head is at seq 4 but the entries end at seq 3: entries were deleted or inserted"
    )


def test_verify_ledger_finds_an_entry_inserted_before_the_first(entries):
    tamper("UPDATE ledger_ledgerentry SET seq = 0 WHERE seq = 1", [])
    assert verify_chain().problem == f"entry id {entries[0].pk} (seq 0) was inserted"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_trigger_refuses_a_raw_update_or_delete_on_postgresql(entries):
    for sql in ("UPDATE ledger_ledgerentry SET quantity_mg = 1", "DELETE FROM ledger_ledgerentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            connection.cursor().execute(sql)
    assert verify_chain().ok
