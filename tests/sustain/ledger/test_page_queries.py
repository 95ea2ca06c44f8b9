"""Query-count guards for the ledger's pages (in the style of tests/sustain/test_query_counts.py):
the safe and a container's page make a fixed number of queries, whatever the number of
locations, lots, containers, entries and patients. Each page is measured at two sizes and must
make exactly the same number at both; the number counts everything the request does (session,
permissions, the audit events it writes)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from sustain.ledger import services
from sustain.ledger.models import Location
from tests.sustain import clinic_builders as build
from tests.sustain.ledger.conftest import FRIDAY, MONDAY, PASSWORD, receive
from tests.sustain.second_factor import SECOND_FACTOR

pytestmark = pytest.mark.db

AT = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)  # Monday 10:00 in New York
# The safe: session, user, permissions, the user's sites, the site's locations, their
# containers (with lot, product, balance and opened in one query), the read's audit event (the
# actor's roles, the chain head locked, the event, the head moved) and the session saved.
SAFE = {"nurse": 17, "auditor": 17}
# A container's page: the container (scoped to the user's sites), its entries (with who,
# witnesses, supplier, registrations, destruction and, for roles that see patients, the visit's
# patient, in one query), the other locations for the transfer form, the suppliers for the
# return form (administrators), and the audit events (the page's read, and the names read for
# those who see them).
CONTAINER = {"nurse": 22, "auditor": 16, "clinic_admin": 24}


@pytest.fixture(params=["few", "many"])
def stock(
    request, registered, safe, supplier, vial_50, vial_10, alex, ben, nia, ada, sam, visit, north
):
    """Few: one receipt of two vials, one opened, drawn from for Pat's visit and the rest
    wasted. Many: also two more lots and a cart, more vials, adjustments, transfers and a
    second patient's draw from the same vial."""
    vials = receive(safe, supplier, vial_50, alex, containers=2)
    at = build.at(north, MONDAY, 8, 30)
    services.open_container(container=vials[0], by=ben, now=at)
    services.draw_for_visit(
        container=vials[0], appointment=visit, dose_mg=Decimal("35"), by=ben, now=at
    )
    services.waste_for_visit(
        appointment=visit, container=vials[0], quantity_mg=Decimal("5"), witness=nia,
        witness_password=PASSWORD, by=ben, now=at,
    )  # fmt: skip
    if request.param == "many":
        cart = Location.objects.create(site=north, name="Cart 1")
        receive(safe, supplier, vial_10, alex, containers=4, lot="T10")
        receive(cart, supplier, vial_50, alex, containers=3, lot="K999")
        for n in range(1, 7):
            services.adjust_balance(
                container=vials[0], change_mg=Decimal(-n), reason=f"Count {n}", by=alex, now=at
            )
        services.transfer_container(container=vials[0], to=cart, by=alex, now=at)
        services.transfer_container(container=vials[0], to=safe, by=alex, now=at)
        rae = build.register(north, sam, "Rae", "Second", on=FRIDAY)
        course = build.ready_for_series(
            rae, prescriber=ada, nurse=ben, now=build.at(north, FRIDAY, 10),
            phq9_total=18, gad7_total=12,
        )  # fmt: skip
        other = build.book_series(
            course, sam, first=build.at(north, MONDAY, 8),
            now=build.at(north, FRIDAY, 11),
        )[0]  # fmt: skip
        services.draw_for_visit(
            container=vials[0], appointment=other, dose_mg=Decimal("30"), by=ben, now=at
        )
    return vials[0]


@pytest.mark.parametrize("role", ["nurse", "auditor"])
def test_the_safe(role, stock, login, ben, ivy, django_assert_num_queries):
    client = login({"nurse": ben, "auditor": ivy}[role])
    with time_machine.travel(AT, tick=False):
        client.get("/ledger/")  # the session's first request
        with django_assert_num_queries(SAFE[role] + SECOND_FACTOR):
            response = client.get("/ledger/")
    assert response.status_code == 200


@pytest.mark.parametrize("role", ["nurse", "auditor", "clinic_admin"])
def test_a_containers_page(role, stock, login, ben, ivy, alex, django_assert_num_queries):
    client = login({"nurse": ben, "auditor": ivy, "clinic_admin": alex}[role])
    with time_machine.travel(AT, tick=False):
        client.get("/ledger/")
        with django_assert_num_queries(CONTAINER[role] + SECOND_FACTOR):
            response = client.get(f"/ledger/containers/{stock.pk}/")
    assert response.status_code == 200
    assert len(response.context["lines"]) >= 4
