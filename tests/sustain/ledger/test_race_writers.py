"""Every writer that changes a balance, raced against draws from the same container (issue 12,
item 3: balances exact under concurrency, no lost update, no negative balance; every refusal
names its rule and saves nothing): real threads, each with its own database connection, on
SQLite and PostgreSQL. The 200 mg vial (10 mg/mL, 20 mL) holds five draws of 35 mg, 25 mg
left. Each test prints its outcome (`pytest -s`)."""

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

import pytest
from django.db.models import Sum

from sustain.accounts.models import Membership, Site
from sustain.ledger import services
from sustain.ledger.chain import verify_chain
from sustain.ledger.enums import EntryKind, Rule
from sustain.ledger.models import (
    Container,
    ContainerBalance,
    Destruction,
    LedgerEntry,
    Location,
    Lot,
    SiteRegistration,
)
from sustain_core.errors import ClinicalValueError, InsufficientStock, LedgerRefused
from tests.sustain import clinic_builders as build
from tests.sustain.ledger.conftest import FRIDAY, MONDAY, PASSWORD, receive
from tests.sustain.scheduling.test_booking import run_together

pytestmark = pytest.mark.db

THREADS = 12
VIAL_MG = Decimal("200")
DOSE = Decimal("35")


def shuffle(workers: list) -> None:
    """A fixed order, different from the list's: which thread reaches the database first is
    still the scheduler's."""
    random.Random(THREADS).shuffle(workers)  # noqa: S311 - reproducible test order, not secrets


def assert_exact() -> None:
    """Every balance at least 0 and equal to the sum of its container's entries, each site's
    entries summing to what its locations hold, every transfer between sites whole (both
    halves), and the chain whole."""
    assert not ContainerBalance.objects.filter(balance_mg__lt=0).exists()
    assert not ContainerBalance.objects.filter(balance_ml__lt=0).exists()
    assert services.balances_match_entries() == []
    for site in Site.objects.all():
        entries = LedgerEntry.objects.filter(site=site).aggregate(mg=Sum("change_mg"))["mg"]
        held = ContainerBalance.objects.filter(container__location__site=site).aggregate(
            mg=Sum("balance_mg")
        )["mg"]
        assert (entries or 0) == (held or 0), site.name
    outs = LedgerEntry.objects.filter(kind=EntryKind.TRANSFER, change_mg__lt=0)
    ins = LedgerEntry.objects.filter(kind=EntryKind.TRANSFER, change_mg__gt=0)
    assert sorted(outs.values_list("pk", flat=True)) == sorted(
        ins.values_list("transfer_out_id", flat=True)
    )
    report = verify_chain()
    assert report.ok, report.problem
    assert report.entries_checked == LedgerEntry.objects.count()


def held(container) -> tuple[Decimal, Decimal]:
    row = ContainerBalance.objects.get(pk=container.pk)
    return row.balance_mg, row.balance_ml


def outcome(results: list[object]) -> str:
    """What each thread got, for the report: "5 draw, 7 refused negative_balance"."""
    seen = Counter(
        f"refused {getattr(r, 'rule', r.message)}"
        if isinstance(r, ClinicalValueError)
        else type(r).__name__
        if isinstance(r, Exception)
        else getattr(r, "kind", type(r).__name__)
        for r in results
    )
    return ", ".join(f"{n} {what}" for what, n in sorted(seen.items()))


def draw(vial, visit, ben, dose: Decimal = DOSE):
    return lambda: services.draw_for_visit(
        container=vial, appointment=visit, dose_mg=dose, by=ben,
        now=build.at(visit.site, MONDAY, 8, 30),
    )  # fmt: skip


@pytest.fixture
def vial(registered, safe, supplier, vial_10, alex):
    (container,) = receive(safe, supplier, vial_10, alex, containers=1)
    return container


# -- destruction ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_destruction_racing_eleven_draws_takes_exactly_what_is_left(
    vial, visit, alex, ben, nia, ada
):
    destroy = lambda: services.destroy(  # noqa: E731
        containers=[vial], method="Rendered non-retrievable", place="North Clinic, safe",
        reason="Dropped on the floor", witness=nia, witness_password=PASSWORD,
        second_witness=ada, second_witness_password=PASSWORD, by=alex,
        now=build.at(vial.location.site, MONDAY, 8, 30),
    )  # fmt: skip
    workers = [draw(vial, visit, ben)] * (THREADS - 1) + [destroy]
    shuffle(workers)

    results = run_together(workers)

    print(f"\nOUTCOME destroy vs 11 draws: {outcome(results)}; balance {held(vial)[0]} mg")
    assert [type(r) for r in results].count(Destruction) == 1
    drawn = [r for r in results if isinstance(r, LedgerEntry)]
    (destroyed,) = LedgerEntry.objects.filter(kind=EntryKind.DESTROY)
    # The draws that landed all ran before the destruction, which took what they left.
    assert all(e.seq < destroyed.seq for e in drawn)
    assert destroyed.quantity_mg == VIAL_MG - DOSE * len(drawn)
    assert destroyed.change_mg == -destroyed.quantity_mg
    assert len(drawn) <= 5
    refused = [r for r in results if isinstance(r, Exception)]
    assert [(type(r), r.rule) for r in refused] == [(InsufficientStock, Rule.NEGATIVE_BALANCE)] * (
        THREADS - 1 - len(drawn)
    )
    assert held(vial) == (0, 0)
    assert LedgerEntry.objects.count() == 1 + len(drawn) + 1
    assert_exact()


# -- return to the supplier, transfer between sites: sealed containers only -----------------------

ROUNDS = 4


@pytest.fixture
def sealed(registered, safe, supplier, vial_10, alex):
    """Four sealed 200 mg vials: one per round of a race."""
    return receive(safe, supplier, vial_10, alex, containers=ROUNDS)


@pytest.fixture
def south_safe(south, alex):
    """South Clinic, registered, with its safe; Alex is on its staff too (Ben is not)."""
    Membership.objects.create(user=alex, site=south)
    SiteRegistration.objects.create(site=south, dea_number="BS1234563")
    return Location.objects.create(site=south, name="Safe")


def one_wins(sealing, other) -> tuple[object, object]:
    """Run the writer that needs a sealed container and the other at once: exactly one lands,
    the other is refused (a ClinicalValueError, never a database error)."""
    results = run_together([sealing, other])
    landed = [r for r in results if not isinstance(r, Exception)]
    assert len(landed) == 1, results
    lost = [r for r in results if isinstance(r, Exception)]
    assert isinstance(lost[0], ClinicalValueError), lost
    return results[0], results[1]


def returning(container, supplier, alex):
    return lambda: services.return_to_supplier(
        container=container, supplier=supplier, reference="RA-1", reason="Recalled lot", by=alex,
        now=build.at(container.location.site, MONDAY, 8, 30),
    )  # fmt: skip


def moving(container, to, alex):
    return lambda: services.transfer_container(
        container=container, to=to, by=alex, now=build.at(container.location.site, MONDAY, 8, 30)
    )


def opening(container, ben):
    return lambda: services.open_container(
        container=container, by=ben, now=build.at(container.location.site, MONDAY, 8, 30)
    )


def kinds(container) -> list[str]:
    return list(container.entries.order_by("seq").values_list("kind", flat=True))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_return_racing_a_draw_one_wins(sealed, supplier, visit, alex, ben):
    seen = []
    for container in sealed:
        returned, drawn = one_wins(
            returning(container, supplier, alex), draw(container, visit, ben)
        )
        if isinstance(drawn, LedgerEntry):
            assert (type(returned), returned.rule) == (LedgerRefused, Rule.NOT_SEALED)
            assert held(container)[0] == VIAL_MG - DOSE
            assert kinds(container) == [EntryKind.RECEIVE, EntryKind.DRAW]
        else:
            assert (type(drawn), drawn.rule) == (InsufficientStock, Rule.NEGATIVE_BALANCE)
            assert held(container) == (0, 0)
            assert kinds(container) == [EntryKind.RECEIVE, EntryKind.RETURN]
        seen.append("draw" if isinstance(drawn, LedgerEntry) else "return")
        assert_exact()
    print(f"\nOUTCOME return vs draw, {ROUNDS} rounds: won by {', '.join(seen)}")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_return_racing_an_opening_one_wins(sealed, supplier, alex, ben):
    seen = []
    for container in sealed:
        returned, opened = one_wins(returning(container, supplier, alex), opening(container, ben))
        if isinstance(opened, LedgerEntry):
            assert (type(returned), returned.rule) == (LedgerRefused, Rule.NOT_SEALED)
            assert held(container)[0] == VIAL_MG
            assert kinds(container) == [EntryKind.RECEIVE, EntryKind.OPEN]
        else:
            assert (type(opened), opened.message) == (
                ClinicalValueError, f"container {container} is empty"
            )  # fmt: skip
            assert held(container) == (0, 0)
            assert kinds(container) == [EntryKind.RECEIVE, EntryKind.RETURN]
        seen.append("open" if isinstance(opened, LedgerEntry) else "return")
        assert_exact()
    print(f"\nOUTCOME return vs open, {ROUNDS} rounds: won by {', '.join(seen)}")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_transfer_between_sites_racing_a_draw_one_wins(sealed, south_safe, visit, alex, ben):
    seen = []
    for container in sealed:
        moved, drawn = one_wins(moving(container, south_safe, alex), draw(container, visit, ben))
        transfers = container.entries.filter(kind=EntryKind.TRANSFER)
        if isinstance(drawn, LedgerEntry):
            assert (type(moved), moved.rule) == (LedgerRefused, Rule.NOT_SEALED)
            assert not transfers.exists()
            assert Container.objects.get(pk=container.pk).location.site == visit.site
        else:
            # The container is at South now: drawing it for a visit at North is refused.
            assert (type(drawn), drawn.rule) == (LedgerRefused, Rule.WRONG_SITE)
            assert transfers.count() == 2
            assert Container.objects.get(pk=container.pk).location == south_safe
            assert held(container)[0] == VIAL_MG
        seen.append("draw" if isinstance(drawn, LedgerEntry) else "transfer")
        assert_exact()
    print(f"\nOUTCOME transfer to South vs draw, {ROUNDS} rounds: won by {', '.join(seen)}")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_transfer_between_sites_racing_an_opening_one_wins(sealed, south_safe, alex, ben):
    seen = []
    for container in sealed:
        moved, opened = one_wins(moving(container, south_safe, alex), opening(container, ben))
        transfers = container.entries.filter(kind=EntryKind.TRANSFER)
        if isinstance(opened, LedgerEntry):
            assert (type(moved), moved.rule) == (LedgerRefused, Rule.NOT_SEALED)
            assert not transfers.exists()
            assert opened.site == container.location.site
        else:
            # Ben is on North's staff only; the container is at South now.
            assert (type(opened), opened.message) == (
                ClinicalValueError, "you are not on the staff of South Clinic"
            )  # fmt: skip
            assert transfers.count() == 2
            assert not container.entries.filter(kind=EntryKind.OPEN).exists()
        seen.append("open" if isinstance(opened, LedgerEntry) else "transfer")
        assert_exact()
    print(f"\nOUTCOME transfer to South vs open, {ROUNDS} rounds: won by {', '.join(seen)}")


# -- adjustment and correction --------------------------------------------------------------------


def adjusting(container, alex, change_mg: Decimal):
    return lambda: services.adjust_balance(
        container=container, change_mg=change_mg, reason="broken in the safe", by=alex,
        now=build.at(container.location.site, MONDAY, 8, 30),
    )  # fmt: skip


def correcting(entry, alex):
    return lambda: services.correct_entry(
        entry=entry, reason="recorded in error", by=alex,
        now=build.at(entry.site, MONDAY, 8, 30),
    )  # fmt: skip


def race_with_draws(vial, visit, ben, other) -> tuple[object, list[LedgerEntry], list[object]]:
    """`other` and eleven draws in a shuffled order, at once: its result, the draws landed and
    the draws refused (each for the balance, naming the rule)."""
    workers = [draw(vial, visit, ben)] * (THREADS - 1) + [other]
    order = list(range(THREADS))
    shuffle(order)
    results = run_together([workers[i] for i in order])
    theirs = results[order.index(THREADS - 1)]
    draws = [r for i, r in zip(order, results, strict=True) if i != THREADS - 1]
    drawn = [r for r in draws if isinstance(r, LedgerEntry)]
    refused = [r for r in draws if not isinstance(r, LedgerEntry)]
    assert [(type(r), r.rule) for r in refused] == [
        (InsufficientStock, Rule.NEGATIVE_BALANCE)
    ] * len(refused)
    return theirs, drawn, refused


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_negative_adjustment_racing_eleven_draws_never_goes_below_zero(vial, visit, alex, ben):
    taken = Decimal("100")
    adjusted, drawn, _ = race_with_draws(vial, visit, ben, adjusting(vial, alex, -taken))

    print(
        f"\nOUTCOME adjust -100 mg vs 11 draws: adjustment "
        f"{'landed' if isinstance(adjusted, LedgerEntry) else adjusted.rule}, {len(drawn)} draws "
        f"landed; balance {held(vial)[0]} mg"
    )
    if isinstance(adjusted, LedgerEntry):
        assert len(drawn) <= 2  # 100 + 2 x 35 = 170 <= 200; a third would not fit
    else:
        # Refused only when the draws left less than 100 mg: at least four landed first.
        assert (type(adjusted), adjusted.rule) == (InsufficientStock, Rule.NEGATIVE_BALANCE)
        assert len(drawn) == 5
    expected = VIAL_MG - DOSE * len(drawn) - (taken if isinstance(adjusted, LedgerEntry) else 0)
    assert held(vial) == (expected, expected / 10)
    assert held(vial)[0] < DOSE  # nothing that fitted was refused
    assert_exact()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_correcting_an_addition_racing_eleven_draws_never_goes_below_zero(vial, visit, alex, ben):
    added = services.adjust_balance(
        container=vial, change_mg=Decimal("50"), reason="found in the cart", by=alex,
        now=build.at(vial.location.site, MONDAY, 8),
    )  # fmt: skip
    corrected, drawn, _ = race_with_draws(vial, visit, ben, correcting(added, alex))

    landed = isinstance(corrected, LedgerEntry)
    print(
        f"\nOUTCOME correction of +50 mg vs 11 draws: correction "
        f"{'landed' if landed else corrected.rule}, {len(drawn)} draws landed; "
        f"balance {held(vial)[0]} mg"
    )
    if not landed:
        assert (type(corrected), corrected.rule) == (InsufficientStock, Rule.NEGATIVE_BALANCE)
    expected = VIAL_MG + 50 - DOSE * len(drawn) - (50 if landed else 0)
    assert held(vial)[0] == expected
    assert 0 <= expected < (DOSE if landed else 50)  # nothing that fitted was refused
    assert_exact()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_correcting_a_draw_racing_eleven_draws_gives_back_exactly_once(vial, visit, alex, ben):
    first = draw(vial, visit, ben)()
    corrected, drawn, _ = race_with_draws(vial, visit, ben, correcting(first, alex))

    print(
        f"\nOUTCOME correction of a 35 mg draw vs 11 draws: {type(corrected).__name__}, "
        f"{len(drawn)} draws landed; balance {held(vial)[0]} mg"
    )
    assert isinstance(corrected, LedgerEntry)
    assert corrected.change_mg == DOSE
    # 200 - 35 + 35 back: five draws fit if the correction landed while draws were still
    # trying; four if every draw had already been tried (165 mg holds four). Either way the
    # 35 mg came back exactly once and nothing that fitted was refused.
    assert len(drawn) in (4, 5)
    expected_mg = VIAL_MG - DOSE * len(drawn)
    assert held(vial) == (expected_mg, expected_mg / 10)
    if len(drawn) == 4:
        assert expected_mg == Decimal("60")
    assert_exact()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twelve_corrections_of_one_entry_land_once(vial, alex):
    taken = services.adjust_balance(
        container=vial, change_mg=Decimal("-20"), reason="spilled", by=alex,
        now=build.at(vial.location.site, MONDAY, 8),
    )  # fmt: skip

    results = run_together([correcting(taken, alex)] * THREADS)

    print(f"\nOUTCOME 12 corrections of one entry: {outcome(results)}")
    landed = [r for r in results if isinstance(r, LedgerEntry)]
    refused = [r for r in results if not isinstance(r, LedgerEntry)]
    assert len(landed) == 1
    assert [(type(r), r.message) for r in refused] == [
        (ClinicalValueError, f"entry {taken.seq} is already corrected")
    ] * (THREADS - 1)
    assert held(vial) == (VIAL_MG, Decimal("20"))
    assert LedgerEntry.objects.filter(kind=EntryKind.CORRECTION).count() == 1
    assert_exact()


# -- receipts -------------------------------------------------------------------------------------


def receiving(safe, supplier, vial_10, alex, expires_on):
    return lambda: receive(
        safe, supplier, vial_10, alex, containers=2, lot="K777", expires_on=expires_on, on=FRIDAY
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("lot_exists", [False, True], ids=["new-lot", "known-lot"])
def test_twelve_receipts_of_one_lot_number_their_containers_one_after_the_other(
    lot_exists, registered, safe, supplier, vial_10, alex
):
    expiry = dt.date(2027, 6, 30)
    if lot_exists:
        receiving(safe, supplier, vial_10, alex, expiry)()

    results = run_together([receiving(safe, supplier, vial_10, alex, expiry)] * THREADS)

    print(
        f"\nOUTCOME 12 receipts of one {'known' if lot_exists else 'new'} lot: {outcome(results)}"
    )
    assert all(isinstance(r, list) for r in results), results
    first = 3 if lot_exists else 1
    numbers = sorted(c.number for r in results for c in r)
    assert numbers == list(range(first, first + 2 * THREADS))
    # Each receipt's two containers are numbered one after the other.
    assert all(r[1].number == r[0].number + 1 for r in results)
    assert Lot.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.RECEIVE).count() == 2 * THREADS + first - 1
    assert_exact()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_receipts_of_a_new_lot_with_two_expiries_at_once_keep_the_first(
    registered, safe, supplier, vial_10, alex
):
    june, july = dt.date(2027, 6, 30), dt.date(2027, 7, 31)
    workers = [receiving(safe, supplier, vial_10, alex, june)] * (THREADS // 2) + [
        receiving(safe, supplier, vial_10, alex, july)
    ] * (THREADS // 2)
    shuffle(workers)

    results = run_together(workers)

    lot = Lot.objects.get()
    landed = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if not isinstance(r, list)]
    print(
        f"\nOUTCOME 12 receipts, two expiries: lot kept {lot.expires_on}; {len(landed)} landed, "
        f"{outcome(refused)}"
    )
    assert len(landed) == THREADS // 2
    assert [(type(r), r.rule) for r in refused] == [(LedgerRefused, Rule.LOT_EXPIRY_MISMATCH)] * (
        THREADS // 2
    )
    assert sorted(c.number for r in landed for c in r) == list(range(1, THREADS + 1))
    assert_exact()
