"""North Clinic's ketamine stock: its DEA registration, a supplier, the safe and the cart, and
a receipt of three 500 mg vials (50 mg/mL, 10 mL) of lot K123 on Friday 27 November; Pat's
first visit on Monday 30 November at 08:00 in New York; Nurse Nia, Ben's witness."""

import datetime as dt
from decimal import Decimal

import pytest

from sustain.accounts.models import Site, User
from sustain.care.models import Patient
from sustain.ledger import services
from sustain.ledger.models import Container, Location, Product, SiteRegistration, Supplier
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user

MONDAY = dt.date(2026, 11, 30)
FRIDAY = dt.date(2026, 11, 27)
PAT_ADDRESS = "12 Elm Street\nAlbany, NY 12207"
PASSWORD = "not-used-in-tests"  # noqa: S105 - every persona's (tests/sustain/conftest.make_user)


@pytest.fixture
def nia(north: Site) -> User:
    return make_user("nia", "nurse", north)


@pytest.fixture
def registered(north: Site) -> SiteRegistration:
    return SiteRegistration.objects.create(site=north, dea_number="BN1234563")


@pytest.fixture
def supplier(db: None) -> Supplier:
    return Supplier.objects.create(
        name="Henry Schein", address="135 Duryea Road, Melville, NY 11747", dea_number="PH0000001"
    )


@pytest.fixture
def vial_50(db: None) -> Product:
    return Product.objects.create(
        strength_mg_per_ml=50, container_volume_ml=Decimal("10"), ndc="42023-0113-10"
    )


@pytest.fixture
def vial_10(db: None) -> Product:
    return Product.objects.create(
        strength_mg_per_ml=10, container_volume_ml=Decimal("20"), ndc="42023-0115-10"
    )


@pytest.fixture
def safe(north: Site) -> Location:
    return Location.objects.create(site=north, name="Safe")


def receive(
    location: Location,
    supplier: Supplier,
    product: Product,
    by: User,
    *,
    containers: int = 3,
    lot: str = "K123",
    expires_on: dt.date = dt.date(2027, 6, 30),
    on: dt.date = FRIDAY,
) -> list[Container]:
    return services.receive_stock(
        location=location, supplier=supplier, invoice_number="INV-2026-0042", product=product,
        lot_number=lot, expires_on=expires_on, containers=containers, received_on=on, by=by,
        now=build.at(location.site, on, 9),
    )  # fmt: skip


@pytest.fixture
def vials(registered, safe, supplier, vial_50, alex) -> list[Container]:
    return receive(safe, supplier, vial_50, alex)


@pytest.fixture
def visit(north, pat, ada, ben, sam):
    """Pat's first induction visit, Monday 30 November 08:00 in New York."""
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=build.at(north, FRIDAY, 10),
        phq9_total=18, gad7_total=12,
    )  # fmt: skip
    return build.book_series(
        course, sam, first=build.at(north, MONDAY, 8), now=build.at(north, FRIDAY, 11)
    )[0]


@pytest.fixture
def monday_ledger(vials, visit, ben, nia, alex):
    """Monday 30 November: Ben draws 35 mg for Pat's visit from vial #1 (entry 4) and wastes
    5 mg of it, witnessed by Nia (entry 5); Alex takes 2.5 mg from vial #2 (entry 6) and
    corrects that adjustment (entry 7)."""
    first, second, _ = vials
    services.draw_for_visit(
        container=first, appointment=visit, dose_mg=Decimal("35"), by=ben,
        now=build.at(visit.site, MONDAY, 8, 30),
    )  # fmt: skip
    services.waste_for_visit(
        appointment=visit, container=first, quantity_mg=Decimal("5"), witness=nia,
        witness_password=PASSWORD, by=ben, now=build.at(visit.site, MONDAY, 9, 45),
    )  # fmt: skip
    adjusted = services.adjust_balance(
        container=second, change_mg=Decimal("-2.5"), reason="spilled at the safe", by=alex,
        now=build.at(visit.site, MONDAY, 12),
    )  # fmt: skip
    services.correct_entry(
        entry=adjusted, reason="counted again: nothing spilled", by=alex,
        now=build.at(visit.site, MONDAY, 13),
    )  # fmt: skip
    return visit


@pytest.fixture
def pat_address(pat):
    Patient.objects.filter(pk=pat.pk).update(address=PAT_ADDRESS)
