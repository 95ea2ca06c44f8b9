from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

# The append-only tables are the ones the TRUNCATE guard protects (accounts migration 0008,
# ledger 0005): the database says which, so a new one needs no change here.
APPEND_ONLY_TABLES = """
SELECT DISTINCT c.relname FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
WHERE p.proname = 'sustain_refuse_truncate' ORDER BY c.relname
"""


class Command(BaseCommand):
    help = (
        "PostgreSQL: grant ROLE what the running application needs and no more (issue 14, "
        "AUD-03). The database owner runs this after `migrate`; the application then connects "
        "as ROLE: SELECT and INSERT only on the audit trail and the ledger's append-only "
        "tables, SELECT/INSERT/UPDATE/DELETE on the others, never TRUNCATE, never owner (so it "
        "cannot switch a trigger off). Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="an existing PostgreSQL role, not the owner")

    def handle(self, *args: Any, **options: Any) -> None:
        role = options["role"]
        if connection.vendor != "postgresql":
            raise CommandError("grant-runtime-role is for PostgreSQL; SQLite has no roles")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = %s",
                [role],
            )
            found = cursor.fetchone()
            if found is None:
                raise CommandError(f"no PostgreSQL role named {role!r}: create it first")
            if found[0] or found[1]:
                raise CommandError(
                    f"{role!r} is a superuser or the owner running this: the runtime role must "
                    "be another, unprivileged role"
                )
            cursor.execute(APPEND_ONLY_TABLES)
            append_only = [name for (name,) in cursor.fetchall()]
            if not append_only:
                raise CommandError("the append-only tables are missing: run `sustain migrate`")
            quote = connection.ops.quote_name
            who = quote(role)
            for sql in (
                f"GRANT USAGE ON SCHEMA public TO {who}",
                f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {who}",
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
                *(f"REVOKE UPDATE, DELETE ON {quote(t)} FROM {who}" for t in append_only),
            ):
                cursor.execute(sql)
        self.stdout.write(
            f"{role}: read and write on the application's tables; read and append only on "
            f"{len(append_only)} append-only tables ({', '.join(append_only)})"
        )
