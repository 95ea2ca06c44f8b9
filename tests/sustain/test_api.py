"""The booking API: 201, 409 on conflicts, idempotency keys, one error shape (issue 5, item 5)."""

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from sustain.care import services
from sustain.scheduling.models import Appointment, Chair
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
URL = "/api/v1/patients/{id}/series"


@pytest.fixture
def enrolled(pat, ada):
    services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    return pat


def post(client, patient, body, **headers):
    return client.post(
        URL.format(id=patient.pk), json.dumps(body), content_type="application/json", **headers
    )


def test_anonymous_is_refused(db, enrolled):
    response = post(Client(), enrolled, {"first_day": "2026-11-30"})
    assert response.status_code == 401


@time_machine.travel(NOW, tick=False)
def test_book_then_conflict(login, sam, enrolled):
    client = login(sam)
    first = post(client, enrolled, {"first_day": "2026-11-30"})
    assert first.status_code == 201
    assert [v["number"] for v in first.json()["visits"]] == [1, 2, 3, 4, 5, 6]
    again = post(client, enrolled, {"first_day": "2026-11-30"})
    assert (again.status_code, again.json()) == (
        409, {"error": {"code": "course", "message": "the induction series is already booked"}}
    )  # fmt: skip
    assert Appointment.objects.count() == 6


@time_machine.travel(NOW, tick=False)
def test_idempotency_key_replays_the_answer(login, sam, enrolled):
    client = login(sam)
    first = post(client, enrolled, {"first_day": "2026-11-30"}, HTTP_IDEMPOTENCY_KEY="k-1")
    replay = post(client, enrolled, {"first_day": "2026-11-30"}, HTTP_IDEMPOTENCY_KEY="k-1")
    other = post(client, enrolled, {"first_day": "2026-12-07"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert (other.status_code, other.json()["error"]["code"]) == (422, "Idempotency-Key")
    assert Appointment.objects.count() == 6


@time_machine.travel(NOW, tick=False)
def test_refusals_share_one_error_shape(login, sam, ben, carl, north, enrolled):
    Chair.objects.filter(site=north).delete()
    no_chairs = post(login(sam), enrolled, {"first_day": "2026-11-30"})
    assert (no_chairs.status_code, no_chairs.json()) == (
        400, {"error": {"code": "chair", "message": "North Clinic has no chairs"}}
    )  # fmt: skip
    assert post(login(ben), enrolled, {"first_day": "2026-11-30"}).status_code == 403
    assert post(login(carl), enrolled, {"first_day": "2026-11-30"}).status_code == 404
    bad = post(login(sam), enrolled, {"first_day": "not a date"})
    assert bad.status_code == 422


def test_csrf_is_enforced_for_session_clients(sam, enrolled):
    client = Client(enforce_csrf_checks=True)
    signed_in(sam, client)
    assert post(client, enrolled, {"first_day": "2026-11-30"}).status_code == 403


def test_openapi_document_is_served_to_staff(login, sam):
    document = login(sam).get("/api/v1/openapi.json").json()
    assert "/api/v1/patients/{patient_id}/series" in document["paths"]
