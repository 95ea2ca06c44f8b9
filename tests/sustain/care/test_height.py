"""The height an ideal or adjusted dosing weight needs (issue 11, item 6): recorded by a nurse
or a prescriber from the patient page (and at the chair: infusion/test_dosing), checked and
audited, refused in plain words otherwise."""

import datetime as dt
from decimal import Decimal

import pytest

from sustain.accounts.models import AuditEvent
from sustain.care import services
from sustain_core.errors import ClinicalValueError

pytestmark = pytest.mark.db

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


def test_a_height_is_recorded_and_audited_with_the_old_and_new_value(pat, ben):
    services.record_height(patient=pat, height_cm=Decimal("158.5"), by=ben, now=NOW)

    pat.refresh_from_db()
    event = AuditEvent.objects.order_by("id").last()
    assert pat.height_cm == Decimal("158.5")
    assert (event.action, event.category, event.patient_id, event.actor_id, event.reason) == (
        "update", "demographics", pat.pk, ben.pk, "height: 165 cm → 158.5 cm"
    )  # fmt: skip
    # The old height is kept, listed with the corrections (issue 13).
    assert [(r.changes, r.reason) for r in pat.revisions.all()] == [
        ({"height_cm": ["165", "158.5"]}, "height measured")
    ]


def test_a_first_height_is_audited_from_none(north, sam, ben):
    patient = services.register_patient(
        by=sam, site=north, given_name="No", family_name="Height",
        date_of_birth=dt.date(1970, 6, 1), sex="male", phone="", email="",
        primary_condition="depression", weight_kg=Decimal("90.0"), today=TODAY, now=NOW,
    )  # fmt: skip

    services.record_height(patient=patient, height_cm=Decimal("150"), by=ben, now=NOW)

    assert AuditEvent.objects.order_by("id").last().reason == "height: none → 150 cm"


@pytest.mark.parametrize(
    ("height_cm", "message"),
    [
        (Decimal("99.9"), "height must be between 100 and 250 cm to at most 0.1 cm; got 99.9"),
        (Decimal("250.1"), "height must be between 100 and 250 cm to at most 0.1 cm; got 250.1"),
        (Decimal("170.25"), "height must be between 100 and 250 cm to at most 0.1 cm; got 170.25"),
        (Decimal("165.0"), "the height is already 165 cm"),
    ],
)
def test_a_refused_height_saves_nothing(pat, ben, height_cm, message):
    before = AuditEvent.objects.count()

    with pytest.raises(ClinicalValueError) as refused:
        services.record_height(patient=pat, height_cm=height_cm, by=ben, now=NOW)

    pat.refresh_from_db()
    assert (refused.value.field, refused.value.message) == ("height_cm", message)
    assert (pat.height_cm, AuditEvent.objects.count()) == (Decimal("165.0"), before)


def test_a_nurse_records_a_height_from_the_patient_page(login, ben, pat):
    response = login(ben).post(f"/patients/{pat.pk}/height/", {"height_cm": "171.0"}, follow=True)

    pat.refresh_from_db()
    assert pat.height_cm == Decimal("171.0")
    assert [str(m) for m in response.context["messages"]] == ["Height recorded: 171 cm."]
    assert "· 171 cm" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"height_cm": "90"}, "Height must be between 100 and 250 cm to at most 0.1 cm; got 90"),
        ({"height_cm": "abc"}, "Height (cm): Enter a number."),
        ({"height_cm": ""}, "Height (cm): This field is required."),
    ],
)
def test_a_refused_height_on_the_page_says_why(login, ben, pat, data, message):
    response = login(ben).post(f"/patients/{pat.pk}/height/", data, follow=True)

    pat.refresh_from_db()
    assert [str(m) for m in response.context["messages"]] == [message]
    assert pat.height_cm == Decimal("165.0")


@pytest.mark.parametrize("who", ["sam", "ivy"])
def test_only_the_clinical_roles_record_a_height(request, login, pat, who):
    response = login(request.getfixturevalue(who)).post(
        f"/patients/{pat.pk}/height/", {"height_cm": "170"}
    )

    pat.refresh_from_db()
    assert (response.status_code, pat.height_cm) == (403, Decimal("165.0"))


def test_another_sites_prescriber_cannot_record_a_height(login, pat, carl):
    response = login(carl).post(f"/patients/{pat.pk}/height/", {"height_cm": "170"})

    assert response.status_code == 404
