"""The patient's postal address (issue 12, item 5): the dispensing record names it with each
administration [CFR1304.22]. Entered on registration, shown with the demographics; blank reads
"no address recorded", never a guess."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from sustain.care import services
from sustain.care.models import Patient
from sustain_core.errors import ClinicalValueError
from tests.sustain.care.test_views import PATIENT
from tests.sustain.conftest import TODAY

pytestmark = pytest.mark.api

ADDRESS = "48 Orchard Lane\nBeacon, NY 12508"


def test_registration_saves_the_address_and_the_patient_page_shows_it(login, north, sam):
    response = login(sam).post("/patients/new/", PATIENT | {"site": north.pk, "address": ADDRESS})
    patient = Patient.objects.get()
    page = login(sam).get(response["Location"]).content.decode()
    assert (response.status_code, patient.address) == (302, ADDRESS)
    assert "48 Orchard Lane<br>Beacon, NY 12508" in page


def test_registration_without_an_address_says_none_is_recorded(login, north, sam):
    response = login(sam).post("/patients/new/", PATIENT | {"site": north.pk})
    page = login(sam).get(response["Location"]).content.decode()
    assert Patient.objects.get().address == ""
    assert "no address recorded" in page


def test_the_registration_form_asks_for_the_address(login, sam):
    html = login(sam).get("/patients/new/").content.decode()
    assert '<label for="id_address">Postal address:</label>' in html


def test_an_address_too_long_is_refused_and_nothing_saved(login, north, sam):
    response = login(sam).post("/patients/new/", PATIENT | {"site": north.pk, "address": "x" * 301})
    assert response.status_code == 400
    assert response.context["form"].errors["address"] == [
        "Ensure this value has at most 300 characters (it has 301)."
    ]
    assert Patient.objects.count() == 0


def test_the_service_refuses_an_address_too_long(north, sam):
    with pytest.raises(ClinicalValueError) as refused:
        services.register_patient(
            by=sam, site=north, given_name="Robin", family_name="Ellis",
            date_of_birth=dt.date(1979, 3, 2), sex="male", phone="", email="",
            primary_condition="depression", weight_kg=Decimal("70.0"), address="x" * 301,
            today=TODAY, now=timezone.now(),
        )  # fmt: skip
    assert (refused.value.field, refused.value.message) == (
        "address", "the address is at most 300 characters",
    )  # fmt: skip
    assert Patient.objects.count() == 0
