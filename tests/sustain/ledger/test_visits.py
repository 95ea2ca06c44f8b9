"""A visit in the ledger (issue 12, items 2-3 and 6): administering what was drawn, reversing
an administration at the chair, and the one reckoning of a visit (drawn = administered +
wasted per container) that the chair, the signature and the day board read. Every refusal
saves nothing."""

from decimal import Decimal

import pytest

from sustain.ledger import services
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import ContainerBalance, LedgerEntry
from sustain.ledger.visits import open_visits, visit_ledger, witness_choices
from sustain_core.errors import ClinicalValueError, InsufficientStock, OutOfRange
from tests.sustain.ledger.conftest import MONDAY, PASSWORD
from tests.sustain.ledger.test_services import at_visit, balance, draw, snapshot, waste

pytestmark = pytest.mark.db


def administer(container, visit, by, mg: str = "35"):
    return services.administer_for_visit(
        appointment=visit, container=container, quantity_mg=Decimal(mg), by=by,
        now=at_visit(visit.site, 40),
    )  # fmt: skip


def test_administer_records_what_was_given_without_changing_the_balance(vials, visit, ben):
    draw(vials[0], visit, ben, "35")
    entry = administer(vials[0], visit, ben, "20")
    assert (entry.kind, entry.quantity_mg, entry.quantity_ml, entry.change_mg, entry.actor) == (
        EntryKind.ADMINISTER, Decimal("20"), Decimal("0.4"), Decimal(0), ben,
    )  # fmt: skip
    assert balance(vials[0]) == (Decimal("465"), Decimal("9.3"))
    (line,) = visit_ledger(visit).lines
    assert (line.drawn_mg, line.administered_mg, line.wasted_mg, line.open_mg) == (
        Decimal("35"), Decimal("20"), Decimal(0), Decimal("15"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("container", "mg", "error", "message"),
    [
        (0, "30.01", InsufficientStock, "30 mg drawn from container lot K123 #1 for this visit is "
         "not yet given or wasted; 30.01 mg cannot be recorded as given"),
        (1, "5", ClinicalValueError, "nothing was drawn from container lot K123 #2 for this visit"),
        (0, "0", OutOfRange, "the amount must be more than 0 mg; got 0 mg"),
        (0, "1.005", OutOfRange, "record the amount to 0.01 mg at most; got 1.005 mg"),
    ],
    ids=["more-than-open", "not-drawn", "zero", "over-precise"],
)  # fmt: skip
def test_administer_refusals_save_nothing(vials, visit, ben, nia, container, mg, error, message):
    draw(vials[0], visit, ben, "35")
    waste(vials[0], visit, ben, nia, "5")
    before = snapshot()
    with pytest.raises(error) as refused:
        administer(vials[container], visit, ben, mg)
    assert refused.value.message == message
    assert snapshot() == before


@pytest.mark.parametrize("who", ["sam", "alex", "ivy"])
def test_only_a_nurse_or_a_prescriber_administers_or_reverses(request, vials, visit, ben, who):
    draw(vials[0], visit, ben, "35")
    given = administer(vials[0], visit, ben)
    user = request.getfixturevalue(who)
    before = snapshot()
    with pytest.raises(ClinicalValueError, match="only a nurse or a prescriber may do this"):
        administer(vials[0], visit, user, "1")
    with pytest.raises(ClinicalValueError, match="only a nurse or a prescriber may do this"):
        services.reverse_administration(
            entry=given, reason="x", by=user, now=at_visit(visit.site, 41)
        )
    assert snapshot() == before


def test_reversing_an_administration_counts_it_as_not_given_again(vials, visit, ben):
    draw(vials[0], visit, ben, "35")
    given = administer(vials[0], visit, ben)
    assert visit_ledger(visit).closed
    correction = services.reverse_administration(
        entry=given, reason="ended by mistake", by=ben, now=at_visit(visit.site, 41)
    )
    assert (correction.kind, correction.reverses, correction.needs_review) == (
        EntryKind.CORRECTION, given, False,
    )  # fmt: skip
    assert (visit_ledger(visit).open_mg, balance(vials[0])) == (
        Decimal("35"), (Decimal("465"), Decimal("9.3")),
    )  # fmt: skip
    before = snapshot()
    with pytest.raises(ClinicalValueError, match=f"entry {given.seq} is already corrected"):
        services.reverse_administration(
            entry=given, reason="again", by=ben, now=at_visit(visit.site, 42)
        )
    with pytest.raises(ClinicalValueError, match="enter why the administration is reversed"):
        services.reverse_administration(
            entry=LedgerEntry.objects.get(kind=EntryKind.DRAW), reason=" ", by=ben,
            now=at_visit(visit.site, 42),
        )  # fmt: skip
    assert snapshot() == before


def test_open_visits_name_what_is_left_for_the_day_board(vials, visit, ben, nia):
    assert open_visits(visit.site, MONDAY) == {}
    draw(vials[0], visit, ben, "35")
    assert open_visits(visit.site, MONDAY)[visit.pk].note == (
        "ledger open: 35 mg drawn, not yet given"
    )
    administer(vials[0], visit, ben, "22.5")
    assert open_visits(visit.site, MONDAY)[visit.pk].note == "ledger open: 12.5 mg to waste"
    waste(vials[0], visit, ben, nia, "12.5")
    assert open_visits(visit.site, MONDAY) == {}
    assert visit_ledger(visit).lines[0].witnesses == ["nia"]


def test_witnesses_are_the_sites_other_clinical_staff(north, visit, ben, nia, ada, alex, sam):
    assert list(witness_choices(north, ben)) == [ada, nia]


def test_a_container_drawn_to_its_last_drop_is_exactly_empty(vials, visit, ben):
    """SQLite computes on decimal columns in floating point: without rounding in the UPDATE,
    thirteen draws of 0.73 mL leave 0.499999999999999 mL and refuse the last 0.51 mL."""
    for _ in range(13):
        draw(vials[0], visit, ben, "36.5")
    draw(vials[0], visit, ben, "25.5")
    assert balance(vials[0]) == (Decimal(0), Decimal(0))
    assert ContainerBalance.objects.filter(pk=vials[0].pk, balance_ml=0).exists()
    assert services.balances_match_entries() == []


def test_the_witness_password_is_checked_for_the_chair(vials, visit, ben, nia):
    draw(vials[0], visit, ben, "35")
    waste(vials[0], visit, ben, nia, "35", password=PASSWORD)
    assert visit_ledger(visit).closed
