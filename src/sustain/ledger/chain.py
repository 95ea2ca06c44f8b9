"""The ledger's hash chain, built like the audit trail's (sustain.accounts.audit).

Each entry stores HMAC-SHA256(key, previous hash + canonical entry); the key is derived from
SUSTAIN_AUDIT_KEY (or SECRET_KEY), which is not in the database, so someone who edits an entry
in the database cannot recompute the chain (security-reliability-interop.md §1.3: a per-row
chain also detects deleted and reordered rows).
"""

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from sustain.ledger.models import LedgerChainHead, LedgerEntry

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "kind", "site_id", "container_id", "location_id", "quantity_mg", "quantity_ml",
    "change_mg", "change_ml", "actor_id", "witness_id", "second_witness_id", "appointment_id",
    "reason", "reverses_id", "supplier_id", "invoice_number", "needs_review", "occurred_on",
    "recorded_at",
)  # fmt: skip


def _key() -> bytes:
    secret = getattr(settings, "SUSTAIN_AUDIT_KEY", "") or settings.SECRET_KEY
    return hashlib.sha256(b"sustain.ledger.v1:" + secret.encode()).digest()


def _canonical(entry: LedgerEntry) -> bytes:
    values: dict[str, Any] = {}
    for name in HASHED_FIELDS:
        value = getattr(entry, name)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            # The same amount reads back as 35.00 from the database and may be 35 in memory.
            value = format(value.normalize(), "f")
        values[name] = value
    return json.dumps(values, sort_keys=True, separators=(",", ":")).encode()


def compute_hash(entry: LedgerEntry, prev_hash: str) -> str:
    return hmac.new(_key(), prev_hash.encode() + _canonical(entry), hashlib.sha256).hexdigest()


def append(entry: LedgerEntry) -> LedgerEntry:
    """Number, chain and insert `entry`; joins the caller's transaction. Callers change the
    container's balance first, then append: one lock order (balance, chain head, audit head)
    for every writer, so appends cannot deadlock."""
    with transaction.atomic():
        head, _ = LedgerChainHead.objects.select_for_update().get_or_create(pk=1)
        entry.seq = head.last_seq + 1
        entry.prev_hash = head.last_hash
        entry.row_hash = compute_hash(entry, head.last_hash)
        entry.save(force_insert=True)
        head.last_seq = entry.seq
        head.last_hash = entry.row_hash
        head.save(update_fields=["last_seq", "last_hash"])
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries_checked: int
    problem: str = ""


def verify_chain() -> ChainReport:
    """Walk the entries in order; report the first one changed, inserted or deleted."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for entry in LedgerEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq > expected_seq:
            return ChainReport(
                False,
                checked,
                f"entry seq {expected_seq} is missing: deleted before entry id {entry.pk}",
            )
        if entry.seq < expected_seq:
            return ChainReport(
                False, checked, f"entry id {entry.pk} (seq {entry.seq}) was inserted"
            )
        if entry.prev_hash != prev_hash or entry.row_hash != compute_hash(entry, prev_hash):
            return ChainReport(
                False,
                checked,
                f"entry seq {entry.seq} (id {entry.pk}, {entry.kind}) does not match its hash: "
                "changed or inserted",
            )
        prev_hash = entry.row_hash
        expected_seq += 1
        checked += 1
    head = LedgerChainHead.objects.filter(pk=1).first()
    if head is not None and (head.last_seq, head.last_hash) != (checked, prev_hash):
        return ChainReport(
            False,
            checked,
            f"the chain head is at seq {head.last_seq} but the entries end at seq {checked}: "
            "entries were deleted or inserted",
        )
    return ChainReport(True, checked)
