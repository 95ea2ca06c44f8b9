"""One mechanism for the project's hash chains: the audit trail (sustain.accounts.audit) and
the controlled-substance ledger (sustain.ledger.chain).

Each row stores HMAC-SHA256(key, previous hash + canonical row). The key is derived from
SUSTAIN_AUDIT_KEY (or SECRET_KEY), which is not in the database, so someone who can edit the
database cannot recompute the chain after changing a row; a per-row sequence also detects
deleted and reordered rows (security-reliability-interop.md §1.3, AUD-01..AUD-04). A chain's
rows have ``seq``, ``prev_hash`` and ``row_hash``; its head row (pk 1) has ``last_seq`` and
``last_hash`` and serializes appends.

Someone who can write to the database could still delete the newest rows and rewind the head
to the row before them: the rest of the chain stays whole. Anchors close that gap (issue 14,
AUD-04): the worker, and `sustain audit-anchor`, append each chain's head as a signed
checkpoint (seq, row hash, time, HMAC with the audit key) to a file outside the database
(SUSTAIN_AUDIT_ANCHOR_PATH), and verification fails when a chain is shorter than its latest
checkpoint or differs at it.
"""

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction

GENESIS_HASH = "0" * 64
CHAINS: dict[str, "HashChain"] = {}  # every chain by its name, for anchoring


@dataclass(frozen=True)
class HashChain:
    """A chain: its key's label, the row model and its head model, and the fields hashed."""

    label: bytes
    rows: type[Any]  # a model with seq, prev_hash and row_hash
    head: type[Any]  # a model with last_seq and last_hash
    fields: tuple[str, ...]

    def __post_init__(self) -> None:
        CHAINS[self.name] = self

    @property
    def name(self) -> str:
        return self.label.decode()

    def _key(self) -> bytes:
        secret = settings.SUSTAIN_AUDIT_KEY
        return hashlib.sha256(self.label + b":" + secret.encode()).digest()

    def _canonical(self, row: models.Model) -> bytes:
        values: dict[str, Any] = {}
        for name in self.fields:
            value = getattr(row, name)
            if isinstance(value, dt.datetime):
                value = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                # The same amount reads back as 35.00 from the database and may be 35 in memory.
                value = format(value.normalize(), "f")
            values[name] = value
        return json.dumps(values, sort_keys=True, separators=(",", ":")).encode()

    def compute_hash(self, row: models.Model, prev_hash: str) -> str:
        return hmac.new(
            self._key(), prev_hash.encode() + self._canonical(row), hashlib.sha256
        ).hexdigest()

    def sign(self, text: str) -> str:
        return hmac.new(self._key(), text.encode(), hashlib.sha256).hexdigest()

    def append(self, row: Any) -> Any:
        """Number, chain and insert ``row``; joins the caller's transaction (or opens one).

        The head row serializes appends: concurrent writers queue here, so each row chains to
        the one committed just before it (PostgreSQL row lock; SQLite's BEGIN IMMEDIATE
        already serializes writers)."""
        with transaction.atomic():
            head, _ = self.head.objects.select_for_update().get_or_create(pk=1)
            row.seq = head.last_seq + 1
            row.prev_hash = head.last_hash
            row.row_hash = self.compute_hash(row, head.last_hash)
            row.save(force_insert=True)
            head.last_seq = row.seq
            head.last_hash = row.row_hash
            head.save(update_fields=["last_seq", "last_hash"])
        return row

    def verify(self) -> tuple[int, "Break | None"]:
        """Walk the rows in order: how many chain correctly, and the first break (None: the
        chain is whole)."""
        expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
        for row in self.rows.objects.order_by("seq").iterator(chunk_size=2000):
            if row.seq > expected_seq:
                return checked, Break(BreakKind.MISSING, row=row, expected_seq=expected_seq)
            if row.seq < expected_seq:
                return checked, Break(BreakKind.INSERTED, row=row)
            if row.prev_hash != prev_hash or row.row_hash != self.compute_hash(row, prev_hash):
                return checked, Break(BreakKind.MISMATCH, row=row)
            prev_hash, expected_seq, checked = row.row_hash, expected_seq + 1, checked + 1
        head = self.head.objects.filter(pk=1).first()
        if head is not None and (head.last_seq, head.last_hash) != (checked, prev_hash):
            return checked, Break(BreakKind.HEAD, head_seq=head.last_seq)
        return checked, None


class BreakKind(StrEnum):
    MISSING = "missing"  # a row before ``row`` was deleted
    INSERTED = "inserted"  # ``row`` was inserted (a sequence already seen)
    MISMATCH = "mismatch"  # ``row`` was changed or inserted (its hash does not match)
    HEAD = "head"  # the rows end elsewhere than the head says: deleted or inserted at the end


@dataclass(frozen=True)
class Break:
    """Where a chain breaks, for its owner to word."""

    kind: BreakKind
    row: Any = None
    expected_seq: int = 0
    head_seq: int = 0


def _anchor_text(chain: str, seq: int, row_hash: str, at: str) -> str:
    return f"{chain}|{seq}|{row_hash}|{at}"


def write_anchors(now: dt.datetime, path: Path | None = None) -> list[dict[str, Any]]:
    """Append one signed checkpoint per chain (its head: seq and row hash) to the anchor file
    (SUSTAIN_AUDIT_ANCHOR_PATH); returns them. The file is append-only JSON lines."""
    path = path or Path(settings.SUSTAIN_AUDIT_ANCHOR_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for chain in CHAINS.values():
        head = chain.head.objects.filter(pk=1).first()
        seq, row_hash = (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)
        at = now.astimezone(dt.UTC).isoformat(timespec="seconds")
        mac = chain.sign(_anchor_text(chain.name, seq, row_hash, at))
        lines.append({"chain": chain.name, "seq": seq, "hash": row_hash, "at": at, "mac": mac})
    with path.open("a", encoding="utf-8") as file:
        for line in lines:
            file.write(json.dumps(line, sort_keys=True) + "\n")
        file.flush()
    return lines


def latest_checkpoint(chain: HashChain, path: Path) -> tuple[dict[str, Any] | None, str]:
    """The chain's latest checkpoint in the anchor file (None: none yet), or a problem with
    the file: a line that is not a checkpoint, or one not signed with the audit key."""
    latest = None
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for number, raw in enumerate(lines, start=1):
        try:
            line = json.loads(raw)
            mine = line["chain"] == chain.name
            text = _anchor_text(line["chain"], int(line["seq"]), line["hash"], line["at"])
            signed = mine and hmac.compare_digest(chain.sign(text), str(line["mac"]))
        except (ValueError, KeyError, TypeError):
            return None, f"anchor file {path} line {number} is not a checkpoint"
        if mine and not signed:
            return None, f"anchor file {path} line {number} is not signed with the audit key"
        if mine:
            latest = line
    return latest, ""


def check_anchor(chain: HashChain, path: Path | None = None) -> str:
    """Compare the chain with its latest checkpoint in the anchor file: "" when the chain
    still holds the anchored row, else one plain sentence saying what is missing or wrong.
    No file, or no checkpoint of this chain yet, is "" (nothing to compare with)."""
    path = path or Path(settings.SUSTAIN_AUDIT_ANCHOR_PATH)
    latest, problem = latest_checkpoint(chain, path)
    if latest is None or int(latest["seq"]) == 0:
        return problem
    seq, at = int(latest["seq"]), latest["at"]
    row = chain.rows.objects.filter(seq=seq).first()
    if row is None:
        last = chain.rows.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        return (
            f"row seq {seq}, anchored at {at}, is missing: the chain ends at seq {last}, so "
            "rows were deleted"
        )
    if row.row_hash != latest["hash"]:
        return (
            f"row seq {seq} differs from its checkpoint anchored at {at}: the chain was rewritten"
        )
    return ""
