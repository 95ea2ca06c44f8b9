"""Issue 14, AUD-03: the role split on PostgreSQL. The owner migrates and runs
`sustain grant-runtime-role`; the application's runtime role can read and append to the audit
trail (and do audited service writes) but cannot update, delete, truncate it or switch its
trigger off."""

import os

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from sustain.accounts.audit import verify_chain
from sustain.accounts.models import AuditEvent
from sustain.care.models import Patient
from tests.sustain.care.test_services import register

pytestmark = [
    pytest.mark.db,
    # Committed grants, seen by another connection; serialized like the suite's others, so
    # the next transactional test finds the roles and the trail's first event as migrated.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="roles are PostgreSQL's"),
]
ROLE = f"sustain_runtime_test_{os.getpid()}"


@pytest.fixture
def runtime_role():
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN")
    try:
        yield ROLE
    finally:
        connection.close()  # the owner again, from whichever user the test left connected
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {ROLE}")
            cursor.execute(f"DROP ROLE {ROLE}")


def as_role(role: str) -> psycopg.Connection:
    params = connection.settings_dict
    return psycopg.connect(
        host=params["HOST"], port=params["PORT"], dbname=params["NAME"], user=role, autocommit=True
    )


def refused(db: psycopg.Connection, sql: str) -> str:
    with pytest.raises(psycopg.Error) as excinfo:
        db.execute(sql)
    return str(excinfo.value).splitlines()[0]


def test_the_runtime_role_appends_and_reads_but_cannot_rewrite_the_trail(
    runtime_role, north, sam, capsys
):
    call_command("grant_runtime_role", runtime_role)
    call_command("grant_runtime_role", runtime_role)  # again: the same grants
    out = capsys.readouterr().out
    assert "read and append only on 7 append-only tables (accounts_auditevent, ledger_count" in out

    # The application, connected as the runtime role: an audited service write works.
    owner = connection.settings_dict["USER"]
    connection.close()
    connection.settings_dict["USER"] = runtime_role
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (runtime_role,)
        patient = register(north, sam)
        created = AuditEvent.objects.get(patient_id=patient.pk, action="create")
        assert (created.lane, created.seq) == (north.pk, 1)  # North's lane: its head made here
        assert verify_chain().ok
    finally:
        connection.close()
        connection.settings_dict["USER"] = owner

    with as_role(runtime_role) as db:
        assert db.execute("SELECT count(*) FROM accounts_auditevent").fetchone()[0] >= 2
        assert refused(db, "UPDATE accounts_auditevent SET reason = 'x'") == (
            "permission denied for table accounts_auditevent"
        )
        assert refused(db, "DELETE FROM accounts_auditevent") == (
            "permission denied for table accounts_auditevent"
        )
        assert refused(db, "TRUNCATE accounts_auditevent CASCADE") == (
            "permission denied for table accounts_auditevent"
        )
        assert refused(db, "ALTER TABLE accounts_auditevent DISABLE TRIGGER ALL") == (
            "must be owner of table accounts_auditevent"
        )
        assert refused(db, "DELETE FROM ledger_ledgerentry") == (
            "permission denied for table ledger_ledgerentry"
        )
        assert refused(db, "SET session_replication_role = replica") == (
            'permission denied to set parameter "session_replication_role"'
        )
        db.execute("UPDATE care_patient SET phone = phone")  # ordinary tables: normal DML
    assert Patient.objects.count() == 1
    assert verify_chain().ok


def test_grant_runtime_role_refuses_a_missing_role_and_the_owner():
    with pytest.raises(CommandError, match="no PostgreSQL role named 'nobody_here'"):
        call_command("grant_runtime_role", "nobody_here")
    with pytest.raises(CommandError, match="superuser or the owner"):
        call_command("grant_runtime_role", connection.settings_dict["USER"])
