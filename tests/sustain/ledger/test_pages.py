"""The ledger's pages (issue 12, items 1, 2 and 7): who sees each page and who may post each
form (the auditor reads everything and writes nothing), another site's objects are not found,
bad input is shown on the page with nothing saved, and a patient's name only for the roles
that may see patients (never loaded for the others)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import AuditEvent, Membership
from sustain.ledger import services
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import (
    Container,
    ContainerBalance,
    Destruction,
    LedgerEntry,
    Location,
    Product,
    SiteRegistration,
    Supplier,
)
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user
from tests.sustain.ledger.conftest import MONDAY, PASSWORD

pytestmark = pytest.mark.db

AT_VISIT = dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York
PERSONAS = ("ada", "ben", "alex", "ivy", "sam", "nora")
VIEWERS = {"ada", "ben", "alex", "ivy"}


@pytest.fixture
def drawn(vials, visit, ben, nia):
    """Ben drew 35 mg for Pat's visit from vial 1 (after opening it) and wasted 5 mg before
    Nia."""
    at = build.at(visit.site, MONDAY, 8, 30)
    services.open_container(container=vials[0], by=ben, now=at)
    services.draw_for_visit(
        container=vials[0], appointment=visit, dose_mg=Decimal("35"), by=ben, now=at
    )
    services.waste_for_visit(
        appointment=visit, container=vials[0], quantity_mg=Decimal("5"), witness=nia,
        witness_password=PASSWORD, by=ben, now=at,
    )  # fmt: skip
    return vials[0]


def saved():
    """Everything a ledger page could write."""
    return (
        LedgerEntry.objects.count(),
        Destruction.objects.count(),
        sorted(ContainerBalance.objects.values_list("pk", "balance_mg")),
        sorted(Container.objects.values_list("pk", "location_id")),
        sorted(SiteRegistration.objects.values_list("pk", "dea_number", "address")),
        sorted(Supplier.objects.values_list("pk", "name", "dea_number")),
        sorted(Product.objects.values_list("pk", "name", "ndc")),
        sorted(Location.objects.values_list("pk", "name")),
    )


def pages(container) -> dict[str, str]:
    return {
        "safe": "/ledger/",
        "container": f"/ledger/containers/{container.pk}/",
        "stock": "/ledger/stock/",
        "setup": "/ledger/setup/",
    }


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_page_by_role(persona, drawn, login, request):
    client = login(request.getfixturevalue(persona))
    with time_machine.travel(AT_VISIT, tick=False):
        statuses = {name: client.get(url).status_code for name, url in pages(drawn).items()}
    expected = 200 if persona in VIEWERS else 403
    assert statuses == dict.fromkeys(statuses, expected)


def test_the_navigation_links_the_ledger_for_the_roles_that_view_it(drawn, login, ben, sam):
    assert b'href="/ledger/">Controlled substances' in login(ben).get("/ledger/").content
    assert b"Controlled substances" not in login(sam).get("/schedule/").content


def test_the_safe_lists_each_container_with_its_balance_and_flags(
    drawn, login, ben, safe, supplier, vial_10, alex
):
    old = services.receive_stock(
        location=safe, supplier=supplier, invoice_number="INV-9", product=vial_10,
        lot_number="OLD1", expires_on=dt.date(2026, 11, 28), containers=1,
        received_on=dt.date(2026, 11, 27), by=alex,
        now=build.at(safe.site, dt.date(2026, 11, 27), 9),
    )  # fmt: skip
    with time_machine.travel(AT_VISIT, tick=False):
        response = login(ben).get(f"/ledger/?site={safe.site_id}")
    ((location, rows),) = response.context["locations"]
    assert location == safe
    shown = [
        (r.container.lot.lot_number, r.container.number, r.container.balance.balance_mg,
         r.container.opened, r.expired)
        for r in rows
    ]  # fmt: skip
    assert shown == [
        ("OLD1", 1, Decimal("200"), False, True),
        ("K123", 1, Decimal("465"), True, False),
        ("K123", 2, Decimal("500"), False, False),
        ("K123", 3, Decimal("500"), False, False),
    ]
    html = response.content.decode()
    assert "EXPIRED" in html and "9.3" in html and old[0].pk
    assert html.count(">Open</button>") == 3  # the sealed ones


def test_the_container_page_runs_the_balance_and_names_the_patient_for_clinical_roles(
    drawn, login, ben, nia
):
    with time_machine.travel(AT_VISIT, tick=False):
        response = login(ben).get(f"/ledger/containers/{drawn.pk}/")
    lines = response.context["lines"]
    assert [
        (line.entry.kind, line.balance_mg, line.balance_ml, line.patient) for line in lines
    ] == [
        (EntryKind.RECEIVE, Decimal("500"), Decimal("10"), ""),
        (EntryKind.OPEN, Decimal("500"), Decimal("10"), ""),
        (EntryKind.DRAW, Decimal("465"), Decimal("9.3"), "Quinn, Pat"),
        (EntryKind.WASTE, Decimal("465"), Decimal("9.3"), "Quinn, Pat"),
    ]
    html = response.content.decode()
    assert "Quinn, Pat" in html and ">nia<" in html
    assert AuditEvent.objects.filter(actor=ben, category=DataCategory.DEMOGRAPHICS).count() == 1


@pytest.mark.parametrize("persona", ["ivy", "alex"])
def test_a_patient_is_named_only_for_roles_that_view_patients(persona, drawn, login, request):
    user = request.getfixturevalue(persona)
    with time_machine.travel(AT_VISIT, tick=False), CaptureQueriesContext(connection) as queries:
        response = login(user).get(f"/ledger/containers/{drawn.pk}/")
    html = response.content.decode()
    read_patients = [q["sql"] for q in queries if '"care_patient"' in q["sql"]]
    if persona == "ivy":
        assert "Quinn" not in html
        assert read_patients == []  # never loaded, not only not shown
    else:
        assert "Quinn, Pat" in html
        assert read_patients != []


def test_another_sites_objects_are_not_found(drawn, login, carl, south):
    sue = make_user("sue", "clinic_admin", south)  # South's administrator
    entry = LedgerEntry.objects.filter(container=drawn).first()
    before = saved()
    assert login(carl).post(f"/ledger/containers/{drawn.pk}/open/").status_code == 404
    client = login(sue)
    assert client.get(f"/ledger/containers/{drawn.pk}/").status_code == 404
    for action in ("transfer", "adjust", "return"):
        assert client.post(f"/ledger/containers/{drawn.pk}/{action}/").status_code == 404
    assert client.post(f"/ledger/entries/{entry.pk}/correct/", {"reason": "x"}).status_code == 404
    assert client.get(f"/ledger/?site={drawn.location.site_id}").context["site"] == south
    assert saved() == before


def test_an_administrator_posting_for_another_site_is_not_found(drawn, login, alex, carl):
    south_location = Location.objects.create(site=carl.sites.get(), name="Safe")
    client = login(alex)
    before = saved()
    assert (
        client.post(
            "/ledger/setup/locations/", {"site": south_location.site_id, "name": "Cart"}
        ).status_code
        == 404
    )
    assert client.post("/ledger/setup/locations/", {
        "site": drawn.location.site_id, "location": south_location.pk, "name": "Cart",
    }).status_code == 404  # fmt: skip
    assert client.post("/ledger/stock/receive/", {"site": "x"}).status_code == 404
    assert saved() == before


def post_forms(containers, site_id, witness_id, second_id, supplier_id, location_id):
    """Every form of the ledger's pages, each filled in as it would succeed when posted in this
    order: the first container is opened, moved, adjusted and destroyed, the second returned,
    the third's receipt corrected."""
    container, sealed, third = containers
    entry = LedgerEntry.objects.filter(container=third).get()
    return {
        "open": (f"/ledger/containers/{container.pk}/open/", {}),
        "transfer": (f"/ledger/containers/{container.pk}/transfer/", {"to": location_id}),
        "adjust": (f"/ledger/containers/{container.pk}/adjust/",
                   {"change_mg": "-1", "reason": "Spilled"}),
        "return": (f"/ledger/containers/{sealed.pk}/return/",
                   {"supplier": supplier_id, "reference": "RA-1", "reason": "Recalled",
                    "confirm": "on"}),
        "correct": (f"/ledger/entries/{entry.pk}/correct/",
                    {"reason": "Wrong vial", "confirm": "on"}),
        "receive": ("/ledger/stock/receive/", {
            "site": site_id, "invoice_number": "INV-7", "supplier": supplier_id,
            "product": container.lot.product_id, "lot_number": "K200",
            "expires_on": "2027-12-31", "containers": "2", "received_on": "2026-11-30",
            "location": container.location_id,
        }),
        "destroy": ("/ledger/stock/destroy/", {
            "site": site_id, "containers": [container.pk], "method": "Rx Destroyer",
            "place": "Med room", "reason": "Expired", "witness": witness_id,
            "witness_password": PASSWORD, "second_witness": second_id,
            "second_witness_password": PASSWORD, "confirm": "on",
        }),
        "registration": ("/ledger/setup/registration/", {
            "site": site_id, "dea_number": "BN1234563", "registrant_name": "North Clinic PC",
            "address": "1 Main St",
        }),
        "supplier": ("/ledger/setup/suppliers/", {
            "site": site_id, "name": "McKesson", "address": "Irving, TX",
            "dea_number": "RM0314790",
        }),
        "product": ("/ledger/setup/products/", {
            "site": site_id, "name": "Ketamine", "strength_mg_per_ml": "100",
            "container_volume_ml": "5", "ndc": "0409-2053-05",
        }),
        "location": ("/ledger/setup/locations/", {"site": site_id, "name": "Cart 2"}),
    }  # fmt: skip


ADMIN_FORMS = {
    "transfer", "adjust", "return", "correct", "receive", "destroy", "registration", "supplier",
    "product", "location",
}  # fmt: skip
NURSE_FORMS = {"open"}


@pytest.fixture
def forms(vials, safe, supplier, ben, ada):
    cart = Location.objects.create(site=safe.site, name="Cart 1")
    return post_forms(vials, safe.site_id, ben.pk, ada.pk, supplier.pk, cart.pk)


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_form_is_posted_only_by_the_roles_that_may(persona, forms, login, request):
    client = login(request.getfixturevalue(persona))
    allowed = {"alex": ADMIN_FORMS, "ben": NURSE_FORMS, "ada": NURSE_FORMS}.get(persona, set())
    for name, (url, data) in forms.items():
        before = saved()
        with time_machine.travel(AT_VISIT, tick=False):
            response = client.post(url, data)
        if name in allowed:
            assert (name, response.status_code) == (name, 302), response.content.decode()[:2000]
        else:
            assert (name, response.status_code) == (name, 403)
            assert saved() == before


def test_each_administrators_form_saves_what_it_says(forms, login, alex, vials, safe):
    client = login(alex)
    with time_machine.travel(AT_VISIT, tick=False):
        for name in ("registration", "supplier", "product", "location", "receive", "adjust"):
            url, data = forms[name]
            assert client.post(url, data).status_code == 302
    assert SiteRegistration.objects.get(site=safe.site).address == "1 Main St"
    assert Supplier.objects.filter(dea_number="RM0314790").exists()
    assert Product.objects.filter(ndc="0409-2053-05").exists()
    assert Location.objects.filter(site=safe.site, name="Cart 2").exists()
    assert Container.objects.filter(lot__lot_number="K200").count() == 2
    assert ContainerBalance.objects.get(pk=vials[0].pk).balance_mg == Decimal("499")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("receive", {"containers": "0"}, "A receipt holds 1 to 200 containers; got 0"),
        ("receive", {"containers": "many"}, "Enter a whole number."),
        ("receive", {"expires_on": "31/12/2027"}, "Enter a valid date."),
        ("destroy", {"witness_password": "wrong"}, "The witness&#x27;s password is not correct"),
        ("destroy", {"containers": ["999999"]}, "Select a valid choice."),
        ("registration", {"dea_number": "BN1234564"},
         "BN1234564 fails the DEA check digit (its last digit should be 3)"),
        ("supplier", {"dea_number": "RM03147"}, "A DEA number is 2 letters and 7 digits"),
        ("product", {"strength_mg_per_ml": "25"}, "Select a valid choice. 25 is not one"),
        ("product", {"container_volume_ml": "NaN"}, "Enter a number."),
        ("location", {"name": ""}, "This field is required."),
        ("adjust", {"change_mg": "abc"}, "Enter a number."),
        ("adjust", {"change_mg": "-600"}, "taking 600 mg would make its balance negative"),
        ("transfer", {"to": "999999"}, "Select a valid choice."),
        ("correct", {"reason": ""}, "This field is required."),
    ],
)  # fmt: skip
def test_bad_input_is_shown_on_the_page_and_nothing_is_saved(
    name, data, message, forms, login, alex
):
    url, good = forms[name]
    before = saved()
    with time_machine.travel(AT_VISIT, tick=False):
        response = login(alex).post(url, good | data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert saved() == before


@pytest.mark.parametrize(
    ("name", "statement"),
    [
        ("return", "I confirm the container goes back to the supplier: this cannot be undone"),
        ("correct", "I confirm the entry is reversed: a correction cannot be reversed"),
        ("destroy", "I confirm these contents are destroyed: this cannot be undone"),
    ],
)
def test_an_irreversible_form_waits_for_its_confirmation(name, statement, forms, login, alex):
    """Unticked: refused on the page, naming what to confirm, nothing saved; ticked: done."""
    url, data = forms[name]
    client = login(alex)
    before = saved()
    with time_machine.travel(AT_VISIT, tick=False):
        refused = client.post(url, {k: v for k, v in data.items() if k != "confirm"})
        assert refused.status_code == 400
        page = refused.content.decode()
        assert statement in page and "tick the box to confirm this; nothing was changed" in page
        assert saved() == before
        assert client.post(url, data).status_code == 302
    assert saved() != before


def test_a_refused_return_is_shown_on_the_container_page(forms, login, alex, ben, vials):
    services.open_container(container=vials[1], by=ben, now=AT_VISIT)
    url, data = forms["return"]
    before = saved()
    response = login(alex).post(url, data)
    assert response.status_code == 400
    assert "only a sealed, full container is returned to a supplier" in response.content.decode()
    assert saved() == before


def test_a_transfer_to_another_site_from_the_page(forms, login, alex, vials, south):
    Membership.objects.create(user=alex, site=south)
    SiteRegistration.objects.create(site=south, dea_number="BS1234563")
    there = Location.objects.create(site=south, name="Safe")
    url, _ = forms["transfer"]
    with time_machine.travel(AT_VISIT, tick=False):
        response = login(alex).post(url, {"to": there.pk})
    assert response.status_code == 302
    assert Container.objects.get(pk=vials[0].pk).location == there
    html = login(alex).get(f"/ledger/containers/{vials[0].pk}/").content.decode()
    assert "to South Clinic (DEA BS1234563)" in html and "from North Clinic (DEA BN1234563)" in html


def test_the_review_list_shows_adjustments_and_corrections(forms, login, alex, ivy, safe):
    with time_machine.travel(AT_VISIT, tick=False):
        login(alex).post(*forms["adjust"])
        login(alex).post(*forms["correct"])
        response = login(ivy).get(f"/ledger/stock/?site={safe.site_id}")
    assert [(e.kind, e.reason) for e in response.context["review"]] == [
        (EntryKind.CORRECTION, "Wrong vial"), (EntryKind.ADJUST, "Spilled"),
    ]  # fmt: skip
    assert b"Record the destruction" not in response.content  # the auditor writes nothing


@pytest.mark.parametrize(
    "url",
    [
        "/ledger/containers/99999999999999999999999/",
        "/ledger/setup/?supplier=99999999999999999999999",
        "/ledger/setup/?location=abc",
    ],
)
def test_an_id_no_row_can_have_is_not_found(url, login, alex, north):
    assert login(alex).get(url).status_code == 404
