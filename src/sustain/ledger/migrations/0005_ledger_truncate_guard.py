"""On PostgreSQL the ledger's append-only tables refuse TRUNCATE too (issue 14, AUD-03), with
the audit trail's statement trigger function (accounts 0008: only Django's test databases, on
a connection that asked for it, may empty them)."""

from django.db import migrations

APPEND_ONLY = (
    "ledger_ledgerentry", "ledger_destruction", "ledger_count", "ledger_countline",
    "ledger_inventory", "ledger_inventoryline",
)  # fmt: skip


def refuse_truncate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in APPEND_ONLY:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION sustain_refuse_truncate();"
            )


def refuse_truncate_reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in APPEND_ONLY:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_audit_truncate_guard_refused"),
        ("ledger", "0004_counts_counts"),
    ]

    operations = [migrations.RunPython(refuse_truncate, refuse_truncate_reverse)]
