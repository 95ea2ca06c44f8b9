"""The demo clinic counts each past open day and leaves one discrepancy to resolve (issue 12,
item 9)."""

import datetime as dt

import pytest

from sustain.ledger import services
from sustain.ledger.chain import verify_chain
from sustain.ledger.models import Count, Discrepancy, Inventory
from tests.sustain.care.test_demo import load_demo

pytestmark = [pytest.mark.db]


def test_demo_counts_each_day_with_one_open_discrepancy(db, settings):
    settings.DEBUG = True
    output = load_demo()

    assert "one open discrepancy" in output
    (open_one,) = Discrepancy.objects.filter(resolution="")
    assert open_one.difference_mg == -5
    assert open_one.count.occurred_on == dt.date(2026, 11, 24)  # the day before the demo's today
    assert Discrepancy.objects.count() == 1
    days = set(Count.objects.values_list("occurred_on", flat=True))
    assert dt.date(2026, 11, 26) not in days  # Thanksgiving: closed
    assert max(days) == dt.date(2026, 11, 24)
    assert all(day.weekday() < 5 for day in days)
    assert Inventory.objects.get().kind == "initial"
    assert verify_chain().ok
    assert services.balances_match_entries() == []
