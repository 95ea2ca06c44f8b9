"""Two counters submit counts of the same location at the same instant, and two
administrators close the same discrepancy at once (issue 12, item 4): real threads, each with
its own database connection, on SQLite and PostgreSQL."""

from decimal import Decimal

import pytest

from sustain.ledger import counts
from sustain.ledger.counts import Amount
from sustain.ledger.models import Count, CountLine, Discrepancy
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user
from tests.sustain.ledger.conftest import MONDAY, PASSWORD
from tests.sustain.scheduling.test_booking import run_together

pytestmark = pytest.mark.db


def short_count(safe, vials, by, confirmer, minute):
    amounts = [
        *(Amount(c.pk, Decimal("10"), "ml") for c in vials[:2]),
        Amount(vials[2].pk, Decimal("9.5"), "ml"),
    ]
    return lambda: counts.submit_count(
        location=safe, amounts=amounts, confirmed_by=confirmer, confirmed_password=PASSWORD,
        by=by, now=build.at(safe.site, MONDAY, 18, minute),
    )  # fmt: skip


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_counts_at_once_both_land_each_with_its_discrepancy(vials, safe, ben, nia, ada):
    results = run_together(
        [short_count(safe, vials, ben, nia, 0), short_count(safe, vials, ada, nia, 1)]
    )

    assert [type(r) for r in results] == [Count, Count]
    assert Count.objects.count() == 2
    assert CountLine.objects.count() == 6
    found = sorted(Discrepancy.objects.values_list("count_id", "container_id", "difference_mg"))
    assert found == sorted((r.pk, vials[2].pk, Decimal("-25")) for r in results)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_administrators_close_one_discrepancy_once(vials, safe, ben, nia, alex, north):
    short_count(safe, vials, ben, nia, 0)()
    recount = counts.submit_count(
        location=safe, amounts=[Amount(c.pk, Decimal("10"), "ml") for c in vials],
        confirmed_by=ben, confirmed_password=PASSWORD, by=nia,
        now=build.at(north, MONDAY, 18, 30),
    )  # fmt: skip
    kim = make_user("kim", "clinic_admin", north)
    discrepancy = Discrepancy.objects.get()

    def close(by):
        return lambda: counts.resolve_discrepancy(
            discrepancy=discrepancy, resolution="found", note=f"found by {by.username}", by=by,
            now=build.at(north, MONDAY, 19), recount=recount,
        )  # fmt: skip

    results = run_together([close(alex), close(kim)])

    closed = [r for r in results if isinstance(r, Discrepancy)]
    refused = [r for r in results if not isinstance(r, Discrepancy)]
    assert len(closed) == 1
    assert [(type(r), r.message) for r in refused] == [
        (ClinicalValueError, "this discrepancy is already closed")
    ]
    discrepancy.refresh_from_db()
    assert discrepancy.resolved_by == closed[0].resolved_by
