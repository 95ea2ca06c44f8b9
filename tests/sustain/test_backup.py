"""`sustain backup` and `sustain restore` (OPS-01, OPS-02, OPS-03;
security-reliability-interop.md §7), on whichever database the suite runs on (SQLite, or
PostgreSQL with DATABASE_URL): a clinic seeded through the real services is backed up by the
command in this process, then restored by the real `sustain` command in a child process into
a fresh empty database (SQLite: a new file; PostgreSQL: a new database, dropped after), which
verifies it. Tampering, a wrong or missing key and a non-empty target are refused with exit 2
and change nothing. The backup is taken while a writer thread commits audit events (OPS-02).
"""

import datetime as dt
import hashlib
import io
import os
import secrets
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

import sustain
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import AuditChainHead, AuditEvent
from sustain.care.models import Patient
from sustain.clinic.backup import DIGEST, MAGIC, backup_key, new_key, open_backup
from sustain.ledger.models import LedgerEntry
from tests.sustain import clinic_builders as build

pytestmark = [
    pytest.mark.db,
    # Committed rows: the backup reads the database through its own connection (or pg_dump).
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

KEY = new_key()
MONDAY = dt.date(2026, 11, 30)
SRC = Path(sustain.__file__).resolve().parents[1]


@pytest.fixture
def key(settings: Any) -> str:
    settings.SUSTAIN_BACKUP_KEY = KEY
    return KEY


@pytest.fixture
def clinic(north, pat, ada, ben, sam, alex, stocked) -> None:
    """North with Pat's series booked and the first infusion given: audit events, ledger
    entries (receipt, draw, administration, waste) and balances."""
    friday = dt.date(2026, 11, 27)
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=build.at(north, friday, 10),
        phq9_total=18, gad7_total=12,
    )  # fmt: skip
    visits = build.book_series(
        course, sam, first=build.at(north, MONDAY, 8), now=build.at(north, friday, 11)
    )
    build.give_infusion(visits[0], ben)
    assert LedgerEntry.objects.count() >= 4


@dataclass
class Target:
    """A fresh, empty database for the child `sustain` process to restore into."""

    env: dict[str, str]
    path: Path | None = None  # SQLite
    name: str = ""  # PostgreSQL

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.path is not None:
            if not self.path.exists():
                return []
            db = sqlite3.connect(self.path)
            try:
                return db.execute(sql).fetchall()
            finally:
                db.close()
        with _pg(self.name) as db:
            return db.execute(sql).fetchall()

    def tables(self) -> list[str]:
        if self.path is not None:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        return [row[0] for row in self.query(sql)]


def _pg(dbname: str) -> Any:
    import psycopg  # noqa: PLC0415 - PostgreSQL runs only

    params = connection.settings_dict
    return psycopg.connect(
        dbname=dbname,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        autocommit=True,
    )


def child_env(settings: Any, key: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(SRC),
        SUSTAIN_BACKUP_KEY=key,
        # The chains' key: the restored copy verifies only under the key that made it.
        SUSTAIN_SECRET_KEY=settings.SECRET_KEY,
    )
    return env


@pytest.fixture
def target(tmp_path: Path, settings: Any, key: str) -> Iterator[Target]:
    env = child_env(settings, key)
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        path = tmp_path / "restored.sqlite3"
        env["SUSTAIN_SQLITE_PATH"] = str(path)
        yield Target(env, path=path)
        return
    name = f"sustain_restore_{secrets.token_hex(4)}"
    params = connection.settings_dict
    with _pg("postgres") as db:
        db.execute(f'CREATE DATABASE "{name}"')
    user = params["USER"] or "postgres"
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    env["DATABASE_URL"] = (
        f"postgres://{user}{password}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
        f"/{name}"
    )
    try:
        yield Target(env, name=name)
    finally:
        with _pg("postgres") as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sustain_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "sustain.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def backup(path: Path) -> str:
    out = io.StringIO()
    call_command("backup", str(path), stdout=out)
    return out.getvalue()


def rewrite_checksum(path: Path) -> None:
    data = path.read_bytes()[:-DIGEST]
    path.write_bytes(data + hashlib.sha256(data).digest())


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_backup_restores_into_an_empty_database_and_verifies(clinic, pat, key, tmp_path, target):
    file = tmp_path / "north.sbk"
    audit, ledger = AuditEvent.objects.count(), LedgerEntry.objects.count()
    lane0 = AuditEvent.objects.filter(lane=0).count()  # the backup's event has no site: lane 0
    said = backup(file)
    assert said.startswith(f"backup written: {file} (")
    recorded = AuditEvent.objects.order_by("id").last()
    assert (recorded.lane, recorded.seq, recorded.actor_username, recorded.action) == (
        0,
        lane0 + 1,
        "sustain backup",
        "export",
    )
    assert recorded.category == "patient-record"
    assert (file.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["north.sbk"]  # no temp or dump left
    assert file.read_bytes().startswith(MAGIC)
    assert b"Quinn" not in file.read_bytes()  # encrypted: not even the patient's name

    done = sustain_cli("restore", str(file), env=target.env)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "restore verified: every check holds"
    assert not [line for line in lines if line.startswith("FAIL")]
    assert f"OK    audit chain: {audit} events verified, head as backed up" in lines
    assert f"OK    ledger chain: {ledger} entries verified, head as backed up" in lines
    assert target.query("SELECT family_name FROM care_patient") == [("Quinn",)]
    assert target.query("SELECT COUNT(*) FROM ledger_ledgerentry") == [(ledger,)]
    assert Patient.objects.count() == 1  # the source is as it was
    # Every audit lane's head is in the manifest and restored: North's lane as well as lane 0.
    manifest = open_backup(file, backup_key(), tmp_path / "dump").manifest
    north = AuditChainHead.objects.get(lane=pat.site_id)
    assert manifest["audit_lanes"][str(north.lane)] == {
        "seq": north.last_seq,
        "hash": north.last_hash,
    }
    assert set(manifest["audit_lanes"]) == {"0", str(north.lane)}
    heads = target.query("SELECT lane, last_seq, last_hash FROM accounts_auditchainhead")
    assert (north.lane, north.last_seq, north.last_hash) in heads

    again = sustain_cli("restore", str(file), env=target.env)
    assert again.returncode == 2
    assert len(again.stderr.strip().splitlines()) == 1
    assert "is not empty" in again.stderr
    assert target.query("SELECT COUNT(*) FROM care_patient") == [(1,)]


def test_a_flipped_byte_is_refused_before_the_database_is_touched(clinic, key, tmp_path, target):
    file = tmp_path / "north.sbk"
    backup(file)
    flip(file, file.stat().st_size // 2)

    done = sustain_cli("restore", str(file), env=target.env)

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"sustain restore: refused: {file} fails its SHA-256 checksum: the file was "
        "changed or damaged; nothing was restored"
    ]
    assert target.tables() == []


@pytest.mark.parametrize("where", ["header", "middle", "last chunk"])
def test_a_changed_byte_with_a_recomputed_checksum_fails_authentication(
    clinic, key, tmp_path, where
):
    """Someone who rewrites the checksum still cannot change a byte: each chunk (and the
    header it is bound to) is authenticated (AES-GCM) before anything is restored."""
    file = tmp_path / "north.sbk"
    backup(file)
    size = file.stat().st_size
    at = {"header": len(MAGIC) + 10, "middle": size // 2, "last chunk": size - DIGEST - 5}[where]
    flip(file, at)
    rewrite_checksum(file)
    rows = AuditEvent.objects.count()

    with pytest.raises(CommandError) as refused:
        call_command("restore", str(file))

    assert refused.value.returncode == 2
    assert "nothing was restored" in str(refused.value) or "header" in str(refused.value)
    assert AuditEvent.objects.count() == rows


def test_a_truncated_backup_is_refused(clinic, key, tmp_path):
    file = tmp_path / "north.sbk"
    backup(file)
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])
    rewrite_checksum(file)

    with pytest.raises(CommandError) as refused:
        call_command("restore", str(file))

    assert refused.value.returncode == 2
    assert "nothing was restored" in str(refused.value)


def test_a_wrong_key_is_refused(clinic, key, tmp_path, settings):
    file = tmp_path / "north.sbk"
    backup(file)
    settings.SUSTAIN_BACKUP_KEY = new_key()

    with pytest.raises(CommandError) as refused:
        call_command("restore", str(file))

    assert refused.value.returncode == 2
    assert str(refused.value) == (
        "refused: the backup does not open with this SUSTAIN_BACKUP_KEY (a wrong key, "
        "or the file was changed); nothing was restored"
    )


def test_without_a_key_nothing_is_written_and_the_exit_is_2(clinic, tmp_path, settings):
    env = child_env(settings, "")
    if connection.vendor == "sqlite":
        env["SUSTAIN_SQLITE_PATH"] = str(connection.settings_dict["NAME"])
    file = tmp_path / "north.sbk"

    done = sustain_cli("backup", str(file), env=env)

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "sustain backup: refused: SUSTAIN_BACKUP_KEY is not set: backups are always "
        "encrypted (make a key with `sustain backup --new-key` and keep it apart from the "
        "backups)"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("raw", ["short", "x" * 44, new_key()[:-4]])
def test_a_malformed_key_is_refused(clinic, tmp_path, settings, raw):
    settings.SUSTAIN_BACKUP_KEY = raw
    with pytest.raises(CommandError) as refused:
        backup(tmp_path / "north.sbk")
    assert refused.value.returncode == 2
    assert "SUSTAIN_BACKUP_KEY must be 32 random bytes" in str(refused.value)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_never_overwritten(clinic, key, tmp_path):
    file = tmp_path / "north.sbk"
    file.write_bytes(b"yesterday's backup")
    with pytest.raises(CommandError) as refused:
        backup(file)
    assert refused.value.returncode == 2
    assert str(refused.value) == (f"refused: {file} already exists: give each backup a new name")
    assert file.read_bytes() == b"yesterday's backup"


def test_restoring_into_a_database_with_tables_is_refused(clinic, key, tmp_path):
    file = tmp_path / "north.sbk"
    backup(file)
    rows = AuditEvent.objects.count()
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(file))
    assert refused.value.returncode == 2
    assert "is not empty" in str(refused.value)
    assert AuditEvent.objects.count() == rows


def test_a_backup_taken_while_a_writer_commits_restores_whole(clinic, ada, key, tmp_path, target):
    """OPS-02: the writer thread commits audit events (each chained to the one before) before,
    during and after the backup; the copy is one consistent moment: integrity_check ok (on
    SQLite), every row count as in the manifest, the chain whole up to its head."""
    stop, written = threading.Event(), []
    failures: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set():
                event = record_event(
                    actor=ada, action=AuditAction.READ, category=DataCategory.PATIENT_RECORD
                )
                written.append(event.seq)
        except BaseException as error:  # reported below
            failures.append(error)
        finally:
            connections.close_all()

    base = AuditEvent.objects.filter(lane=0).count()  # the writer's events have no site
    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 20 and writer.is_alive():
            threading.Event().wait(0.01)
        before = len(written)
        file = tmp_path / "north.sbk"
        backup(file)
        during = len(written) - before
        while len(written) < before + during + 20 and writer.is_alive():
            threading.Event().wait(0.01)
    finally:
        stop.set()
        writer.join()
    assert failures == []
    assert during > 0  # the writer committed while the backup ran

    done = sustain_cli("restore", str(file), env=target.env)

    assert done.returncode == 0, done.stdout + done.stderr
    restored = target.query("SELECT MAX(seq) FROM accounts_auditevent WHERE lane = 0")[0][0]
    # Taken mid-stream: every event committed before it, none of those committed after it.
    assert base + before <= restored <= base + before + during + 1
    assert restored < AuditEvent.objects.filter(lane=0).count()
    if target.path is not None:
        assert target.query("PRAGMA integrity_check") == [("ok",)]


def test_a_backup_restores_only_into_the_same_kind_of_database(clinic, key, tmp_path, monkeypatch):
    file = tmp_path / "north.sbk"
    backup(file)
    made = connection.vendor
    other = {"sqlite": "postgresql", "postgresql": "sqlite"}[made]
    monkeypatch.setattr("sustain.clinic.backup.vendor_of", lambda alias="default": other)
    rows = AuditEvent.objects.count()

    with pytest.raises(CommandError) as refused:
        call_command("restore", str(file))

    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    assert refused.value.returncode == 2
    assert str(refused.value) == (
        f"refused: this backup was made from {names[made]} and this install uses "
        f"{names[other]}: a backup restores only into the same kind of database"
    )
    assert AuditEvent.objects.count() == rows
