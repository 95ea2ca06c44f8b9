import datetime as dt
import smtplib
from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.utils import timezone

from sustain.accounts import notify
from sustain.accounts.enums import OutboxStatus
from sustain.accounts.models import AuditEvent, OutboxMessage
from sustain.care import rules, services
from sustain.care.models import Alert, Assessment, AssessmentAnswer, Patient
from sustain.care.tasks import notify_alert
from sustain_core.errors import ClinicalValueError

pytestmark = pytest.mark.db

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


def register(north, sam, **changes):
    data = {
        "by": sam,
        "site": north,
        "given_name": "Lee",
        "family_name": "Moss",
        "date_of_birth": dt.date(1990, 1, 2),
        "sex": "other",
        "phone": "",
        "email": "",
        "primary_condition": "depression",
        "weight_kg": Decimal("81.4"),
        "today": TODAY,
        "now": NOW,
    }
    return services.register_patient(**(data | changes))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"weight_kg": Decimal("0")}, "weight_kg", "weight must be between 30 and 300 kg; got 0"),
        (
            {"weight_kg": Decimal("400")},
            "weight_kg",
            "weight must be between 30 and 300 kg; got 400",
        ),
        (
            {"date_of_birth": dt.date(2026, 11, 24)},
            "date_of_birth",
            "date of birth 2026-11-24 is in the future (today is 2026-11-23)",
        ),
        (
            {"date_of_birth": dt.date(1899, 12, 31)},
            "date_of_birth",
            "date of birth must be on or after 1900-01-01",
        ),
        (
            {"height_cm": Decimal("17.5")},
            "height_cm",
            "height must be between 100 and 250 cm to at most 0.1 cm; got 17.5",
        ),
    ],
)
def test_register_patient_refuses_bad_input_and_saves_nothing(north, sam, changes, field, message):
    audited = AuditEvent.objects.count()  # the install's "audit trail started" event
    with pytest.raises(ClinicalValueError) as excinfo:
        register(north, sam, **changes)
    assert (excinfo.value.field, excinfo.value.message) == (field, message)
    assert (Patient.objects.count(), AuditEvent.objects.count()) == (0, audited)


def test_register_patient_refuses_a_site_the_user_is_not_in(north, south, sam):
    with pytest.raises(ClinicalValueError) as excinfo:
        register(south, sam)
    assert str(excinfo.value) == "site: you are not a member of South Clinic"
    assert Patient.objects.count() == 0


def test_register_patient_records_weight_and_audits(north, sam):
    patient = register(north, sam)
    event = AuditEvent.objects.get(category="demographics")
    assert patient.weights.get().weight_kg == Decimal("81.4")
    assert (event.action, event.category, event.patient_id) == (
        "create",
        "demographics",
        patient.pk,
    )


def phq9(*values):
    return {str(n): v for n, v in enumerate(values, start=1)}


def record(patient, by, answers, instrument="phq9", **extra):
    return services.record_assessment(
        patient=patient, instrument=instrument, answers=answers, timepoint="baseline", by=by,
        completed_at=extra.pop("completed_at", NOW), now=extra.pop("now", NOW), **extra,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        (phq9(0, 1, 2, 3, 4, 0, 0, 0, 0), "item_5", "PHQ-9 item 5 must be 0–3; got 4"),
        (phq9(0, 1, 2, 3, None, 0, 0, 0, 0), "item_5", "PHQ-9 item 5 is missing"),
        (phq9(0, 1, 2, 3, 0, 0, 0, 0), "item_9", "PHQ-9 item 9 is missing"),
    ],
)
def test_record_assessment_refuses_bad_answers_and_saves_nothing(pat, ben, answers, field, message):
    before = AuditEvent.objects.count()
    with pytest.raises(ClinicalValueError) as excinfo:
        record(pat, ben, answers)
    assert (excinfo.value.field, excinfo.value.message) == (field, message)
    assert (Assessment.objects.count(), AuditEvent.objects.count()) == (0, before)


def test_record_assessment_keeps_item_answers_and_score(pat, ben):
    assessment = record(pat, ben, phq9(3, 3, 2, 2, 2, 1, 1, 1, 0))
    answers = list(
        AssessmentAnswer.objects.filter(assessment=assessment).values_list("item", "value")
    )
    assessment.refresh_from_db()
    assert (assessment.total_score, assessment.severity) == (Decimal("15"), "moderately severe")
    assert answers == [("1", 3), ("2", 3), ("3", 2), ("4", 2), ("5", 2), ("6", 1), ("7", 1),
                       ("8", 1), ("9", 0)]  # fmt: skip
    assert (assessment.source, assessment.flags) == ("staff", [])
    assert Alert.objects.count() == 0


def test_record_assessment_keeps_subscales(pat, ben):
    answers = {str(n): 1 for n in range(1, 21)} | {"8": 3}
    assessment = record(pat, ben, answers, instrument="pcl5")
    assessment.refresh_from_db()
    assert (assessment.total_score, assessment.subscales) == (
        Decimal("22"), {"B": "5", "C": "2", "D": "9", "E": "6"}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("instrument", "answers", "kinds"),
    [
        ("phq9", phq9(1, 1, 1, 1, 1, 1, 1, 1, 1), ["suicide_risk"]),
        (
            "cssrs_screener",
            {"1": 1, "2": 1, "3": 1, "4": 0, "5": 0, "6": 0},
            ["cssrs_risk", "suicide_risk"],  # moderate triage, and item 2: active thoughts
        ),
        ("cssrs_screener", {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0}, ["suicide_risk"]),
        ("cssrs_screener", {"1": 1, "2": 0, "6": 0}, []),
        ("qids_sr16", {str(n): 0 for n in range(1, 17)} | {"12": 1}, ["suicide_risk"]),
    ],
)
def test_safety_alerts(pat, ben, instrument, answers, kinds):
    record(pat, ben, answers, instrument=instrument)
    assert sorted(Alert.objects.values_list("kind", flat=True)) == kinds
    raised = AuditEvent.objects.filter(category="alert", action="create", actor=ben)
    assert raised.count() == len(kinds)


@pytest.mark.parametrize(
    ("threshold", "item_10", "alerts"),
    [(None, 1, []), (None, 2, ["suicide_risk"]), (None, 6, ["suicide_risk"]), (4, 2, []),
     (4, 4, ["suicide_risk"])],
)  # fmt: skip
def test_madrs_item_10_raises_an_alert_at_the_sites_threshold(pat, ada, threshold, item_10, alerts):
    """MADRS item 10 (suicidal thoughts), from the clinic's rule (default 2): a rating of 6,
    "explicit plans", alerts even when the total (6) is in the "absent" band (issue 11)."""
    if threshold is not None:
        rules.change_rules(
            site=pat.site, changes={"madrs_suicide_threshold": threshold}, based_on=0,
            reason="team decision", by=ada, now=NOW,
        )  # fmt: skip
    answers = {str(n): 0 for n in range(1, 10)} | {"10": item_10}
    record(pat, ada, answers, instrument="madrs")
    assert list(Alert.objects.values_list("kind", flat=True)) == alerts


def test_meaningful_worsening_raises_an_alert_for_the_course_prescriber(pat, ben, ada):
    services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    record(pat, ben, phq9(1, 1, 1, 1, 1, 1, 1, 1, 0))  # 8
    record(pat, ben, phq9(2, 2, 1, 1, 1, 1, 1, 1, 0), completed_at=NOW + dt.timedelta(days=7))
    assert Alert.objects.count() == 0  # 8 → 10: less than the PHQ-9's 5 points [Lowe2004]
    record(pat, ben, phq9(2, 2, 2, 2, 2, 2, 2, 1, 0), completed_at=NOW + dt.timedelta(days=14))
    alert = Alert.objects.get()  # 10 → 15: 5 points worse than the score before
    assert (alert.kind, alert.assigned_to) == ("worsening", ada)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the worker commits
def test_alert_is_emailed_by_the_worker_to_the_assigned_prescriber(pat, ben, ada):
    services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    assessment = record(pat, ben, phq9(1, 1, 1, 1, 1, 1, 1, 1, 1))
    alert = Alert.objects.get()
    assert (alert.assessment, alert.kind, alert.status) == (assessment, "suicide_risk", "open")
    assert mail.outbox == []  # nothing is sent until the worker runs

    call_command("worker", "--batch")

    message = mail.outbox[0]
    assert (len(mail.outbox), message.to) == (1, ["ada@example.org"])
    for secret in ("Pat", "Quinn", "phq9", "9"):
        assert secret not in message.subject
    assert "Quinn" not in message.body


class MailServerDown(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def test_an_alert_e_mail_survives_a_mail_outage(pat, ben, ada, settings):
    """Issue 14, item 4: the suicide-risk alert's e-mail goes through the outbox; with the mail
    server down it fails, waits its backoff and leaves once the server is back, exactly once,
    whatever backend patients' messages use."""
    settings.SUSTAIN_NOTIFICATION_BACKEND = "sustain.accounts.notify.OutboxBackend"
    record(pat, ben, phq9(1, 1, 1, 1, 1, 1, 1, 1, 1))
    alert = Alert.objects.get()
    settings.EMAIL_BACKEND = f"{__name__}.MailServerDown"
    assert notify_alert.call(alert_id=alert.pk) == 1
    message = OutboxMessage.objects.get(to_staff=True)
    now = message.next_attempt_at
    assert notify.deliver(message, now=now)
    message.refresh_from_db()
    assert (message.status, message.attempts, mail.outbox) == (OutboxStatus.FAILED, 1, [])
    assert not notify.deliver(message, now=now)  # not before its backoff

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notify.retry_failed(now=message.next_attempt_at) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    assert [m.to for m in mail.outbox] == [["ada@example.org"]]
    assert notify.retry_failed(now=message.sent_at + dt.timedelta(days=1)) == 0  # sent once


def test_acknowledge_alert_needs_a_note_and_happens_once(pat, ben, ada):
    record(pat, ben, phq9(1, 1, 1, 1, 1, 1, 1, 1, 2))
    alert = Alert.objects.get()
    with pytest.raises(ClinicalValueError) as excinfo:
        services.acknowledge_alert(alert=alert, by=ada, note="  ", now=timezone.now())
    assert excinfo.value.field == "note"
    alert = services.acknowledge_alert(
        alert=alert, by=ada, note="Called; safety plan reviewed.", now=timezone.now()
    )
    assert (alert.status, alert.acknowledged_by, alert.note) == (
        "acknowledged", ada, "Called; safety plan reviewed."
    )  # fmt: skip
    with pytest.raises(ClinicalValueError, match="already acknowledged"):
        services.acknowledge_alert(alert=alert, by=ada, note="again", now=timezone.now())


def test_enrol_refuses_a_second_active_course(pat, ada):
    services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    with pytest.raises(ClinicalValueError) as excinfo:
        services.enrol_patient(
            patient=pat,
            protocol_key="depression-induction",
            protocol_version=1,
            by=ada,
            now=timezone.now(),
        )
    assert str(excinfo.value) == "protocol: the patient already has an active course"
    assert pat.courses.count() == 1


def test_enrol_refuses_unknown_protocol(pat, ada):
    with pytest.raises(ClinicalValueError) as excinfo:
        services.enrol_patient(
            patient=pat, protocol_key="nope", protocol_version=1, by=ada, now=timezone.now()
        )
    assert excinfo.value.field == "protocol"
    assert pat.courses.count() == 0
