"""The ledger's API (issue 12, items 3 and 8): each endpoint for each role, each refusal a 409
naming its rule with nothing saved, idempotency keys, exact decimal strings, and twelve nurses
drawing through the API at once.

Services take explicit times and the API reads the clock, so each request travels to its
moment (and signs in there: sessions expire after 15 idle minutes).
"""

import datetime as dt
import itertools
import json
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.forms.models import model_to_dict
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sustain.accounts.enums import AuditAction, AuditOutcome
from sustain.accounts.models import AuditEvent, IdempotencyRecord, Membership, User
from sustain.ledger import services
from sustain.ledger.chain import verify_chain
from sustain.ledger.enums import EntryKind, Rule
from sustain.ledger.models import Container, ContainerBalance, LedgerEntry, Location, Lot
from sustain.scheduling.enums import AppointmentStatus, CancellationReason
from sustain.scheduling.models import Appointment
from sustain_core.errors import ExpiredLot, InsufficientStock, WitnessNotAllowed
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user
from tests.sustain.ledger.conftest import FRIDAY, MONDAY, PASSWORD, receive
from tests.sustain.scheduling.test_booking import run_together
from tests.sustain.second_factor import enrolled, signed_in

pytestmark = pytest.mark.api

API = "/api/v1/ledger"
KEYS = (f"key-{n}" for n in itertools.count())


def at_visit(site, minute: int = 30) -> dt.datetime:
    return build.at(site, MONDAY, 8, minute)


def call(user: User | None, at: dt.datetime, path: str, body: Any = None, **headers: str) -> Any:
    """The API at `at`, signed in as `user` (None: anonymous): GET `path` without a body, else
    POST the body as JSON with a fresh Idempotency-Key unless `headers` give one (or None)."""
    with time_machine.travel(at, tick=False):
        client = Client()
        if user is not None:
            signed_in(user, client)
        if body is None:
            return client.get(API + path)
        headers.setdefault("HTTP_IDEMPOTENCY_KEY", next(KEYS))
        sent = {k: v for k, v in headers.items() if v is not None}
        data = body if isinstance(body, str) else json.dumps(body)
        return client.post(API + path, data, content_type="application/json", **sent)


def saved() -> dict[str, Any]:
    """Everything a ledger write could change, with every audit row (but the signing in that
    `call` does, and the refusal events `refused` checks one by one) and idempotency record."""
    return {
        "entries": LedgerEntry.objects.count(),
        "containers": sorted(Container.objects.values_list("pk", "location_id")),
        "lots": sorted(Lot.objects.values_list("pk", "expires_on")),
        "balances": sorted(ContainerBalance.objects.values_list("pk", "balance_mg", "balance_ml")),
        "audit": AuditEvent.objects.exclude(action=AuditAction.LOGIN)
        .exclude(outcome=AuditOutcome.REFUSED)
        .count(),
        "keys": IdempotencyRecord.objects.count(),
    }


def ledger_only(state: dict[str, Any]) -> dict[str, Any]:
    """The ledger's part of `saved()` (a 403 writes one audited denial, and nothing else)."""
    return {k: v for k, v in state.items() if k not in ("audit", "keys")}


def refused(response: Any) -> tuple[int, str, str]:
    """The refusal's status and error; a refused write (400, 409) is one audit event (issue 14)."""
    assert list(response.json()) == ["error"]
    if response.status_code in (400, 409):
        events = AuditEvent.objects.filter(request_id=response["X-Request-ID"])
        assert [(e.action, e.outcome) for e in events] == [("write", AuditOutcome.REFUSED)]
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


@pytest.fixture
def sol(south) -> User:
    """South Clinic's administrator, who must reach nothing of North's."""
    return make_user("sol", "clinic_admin", south)


@pytest.fixture
def cart(north) -> Location:
    return Location.objects.create(site=north, name="Cart 1")


def draw(container, visit, by, mg: str = "40") -> LedgerEntry:
    return services.draw_for_visit(
        container=container, appointment=visit, dose_mg=Decimal(mg), by=by, now=at_visit(visit.site)
    )


def receipt(safe, supplier, product, **change: Any) -> dict[str, Any]:
    return {
        "location_id": safe.pk, "supplier_id": supplier.pk, "invoice_number": "INV-2026-0077",
        "product_id": product.pk, "lot_number": "K777", "expires_on": "2027-06-30",
        "containers": 2, "received_on": "2026-11-30",
    } | change  # fmt: skip


def waste_body(visit, container, **change: Any) -> dict[str, Any]:
    return {
        "visit_id": visit.pk, "container_id": container.pk, "quantity_mg": "5", "witness": "nia",
        "witness_password": PASSWORD,
    } | change  # fmt: skip


# -- Each endpoint for each role --------------------------------------------------------------

# Who may write what; every other role is refused (403), another site's staff member finds
# nothing (404: Dr Carl at the chair side, Sol for the administrator's writes).
WRITERS = {
    "receipts": {"alex"},
    "draws": {"ada", "ben"},
    "wastes": {"ada", "ben"},
    "transfers": {"alex"},
    "adjustments": {"alex"},
}
ELSEWHERE = {"receipts": "sol", "draws": "carl", "wastes": "carl", "transfers": "sol",
             "adjustments": "sol"}  # fmt: skip
PERSONAS = ("ada", "ben", "sam", "alex", "ivy", "anonymous", "elsewhere")


def expected_status(endpoint: str, persona: str) -> int:
    if persona == "anonymous":
        return 401
    if persona == "elsewhere":
        return 404
    return 201 if persona in WRITERS[endpoint] else 403


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", list(WRITERS))
def test_each_write_for_each_role(
    endpoint, persona, request, vials, visit, safe, cart, supplier, vial_50, ben, nia, sol
):
    if endpoint == "wastes":
        draw(vials[0], visit, ben)
    body = {
        "receipts": receipt(safe, supplier, vial_50),
        "draws": {"container_id": vials[0].pk, "visit_id": visit.pk, "dose_mg": "35"},
        "wastes": waste_body(visit, vials[0]),
        "transfers": {"container_id": vials[0].pk, "location_id": cart.pk},
        "adjustments": {"container_id": vials[0].pk, "change_mg": "-5", "reason": "spilled"},
    }[endpoint]
    name = ELSEWHERE[endpoint] if persona == "elsewhere" else persona
    user = None if persona == "anonymous" else request.getfixturevalue(name)
    before = saved()

    response = call(user, at_visit(visit.site), f"/{endpoint}", body)

    status = expected_status(endpoint, persona)
    assert response.status_code == status
    if status == 201:
        written = 2 if endpoint == "receipts" else 1
        assert LedgerEntry.objects.count() == before["entries"] + written
        newest = LedgerEntry.objects.order_by("-seq")[:written]
        assert [e.actor_id for e in newest] == [user.pk] * written
    else:
        assert ledger_only(saved()) == ledger_only(before)


@pytest.mark.parametrize(
    ("persona", "status"),
    [("ada", 200), ("ben", 200), ("alex", 200), ("ivy", 200), ("sam", 403), ("carl", 404),
     ("anonymous", 401)],
)  # fmt: skip
def test_each_read_for_each_role(persona, status, request, vials, north):
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    at = at_visit(north)
    assert call(user, at, f"/balance?site={north.pk}").status_code == status
    assert call(user, at, f"/containers/{vials[0].pk}").status_code == status


def test_another_sites_visit_and_an_unknown_supplier_are_404(
    vials, visit, carl, south, alex, safe, supplier, vial_50
):
    # Dr Carl draws from a vial at his own site, South, for North's visit: no such visit.
    south_safe = Location.objects.create(site=south, name="Safe")
    Container.objects.filter(pk=vials[1].pk).update(location=south_safe)
    at = at_visit(visit.site)
    before = saved()
    away = call(
        carl, at, "/draws", {"container_id": vials[1].pk, "visit_id": visit.pk, "dose_mg": "35"}
    )
    unknown = call(alex, at, "/receipts", receipt(safe, supplier, vial_50, supplier_id=999999))
    assert refused(away) == (404, "not_found", "No such appointment.")
    assert refused(unknown) == (404, "not_found", "No such supplier.")
    assert saved() == before


# -- What a write answers ---------------------------------------------------------------------


def test_receive_answers_the_numbered_containers(vials, alex, safe, supplier, vial_10):
    before = LedgerEntry.objects.count()
    response = call(
        alex, at_visit(safe.site), "/receipts", receipt(safe, supplier, vial_10, lot_number="K123")
    )
    assert response.status_code == 201
    shown = response.json()["containers"]
    assert [(c["lot_number"], c["number"], c["balance_mg"], c["balance_ml"]) for c in shown] == [
        ("K123", 1, "200", "20"),
        ("K123", 2, "200", "20"),
    ]
    assert shown[0]["location"] == "Safe"
    assert shown[0]["container_volume_ml"] == "20"
    assert LedgerEntry.objects.count() == before + 2


def test_draw_then_waste_answer_exact_decimal_strings(vials, visit, ben, nia):
    at = at_visit(visit.site)
    drawn = call(
        ben, at, "/draws", {"container_id": vials[0].pk, "visit_id": visit.pk, "dose_mg": "35.55"}
    )
    assert drawn.status_code == 201
    entry, container = drawn.json()["entry"], drawn.json()["container"]
    assert (entry["kind"], entry["quantity_mg"], entry["quantity_ml"]) == ("draw", "35.55", "0.711")
    assert (entry["change_mg"], entry["change_ml"], entry["visit_id"]) == (
        "-35.55", "-0.711", visit.pk
    )  # fmt: skip
    assert (container["balance_mg"], container["balance_ml"]) == ("464.45", "9.289")

    wasted = call(
        ben, at, "/wastes", waste_body(visit, vials[0], quantity_mg="0.55", witness=nia.pk)
    )
    assert wasted.status_code == 201
    entry = wasted.json()["entry"]
    assert (entry["kind"], entry["quantity_mg"], entry["quantity_ml"], entry["change_mg"]) == (
        "waste", "0.55", "0.011", "0"
    )  # fmt: skip
    assert (entry["by"], entry["witness"]) == ("ben", "nia")
    assert wasted.json()["container"]["balance_mg"] == "464.45"
    assert PASSWORD not in wasted.content.decode()


def test_transfer_and_adjustment_answer_the_container_after(vials, alex, cart):
    at = at_visit(cart.site)
    moved = call(alex, at, "/transfers", {"container_id": vials[0].pk, "location_id": cart.pk})
    assert moved.status_code == 201
    assert (moved.json()["entry"]["kind"], moved.json()["container"]["location"]) == (
        "transfer", "Cart 1"
    )  # fmt: skip
    adjusted = call(
        alex, at, "/adjustments",
        {"container_id": vials[0].pk, "change_mg": "-0.01", "reason": "a drop lost"},
    )  # fmt: skip
    assert adjusted.status_code == 201
    entry = adjusted.json()["entry"]
    assert (entry["change_mg"], entry["change_ml"], entry["needs_review"]) == (
        "-0.01", "-0.0002", True
    )  # fmt: skip
    assert adjusted.json()["container"]["balance_mg"] == "499.99"


def test_balance_per_container_lot_location_and_site(vials, visit, ben, safe, cart, alex):
    draw(vials[0], visit, ben, "35.5")
    services.transfer_container(container=vials[2], to=cart, by=alex, now=at_visit(safe.site))
    services.adjust_balance(
        container=vials[1], change_mg=Decimal("-500"), reason="broken", by=alex,
        now=at_visit(safe.site),
    )  # fmt: skip

    response = call(ben, at_visit(safe.site, 45), f"/balance?site={safe.site_id}")

    assert response.status_code == 200
    shown = response.json()
    # The emptied container 2 is left out.
    containers = [
        (c["number"], c["location"], c["balance_mg"], c["balance_ml"]) for c in shown["containers"]
    ]
    assert containers == [(3, "Cart 1", "500", "10"), (1, "Safe", "464.5", "9.29")]
    lots = [(lot["lot_number"], lot["mg"], lot["ml"], lot["containers"]) for lot in shown["lots"]]
    assert lots == [("K123", "964.5", "19.29", 2)]
    assert [(p["location"], p["mg"], p["ml"]) for p in shown["locations"]] == [
        ("Cart 1", "500", "10"),
        ("Safe", "464.5", "9.29"),
    ]
    assert shown["total"] == {"mg": "964.5", "ml": "19.29", "containers": 2}
    assert "Pat" not in response.content.decode()


def test_balance_reads_in_as_many_queries_for_one_container_as_for_three(
    registered, safe, supplier, vial_50, alex, ben, north
):
    def queries_for_balance() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert call(ben, at_visit(north), f"/balance?site={north.pk}").status_code == 200
        return len(queries)

    enrolled(ben)  # the sign-in in the count makes the device only the first time otherwise
    receive(safe, supplier, vial_50, alex, containers=1)
    one = queries_for_balance()
    receive(safe, supplier, vial_50, alex, containers=2, lot="K124")
    assert queries_for_balance() == one


def test_container_shows_its_entries_with_visit_ids_only(vials, visit, ben, nia):
    draw(vials[0], visit, ben)
    services.waste_for_visit(
        appointment=visit, container=vials[0], quantity_mg=Decimal("5"), witness=nia,
        witness_password=PASSWORD, by=ben, now=at_visit(visit.site, 45),
    )  # fmt: skip

    response = call(nia, at_visit(visit.site, 50), f"/containers/{vials[0].pk}")

    assert response.status_code == 200
    shown = response.json()
    assert (shown["number"], shown["balance_mg"], shown["balance_ml"]) == (1, "460", "9.2")
    assert [
        (e["kind"], e["quantity_mg"], e["change_mg"], e["by"], e["witness"], e["visit_id"])
        for e in shown["entries"]
    ] == [
        ("receive", "500", "500", "alex", "", None),
        ("draw", "40", "-40", "ben", "", visit.pk),
        ("waste", "5", "0", "ben", "nia", visit.pk),
    ]
    assert "Pat" not in response.content.decode()
    assert "Quinn" not in response.content.decode()


# -- Every refusal: 409 naming the rule, nothing saved ----------------------------------------


def test_every_rule_code_is_documented_and_the_core_defaults_are_rules():
    assert {InsufficientStock.rule, ExpiredLot.rule, WitnessNotAllowed.rule} <= set(Rule.values)


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("more-than-the-balance", "negative_balance",
         "container lot K123 #1 holds 500 mg; taking 500.01 mg would make its balance negative, "
         "and a balance never goes below zero"),
        ("expired-lot", "expired_lot",
         "lot K9 expired on 2026-11-29; an expired lot cannot be drawn"),
        ("container-at-another-site", "wrong_site",
         "container lot K123 #1 is at South Clinic; draw for a visit at North Clinic from that "
         "site's stock"),
        ("cancelled-visit", "visit_cancelled", "the visit is cancelled; no drug is drawn for it"),
        ("visit-another-day", "visit_not_today",
         "the visit is on 2026-11-30; draw for it on that day, not 2026-11-27"),
    ],
)  # fmt: skip
def test_draw_refused_409_saves_nothing(
    case, code, message, vials, visit, ben, request, registered, safe, supplier, vial_50, alex
):
    container, dose, at = vials[0], "35", at_visit(visit.site)
    if case == "more-than-the-balance":
        dose = "500.01"
    elif case == "expired-lot":
        (container,) = receive(
            safe, supplier, vial_50, alex, containers=1, lot="K9",
            expires_on=dt.date(2026, 11, 29),
        )  # fmt: skip
    elif case == "container-at-another-site":
        south = request.getfixturevalue("south")
        Membership.objects.create(user=ben, site=south)
        south_safe = Location.objects.create(site=south, name="Safe")
        Container.objects.filter(pk=container.pk).update(location=south_safe)
    elif case == "cancelled-visit":
        Appointment.objects.filter(pk=visit.pk).update(
            status=AppointmentStatus.CANCELLED, cancel_reason=CancellationReason.ILLNESS
        )
    elif case == "visit-another-day":
        at = build.at(visit.site, FRIDAY, 16)
    before = saved()

    response = call(
        ben, at, "/draws", {"container_id": container.pk, "visit_id": visit.pk, "dose_mg": dose}
    )

    assert refused(response) == (409, code, message)
    assert saved() == before


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("more-than-the-remainder", "exceeds_drawn",
         "40 mg drawn from container lot K123 #1 for this visit is not yet given or wasted; "
         "40.01 mg cannot be wasted"),
        ("container-not-drawn-from", "exceeds_drawn",
         "nothing was drawn from container lot K123 #2 for this visit"),
        ("witness-is-the-waster", "witness_is_self",
         "the witness must be a second person, not you"),
        ("witness-drew", "witness_is_drawer", "ada drew for this visit; the witness never drew"),
        ("wrong-password", "witness_password", "the witness's password is not correct"),
        ("inactive-witness", "witness_not_allowed", "nia's account is not active"),
        ("witness-without-a-clinical-role", "witness_not_allowed",
         "the witness must be a nurse or a prescriber"),
        ("witness-at-another-site", "witness_not_allowed",
         "carl is not on the staff of North Clinic"),
        ("witness-by-an-unknown-id", "witness_not_allowed",
         "999999 is not on the staff of North Clinic"),
    ],
)  # fmt: skip
def test_waste_refused_409_saves_nothing(
    case, code, message, vials, visit, ada, ben, nia, carl, sam
):
    draw(vials[0], visit, ada if case == "witness-drew" else ben)
    change: dict[str, Any] = {}
    if case == "more-than-the-remainder":
        change = {"quantity_mg": "40.01"}
    elif case == "container-not-drawn-from":
        change = {"container_id": vials[1].pk}
    elif case == "witness-is-the-waster":
        change = {"witness": "ben"}
    elif case == "witness-drew":
        change = {"witness": ada.pk}
    elif case == "wrong-password":
        change = {"witness_password": "guessed-password"}
    elif case == "inactive-witness":
        User.objects.filter(pk=nia.pk).update(is_active=False)
    elif case == "witness-without-a-clinical-role":
        change = {"witness": "sam"}
    elif case == "witness-at-another-site":
        change = {"witness": "carl"}
    elif case == "witness-by-an-unknown-id":
        change = {"witness": 999999}
    before = saved()

    response = call(ben, at_visit(visit.site, 45), "/wastes", waste_body(visit, vials[0], **change))

    assert refused(response) == (409, code, message)
    assert saved() == before
    assert PASSWORD not in response.content.decode()
    assert "guessed-password" not in response.content.decode()


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("unregistered-site", "site_not_registered",
         "North Clinic has no DEA registration number recorded; records are kept per registered "
         "location, so record it before receiving stock"),
        ("dated-after-today", "dated_after_today",
         "the receipt is dated 2026-12-01, after today (2026-11-30)"),
        ("expired-before-receipt", "expired_lot",
         "lot K777 expired on 2026-11-29; expired stock is not received"),
        ("known-lot-other-expiry", "lot_expiry_mismatch",
         "lot K123 is recorded as expiring on 2027-06-30, not 2027-01-31"),
    ],
)  # fmt: skip
def test_receive_refused_409_saves_nothing(
    case, code, message, vials, registered, safe, supplier, vial_50, alex
):
    change: dict[str, Any] = {}
    if case == "unregistered-site":
        registered.delete()
    elif case == "dated-after-today":
        change = {"received_on": "2026-12-01"}
    elif case == "expired-before-receipt":
        change = {"expires_on": "2026-11-29"}
    elif case == "known-lot-other-expiry":
        change = {"lot_number": "K123", "expires_on": "2027-01-31"}
    before = saved()

    response = call(
        alex, at_visit(safe.site), "/receipts", receipt(safe, supplier, vial_50, **change)
    )

    assert refused(response) == (409, code, message)
    assert saved() == before


def test_transfer_and_adjustment_refused_409_save_nothing(vials, safe, alex, south):
    Membership.objects.create(user=alex, site=south)
    south_safe = Location.objects.create(site=south, name="Safe")
    at = at_visit(safe.site)
    before = saved()

    same = call(alex, at, "/transfers", {"container_id": vials[0].pk, "location_id": safe.pk})
    away = call(alex, at, "/transfers", {"container_id": vials[0].pk, "location_id": south_safe.pk})
    below = call(
        alex, at, "/adjustments",
        {"container_id": vials[0].pk, "change_mg": "-500.01", "reason": "count"},
    )  # fmt: skip

    assert refused(same) == (409, "same_location", "container lot K123 #1 is already at Safe")
    assert refused(away) == (
        409, "site_not_registered",
        "South Clinic has no DEA registration number recorded; records are kept per registered "
        "location, so record it before moving stock into it",
    )  # fmt: skip
    assert refused(below) == (
        409, "negative_balance",
        "container lot K123 #1 holds 500 mg; taking 500.01 mg would make its balance negative, "
        "and a balance never goes below zero",
    )  # fmt: skip
    assert saved() == before


# -- Malformed requests: 400 a value refused on its own, 422 a body off its schema -----------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"dose_mg": "0"}, 400, "dose_mg"),
        ({"dose_mg": "35.001"}, 400, "dose_mg"),
        ({"dose_mg": "-5"}, 400, "dose_mg"),
        ({"dose_mg": "1e9"}, 400, "dose_mg"),
        ({"dose_mg": 35}, 422, None),  # a JSON number: it can lose digits
        ({"dose_mg": 1.00000000000000000001}, 422, None),
        ({"dose_mg": "NaN"}, 422, None),
        ({"dose_mg": "thirty"}, 422, None),
        ({"visit_id": "x"}, 422, None),
    ],
)
def test_draw_malformed_is_refused_and_saves_nothing(body, status, code, vials, visit, ben):
    before = saved()
    payload = {"container_id": vials[0].pk, "visit_id": visit.pk} | body
    response = call(ben, at_visit(visit.site), "/draws", payload)
    assert response.status_code == status
    if code is not None:
        assert refused(response)[1] == code
    assert saved() == before


def test_waste_without_a_password_is_422_and_never_echoes_it(vials, visit, ben):
    draw(vials[0], visit, ben)
    before = saved()
    body = waste_body(visit, vials[0])
    del body["quantity_mg"]
    response = call(ben, at_visit(visit.site, 45), "/wastes", body)
    assert response.status_code == 422
    assert PASSWORD not in response.content.decode()
    assert saved() == before


def test_blank_reason_and_containers_out_of_bounds_are_400(vials, alex, safe, supplier, vial_50):
    at = at_visit(safe.site)
    before = saved()
    blank = call(
        alex, at, "/adjustments", {"container_id": vials[0].pk, "change_mg": "5", "reason": " "}
    )
    none = call(alex, at, "/receipts", receipt(safe, supplier, vial_50, containers=0))
    assert refused(blank) == (400, "reason", "enter why the balance is adjusted")
    assert refused(none) == (400, "containers", "a receipt holds 1 to 200 containers; got 0")
    assert saved() == before


def test_every_write_needs_an_idempotency_key(vials, visit, ben):
    before = saved()
    response = call(
        ben, at_visit(visit.site), "/draws",
        {"container_id": vials[0].pk, "visit_id": visit.pk, "dose_mg": "35"},
        HTTP_IDEMPOTENCY_KEY=None,
    )  # fmt: skip
    assert refused(response) == (
        400, "Idempotency-Key", "send an Idempotency-Key header with every ledger write"
    )  # fmt: skip
    assert saved() == before


# -- Idempotency keys -------------------------------------------------------------------------


def test_same_key_replays_the_draw_and_another_body_is_422(vials, visit, ben):
    at = at_visit(visit.site)
    body = {"container_id": vials[0].pk, "visit_id": visit.pk, "dose_mg": "35"}
    first = call(ben, at, "/draws", body, HTTP_IDEMPOTENCY_KEY="draw-1")
    replay = call(ben, at, "/draws", body, HTTP_IDEMPOTENCY_KEY="draw-1")
    other = call(ben, at, "/draws", body | {"dose_mg": "36"}, HTTP_IDEMPOTENCY_KEY="draw-1")

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert refused(other) == (
        422, "Idempotency-Key", "this key was already used for a different request"
    )  # fmt: skip
    assert LedgerEntry.objects.filter(kind=EntryKind.DRAW).count() == 1
    assert ContainerBalance.objects.get(pk=vials[0].pk).balance_mg == Decimal("465")


def test_a_refused_write_leaves_its_key_free(vials, visit, ben):
    at = at_visit(visit.site)
    body = {"container_id": vials[0].pk, "visit_id": visit.pk, "dose_mg": "600"}
    assert call(ben, at, "/draws", body, HTTP_IDEMPOTENCY_KEY="k").status_code == 409
    again = call(ben, at, "/draws", body | {"dose_mg": "60"}, HTTP_IDEMPOTENCY_KEY="k")
    assert again.status_code == 201
    assert again.json()["container"]["balance_mg"] == "440"


def test_a_waste_key_is_kept_without_the_password(vials, visit, ben, nia):
    draw(vials[0], visit, ben)
    at = at_visit(visit.site, 45)
    first = call(ben, at, "/wastes", waste_body(visit, vials[0]), HTTP_IDEMPOTENCY_KEY="w-1")
    # The retry of a waste already recorded replays it: the key covers the request without its
    # password, which is never stored, not even as part of a digest.
    retry = call(
        ben, at, "/wastes", waste_body(visit, vials[0], witness_password="typed-again"),
        HTTP_IDEMPOTENCY_KEY="w-1",
    )  # fmt: skip
    other = call(
        ben, at, "/wastes", waste_body(visit, vials[0], quantity_mg="6"),
        HTTP_IDEMPOTENCY_KEY="w-1",
    )  # fmt: skip

    assert (first.status_code, retry.status_code, retry.json()) == (201, 201, first.json())
    assert refused(other)[:2] == (422, "Idempotency-Key")
    assert LedgerEntry.objects.filter(kind=EntryKind.WASTE).count() == 1
    record = IdempotencyRecord.objects.get(key="w-1")
    assert PASSWORD not in json.dumps(model_to_dict(record), default=str)


# -- The OpenAPI document ---------------------------------------------------------------------


def test_openapi_document_lists_the_ledger_and_its_rules(login, ben):
    document = login(ben).get("/api/v1/openapi.json").json()
    paths = {p for p in document["paths"] if p.startswith("/api/v1/ledger/")}
    assert paths == {
        "/api/v1/ledger/receipts", "/api/v1/ledger/draws", "/api/v1/ledger/wastes",
        "/api/v1/ledger/transfers", "/api/v1/ledger/adjustments", "/api/v1/ledger/balance",
        "/api/v1/ledger/containers/{container_id}", "/api/v1/ledger/discrepancies",
        "/api/v1/ledger/locations/{location_id}/count-sheet",
        "/api/v1/ledger/locations/{location_id}/counts",
    }  # fmt: skip
    (tag,) = [t for t in document["tags"] if t["name"] == "ledger"]
    assert all(f"`{code}`" in tag["description"] for code in Rule.values)
    waste = document["paths"]["/api/v1/ledger/wastes"]["post"]
    assert set(waste["responses"]) == {"201", "400", "401", "403", "404", "409", "422"}


# -- Twelve nurses at once, through the API ---------------------------------------------------

THREADS = 12


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twelve_concurrent_api_draws_leave_the_exact_balance(
    registered, safe, supplier, vial_10, alex, visit, ben
):
    # One 200 mg vial (10 mg/mL, 20 mL); twelve draws of 35 mg, each with its own key: exactly
    # five fit (175 mg), the other seven are refused with the rule.
    (vial,) = receive(safe, supplier, vial_10, alex, containers=1)
    body = json.dumps({"container_id": vial.pk, "visit_id": visit.pk, "dose_mg": "35"})
    with time_machine.travel(at_visit(visit.site), tick=False):
        clients = []
        for _ in range(THREADS):
            client = Client()
            signed_in(ben, client)
            clients.append(client)
        responses = run_together(
            [
                lambda c=c, n=n: c.post(
                    f"{API}/draws",
                    body,
                    content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY=f"race-{n}",
                )
                for n, c in enumerate(clients)
            ]
        )

    answers = sorted((r.status_code, r.json().get("error", {}).get("code")) for r in responses)
    assert answers == [(201, None)] * 5 + [(409, "negative_balance")] * 7
    row = ContainerBalance.objects.get(pk=vial.pk)
    assert (row.balance_mg, row.balance_ml) == (Decimal("25"), Decimal("2.5"))
    assert LedgerEntry.objects.filter(kind=EntryKind.DRAW).count() == 5
    assert IdempotencyRecord.objects.count() == 5
    assert services.balances_match_entries() == []
    report = verify_chain()
    assert (report.ok, report.entries_checked) == (True, 6)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twelve_concurrent_retries_of_one_key_draw_once(
    registered, safe, supplier, vial_10, alex, visit, ben
):
    (vial,) = receive(safe, supplier, vial_10, alex, containers=1)
    body = json.dumps({"container_id": vial.pk, "visit_id": visit.pk, "dose_mg": "35"})
    with time_machine.travel(at_visit(visit.site), tick=False):
        clients = []
        for _ in range(THREADS):
            client = Client()
            signed_in(ben, client)
            clients.append(client)
        responses = run_together(
            [
                lambda c=c: c.post(
                    f"{API}/draws",
                    body,
                    content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY="one-draw",
                )
                for c in clients
            ]
        )

    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.DRAW).count() == 1
    assert ContainerBalance.objects.get(pk=vial.pk).balance_mg == Decimal("165")
