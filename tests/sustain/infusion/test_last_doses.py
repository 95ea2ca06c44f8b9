"""The pre-infusion gate asks when the patient last took each interacting medication on their
list (issue 11, item 5: the label's benzodiazepines, opioids and other CNS depressants,
theophylline, sympathomimetics [Ketalar-label]; lamotrigine; MAO inhibitors): a nurse or a
prescriber records it, on the page's step or the API, and only then does the gate open."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.test import Client

from sustain.care import services as care
from sustain.clinic import story
from sustain.infusion import chairside
from sustain.infusion.models import ChairsideRecord, InfusionRecord, LastDose
from sustain.infusion.services import StepRefused
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.db

MONDAY = dt.date(2026, 11, 30)  # the series of the `visits` fixture (conftest), 08:00 New York
FRIDAY = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
ASK = "record when the patient last took lorazepam (benzodiazepine)"


@pytest.fixture
def lorazepam(visits, ben):
    """Pat's list: lorazepam (interacts), lithium (does not) and oxycodone stopped a week ago
    (no longer asked about)."""
    pat = visits[0].patient
    oxycodone = care.add_medication(
        patient=pat, name="oxycodone", dose="5 mg", started_on=dt.date(2026, 11, 1), by=ben,
        now=FRIDAY,
    )  # fmt: skip
    care.stop_medication(medication=oxycodone, stopped_on=dt.date(2026, 11, 23), by=ben, now=FRIDAY)
    care.add_medication(
        patient=pat, name="lithium", dose="400 mg", started_on=None, by=ben, now=FRIDAY
    )
    return care.add_medication(
        patient=pat, name="Lorazepam", dose="0.5 mg at bedtime", started_on=None, by=ben,
        now=FRIDAY,
    )  # fmt: skip


def at(visit, minutes: int) -> dt.datetime:
    return visit.starts_at + dt.timedelta(minutes=minutes)


def gate(record, now):
    return {f.item: f for f in chairside.gate(record, now=now)}


def test_the_gate_asks_the_last_dose_of_each_interacting_medication(visits, ben, lorazepam):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    failures = gate(record, at(visit, 6))
    assert list(failures) == ["last_doses"]
    assert (failures["last_doses"].message, failures["last_doses"].resolvers) == (ASK, ("nurse",))
    record.refresh_from_db()
    assert record.stage == "checking_in"
    with pytest.raises(StepRefused) as refused:
        chairside.start_infusion(
            record=record, container=build.vial(record.appointment.site), by=ben, now=at(visit, 15)
        )
    assert refused.value.message == ASK
    assert InfusionRecord.objects.count() == 0

    chairside.record_last_dose(
        record=record, medication_id=lorazepam.pk, taken_at=at(visit, -10 * 60), by=ben,
        now=at(visit, 7),
    )  # fmt: skip
    record.refresh_from_db()
    assert (gate(record, at(visit, 8)), record.stage) == ({}, "ready")
    dose = LastDose.objects.get()
    assert (dose.medication, dose.taken_at, dose.recorded_by) == (
        lorazepam, at(visit, -600), ben
    )  # fmt: skip


def test_asked_again_the_latest_answer_holds(visits, ada, ben, lorazepam):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    for who, hours in ((ben, 10), (ada, 3)):
        chairside.record_last_dose(
            record=record, medication_id=lorazepam.pk, taken_at=at(visit, -60 * hours),
            by=who, now=at(visit, 7),
        )  # fmt: skip
    assert list(LastDose.objects.values_list("taken_at", "recorded_by")) == [
        (at(visit, -180), ada.pk)
    ]


def test_a_medication_added_on_the_day_is_asked_at_once(visits, ben):
    """A medication added after check-in (the nurse asked about changes) closes the gate."""
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    care.add_medication(
        patient=visit.patient, name="Adderall: dextroamphetamine / amphetamine", dose="20 mg",
        started_on=None, by=ben, now=at(visit, 4),
    )  # fmt: skip
    assert gate(record, at(visit, 6))["last_doses"].message == (
        "record when the patient last took Adderall: dextroamphetamine / amphetamine "
        "(stimulant or sympathomimetic)"
    )


@pytest.mark.parametrize(
    ("medication", "taken", "field", "message"),
    [
        ("lithium", -60, "medication",
         "that is not an interacting medication on the patient's list today"),
        ("oxycodone", -60, "medication",
         "that is not an interacting medication on the patient's list today"),
        ("lorazepam", +30, "taken_at", "that time is later than now"),
        ("lorazepam", None, "taken_at",
         "give the date and time with its offset from UTC, e.g. 2026-11-30T06:30:00-05:00"),
    ],
)  # fmt: skip
def test_a_refused_last_dose_saves_nothing(visits, ben, lorazepam, medication, taken, field,
                                           message):  # fmt: skip
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    chosen = visit.patient.medications.get(name=medication)
    with pytest.raises(ClinicalValueError) as refused:
        chairside.record_last_dose(
            record=record, medication_id=chosen.pk,
            taken_at=None if taken is None else at(visit, taken), by=ben, now=at(visit, 7),
        )  # fmt: skip
    assert (refused.value.field, refused.value.message) == (field, message)
    assert LastDose.objects.count() == 0


def test_the_last_doses_are_asked_before_the_start(visits, ben, lorazepam):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    chairside.record_last_dose(
        record=record, medication_id=lorazepam.pk, taken_at=at(visit, -600), by=ben,
        now=at(visit, 7),
    )  # fmt: skip
    chairside.start_infusion(
        record=record, container=build.vial(record.appointment.site), by=ben, now=at(visit, 15)
    )
    with pytest.raises(StepRefused) as refused:
        chairside.record_last_dose(
            record=record, medication_id=lorazepam.pk, taken_at=at(visit, -60), by=ben,
            now=at(visit, 16),
        )  # fmt: skip
    assert refused.value.message == "the last doses are asked before the infusion starts"


def test_a_scheduler_records_no_last_dose(visits, ben, sam, lorazepam):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    with pytest.raises(PermissionDenied):
        chairside.record_last_dose(
            record=record, medication_id=lorazepam.pk, taken_at=at(visit, -600), by=sam,
            now=at(visit, 7),
        )  # fmt: skip
    assert LastDose.objects.count() == 0


# --- The web page's step and the API ------------------------------------------------------


def test_the_nurse_records_the_last_dose_on_the_chairside_page(login, visits, ben, lorazepam):
    visit = visits[0]
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    with time_machine.travel(at(visit, 7), tick=False):
        client = login(ben)
        page = client.get(f"/visits/{visit.pk}/infusion/").content.decode()
        assert "Interacting medications: when last taken" in page
        assert "lorazepam</strong> (0.5 mg at bedtime): Benzodiazepines: profound sedation" in page
        assert "Record when the patient last took lorazepam (benzodiazepine)" in page
        response = client.post(
            f"/visits/{visit.pk}/infusion/last-dose/",
            {"medication": lorazepam.pk, "taken_at": "2026-11-29T22:00"},  # the site's time
            follow=True,
        )
    page = response.content.decode()
    assert "Last dose recorded." in page
    assert "Last taken Sun 29 Nov 22:00 (recorded by ben)." in page
    assert LastDose.objects.get().taken_at == dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
    assert ChairsideRecord.objects.get().stage == "ready"


def test_the_page_shows_a_refused_last_dose_in_plain_words(login, visits, ben, lorazepam):
    visit = visits[0]
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    lithium = visit.patient.medications.get(name="lithium")
    with time_machine.travel(at(visit, 7), tick=False):
        response = login(ben).post(
            f"/visits/{visit.pk}/infusion/last-dose/",
            {"medication": lithium.pk, "taken_at": "2026-11-29T22:00"},
            follow=True,
        )
    assert "That is not an interacting medication on the patient&#x27;s list today" in (
        response.content.decode()
    )
    assert LastDose.objects.count() == 0


def test_a_scheduler_is_refused_the_page_step(login, visits, ben, sam, lorazepam):
    visit = visits[0]
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    with time_machine.travel(at(visit, 7), tick=False):
        response = login(sam).post(
            f"/visits/{visit.pk}/infusion/last-dose/",
            {"medication": lorazepam.pk, "taken_at": "2026-11-29T22:00"},
        )
    assert response.status_code == 403
    assert LastDose.objects.count() == 0


def api(user, visit, when, body):
    with time_machine.travel(when, tick=False):
        client = Client()
        signed_in(user, client)
        return client.post(
            f"/api/v1/visits/{visit.pk}/infusion/last-doses", json.dumps(body),
            content_type="application/json",
        )  # fmt: skip


def test_the_api_records_the_last_dose_and_answers_the_state(visits, ben, lorazepam):
    visit = visits[0]
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    with time_machine.travel(at(visit, 6), tick=False):
        client = Client()
        signed_in(ben, client)
        before = client.get(f"/api/v1/visits/{visit.pk}/infusion").json()
    assert [f["item"] for f in before["gate"]] == ["last_doses"]
    assert [(m["name"], m["last_dose_at"]) for m in before["interacting_medications"]] == [
        ("lorazepam", None)
    ]
    assert before["interacting_medications"][0]["interactions"][0]["drug_class"] == (
        "benzodiazepine"
    )
    response = api(
        ben, visit, at(visit, 7),
        {"medication_id": lorazepam.pk, "taken_at": "2026-11-29T22:00:00-05:00"},
    )  # fmt: skip
    state = response.json()
    assert (response.status_code, state["gate"], state["stage"]) == (200, [], "ready")
    assert state["interacting_medications"][0]["last_dose_at"] == "2026-11-30T03:00:00Z"


@pytest.mark.parametrize(
    ("who", "body", "status", "field"),
    [
        ("ben", {"taken_at": "2026-11-29T22:00:00"}, 400, "taken_at"),  # no offset
        ("ben", {"taken_at": "2026-11-30T09:00:00-05:00"}, 400, "taken_at"),  # later than now
        ("sam", {"taken_at": "2026-11-29T22:00:00-05:00"}, 403, None),
    ],
)
def test_the_api_refuses_and_saves_nothing(request, visits, ben, lorazepam, who, body, status,
                                           field):  # fmt: skip
    visit = visits[0]
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    response = api(
        request.getfixturevalue(who), visit, at(visit, 7), {"medication_id": lorazepam.pk} | body
    )
    assert response.status_code == status
    assert list(response.json()) == ["error"]
    if field:
        assert response.json()["error"]["code"] == field
    assert LastDose.objects.count() == 0
