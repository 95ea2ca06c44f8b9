"""One patient through the start of a 6-infusion course, entirely through the web UI."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
import time_machine

from sustain.care.forms import ContraindicationScreenForm
from sustain.care.models import Alert, Assessment, Course, Patient
from sustain.care.protocol_versions import protocol_for as course_protocol
from sustain.infusion.models import InfusionRecord
from sustain.scheduling.models import Appointment

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # Friday 10:00 in New York


def phq9_post(total_items: list[int], timepoint: str) -> dict[str, str]:
    data = {f"phq9-{n}": str(v) for n, v in enumerate(total_items, start=1)}
    return data | {"instrument": "phq9", "timepoint": timepoint}


@time_machine.travel(NOW, tick=False)
def test_walking_skeleton_register_enrol_book_measure_infuse(login, north, ada, ben, sam, stocked):
    scheduler, prescriber, nurse = login(sam), login(ada), login(ben)

    response = scheduler.post(
        "/patients/new/",
        {
            "site": north.pk,
            "given_name": "Robin",
            "family_name": "Ellis",
            "date_of_birth": "1979-03-02",
            "sex": "male",
            "phone": "555-0142",
            "email": "robin@example.com",
            "primary_condition": "depression",
            "weight_kg": "70.0",
        },
    )
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/"

    response = prescriber.post(
        f"/patients/{patient.pk}/enrol/", {"protocol": "depression-induction:1"}
    )
    course = Course.objects.get()
    assert (response.status_code, course.status) == (302, "screening")

    response = nurse.post(
        f"/patients/{patient.pk}/assessments/new/",
        phq9_post([3, 3, 2, 2, 2, 2, 2, 2, 0], "baseline"),
    )
    assert response.status_code == 302
    assert Assessment.objects.get().total_score == Decimal("18")
    gad7 = {f"gad7-{n}": "2" for n in range(1, 8)} | {"instrument": "gad7", "timepoint": "baseline"}
    nurse.post(f"/patients/{patient.pk}/assessments/new/", gad7)

    # Consent and the contraindication screen, before any infusion (issue 4's lifecycle).
    nurse.post(
        f"/patients/{patient.pk}/consent/",
        {"signed_on": "2026-11-27", "document": "Ketamine consent v3"},
    )
    protocol = course_protocol(course)
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    prescriber.post(
        f"/patients/{patient.pk}/screen/",
        {ContraindicationScreenForm.field_name(item): "absent" for item in items},
    )

    response = scheduler.get(f"/patients/{patient.pk}/series/", {"first_day": "2026-11-30"})
    assert response.status_code == 200
    assert len(response.context["proposal"]) == 6
    response = scheduler.post(f"/patients/{patient.pk}/series/", {"first_day": "2026-11-30"})
    visits = list(Appointment.objects.order_by("starts_at"))
    course.refresh_from_db()
    assert (response.status_code, len(visits), course.status) == (302, 6, "screening")
    gaps = [b.starts_at - a.starts_at for a, b in itertools.pairwise(visits)]
    assert min(gaps) >= dt.timedelta(hours=48)
    assert visits[-1].ends_at - visits[0].starts_at <= dt.timedelta(days=21)

    first = visits[0]
    with time_machine.travel(first.starts_at, tick=False):
        nurse = login(ben)
        at_the_chair = f"/visits/{first.pk}/infusion/"
        nurse.post(f"{at_the_chair}check-in/")
        nurse.post(
            f"{at_the_chair}checks/",
            {
                "identity_confirmed": "on", "last_food_at": "2026-11-29T22:00",
                "last_clear_fluids_at": "2026-11-30T06:00", "escort_present": "on",
                "no_driving_confirmed": "on", "pregnancy_test": "not_applicable",
                "substance_use_asked": "on", "medication_changes_asked": "on",
            },
        )  # fmt: skip
        vitals = {
            "systolic_mmhg": "124", "diastolic_mmhg": "79", "heart_rate_bpm": "74",
            "spo2_percent": "98", "respiratory_rate_per_min": "14",
        }  # fmt: skip
        nurse.post(f"{at_the_chair}vitals/", vitals)
        nurse.post(
            f"/patients/{patient.pk}/assessments/new/",
            phq9_post([3, 3, 2, 2, 2, 2, 2, 2, 0], "pre_infusion"),  # 18: the baseline
        )
        # Registered without a height: the clinic's default rule (adjusted weight from BMI
        # 30) needs one, so the gate and the dose say to record it, with the form to do so.
        response = nurse.get(at_the_chair)
        view = response.context["view"]
        assert [f.item for f in view.gate] == ["height"]
        assert view.plan_refused.startswith("record the patient's height")
        assert f'action="{at_the_chair}height/"' in response.content.decode()
        nurse.post(f"{at_the_chair}height/", {"height_cm": "178.0"})
        response = nurse.get(at_the_chair)
        view = response.context["view"]
        assert view.gate == ()  # every pre-infusion check holds
        ((strength, plan),) = view.plans  # the site's stock: 50 mg/mL vials only
        assert strength == Decimal(50)
        assert (plan.dose_mg, plan.drug_volume_ml, plan.pump_rate_ml_per_h) == (
            Decimal("35"),
            Decimal("0.7"),
            Decimal("150.0"),
        )
    with time_machine.travel(first.starts_at + dt.timedelta(minutes=20), tick=False):
        nurse = login(ben)  # the session has been idle for 20 minutes
        response = nurse.post(
            f"{at_the_chair}start/", {"container": stocked[0].pk, "confirm": "on"}
        )
        record = InfusionRecord.objects.get()
        first.refresh_from_db()
        course.refresh_from_db()
        assert course.status == "induction"  # infusion 1 started induction; guards held
        assert [t.to_status for t in course.transitions.all()] == ["ready", "induction"]
        assert (record.dose_mg, first.status) == (Decimal("35"), "completed")
        assert first.chairside.stage == "infusing"
        assert Assessment.objects.get(timepoint="pre_infusion").visit_link.appointment == first
    with time_machine.travel(first.starts_at + dt.timedelta(days=1), tick=False):
        login(ben).post(
            f"/patients/{patient.pk}/assessments/new/",
            phq9_post([2, 1, 1, 1, 1, 1, 1, 1, 0], "follow_up"),
        )
        page = prescriber_page = login(ada).get(f"/patients/{patient.pk}/")
    html = page.content.decode()
    assert prescriber_page.status_code == 200
    assert "<svg" in html
    assert 'class="infusion"' in html
    phq9, gad7 = page.context["page"].measures
    assert (phq9.instrument.code, gad7.instrument.code) == ("phq9", "gad7")
    assert (phq9.outcome, phq9.baseline.total_score) == ("response", 18)  # 18 → 9: 50 % down
    assert [a.number for a in page.context["page"].appointments] == [1, 2, 3, 4, 5, 6]
    assert Alert.objects.count() == 0
