"""The chair-side record's API (issue 10, item 8): the same services as the page, the record's
state after every step, and every refusal with its status, the rule it names and nothing saved.

Services take explicit times and the API reads the clock, so each request travels to its
moment (and logs in again there: sessions expire after 15 idle minutes).
"""

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.forms.models import model_to_dict
from django.test import Client

from sustain.accounts.enums import AuditAction
from sustain.accounts.models import AuditEvent, User
from sustain.care.enums import Timepoint
from sustain.care.models import Course
from sustain.clinic import story
from sustain.infusion import chairside
from sustain.infusion import services as infusion
from sustain.infusion.models import (
    Addendum,
    ChairsideRecord,
    InfusionEvent,
    InfusionRecord,
    VitalsReading,
)
from sustain.ledger import services as ledger
from sustain.ledger.models import ContainerBalance, LedgerEntry
from sustain.scheduling.models import Appointment
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.api

MONDAY = dt.date(2026, 11, 30)  # Pat's infusion 1 at 08:00 in New York (13:00 UTC)
URL = "/api/v1/visits/{id}/infusion"
WRITES = (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE)
MINUTE = dt.timedelta(minutes=1)
CALM = {
    "systolic_mmhg": 122, "diastolic_mmhg": 78, "heart_rate_bpm": 72, "spo2_percent": 98,
    "respiratory_rate_per_min": 14,
}  # fmt: skip
ALDRETE_10 = {
    "activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2,
    "oxygen_saturation": 2, "dissociation_resolved": True, "escort_present": True,
}  # fmt: skip
# The start's container_id "vial" is the North container build.vial gives (call() sets it).
START = {"container_id": "vial", "confirm": True}
CHECKS = {
    "identity_confirmed": True, "escort_present": True, "no_driving_confirmed": True,
    "pregnancy_test": "not_applicable", "substance_use_asked": True,
    "medication_changes_asked": True,
}  # fmt: skip


@pytest.fixture
def visit(north, pat, ada, ben, sam, stocked) -> Appointment:
    """Pat's infusion 1 (Monday 08:00 in New York), the series booked the Friday before;
    North's stock received."""
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=build.at(north, dt.date(2026, 11, 27), 10),
        phq9_total=18, gad7_total=12,
    )  # fmt: skip
    visits = build.book_series(
        course, sam, first=build.at(north, MONDAY, 8),
        now=build.at(north, dt.date(2026, 11, 27), 11),
    )  # fmt: skip
    return visits[0]


@pytest.fixture
def dee(north) -> User:
    """A second prescriber at North, to co-sign what Dr Ada signed."""
    return make_user("dee", "prescriber", north)


def call(
    user: User,
    at: dt.datetime,
    visit: Appointment,
    step: str = "",
    body: Any = None,
    **headers: str,
) -> Any:
    """The API at `at`, signed in as `user` there: GET the record without a step, else POST
    the step with `body` as JSON."""
    path = URL.format(id=visit.pk) + (f"/{step}" if step else "")
    with time_machine.travel(at, tick=False):
        client = Client()
        signed_in(user, client)
        if not step:
            return client.get(path)
        if isinstance(body, dict) and body.get("container_id") == "vial":
            body = body | {"container_id": build.vial(visit.site).pk}
        data = "" if body is None else json.dumps(body)
        return client.post(path, data, content_type="application/json", **headers)


def saved(visit: Appointment) -> dict[str, Any]:
    """Everything a chair-side step could write: rows, the record, the visit, the course, and
    the audit trail's writes."""
    record = ChairsideRecord.objects.filter(appointment=visit).first()
    return {
        "records": ChairsideRecord.objects.count(),
        "readings": VitalsReading.objects.count(),
        "events": InfusionEvent.objects.count(),
        "infusions": InfusionRecord.objects.count(),
        "addenda": Addendum.objects.count(),
        "record": model_to_dict(record) if record else None,
        "visit": model_to_dict(Appointment.objects.get(pk=visit.pk)),
        "course": Course.objects.get(pk=visit.course_id).status,
        "writes": AuditEvent.objects.filter(action__in=WRITES).count(),
        "ledger": LedgerEntry.objects.count(),
        "balances": sorted(ContainerBalance.objects.values_list("pk", "balance_mg", "balance_ml")),
    }


def refused(response: Any) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert list(response.json()) == ["error"]
    return response.status_code, error["code"], error["message"]


def stage(visit: Appointment) -> str:
    return ChairsideRecord.objects.get(appointment=visit).stage


def times(visit: Appointment) -> tuple[dt.datetime, dt.datetime]:
    """When the infusion starts (after check-in) and ends, as the visit was booked."""
    start = visit.starts_at + dt.timedelta(minutes=visit.check_in_minutes)
    return start, start + dt.timedelta(minutes=visit.infusion_minutes)


def infusing(visit: Appointment, nurse: User) -> dt.datetime:
    """Checked in, ready and started at the visit's times (the services); returns the start."""
    start, _ = times(visit)
    record = story.check_in_and_ready(visit, nurse, at=visit.starts_at)
    chairside.start_infusion(
        record=record, container=build.vial(record.appointment.site), by=nurse, now=start
    )
    return start


# --- Reading the record ----------------------------------------------------------------------


def test_the_record_before_check_in_shows_the_dose_planned(visit, ben):
    response = call(ben, visit.starts_at - 5 * MINUTE, visit)
    body = response.json()
    assert response.status_code == 200
    assert (body["stage"], body["stage_label"], body["checks"]) == (None, "Not checked in", None)
    shown = ("given", "dose_mg", "mg_per_kg", "pump_rate_ml_per_h", "preparation")
    assert {k: body["dose"][k] for k in shown} == {
        "given": False, "dose_mg": "35", "mg_per_kg": "0.5", "pump_rate_ml_per_h": "150.0",
        "preparation": [
            "Draw 0.7 mL of 50 mg/mL in a 1 mL syringe (marked every 0.01 mL): 0.7 mL = 35 mg, "
            "as prescribed.",
            "Withdraw 0.7 mL from the 100 mL bag, then add 0.7 mL of 50 mg/mL: 100 mL at "
            "150.0 mL/h over 40 min.",
        ],
    }  # fmt: skip
    read = AuditEvent.objects.order_by("id").last()
    assert (read.action, read.category, read.patient_id, read.actor_id) == (
        "read", "patient-record", visit.patient_id, ben.pk
    )  # fmt: skip


@pytest.mark.parametrize("who", ["sam", "ivy"])
def test_the_record_is_not_shown_to_schedulers_and_auditors(request, visit, who):
    story.check_in_and_ready(visit, request.getfixturevalue("ben"), at=visit.starts_at)
    response = call(request.getfixturevalue(who), visit.starts_at + 10 * MINUTE, visit)
    assert refused(response) == (
        403, "permission", "Your role does not allow this (infusion.add_infusionrecord)."
    )  # fmt: skip
    assert "stage" not in response.content.decode()
    assert "122" not in response.content.decode()  # the baseline blood pressure


def test_another_sites_visit_is_not_found(visit, carl):
    response = call(carl, visit.starts_at, visit)
    assert refused(response) == (404, "not_found", "No such appointment.")


# --- Check-in --------------------------------------------------------------------------------


def test_check_in_opens_the_record(visit, ben):
    response = call(ben, visit.starts_at, visit, "check-in")
    body = response.json()
    assert response.status_code == 201
    assert (body["stage"], body["checked_in_at"], body["checked_in_by"]) == (
        "checking_in", "2026-11-30T13:00:00Z", "ben"
    )  # fmt: skip
    assert [f["item"] for f in body["gate"]][:3] == ["identity", "fasting", "escort"]
    assert ChairsideRecord.objects.get().checked_in_by == ben


@pytest.mark.parametrize("who", ["ada", "ben"])
@pytest.mark.parametrize(
    ("when", "today"),
    [
        pytest.param(dt.datetime(2026, 11, 28, 14, 0, tzinfo=dt.UTC), "2026-11-28", id="ahead"),
        pytest.param(dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.UTC), "2026-12-01", id="past"),
    ],
)
def test_check_in_on_another_day_is_refused(request, visit, who, when, today):
    before = saved(visit)
    response = call(request.getfixturevalue(who), when, visit, "check-in")
    assert refused(response) == (
        409, "appointment", f"this visit is on 2026-11-30, not today ({today})"
    )  # fmt: skip
    assert saved(visit) == before


def test_check_in_by_a_scheduler_is_forbidden(visit, sam):
    before = saved(visit)
    response = call(sam, visit.starts_at, visit, "check-in")
    assert refused(response) == (
        403, "permission", "Your role does not allow this (infusion.add_infusionrecord)."
    )  # fmt: skip
    assert saved(visit) == before
    denied = AuditEvent.objects.filter(actor=sam, outcome="denied")
    assert [(e.action, e.category) for e in denied] == [("read", "infusion")]


def test_check_in_by_another_sites_prescriber_is_not_found(visit, carl):
    before = saved(visit)
    response = call(carl, visit.starts_at, visit, "check-in")
    assert refused(response) == (404, "not_found", "No such appointment.")
    assert saved(visit) == before


def test_a_second_check_in_is_refused(visit, ben):
    call(ben, visit.starts_at, visit, "check-in")
    before = saved(visit)
    response = call(ben, visit.starts_at + MINUTE, visit, "check-in")
    assert refused(response) == (409, "appointment", "the patient is already checked in")
    assert saved(visit) == before


@pytest.mark.parametrize(
    ("step", "body"),
    [
        ("checks", CHECKS),
        ("vitals", CALM),
        ("start", START),
        ("events", {"kind": "note", "detail": "Settled"}),
        ("end", None),
        ("discharge", ALDRETE_10),
        ("sign", None),
        ("addenda", {"text": "Late note"}),
    ],
)
def test_a_step_before_check_in_is_refused(visit, ben, step, body):
    before = saved(visit)
    response = call(ben, visit.starts_at, visit, step, body)
    assert refused(response) == (409, "stage", "check the patient in first")
    assert saved(visit) == before


# --- The checks and the gate -----------------------------------------------------------------


def test_checks_are_answered_with_times_carrying_their_offset(visit, ben):
    chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    body = CHECKS | {
        "last_food_at": "2026-11-29T22:00:00-05:00",
        "last_clear_fluids_at": "2026-11-30T10:00:00Z",  # 05:00 in New York
    }
    response = call(ben, visit.starts_at + 2 * MINUTE, visit, "checks", body)
    assert response.status_code == 200
    assert response.json()["checks"] == body | {
        "last_food_at": "2026-11-30T03:00:00Z",
        "last_clear_fluids_at": "2026-11-30T10:00:00Z",
        "substance_use": "",
        "medication_changes": "",
    }
    assert [f["item"] for f in response.json()["gate"]] == ["baseline_vitals"]


def test_a_check_left_out_stays_as_it_was(visit, ben):
    chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    call(ben, visit.starts_at + MINUTE, visit, "checks", {"identity_confirmed": True})
    response = call(ben, visit.starts_at + 2 * MINUTE, visit, "checks", {"escort_present": True})
    checks = response.json()["checks"]
    assert (checks["identity_confirmed"], checks["escort_present"]) == (True, True)


@pytest.mark.parametrize("field", ["last_food_at", "last_clear_fluids_at"])
def test_a_time_without_its_offset_is_refused(visit, ben, field):
    chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    before = saved(visit)
    response = call(ben, visit.starts_at, visit, "checks", {field: "2026-11-30T06:00:00"})
    status, code, message = refused(response)
    assert (status, code) == (400, field)
    assert (
        message == "give the date and time with its offset from UTC, e.g. 2026-11-30T06:30:00-05:00"
    )
    assert saved(visit) == before


def test_a_time_later_than_now_is_refused(visit, ben):
    chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    before = saved(visit)
    response = call(
        ben, visit.starts_at, visit, "checks", {"last_food_at": "2026-11-30T09:00:00-05:00"}
    )
    assert refused(response) == (400, "last_food_at", "that time is later than now")
    assert saved(visit) == before


def test_start_with_nothing_checked_is_refused_naming_each_check(visit, ben):
    chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    before = saved(visit)
    response = call(ben, visit.starts_at + 15 * MINUTE, visit, "start", START)
    assert refused(response) == (
        409,
        "gate",
        "confirm the patient's identity; ask when the patient last ate; ask when the patient "
        "last drank clear fluids; confirm a responsible adult will take the patient home; "
        "confirm the patient will not drive after the infusion; ask about alcohol and drug use "
        "since the last visit; ask about medication changes since the last visit; record the "
        "pre-infusion vital signs",
    )
    assert saved(visit) == before


def test_start_with_an_open_suicide_risk_alert_waits_for_a_prescriber(visit, ada, ben):
    before_visit = visit.starts_at - 15 * MINUTE
    infusion.record_visit_assessment(
        appointment=visit, instrument="phq9", answers=build.phq9(17, item9=1),
        timepoint=Timepoint.PRE_INFUSION, by=ben, completed_at=before_visit, now=before_visit,
    )  # fmt: skip
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    start, _ = times(visit)
    before = saved(visit)

    response = call(ben, start, visit, "start", START)
    assert refused(response) == (
        409, "gate",
        "an open suicide-risk alert: a prescriber must clear the patient for today with a note",
    )  # fmt: skip
    assert saved(visit) == before
    shown = call(ben, start, visit).json()
    assert shown["gate"] == [
        {
            "item": "suicide_risk",
            "message": "an open suicide-risk alert: a prescriber must clear the patient for "
            "today with a note",
            "resolvers": ["prescriber"],
        }
    ]
    clear = {"decision": "suicide_risk", "reason": "Seen today: no plan or intent"}
    nurse = call(ben, start, visit, "decisions", clear)
    assert refused(nurse) == (403, "permission", "Your role does not allow this (care.prescribe).")
    assert saved(visit) == before

    cleared = call(ada, start + MINUTE, visit, "decisions", clear)
    assert cleared.status_code == 200
    assert (cleared.json()["stage"], cleared.json()["gate"]) == ("ready", [])
    assert cleared.json()["decisions"] == [
        {"decision": "suicide_risk", "at": "2026-11-30T13:16:00Z", "by": "ada",
         "reason": "Seen today: no plan or intent"}
    ]  # fmt: skip
    started = call(ben, start + 2 * MINUTE, visit, "start", START)
    assert (started.status_code, started.json()["stage"]) == (200, "infusing")


def test_start_with_the_blood_pressure_above_the_deferral_threshold_is_refused(visit, ada, ben):
    record = chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    answers = CHECKS | {
        "last_food_at": visit.starts_at - dt.timedelta(hours=10),
        "last_clear_fluids_at": visit.starts_at - dt.timedelta(hours=3),
    }
    chairside.answer_checks(record=record, answers=answers, by=ben, now=visit.starts_at)
    high = CALM | {"systolic_mmhg": 170, "diastolic_mmhg": 95}
    reading = call(ben, visit.starts_at + 5 * MINUTE, visit, "vitals", high)
    message = (
        "blood pressure 170/95 mmHg is above the deferral threshold 160/100 mmHg: a nurse may "
        "recheck it, or a prescriber may accept it with a reason"
    )
    assert reading.status_code == 200
    assert reading.json()["readings"][0]["flags"] == [
        "blood pressure 170/95 mmHg is above the deferral threshold 160/100 mmHg"
    ]
    assert reading.json()["gate"] == [
        {"item": "blood_pressure", "message": message, "resolvers": ["nurse", "prescriber"]}
    ]
    start, _ = times(visit)
    before = saved(visit)

    response = call(ben, start, visit, "start", START)
    assert refused(response) == (409, "gate", message)
    assert saved(visit) == before

    accept = {"decision": "blood_pressure", "reason": "White-coat; 150/90 at home"}
    assert call(ada, start, visit, "decisions", accept).json()["stage"] == "ready"
    assert call(ben, start + MINUTE, visit, "start", START).json()["stage"] == "infusing"


def test_start_unconfirmed_is_refused(visit, ben):
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    start, _ = times(visit)
    before = saved(visit)
    response = call(ben, start, visit, "start", START | {"confirm": False})
    assert refused(response) == (
        400, "confirm", "confirm the patient, the weight, the dose and the pump rate are checked"
    )  # fmt: skip
    assert saved(visit) == before


def test_start_from_an_expired_lot_is_refused_and_saves_nothing(visit, ben, alex):
    (old,) = story.stock(
        visit.site, alex, on=dt.date(2026, 11, 23), containers=1, lot="OLD-1",
        expires_on=dt.date(2026, 11, 27),
    )  # fmt: skip
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    start, _ = times(visit)
    before = saved(visit)
    response = call(ben, start, visit, "start", START | {"container_id": old.pk})
    assert refused(response) == (
        409, "container", "lot OLD-1 expired on 2026-11-27; an expired lot cannot be drawn"
    )  # fmt: skip
    assert saved(visit) == before


def test_start_from_a_container_holding_less_than_the_dose_is_refused(visit, ben, alex):
    vial = build.vial(visit.site)
    ledger.adjust_balance(
        container=vial, change_mg=Decimal(-480), reason="Broken in the safe", by=alex,
        now=build.at(visit.site, dt.date(2026, 11, 27), 9),
    )  # fmt: skip
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    start, _ = times(visit)
    before = saved(visit)
    response = call(ben, start, visit, "start", START | {"container_id": vial.pk})
    assert refused(response) == (
        409, "dose_mg", f"container lot {vial.lot.lot_number} #1 holds 20 mg; taking 35 mg "
        "would make its balance negative, and a balance never goes below zero",
    )  # fmt: skip
    assert saved(visit) == before


def test_start_from_another_sites_container_answers_404(visit, ben, south, carl):
    site_admin = make_user("sal", "clinic_admin", south)
    (theirs,) = story.stock(south, site_admin, on=dt.date(2026, 11, 23), containers=1)
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    start, _ = times(visit)
    before = saved(visit)
    response = call(ben, start, visit, "start", START | {"container_id": theirs.pk})
    assert refused(response) == (404, "not_found", "No such container.")
    assert saved(visit) == before


def test_start_gives_the_dose_computed_from_the_course(visit, ben):
    vial = build.vial(visit.site, 50)  # the first of three full vials
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    start, _ = times(visit)
    response = call(ben, start, visit, "start", START)
    dose = response.json()["dose"]
    assert response.status_code == 200
    # Numbers as people write them (never "0.700000" or "5E+1"); the pump with its 0.1 step.
    assert dose == {
        "given": True, "dose_mg": "35", "prescribed_mg": "35", "mg_per_kg": "0.5",
        "mg_per_kg_per_h": None, "dose_rate_mg_per_h": None, "capped": False,
        "weight_kg": "70", "vial_mg_per_ml": "50", "drug_volume_ml": "0.7", "syringe_ml": "1",
        "bag_convention": "withdraw", "bag_volume_ml": "100", "final_volume_ml": "100",
        "pump_rate_ml_per_h": "150.0", "infusion_minutes": 40,
        "preparation": [
            "Draw 0.7 mL of 50 mg/mL in a 1 mL syringe (marked every 0.01 mL): 0.7 mL = 35 mg, "
            "as prescribed.",
            "Withdraw 0.7 mL from the 100 mL bag, then add 0.7 mL of 50 mg/mL: 100 mL at "
            "150.0 mL/h over 40 min.",
        ],
        "lot": "K50-261123", "confirmed_by": "ben", "started_at": "2026-11-30T13:15:00Z",
        "ended_at": None,
    }  # fmt: skip
    assert (response.json()["ledger"], response.json()["ledger_closed"]) == (
        [{
            "container_id": vial.pk,
            "lot": "K50-261123", "number": 1, "strength_mg_per_ml": 50, "drawn_mg": "35",
            "administered_mg": "0", "wasted_mg": "0", "open_mg": "35", "witnesses": [],
        }],
        False,
    )  # fmt: skip
    assert [(d["at"], d["status"]) for d in response.json()["readings_due"]][:2] == [
        ("2026-11-30T13:30:00Z", "upcoming"), ("2026-11-30T13:45:00Z", "upcoming")
    ]  # fmt: skip


# --- Vital signs, stops and resuming ---------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"spo2_percent": 140},
            "spo2_percent",
            "SpO₂ must be a whole number of % from 50 to 100; got 140",
        ),
        (
            {"heart_rate_bpm": -5},
            "heart_rate_bpm",
            "heart rate must be a whole number of beats per minute from 20 to 250; got -5",
        ),
        (
            {"systolic_mmhg": 20, "diastolic_mmhg": 300},
            "systolic_mmhg",
            "systolic blood pressure must be a whole number of mmHg from 50 to 300; got 20",
        ),
    ],
    ids=["spo2-140", "heart-rate-minus-5", "bp-20-over-300"],
)
def test_vital_signs_no_patient_can_have_are_refused(visit, ben, values, field, message):
    start = infusing(visit, ben)
    before = saved(visit)
    response = call(ben, start + 15 * MINUTE, visit, "vitals", CALM | values)
    assert refused(response) == (400, field, message)
    assert saved(visit) == before
    assert stage(visit) == "infusing"


def test_a_reading_past_the_stop_threshold_stops_until_a_prescriber_resumes(visit, ada, ben):
    start = infusing(visit, ben)
    high = CALM | {"systolic_mmhg": 185, "diastolic_mmhg": 95}
    response = call(ben, start + 15 * MINUTE, visit, "vitals", high)
    body = response.json()
    assert (response.status_code, body["stage"]) == (200, "stopped")
    assert body["events"] == [
        {"at": "2026-11-30T13:30:00Z", "kind": "stop", "by": "ben",
         "detail": "systolic 185 mmHg is above the stop threshold 180 mmHg"}
    ]  # fmt: skip
    assert body["readings"][-1]["flags"] == [
        "systolic 185 mmHg is above the stop threshold 180 mmHg"
    ]
    before = saved(visit)

    by_nurse = call(ben, start + 20 * MINUTE, visit, "resume", {"reason": "Rechecked: 150/85"})
    assert refused(by_nurse) == (
        403, "permission", "Your role does not allow this (care.prescribe)."
    )  # fmt: skip
    assert saved(visit) == before
    no_reason = call(ada, start + 20 * MINUTE, visit, "resume", {"reason": " "})
    assert refused(no_reason) == (400, "reason", "write why the infusion may resume")
    assert saved(visit) == before

    resumed = call(ada, start + 21 * MINUTE, visit, "resume", {"reason": "Rechecked: 150/85"})
    assert (resumed.status_code, resumed.json()["stage"]) == (200, "infusing")
    assert resumed.json()["events"][-1] == {
        "at": "2026-11-30T13:36:00Z", "kind": "resume", "by": "ada", "detail": "Rechecked: 150/85"
    }  # fmt: skip


def test_resuming_an_infusion_not_stopped_is_refused(visit, ada, ben):
    start = infusing(visit, ben)
    before = saved(visit)
    response = call(ada, start + 5 * MINUTE, visit, "resume", {"reason": "Go on"})
    assert refused(response) == (
        409, "stage",
        "from infusing the record can only go to stopped or recovering, not to infusing",
    )  # fmt: skip
    assert saved(visit) == before


def test_an_event_is_recorded_while_infusing(visit, ben):
    start = infusing(visit, ben)
    body = {"kind": "medication", "detail": "Ondansetron 4 mg IV"}
    response = call(ben, start + 10 * MINUTE, visit, "events", body)
    assert (response.status_code, response.json()["events"]) == (
        200, [{"at": "2026-11-30T13:25:00Z", "kind": "medication", "by": "ben",
               "detail": "Ondansetron 4 mg IV"}],
    )  # fmt: skip


def test_an_unknown_event_kind_is_refused(visit, ben):
    start = infusing(visit, ben)
    before = saved(visit)
    response = call(ben, start, visit, "events", {"kind": "resume", "detail": "Go on"})
    assert refused(response) == (
        400, "kind", "choose a stop, a rate change, a medication or a note"
    )  # fmt: skip
    response = call(ben, start, visit, "events", {"kind": "dance", "detail": "Go on"})
    assert refused(response) == (
        400, "kind", "choose a stop, a rate change, a medication or a note"
    )  # fmt: skip
    assert saved(visit) == before


# --- Discharge -------------------------------------------------------------------------------


def recovering(visit: Appointment, nurse: User, *, observed: int) -> dt.datetime:
    """The story's infusion up to `observed` minutes after its end (readings, CADSS and the
    end taken); returns the end."""
    _, end = times(visit)
    story.uneventful_infusion(visit, nurse, None, until=end + dt.timedelta(minutes=observed))
    return end


def test_discharge_before_the_observation_time_is_refused(visit, ben):
    end = recovering(visit, ben, observed=30)
    before = saved(visit)
    response = call(ben, end + 31 * MINUTE, visit, "discharge", ALDRETE_10)
    assert refused(response) == (
        409, "discharge", "observed 31 min of the 60 min needed after the infusion"
    )  # fmt: skip
    assert saved(visit) == before
    shown = call(ben, end + 31 * MINUTE, visit).json()
    assert shown["discharge_failures"] == [
        "observed 31 min of the 60 min needed after the infusion",
        "score the modified Aldrete (at least 9 needed)",
        "dissociation has not yet resolved",
    ]
    discharged = call(ben, end + 61 * MINUTE, visit, "discharge", ALDRETE_10)
    assert (discharged.status_code, discharged.json()["stage"]) == (200, "discharged")
    assert discharged.json()["discharge"] == {
        "discharged_at": "2026-11-30T14:56:00Z", "discharged_by": "ben", "aldrete": 10,
        "dissociation_resolved": True, "escort_present": True, "override_reason": "",
    }  # fmt: skip


def test_discharge_lists_every_failed_criterion(visit, ben):
    end = recovering(visit, ben, observed=30)
    before = saved(visit)
    body = ALDRETE_10 | {"activity": 0, "dissociation_resolved": False, "escort_present": False}
    response = call(ben, end + 61 * MINUTE, visit, "discharge", body)
    assert refused(response) == (
        409, "discharge",
        "modified Aldrete 8, below 9; dissociation has not yet resolved; no escort",
    )  # fmt: skip
    assert saved(visit) == before


def test_an_aldrete_item_out_of_range_is_refused(visit, ben):
    end = recovering(visit, ben, observed=30)
    before = saved(visit)
    response = call(ben, end + 61 * MINUTE, visit, "discharge", ALDRETE_10 | {"activity": 3})
    assert refused(response) == (
        400, "activity", "the modified Aldrete activity item must be a whole number from 0 to 2; "
        "got 3",
    )  # fmt: skip
    assert saved(visit) == before


def test_discharge_against_the_criteria_is_a_prescribers(visit, ada, ben):
    end = recovering(visit, ben, observed=30)
    before = saved(visit)
    body = ALDRETE_10 | {"override_reason": "Ride leaving; fully alert"}
    by_nurse = call(ben, end + 40 * MINUTE, visit, "discharge", body)
    assert refused(by_nurse) == (
        403, "permission", "Only a prescriber discharges against the criteria."
    )  # fmt: skip
    assert saved(visit) == before
    by_prescriber = call(ada, end + 40 * MINUTE, visit, "discharge", body)
    assert by_prescriber.status_code == 200
    assert by_prescriber.json()["discharge"]["override_reason"] == "Ride leaving; fully alert"


def test_a_refusal_by_role_inside_a_step_is_audited(visit, ben):
    end = recovering(visit, ben, observed=30)
    body = ALDRETE_10 | {"override_reason": "Ride leaving"}
    call(ben, end + 40 * MINUTE, visit, "discharge", body)
    assert AuditEvent.objects.filter(actor=ben, outcome="denied").count() == 1


def test_discharge_of_a_patient_never_infused_is_refused(visit, ben):
    chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    before = saved(visit)
    response = call(ben, visit.starts_at + 30 * MINUTE, visit, "discharge", ALDRETE_10)
    assert refused(response) == (
        409, "stage", "from checking in the record can only go to ready, not to discharged"
    )  # fmt: skip
    assert saved(visit) == before


def test_undo_a_discharge(visit, ben):
    end = recovering(visit, ben, observed=61)
    call(ben, end + 62 * MINUTE, visit, "discharge", ALDRETE_10)
    response = call(ben, end + 63 * MINUTE, visit, "undo", {"reason": "Wrong patient's tablet"})
    assert (response.status_code, response.json()["stage"], response.json()["discharge"]) == (
        200, "recovering", None
    )  # fmt: skip
    assert response.json()["events"][-1]["detail"] == "discharged: Wrong patient's tablet"


# --- Signatures, the lock, addenda -----------------------------------------------------------


def test_signatures_lock_the_record_then_addenda_only(visit, ada, ben, dee):
    end = recovering(visit, ben, observed=60)
    assert call(ada, end + 61 * MINUTE, visit, "discharge", ALDRETE_10).status_code == 200
    signed = call(ada, end + 63 * MINUTE, visit, "sign")
    assert (signed.status_code, signed.json()["stage"]) == (200, "signed")
    before = saved(visit)

    same = call(ada, end + 70 * MINUTE, visit, "cosign")
    assert refused(same) == (409, "by", "the co-signer must be another person than the signer")
    assert saved(visit) == before
    by_nurse = call(ben, end + 70 * MINUTE, visit, "cosign")
    assert refused(by_nurse) == (
        403, "permission", "Your role does not allow this (care.prescribe)."
    )  # fmt: skip
    assert saved(visit) == before

    cosigned = call(dee, end + 90 * MINUTE, visit, "cosign")
    assert (cosigned.status_code, cosigned.json()["stage"]) == (200, "cosigned")
    assert cosigned.json()["signatures"] == {
        "nurse_signed_at": "2026-11-30T14:58:00Z", "nurse_signed_by": "ada",
        "prescriber_signed_at": "2026-11-30T15:25:00Z", "prescriber_signed_by": "dee",
        "locked": True,
    }  # fmt: skip
    before = saved(visit)
    late = end + 95 * MINUTE
    vitals = call(ben, late, visit, "vitals", CALM)
    assert refused(vitals) == (
        409, "stage", "the patient has left: vital signs are taken before discharge"
    )  # fmt: skip
    event = call(ben, late, visit, "events", {"kind": "note", "detail": "Called home"})
    assert refused(event) == (409, "stage", "events are recorded while infusing or recovering")
    again = call(dee, late, visit, "cosign")
    assert refused(again) == (
        409, "stage", "the record is co-signed and locked; it cannot go to co-signed"
    )  # fmt: skip
    assert saved(visit) == before

    addendum = call(ben, late, visit, "addenda", {"text": "Home safely, called at 14:00"})
    assert addendum.status_code == 200
    assert addendum.json()["addenda"] == [
        {"at": "2026-11-30T15:30:00Z", "by": "ben", "text": "Home safely, called at 14:00"}
    ]
    assert addendum.json()["stage"] == "cosigned"


def test_an_addendum_before_the_signature_is_refused(visit, ben):
    end = recovering(visit, ben, observed=30)
    before = saved(visit)
    response = call(ben, end + 31 * MINUTE, visit, "addenda", {"text": "Note"})
    assert refused(response) == (
        409, "stage", "an addendum is for a signed record; edit it until then"
    )  # fmt: skip
    assert saved(visit) == before


# --- The whole day through the API -----------------------------------------------------------


def test_a_whole_infusion_day_through_the_api(visit, ada, ben):
    at = visit.starts_at
    start, end = times(visit)

    def step(user: User, when: dt.datetime, name: str, body: Any = None) -> dict[str, Any]:
        response = call(user, when, visit, name, body)
        assert response.status_code == (201 if name == "check-in" else 200), response.content
        return response.json()

    assert step(ben, at, "check-in")["stage"] == "checking_in"
    checks = CHECKS | {
        "last_food_at": (at - dt.timedelta(hours=10)).isoformat(),
        "last_clear_fluids_at": (at - dt.timedelta(hours=3)).isoformat(),
    }
    assert step(ben, at + 2 * MINUTE, "checks", checks)["gate"] == [
        {"item": "baseline_vitals", "message": "record the pre-infusion vital signs",
         "resolvers": ["nurse"]}
    ]  # fmt: skip
    assert step(ben, at + 5 * MINUTE, "vitals", CALM)["stage"] == "ready"
    assert step(ben, start, "start", START)["stage"] == "infusing"
    during = CALM | {"systolic_mmhg": 131, "diastolic_mmhg": 83}
    for minutes in (15, 30):
        assert step(ben, start + minutes * MINUTE, "vitals", during)["stage"] == "infusing"
    infusion.record_visit_assessment(
        appointment=visit, instrument="cadss", answers={str(n): 0 for n in range(1, 24)},
        timepoint=Timepoint.FOLLOW_UP, by=ben, completed_at=end, now=end,
    )  # fmt: skip
    assert step(ben, end, "end")["stage"] == "recovering"
    for minutes in (15, 30):
        step(ben, end + minutes * MINUTE, "vitals", CALM)
    assert step(ben, end + 61 * MINUTE, "discharge", ALDRETE_10)["stage"] == "discharged"
    assert step(ben, end + 63 * MINUTE, "sign")["stage"] == "signed"
    assert step(ada, end + 90 * MINUTE, "cosign")["stage"] == "cosigned"

    record = call(ben, end + 95 * MINUTE, visit).json()
    assert (record["stage"], record["stage_label"]) == ("cosigned", "Co-signed and locked")
    assert [r["taken_at"] for r in record["readings"]] == [
        "2026-11-30T13:05:00Z", "2026-11-30T13:30:00Z", "2026-11-30T13:45:00Z",
        "2026-11-30T14:10:00Z", "2026-11-30T14:25:00Z",
    ]  # fmt: skip
    assert record["cadss"] == [{"total": "0", "completed_at": "2026-11-30T13:55:00Z"}]
    assert (record["dose"]["started_at"], record["dose"]["ended_at"]) == (
        "2026-11-30T13:15:00Z", "2026-11-30T13:55:00Z"
    )  # fmt: skip
    assert record["signatures"]["locked"] is True
    assert (record["readings_due"], record["discharge_failures"]) == ([], [])
    visit.refresh_from_db()
    assert (visit.status, visit.phase) == ("completed", "discharged")
    assert Course.objects.get(pk=visit.course_id).status == "induction"


# --- Retries and the document ----------------------------------------------------------------


def test_a_retried_reading_with_its_idempotency_key_is_recorded_once(visit, ben):
    start = infusing(visit, ben)
    first = call(ben, start + 15 * MINUTE, visit, "vitals", CALM, HTTP_IDEMPOTENCY_KEY="tab-7")
    retry = call(ben, start + 16 * MINUTE, visit, "vitals", CALM, HTTP_IDEMPOTENCY_KEY="tab-7")
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == first.json()
    assert VitalsReading.objects.filter(taken_at__gt=start).count() == 1


def test_the_openapi_document_describes_every_step(login, ben):
    document = login(ben).get("/api/v1/openapi.json").json()
    base = "/api/v1/visits/{visit_id}/infusion"
    steps = ("check-in", "checks", "last-doses", "vitals", "decisions", "start", "events",
             "resume", "end", "waste", "discharge", "undo", "sign", "cosign",
             "addenda", "adverse-events")  # fmt: skip
    mine = {path: list(ops) for path, ops in document["paths"].items() if path.startswith(base)}
    assert mine == {base: ["get"], **{f"{base}/{s}": ["post"] for s in steps}}
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    refs = {ref.removeprefix("#/components/schemas/") for ref in _values(document, "$ref")}
    assert refs <= set(document["components"]["schemas"])
    check_in = document["paths"][f"{base}/check-in"]["post"]["responses"]
    assert sorted(check_in) == ["201", "400", "401", "403", "404", "409", "422"]


def _values(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        found = [node[key]] if key in node else []
        return found + [v for child in node.values() for v in _values(child, key)]
    if isinstance(node, list):
        return [v for child in node for v in _values(child, key)]
    return []
