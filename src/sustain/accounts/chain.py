"""One mechanism for the project's hash chains: the audit trail (sustain.accounts.audit) and
the controlled-substance ledger (sustain.ledger.chain).

Each row stores HMAC-SHA256(key, previous hash + canonical row). The key is derived from
SUSTAIN_AUDIT_KEY (or SECRET_KEY), which is not in the database, so someone who can edit the
database cannot recompute the chain after changing a row; a per-row sequence also detects
deleted and reordered rows (security-reliability-interop.md §1.3, AUD-01..AUD-04). A chain's
rows have ``seq``, ``prev_hash`` and ``row_hash``; its head row has ``last_seq`` and
``last_hash`` and serializes appends.

Lanes (issue 15): a chain may be a set of independent chains, one per ``lane`` (the audit
trail: one per site, lane 0 for events without a site), each with its own head row, so appends
in different lanes lock different rows and never wait on each other (on PostgreSQL; SQLite
serializes every writer anyway). ``seq`` numbers each lane from 1. Each lane ≠ 0 has its own
HMAC key, derived from the chain's key and the lane number; lane 0 keeps the chain's key, so
rows written before lanes still verify. A row moved to another lane therefore no longer
matches its hash there. A chain without lanes (the ledger) is lane 0 only, head pk 1.
Deadlocks: lanes only add one, two transactions each holding one lane and waiting for the
other's. The one writer that appends in two lanes, a container moved to another site
(sustain.ledger.services), takes the ledger's head first, so such writers queue there before
they reach a lane.

Someone who can write to the database could still delete the newest rows and rewind the head
to the row before them: the rest of the chain stays whole. Anchors close that gap (issue 14,
AUD-04): the worker, and `sustain audit-anchor`, append each chain lane's head as a signed
checkpoint (seq, row hash, time, HMAC with the audit key) to a file outside the database
(SUSTAIN_AUDIT_ANCHOR_PATH), and verification fails when a lane is shorter than its latest
checkpoint or differs at it (a lane deleted whole, rows and head, is caught this way too).
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
    """A chain: its key's label, the row model and its head model, the fields hashed, and
    whether rows and heads have a ``lane`` (one independent chain per lane)."""

    label: bytes
    rows: type[Any]  # a model with seq, prev_hash and row_hash (and lane)
    head: type[Any]  # a model with last_seq and last_hash (and a unique lane)
    fields: tuple[str, ...]
    lanes: bool = False

    def __post_init__(self) -> None:
        CHAINS[self.name] = self

    @property
    def name(self) -> str:
        return self.label.decode()

    def _key(self, lane: int = 0) -> bytes:
        secret = settings.SUSTAIN_AUDIT_KEY
        label = self.label if lane == 0 else self.label + b"#lane" + str(lane).encode()
        return hashlib.sha256(label + b":" + secret.encode()).digest()

    def lane_of(self, row: Any) -> int:
        return int(row.lane) if self.lanes else 0

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
            self._key(self.lane_of(row)), prev_hash.encode() + self._canonical(row), hashlib.sha256
        ).hexdigest()

    def sign(self, text: str) -> str:
        return hmac.new(self._key(), text.encode(), hashlib.sha256).hexdigest()

    def _where(self, lane: int) -> dict[str, int]:
        """The head row of ``lane``."""
        return {"lane": lane} if self.lanes else {"pk": 1}

    def heads(self) -> dict[int, Any]:
        """Every lane's head row, by lane."""
        if self.lanes:
            return {head.lane: head for head in self.head.objects.order_by("lane")}
        head = self.head.objects.filter(pk=1).first()
        return {0: head} if head is not None else {}

    def append(self, row: Any) -> Any:
        """Number, chain and insert ``row`` in its lane; joins the caller's transaction (or
        opens one).

        The lane's head row serializes appends to the lane: concurrent writers to one lane
        queue here, so each row chains to the one committed just before it (PostgreSQL row
        lock; SQLite's BEGIN IMMEDIATE already serializes writers). A lane's first append
        creates its head; two at once are safe: the loser's INSERT fails on the unique lane
        inside a savepoint and it locks the winner's row (get_or_create)."""
        with transaction.atomic():
            head, _ = self.head.objects.select_for_update().get_or_create(
                **self._where(self.lane_of(row))
            )
            row.seq = head.last_seq + 1
            row.prev_hash = head.last_hash
            row.row_hash = self.compute_hash(row, head.last_hash)
            row.save(force_insert=True)
            head.last_seq = row.seq
            head.last_hash = row.row_hash
            head.save(update_fields=["last_seq", "last_hash"])
        return row

    def verify(self) -> tuple[int, "Break | None"]:
        """Walk every lane's rows in order: how many chain correctly, and the first break
        (None: every lane is whole and ends where its head says)."""
        heads = self.heads()
        ends: dict[int, tuple[int, str]] = {}  # each lane's last good seq and row hash
        checked = 0
        order = ("lane", "seq") if self.lanes else ("seq",)
        for row in self.rows.objects.order_by(*order).iterator(chunk_size=2000):
            lane = self.lane_of(row)
            last_seq, prev_hash = ends.get(lane, (0, GENESIS_HASH))
            if row.seq > last_seq + 1:
                return checked, Break(BreakKind.MISSING, row, last_seq + 1, lane=lane)
            if row.seq <= last_seq:
                return checked, Break(BreakKind.INSERTED, row, lane=lane)
            if row.prev_hash != prev_hash or row.row_hash != self.compute_hash(row, prev_hash):
                return checked, Break(BreakKind.MISMATCH, row, lane=lane)
            ends[lane], checked = (row.seq, row.row_hash), checked + 1
        for lane in sorted(set(heads) | set(ends)):
            last_seq, last_hash = ends.get(lane, (0, GENESIS_HASH))
            head = heads.get(lane)
            if head is None and lane != 0 and last_seq > 0:  # lane 0: a chain not started yet
                return checked, Break(BreakKind.HEAD, lane=lane, last_seq=last_seq)
            if head is not None and (head.last_seq, head.last_hash) != (last_seq, last_hash):
                return checked, Break(
                    BreakKind.HEAD, head_seq=head.last_seq, lane=lane, last_seq=last_seq
                )
        return checked, None


class BreakKind(StrEnum):
    MISSING = "missing"  # a row before ``row`` was deleted
    INSERTED = "inserted"  # ``row`` was inserted (a sequence already seen)
    MISMATCH = "mismatch"  # ``row`` was changed or inserted (its hash does not match)
    HEAD = "head"  # the rows end elsewhere than the head says: deleted or inserted at the end


@dataclass(frozen=True)
class Break:
    """Where a chain breaks, for its owner to word: in which lane, and for a HEAD break the
    lane's last good seq (``last_seq``) and where its head is (``head_seq``, 0: no head)."""

    kind: BreakKind
    row: Any = None
    expected_seq: int = 0
    head_seq: int = 0
    lane: int = 0
    last_seq: int = 0


def lane_prefix(lane: int) -> str:
    """How a message names a lane: nothing for lane 0 (the chain as it was before lanes)."""
    return f"lane {lane}: " if lane else ""


def _anchor_text(chain: str, lane: int, seq: int, row_hash: str, at: str) -> str:
    return (
        f"{chain}|{seq}|{row_hash}|{at}" if lane == 0 else f"{chain}|{lane}|{seq}|{row_hash}|{at}"
    )


def write_anchors(now: dt.datetime, path: Path | None = None) -> list[dict[str, Any]]:
    """Append one signed checkpoint per chain lane (its head: seq and row hash) to the anchor
    file (SUSTAIN_AUDIT_ANCHOR_PATH); returns them. The file is append-only JSON lines; a
    lane ≠ 0's line names its ``lane``."""
    path = path or Path(settings.SUSTAIN_AUDIT_ANCHOR_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    at = now.astimezone(dt.UTC).isoformat(timespec="seconds")
    for chain in CHAINS.values():
        heads = {lane: (head.last_seq, head.last_hash) for lane, head in chain.heads().items()}
        for lane, (seq, row_hash) in sorted((heads or {0: (0, GENESIS_HASH)}).items()):
            mac = chain.sign(_anchor_text(chain.name, lane, seq, row_hash, at))
            line = {"chain": chain.name, "seq": seq, "hash": row_hash, "at": at, "mac": mac}
            lines.append(line | ({"lane": lane} if lane else {}))
    with path.open("a", encoding="utf-8") as file:
        for line in lines:
            file.write(json.dumps(line, sort_keys=True) + "\n")
        file.flush()
    return lines


def latest_checkpoints(chain: HashChain, path: Path) -> tuple[dict[int, dict[str, Any]], str]:
    """The chain's latest checkpoint per lane in the anchor file (empty: none yet), or a
    problem with the file: a line that is not a checkpoint, or one not signed with the audit
    key."""
    latest: dict[int, dict[str, Any]] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for number, raw in enumerate(lines, start=1):
        try:
            line = json.loads(raw)
            mine = line["chain"] == chain.name
            lane = int(line.get("lane", 0))
            text = _anchor_text(line["chain"], lane, int(line["seq"]), line["hash"], line["at"])
            signed = mine and hmac.compare_digest(chain.sign(text), str(line["mac"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return {}, f"anchor file {path} line {number} is not a checkpoint"
        if mine and not signed:
            return {}, f"anchor file {path} line {number} is not signed with the audit key"
        if mine:
            latest[lane] = line
    return latest, ""


def check_anchor(chain: HashChain, path: Path | None = None) -> str:
    """Compare each lane with its latest checkpoint in the anchor file: "" when every lane
    still holds its anchored row, else one plain sentence saying what is missing or wrong
    (naming the lane unless it is lane 0). No file, or no checkpoint yet, is "" (nothing to
    compare with)."""
    path = path or Path(settings.SUSTAIN_AUDIT_ANCHOR_PATH)
    latest, problem = latest_checkpoints(chain, path)
    if problem:
        return problem
    for lane, line in sorted(latest.items()):
        seq, at = int(line["seq"]), line["at"]
        if seq == 0:
            continue
        rows = chain.rows.objects.filter(lane=lane) if chain.lanes else chain.rows.objects
        row = rows.filter(seq=seq).first()
        if row is None:
            last = rows.order_by("-seq").values_list("seq", flat=True).first() or 0
            return (
                f"{lane_prefix(lane)}row seq {seq}, anchored at {at}, is missing: the chain "
                f"ends at seq {last}, so rows were deleted"
            )
        if row.row_hash != line["hash"]:
            return (
                f"{lane_prefix(lane)}row seq {seq} differs from its checkpoint anchored at "
                f"{at}: the chain was rewritten"
            )
    return ""
