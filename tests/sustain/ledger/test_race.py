"""Twelve nurses draw from one vial at the same instant (issue 12, item 3; INT-07 in
security-reliability-interop.md §6): real threads, each with its own database connection.
A read-modify-write loses updates here (measured, §4.2); the conditional UPDATE does not."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from sustain.ledger import services
from sustain.ledger.chain import verify_chain
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import ContainerBalance, LedgerEntry
from sustain_core.errors import InsufficientStock
from tests.sustain import clinic_builders as build
from tests.sustain.ledger.conftest import MONDAY, PASSWORD, receive
from tests.sustain.scheduling.test_booking import run_together

pytestmark = pytest.mark.db

THREADS = 12


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twelve_concurrent_draws_leave_the_exact_balance(
    registered, safe, supplier, vial_10, alex, visit, ben
):
    # One 200 mg vial (10 mg/mL, 20 mL); twelve draws of 35 mg: exactly five fit (175 mg).
    (vial,) = receive(safe, supplier, vial_10, alex, containers=1)
    now = build.at(visit.site, MONDAY, 8, 30)

    results = run_together(
        [
            lambda: services.draw_for_visit(
                container=vial, appointment=visit, dose_mg=Decimal("35"), by=ben, now=now
            )
        ]
        * THREADS
    )

    drawn = [r for r in results if isinstance(r, LedgerEntry)]
    refused = [r for r in results if not isinstance(r, LedgerEntry)]
    assert len(drawn) == 5
    assert [type(r) for r in refused] == [InsufficientStock] * 7
    row = ContainerBalance.objects.get(pk=vial.pk)
    assert (row.balance_mg, row.balance_ml) == (Decimal("25"), Decimal("2.5"))
    assert LedgerEntry.objects.filter(kind=EntryKind.DRAW).count() == 5
    assert services.balances_match_entries() == []
    report = verify_chain()
    assert (report.ok, report.entries_checked) == (True, 6)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twelve_concurrent_witnessed_wastes_never_exceed_the_draw(
    registered, safe, supplier, vial_10, alex, visit, ben, nia
):
    # 40 mg drawn for the visit; twelve wastes of 5 mg at once, each witnessed by Nia: exactly
    # eight fit, and the visit never shows more wasted than drawn.
    (vial,) = receive(safe, supplier, vial_10, alex, containers=1)
    now = build.at(visit.site, MONDAY, 8, 30)
    services.draw_for_visit(
        container=vial, appointment=visit, dose_mg=Decimal("40"), by=ben, now=now
    )

    results = run_together(
        [
            lambda: services.waste_for_visit(
                appointment=visit,
                container=vial,
                quantity_mg=Decimal("5"),
                witness=nia,
                witness_password=PASSWORD,
                by=ben,
                now=now,
            )
        ]
        * THREADS
    )

    wasted = [r for r in results if isinstance(r, LedgerEntry)]
    refused = [r for r in results if not isinstance(r, LedgerEntry)]
    assert len(wasted) == 8
    assert [type(r) for r in refused] == [InsufficientStock] * 4
    total = LedgerEntry.objects.filter(kind=EntryKind.WASTE).aggregate(mg=Sum("quantity_mg"))
    assert total["mg"] == Decimal("40")
    row = ContainerBalance.objects.get(pk=vial.pk)
    assert (row.balance_mg, row.balance_ml) == (Decimal("160"), Decimal("16"))
    assert verify_chain().ok
