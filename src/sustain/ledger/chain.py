"""The ledger's hash chain: the same mechanism as the audit trail's (sustain.accounts.chain),
with its own key label, rows and head, in one lane (lane 0, head pk 1)."""

from dataclasses import dataclass

from sustain.accounts.chain import BreakKind, HashChain, check_anchor
from sustain.ledger.models import LedgerChainHead, LedgerEntry

CHAIN = HashChain(
    label=b"sustain.ledger.v1",
    rows=LedgerEntry,
    head=LedgerChainHead,
    fields=(
        "seq", "kind", "site_id", "container_id", "location_id", "quantity_mg", "quantity_ml",
        "change_mg", "change_ml", "actor_id", "witness_id", "second_witness_id",
        "appointment_id", "reason", "reverses_id", "supplier_id", "invoice_number",
        "registration_id", "transfer_out_id", "destruction_id", "needs_review", "occurred_on",
        "recorded_at",
    ),
)  # fmt: skip


def append(entry: LedgerEntry) -> LedgerEntry:
    """Number, chain and insert `entry`; joins the caller's transaction. Callers change the
    container's balance first, then append: one lock order (balance, chain head, audit head)
    for every writer, so appends cannot deadlock."""
    return CHAIN.append(entry)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries_checked: int
    problem: str = ""


def verify_chain() -> ChainReport:
    """Walk the entries in order; report the first one changed, inserted or deleted."""
    checked, found = CHAIN.verify()
    if found is None:  # and no entries deleted since its latest signed checkpoint
        anchored = check_anchor(CHAIN)
        return ChainReport(not anchored, checked, anchored)
    entry = found.row
    if found.kind == BreakKind.MISSING:
        problem = f"entry seq {found.expected_seq} is missing: deleted before entry id {entry.pk}"
    elif found.kind == BreakKind.INSERTED:
        problem = f"entry id {entry.pk} (seq {entry.seq}) was inserted"
    elif found.kind == BreakKind.MISMATCH:
        problem = (
            f"entry seq {entry.seq} (id {entry.pk}, {entry.kind}) does not match its hash: "
            "changed or inserted"
        )
    else:
        problem = (
            f"the chain head is at seq {found.head_seq} but the entries end at seq "
            f"{found.last_seq}: "
            "entries were deleted or inserted"
        )
    return ChainReport(False, checked, problem)
