"""A refused write is audited as action "write" with outcome "refused" (AUD-02, issue 14), and on PostgreSQL a
statement-level trigger refuses TRUNCATE of the audit trail (AUD-03): row triggers (0001) do
not fire on TRUNCATE, so `sustain flush` used to empty it.

The one exception is the test suite: pytest-django empties PostgreSQL test databases with
TRUNCATE between transactional tests. The trigger lets a TRUNCATE through only in a database
whose name starts with ``test_`` (Django's test databases) *and* on a connection that set
``sustain.test_flush = on`` (tests/sustain/conftest.py does, for its connections). Production
databases are not named ``test_...``, and the runtime role may not TRUNCATE at all
(`sustain grant-runtime-role`).
"""

from django.db import migrations, models

REFUSE_TRUNCATE = """
CREATE OR REPLACE FUNCTION sustain_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF left(current_database(), 5) = 'test_'
       AND coalesce(current_setting('sustain.test_flush', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only (TRUNCATE refused)';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_auditevent_no_truncate
    BEFORE TRUNCATE ON accounts_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION sustain_refuse_truncate();
"""
# An UPDATE that changes nothing changes no audit row; Django's serialized test rollback
# re-saves the rows it found at database creation (the "audit trail started" event) that way.
NO_OP_UPDATE = """
CREATE OR REPLACE FUNCTION sustain_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING MESSAGE = 'audit events are append-only (' || TG_OP || ' refused)';
END;
$$ LANGUAGE plpgsql;
"""
NO_OP_UPDATE_REVERSE = """
CREATE OR REPLACE FUNCTION sustain_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'audit events are append-only (' || TG_OP || ' refused)';
END;
$$ LANGUAGE plpgsql;
"""
REFUSE_TRUNCATE_DROP = """
DROP TRIGGER IF EXISTS accounts_auditevent_no_truncate ON accounts_auditevent;
DROP FUNCTION IF EXISTS sustain_refuse_truncate();
"""


def refuse_truncate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REFUSE_TRUNCATE)
        schema_editor.execute(NO_OP_UPDATE)


def refuse_truncate_reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REFUSE_TRUNCATE_DROP)
        schema_editor.execute(NO_OP_UPDATE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_deliver_backoff_dead_letter"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("create", "Create"),
                    ("read", "Read"),
                    ("update", "Update"),
                    ("delete", "Delete"),
                    ("login", "Login"),
                    ("logout", "Logout"),
                    ("login-failed", "Login Failed"),
                    ("export", "Export"),
                    ("write", "Write"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="outcome",
            field=models.CharField(
                choices=[("success", "Success"), ("denied", "Denied"), ("refused", "Refused")],
                max_length=10,
            ),
        ),
        migrations.RunPython(refuse_truncate, refuse_truncate_reverse),
    ]
