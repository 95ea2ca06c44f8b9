"""Issue 14, AUD-03/AUD-04: signed checkpoints outside the database catch deleted newest rows
with a rewound head; an empty trail fails; TRUNCATE (and so `sustain flush`) is refused on
PostgreSQL; production needs its own audit key."""

import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection
from django_tasks_db.models import DBTaskResult

from sustain.accounts.audit import CHAIN, record_event, verify_chain
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import AuditEvent
from sustain.accounts.tasks import anchor_chains
from tests.sustain.accounts.test_audit import tamper

pytestmark = pytest.mark.db


@pytest.fixture
def chain(ada):
    for _ in range(5):
        record_event(actor=ada, action=AuditAction.READ, category=DataCategory.PATIENT_RECORD)
    return list(AuditEvent.objects.order_by("seq"))  # seq 1 is the install's first event


def rewind_to(seq: int) -> None:
    """Delete the rows after `seq` and set the head back to it, as someone with database
    access could: the remaining chain is whole."""
    kept = AuditEvent.objects.get(seq=seq)
    tamper("DELETE FROM accounts_auditevent WHERE seq > %s", [seq])
    tamper(
        "UPDATE accounts_auditchainhead SET last_seq = %s, last_hash = %s",
        [seq, kept.row_hash],
    )


def test_a_fresh_install_starts_its_trail_and_verifies(db, capsys):
    first = AuditEvent.objects.get()
    assert (first.seq, first.actor_username, first.reason) == (1, "sustain", "audit trail started")
    call_command("verify_audit")
    assert capsys.readouterr().out == "audit chain OK: 1 rows verified\n"


def test_anchor_catches_deleted_newest_rows_and_a_rewound_head(chain, settings, capsys):
    call_command("audit_anchor")
    assert "anchored sustain.audit.v1 at seq 6" in capsys.readouterr().out
    rewind_to(4)
    assert CHAIN.verify() == (4, None)  # the chain alone cannot tell
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    at = json.loads(settings.SUSTAIN_AUDIT_ANCHOR_PATH.read_text().splitlines()[0])["at"]
    assert str(excinfo.value) == (
        f"audit chain BROKEN after 4 good rows: row seq 6, anchored at {at}, is missing: the "
        "chain ends at seq 4, so rows were deleted"
    )


def test_rows_appended_after_the_anchor_still_verify(chain):
    call_command("audit_anchor")
    record_event(actor=None, username="x", action=AuditAction.READ, category=DataCategory.AUDIT)
    assert verify_chain().ok


def test_a_forged_checkpoint_is_reported(chain, settings):
    call_command("audit_anchor")
    path = settings.SUSTAIN_AUDIT_ANCHOR_PATH
    line = json.loads(path.read_text().splitlines()[0])
    path.write_text(json.dumps(line | {"seq": 99}) + "\n")
    assert verify_chain().problem == f"anchor file {path} line 1 is not signed with the audit key"


def test_an_empty_trail_fails(chain):
    tamper("DELETE FROM accounts_auditevent", [])
    tamper("DELETE FROM accounts_auditchainhead", [])
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    assert str(excinfo.value) == (
        "audit chain BROKEN after 0 good rows: the audit trail is empty: it starts with one "
        "event at install, so its rows were deleted"
    )


def test_the_worker_anchors_every_chain_and_queues_the_next(chain, settings):
    assert anchor_chains.call() == 2
    lines = [json.loads(raw) for raw in settings.SUSTAIN_AUDIT_ANCHOR_PATH.read_text().splitlines()]
    assert sorted((line["chain"], line["seq"]) for line in lines) == [
        ("sustain.audit.v1", 6),
        ("sustain.ledger.v1", 0),
    ]
    waiting = DBTaskResult.objects.filter(task_path=anchor_chains.module_path)
    assert waiting.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # as the suite's others
@pytest.mark.parametrize("table", ["accounts_auditevent", "ledger_ledgerentry"])
def test_truncate_and_flush_are_refused_on_postgresql(ada, table):
    record_event(actor=ada, action=AuditAction.READ, category=DataCategory.PATIENT_RECORD)
    with connection.cursor() as cursor:  # as any connection but the test runner's own
        cursor.execute("SET sustain.test_flush = 'off'")
    try:
        refused = f"{table} is append-only \\(TRUNCATE refused\\)"
        with pytest.raises(DatabaseError, match=refused), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table} CASCADE")
        with pytest.raises(CommandError, match="couldn't be flushed") as flushed:
            call_command("flush", interactive=False)  # what `sustain flush --noinput` runs
        assert "is append-only (TRUNCATE refused)" in str(flushed.value.__cause__)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET sustain.test_flush = 'on'")
    assert verify_chain().ok
    assert AuditEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("audit_key", "message"),
    [
        (None, "SUSTAIN_AUDIT_KEY must be set"),
        ("short", "SUSTAIN_AUDIT_KEY must be set"),
        ("k" * 60, "different from SUSTAIN_SECRET_KEY"),
    ],
)
def test_production_needs_its_own_audit_key(audit_key, message):
    env = {"SUSTAIN_DEBUG": "0", "SUSTAIN_SECRET_KEY": "k" * 60, "PATH": "/usr/bin:/bin"}
    if audit_key:
        env["SUSTAIN_AUDIT_KEY"] = audit_key
    result = subprocess.run(
        [sys.executable, "-c", "import sustain.settings"],
        env=env | {"PYTHONPATH": "src"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, message in result.stderr) == (1, True)
    ok = env | {"SUSTAIN_AUDIT_KEY": "a" * 60, "PYTHONPATH": "src"}
    started = subprocess.run([sys.executable, "-c", "import sustain.settings"], env=ok, check=False)
    assert started.returncode == 0
