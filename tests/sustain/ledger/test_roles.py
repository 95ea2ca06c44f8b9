"""Who may do what with the ledger (issue 12, item 7), read from the synced role groups: nurses
and prescribers draw, waste, witness (wastes and destructions), count and view; clinic
administrators receive, transfer, adjust, correct, return, destroy, keep the setup, close
discrepancies, report thefts and losses, record inventories, view and export the dispensing
record; the auditor views and exports it; the scheduler and a member with no role see
nothing."""

import pytest

pytestmark = pytest.mark.db

LEDGER_PERMISSIONS = (
    "view_ledgerentry", "draw_stock", "waste_stock", "witness_waste", "receive_stock",
    "transfer_stock", "adjust_stock", "correct_entry", "return_stock", "destroy_stock",
    "witness_destruction", "change_setup", "report_ledger", "count_stock", "resolve_discrepancy",
    "report_theft_loss", "record_inventory",
)  # fmt: skip


@pytest.mark.parametrize(
    ("persona", "granted"),
    [
        ("ada", {"view_ledgerentry", "draw_stock", "waste_stock", "witness_waste",
                 "witness_destruction", "count_stock"}),
        ("ben", {"view_ledgerentry", "draw_stock", "waste_stock", "witness_waste",
                 "witness_destruction", "count_stock"}),
        ("alex", {"view_ledgerentry", "receive_stock", "transfer_stock", "adjust_stock",
                  "correct_entry", "return_stock", "destroy_stock", "change_setup",
                  "report_ledger", "resolve_discrepancy", "report_theft_loss",
                  "record_inventory"}),
        ("ivy", {"view_ledgerentry", "report_ledger"}),
        ("sam", set()),
        ("nora", set()),
    ],
)  # fmt: skip
def test_ledger_permissions_by_role(persona, granted, request, db):
    user = request.getfixturevalue(persona)
    assert {p for p in LEDGER_PERMISSIONS if user.has_perm(f"ledger.{p}")} == granted
