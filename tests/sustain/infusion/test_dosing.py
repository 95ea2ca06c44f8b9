"""The dose a nurse can draw (issue 11, item 6; item 3's weight rule): the bag convention of the
protocol, the volume rounded to the syringe's marks and shown with the dose given and the
dose prescribed, kept on the record; the height the clinic's weight rule needs, asked for at
the gate and on the patient page, on every path."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from sustain.accounts.models import AuditEvent, Membership
from sustain.care import protocol_versions, rules
from sustain.care import services as care
from sustain.clinic import story
from sustain.infusion import chairside, queries
from sustain.infusion import services as infusion
from sustain.infusion.models import InfusionRecord
from sustain_core import protocols
from sustain_core.dosing import WeightBasis
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.db

MONDAY = dt.date(2026, 11, 30)
FRIDAY = dt.date(2026, 11, 27)
VIAL = Decimal("50")
WITHDRAW_35 = (
    "Draw 0.7 mL of 50 mg/mL in a 1 mL syringe (marked every 0.01 mL): 0.7 mL = 35 mg, as "
    "prescribed.",
    "Withdraw 0.7 mL from the 100 mL bag, then add 0.7 mL of 50 mg/mL: 100 mL at 150.0 mL/h "
    "over 40 min.",
)


def start(visit, nurse):
    """Checked in and ready at the visit's start; the infusion started 15 min later."""
    record = story.check_in_and_ready(visit, nurse, at=visit.starts_at)
    return chairside.start_infusion(
        record=record, container=build.vial(record.appointment.site), by=nurse,
        now=visit.starts_at + dt.timedelta(minutes=15),
    )  # fmt: skip


def series_for(patient, ada, ben, sam, *, protocol=build.PROTOCOL):
    """The patient's induction booked from Monday, ready the Friday before."""
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=build.at(patient.site, FRIDAY, 10),
        phq9_total=18, gad7_total=12, protocol=protocol,
    )  # fmt: skip
    return build.book_series(
        course, sam, first=build.at(patient.site, MONDAY, 8),
        now=build.at(patient.site, FRIDAY, 11),
    )  # fmt: skip


def test_the_chair_page_says_how_to_make_up_the_bag(login, visits, ben):
    visit = visits[0]
    story.check_in_and_ready(visit, ben, at=visit.starts_at)
    with time_machine.travel(visit.starts_at + dt.timedelta(minutes=6), tick=False):
        html = login(ben).get(f"/visits/{visit.pk}/infusion/").content.decode()
    for step in WITHDRAW_35:
        assert step.replace("'", "&#x27;") in html
    assert "Pump: <strong>150.0 mL/h</strong> for 100 mL" in html


def test_the_dose_given_keeps_what_was_drawn_and_how_the_bag_was_made_up(login, visits, ben):
    visit = visits[0]

    given = start(visit, ben)

    given.refresh_from_db()
    assert (
        given.prescribed_mg, given.dose_mg, given.drug_volume_ml, given.syringe_ml,
        given.syringe_graduation_ml, given.bag_convention, given.bag_volume_ml,
        given.final_volume_ml, given.pump_rate_ml_per_h,
    ) == (
        Decimal("35"), Decimal("35"), Decimal("0.7"), Decimal("1"), Decimal("0.01"),
        "withdraw", Decimal("100"), Decimal("100"), Decimal("150.0"),
    )  # fmt: skip
    assert given.preparation is not None
    assert given.preparation.steps == WITHDRAW_35
    with time_machine.travel(visit.starts_at + dt.timedelta(minutes=20), tick=False):
        html = login(ben).get(f"/visits/{visit.pk}/infusion/").content.decode()
        view = queries.chairside_view(visit, now=timezone.now())
    assert WITHDRAW_35[1] in html
    pdf = render_to_string(
        "infusion/record_pdf.html",
        {"view": view, "appointment": visit, "patient": visit.patient, "tz": visit.site.tz,
         "printed_at": timezone.now()},
    )  # fmt: skip
    assert WITHDRAW_35[1] in pdf
    assert "35 mg given (0.5 mg/kg × 70 kg = 35 mg prescribed)" in pdf
    assert (
        "Controlled-substance ledger: lot K50-261123 #1 (50 mg/mL): 35 mg drawn, 0 mg given, "
        "0 mg wasted; 35 mg neither given nor wasted." in pdf
    )


def test_a_dose_rounded_to_the_syringes_marks_is_shown_given_and_prescribed(
    login, visits, ben, pat
):
    # 72.1 kg × 0.5 mg/kg = 36.05 mg = 0.721 mL of 50 mg/mL: a 1 mL syringe measures 0.72 mL.
    care.record_weight(
        patient=pat, weight_kg=Decimal("72.1"), measured_on=MONDAY, by=ben,
        now=build.at(pat.site, MONDAY, 7),
    )  # fmt: skip
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    shown = (
        "0.72 mL = 36 mg; prescribed 36.05 mg (0.721 mL, rounded to the 1 mL syringe&#x27;s "
        "0.01 mL marks)"
    )
    with time_machine.travel(visit.starts_at + dt.timedelta(minutes=6), tick=False):
        assert shown in login(ben).get(f"/visits/{visit.pk}/infusion/").content.decode()

    given = start_now(record, ben, at=visit.starts_at + dt.timedelta(minutes=15))

    given.refresh_from_db()
    assert (given.prescribed_mg, given.drug_volume_ml, given.dose_mg) == (
        Decimal("36.05"), Decimal("0.72"), Decimal("36")
    )  # fmt: skip
    # The course's totals count what was given.
    assert infusion.course_dose_total(visit.course) == (1, Decimal("36"), Decimal("0.499"))


def test_a_clinic_version_that_adds_the_drug_runs_the_final_volume(
    north, pat, ada, ben, sam, stocked
):
    library = protocols.PROTOCOLS[build.PROTOCOL]
    data = protocols.protocol_to_dict(library) | {"bag_convention": "add"}
    # A dosing change: the medical director's (item 3; designation is tested with it).
    Membership.objects.filter(user=ada, site=north).update(medical_director=True)
    row = protocol_versions.save_version(
        site=north, based_on=library, data=data, change_note="our pharmacy adds the drug",
        by=ada, now=build.at(north, FRIDAY, 9),
    )  # fmt: skip
    visit = series_for(pat, ada, ben, sam, protocol=(row.key, row.version))[0]

    given = start(visit, ben)

    given.refresh_from_db()
    assert (given.bag_convention, given.final_volume_ml, given.pump_rate_ml_per_h) == (
        "add", Decimal("100.7"), Decimal("151.1")
    )  # fmt: skip
    assert given.preparation is not None
    assert given.preparation.steps[1] == (
        "Add 0.7 mL of 50 mg/mL to the 100 mL bag (nothing withdrawn): 100.7 mL at 151.1 mL/h "
        "over 40 min."
    )


@pytest.mark.parametrize("where", ["chair", "patient page"])
def test_without_a_height_the_gate_and_the_dose_ask_for_it(
    login, north, ada, ben, sam, where, stocked
):
    patient = build.register(north, sam, "Hal", "Short", on=FRIDAY, height_cm=None)
    visit = series_for(patient, ada, ben, sam)[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    now = visit.starts_at + dt.timedelta(minutes=6)

    (failure,) = chairside.gate(record, now=now)

    assert (failure.item, failure.resolvers) == ("height", ("nurse",))
    assert failure.message == (
        "record the patient's height: the clinic doses on adjusted body weight above a BMI "
        "threshold, and the BMI needs the height"
    )
    with time_machine.travel(now, tick=False):
        chair = login(ben).get(f"/visits/{visit.pk}/infusion/")
        page = login(ben).get(f"/patients/{patient.pk}/")
        assert chair.context["view"].plans == []
        assert chair.context["view"].plan_refused == (
            "record the patient's height: the clinic doses on adjusted body weight from a BMI "
            "of 30 kg/m², and the BMI needs the height"
        )
        assert f'action="/visits/{visit.pk}/infusion/height/"' in chair.content.decode()
        doses = page.context["page"].doses
        assert (doses.next_plan, doses.next_plan_refused_field) == (None, "height_cm")
        assert "Record the patient&#x27;s height: the clinic doses on adjusted" in (
            page.content.decode()
        )
        assert f'action="/patients/{patient.pk}/height/"' in page.content.decode()
        path = {
            "chair": f"/visits/{visit.pk}/infusion/height/",
            "patient page": f"/patients/{patient.pk}/height/",
        }[where]
        response = login(ben).post(path, {"height_cm": "176.5"})

    assert response.status_code == 302
    patient.refresh_from_db()
    record.refresh_from_db()  # the record's visit and patient as a new request reads them
    assert patient.height_cm == Decimal("176.5")
    assert chairside.gate(record, now=now + dt.timedelta(minutes=1)) == ()
    given = start_now(record, ben, at=now + dt.timedelta(minutes=2))
    assert (given.weight_kg, given.dose_mg) == (Decimal("64.0"), Decimal("32"))


def start_now(record, nurse, *, at):
    return chairside.start_infusion(
        record=record, container=build.vial(record.appointment.site), by=nurse, now=at
    )


def test_the_start_is_refused_without_a_height_and_nothing_is_saved(north, ada, ben, sam, stocked):
    patient = build.register(north, sam, "Hal", "Short", on=FRIDAY, height_cm=None)
    visit = series_for(patient, ada, ben, sam)[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    before = (InfusionRecord.objects.count(), AuditEvent.objects.count())

    with pytest.raises(infusion.StepRefused) as refused:
        start_now(record, ben, at=visit.starts_at + dt.timedelta(minutes=15))

    assert refused.value.message.startswith("record the patient's height")
    assert (InfusionRecord.objects.count(), AuditEvent.objects.count()) == before


def test_a_site_dosing_on_actual_weight_needs_no_height(north, ada, ben, sam):
    rules.change_rules(
        site=north, changes={"dosing_weight_basis": WeightBasis.ACTUAL}, based_on=0,
        reason="actual weight for everyone", by=ada, now=build.at(north, FRIDAY, 8),
    )  # fmt: skip
    patient = build.register(north, sam, "Hal", "Short", on=FRIDAY, height_cm=None)
    visit = series_for(patient, ada, ben, sam)[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)

    assert chairside.gate(record, now=visit.starts_at + dt.timedelta(minutes=6)) == ()


@pytest.mark.parametrize(
    ("sex", "weight_kg", "height_cm", "dosing_kg", "prescribed_mg"),
    [
        # The 300 kg patient: 150 mg on actual weight; adjusted weight from BMI 30 by
        # default: 0.6 × 74.99213 + 120 = 164.99528 → 165.0 kg, 82.5 mg.
        pytest.param("male", "300.0", "180.0", "165.0", "82.50", id="300kg-adjusted"),
        # Under 5 ft (Devine extended, unconfirmed): 148 cm, 70 kg (BMI 32.0) → 52.9 kg.
        pytest.param("female", "70.0", "148.0", "52.9", "26.45", id="148cm-below-5ft"),
    ],
)
def test_the_default_rule_doses_on_adjusted_weight_from_bmi_30(
    north, ada, ben, sam, sex, weight_kg, height_cm, dosing_kg, prescribed_mg
):
    patient = build.register(
        north, sam, "Big", "Frame", on=FRIDAY, weight_kg=Decimal(weight_kg),
        height_cm=Decimal(height_cm),
    )  # fmt: skip
    patient.sex = sex
    patient.save(update_fields=["sex"])
    visit = series_for(patient, ada, ben, sam)[0]

    plan = infusion.plan_dose(
        appointment=visit, vial_mg_per_ml=VIAL, rules=rules.current_rules(north).as_rules()
    )

    assert (plan.weight_kg, plan.dose_mg) == (Decimal(dosing_kg), Decimal(prescribed_mg))


def test_a_scheduler_cannot_record_a_height_at_the_chair(login, visits, ben, sam, pat):
    story.check_in_and_ready(visits[0], ben, at=visits[0].starts_at)

    response = login(sam).post(f"/visits/{visits[0].pk}/infusion/height/", {"height_cm": "170"})

    pat.refresh_from_db()
    assert (response.status_code, pat.height_cm) == (403, Decimal("165.0"))


def test_the_database_keeps_a_records_bag_preparation_whole(visits, ben):
    given = start(visits[0], ben)

    with pytest.raises(IntegrityError), transaction.atomic():
        InfusionRecord.objects.filter(pk=given.pk).update(final_volume_ml=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        InfusionRecord.objects.filter(pk=given.pk).update(bag_convention="")


def test_a_record_from_before_the_bag_convention_is_shown_as_such(login, visits, ben):
    given = start(visits[0], ben)
    InfusionRecord.objects.filter(pk=given.pk).update(
        bag_convention="", prescribed_mg=None, syringe_ml=None, syringe_graduation_ml=None,
        final_volume_ml=None,
    )  # fmt: skip
    given.refresh_from_db()

    assert given.preparation is None
    with time_machine.travel(visits[0].starts_at + dt.timedelta(minutes=20), tick=False):
        html = login(ben).get(f"/visits/{visits[0].pk}/infusion/").content.decode()
        api = login(ben).get(f"/api/v1/visits/{visits[0].pk}/infusion").json()
    assert "recorded before the bag convention was kept" in html
    assert (api["dose"]["bag_convention"], api["dose"]["preparation"]) == ("", [])


def test_the_api_says_what_is_missing_when_no_dose_can_be_planned(login, north, ada, ben, sam):
    patient = build.register(north, sam, "Hal", "Short", on=FRIDAY, height_cm=None)
    visit = series_for(patient, ada, ben, sam)[0]
    story.check_in_and_ready(visit, ben, at=visit.starts_at)

    with time_machine.travel(visit.starts_at + dt.timedelta(minutes=6), tick=False):
        body = login(ben).get(f"/api/v1/visits/{visit.pk}/infusion").json()

    assert (body["dose"], [g["item"] for g in body["gate"]]) == (None, ["height"])
    assert body["dose_refused"].startswith("record the patient's height")
    assert json.dumps(body).count("E+") == 0


def test_the_patient_page_says_which_weight_the_rule_doses_on(login, north, pat, ada, ben, sam):
    heavy = build.register(
        north, sam, "Big", "Frame", on=FRIDAY, weight_kg=Decimal("300.0"),
        height_cm=Decimal("180.0"),
    )  # fmt: skip
    series_for(heavy, ada, ben, sam)
    series_for(pat, ada, ben, sam)

    with time_machine.travel(build.at(north, FRIDAY, 12), tick=False):
        pages = [login(ben).get(f"/patients/{p.pk}/").content.decode() for p in (heavy, pat)]

    assert (
        "Dosed on adjusted body weight, 165 kg (actual 300 kg): the clinic's rule from a BMI of 30."
    ) in pages[0]
    assert "Draw 1.6 mL of 50 mg/mL in a 3 mL syringe" in pages[0]
    assert (
        "Dosed on actual weight: the BMI is below the clinic's 30 for adjusted body weight."
    ) in pages[1]
