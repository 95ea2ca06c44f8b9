import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sustain.accounts.models import AuditEvent
from sustain.care import rules, services
from sustain.care.models import Assessment, Patient
from sustain.clinic import story
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.api

PATIENT = {
    "given_name": "Robin",
    "family_name": "Ellis",
    "date_of_birth": "1979-03-02",
    "sex": "male",
    "phone": "",
    "email": "",
    "primary_condition": "depression",
    "weight_kg": "70.0",
}


BOUNDS = "The date must be between 01 January 1900 and 31 December 2199"


@pytest.mark.parametrize(
    ("field", "value", "message", "audited"),
    [
        ("weight_kg", "0", "Weight must be between 30 and 300 kg; got 0", "weight_kg"),
        ("weight_kg", "400", "Weight must be between 30 and 300 kg; got 400", "weight_kg"),
        ("date_of_birth", "2099-01-01", "Date of birth 2099-01-01 is in the future",
         "date_of_birth"),
        # outside the outer bounds of any date, refused by the form before the service
        # (sustain.accounts.bounds, TST-03; audited by RefusedFormAuditMiddleware)
        ("date_of_birth", "2999-01-01", BOUNDS, "form"),
        ("date_of_birth", "0001-01-01", BOUNDS, "form"),
    ],
)  # fmt: skip
def test_register_form_names_the_field_and_saves_nothing(
    login, north, sam, field, value, message, audited
):
    response = login(sam).post("/patients/new/", PATIENT | {"site": north.pk, field: value})
    errors = response.context["form"].errors
    assert response.status_code == 400
    assert message in errors[field][0]
    assert Patient.objects.count() == 0
    events = AuditEvent.objects.exclude(action="login").exclude(reason="audit trail started")
    assert [(e.action, e.outcome, e.reason) for e in events] == [
        ("write", "refused", f"refused: {audited}")
    ]  # the refusal, audited once (issue 14)


def answers(code: str, values: dict[str, str], timepoint: str = "baseline") -> dict[str, str]:
    return {f"{code}-{key}": value for key, value in values.items()} | {
        "instrument": code,
        "timepoint": timepoint,
    }


def test_phq9_form_refuses_an_item_of_4(login, ben, pat):
    data = answers("phq9", {str(n): "1" for n in range(1, 10)} | {"3": "4"})
    response = login(ben).post(f"/patients/{pat.pk}/assessments/new/", data)
    assert response.status_code == 400
    assert response.context["form"].errors["3"] == [
        "Select a valid choice. 4 is not one of the available choices."
    ]
    assert Assessment.objects.count() == 0


def test_phq9_form_refuses_a_missing_item_naming_it(login, ben, pat):
    data = answers("phq9", {str(n): "1" for n in range(1, 9)})
    response = login(ben).post(f"/patients/{pat.pk}/assessments/new/", data)
    assert response.status_code == 400
    assert response.context["form"].errors["9"] == ["PHQ-9 item 9 is missing"]
    assert Assessment.objects.count() == 0


def test_phq9_form_names_every_missing_item_at_once(login, ben, pat):
    data = answers("phq9", {str(n): "1" for n in (1, 2, 4, 6, 7, 8)})
    response = login(ben).post(f"/patients/{pat.pk}/assessments/new/", data)
    assert response.status_code == 400
    assert response.context["form"].errors["3"] == ["PHQ-9 items 3, 5 and 9 are missing"]
    assert "PHQ-9 items 3, 5 and 9 are missing" in response.content.decode()
    assert Assessment.objects.count() == 0


@pytest.mark.parametrize(
    ("code", "values", "total"),
    [
        ("gad7", {str(n): "2" for n in range(1, 8)}, Decimal("14")),
        ("madrs", {str(n): "3" for n in range(1, 11)}, Decimal("30")),
        ("cadss", {str(n): "1" for n in range(1, 24)}, Decimal("23")),
    ],
)
def test_any_instrument_is_entered_and_scored(login, ben, pat, code, values, total):
    response = login(ben).post(f"/patients/{pat.pk}/assessments/new/", answers(code, values))
    assessment = Assessment.objects.get()
    assert response.status_code == 302
    assert (assessment.instrument, assessment.total_score) == (code, total)
    assert assessment.answers.count() == len(values)


def test_item9_shows_an_alert_on_the_patient_page(login, ben, pat):
    client = login(ben)
    client.post(
        f"/patients/{pat.pk}/assessments/new/", answers("phq9", {str(n): "2" for n in range(1, 10)})
    )
    html = client.get(f"/patients/{pat.pk}/").content.decode()
    assert 'role="alert"' in html
    assert "<strong>Suicide item positive</strong> on PHQ-9 (18)" in html


def test_visit_outside_hours_is_refused_with_a_message(login, ada, sam, north, pat):
    services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    client = login(sam)
    with time_machine.travel(dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)):  # before the visit
        response = client.post(
            f"/patients/{pat.pk}/visits/",
            {"chair": north.chairs.first().pk, "day": "2026-11-30", "start_time": "06:30"},
            follow=True,
        )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["Monday 2026-11-30 opens 08:00–18:00; 06:30–08:30 is outside"]
    assert pat.appointments.count() == 0


def test_patient_list_query_count_does_not_grow_with_patients(login, ada, sam, north, pat):
    client = login(ada)
    with CaptureQueriesContext(connection) as one:
        client.get("/")
    for n in range(2):
        services.register_patient(
            by=sam, site=north, given_name=f"N{n}", family_name="Extra", sex="unknown",
            date_of_birth=dt.date(1990, 1, 1 + n), phone="", email="",
            primary_condition="depression",
            weight_kg=pat.weights.get().weight_kg, today=dt.date(2026, 11, 27), now=timezone.now()
        )  # fmt: skip
    with CaptureQueriesContext(connection) as three:
        response = client.get("/")
    assert len(response.context["patients"]) == 3
    assert len(three) == len(one)


def test_day_view_shows_each_chair(login, ben, north):
    response = login(ben).get("/schedule/", {"day": "2026-11-30"})
    assert [chair.name for chair, _ in response.context["rows"]] == ["Chair 1", "Chair 2"]


def test_cadss_entered_from_the_infusion_record_is_linked_to_the_visit(
    login, ada, ben, sam, pat, stocked
):
    now = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=now, phq9_total=18, gad7_total=14
    )
    monday = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    visit = build.book_series(course, sam, first=monday, now=now)[0]
    infusing = visit.starts_at + dt.timedelta(minutes=30)
    story.uneventful_infusion(visit, ben, None, until=infusing)
    with time_machine.travel(infusing, tick=False):
        client = login(ben)
        page = client.get(f"/visits/{visit.pk}/infusion/").content.decode()
        assert "instrument=cadss&amp;visit=" in page
        data = answers("cadss", {str(n): "0" for n in range(1, 24)} | {"1": "2"}, "follow_up")
        client.post(
            f"/patients/{pat.pk}/assessments/new/?visit={visit.pk}", data | {"visit": visit.pk}
        )
    assessment = Assessment.objects.get(instrument="cadss")
    assert (assessment.total_score, assessment.visit_link.appointment) == (2, visit)


def test_alert_emails_can_be_switched_off(pat, ada, ben, django_capture_on_commit_callbacks):
    rules.change_rules(
        site=pat.site, changes={"alert_emails": False}, based_on=0, reason="phone calls instead",
        by=ada, now=timezone.now(),
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        services.record_assessment(
            patient=pat, instrument="phq9", answers={str(n): 1 for n in range(1, 10)},
            timepoint="baseline", by=ben, completed_at=dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
            now=timezone.now(),
        )  # fmt: skip
    assert (len(callbacks), pat.alerts.count()) == (0, 1)


def test_patient_page_query_count_does_not_grow_with_scores(login, ben, pat):
    client = login(ben)
    url = f"/patients/{pat.pk}/"

    def add_phq9(day: int) -> None:
        services.record_assessment(
            patient=pat, instrument="phq9", answers={str(n): 1 for n in range(1, 9)} | {"9": 0},
            timepoint="follow_up", by=ben, completed_at=dt.datetime(2026, 11, day, tzinfo=dt.UTC),
            now=timezone.now(),
        )  # fmt: skip

    add_phq9(1)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for day in range(2, 8):
        add_phq9(day)
    with CaptureQueriesContext(connection) as seven:
        response = client.get(url)
    assert len(response.context["page"].measures[0].assessments) == 7
    assert len(seven) == len(one)


def test_alert_list_shows_when_each_alert_was_raised_in_its_sites_time(login, ben, pat):
    raised = dt.datetime(2026, 11, 27, 12, 45, tzinfo=dt.UTC)  # 07:45 in New York
    services.record_assessment(
        patient=pat, instrument="phq9", answers={str(n): 1 for n in range(1, 10)},
        timepoint="baseline", by=ben, completed_at=raised, now=raised,
    )  # fmt: skip

    page = login(ben).get("/alerts/").content.decode()

    assert "2026-11-27 07:45" in page
    assert "12:45" not in page


def test_a_nurse_records_a_weight_from_the_patient_page(login, ben, pat):
    response = login(ben).post(
        f"/patients/{pat.pk}/weight/", {"weight_kg": "72.4", "measured_on": "2026-11-27"}
    )

    assert response.status_code == 302
    assert (pat.weights.first().weight_kg, pat.weights.first().recorded_by) == (
        Decimal("72.4"),
        ben,
    )
    event = AuditEvent.objects.filter(object_type="care.WeightMeasurement").last()
    assert (event.action, event.actor, event.patient_id) == ("create", ben, pat.pk)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weight_kg": "20.0", "measured_on": "2026-11-27"},
         "Weight must be between 30 and 300 kg; got 20"),
        ({"weight_kg": "72.0", "measured_on": "2999-01-01"},
         "The weight was measured on 2999-01-01, after today"),
        ({"weight_kg": "", "measured_on": "2026-11-27"}, "Weight (kg): This field is required."),
    ],
)  # fmt: skip
def test_a_refused_weight_says_why_and_saves_nothing(login, ben, pat, data, message):
    response = login(ben).post(f"/patients/{pat.pk}/weight/", data, follow=True)

    assert any(message in str(m) for m in response.context["messages"])
    assert pat.weights.count() == 1  # the registration weight only


def test_a_scheduler_cannot_record_a_weight(login, sam, pat):
    response = login(sam).post(
        f"/patients/{pat.pk}/weight/", {"weight_kg": "72.4", "measured_on": "2026-11-27"}
    )
    assert (response.status_code, pat.weights.count()) == (403, 1)
