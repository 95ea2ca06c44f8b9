"""A severe or serious adverse event needs a description and alerts the course's prescriber
(issue 13, item 5), on every path: the service, the database, the page and the API. A refusal
saves nothing."""

import datetime as dt
import json

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from sustain.accounts import notify
from sustain.accounts.enums import AuditAction
from sustain.accounts.models import AuditEvent, OutboxMessage
from sustain.care.enums import AlertKind
from sustain.care.models import Alert
from sustain.care.tasks import notify_alert
from sustain.clinic import story
from sustain.infusion import services as infusion
from sustain.infusion.models import AdverseEvent, InfusionRecord
from sustain.scheduling.models import Appointment
from sustain_core.errors import ClinicalValueError
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.db


@pytest.fixture
def given(visits, ben) -> InfusionRecord:
    """Pat's infusion 1 given and recovering (not yet signed)."""
    visit: Appointment = visits[0]
    story.uneventful_infusion(visit, ben, None, until=visit.starts_at + dt.timedelta(minutes=60))
    return InfusionRecord.objects.get(appointment=visit)


def saved() -> tuple[int, int, int]:
    """What a refusal must leave as it was (the audit trail's writes: a page's read counts)."""
    writes = AuditEvent.objects.exclude(action=AuditAction.READ)
    return AdverseEvent.objects.count(), Alert.objects.count(), writes.count()


@pytest.mark.parametrize(("severity", "serious"), [("severe", False), ("mild", True)])
def test_a_severe_or_serious_adverse_event_without_a_description_is_refused(
    given, ben, severity, serious
):
    before = saved()
    with pytest.raises(ClinicalValueError) as refused:
        infusion.record_adverse_event(
            infusion=given, kind="hypertension", severity=severity, serious=serious,
            description="  ", action_taken="", by=ben, now=given.appointment.starts_at,
        )  # fmt: skip
    assert refused.value.field == "description"
    assert "describe a severe or serious adverse event" in refused.value.message
    assert saved() == before


def test_the_database_refuses_a_severe_adverse_event_without_a_description(given, ben):
    with pytest.raises(IntegrityError), transaction.atomic():
        AdverseEvent.objects.create(
            infusion=given, kind="hypertension", severity="severe", description="",
            recorded_by=ben, recorded_at=given.appointment.starts_at,
        )  # fmt: skip


def test_a_severe_adverse_event_alerts_the_courses_prescriber(
    given, ben, ada, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = infusion.record_adverse_event(
            infusion=given, kind="hypertension", severity="severe", serious=False,
            description="BP 190/115 at 30 min, did not settle", action_taken="Labetalol 10 mg",
            by=ben, now=given.appointment.starts_at + dt.timedelta(minutes=30),
        )  # fmt: skip

    alert = Alert.objects.get()
    assert (alert.kind, alert.patient, alert.course, alert.assigned_to) == (
        AlertKind.ADVERSE_EVENT, given.patient, given.course, ada,
    )  # fmt: skip
    assert alert.detail == (
        "Blood pressure rise (severe) at infusion 1: BP 190/115 at 30 min, did not settle"
    )
    assert event.description == "BP 190/115 at 30 min, did not settle"
    assert len(callbacks) == 1  # the e-mail to the prescriber, once committed
    assert notify_alert.call(alert_id=alert.pk) == 1
    message = OutboxMessage.objects.get(to_staff=True)
    assert notify.deliver(message, now=timezone.now())
    assert mail.outbox[-1].to == [ada.email]
    assert "Pat" not in mail.outbox[-1].body  # no patient data in e-mail


def test_a_mild_adverse_event_needs_no_description_and_alerts_no_one(given, ben):
    infusion.record_adverse_event(
        infusion=given, kind="nausea", severity="mild", description="", action_taken="",
        by=ben, now=given.appointment.starts_at,
    )  # fmt: skip
    assert (AdverseEvent.objects.count(), Alert.objects.count()) == (1, 0)


def test_the_page_refuses_then_records_and_the_alert_shows(login, given, ben, ada):
    visit = given.appointment
    url = f"/visits/{visit.pk}/adverse-events/"
    at = visit.starts_at + dt.timedelta(minutes=60)
    with time_machine.travel(at, tick=False):
        client = login(ben)
        before = saved()
        refused = client.post(url, {"kind": "hypertension", "severity": "severe"}, follow=True)
        assert "Describe a severe or serious adverse event" in refused.content.decode()
        assert saved() == (*before[:2], before[2] + 1)  # the refusal's own audit event
        assert AuditEvent.objects.exclude(action="read").order_by("id").last().outcome == "refused"
        client.post(
            url, {"kind": "nausea", "severity": "moderate", "serious": "on",
                  "description": "Vomited twice; admitted overnight for fluids"},
        )  # fmt: skip
        patient_page = login(ada).get(f"/patients/{visit.patient_id}/").content.decode()
    assert AdverseEvent.objects.get().serious is True
    assert "Severe or serious adverse event" in patient_page
    assert "Nausea or vomiting (serious) at infusion 1: Vomited twice" in patient_page


def test_the_api_refuses_then_records(given, ben):
    visit = given.appointment
    url = f"/api/v1/visits/{visit.pk}/infusion/adverse-events"
    with time_machine.travel(visit.starts_at + dt.timedelta(minutes=60), tick=False):
        client = Client()
        signed_in(ben, client)
        before = saved()
        refused = client.post(
            url, json.dumps({"kind": "hypertension", "severity": "severe"}),
            content_type="application/json",
        )  # fmt: skip
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "description"
        assert saved() == (*before[:2], before[2] + 1)  # the refusal's own audit event
        assert AuditEvent.objects.exclude(action="read").order_by("id").last().outcome == "refused"
        done = client.post(
            url, json.dumps({"kind": "hypertension", "severity": "severe",
                             "description": "BP 190/115"}),
            content_type="application/json",
        )  # fmt: skip
    assert done.status_code == 200
    assert done.json()["adverse_events"][0]["severity"] == "severe"
    assert Alert.objects.get().kind == AlertKind.ADVERSE_EVENT


def test_an_unknown_kind_is_refused_by_the_api(given, ben):
    visit = given.appointment
    with time_machine.travel(visit.starts_at + dt.timedelta(minutes=60), tick=False):
        client = Client()
        signed_in(ben, client)
        refused = client.post(
            f"/api/v1/visits/{visit.pk}/infusion/adverse-events",
            json.dumps({"kind": "hiccups", "severity": "mild"}), content_type="application/json",
        )  # fmt: skip
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "kind")
