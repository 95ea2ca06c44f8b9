"""INT-04 (security-reliability-interop.md §4.2): on SQLite, writers take the lock at BEGIN
(IMMEDIATE), the journal is WAL and a busy writer waits rather than failing at once."""

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own settings"),
]


def test_sqlite_begins_immediate_in_wal_with_a_busy_timeout(db):
    with connection.cursor() as cursor:
        journal = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        busy_ms = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
    assert connection.transaction_mode == "IMMEDIATE"
    assert (journal, busy_ms) == ("wal", 20_000)
