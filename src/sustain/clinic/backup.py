"""Encrypted, checksummed backups and verified restores (OPS-01, OPS-02, OPS-03:
security-reliability-interop.md §7; HIPAA 164.308(a)(7)(ii)(A)-(B),(D), 164.312(a)(2)(iv),
(c)(2)).

A backup is a snapshot of the whole database, taken without stopping the clinic:

* SQLite: the online backup API (``sqlite3.Connection.backup``), never a copy of the live
  file (OPS-02); the manifest is read from the snapshot itself, so it matches it exactly.
* PostgreSQL: ``pg_dump --format=custom`` inside a REPEATABLE READ transaction whose snapshot
  it shares (``pg_export_snapshot``), so the manifest and the dump see the same rows; the
  connection comes from settings.DATABASES through PG* environment variables (the password
  never on a command line).

The file (format 1)::

    MAGIC | header length (4 bytes) | header JSON | chunks... | SHA-256 of everything before

The header (plain, authenticated) names the format, the vendor, when and a random salt. The
encryption key is HKDF-SHA256(SUSTAIN_BACKUP_KEY, salt); the payload (manifest length,
manifest JSON, then the dump) is cut into chunks of 1 MiB, each sealed with AES-256-GCM
(nonce: the chunk's number and a last-chunk flag; associated data: the header), so a changed,
reordered, dropped or truncated chunk is refused and nothing needs to fit in memory. The
trailing SHA-256 is checked first, then every chunk, all before the database is touched
(OPS-03).

A restore goes only into an empty database of the same vendor, then checks the copy: row
counts per table and applied migrations against the manifest, the audit chain
(sustain.accounts.audit.verify_chain, every lane's head) and the ledger chain and balances
(sustain.ledger.chain.verify_chain, sustain.ledger.services.balances_match_entries) with
their heads as backed up, and on SQLite ``PRAGMA integrity_check`` (OPS-01).
"""

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from sustain.accounts.audit import record_event
from sustain.accounts.audit import verify_chain as verify_audit
from sustain.accounts.chain import GENESIS_HASH
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import AuditChainHead
from sustain.ledger.chain import verify_chain as verify_ledger
from sustain.ledger.models import LedgerChainHead
from sustain.ledger.services import balances_match_entries

MAGIC = b"SUSTBAK1"
FORMAT = 1
CHUNK = 1 << 20  # plaintext bytes per sealed chunk
TAG = 16  # AES-GCM tag
DIGEST = 32  # the trailing SHA-256
VENDORS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# libpq settings that may appear in DATABASES OPTIONS, passed to pg_dump/pg_restore as PG* vars.
LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


class BackupRefused(Exception):
    """Nothing was written or restored; the message says why, in one line."""


# --- the key ---------------------------------------------------------------------------------


def new_key() -> str:
    """A fresh SUSTAIN_BACKUP_KEY: 32 random bytes in URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def backup_key() -> bytes:
    """SUSTAIN_BACKUP_KEY from the environment (settings), refused when missing or malformed."""
    raw = getattr(settings, "SUSTAIN_BACKUP_KEY", "").strip()
    if not raw:
        raise BackupRefused(
            "SUSTAIN_BACKUP_KEY is not set: backups are always encrypted (make a key with "
            "`sustain backup --new-key` and keep it apart from the backups)"
        )
    try:
        key = base64.urlsafe_b64decode(raw.encode())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise BackupRefused(
            "SUSTAIN_BACKUP_KEY must be 32 random bytes in URL-safe base64 (44 characters; "
            "make one with `sustain backup --new-key`)"
        )
    return key


def _file_key(key: bytes, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"sustain.backup.v1")
    return AESGCM(derived.derive(key))


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


# --- what a snapshot holds ---------------------------------------------------------------------


def _facts(cursor: Any, tables: list[str], quote: Callable[[str], str]) -> dict[str, Any]:
    """The manifest's checkable facts, read through a DB-API cursor on the snapshot."""
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - quoted table name
        counts[table] = cursor.fetchone()[0]
    migrations: list[str] = []
    if "django_migrations" in counts:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        migrations = [f"{app}.{name}" for app, name in cursor.fetchall()]
    # Every lane's head by lane (str: JSON keys); the ledger's one head (pk 1) is lane 0.
    lanes: dict[str, dict[str, dict[str, Any]]] = {}
    for label, model in (("audit_lanes", AuditChainHead), ("ledger_lanes", LedgerChainHead)):
        table, lanes[label] = model._meta.db_table, {}
        if table in counts:
            # SELECT *: a backup from before audit lanes has no lane column (all lane 0).
            cursor.execute(f"SELECT * FROM {quote(table)} ORDER BY id")  # noqa: S608
            names = [column[0] for column in cursor.description]
            for values in cursor.fetchall():
                row = dict(zip(names, values, strict=True))
                if "lane" in row or row["id"] == 1:
                    head = {"seq": row["last_seq"], "hash": row["last_hash"]}
                    lanes[label][str(row.get("lane", 0))] = head
    genesis = {"seq": 0, "hash": GENESIS_HASH}
    return {
        "tables": counts,
        "migrations": migrations,
        "audit_head": lanes["audit_lanes"].get("0", genesis),
        "ledger_head": lanes["ledger_lanes"].get("0", genesis),
        "audit_lanes": lanes["audit_lanes"],
    }


def _sqlite_snapshot(source: str, dump: Path) -> dict[str, Any]:
    """Copy the live database with the online backup API (one step: a consistent snapshot
    while writers go on, OPS-02) and read the manifest from the copy."""
    if source in {"", ":memory:"} or not Path(source).is_file():
        raise BackupRefused(f"there is no SQLite database file to back up at {source or '(none)'}")
    live = sqlite3.connect(source, timeout=20)
    copy = sqlite3.connect(dump)
    try:
        live.backup(copy)
        cursor = copy.cursor()
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        tables = [row[0] for row in cursor.fetchall()]
        return _facts(cursor, tables, _quote_sqlite)
    finally:
        copy.close()
        live.close()


def _quote_sqlite(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    """pg_dump/pg_restore's connection, by environment variables (PGPASSWORD among them)."""
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if settings_dict.get(key):
            env[var] = str(settings_dict[key])
    env.pop("PGPASSWORD", None)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    for option, var in LIBPQ_OPTIONS.items():
        if option in settings_dict.get("OPTIONS", {}):
            env[var] = str(settings_dict["OPTIONS"][option])
    env["PGDATABASE"] = settings_dict["NAME"]
    return env


def _pg_connect(settings_dict: dict[str, Any]) -> Any:
    import psycopg  # noqa: PLC0415 - only with PostgreSQL

    params = {
        "dbname": settings_dict["NAME"],
        "user": settings_dict.get("USER") or None,
        "password": settings_dict.get("PASSWORD") or None,
        "host": settings_dict.get("HOST") or None,
        "port": settings_dict.get("PORT") or None,
    }
    options = settings_dict.get("OPTIONS", {})
    params.update({key: options[key] for key in LIBPQ_OPTIONS if key in options})
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None})


def _run(command: list[str], env: dict[str, str], doing: str) -> None:
    if shutil.which(command[0]) is None:
        raise BackupRefused(f"{command[0]} is not installed: it is needed to {doing}")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        detail = " ".join((done.stderr or done.stdout).split())[:300]
        raise BackupRefused(f"{command[0]} failed to {doing}: {detail}")


def _postgres_snapshot(settings_dict: dict[str, Any], dump: Path) -> dict[str, Any]:
    """pg_dump in the snapshot of a REPEATABLE READ transaction that also reads the
    manifest, so both see the same committed rows while writers go on."""
    import psycopg  # noqa: PLC0415 - only with PostgreSQL

    with _pg_connect(settings_dict) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            tables = [row[0] for row in cursor.fetchall()]
            facts = _facts(cursor, tables, _quote_pg)
            _run(
                ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dump}"],
                _pg_env(settings_dict),
                "dump the database",
            )
    return facts


def _quote_pg(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- writing and reading the file ------------------------------------------------------------


class _Sealer:
    """Seal plaintext into numbered chunks, written to `out` while hashing everything."""

    def __init__(self, out: IO[bytes], header: bytes, key: bytes, salt: bytes) -> None:
        self.out, self.header, self.aead = out, header, _file_key(key, salt)
        self.digest = hashlib.sha256()
        self.buffer = b""
        self.counter = 0
        self._emit(MAGIC + struct.pack(">I", len(header)) + header)

    def _emit(self, data: bytes) -> None:
        self.digest.update(data)
        self.out.write(data)

    def _seal(self, plain: bytes, last: bool) -> None:
        sealed = self.aead.encrypt(_nonce(self.counter, last), plain, self.header)
        self._emit(struct.pack(">I", len(sealed)) + sealed)
        self.counter += 1

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) > CHUNK:
            self._seal(self.buffer[:CHUNK], last=False)
            self.buffer = self.buffer[CHUNK:]

    def close(self) -> str:
        self._seal(self.buffer, last=True)
        self.buffer = b""
        checksum = self.digest.digest()
        self.out.write(checksum)
        return checksum.hex()


@dataclass
class Opened:
    """A backup file whose checksum and every chunk were verified."""

    header: dict[str, Any]
    manifest: dict[str, Any]
    checksum: str


def _read_header(handle: IO[bytes], path: Path) -> tuple[bytes, dict[str, Any]]:
    start = handle.read(len(MAGIC) + 4)
    if len(start) < len(MAGIC) + 4 or start[: len(MAGIC)] != MAGIC:
        raise BackupRefused(f"{path} is not a Sustain backup (format {FORMAT})")
    (size,) = struct.unpack(">I", start[len(MAGIC) :])
    raw = handle.read(size)
    try:
        header = json.loads(raw)
    except ValueError:
        raise BackupRefused(f"{path} is damaged: its header does not read") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupRefused(f"{path} is a backup format this version does not read")
    try:
        header["salt"] = base64.b64decode(str(header.get("salt")), validate=True)
    except (binascii.Error, ValueError):
        header["salt"] = b""
    if len(header["salt"]) != 32:
        raise BackupRefused(f"{path} is damaged: its header does not read")
    return raw, header


def _checksum_ok(path: Path) -> str:
    """The trailing SHA-256 against the file's bytes: a changed byte is refused here."""
    size = path.stat().st_size
    if size < len(MAGIC) + 4 + DIGEST:
        raise BackupRefused(f"{path} is too short to be a backup (truncated?)")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        left = size - DIGEST
        while left:
            block = handle.read(min(CHUNK, left))
            digest.update(block)
            left -= len(block)
        stored = handle.read(DIGEST)
    if not secrets.compare_digest(digest.digest(), stored):
        raise BackupRefused(
            f"{path} fails its SHA-256 checksum: the file was changed or damaged; nothing "
            "was restored"
        )
    return stored.hex()


def _chunks(handle: IO[bytes], end: int, aead: AESGCM, header: bytes) -> Iterator[bytes]:
    counter = 0
    while True:
        raw = handle.read(4)
        if len(raw) < 4:
            raise BackupRefused("the backup ends early (truncated); nothing was restored")
        (size,) = struct.unpack(">I", raw)
        if size > CHUNK + TAG:
            raise BackupRefused("the backup is damaged (a chunk too large); nothing was restored")
        sealed = handle.read(size)
        last = handle.tell() == end
        if len(sealed) < size or handle.tell() > end:
            raise BackupRefused("the backup ends early (truncated); nothing was restored")
        try:
            yield aead.decrypt(_nonce(counter, last), sealed, header)
        except InvalidTag:
            raise BackupRefused(
                "the backup does not open with this SUSTAIN_BACKUP_KEY (a wrong key, or the "
                "file was changed); nothing was restored"
            ) from None
        if last:
            return
        counter += 1


def open_backup(path: Path, key: bytes, dump: Path) -> Opened:
    """Check the checksum, then decrypt and authenticate every chunk into `dump` (a private
    temporary file); return the header and manifest. Refused at the first doubt."""
    if not path.is_file():
        raise BackupRefused(f"there is no backup file at {path}")
    checksum = _checksum_ok(path)
    end = path.stat().st_size - DIGEST
    with path.open("rb") as handle, dump.open("wb") as out:
        raw_header, header = _read_header(handle, path)
        salt = header["salt"]
        pending = b""
        manifest: dict[str, Any] | None = None
        for plain in _chunks(handle, end, _file_key(key, salt), raw_header):
            if manifest is not None:
                out.write(plain)
                continue
            pending += plain  # the manifest first: its length (8 bytes), then its JSON
            size = struct.unpack(">Q", pending[:8])[0] if len(pending) >= 8 else -1
            if 0 <= size <= len(pending) - 8:
                manifest = json.loads(pending[8 : 8 + size])
                out.write(pending[8 + size :])
    if manifest is None:
        raise BackupRefused(f"{path} is damaged: it holds no manifest")
    return Opened(header, manifest, checksum)


def _write_atomically(target: Path, fill: Callable[[IO[bytes]], str]) -> str:
    """Write through a 0600 temporary file beside `target`, fsync, then rename over."""
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            checksum = fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return checksum


# --- backup ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupDone:
    path: Path
    vendor: str
    size: int
    checksum: str
    manifest: dict[str, Any]


def vendor_of(alias: str = "default") -> str:
    vendor = connections[alias].vendor
    if vendor not in VENDORS:
        raise BackupRefused(f"backups support SQLite and PostgreSQL, not {vendor}")
    return vendor


def create_backup(target: Path, *, now: dt.datetime, alias: str = "default") -> BackupDone:
    """Snapshot the database, seal it into `target` (0600, written atomically). OPS-01..03."""
    key = backup_key()
    target = target.absolute()
    if target.exists():
        raise BackupRefused(f"{target} already exists: give each backup a new name")
    if not target.parent.is_dir():
        raise BackupRefused(f"there is no folder {target.parent} to write the backup into")
    vendor = vendor_of(alias)
    settings_dict = connections[alias].settings_dict
    with tempfile.TemporaryDirectory(prefix=".sustain-backup-", dir=target.parent) as work:
        dump = Path(work) / "dump"
        if vendor == "sqlite":
            facts = _sqlite_snapshot(str(settings_dict["NAME"]), dump)
        else:
            facts = _postgres_snapshot(settings_dict, dump)
        created = now.astimezone(dt.UTC).isoformat(timespec="seconds")
        manifest = {"format": FORMAT, "vendor": vendor, "created_at": created, **facts}
        manifest["dump_bytes"] = dump.stat().st_size
        salt = secrets.token_bytes(32)
        header = json.dumps(
            {
                "format": FORMAT,
                "vendor": vendor,
                "created_at": created,
                "salt": base64.b64encode(salt).decode(),
            },
            sort_keys=True,
        ).encode()
        encoded = json.dumps(manifest, sort_keys=True).encode()

        def fill(handle: IO[bytes]) -> str:
            sealer = _Sealer(handle, header, key, salt)
            sealer.write(struct.pack(">Q", len(encoded)) + encoded)
            with dump.open("rb") as source:
                while block := source.read(CHUNK):
                    sealer.write(block)
            return sealer.close()

        checksum = _write_atomically(target, fill)
    # Every patient's record left the database: the live trail says so (after the snapshot,
    # so the backup itself does not hold this event).
    record_event(
        actor=None,
        username="sustain backup",
        action=AuditAction.EXPORT,
        category=DataCategory.PATIENT_RECORD,
        reason="whole-database backup (encrypted)",
    )
    return BackupDone(target, vendor, target.stat().st_size, checksum, manifest)


# --- restore ---------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def check(self, holds: bool, good: str, bad: str) -> None:
        self.lines.append(("OK    " if holds else "FAIL  ") + (good if holds else bad))
        if not holds:
            self.problems.append(bad)


def _tables(alias: str) -> list[str]:
    with connections[alias].cursor() as cursor:
        return connections[alias].introspection.table_names(cursor)


def restore_backup(source: Path, *, alias: str = "default") -> RestoreReport:
    """Restore `source` into the empty database `alias` and verify the copy (OPS-01, OPS-03).

    Refused (BackupRefused, nothing changed): no or malformed key, a missing file, a changed
    byte (checksum, then each chunk's authentication), a backup of another vendor, or a
    database that already has tables."""
    key = backup_key()
    source = source.absolute()
    connection = connections[alias]
    vendor = vendor_of(alias)
    with tempfile.TemporaryDirectory(prefix="sustain-restore-") as work:
        dump = Path(work) / "dump"
        opened = open_backup(source, key, dump)
        made = opened.manifest.get("vendor")
        if made != vendor or opened.header.get("vendor") != vendor:
            raise BackupRefused(
                f"this backup was made from {VENDORS.get(str(made), made)} and this install "
                f"uses {VENDORS[vendor]}: a backup restores only into the same kind of database"
            )
        if present := _tables(alias):
            raise BackupRefused(
                f"the database {connection.settings_dict['NAME']} is not empty "
                f"({len(present)} tables): restore only into a new, empty database"
            )
        connection.close()
        if vendor == "sqlite":
            copy = sqlite3.connect(dump)
            live = sqlite3.connect(connection.settings_dict["NAME"], timeout=20)
            try:
                copy.backup(live)
            finally:
                live.close()
                copy.close()
        else:
            _run(
                [
                    "pg_restore", "--no-owner", "--exit-on-error", "--single-transaction",
                    f"--dbname={connection.settings_dict['NAME']}", str(dump),
                ],
                _pg_env(connection.settings_dict),
                "restore the database",
            )  # fmt: skip
    return verify_restored(opened, alias)


def verify_restored(opened: Opened, alias: str = "default") -> RestoreReport:
    """Check the restored database against the backup's manifest (OPS-01)."""
    manifest = opened.manifest
    report = RestoreReport()
    report.lines.append(
        f"backup of {manifest['created_at']} ({VENDORS[manifest['vendor']]}, "
        f"SHA-256 {opened.checksum[:16]}...) checksum and encryption verified"
    )
    connection = connections[alias]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA integrity_check")
            found = [row[0] for row in cursor.fetchall()]
        report.check(
            found == ["ok"],
            "SQLite integrity_check: ok",
            f"SQLite integrity_check: {'; '.join(found[:3])}",
        )
    else:
        report.lines.append(
            "OK    PostgreSQL: pg_restore rebuilt every constraint, index and trigger in one "
            "transaction"
        )
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        facts = _facts(cursor, _tables(alias), quote)
    expected: dict[str, int] = manifest["tables"]
    differ = [
        f"{table} {facts['tables'].get(table, 'missing')} (backup {count})"
        for table, count in expected.items()
        if facts["tables"].get(table) != count
    ] + [f"{table} is not in the backup" for table in facts["tables"] if table not in expected]
    report.check(
        not differ,
        f"row counts: {len(expected)} tables, {sum(expected.values())} rows, as backed up",
        "row counts differ: " + "; ".join(differ[:5]),
    )
    report.check(
        facts["migrations"] == manifest["migrations"],
        f"migrations: {len(manifest['migrations'])} applied, as backed up",
        "applied migrations differ from the backup's",
    )
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    unknown = sorted(
        f"{app}.{name}"
        for app, name in executor.loader.applied_migrations
        if (app, name) not in executor.loader.graph.nodes
    )
    report.check(
        not unknown,
        "migrations: all known to this version"
        + (f" ({len(pending)} newer ones to apply: run `sustain migrate`)" if pending else ""),
        f"the backup has migrations this version does not know ({', '.join(unknown[:3])}): "
        "restore it with the version that made it",
    )
    audit = verify_audit()
    report.check(
        audit.ok
        and facts["audit_head"] == manifest["audit_head"]
        # A backup from before audit lanes names lane 0's head only.
        and facts["audit_lanes"] == manifest.get("audit_lanes", facts["audit_lanes"]),
        f"audit chain: {audit.rows_checked} events verified, head as backed up",
        f"audit chain: {audit.problem or 'its head differs from the backup'}"
        + (
            " (is SUSTAIN_AUDIT_KEY/SUSTAIN_SECRET_KEY the one the backup was made with?)"
            if not audit.ok
            else ""
        ),
    )
    ledger = verify_ledger()
    report.check(
        ledger.ok and facts["ledger_head"] == manifest["ledger_head"],
        f"ledger chain: {ledger.entries_checked} entries verified, head as backed up",
        f"ledger chain: {ledger.problem or 'its head differs from the backup'}",
    )
    unbalanced = balances_match_entries()
    report.check(
        not unbalanced,
        "ledger balances: every container's balance equals the sum of its entries",
        "ledger balances: " + "; ".join(unbalanced[:3]),
    )
    return report
