import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from sustain.accounts.audit import record_event, verify_chain
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import AuditEvent

pytestmark = pytest.mark.db


@pytest.fixture
def chain(ada):
    """The install's "audit trail started" event (seq 1), then five by Dr Ada (her fixture
    adds none)."""
    for _ in range(5):
        record_event(actor=ada, action=AuditAction.READ, category=DataCategory.PATIENT_RECORD)
    return list(AuditEvent.objects.order_by("seq"))


def tamper(sql: str, params: list[object]) -> None:
    """Change the table behind the application's back, as someone with database access could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # a superuser can switch triggers off
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def test_verify_chain_intact(chain):
    assert verify_chain().ok
    assert verify_chain().rows_checked == 6


def test_verify_audit_command_reports_intact_chain(chain, capsys):
    call_command("verify_audit")
    assert capsys.readouterr().out == "audit chain OK: 6 rows verified\n"


def test_verify_chain_detects_modified_row(chain):
    tamper("UPDATE accounts_auditevent SET action = 'update' WHERE seq = 3", [])
    report = verify_chain()
    assert (report.ok, report.rows_checked) == (False, 2)
    assert report.problem == (
        f"row seq 3 (id {chain[2].pk}) does not match its hash: changed or inserted"
    )


def test_verify_chain_detects_deleted_row(chain):
    tamper("DELETE FROM accounts_auditevent WHERE seq = 2", [])
    report = verify_chain()
    assert report.problem == f"row seq 2 is missing: deleted before row id {chain[2].pk}"


def test_verify_chain_detects_deleted_last_row(chain):
    tamper("DELETE FROM accounts_auditevent WHERE seq = 6", [])
    assert verify_chain().problem == "rows after seq 5 were deleted (the chain head is at 6)"


def test_verify_chain_detects_inserted_row(chain):
    last = chain[-1]
    tamper(
        "INSERT INTO accounts_auditevent (seq, recorded_at, actor_id, actor_username, role,"
        " action, category, object_type, object_id, outcome, reason, request_id, prev_hash,"
        " row_hash) VALUES (7, %s, %s, 'ada', 'prescriber', 'read', 'patient-record', '', '',"
        " 'success', '', '', %s, %s)",
        [last.recorded_at, last.actor_id, last.row_hash, "f" * 64],
    )
    inserted = AuditEvent.objects.get(seq=7)
    assert verify_chain().problem == (
        f"row seq 7 (id {inserted.pk}) does not match its hash: changed or inserted"
    )


def test_verify_chain_detects_row_inserted_before_the_first(chain):
    first = chain[0]
    tamper(
        "INSERT INTO accounts_auditevent (seq, recorded_at, actor_username, role, action,"
        " category, object_type, object_id, outcome, reason, request_id, prev_hash, row_hash)"
        " VALUES (0, %s, 'x', '', 'read', 'audit', '', '', 'success', '', '', %s, %s)",
        [first.recorded_at, "0" * 64, "0" * 64],
    )
    inserted = AuditEvent.objects.get(seq=0)
    assert verify_chain().problem == f"row id {inserted.pk} (seq 0) was inserted"


def test_verify_audit_command_fails_on_broken_chain(chain):
    tamper("UPDATE accounts_auditevent SET actor_username = 'someone' WHERE seq = 1", [])
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    assert str(excinfo.value) == (
        f"audit chain BROKEN after 0 good rows: row seq 1 (id {chain[0].pk}) does not match "
        "its hash: changed or inserted"
    )


def test_audit_model_refuses_update_and_delete(chain):
    event = chain[0]
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="update")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert verify_chain().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_audit_trigger_refuses_raw_update_on_postgresql(chain):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        connection.cursor().execute("UPDATE accounts_auditevent SET action = 'update'")
    assert verify_chain().ok
