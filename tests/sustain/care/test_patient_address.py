"""The patient's postal address (issue 12, item 5): the dispensing record names it with each
administration [CFR1304.22]. Entered on registration, shown with the demographics; blank reads
"no address recorded", never a guess."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import AuditEvent
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


def test_the_address_is_recorded_later_and_audited_without_it(login, sam, pat):
    response = login(sam).post(f"/patients/{pat.pk}/address/", {"address": ADDRESS})
    event = AuditEvent.objects.order_by("id").last()
    assert (response.status_code, Patient.objects.get(pk=pat.pk).address) == (302, ADDRESS)
    assert (event.action, event.category, event.patient_id, event.reason) == (
        AuditAction.UPDATE, DataCategory.DEMOGRAPHICS, pat.pk, "address: none → changed",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("  ", "Postal address: This field is required."),
        (ADDRESS, "This address is already recorded"),
    ],
)
def test_recording_the_address_refuses_blank_or_the_same(login, sam, pat, address, message):
    Patient.objects.filter(pk=pat.pk).update(address=ADDRESS)
    response = login(sam).post(f"/patients/{pat.pk}/address/", {"address": address}, follow=True)
    changes = AuditEvent.objects.filter(action=AuditAction.UPDATE)
    assert [str(m) for m in response.context["messages"]] == [message]
    assert (Patient.objects.get(pk=pat.pk).address, changes.count()) == (ADDRESS, 0)


@pytest.mark.parametrize(("persona", "status"), [("ben", 403), ("ivy", 403), ("carl", 404)])
def test_only_who_registers_patients_records_an_address(login, pat, persona, status, request):
    response = login(request.getfixturevalue(persona)).post(
        f"/patients/{pat.pk}/address/", {"address": ADDRESS}
    )
    assert (response.status_code, Patient.objects.get(pk=pat.pk).address) == (status, "")
