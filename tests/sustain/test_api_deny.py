"""TST-04: the deny paths of every API route — anonymous → 401, a role without the right →
403 (or 404), another site's object → 404 — all in the error shape, nothing saved.

ROUTES lists every route of sustain.api by its URL name; test_every_route_is_listed fails
when a route is added without its line here. Bodies are built from the route's own request
schema in the OpenAPI document (each required field a valid value, ids those of North's
records), so a refusal comes from the access rules, not from validation.
"""

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.urls import URLPattern
from django.utils import timezone
from ninja import Schema

from sustain.accounts.enums import Role
from sustain.api import api
from sustain.infusion import api as infusion_api
from sustain.ledger import api as ledger_api
from sustain.ledger import count_api
from sustain.ledger.models import Container, LedgerEntry, Location
from sustain.scheduling import api as scheduling_api
from sustain.scheduling.models import Appointment
from tests.sustain import clinic_builders
from tests.sustain.conftest import make_user
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.api

VISIT = "visits/{visit_id}/infusion"
# URL name: (method, path under /api/v1/ with {placeholders}, a North role without the right)
ROUTES: dict[str, tuple[str, str, str]] = {
    "book_series": ("post", "patients/{patient_id}/series", Role.NURSE),
    "chairside_record": ("get", VISIT, Role.SCHEDULER),
    "chairside_check_in": ("post", f"{VISIT}/check-in", Role.SCHEDULER),
    "chairside_checks": ("post", f"{VISIT}/checks", Role.SCHEDULER),
    "chairside_last_dose": ("post", f"{VISIT}/last-doses", Role.SCHEDULER),
    "chairside_vitals": ("post", f"{VISIT}/vitals", Role.SCHEDULER),
    "chairside_decision": ("post", f"{VISIT}/decisions", Role.NURSE),
    "chairside_start": ("post", f"{VISIT}/start", Role.SCHEDULER),
    "chairside_event": ("post", f"{VISIT}/events", Role.SCHEDULER),
    "chairside_adverse_event": ("post", f"{VISIT}/adverse-events", Role.SCHEDULER),
    "chairside_resume": ("post", f"{VISIT}/resume", Role.SCHEDULER),
    "chairside_end": ("post", f"{VISIT}/end", Role.SCHEDULER),
    "chairside_waste": ("post", f"{VISIT}/waste", Role.SCHEDULER),
    "chairside_discharge": ("post", f"{VISIT}/discharge", Role.SCHEDULER),
    "chairside_undo": ("post", f"{VISIT}/undo", Role.SCHEDULER),
    "chairside_sign": ("post", f"{VISIT}/sign", Role.SCHEDULER),
    "chairside_cosign": ("post", f"{VISIT}/cosign", Role.SCHEDULER),
    "chairside_addendum": ("post", f"{VISIT}/addenda", Role.SCHEDULER),
    "ledger_balance": ("get", "ledger/balance?site={site_id}", Role.SCHEDULER),
    "ledger_container": ("get", "ledger/containers/{container_id}", Role.SCHEDULER),
    "ledger_receive": ("post", "ledger/receipts", Role.NURSE),
    "ledger_draw": ("post", "ledger/draws", Role.SCHEDULER),
    "ledger_waste": ("post", "ledger/wastes", Role.SCHEDULER),
    "ledger_transfer": ("post", "ledger/transfers", Role.NURSE),
    "ledger_adjust": ("post", "ledger/adjustments", Role.NURSE),
    "count_sheet": ("get", "ledger/locations/{location_id}/count-sheet", Role.SCHEDULER),
    "submit_count": ("post", "ledger/locations/{location_id}/counts", Role.SCHEDULER),
    "discrepancies": ("get", "ledger/discrepancies?site_id={site_id}", Role.SCHEDULER),
}
NOT_ROUTES = {"openapi-json", "api-root", "no_route"}  # the document, the root, the catch-all


def test_every_route_is_listed():
    names = {p.name for p in api.urls[0] if isinstance(p, URLPattern)} - NOT_ROUTES
    assert names == set(ROUTES), "list each new API route in ROUTES with its deny paths"


@pytest.fixture
def north_records(north, ada, ben, sam, alex, pat):
    """North's ids: a patient in a booked series and stocked ketamine."""
    now = timezone.now()
    course = clinic_builders.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=now, phq9_total=18, gad7_total=12
    )
    clinic_builders.book_series(course, sam, first=now + dt.timedelta(days=1), now=now)
    clinic_builders.stock(north, alex, on=now.date())
    return {
        "patient_id": pat.pk,
        "visit_id": Appointment.objects.filter(patient=pat).first().pk,
        "site_id": north.pk,
        "container_id": Container.objects.filter(location__site=north).first().pk,
        "location_id": Location.objects.filter(site=north).first().pk,
        "supplier_id": 1,
        "product_id": 1,
        "medication_id": 1,
        "witness": ben.pk,
        "confirmed_by": ben.pk,
    }


DOCUMENT = api.get_openapi_schema(path_prefix="/api/v1/")
EXAMPLE_BY_FORMAT = {"date": "2026-12-01", "date-time": "2026-12-01T15:00:00Z"}


def _example(schema: dict[str, Any], ids: dict[str, int], name: str = "") -> Any:
    """A valid value for a JSON schema of the document: required fields only."""
    if "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        return _example(schema["anyOf"][0], ids, name)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        return {k: _example(v, ids, k) for k, v in schema["properties"].items() if k in required}
    if kind == "array":
        return [_example(schema["items"], ids)]
    scalars = {"integer": ids.get(name, 1), "boolean": False, "number": 1}
    return scalars.get(kind, EXAMPLE_BY_FORMAT.get(schema.get("format", ""), "1"))


def _request(client, name: str, ids: dict[str, int]):
    method, path, _ = ROUTES[name]
    url = "/api/v1/" + path.format(**ids)
    operation = DOCUMENT["paths"]["/api/v1/" + path.split("?")[0].replace("{site_id}", "")][method]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    data = json.dumps(_example(body["schema"], ids)) if body else None
    send = getattr(client, method)
    if method == "get":
        return send(url)
    return send(url, data, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"deny-{name}")


def _shape(response, statuses):
    assert response.status_code in statuses, (response.status_code, response.content)
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["message"]


def _nothing_saved(counts_before):
    assert (Appointment.objects.count(), LedgerEntry.objects.count()) == counts_before


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_deny_paths(client, name, north_records, north, south):
    before = (Appointment.objects.count(), LedgerEntry.objects.count())
    # Anonymous: 401 before anything is read.
    _shape(_request(client, name, north_records), {401})
    # A North user whose role lacks the right: 403 (or 404: the record is not theirs to see).
    wrong = make_user(f"wrong-{name}"[:30], ROUTES[name][2], north)
    _shape(_request(signed_in(wrong), name, north_records), {403, 404})
    # South staff with every role: North's records do not exist for them.
    other = make_user(f"other-{name}"[:30], None, south)
    for role in Role:
        other.groups.add(Group.objects.get(name=role.value))
    _shape(_request(signed_in(other), name, north_records), {404})
    _nothing_saved(before)


def test_schema_names_are_unique():
    """Two schemas of one name would share one entry of the OpenAPI document (the second
    replaces the first): clients and the fuzzer would read the wrong fields."""
    names = [
        value.__name__
        for module in (scheduling_api, infusion_api, ledger_api, count_api)
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Schema)
        and value.__module__ == module.__name__
    ]
    assert len(names) > 20
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


class _Big(dict):
    """North's ids; every other integer 30 digits long."""

    def get(self, key, default=None):
        return super().get(key, BIG)


BIG = 10**30


@pytest.mark.parametrize("ids_too", [False, True], ids=["values", "ids"])
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_thirty_digit_numbers_are_refused_not_a_500(name, ids_too, north_records, north):
    """Every route, as North staff with every role, with 30-digit numbers: every value of the
    body (integers, numbers, decimal strings) with North's real ids, or the ids as well: a 4xx
    in the shape, nothing saved."""
    staff = make_user(f"all-{name}"[:30], Role.NURSE, north)
    for role in Role:
        staff.groups.add(Group.objects.get(name=role.value))
    before = (Appointment.objects.count(), LedgerEntry.objects.count())
    ids = _Big(dict.fromkeys(north_records, BIG) if ids_too else north_records)
    method, path, _ = ROUTES[name]
    operation = DOCUMENT["paths"]["/api/v1/" + path.split("?")[0]][method]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    payload = _example(body["schema"], ids) if body else None
    if isinstance(payload, dict):
        payload = {k: str(BIG) if v == "1" else v for k, v in payload.items()}
    client = signed_in(staff)
    url = "/api/v1/" + path.format(**ids)
    if method == "get":
        response = client.get(url)
    else:
        response = client.post(
            url, json.dumps(payload), content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"big-{name}",
        )  # fmt: skip
    if method == "get" and not ids_too:  # nothing but real ids: the record itself
        assert response.status_code == 200
    else:
        _shape(response, {400, 404, 409, 422})
    _nothing_saved(before)
