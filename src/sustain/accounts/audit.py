"""The append-only, hash-chained audit trail.

Every service that writes clinical data, and every read of a patient's record, calls
`record_event` inside its own transaction, so the event commits or rolls back with the data.
Each row is chained to the one before it in its lane (sustain.accounts.chain: HMAC-SHA256
with a key that is not in the database): one lane per site (lane = site id) and lane 0 for
events without a site, so bookings at different sites never wait on each other's audit head
(issue 15). (security-reliability-interop.md §1.3, AUD-01..AUD-04)
"""

from dataclasses import dataclass

from django.db import models
from django.utils import timezone

from sustain.accounts import context
from sustain.accounts.chain import BreakKind, HashChain, check_anchor
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import AuditChainHead, AuditEvent, Site, User

# Who acted when no staff user did (the audit keeps the name in actor_username).
PATIENT_LINK = "patient-link"
WORKER = "worker"
SYSTEM = "sustain"
STARTED = "audit trail started"
CHAIN = HashChain(
    label=b"sustain.audit.v1",
    rows=AuditEvent,
    head=AuditChainHead,
    fields=(
        "seq", "recorded_at", "actor_id", "actor_username", "role", "site_id", "patient_id",
        "action", "category", "object_type", "object_id", "outcome", "reason", "ip",
        "request_id",
    ),
    lanes=True,
)  # fmt: skip


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
    """Append one audit event to its site's lane (lane 0 without a site); joins the caller's
    transaction (or opens one)."""
    request = context.current.get()
    return CHAIN.append(
        AuditEvent(
            lane=site.pk if site is not None else 0,
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
        )
    )


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows_checked: int
    problem: str = ""


def start_trail() -> None:
    """Every install's trail starts with one event (written after `migrate`, and again after
    a test runner's flush), so an empty trail always means its rows were deleted (issue 14).
    Its time is to the second: Django's serialized test rollback writes rows back from JSON,
    which keeps milliseconds only, and an audit row may only be written back unchanged."""
    if not AuditEvent.objects.exists() and not AuditChainHead.objects.filter(last_seq__gt=0):
        CHAIN.append(
            AuditEvent(
                lane=0, recorded_at=timezone.now().replace(microsecond=0), actor_username=SYSTEM,
                action=AuditAction.CREATE, category=DataCategory.AUDIT,
                outcome=AuditOutcome.SUCCESS, reason=STARTED,
            )
        )  # fmt: skip


def verify_chain() -> ChainReport:
    """Walk every lane in order and report the first row that was changed, inserted or
    deleted (naming its site's lane); then compare each lane with its latest signed
    checkpoint (sustain.accounts.chain)."""
    checked, found = CHAIN.verify()
    if found is None and checked == 0:
        return ChainReport(
            False, 0, "the audit trail is empty: it starts with one event at install, so its "
            "rows were deleted",
        )  # fmt: skip
    if found is None:
        anchored = check_anchor(CHAIN)
        return ChainReport(not anchored, checked, anchored)
    row, last = found.row, found.last_seq
    if found.kind == BreakKind.MISSING:
        problem = f"row seq {found.expected_seq} is missing: deleted before row id {row.pk}"
    elif found.kind == BreakKind.INSERTED:
        problem = f"row id {row.pk} (seq {row.seq}) was inserted"
    elif found.kind == BreakKind.MISMATCH:
        problem = f"row seq {row.seq} (id {row.pk}) does not match its hash: changed or inserted"
    elif found.head_seq > last:
        problem = f"rows after seq {last} were deleted (the chain head is at {found.head_seq})"
    elif found.head_seq == 0:
        problem = f"the chain head is missing: rows up to seq {last} have none"
    else:
        problem = f"row seq {last} is past the chain head {found.head_seq}: inserted"
    where = f"site {found.lane}'s lane: " if found.lane else ""
    return ChainReport(False, checked, where + problem)
