"""Each ledger service and each of its refusals (issue 12, items 1-3): a refusal names its rule
and saves nothing (no entry, no container, no balance change, no audit event)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import AuditEvent
from sustain.ledger import services
from sustain.ledger.chain import verify_chain
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import Container, ContainerBalance, LedgerEntry, Location, Lot
from sustain.scheduling.enums import AppointmentStatus, CancellationReason
from sustain.scheduling.models import Appointment
from sustain_core.errors import (
    ClinicalValueError,
    ExpiredLot,
    InsufficientStock,
    OutOfRange,
    WitnessNotAllowed,
)
from tests.sustain import clinic_builders as build
from tests.sustain.ledger.conftest import FRIDAY, MONDAY, PASSWORD, receive

pytestmark = pytest.mark.db


def at_visit(site, minute: int = 30):
    return build.at(site, MONDAY, 8, minute)


def snapshot():
    """Everything a ledger write could change."""
    return (
        LedgerEntry.objects.count(),
        Container.objects.count(),
        Lot.objects.count(),
        sorted(ContainerBalance.objects.values_list("pk", "balance_mg", "balance_ml")),
        AuditEvent.objects.filter(category=DataCategory.LEDGER).count(),
    )


def balance(container) -> tuple[Decimal, Decimal]:
    row = ContainerBalance.objects.get(pk=container.pk)
    return row.balance_mg, row.balance_ml


def draw(container, visit, by, mg: str = "35"):
    return services.draw_for_visit(
        container=container, appointment=visit, dose_mg=Decimal(mg), by=by,
        now=at_visit(visit.site),
    )  # fmt: skip


def waste(container, visit, by, witness, mg: str = "5", password: str = PASSWORD):
    return services.waste_for_visit(
        appointment=visit, container=container, quantity_mg=Decimal(mg), witness=witness,
        witness_password=password, by=by, now=at_visit(visit.site, 45),
    )  # fmt: skip


# -- receive --------------------------------------------------------------------------------------


def test_receive_numbers_each_container_with_a_full_balance_and_an_entry(vials, alex, supplier):
    assert [c.number for c in vials] == [1, 2, 3]
    assert [balance(c) for c in vials] == [(Decimal("500"), Decimal("10"))] * 3
    entries = list(LedgerEntry.objects.order_by("seq"))
    assert [(e.kind, e.container_id, e.quantity_mg, e.change_mg) for e in entries] == [
        (EntryKind.RECEIVE, c.pk, Decimal("500"), Decimal("500")) for c in vials
    ]
    first = entries[0]
    assert (first.supplier, first.invoice_number, first.occurred_on, first.actor) == (
        supplier, "INV-2026-0042", FRIDAY, alex,
    )  # fmt: skip
    assert AuditEvent.objects.filter(category=DataCategory.LEDGER).count() == 3
    assert verify_chain().ok


def test_a_second_receipt_of_a_lot_continues_its_numbers(vials, safe, supplier, vial_50, alex):
    more = receive(safe, supplier, vial_50, alex, containers=2)
    assert [c.number for c in more] == [4, 5]
    assert Lot.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        pytest.param(
            {"by": "ben"},
            ClinicalValueError,
            "only a clinic administrator may do this",
            id="a-nurse",
        ),
        pytest.param(
            {"unregistered": True},
            ClinicalValueError,
            "North Clinic has no DEA registration number recorded; records are kept per "
            "registered location, so record it before receiving stock",
            id="no-dea-registration",
        ),
        pytest.param(
            {"invoice_number": "  "},
            ClinicalValueError,
            "enter the invoice number",
            id="no-invoice",
        ),
        pytest.param(
            {"received_on": dt.date(2026, 11, 28)},
            ClinicalValueError,
            "the receipt is dated 2026-11-28, after today (2026-11-27)",
            id="dated-tomorrow",
        ),
        pytest.param(
            {"expires_on": dt.date(2026, 11, 26)},
            ExpiredLot,
            "lot K9 expired on 2026-11-26; expired stock is not received",
            id="expired-lot",
        ),
        pytest.param(
            {"invoice_number": "I" * 61},
            ClinicalValueError,
            "the invoice number is at most 60 characters",
            id="invoice-too-long",
        ),
        pytest.param(
            {"lot_number": " "}, ClinicalValueError, "enter the lot number", id="no-lot-number"
        ),
        pytest.param(
            {"containers": 0},
            OutOfRange,
            "a receipt holds 1 to 200 containers; got 0",
            id="no-containers",
        ),
        pytest.param(
            {"containers": 201},
            OutOfRange,
            "a receipt holds 1 to 200 containers; got 201",
            id="too-many-containers",
        ),
        pytest.param(
            {"lot_number": "K123"},
            ClinicalValueError,
            "lot K123 is recorded as expiring on 2027-06-30, not 2027-01-31",
            id="known-lot-other-expiry",
        ),
    ],
)
def test_receive_refused_saves_nothing(
    change, error, message, vials, registered, safe, supplier, vial_50, alex, ben
):
    if change.pop("unregistered", False):
        registered.delete()
    by = ben if change.pop("by", None) == "ben" else alex
    arguments = {
        "location": safe, "supplier": supplier, "invoice_number": "INV-9", "product": vial_50,
        "lot_number": "K9", "expires_on": dt.date(2027, 1, 31), "containers": 2,
        "received_on": FRIDAY, "by": by, "now": build.at(safe.site, FRIDAY, 9),
    }  # fmt: skip
    arguments.update(change)
    before = snapshot()
    with pytest.raises(error) as refused:
        services.receive_stock(**arguments)
    assert refused.value.message == message
    assert snapshot() == before


# -- open -----------------------------------------------------------------------------------------


def test_open_records_the_first_puncture_once(vials, visit, ben):
    entry = services.open_container(container=vials[0], by=ben, now=at_visit(visit.site, 20))
    assert (entry.kind, entry.change_mg, entry.occurred_on) == (EntryKind.OPEN, 0, MONDAY)
    before = snapshot()
    with pytest.raises(ClinicalValueError, match="container lot K123 #1 is already open"):
        services.open_container(container=vials[0], by=ben, now=at_visit(visit.site, 25))
    assert snapshot() == before


def test_open_refused_to_a_scheduler(vials, sam, north):
    before = snapshot()
    with pytest.raises(ClinicalValueError, match="only a nurse or a prescriber may do this"):
        services.open_container(container=vials[0], by=sam, now=at_visit(north))
    assert snapshot() == before


# -- transfer -------------------------------------------------------------------------------------


def test_transfer_moves_a_container_to_the_cart(vials, visit, ben, alex, north):
    draw(vials[0], visit, ben, "35")
    cart = Location.objects.create(site=north, name="Cart 1")
    entry = services.transfer_container(container=vials[0], to=cart, by=alex, now=at_visit(north))
    assert Container.objects.get(pk=vials[0].pk).location == cart
    assert (entry.kind, entry.location, entry.quantity_mg, entry.change_mg) == (
        EntryKind.TRANSFER, cart, Decimal("465"), 0,
    )  # fmt: skip
    assert balance(vials[0]) == (Decimal("465"), Decimal("9.3"))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("a-nurse", "only a clinic administrator may do this"),
        ("same-location", "container lot K123 #1 is already at Safe"),
        ("another-site", "you are not on the staff of South Clinic"),
    ],
)
def test_transfer_refused_saves_nothing(case, message, vials, safe, alex, ben, request):
    to, by = Location.objects.create(site=safe.site, name="Cart 1"), alex
    if case == "a-nurse":
        by = ben
    elif case == "same-location":
        to = safe
    elif case == "another-site":
        to = Location.objects.create(site=request.getfixturevalue("south"), name="Safe")
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        services.transfer_container(container=vials[0], to=to, by=by, now=at_visit(safe.site))
    assert refused.value.message == message
    assert snapshot() == before
    assert Container.objects.get(pk=vials[0].pk).location == safe


# -- draw -----------------------------------------------------------------------------------------


def test_draw_takes_the_dose_from_the_container_for_the_visit(vials, visit, ben, pat):
    entry = draw(vials[0], visit, ben, "35")
    assert balance(vials[0]) == (Decimal("465"), Decimal("9.3"))
    assert (entry.kind, entry.appointment, entry.quantity_mg, entry.quantity_ml) == (
        EntryKind.DRAW, visit, Decimal("35"), Decimal("0.7"),
    )  # fmt: skip
    assert (entry.change_mg, entry.change_ml, entry.actor) == (Decimal("-35"), Decimal("-0.7"), ben)
    event = AuditEvent.objects.filter(category=DataCategory.LEDGER).last()
    assert (event.patient_id, event.object_id) == (pat.pk, str(entry.pk))
    assert balance(vials[1]) == (Decimal("500"), Decimal("10"))


def test_draw_of_the_whole_balance_leaves_exactly_zero(vials, visit, ada):
    draw(vials[0], visit, ada, "500")
    assert balance(vials[0]) == (Decimal("0"), Decimal("0"))


def test_draw_refused_past_the_balance(vials, visit, ben):
    draw(vials[0], visit, ben, "480")
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        draw(vials[0], visit, ben, "20.01")
    assert refused.value.message == (
        "container lot K123 #1 holds 20 mg; taking 20.01 mg would make its balance negative, "
        "and a balance never goes below zero"
    )
    assert snapshot() == before


def test_draw_refused_from_a_lot_expired_on_the_visit_day(
    registered, safe, supplier, vial_50, alex, visit, ben
):
    (old,) = receive(
        safe, supplier, vial_50, alex, containers=1, lot="OLD1",
        expires_on=dt.date(2026, 11, 29), on=dt.date(2026, 11, 2),
    )  # fmt: skip
    before = snapshot()
    with pytest.raises(ExpiredLot) as refused:
        draw(old, visit, ben)
    assert refused.value.message == (
        "lot OLD1 expired on 2026-11-29; an expired lot cannot be drawn"
    )
    assert snapshot() == before


def test_draw_allowed_on_the_lot_expiry_day(registered, safe, supplier, vial_50, alex, visit, ben):
    (last_day,) = receive(
        safe, supplier, vial_50, alex, containers=1, lot="OLD2", expires_on=MONDAY,
        on=dt.date(2026, 11, 2),
    )  # fmt: skip
    draw(last_day, visit, ben)
    assert balance(last_day)[0] == Decimal("465")


def test_draw_refused_from_a_container_at_another_site(vials, visit, ben, south):
    south_safe = Location.objects.create(site=south, name="Safe")
    Container.objects.filter(pk=vials[0].pk).update(location=south_safe)
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        draw(vials[0], visit, ben)
    assert refused.value.message == (
        "container lot K123 #1 is at South Clinic; draw for a visit at North Clinic from that "
        "site's stock"
    )
    assert snapshot() == before


def test_draw_refused_for_a_cancelled_visit(vials, visit, ben):
    Appointment.objects.filter(pk=visit.pk).update(
        status=AppointmentStatus.CANCELLED, cancel_reason=CancellationReason.ILLNESS
    )
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        draw(vials[0], visit, ben)
    assert refused.value.message == "the visit is cancelled; no drug is drawn for it"
    assert snapshot() == before


def test_draw_refused_on_another_day_than_the_visit(vials, visit, ben):
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        services.draw_for_visit(
            container=vials[0], appointment=visit, dose_mg=Decimal("35"), by=ben,
            now=build.at(visit.site, FRIDAY, 16),
        )  # fmt: skip
    assert refused.value.message == (
        "the visit is on 2026-11-30; draw for it on that day, not 2026-11-27"
    )
    assert snapshot() == before


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "the amount must be more than 0 mg; got 0 mg"),
        ("-5", "the amount must be more than 0 mg; got -5 mg"),
        ("35.001", "record the amount to 0.01 mg at most; got 35.001 mg"),
        ("NaN", "enter the amount in mg as a number"),
        ("1E+20", "one entry is at most 100000 mg (a bound against typing errors)"),
    ],
)
def test_draw_refused_for_an_amount_that_is_not_a_dose(amount, message, vials, visit, ben):
    before = snapshot()
    with pytest.raises(OutOfRange) as refused:
        draw(vials[0], visit, ben, amount)
    assert refused.value.message == message
    assert snapshot() == before


@pytest.mark.parametrize(
    ("persona", "message"),
    [
        ("sam", "only a nurse or a prescriber may do this"),
        ("alex", "only a nurse or a prescriber may do this"),
        ("ivy", "only a nurse or a prescriber may do this"),
        ("carl", "you are not on the staff of North Clinic"),
    ],
)
def test_draw_refused_to_roles_that_do_not_draw(persona, message, vials, visit, request):
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        draw(vials[0], visit, request.getfixturevalue(persona))
    assert refused.value.message == message
    assert snapshot() == before


# -- waste ----------------------------------------------------------------------------------------


def test_waste_of_the_remainder_is_witnessed_and_leaves_the_balance(vials, visit, ben, nia, pat):
    draw(vials[0], visit, ben, "40")
    entry = waste(vials[0], visit, ben, nia, "5")
    assert (entry.kind, entry.witness, entry.quantity_mg, entry.quantity_ml) == (
        EntryKind.WASTE, nia, Decimal("5"), Decimal("0.1"),
    )  # fmt: skip
    assert (entry.change_mg, entry.appointment) == (0, visit)
    assert balance(vials[0]) == (Decimal("460"), Decimal("9.2"))
    assert AuditEvent.objects.filter(category=DataCategory.LEDGER).last().patient_id == pat.pk


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("witness-is-the-waster", WitnessNotAllowed,
         "the witness must be a second person, not you"),
        ("witness-drew", WitnessNotAllowed, "ada drew for this visit; the witness never drew"),
        ("wrong-password", WitnessNotAllowed, "the witness's password is not correct"),
        ("inactive-witness", WitnessNotAllowed, "nia's account is not active"),
        ("witness-at-another-site", WitnessNotAllowed, "carl is not on the staff of North Clinic"),
        ("witness-without-a-clinical-role", WitnessNotAllowed,
         "the witness must be a nurse or a prescriber"),
        ("more-than-the-remainder", InsufficientStock,
         "40 mg drawn from container lot K123 #1 for this visit is not yet given or wasted; "
         "40.01 mg cannot be wasted"),
        ("container-not-drawn-from", ClinicalValueError,
         "nothing was drawn from container lot K123 #2 for this visit"),
        ("auditor-wastes", ClinicalValueError, "only a nurse or a prescriber may do this"),
    ],
)  # fmt: skip
def test_waste_refused_saves_nothing(case, error, message, vials, visit, ada, ben, nia, request):
    drawer = ada if case == "witness-drew" else ben
    draw(vials[0], visit, drawer, "40")
    by, witness, mg, container, password = ben, nia, "5", vials[0], PASSWORD
    if case == "witness-is-the-waster":
        witness = ben
    elif case == "witness-drew":
        witness = ada
    elif case == "wrong-password":
        password = "guessed-password"  # noqa: S105 - a wrong password, typed
    elif case == "inactive-witness":
        nia.is_active = False
        nia.save(update_fields=["is_active"])
    elif case == "witness-at-another-site":
        witness = request.getfixturevalue("carl")
    elif case == "witness-without-a-clinical-role":
        witness = request.getfixturevalue("sam")
    elif case == "more-than-the-remainder":
        mg = "40.01"
    elif case == "container-not-drawn-from":
        container = vials[1]
    elif case == "auditor-wastes":
        by = request.getfixturevalue("ivy")
    before = snapshot()
    with pytest.raises(error) as refused:
        waste(container, visit, by, witness, mg, password)
    assert refused.value.message == message
    assert snapshot() == before


def test_waste_counts_what_was_already_wasted(vials, visit, ben, nia):
    draw(vials[0], visit, ben, "40")
    waste(vials[0], visit, ben, nia, "30")
    with pytest.raises(InsufficientStock, match=r"^quantity_mg: 10 mg drawn from"):
        waste(vials[0], visit, ben, nia, "11")
    waste(vials[0], visit, ben, nia, "10")
    assert LedgerEntry.objects.filter(kind=EntryKind.WASTE).count() == 2


# -- adjust ---------------------------------------------------------------------------------------


def test_adjust_by_an_administrator_is_flagged_for_review(vials, alex, north):
    entry = services.adjust_balance(
        container=vials[0], change_mg=Decimal("-10"), reason="Vial cracked in the safe",
        by=alex, now=at_visit(north),
    )  # fmt: skip
    assert (entry.kind, entry.change_mg, entry.quantity_mg, entry.needs_review) == (
        EntryKind.ADJUST, Decimal("-10"), Decimal("10"), True,
    )  # fmt: skip
    assert balance(vials[0]) == (Decimal("490"), Decimal("9.8"))
    services.adjust_balance(
        container=vials[0], change_mg=Decimal("2.5"), reason="Recount", by=alex,
        now=at_visit(north),
    )  # fmt: skip
    assert balance(vials[0]) == (Decimal("492.5"), Decimal("9.85"))


@pytest.mark.parametrize(
    ("persona", "change", "reason", "error", "message"),
    [
        ("ben", "-10", "Cracked", ClinicalValueError, "only a clinic administrator may do this"),
        ("ada", "-10", "Cracked", ClinicalValueError, "only a clinic administrator may do this"),
        ("alex", "-10", "  ", ClinicalValueError, "enter why the balance is adjusted"),
        ("alex", "100000.01", "Recount", OutOfRange,
         "one entry is at most 100000 mg (a bound against typing errors)"),
        ("alex", "0", "Recount", OutOfRange,
         "enter a change in mg other than 0 (negative takes away)"),
        ("alex", "-500.01", "Recount", InsufficientStock,
         "container lot K123 #1 holds 500 mg; taking 500.01 mg would make its balance "
         "negative, and a balance never goes below zero"),
    ],
)  # fmt: skip
def test_adjust_refused_saves_nothing(persona, change, reason, error, message, vials, request):
    before = snapshot()
    with pytest.raises(error) as refused:
        services.adjust_balance(
            container=vials[0], change_mg=Decimal(change), reason=reason,
            by=request.getfixturevalue(persona), now=at_visit(vials[0].location.site),
        )  # fmt: skip
    assert refused.value.message == message
    assert snapshot() == before


# -- correction -----------------------------------------------------------------------------------


def test_correction_reverses_a_draw_with_a_new_entry(vials, visit, ben, nia, alex):
    drawn = draw(vials[0], visit, ben, "40")
    correction = services.correct_entry(
        entry=drawn, reason="Drawn from the wrong vial", by=alex, now=at_visit(visit.site, 50)
    )
    assert (correction.kind, correction.reverses, correction.change_mg) == (
        EntryKind.CORRECTION, drawn, Decimal("40"),
    )  # fmt: skip
    assert correction.needs_review
    assert balance(vials[0]) == (Decimal("500"), Decimal("10"))
    # The original stays as it was; the reversed draw no longer counts for the visit's waste.
    assert LedgerEntry.objects.get(pk=drawn.pk).change_mg == Decimal("-40")
    with pytest.raises(ClinicalValueError, match="nothing was drawn from container lot K123 #1"):
        waste(vials[0], visit, ben, nia)
    assert services.balances_match_entries() == []
    assert verify_chain().ok


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("twice", "entry 4 is already corrected"),
        ("a-correction", "a correction is not itself corrected; record a new entry instead"),
        ("no-reason", "enter why the entry is corrected"),
        ("a-nurse", "only a clinic administrator may do this"),
        ("receipt-already-drawn-from", None),
        (
            "draw-already-wasted-from",
            "5 mg drawn from container lot K123 #1 for this visit was "
            "given or wasted; correct those entries before this draw",
        ),
    ],
)
def test_correction_refused_saves_nothing(case, message, vials, visit, ben, alex, nia):
    drawn = draw(vials[0], visit, ben, "40")  # entry seq 4, after the three receipts
    target, reason, by = drawn, "Wrong vial", alex
    if case == "twice":
        services.correct_entry(entry=drawn, reason="Wrong vial", by=alex, now=at_visit(visit.site))
    elif case == "a-correction":
        target = services.correct_entry(
            entry=drawn, reason="Wrong vial", by=alex, now=at_visit(visit.site)
        )
    elif case == "no-reason":
        reason = ""
    elif case == "a-nurse":
        by = ben
    elif case == "draw-already-wasted-from":
        waste(vials[0], visit, ben, nia, "5")
    elif case == "receipt-already-drawn-from":
        target = LedgerEntry.objects.get(kind=EntryKind.RECEIVE, container=vials[0])
        message = (
            "container lot K123 #1 holds 460 mg; taking 500 mg would make its balance "
            "negative, and a balance never goes below zero"
        )
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        services.correct_entry(entry=target, reason=reason, by=by, now=at_visit(visit.site))
    assert refused.value.message == message
    assert snapshot() == before


# -- append-only, and the database's own refusal --------------------------------------------------


def test_entries_refuse_update_and_delete(vials):
    entry = LedgerEntry.objects.first()
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        LedgerEntry.objects.filter(pk=entry.pk).update(quantity_mg=1)
    with pytest.raises(PermissionError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert verify_chain().ok


def test_the_database_refuses_a_negative_balance(vials):
    with pytest.raises(IntegrityError), transaction.atomic():
        ContainerBalance.objects.filter(pk=vials[0].pk).update(
            balance_mg=F("balance_mg") - Decimal("500.01")
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ContainerBalance.objects.filter(pk=vials[0].pk).update(
            balance_ml=F("balance_ml") - Decimal("10.0001")
        )
    assert balance(vials[0]) == (Decimal("500"), Decimal("10"))


def test_reconciliation_names_a_balance_changed_behind_the_ledger(vials, visit, ben):
    draw(vials[0], visit, ben, "35")
    assert services.balances_match_entries() == []
    ContainerBalance.objects.filter(pk=vials[1].pk).update(balance_mg=Decimal("499"))
    assert services.balances_match_entries() == [
        f"container id {vials[1].pk}: balance 499 mg, entries sum to 500 mg"
    ]
