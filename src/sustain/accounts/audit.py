"""The append-only, hash-chained audit trail.

Every service that writes clinical data, and every read of a patient's record, calls
`record_event` inside its own transaction, so the event commits or rolls back with the data.
Each row stores HMAC-SHA256(key, previous hash + canonical row). The key is derived from
SUSTAIN_AUDIT_KEY (or SECRET_KEY), which is not in the database, so someone who can edit the
database cannot recompute the chain after changing a row.
(security-reliability-interop.md §1.3, AUD-01..AUD-04)
"""

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from sustain.accounts import context
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import AuditChainHead, AuditEvent, Site, User

GENESIS_HASH = "0" * 64
# Who acted when no staff user did (the audit keeps the name in actor_username).
PATIENT_LINK = "patient-link"
WORKER = "worker"
HASHED_FIELDS = (
    "seq", "recorded_at", "actor_id", "actor_username", "role", "site_id", "patient_id",
    "action", "category", "object_type", "object_id", "outcome", "reason", "ip", "request_id",
)  # fmt: skip


def _key() -> bytes:
    secret = getattr(settings, "SUSTAIN_AUDIT_KEY", "") or settings.SECRET_KEY
    return hashlib.sha256(b"sustain.audit.v1:" + secret.encode()).digest()


def _canonical(event: AuditEvent) -> bytes:
    values: dict[str, Any] = {}
    for name in HASHED_FIELDS:
        value = getattr(event, name)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
        values[name] = value
    return json.dumps(values, sort_keys=True, separators=(",", ":")).encode()


def compute_hash(event: AuditEvent, prev_hash: str) -> str:
    return hmac.new(_key(), prev_hash.encode() + _canonical(event), hashlib.sha256).hexdigest()


def record_event(
    *,
    actor: User | None,
    action: AuditAction,
    category: DataCategory,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    site: Site | None = None,
    patient_id: int | None = None,
    obj: models.Model | None = None,
    username: str = "",
    reason: str = "",
) -> AuditEvent:
    """Append one audit event; joins the caller's transaction (or opens one)."""
    request = context.current.get()
    with transaction.atomic():
        # The head row serializes appends: concurrent writers queue here, so each row
        # chains to the one committed just before it (PostgreSQL row lock; SQLite's
        # BEGIN IMMEDIATE already serializes writers).
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        event = AuditEvent(
            seq=head.last_seq + 1,
            recorded_at=timezone.now(),
            actor=actor,
            actor_username=actor.get_username() if actor else username,
            role=",".join(actor.roles) if actor else "",
            site=site,
            patient_id=patient_id,
            action=action,
            category=category,
            object_type=obj._meta.label if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            outcome=outcome,
            reason=reason,
            ip=request.ip,
            request_id=request.request_id,
            prev_hash=head.last_hash,
        )
        event.row_hash = compute_hash(event, head.last_hash)
        event.save(force_insert=True)
        head.last_seq = event.seq
        head.last_hash = event.row_hash
        head.save(update_fields=["last_seq", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows_checked: int
    problem: str = ""


def verify_chain() -> ChainReport:
    """Walk the chain in order and report the first row that was changed, inserted or deleted."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq > expected_seq:
            return ChainReport(
                False,
                checked,
                f"row seq {expected_seq} is missing: deleted before row id {event.pk}",
            )
        if event.seq < expected_seq:
            return ChainReport(False, checked, f"row id {event.pk} (seq {event.seq}) was inserted")
        if event.prev_hash != prev_hash or event.row_hash != compute_hash(event, prev_hash):
            return ChainReport(
                False,
                checked,
                f"row seq {event.seq} (id {event.pk}) does not match its hash: changed or inserted",
            )
        prev_hash = event.row_hash
        expected_seq += 1
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.last_seq, head.last_hash) != (checked, prev_hash):
        if head.last_seq > checked:
            problem = (
                f"rows after seq {checked} were deleted (the chain head is at {head.last_seq})"
            )
        else:
            problem = f"row seq {checked} is past the chain head {head.last_seq}: inserted"
        return ChainReport(False, checked, problem)
    return ChainReport(True, checked)
