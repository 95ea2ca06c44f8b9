"""The ledger's reference data (issue 12, item 1): the site's DEA registration, suppliers,
products and locations, kept by clinic administrators; each refusal saves nothing."""

from decimal import Decimal

import pytest

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import AuditEvent
from sustain.ledger import setup
from sustain.ledger.models import Location, Product, SiteRegistration, Supplier
from sustain_core.errors import ClinicalValueError
from tests.sustain.ledger.conftest import receive

pytestmark = pytest.mark.db


def rows():
    return (
        sorted(SiteRegistration.objects.values_list("site_id", "dea_number", "registrant_name")),
        sorted(Supplier.objects.values_list("name", "address", "dea_number")),
        sorted(Product.objects.values_list("name", "strength_mg_per_ml", "container_volume_ml",
                                           "ndc")),
        sorted(Location.objects.values_list("site_id", "name")),
        AuditEvent.objects.filter(category=DataCategory.LEDGER).count(),
    )  # fmt: skip


def test_an_administrator_records_the_registration_then_corrects_its_address(north, alex):
    first = setup.set_registration(
        site=north, dea_number="bn1234563", registrant_name="North Clinic PC",
        address="1 Main St", by=alex,
    )  # fmt: skip
    again = setup.set_registration(
        site=north, dea_number="BN1234563", registrant_name="North Clinic PC",
        address="2 Main St", by=alex,
    )  # fmt: skip
    assert (again.pk, again.dea_number, again.address) == (first.pk, "BN1234563", "2 Main St")
    assert list(
        AuditEvent.objects.filter(category=DataCategory.LEDGER).values_list("action", flat=True)
    ) == ["create", "update"]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("a-nurse", "only a clinic administrator may do this"),
        ("another-site", "you are not on the staff of South Clinic"),
        ("check-digit", "BN1234564 fails the DEA check digit (its last digit should be 3); check "
         "the number for a typing error"),
        ("taken", "another site is registered as BS1234563"),
        ("stock-recorded", "North Clinic's ledger is kept under BN1234563; a recorded number is "
         "not changed once stock is recorded under it"),
        ("no-address", "enter the registered address"),
    ],
)  # fmt: skip
def test_registration_refused_saves_nothing(
    case, message, north, south, alex, ben, registered, safe, supplier, vial_50
):
    site, by, number, address = north, alex, "BS1234563", "1 Main St"
    if case == "a-nurse":
        by = ben
    elif case == "another-site":
        site = south
    elif case == "check-digit":
        number = "BN1234564"
    elif case == "taken":
        SiteRegistration.objects.create(site=south, dea_number="BS1234563")
    elif case == "stock-recorded":
        receive(safe, supplier, vial_50, alex, containers=1)
    elif case == "no-address":
        number, address = "BN1234563", ""
    before = rows()
    with pytest.raises(ClinicalValueError) as refused:
        setup.set_registration(
            site=site, dea_number=number, registrant_name="North", address=address, by=by
        )
    assert refused.value.message == message
    assert rows() == before


def test_suppliers_products_and_locations_are_added_and_changed(north, alex):
    supplier = setup.save_supplier(
        supplier=None, name="McKesson", address="Irving, TX", dea_number="RM0314790", by=alex
    )
    supplier = setup.save_supplier(
        supplier=supplier, name="McKesson Corp.", address="Irving, TX", dea_number="RM0314790",
        by=alex,
    )  # fmt: skip
    product = setup.save_product(
        product=None, name="Ketamine HCl", strength_mg_per_ml=100,
        container_volume_ml=Decimal("5"), ndc="0409-2053-05", by=alex,
    )  # fmt: skip
    location = setup.save_location(site=north, location=None, name="Safe", by=alex)
    location = setup.save_location(site=north, location=location, name="Main safe", by=alex)
    assert (supplier.name, product.strength_mg_per_ml, location.name) == (
        "McKesson Corp.", 100, "Main safe",
    )  # fmt: skip
    assert AuditEvent.objects.filter(category=DataCategory.LEDGER).count() == 5


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("a-nurse", "only a clinic administrator may do this"),
        ("strength", "ketamine comes as 10, 50 or 100 mg/mL; got 25 mg/mL"),
        ("volume", "a container holds more than 0 and at most 100 mL, to 0.01 mL; got 0.005 mL"),
        ("ndc", "an NDC is 10 digits as 4-4-2, 5-3-2 or 5-4-1, or 11 digits as 5-4-2 "
         "(e.g. 42023-0113-10); got '42023'"),
        ("ndc-taken", "another product has NDC 42023-0115-10"),
        ("received", "Ketamine hydrochloride injection 50 mg/mL, 10.00 mL has been received: "
         "its strength, volume and NDC are fixed; add another product instead"),
    ],
)  # fmt: skip
def test_product_refused_saves_nothing(
    case, message, alex, ben, vial_50, vial_10, registered, safe, supplier
):
    product, by, strength, volume, ndc = vial_50, alex, 50, Decimal("20"), "42023-0113-10"
    if case == "a-nurse":
        by = ben
    elif case == "strength":
        strength = 25
    elif case == "volume":
        volume = Decimal("0.005")
    elif case == "ndc":
        ndc = "42023"
    elif case == "ndc-taken":
        ndc = "42023-0115-10"
    elif case == "received":
        receive(safe, supplier, vial_50, alex, containers=1)
    before = rows()
    with pytest.raises(ClinicalValueError) as refused:
        setup.save_product(
            product=product, name="Ketamine hydrochloride injection", strength_mg_per_ml=strength,
            container_volume_ml=volume, ndc=ndc, by=by,
        )  # fmt: skip
    assert refused.value.message == message
    assert rows() == before


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("check-digit", "PH0000002 fails the DEA check digit (its last digit should be 0); "
         "check the number for a typing error"),
        ("received-from", "the ledger names Henry Schein with DEA number PH0000001; add the new "
         "registration as another supplier"),
        ("taken", "another supplier has DEA number RM0314790"),
        ("no-name", "enter the supplier's name"),
    ],
)  # fmt: skip
def test_supplier_refused_saves_nothing(case, message, alex, registered, safe, supplier, vial_50):
    name, number = "Henry Schein", "PH0000012"
    if case == "check-digit":
        number = "PH0000002"
    elif case == "received-from":
        receive(safe, supplier, vial_50, alex, containers=1)
    elif case == "taken":
        Supplier.objects.create(name="McKesson", address="Irving, TX", dea_number="RM0314790")
        number = "RM0314790"
    elif case == "no-name":
        name = ""
    before = rows()
    with pytest.raises(ClinicalValueError) as refused:
        setup.save_supplier(
            supplier=supplier, name=name, address="Melville, NY", dea_number=number, by=alex
        )
    assert refused.value.message == message
    assert rows() == before


def test_a_location_name_is_used_once_per_site(north, south, alex, safe):
    before = rows()
    with pytest.raises(ClinicalValueError) as refused:
        setup.save_location(site=north, location=None, name="Safe", by=alex)
    assert refused.value.message == "North Clinic already has a location named Safe"
    with pytest.raises(ClinicalValueError) as refused:
        setup.save_location(site=south, location=None, name="Safe", by=alex)
    assert refused.value.message == "you are not on the staff of South Clinic"
    assert rows() == before
