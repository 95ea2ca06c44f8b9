"""The chair-side record's rules (issue 10): the pre-infusion gate, the start, timed vital
signs and stop thresholds, discharge criteria, signatures and addenda, undo, the board
following the record, titration reading it. Every refusal saves nothing. The web and API
paths are in test_visit_day, test_api_chairside and the browser test."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction

from sustain.accounts import directors
from sustain.accounts.models import AuditEvent
from sustain.care import protocol_versions, rules
from sustain.care import services as care
from sustain.clinic import story
from sustain.infusion import chairside
from sustain.infusion import services as infusion
from sustain.infusion.models import ChairsideRecord, InfusionEvent, InfusionRecord, VitalsReading
from sustain.infusion.services import StepRefused
from sustain.scheduling.models import Appointment
from sustain_core import protocols
from sustain_core.errors import ClinicalValueError
from sustain_core.infusion_day import Vitals
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.db

MONDAY = dt.date(2026, 11, 30)  # the series of the `visits` fixture (conftest)
HIGH = Vitals(
    systolic_mmhg=185, diastolic_mmhg=100, heart_rate_bpm=88, spo2_percent=97,
    respiratory_rate_per_min=16,
)  # fmt: skip
RAISED = Vitals(  # above the deferral threshold (160/100), below the stop threshold
    systolic_mmhg=166, diastolic_mmhg=96, heart_rate_bpm=80, spo2_percent=98,
    respiratory_rate_per_min=14,
)  # fmt: skip
VIAL = Decimal("50")


def minutes(visit: Appointment, m: float) -> dt.datetime:
    return visit.starts_at + dt.timedelta(minutes=m)


def started(visit: Appointment, ben) -> ChairsideRecord:
    """Checked in and ready at the visit's start, the infusion started 15 min later."""
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    chairside.start_infusion(
        record=record, container=build.vial(record.appointment.site), by=ben, now=minutes(visit, 15)
    )
    record.refresh_from_db()
    return record


def ended(visit: Appointment, ben, *, cadss: bool = True) -> ChairsideRecord:
    """Started, read every 15 min, the CADSS at the end (40 min), ended."""
    record = started(visit, ben)
    for m in (30, 45):
        chairside.record_vitals(record=record, vitals=story.DURING, by=ben, now=minutes(visit, m))
    if cadss:
        infusion.record_visit_assessment(
            appointment=visit, instrument="cadss", answers={str(n): 0 for n in range(1, 24)},
            timepoint="follow_up", by=ben, completed_at=minutes(visit, 55), now=minutes(visit, 55),
        )  # fmt: skip
    chairside.end_infusion(record=record, by=ben, now=minutes(visit, 55))
    record.refresh_from_db()
    return record


def snapshot() -> tuple[int, ...]:
    """What a refused step must leave as it was."""
    return (
        ChairsideRecord.objects.count(), VitalsReading.objects.count(),
        InfusionEvent.objects.count(), InfusionRecord.objects.count(),
        AuditEvent.objects.count(),
    )  # fmt: skip


def items(record: ChairsideRecord, at: dt.datetime) -> list[str]:
    return [failure.item for failure in chairside.gate(record, now=at)]


def test_the_gate_names_every_missing_check_and_who_may_resolve_it(visits, ben):
    visit = visits[0]
    record = chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    failures = {f.item: f for f in chairside.gate(record, now=minutes(visit, 1))}
    assert list(failures) == [
        "identity", "fasting", "escort", "no_driving", "substance_use", "medication_changes",
        "baseline_vitals",
    ]  # fmt: skip
    assert failures["identity"].message == "confirm the patient's identity"
    assert {f.resolvers for f in failures.values()} == {("nurse",)}
    before = snapshot()
    with pytest.raises(StepRefused) as refused:
        chairside.start_infusion(
            record=record,
            container=build.vial(record.appointment.site),
            by=ben,
            now=minutes(visit, 2),
        )
    assert refused.value.field == "gate"
    assert "confirm the patient's identity" in refused.value.message
    visit.refresh_from_db()
    record.refresh_from_db()
    assert snapshot() == before
    assert (record.stage, visit.status, visit.phase) == ("checking_in", "booked", "arrived")


def test_the_record_is_ready_exactly_while_every_check_holds(visits, ben):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    visit.refresh_from_db()
    assert (record.stage, visit.phase, items(record, minutes(visit, 6))) == (
        "ready",
        "in_chair",
        [],
    )
    chairside.answer_checks(
        record=record, answers={"escort_present": False}, by=ben, now=minutes(visit, 7)
    )
    record.refresh_from_db()
    assert (record.stage, items(record, minutes(visit, 8))) == ("checking_in", ["escort"])


def test_fasting_too_recent_is_resolved_only_by_time(visits, ben):
    visit = visits[0]
    record = chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    chairside.answer_checks(
        record=record, by=ben, now=minutes(visit, 1),
        answers=story.CHECKED | {
            "last_food_at": minutes(visit, -270), "last_clear_fluids_at": minutes(visit, -180)
        },
    )  # fmt: skip
    record.refresh_from_db()
    failure = chairside.gate(record, now=minutes(visit, 1))[0]
    assert (failure.item, failure.resolvers) == ("fasting", ())
    assert failure.message == (
        "the patient ate 4 h 31 min ago; the clinic asks for 6 h without food (1 h 29 min to go)"
    )


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (dt.timedelta(minutes=30), "that time is later than now"),
        (
            "naive",
            "give the date and time with its offset from UTC, e.g. 2026-11-30T06:30:00-05:00",
        ),
    ],
)
def test_a_check_time_in_the_future_or_without_a_zone_is_refused(visits, ben, when, message):
    visit = visits[0]
    record = chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    at = minutes(visit, -600).replace(tzinfo=None) if when == "naive" else visit.starts_at + when
    with pytest.raises(ClinicalValueError) as refused:
        chairside.answer_checks(
            record=record, answers={"last_food_at": at}, by=ben, now=minutes(visit, 1)
        )
    record.refresh_from_db()
    assert (refused.value.field, refused.value.message, record.last_food_at) == (
        "last_food_at", message, None
    )  # fmt: skip


def test_blood_pressure_above_the_deferral_threshold_defers_until_rechecked(visits, ben):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at, baseline=RAISED)
    (failure,) = chairside.gate(record, now=minutes(visit, 6))
    assert (record.stage, failure.item, failure.resolvers) == (
        "checking_in", "blood_pressure", ("nurse", "prescriber")
    )  # fmt: skip
    assert "166" in failure.message
    chairside.record_vitals(record=record, vitals=story.CALM, by=ben, now=minutes(visit, 12))
    record.refresh_from_db()
    assert record.stage == "ready"


def test_only_a_prescriber_accepts_a_deferred_blood_pressure_and_with_a_reason(visits, ada, ben):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at, baseline=RAISED)
    with pytest.raises(PermissionDenied):
        chairside.decide(
            record=record, decision="blood_pressure", reason="fine", by=ben, now=minutes(visit, 7)
        )
    assert AuditEvent.objects.filter(actor=ben, outcome="denied").count() == 1  # kept
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        chairside.decide(
            record=record, decision="blood_pressure", reason=" ", by=ada, now=minutes(visit, 7)
        )
    assert (refused.value.field, snapshot()) == ("reason", before)
    chairside.decide(
        record=record, decision="blood_pressure", reason="White-coat; 150/90 at home",
        by=ada, now=minutes(visit, 8),
    )  # fmt: skip
    record.refresh_from_db()
    assert (record.stage, record.blood_pressure_accepted_by, record.blood_pressure_reason) == (
        "ready", ada, "White-coat; 150/90 at home"
    )  # fmt: skip


def test_an_open_suicide_risk_alert_needs_a_prescribers_clearance_for_today(visits, ada, ben):
    visit = visits[0]
    care.record_assessment(
        patient=visit.patient, instrument="phq9", answers=build.phq9(17, item9=1),
        timepoint="pre_infusion", by=ben, completed_at=minutes(visit, -20),
        now=minutes(visit, -20),
    )  # fmt: skip
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    (failure,) = chairside.gate(record, now=minutes(visit, 6))
    assert (failure.item, failure.resolvers) == ("suicide_risk", ("prescriber",))
    with pytest.raises(PermissionDenied):
        chairside.decide(
            record=record, decision="suicide_risk", reason="ok", by=ben, now=minutes(visit, 7)
        )
    with pytest.raises(StepRefused):
        chairside.start_infusion(
            record=record,
            container=build.vial(record.appointment.site),
            by=ada,
            now=minutes(visit, 8),
        )
    chairside.decide(
        record=record, decision="suicide_risk", reason="Seen: passive thoughts, no plan",
        by=ada, now=minutes(visit, 9),
    )  # fmt: skip
    given = chairside.start_infusion(
        record=record, container=build.vial(record.appointment.site), by=ben, now=minutes(visit, 15)
    )
    assert given.dose_mg == Decimal("35")


@pytest.mark.parametrize("where", ["chair", "patient page"])
def test_a_weight_older_than_the_clinic_rule_is_recorded_at_the_chair(
    login, visits, ada, ben, where
):
    visit = visits[0]
    rules.change_rules(
        site=visit.site, changes={"weight_max_age_days": 5}, based_on=0,
        reason="weigh weekly", by=ada, now=minutes(visit, -600),
    )  # fmt: skip
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    (failure,) = chairside.gate(record, now=minutes(visit, 6))
    assert (failure.item, failure.resolvers) == ("weight", ("nurse",))
    assert "5 days" in failure.message
    with time_machine.travel(minutes(visit, 7), tick=False):
        shown = login(ben).get(f"/visits/{visit.pk}/infusion/").content.decode()
        assert "Record the weight" in shown
        path = {
            "chair": f"/visits/{visit.pk}/infusion/weight/",
            "patient page": f"/patients/{visit.patient_id}/weight/",
        }[where]
        page = login(ben).post(path, {"weight_kg": "71.0", "measured_on": "2026-11-30"})
    assert page.status_code == 302
    assert items(record, minutes(visit, 8)) == []


def test_the_plans_pre_infusion_measures_are_asked_from_infusion_2(visits, ben):
    build.give_infusion(visits[0], ben)
    visit = visits[1]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    (failure,) = chairside.gate(record, now=minutes(visit, 15))  # 48 h after infusion 1
    assert (failure.item, failure.message) == (
        "pre_infusion_measures", "complete the pre-infusion PHQ-9"
    )  # fmt: skip
    infusion.record_visit_assessment(
        appointment=visit, instrument="phq9", answers=build.phq9(15), timepoint="pre_infusion",
        by=ben, completed_at=minutes(visit, 7), now=minutes(visit, 7),
    )  # fmt: skip
    assert items(record, minutes(visit, 15)) == []


def test_the_protocols_minimum_gap_since_the_last_infusion(visits, ben, sam):
    build.give_infusion(visits[0], ben)
    first = visits[0]
    tuesday = Appointment.objects.create(  # booked by hand, inside the protocol's 48 h
        site=first.site, chair=first.chair, patient=first.patient, course=first.course,
        number=7, starts_at=first.starts_at + dt.timedelta(days=1),
        ends_at=first.ends_at + dt.timedelta(days=1), booked_at=first.booked_at, booked_by=sam,
        check_in_minutes=first.check_in_minutes, infusion_minutes=first.infusion_minutes,
        recovery_minutes=first.recovery_minutes,
    )  # fmt: skip
    infusion.record_visit_assessment(
        appointment=tuesday, instrument="phq9", answers=build.phq9(15),
        timepoint="pre_infusion", by=ben, completed_at=minutes(tuesday, -10),
        now=minutes(tuesday, -10),
    )  # fmt: skip
    record = story.check_in_and_ready(tuesday, ben, at=tuesday.starts_at)
    (failure,) = chairside.gate(record, now=minutes(tuesday, 6))
    assert (failure.item, failure.resolvers) == ("min_gap", ())
    assert "48 h" in failure.message


def test_vitals_outside_physiology_are_refused_by_the_core_and_the_database(visits, ben):
    record = chairside.check_in(appointment=visits[0], by=ben, now=visits[0].starts_at)
    with pytest.raises(ClinicalValueError) as refused:
        Vitals(**(story.CALM.__dict__ | {"spo2_percent": 140}))
    assert refused.value.field == "spo2_percent"
    with pytest.raises(IntegrityError, match="vitals_spo2_percent_plausible"), transaction.atomic():
        VitalsReading.objects.create(
            record=record, taken_at=visits[0].starts_at, recorded_by=ben,
            **(story.CALM.__dict__ | {"spo2_percent": 140}),
        )  # fmt: skip
    assert VitalsReading.objects.count() == 0


def test_a_reading_above_a_stop_threshold_stops_the_infusion_until_a_prescriber_resumes(
    visits, ada, ben
):
    visit = visits[0]
    record = started(visit, ben)
    chairside.record_vitals(record=record, vitals=story.DURING, by=ben, now=minutes(visit, 30))
    chairside.record_vitals(record=record, vitals=HIGH, by=ben, now=minutes(visit, 45))
    record.refresh_from_db()
    visit.refresh_from_db()
    stop = record.events.get()
    assert (record.stage, visit.phase, stop.kind) == ("stopped", "infusing", "stop")
    assert stop.detail == "systolic 185 mmHg is above the stop threshold 180 mmHg"
    with pytest.raises(PermissionDenied):
        chairside.resume(record=record, reason="settled", by=ben, now=minutes(visit, 50))
    with pytest.raises(ClinicalValueError):
        chairside.resume(record=record, reason="", by=ada, now=minutes(visit, 50))
    chairside.resume(
        record=record, reason="Rechecked 150/88: resume", by=ada, now=minutes(visit, 52)
    )
    record.refresh_from_db()
    assert (record.stage, [e.kind for e in record.events.all()]) == ("infusing", ["stop", "resume"])


def test_a_nurse_may_stop_the_infusion_with_a_reason(visits, ben):
    visit = visits[0]
    record = started(visit, ben)
    chairside.add_event(
        record=record, kind="stop", detail="Emergence reaction", by=ben, now=minutes(visit, 25)
    )
    record.refresh_from_db()
    assert record.stage == "stopped"
    with pytest.raises(ClinicalValueError):
        chairside.add_event(record=record, kind="note", detail=" ", by=ben, now=minutes(visit, 26))


def test_discharge_is_refused_until_each_criterion_holds(visits, ben):
    visit = visits[0]
    record = ended(visit, ben, cadss=False)
    before = snapshot()
    with pytest.raises(StepRefused) as refused:
        chairside.discharge(
            record=record, aldrete=8, dissociation_resolved=False, escort_present=False, by=ben,
            now=minutes(visit, 70),
        )  # fmt: skip
    assert refused.value.message.split("; ") == [
        "observed 15 min of the 60 min needed after the infusion",
        "modified Aldrete 8, below 9",
        "take the vital signs after the infusion",
        "dissociation has not yet resolved",
        "no escort",
        "record the CADSS the protocol asks for at the end of the infusion",
    ]
    record.refresh_from_db()
    assert (record.stage, snapshot()) == ("recovering", before)
    infusion.record_visit_assessment(
        appointment=visit, instrument="cadss", answers={str(n): 0 for n in range(1, 24)},
        timepoint="follow_up", by=ben, completed_at=minutes(visit, 60), now=minutes(visit, 60),
    )  # fmt: skip
    chairside.record_vitals(record=record, vitals=story.CALM, by=ben, now=minutes(visit, 110))
    chairside.discharge(
        record=record, aldrete=10, dissociation_resolved=True, escort_present=True, by=ben,
        now=minutes(visit, 116),
    )  # fmt: skip
    record.refresh_from_db()
    visit.refresh_from_db()
    assert (record.stage, record.aldrete, visit.phase) == ("discharged", 10, "discharged")


def test_only_a_prescriber_discharges_against_the_criteria_with_a_reason(visits, ada, ben):
    visit = visits[0]
    record = ended(visit, ben)
    with pytest.raises(PermissionDenied):
        chairside.discharge(
            record=record, aldrete=10, dissociation_resolved=True, escort_present=True, by=ben,
            now=minutes(visit, 60), override_reason="taxi waiting",
        )  # fmt: skip
    chairside.discharge(
        record=record, aldrete=10, dissociation_resolved=True, escort_present=True, by=ada,
        now=minutes(visit, 60), override_reason="Alert, steady, escorted; reviewed by me",
    )  # fmt: skip
    record.refresh_from_db()
    assert (record.stage, record.discharge_override_reason) == (
        "discharged", "Alert, steady, escorted; reviewed by me"
    )  # fmt: skip


@pytest.mark.parametrize("who", ["ada", "ben"])
def test_a_patient_never_infused_cannot_be_discharged_or_signed(visits, ada, ben, who):
    by = {"ada": ada, "ben": ben}[who]
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    before = snapshot()
    for step in (
        lambda: chairside.discharge(
            record=record, aldrete=10, dissociation_resolved=True, escort_present=True, by=by,
            now=minutes(visit, 10), override_reason="leaving" if by == ada else "",
        ),
        lambda: chairside.end_infusion(record=record, by=by, now=minutes(visit, 10)),
        lambda: chairside.sign(record=record, by=by, now=minutes(visit, 10)),
    ):  # fmt: skip
        with pytest.raises(StepRefused):
            step()
    visit.refresh_from_db()
    assert (snapshot(), visit.phase) == (before, "in_chair")


def test_a_signed_record_is_locked_and_changes_only_by_addenda(visits, ada, ben):
    visit = visits[0]
    record = ended(visit, ben)
    chairside.record_vitals(record=record, vitals=story.CALM, by=ben, now=minutes(visit, 110))
    with pytest.raises(StepRefused):
        chairside.add_addendum(record=record, text="early", by=ben, now=minutes(visit, 112))
    chairside.discharge(
        record=record, aldrete=10, dissociation_resolved=True, escort_present=True, by=ben,
        now=minutes(visit, 116),
    )  # fmt: skip
    chairside.sign(record=record, by=ada, now=minutes(visit, 118))
    with pytest.raises(StepRefused, match="another person"):
        chairside.cosign(record=record, by=ada, now=minutes(visit, 120))
    with pytest.raises(PermissionDenied):
        chairside.cosign(record=record, by=ben, now=minutes(visit, 120))
    before = snapshot()
    for step in (
        lambda: chairside.record_vitals(
            record=record, vitals=story.CALM, by=ben, now=minutes(visit, 121)
        ),
        lambda: chairside.add_event(
            record=record, kind="note", detail="late", by=ben, now=minutes(visit, 121)
        ),
        lambda: chairside.undo(record=record, reason="oops", by=ben, now=minutes(visit, 121)),
        lambda: infusion.record_adverse_event(
            infusion=visit.infusion, kind="nausea", severity="mild", description="",
            action_taken="", by=ben, now=minutes(visit, 121),
        ),
    ):  # fmt: skip
        with pytest.raises(StepRefused):
            step()
    assert snapshot() == before
    addendum = chairside.add_addendum(
        record=record, text="Phoned next day: slept well, no nausea", by=ben,
        now=minutes(visit, 1500),
    )  # fmt: skip
    assert (addendum.by, addendum.text) == (ben, "Phoned next day: slept well, no nausea")


def test_a_discharge_is_undone_with_a_reason(visits, ben):
    visit = visits[0]
    record = ended(visit, ben)
    chairside.record_vitals(record=record, vitals=story.CALM, by=ben, now=minutes(visit, 110))
    chairside.discharge(
        record=record, aldrete=10, dissociation_resolved=True, escort_present=True, by=ben,
        now=minutes(visit, 116),
    )  # fmt: skip
    with pytest.raises(ClinicalValueError):
        chairside.undo(record=record, reason="", by=ben, now=minutes(visit, 117))
    chairside.undo(record=record, reason="Wrong patient's chair", by=ben, now=minutes(visit, 118))
    record.refresh_from_db()
    visit.refresh_from_db()
    assert (record.stage, record.discharged_at, visit.phase) == ("recovering", None, "recovering")
    assert record.events.get().detail == "discharged: Wrong patient's chair"


def test_the_board_shows_when_vital_signs_are_due_and_overdue(login, visits, ben):
    visit = visits[0]
    record = started(visit, ben)  # at 08:15: readings due 08:30, 08:45, …
    visit.refresh_from_db()
    assert visit.vitals_overdue_at == minutes(visit, 37.5)
    for at, shown in (
        (minutes(visit, 20), "vital signs by 08:37"),
        (minutes(visit, 38), "Vital signs overdue"),
    ):
        with time_machine.travel(at, tick=False):
            board = login(ben).get("/schedule/", {"day": "2026-11-30", "fragment": "1"})
        assert shown in board.content.decode()
    chairside.record_vitals(record=record, vitals=story.DURING, by=ben, now=minutes(visit, 44))
    visit.refresh_from_db()
    assert visit.vitals_overdue_at == minutes(visit, 67.5)  # 08:44 met 08:45: 09:00 is next


def test_titration_reads_the_recorded_tolerance(visits, ada, ben):
    """An infusion stopped for blood pressure is not tolerated and its pressure holds the dose;
    the next start waits for a prescriber's review of the dose."""
    course = visits[0].course
    build.give_infusion(visits[0], ben)
    course.refresh_from_db()
    second = visits[1]
    infusion.record_visit_assessment(
        appointment=second, instrument="phq9", answers=build.phq9(17),
        timepoint="pre_infusion", by=ben, completed_at=minutes(second, -10),
        now=minutes(second, -10),
    )  # fmt: skip
    record = started(second, ben)
    chairside.record_vitals(record=record, vitals=HIGH, by=ben, now=minutes(second, 30))
    suggestion = infusion.titration_suggestion(course, responded=False)
    assert (suggestion.action, suggestion.mg_per_kg) != ("increase", Decimal("0.75"))
    assert "systolic 185 mmHg above 180" in suggestion.reason

    third = visits[2]
    infusion.record_visit_assessment(
        appointment=third, instrument="phq9", answers=build.phq9(17),
        timepoint="pre_infusion", by=ben, completed_at=minutes(third, -10),
        now=minutes(third, -10),
    )  # fmt: skip
    next_record = story.check_in_and_ready(third, ben, at=third.starts_at)
    (failure,) = chairside.gate(next_record, now=minutes(third, 15))
    assert (failure.item, failure.resolvers) == ("dose_review", ("prescriber",))
    chairside.decide(
        record=next_record, decision="dose_review", reason="Same dose; amlodipine started",
        by=ada, now=minutes(third, 8),
    )  # fmt: skip
    next_record.refresh_from_db()
    assert items(next_record, minutes(third, 15)) == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_starts_at_once_give_one_dose(visits, ada, ben):
    """Two devices press start together: one dose is given, the other start is refused."""
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def start(i: int, by) -> None:
        try:
            barrier.wait()
            results[i] = chairside.start_infusion(
                record=record,
                container=build.vial(record.appointment.site),
                by=by,
                now=minutes(visit, 15),
            )
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(i, by)) for i, by in enumerate((ada, ben))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    given = [r for r in results if isinstance(r, InfusionRecord)]
    refused = [r for r in results if isinstance(r, StepRefused)]
    assert (len(given), len(refused), InfusionRecord.objects.count()) == (1, 1, 1)


def test_a_pregnancy_test_the_protocol_asks_for_starts_not_done(north, pat, ada, ben, sam, alex):
    """Pat's recorded sex is female and the clinic's version asks for a test: the record starts
    at "not done" and the gate asks for the test; a negative result opens it."""
    # A safety change: Ada publishes it as the site's medical director (issue 11).
    directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)
    library = protocols.PROTOCOLS[build.PROTOCOL]
    data = protocols.protocol_to_dict(library)
    data["monitoring"]["pregnancy_test"] = True
    before = build.at(north, dt.date(2026, 11, 20), 9)
    row = protocol_versions.save_version(
        site=north, based_on=library, data=data, change_note="Pregnancy test before each infusion",
        by=ada, now=before,
    )  # fmt: skip
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=build.at(north, dt.date(2026, 11, 27), 10),
        phq9_total=18, gad7_total=12, protocol=(row.key, row.version),
    )  # fmt: skip
    visit = build.book_series(
        course, sam, first=build.at(north, MONDAY, 8),
        now=build.at(north, dt.date(2026, 11, 27), 11),
    )[0]  # fmt: skip
    record = chairside.check_in(appointment=visit, by=ben, now=visit.starts_at)
    chairside.answer_checks(
        record=record, by=ben, now=minutes(visit, 2),
        answers=story.CHECKED | {
            "pregnancy_test": "not_done", "last_food_at": minutes(visit, -600),
            "last_clear_fluids_at": minutes(visit, -180),
        },
    )  # fmt: skip
    chairside.record_vitals(record=record, vitals=story.CALM, by=ben, now=minutes(visit, 3))
    record.refresh_from_db()
    (failure,) = chairside.gate(record, now=minutes(visit, 4))
    assert (failure.item, failure.message) == (
        "pregnancy", "do a pregnancy test: the protocol asks for one"
    )  # fmt: skip
    chairside.answer_checks(
        record=record, answers={"pregnancy_test": "negative"}, by=ben, now=minutes(visit, 10)
    )
    record.refresh_from_db()
    assert (record.stage, items(record, minutes(visit, 11))) == ("ready", [])


def test_check_in_asks_for_the_pregnancy_test_only_where_the_protocol_does(visits, ben):
    record = chairside.check_in(appointment=visits[0], by=ben, now=visits[0].starts_at)
    assert record.pregnancy_test == "not_applicable"  # the library protocol asks for none


@pytest.mark.parametrize(
    ("instrument", "answers"),
    [
        ("phq9", build.phq9(10, item9=1)),
        ("madrs", {str(n): 0 for n in range(1, 10)} | {"10": 2}),
        ("cssrs_screener", {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0}),
        ("qids_sr16", {str(n): 0 for n in range(1, 17)} | {"12": 1}),
    ],
)
def test_every_suicide_item_closes_the_gate_until_a_prescriber_clears(
    visits, ada, ben, instrument, answers
):
    """PHQ-9 item 9, MADRS item 10, C-SSRS item 2 and QIDS-SR16 item 12 each raise a
    suicide-risk alert, which the gate reads (issue 11, item 1)."""
    visit = visits[0]
    care.record_assessment(
        patient=visit.patient, instrument=instrument, answers=answers, timepoint="follow_up",
        by=ada, completed_at=minutes(visit, -60), now=minutes(visit, -60),
    )  # fmt: skip
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    assert items(record, minutes(visit, 6)) == ["suicide_risk"]
    chairside.decide(
        record=record, decision="suicide_risk", reason="Seen: no plan, safety plan reviewed",
        by=ada, now=minutes(visit, 7),
    )  # fmt: skip
    record.refresh_from_db()
    assert items(record, minutes(visit, 8)) == []
