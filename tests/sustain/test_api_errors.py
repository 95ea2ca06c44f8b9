"""TST-03: every API error comes in the one documented shape {"error": {"code", "message"}},
with a plain message; out-of-range values are refused, never a 500 (sustain.api)."""

import datetime as dt
import json
import logging

import pytest
import time_machine
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from django.utils import timezone

from sustain.api import api
from sustain.care import services
from sustain.scheduling.models import Appointment
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
BIG = 10**30


def shaped(response, status, code=None):
    """The response has this status and the error shape (and this code, if given)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"] and "Traceback" not in body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]["message"]


@pytest.fixture
def enrolled(pat, ada):
    services.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    return pat


@pytest.fixture
def staff(sam):
    """A scheduler signed in past the second factor, with CSRF checks on (as browsers meet)
    and the token a browser sends."""
    client = signed_in(sam, Client(enforce_csrf_checks=True))
    token = get_token(RequestFactory().get("/"))
    client.cookies["csrftoken"] = token
    client.defaults["HTTP_X_CSRFTOKEN"] = token
    return client


def series_url(patient):
    return f"/api/v1/patients/{patient.pk}/series"


def test_unreadable_bodies_are_400(staff, enrolled):
    url = series_url(enrolled)
    assert "JSON" in shaped(staff.post(url, "{", content_type="application/json"), 400, "request")
    no_boundary = staff.post(url, b"--x\r\n", content_type="multipart/form-data")
    assert "JSON" in shaped(no_boundary, 400, "request")


def test_anonymous_is_401_and_a_user_without_a_role_403_or_401(db, enrolled, nora):
    shaped(Client().post(series_url(enrolled), "{}", content_type="application/json"), 401,
           "authentication")  # fmt: skip
    shaped(signed_in(nora).get("/api/v1/ledger/balance?site=1"), 401, "authentication")


def test_wrong_role_403_other_site_404(login, ben, carl, enrolled):
    body = json.dumps({"first_day": "2026-12-01"})
    shaped(login(ben).post(series_url(enrolled), body, content_type="application/json"), 403)
    shaped(login(carl).post(series_url(enrolled), body, content_type="application/json"), 404)


def test_method_not_allowed_and_unknown_path(login, sam, enrolled):
    client = login(sam)
    response = client.get(series_url(enrolled))
    assert "GET is not allowed" in shaped(response, 405, "method")
    assert response["Allow"] == "POST"
    shaped(client.get("/api/v1/no/such/path"), 404, "not_found")


def test_validation_errors_name_the_field(login, sam, enrolled):
    client = login(sam)
    bad = client.post(
        series_url(enrolled), '{"first_day": "soon"}', content_type="application/json"
    )
    assert shaped(bad, 422, "first_day").startswith("first_day: ")
    missing = client.post(series_url(enrolled), "{}", content_type="application/json")
    assert shaped(missing, 422, "first_day") == "first_day: Field required"
    path = client.post("/api/v1/patients/abc/series", "{}", content_type="application/json")
    assert shaped(path, 422, "patient_id").startswith("patient_id: ")


@time_machine.travel(NOW, tick=False)
def test_conflict_is_409(login, sam, enrolled):
    client = login(sam)
    body = json.dumps({"first_day": "2026-11-30"})
    assert (
        client.post(series_url(enrolled), body, content_type="application/json").status_code == 201
    )
    shaped(client.post(series_url(enrolled), body, content_type="application/json"), 409, "course")


@pytest.mark.parametrize(
    ("first_day", "code"),
    [("9999-12-31", "first_day"), ("0001-01-01", "first_day"), ("2199-12-31", "first_day")],
)
@time_machine.travel(NOW, tick=False)
def test_far_dates_are_refused_in_plain_words(login, sam, enrolled, first_day, code):
    response = login(sam).post(
        series_url(enrolled), json.dumps({"first_day": first_day}), content_type="application/json"
    )
    message = shaped(response, 400, code)
    assert first_day[:4] in message
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/ledger/balance?site={BIG}",
        f"/api/v1/ledger/containers/{BIG}",
        f"/api/v1/ledger/locations/{BIG}/count-sheet",
    ],
)
def test_thirty_digit_ids_are_not_a_500(login, alex, url):
    shaped(login(alex).get(url), 404)


def test_thirty_digit_visit_id_is_not_a_500(login, ben):
    shaped(login(ben).get(f"/api/v1/visits/{BIG}/infusion"), 404)


def test_thirty_digit_numbers_in_bodies_are_not_a_500(login, alex, north, stocked):
    client = login(alex)
    receipt = {
        "location_id": BIG, "supplier_id": 1, "invoice_number": "1", "product_id": 1,
        "lot_number": "L", "expires_on": "2030-01-01", "containers": BIG,
        "received_on": "2026-01-01",
    }  # fmt: skip
    response = client.post(
        "/api/v1/ledger/receipts", json.dumps(receipt), content_type="application/json"
    )
    assert response.status_code in (400, 404, 409, 422), response.content
    shaped(response, response.status_code)


def test_an_unexpected_error_is_500_in_the_shape_and_logged_with_the_request_id(
    login, sam, enrolled, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr("sustain.scheduling.services.book_series", broken)
    with caplog.at_level(logging.ERROR, logger="sustain.api"):
        response = login(sam).post(
            series_url(enrolled), '{"first_day": "2026-12-30"}', content_type="application/json"
        )
    message = shaped(response, 500, "internal")
    assert "secret detail" not in message
    assert response["X-Request-ID"] in message
    assert response["X-Request-ID"] in caplog.text and "RuntimeError" in caplog.text
    assert "Quinn" not in caplog.text and "Pat" not in caplog.text


def test_every_operation_documents_the_common_errors():
    document = api.get_openapi_schema(path_prefix="/api/v1/")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {400, 401, 422} <= set(operation["responses"]), (method, path)
