"""Return to supplier, destruction (DEA Form 41, two witnesses) and transfer between sites
(issue 12, items 1-2): each service and each of its refusals, which names its rule and saves
nothing; the database's own CHECKs behind them."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import AuditEvent, Membership
from sustain.ledger import chain, services
from sustain.ledger.chain import verify_chain
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import (
    Container,
    ContainerBalance,
    Destruction,
    LedgerEntry,
    Location,
    SiteRegistration,
)
from sustain_core.errors import ClinicalValueError, WitnessNotAllowed
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user
from tests.sustain.ledger.conftest import MONDAY, PASSWORD

pytestmark = pytest.mark.db


def now(site, hour: int = 10):
    return build.at(site, MONDAY, hour)


def snapshot():
    """Everything these writes could change."""
    return (
        LedgerEntry.objects.count(),
        Destruction.objects.count(),
        sorted(Container.objects.values_list("pk", "location_id")),
        sorted(ContainerBalance.objects.values_list("pk", "balance_mg", "balance_ml")),
        AuditEvent.objects.filter(category=DataCategory.LEDGER).count(),
    )


def balance(container) -> tuple[Decimal, Decimal]:
    row = ContainerBalance.objects.get(pk=container.pk)
    return row.balance_mg, row.balance_ml


def open_(container, by):
    services.open_container(container=container, by=by, now=now(container.location.site, 8))


# -- return to supplier ---------------------------------------------------------------------------


def test_return_takes_a_sealed_container_to_zero_naming_the_supplier(vials, supplier, alex):
    entry = services.return_to_supplier(
        container=vials[0], supplier=supplier, reference="RA-7781", reason="Recalled lot",
        by=alex, now=now(vials[0].location.site),
    )  # fmt: skip
    assert (entry.kind, entry.supplier, entry.invoice_number, entry.reason) == (
        EntryKind.RETURN, supplier, "RA-7781", "Recalled lot",
    )  # fmt: skip
    assert (entry.quantity_mg, entry.change_mg, entry.change_ml) == (
        Decimal("500"), Decimal("-500"), Decimal("-10"),
    )  # fmt: skip
    assert entry.occurred_on == MONDAY
    assert balance(vials[0]) == (0, 0)
    assert services.balances_match_entries() == []
    assert verify_chain().ok


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("a-nurse", "only a clinic administrator may do this"),
        ("another-site", "you are not on the staff of North Clinic"),
        ("no-reference", "enter the return's invoice or reference number"),
        ("no-reason", "enter why the container is returned"),
        ("opened", "container lot K123 #1 is opened or partly used (it holds 500 of 500 mg); "
         "only a sealed, full container is returned to a supplier"),
        ("partly-used", "container lot K123 #1 is opened or partly used (it holds 490 of 500 "
         "mg); only a sealed, full container is returned to a supplier"),
        ("returned", "container lot K123 #1 is opened or partly used (it holds 0 of 500 mg); "
         "only a sealed, full container is returned to a supplier"),
    ],
)  # fmt: skip
def test_return_refused_saves_nothing(case, message, vials, supplier, alex, ben, request):
    by, reference, reason = alex, "RA-7781", "Recalled lot"
    site = vials[0].location.site
    if case == "a-nurse":
        by = ben
    elif case == "another-site":
        by = make_user("sue", "clinic_admin", request.getfixturevalue("south"))
    elif case == "no-reference":
        reference = "  "
    elif case == "no-reason":
        reason = ""
    elif case == "opened":
        open_(vials[0], ben)
    elif case == "partly-used":
        services.adjust_balance(
            container=vials[0], change_mg=Decimal("-10"), reason="Spilled", by=alex, now=now(site)
        )
    elif case == "returned":
        services.return_to_supplier(
            container=vials[0], supplier=supplier, reference="RA-1", reason="Recalled", by=alex,
            now=now(site),
        )  # fmt: skip
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        services.return_to_supplier(
            container=vials[0], supplier=supplier, reference=reference, reason=reason, by=by,
            now=now(site, 11),
        )  # fmt: skip
    assert refused.value.message == message
    assert snapshot() == before


def test_the_database_refuses_a_return_naming_no_supplier(vials, alex):
    with pytest.raises(IntegrityError), transaction.atomic():
        chain.append(
            LedgerEntry(
                kind=EntryKind.RETURN, site=vials[0].location.site, container=vials[0],
                quantity_mg=Decimal("500"), quantity_ml=Decimal("10"),
                change_mg=Decimal("-500"), change_ml=Decimal("-10"), actor=alex,
                invoice_number="RA-1", reason="Recalled", occurred_on=MONDAY,
                recorded_at=now(vials[0].location.site),
            )
        )  # fmt: skip


# -- destroy --------------------------------------------------------------------------------------


def destroy(containers, by, witness, second, *, password=PASSWORD, second_password=PASSWORD):
    site = by.sites.first()
    return services.destroy(
        containers=containers, method="Rendered non-retrievable (Rx Destroyer)",
        place="North Clinic, medication room", reason="Expired", witness=witness,
        witness_password=password, second_witness=second, second_witness_password=second_password,
        by=by, now=now(site),
    )  # fmt: skip


def test_destroy_records_form_41_with_two_witnesses(vials, registered, visit, alex, ben, ada):
    registered.registrant_name = "North Clinic PC"
    registered.address = "1 Main Street, Albany, NY 12207"
    registered.save()
    services.draw_for_visit(
        container=vials[1], appointment=visit, dose_mg=Decimal("35"), by=ben,
        now=build.at(visit.site, MONDAY, 8, 30),
    )  # fmt: skip
    form = destroy([vials[1], vials[0]], alex, ben, ada)
    assert (form.registrant_name, form.registrant_address, form.dea_number) == (
        "North Clinic PC", "1 Main Street, Albany, NY 12207", "BN1234563",
    )  # fmt: skip
    assert (form.destroyed_on, form.place, form.method) == (
        MONDAY, "North Clinic, medication room", "Rendered non-retrievable (Rx Destroyer)",
    )  # fmt: skip
    assert (form.actor, form.witness, form.second_witness) == (alex, ben, ada)
    entries = list(form.entries.order_by("seq"))
    assert [(e.kind, e.container_id, e.quantity_mg, e.change_mg) for e in entries] == [
        (EntryKind.DESTROY, vials[0].pk, Decimal("500"), Decimal("-500")),
        (EntryKind.DESTROY, vials[1].pk, Decimal("465"), Decimal("-465")),
    ]
    assert {(e.witness, e.second_witness, e.reason) for e in entries} == {(ben, ada, "Expired")}
    assert balance(vials[0]) == balance(vials[1]) == (0, 0)
    assert services.balances_match_entries() == []
    assert verify_chain().ok


def test_destruction_records_refuse_update_and_delete(vials, alex, ben, ada):
    form = destroy([vials[0]], alex, ben, ada)
    form.method = "Flushed"
    with pytest.raises(PermissionError):
        form.save()
    with pytest.raises(PermissionError):
        Destruction.objects.filter(pk=form.pk).delete()


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("a-nurse", ClinicalValueError, "only a clinic administrator may do this"),
        ("no-container", ClinicalValueError, "choose the containers destroyed"),
        ("listed-twice", ClinicalValueError, "a container is listed twice"),
        ("two-sites", ClinicalValueError,
         "a destruction is recorded per registered location: one site at a time"),
        ("another-site", ClinicalValueError, "you are not on the staff of North Clinic"),
        ("unregistered", ClinicalValueError,
         "North Clinic has no DEA registration number recorded; records are kept per "
         "registered location, so record it before destroying stock"),
        ("empty", ClinicalValueError, "container lot K123 #1 is empty"),
        ("no-method", ClinicalValueError, "enter the method of destruction"),
        ("one-witness-twice", WitnessNotAllowed,
         "DEA Form 41 needs two different witnesses, not one twice"),
        ("witness-is-actor", WitnessNotAllowed, "the witnesses are two other people, not you"),
        ("second-is-actor", WitnessNotAllowed, "the witnesses are two other people, not you"),
        ("wrong-password", WitnessNotAllowed, "the witness's password is not correct"),
        ("second-wrong-password", WitnessNotAllowed, "the witness's password is not correct"),
        ("scheduler-witness", WitnessNotAllowed, "the witness must be a nurse or a prescriber"),
        ("other-site-witness", WitnessNotAllowed, "carl is not on the staff of North Clinic"),
        ("inactive-witness", WitnessNotAllowed, "nia's account is not active"),
    ],
)  # fmt: skip
def test_destroy_refused_saves_nothing(  # noqa: PLR0912 - one branch per refusal
    case, error, message, vials, safe, supplier, alex, ben, ada, nia, sam, carl, request
):
    site = safe.site
    containers, by, witness, second = [vials[0]], alex, ben, ada
    password = second_password = PASSWORD
    if case == "a-nurse":
        by = nia
    elif case == "no-container":
        containers = []
    elif case == "listed-twice":
        containers = [vials[0], vials[0]]
    elif case == "two-sites":
        south = request.getfixturevalue("south")
        Membership.objects.create(user=alex, site=south)
        SiteRegistration.objects.create(site=south, dea_number="BS1234563")
        services.transfer_container(
            container=vials[1], to=Location.objects.create(site=south, name="Safe"), by=alex,
            now=now(site, 9),
        )  # fmt: skip
        containers = [vials[0], vials[1]]
    elif case == "another-site":
        by = make_user("sue", "clinic_admin", request.getfixturevalue("south"))
    elif case == "unregistered":
        SiteRegistration.objects.filter(site=site).delete()
    elif case == "empty":
        services.return_to_supplier(
            container=vials[0], supplier=supplier, reference="RA-1", reason="Recalled", by=alex,
            now=now(site, 9),
        )  # fmt: skip
    elif case == "one-witness-twice":
        second = ben
    elif case == "witness-is-actor":
        witness = alex
    elif case == "second-is-actor":
        second = alex
    elif case == "wrong-password":
        password = "wrong"  # noqa: S105
    elif case == "second-wrong-password":
        second_password = "wrong"  # noqa: S105
    elif case == "scheduler-witness":
        witness = sam
    elif case == "other-site-witness":
        second = carl
    elif case == "inactive-witness":
        nia.is_active = False
        nia.save()
        witness = nia
    before = snapshot()
    with pytest.raises(error) as refused:
        if case == "no-method":
            services.destroy(
                containers=containers, method=" ", place="Here", reason="Expired",
                witness=witness, witness_password=password, second_witness=second,
                second_witness_password=second_password, by=by, now=now(site),
            )  # fmt: skip
        else:
            destroy(
                containers, by, witness, second, password=password,
                second_password=second_password,
            )  # fmt: skip
    assert refused.value.message == message
    assert snapshot() == before


@pytest.mark.parametrize("case", ["same-witness", "witness-is-actor", "second-is-actor", "none"])
def test_the_database_refuses_a_destruction_without_two_other_witnesses(
    case, vials, alex, ben, ada
):
    site = vials[0].location.site
    witness, second = {
        "same-witness": (ben, ben), "witness-is-actor": (alex, ben),
        "second-is-actor": (ben, alex), "none": (ben, None),
    }[case]  # fmt: skip
    form = destroy([vials[1]], alex, ben, ada)
    with pytest.raises(IntegrityError), transaction.atomic():
        chain.append(
            LedgerEntry(
                kind=EntryKind.DESTROY, site=site, container=vials[0],
                quantity_mg=Decimal("500"), quantity_ml=Decimal("10"),
                change_mg=Decimal("-500"), change_ml=Decimal("-10"), actor=alex,
                witness=witness, second_witness=second, reason="Expired", destruction=form,
                occurred_on=MONDAY, recorded_at=now(site),
            )
        )  # fmt: skip
    if case != "none":
        with pytest.raises(IntegrityError), transaction.atomic():
            Destruction.objects.create(
                site=site, registrant_name="North", dea_number="BN1234563", destroyed_on=MONDAY,
                place="Here", method="Rx Destroyer", reason="Expired", actor=alex,
                witness=witness, second_witness=second, recorded_at=now(site),
            )  # fmt: skip


# -- transfer between sites -----------------------------------------------------------------------


@pytest.fixture
def south_safe(south, alex):
    """South Clinic, registered, with its safe; Alex is on its staff too."""
    Membership.objects.create(user=alex, site=south)
    SiteRegistration.objects.create(site=south, dea_number="BS1234563")
    return Location.objects.create(site=south, name="Safe")


def test_transfer_to_another_site_is_recorded_at_both_linked(
    vials, registered, south_safe, alex, north, south
):
    arrived = services.transfer_container(
        container=vials[0], to=south_safe, by=alex, now=now(north)
    )
    out = arrived.transfer_out
    assert (out.kind, out.site, out.change_mg, out.change_ml, out.registration.dea_number) == (
        EntryKind.TRANSFER, north, Decimal("-500"), Decimal("-10"), "BS1234563",
    )  # fmt: skip
    assert (arrived.kind, arrived.site, arrived.change_mg, arrived.registration) == (
        EntryKind.TRANSFER, south, Decimal("500"), registered,
    )  # fmt: skip
    assert (out.location, arrived.location) == (south_safe, south_safe)
    assert out.occurred_on == arrived.occurred_on == MONDAY
    assert Container.objects.get(pk=vials[0].pk).location == south_safe
    assert balance(vials[0]) == (Decimal("500"), Decimal("10"))
    # Each site's entries add up to what it holds of the container.
    for site, held in ((north, 0), (south, 500)):
        changes = LedgerEntry.objects.filter(site=site, container=vials[0])
        assert sum(e.change_mg for e in changes) == held
    assert services.balances_match_entries() == []
    assert verify_chain().ok


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not-a-member", "you are not on the staff of South Clinic"),
        ("source-unregistered", "North Clinic has no DEA registration number recorded; records "
         "are kept per registered location, so record it before moving stock out of it"),
        ("destination-unregistered", "South Clinic has no DEA registration number recorded; "
         "records are kept per registered location, so record it before moving stock into it"),
        ("opened", "container lot K123 #1 is opened or partly used (it holds 500 of 500 mg); "
         "only a sealed, full container is moved to another site"),
        ("partly-used", "container lot K123 #1 is opened or partly used (it holds 499 of 500 "
         "mg); only a sealed, full container is moved to another site"),
    ],
)  # fmt: skip
def test_transfer_to_another_site_refused_saves_nothing(
    case, message, vials, south_safe, alex, ben, north, south
):
    if case == "not-a-member":
        Membership.objects.filter(user=alex, site=south).delete()
    elif case == "source-unregistered":
        SiteRegistration.objects.filter(site=north).delete()
    elif case == "destination-unregistered":
        SiteRegistration.objects.filter(site=south).delete()
    elif case == "opened":
        open_(vials[0], ben)
    elif case == "partly-used":
        services.adjust_balance(
            container=vials[0], change_mg=Decimal("-1"), reason="Spilled", by=alex, now=now(north)
        )
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        services.transfer_container(container=vials[0], to=south_safe, by=alex, now=now(north))
    assert refused.value.message == message
    assert snapshot() == before


def test_a_transfer_between_sites_is_not_corrected(vials, registered, south_safe, alex, north):
    arrived = services.transfer_container(
        container=vials[0], to=south_safe, by=alex, now=now(north)
    )
    for entry in (arrived, arrived.transfer_out):
        before = snapshot()
        with pytest.raises(ClinicalValueError) as refused:
            services.correct_entry(entry=entry, reason="Wrong site", by=alex, now=now(north, 11))
        assert refused.value.message == (
            f"entry {entry.seq} is half of a transfer between sites; transfer the container back "
            "instead"
        )
        assert snapshot() == before


def test_a_transfer_back_returns_the_container(vials, registered, south_safe, safe, alex, north):
    services.transfer_container(container=vials[0], to=south_safe, by=alex, now=now(north))
    back = services.transfer_container(container=vials[0], to=safe, by=alex, now=now(north, 11))
    assert (back.site, back.registration.dea_number) == (north, "BS1234563")
    assert Container.objects.get(pk=vials[0].pk).location == safe
    assert services.balances_match_entries() == []


@pytest.mark.parametrize(
    "fields",
    [
        {"change_mg": Decimal("500"), "change_ml": Decimal("10")},  # in, but linked to no out
        {"change_mg": Decimal("-500"), "change_ml": Decimal("-10"), "registration": None},
    ],
)
def test_the_database_refuses_a_transfer_between_sites_without_its_registration(
    fields, vials, registered, alex
):
    site = vials[0].location.site
    values = {
        "kind": EntryKind.TRANSFER, "site": site, "container": vials[0],
        "quantity_mg": Decimal("500"), "quantity_ml": Decimal("10"), "actor": alex,
        "registration": registered, "occurred_on": MONDAY, "recorded_at": now(site),
    } | fields  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        chain.append(LedgerEntry(**values))


def test_each_write_is_audited_in_the_ledger_category(vials, supplier, alex, ben, ada):
    site = vials[0].location.site
    before = AuditEvent.objects.filter(category=DataCategory.LEDGER).count()
    services.return_to_supplier(
        container=vials[0], supplier=supplier, reference="RA-1", reason="Recalled", by=alex,
        now=now(site),
    )  # fmt: skip
    destroy([vials[1], vials[2]], alex, ben, ada)
    assert AuditEvent.objects.filter(category=DataCategory.LEDGER).count() == before + 3


def test_dates_are_the_sites_day(vials, alex, ben, ada):
    site = vials[0].location.site
    late = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)  # 22:00 on Monday in New York
    form = services.destroy(
        containers=[vials[0]], method="Rx Destroyer", place="Here", reason="Expired",
        witness=ben, witness_password=PASSWORD, second_witness=ada,
        second_witness_password=PASSWORD, by=alex, now=late,
    )  # fmt: skip
    assert form.destroyed_on == form.entries.get().occurred_on == MONDAY
    assert site.timezone == "America/New_York"
