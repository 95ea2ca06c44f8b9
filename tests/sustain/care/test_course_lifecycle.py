"""The course lifecycle (issue 4, item 4) and the post-induction review (item 7)."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from sustain.accounts import directors
from sustain.care import protocol_versions, rules, services
from sustain.care.models import Course
from sustain.clinic import story
from sustain.infusion import chairside
from sustain.infusion import services as infusion
from sustain.infusion.models import ChairsideRecord, InfusionRecord
from sustain.scheduling import services as scheduling
from sustain_core import clinic_rules, instruments, protocols, series
from sustain_core.dosing import WeightBasis
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
MONDAY = dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def course(pat, ada):
    return services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )


# PHQ-9 18 with item 9 (self-harm) at 0: an open suicide-risk alert would close the gate.
BASELINE = {
    "phq9": {str(n): 2 for n in range(3, 9)} | {"1": 3, "2": 3, "9": 0},
    "gad7": {str(n): 2 for n in range(1, 8)},
}


def baseline(pat, ben, at=NOW):
    for code, answers in BASELINE.items():
        services.record_assessment(
            patient=pat, instrument=code, answers=answers, timepoint="baseline", by=ben,
            completed_at=at, now=timezone.now(),
        )  # fmt: skip


def consent_and_screen(course, ben, ada):
    services.record_consent(
        course=course, signed_on=NOW.date(), document="Consent v3", by=ben, now=NOW
    )
    protocol = protocol_versions.protocol_for(course)
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    services.sign_contraindication_screen(
        course=course, answers=dict.fromkeys(items, False), notes="", by=ada, now=NOW
    )


def infuse(visit, ben, *, cleared_by=None):
    """Check in (once: with the plan's PHQ-9 before infusions 2 on), answer the checks, take
    the vitals and start the infusion at the chair; `cleared_by` clears the patient for today
    despite an open suicide-risk alert."""
    record = ChairsideRecord.objects.filter(appointment=visit).first()
    if record is None:
        if visit.number > 1:
            before = visit.starts_at - dt.timedelta(minutes=15)
            infusion.record_visit_assessment(
                appointment=visit, instrument="phq9", answers=BASELINE["phq9"],
                timepoint="pre_infusion", by=ben, completed_at=before, now=before,
            )  # fmt: skip
        record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    if cleared_by is not None:
        chairside.decide(
            record=record, decision="suicide_risk", reason="Seen: no plan or intent",
            by=cleared_by, now=visit.starts_at + dt.timedelta(minutes=10),
        )  # fmt: skip
    return chairside.start_infusion(
        record=record, container=build.vial(record.appointment.site), by=ben,
        now=visit.starts_at + dt.timedelta(minutes=15),
    )  # fmt: skip


@time_machine.travel(NOW, tick=False)
def test_first_infusion_is_refused_until_the_guards_hold(pat, ada, ben, sam, course, stocked):
    visits = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    with pytest.raises(ClinicalValueError) as excinfo:
        infuse(visits[0], ben)
    assert str(excinfo.value) == (
        "status: ready needs: signed consent; a contraindication screen signed by a prescriber"
    )
    assert (InfusionRecord.objects.count(), Course.objects.get().status) == (0, "screening")

    consent_and_screen(course, ben, ada)
    with pytest.raises(ClinicalValueError) as excinfo:
        infuse(visits[0], ben)
    assert str(excinfo.value) == "status: induction needs: baseline PHQ-9, GAD-7"

    baseline(pat, ben)
    infuse(visits[0], ben)
    course.refresh_from_db()
    assert course.status == "induction"
    assert [t.to_status for t in course.transitions.all()] == ["ready", "induction"]


@time_machine.travel(NOW, tick=False)
def test_series_review_and_maintenance_boosters(login, pat, ada, ben, sam, course, stocked):
    consent_and_screen(course, ben, ada)
    baseline(pat, ben)
    visits = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    for visit in visits:
        infuse(visit, ben)
    course.refresh_from_db()
    assert course.status == "review"
    services.record_assessment(
        patient=pat, instrument="phq9", answers={str(n): 0 for n in range(1, 10)},
        timepoint="follow_up", by=ben, completed_at=visits[-1].ends_at + dt.timedelta(days=1),
        now=timezone.now(),
    )  # fmt: skip

    page = login(ada).get(f"/patients/{pat.pk}/review/")
    assert page.status_code == 200
    assert page.context["recommended_option"] is not None  # remitted: a scheduled plan
    choice = page.context["recommended"]
    login(ada).post(
        f"/patients/{pat.pk}/review/", {"option": str(choice), "notes": "Remitted.", "confirm": "1"}
    )

    course.refresh_from_db()
    review = course.reviews.get()
    assert (course.status, review.signed_by, review.plan["kind"]) == (
        "maintenance", ada, page.context["options"][choice].kind.value
    )  # fmt: skip
    with time_machine.travel(visits[-1].starts_at + dt.timedelta(days=2), tick=False):
        boosters = login(ada).get(f"/patients/{pat.pk}/").context["page"].boosters
    assert boosters  # the plan makes boosters due, none booked yet
    assert all(visit is None for _, visit in boosters)


def test_nurse_cannot_sign_the_screen(login, ben, pat, course):
    response = login(ben).post(f"/patients/{pat.pk}/screen/", {})
    assert response.status_code == 403
    with pytest.raises(ClinicalValueError) as excinfo:
        services.sign_contraindication_screen(course=course, answers={}, notes="", by=ben, now=NOW)
    assert excinfo.value.field == "signed_by"


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "status: discontinued needs: a reason"), ("Moved away", None)],
)
def test_discontinuing_needs_a_reason(ada, course, reason, message):
    if message:
        with pytest.raises(ClinicalValueError) as excinfo:
            services.change_course_status(
                course=course, status="discontinued", by=ada, at=NOW, reason=reason
            )
        assert str(excinfo.value).startswith(message)
    else:
        course = services.change_course_status(
            course=course, status="discontinued", by=ada, at=NOW, reason=reason
        )
        assert (course.status, course.ended_reason) == ("discontinued", "Moved away")


def test_clinic_version_of_a_library_protocol(north, ada, alex, course):
    # A dosing change: Ada publishes it as the site's medical director (issue 11).
    directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)
    library = protocol_versions.protocol_for(course)
    data = protocol_versions.protocols.protocol_to_dict(library)
    data["title"] = "Depression induction (North Clinic): 0.5 mg/kg over 45 min"
    data["regimen"]["infusion_minutes"] = 45
    row = protocol_versions.save_version(
        site=north, based_on=library, data=data, change_note="45-minute infusions", by=ada, now=NOW
    )
    mine = protocol_versions.resolve(north, row.key, row.version)
    assert (row.key, row.version, mine.regimen.infusion_minutes) == (
        f"depression-induction-site{north.pk}", 1, 45
    )  # fmt: skip
    changes = protocol_versions.protocols.diff_protocols(library, mine)
    assert ("regimen.infusion_minutes", 40, 45) in changes
    again = protocol_versions.save_version(
        site=north, based_on=mine, data=protocol_versions.protocols.protocol_to_dict(mine),
        change_note="no change, re-saved", by=ada, now=NOW,
    )  # fmt: skip
    assert again.version == 2


def test_clinic_version_is_validated(north, ada, course):
    library = protocol_versions.protocol_for(course)
    data = protocol_versions.protocols.protocol_to_dict(library)
    data["series"]["max_span_days"] = 7  # 6 infusions 48 h apart cannot fit
    with pytest.raises(ClinicalValueError) as excinfo:
        protocol_versions.save_version(
            site=north, based_on=library, data=data, change_note="shorter", by=ada, now=NOW
        )
    assert excinfo.value.field == "series"


@time_machine.travel(NOW, tick=False)
def test_a_course_on_murrough_2013_runs_monday_wednesday_friday(pat, ada, ben, sam, stocked):
    course = services.enrol_patient(
        patient=pat, protocol_key="murrough-2013", protocol_version=1, by=ada, now=timezone.now()
    )
    visits = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    days = [v.starts_at.astimezone(dt.UTC).strftime("%a %d") for v in visits]
    assert days == ["Mon 30", "Wed 02", "Fri 04", "Mon 07", "Wed 09", "Fri 11"]
    assert (visits[-1].starts_at.date() - visits[0].starts_at.date()).days == 11  # 12 days

    services.record_consent(course=course, signed_on=NOW.date(), document="v3", by=ben, now=NOW)
    protocol = protocol_versions.protocol_for(course)
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    services.sign_contraindication_screen(
        course=course, answers=dict.fromkeys(items, False), notes="", by=ada, now=NOW
    )
    services.record_assessment(  # MADRS is clinician-rated: the prescriber enters it
        patient=pat, instrument="madrs", answers={str(n): 3 for n in range(1, 10)} | {"10": 0},
        timepoint="baseline", by=ada, completed_at=NOW, now=timezone.now()
    )  # fmt: skip
    record = infuse(visits[0], ben)
    assert (record.dose_mg, record.pump_rate_ml_per_h) == (Decimal("35"), Decimal("150.0"))


@time_machine.travel(NOW, tick=False)
def test_a_site_may_dose_on_actual_weight(pat, ada, ben, sam, course):
    site_rules = rules.change_rules(
        site=pat.site, changes={"dosing_weight_basis": WeightBasis.ACTUAL}, based_on=0,
        reason="our medical director doses on actual weight", by=ada, now=NOW,
    ).as_rules()  # fmt: skip
    services.record_weight(
        patient=pat, weight_kg=Decimal("110.0"), measured_on=NOW.date(), by=ben, now=timezone.now()
    )
    visit = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())[0]
    plan = infusion.plan_dose(appointment=visit, vial_mg_per_ml=Decimal("50"), rules=site_rules)
    assert (plan.weight_kg, plan.dose_mg) == (Decimal("110.0"), Decimal("55.00"))


@time_machine.travel(NOW, tick=False)
def test_adjusted_body_weight_by_default_clinic_rule(pat, ada, ben, sam, course):
    # The default rule (issue 11): adjusted body weight from a BMI of 30, no change needed.
    site_rules = rules.current_rules(pat.site).as_rules()
    assert site_rules.dosing_weight_basis == WeightBasis.ADJUSTED
    pat.height_cm = Decimal("165.1")  # 5 ft 5 in: Devine IBW (female) 45.5 + 5 × 2.3 = 57.0 kg
    pat.sex = "female"
    pat.save(update_fields=["height_cm", "sex"])
    services.record_weight(
        patient=pat, weight_kg=Decimal("110.0"), measured_on=NOW.date(), by=ben, now=timezone.now()
    )
    visit = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())[0]
    plan = infusion.plan_dose(appointment=visit, vial_mg_per_ml=Decimal("50"), rules=site_rules)
    # BMI 110 / 1.651² = 40.4 ≥ 30 → adjusted 57.0 + 0.4 × (110 − 57.0) = 78.2 kg
    assert (plan.weight_kg, plan.dose_mg) == (Decimal("78.2"), Decimal("39.10"))


def test_course_total_after_infusions(pat, ada, ben, sam, course, stocked):
    with time_machine.travel(NOW, tick=False):
        consent_and_screen(course, ben, ada)
        baseline(pat, ben)
        visits = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    for visit in visits[:2]:
        with time_machine.travel(visit.starts_at, tick=False):
            infuse(visit, ben)
    assert infusion.course_dose_total(course) == (2, Decimal("70"), Decimal("1.000"))


@time_machine.travel(NOW, tick=False)
def test_a_crps_course_records_capped_hourly_infusions(north, ada, ben, sam, stocked):
    patient = services.register_patient(
        by=sam, site=north, given_name="Cy", family_name="Ray", sex="male",
        date_of_birth=dt.date(1975, 4, 4), phone="", email="", primary_condition="chronic_pain",
        weight_kg=Decimal("80.0"), height_cm=Decimal("180.0"), today=NOW.date(),
        now=timezone.now(),
    )  # fmt: skip
    course = services.enrol_patient(
        patient=patient,
        protocol_key="crps-schwartzman-2009",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    visits = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    assert len(visits) == 10
    assert {v.starts_at.astimezone(dt.UTC).weekday() for v in visits} <= {0, 1, 2, 3, 4}
    # Check-in 15 min, the 4-hour infusion, 60 min recovery, 5 min discharge; the one
    # extended chair (the protocol's visits need one).
    assert {v.ends_at - v.starts_at for v in visits} == {dt.timedelta(hours=5, minutes=20)}
    assert {v.chair.name for v in visits} == {"Chair 2"}
    assert {(v.check_in_minutes, v.infusion_minutes, v.recovery_minutes) for v in visits} == {
        (15, 240, 60)
    }
    protocol = protocol_versions.protocol_for(course)
    services.record_consent(course=course, signed_on=NOW.date(), document="v1", by=ben, now=NOW)
    services.sign_contraindication_screen(
        course=course,
        answers=dict.fromkeys(
            [*protocol.contraindications_absolute, *protocol.contraindications_relative], False
        ),
        notes="", by=ada, now=NOW,
    )  # fmt: skip
    for code in protocol.baseline_measures:  # e.g. pain NRS: every item answered 6 of 10
        items = instruments.get_instrument(code).items
        services.record_assessment(
            patient=patient, instrument=code, answers={item.key: 6 for item in items},
            timepoint="baseline", by=ada, completed_at=NOW, now=timezone.now()
        )  # fmt: skip
    record = infuse(visits[0], ben)
    # 80 kg × 0.35 mg/kg/h = 28 mg/h, capped at 25 mg/h [Schwartzman2009]; 4 h = 100 mg
    assert (record.mg_per_kg, record.mg_per_kg_per_h) == (None, Decimal("0.35"))
    assert (record.dose_rate_mg_per_h, record.capped, record.dose_mg) == (
        Decimal("25"), True, Decimal("100")
    )  # fmt: skip


def test_titration_after_infusion_2_without_response(login, pat, ada, ben, sam, course, stocked):
    with time_machine.travel(NOW, tick=False):
        consent_and_screen(course, ben, ada)
        baseline(pat, ben)
        visits = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    for visit in visits[:2]:
        with time_machine.travel(visit.starts_at, tick=False):
            infuse(visit, ben)
    with time_machine.travel(visits[1].ends_at, tick=False):
        page = login(ada).get(f"/patients/{pat.pk}/")
        suggestion = page.context["page"].doses.titration
        assert (suggestion.action, suggestion.mg_per_kg) == ("increase", Decimal("0.75"))
        assert login(ben).post(f"/patients/{pat.pk}/titrate/").status_code == 403
        login(ada).post(f"/patients/{pat.pk}/titrate/")
    course.refresh_from_db()
    assert course.dose_mg_per_kg == Decimal("0.75")
    plan = infusion.plan_dose(
        appointment=visits[2], vial_mg_per_ml=Decimal("50"), rules=clinic_rules.DEFAULT
    )
    assert plan.dose_mg == Decimal("52.5")  # 70 kg × 0.75 mg/kg
    assert course.transitions.last().reason.startswith("dose 0.5 → 0.75 mg/kg (increase)")


@pytest.mark.parametrize(("key", "version"), sorted(protocols.PROTOCOLS))
@time_machine.travel(NOW, tick=False)
def test_a_course_on_every_library_protocol_runs(north, ada, ben, sam, key, version, stocked):
    protocol = protocols.PROTOCOLS[(key, version)]
    patient = services.register_patient(
        by=sam, site=north, given_name="Any", family_name="One", sex="female",
        date_of_birth=dt.date(1980, 1, 1), phone="", email="",
        primary_condition=protocol.condition, weight_kg=Decimal("70.0"),
        height_cm=Decimal("165.0"), today=NOW.date(), now=timezone.now(),
    )  # fmt: skip
    course = services.enrol_patient(
        patient=patient, protocol_key=key, protocol_version=version, by=ada, now=timezone.now()
    )
    visits = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    assert len(visits) == protocol.series.count
    assert series.check_series(protocol.series, [v.starts_at for v in visits], tz=NEW_YORK) == []
    services.record_consent(course=course, signed_on=NOW.date(), document="v1", by=ben, now=NOW)
    services.sign_contraindication_screen(
        course=course,
        answers=dict.fromkeys(
            [*protocol.contraindications_absolute, *protocol.contraindications_relative], False
        ),
        notes="", by=ada, now=NOW,
    )  # fmt: skip
    for code in protocol.baseline_measures:
        items = instruments.get_instrument(code).items
        services.record_assessment(
            patient=patient, instrument=code, answers={i.key: i.min_value + 1 for i in items},
            timepoint="baseline", by=ada, completed_at=NOW, now=timezone.now()
        )  # fmt: skip
    if protocol.required_medication_classes:  # bipolar depression: a mood stabiliser (item 5)
        services.add_medication(
            patient=patient, name="lithium", dose="400 mg twice daily", started_on=None, by=ben,
            now=NOW,
        )  # fmt: skip
    # Every item answered one above its minimum: PHQ-9 item 9 positive opens an alert
    alerts = patient.alerts.filter(status="open").count()
    record = infuse(visits[0], ben, cleared_by=ada if alerts else None)
    course.refresh_from_db()
    assert (course.status, record.dose_mg > 0) == (
        "review" if protocol.series.count == 1 else "induction", True
    )  # fmt: skip


@time_machine.travel(NOW, tick=False)
def test_adverse_event_at_an_infusion_shows_on_the_review(
    login, pat, ada, ben, sam, course, stocked
):
    consent_and_screen(course, ben, ada)
    baseline(pat, ben)
    visits = scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    infuse(visits[0], ben)
    client = login(ben)
    client.post(
        f"/visits/{visits[0].pk}/adverse-events/",
        {"kind": "other", "severity": "mild", "description": ""},
    )
    assert visits[0].infusion.adverse_events.count() == 0  # "other" needs a description
    client.post(
        f"/visits/{visits[0].pk}/adverse-events/",
        {"kind": "nausea", "severity": "mild", "action_taken": "Ondansetron 4 mg"},
    )
    page = client.get(f"/visits/{visits[0].pk}/infusion/").content.decode()
    assert "Nausea or vomiting (mild). Action: Ondansetron 4 mg" in page
    for visit in visits[1:]:
        infuse(visit, ben)
    review = login(ada).get(f"/patients/{pat.pk}/review/").content.decode()
    assert "Nausea or vomiting (mild)" in review
