import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command

from sustain.accounts.models import AuditEvent
from sustain.care import services
from sustain.care.models import Alert, Assessment, AssessmentAnswer, Patient
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
    ],
)
def test_register_patient_refuses_bad_input_and_saves_nothing(north, sam, changes, field, message):
    with pytest.raises(ClinicalValueError) as excinfo:
        register(north, sam, **changes)
    assert (excinfo.value.field, excinfo.value.message) == (field, message)
    assert (Patient.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_register_patient_refuses_a_site_the_user_is_not_in(north, south, sam):
    with pytest.raises(ClinicalValueError) as excinfo:
        register(south, sam)
    assert str(excinfo.value) == "site: you are not a member of South Clinic"
    assert Patient.objects.count() == 0


def test_register_patient_records_weight_and_audits(north, sam):
    patient = register(north, sam)
    event = AuditEvent.objects.get()
    assert patient.weights.get().weight_kg == Decimal("81.4")
    assert (event.action, event.category, event.patient_id) == (
        "create",
        "demographics",
        patient.pk,
    )


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ([0, 1, 2, 3, 4, 0, 0, 0, 0], "item_5"),
        ([0, 1, 2, 3, None, 0, 0, 0, 0], "item_5"),
        ([0, 1, 2, 3, 0, 0, 0, 0], "answers"),
    ],
)
def test_record_phq9_refuses_bad_answers_and_saves_nothing(pat, ben, answers, field):
    before = AuditEvent.objects.count()
    with pytest.raises(ClinicalValueError) as excinfo:
        services.record_phq9(
            patient=pat, answers=answers, timepoint="baseline", by=ben, completed_at=NOW
        )
    assert excinfo.value.field == field
    assert (Assessment.objects.count(), AuditEvent.objects.count()) == (0, before)


def test_record_phq9_keeps_item_answers_and_score(pat, ben):
    assessment = services.record_phq9(
        patient=pat, answers=[3, 3, 2, 2, 2, 1, 1, 1, 0], timepoint="baseline", by=ben,
        completed_at=NOW,
    )  # fmt: skip
    answers = list(
        AssessmentAnswer.objects.filter(assessment=assessment).values_list("item", "value")
    )
    assert (assessment.total_score, assessment.severity) == (15, "moderately severe")
    assert answers == [(1, 3), (2, 3), (3, 2), (4, 2), (5, 2), (6, 1), (7, 1), (8, 1), (9, 0)]
    assert Alert.objects.count() == 0


@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # the worker opens its own connections and commits
def test_item9_alert_is_raised_and_the_worker_emails_prescribers(pat, ben, ada):
    assessment = services.record_phq9(
        patient=pat, answers=[1, 1, 1, 1, 1, 1, 1, 1, 1], timepoint="baseline", by=ben,
        completed_at=NOW,
    )  # fmt: skip
    alert = Alert.objects.get()
    assert (alert.assessment, alert.kind, alert.status) == (assessment, "suicide_risk", "open")
    assert mail.outbox == []  # nothing is sent until the worker runs

    call_command("worker", "--batch")

    message = mail.outbox[0]
    assert (len(mail.outbox), message.to) == (1, ["ada@example.org"])
    assert "Pat" not in message.subject + message.body
    assert "Quinn" not in message.subject + message.body


def test_acknowledge_alert_once(pat, ben, ada):
    services.record_phq9(
        patient=pat, answers=[1, 1, 1, 1, 1, 1, 1, 1, 2], timepoint="baseline", by=ben,
        completed_at=NOW,
    )  # fmt: skip
    alert = services.acknowledge_alert(alert=Alert.objects.get(), by=ada)
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", ada)
    with pytest.raises(ClinicalValueError, match="already acknowledged"):
        services.acknowledge_alert(alert=alert, by=ada)


def test_enrol_refuses_a_second_active_course(pat, ada):
    services.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada
    )
    with pytest.raises(ClinicalValueError) as excinfo:
        services.enrol_patient(
            patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada
        )
    assert str(excinfo.value) == "protocol: the patient already has an active course"
    assert pat.courses.count() == 1


def test_enrol_refuses_unknown_protocol(pat, ada):
    with pytest.raises(ClinicalValueError) as excinfo:
        services.enrol_patient(patient=pat, protocol_key="nope", protocol_version=1, by=ada)
    assert excinfo.value.field == "protocol"
    assert pat.courses.count() == 0
