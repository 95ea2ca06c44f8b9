"""A course's dose above the protocol's titration cap needs a second prescriber's co-signature;
above the platform ceiling it is refused for everyone (issue 11, item 3). Every path: the
service, the prescriber's dose form, the co-signature and its withdrawal, and the protocol's
titration (sustain.infusion.services.apply_titration)."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from sustain.accounts.models import AuditEvent
from sustain.care import services
from sustain.care.models import Course
from sustain.infusion import services as infusion
from sustain_core import clinic_rules, protocols
from sustain_core.dosing import WeightBasis
from sustain_core.errors import ClinicalValueError, OutOfRange
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
D = Decimal


@pytest.fixture
def dee(north):
    """Dr Dee, North's second prescriber."""
    return make_user("dee", "prescriber", north)


@pytest.fixture
def course(pat, ada):
    """Pat on the depression standard: 0.5 mg/kg over 40 min, titrated up to 0.75 mg/kg."""
    return services.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada, now=NOW
    )


def set_dose(course, by, mg_per_kg, reason="No response at 0.75 mg/kg"):
    return services.set_course_dose(
        course=course, mg_per_kg=D(mg_per_kg), reason=reason, by=by, at=NOW
    )


def timeline(course):
    return [(t.by.username, t.reason) for t in course.transitions.all()]


def dose_events(course):
    return list(
        AuditEvent.objects.filter(
            category="course", action="update", object_id=str(course.pk)
        ).values_list("actor__username", flat=True)
    )


def test_a_dose_within_the_titration_cap_applies_at_once(course, ada):
    set_dose(course, ada, "0.75", reason="(increase): no response")

    course.refresh_from_db()
    assert (course.dose_mg_per_kg, course.dose_proposed_mg_per_kg) == (D("0.75"), None)
    assert timeline(course) == [("ada", "dose 0.5 → 0.75 mg/kg (increase): no response")]
    assert dose_events(course) == ["ada"]


def test_a_dose_above_the_cap_waits_for_a_second_prescriber(course, ada, dee):
    set_dose(course, ada, "1.0")
    course.refresh_from_db()
    assert (course.dose_mg_per_kg, course.dose_proposed_mg_per_kg, course.dose_proposed_by) == (
        None, D("1.000"), ada
    )  # fmt: skip

    with pytest.raises(ClinicalValueError) as same:
        services.cosign_course_dose(course=course, by=ada, at=NOW)
    assert (same.value.field, same.value.message) == (
        "by", "a second prescriber co-signs: not the one who proposed the dose"
    )  # fmt: skip

    services.cosign_course_dose(course=course, by=dee, at=NOW)
    course.refresh_from_db()
    assert (course.dose_mg_per_kg, course.dose_proposed_mg_per_kg, course.dose_proposed_by) == (
        D("1.000"), None, None
    )  # fmt: skip
    assert timeline(course) == [
        ("ada", "dose 0.5 → 1.0 mg/kg proposed, above the protocol's titration cap 0.75 mg/kg: "
         "awaits a second prescriber's co-signature (No response at 0.75 mg/kg)"),
        ("dee", "dose 0.5 → 1.000 mg/kg, above the titration cap 0.75 mg/kg: co-signed by dee, "
         "proposed by ada (No response at 0.75 mg/kg)"),
    ]  # fmt: skip
    assert dose_events(course) == ["ada", "dee"]


@pytest.mark.parametrize(
    ("mg_per_kg", "field", "message"),
    [
        ("1.334", "mg_per_kg", "1.334 mg/kg over 40 min (2.00 mg/kg/h) is above the platform "
         "ceiling: at most 1.333 mg/kg over 40 min, 3.0 mg/kg [CommunityUpdate2022] and 2 "
         "mg/kg/h [Cohen2018-GC] (a platform bound against typing errors, not a clinical rule)"),
        ("5", "mg_per_kg", "5 mg/kg over 40 min (7.50 mg/kg/h) is above the platform ceiling: "
         "at most 1.333 mg/kg over 40 min, 3.0 mg/kg [CommunityUpdate2022] and 2 mg/kg/h "
         "[Cohen2018-GC] (a platform bound against typing errors, not a clinical rule)"),
        ("0.7501", "mg_per_kg", "the dose must be at least 0.1 mg/kg (the lowest dose reported "
         "to help [Andrade2017]), to at most 0.001 mg/kg; got 0.7501"),
        ("0", "mg_per_kg", "the dose must be at least 0.1 mg/kg (the lowest dose reported to "
         "help [Andrade2017]), to at most 0.001 mg/kg; got 0"),
        ("0.05", "mg_per_kg", "the dose must be at least 0.1 mg/kg (the lowest dose reported to "
         "help [Andrade2017]), to at most 0.001 mg/kg; got 0.05"),
    ],
)  # fmt: skip
def test_a_dose_past_the_platform_ceiling_is_refused_for_everyone(
    course, ada, dee, mg_per_kg, field, message
):
    for prescriber in (ada, dee):
        with pytest.raises(OutOfRange) as refused:
            set_dose(course, prescriber, mg_per_kg)
        assert (refused.value.field, refused.value.message) == (field, message)

    course.refresh_from_db()
    assert (course.dose_mg_per_kg, course.dose_proposed_mg_per_kg, timeline(course)) == (
        None, None, []
    )  # fmt: skip


def test_only_a_prescriber_sets_or_cosigns_a_dose(course, ada, ben):
    with pytest.raises(ClinicalValueError) as nurse:
        set_dose(course, ben, "0.75")
    set_dose(course, ada, "1.0")
    with pytest.raises(ClinicalValueError) as cosign:
        services.cosign_course_dose(course=course, by=ben, at=NOW)

    assert (nurse.value.message, cosign.value.message) == ("a prescriber changes the dose",) * 2


def test_a_proposed_dose_is_withdrawn_with_a_reason(course, ada, dee):
    set_dose(course, ada, "1.0")
    with pytest.raises(ClinicalValueError) as no_reason:
        services.withdraw_course_dose(course=course, reason=" ", by=dee, at=NOW)
    services.withdraw_course_dose(course=course, reason="Try 0.75 first", by=dee, at=NOW)
    with pytest.raises(ClinicalValueError) as nothing:
        services.cosign_course_dose(course=course, by=dee, at=NOW)

    course.refresh_from_db()
    assert (course.dose_mg_per_kg, course.dose_proposed_mg_per_kg) == (None, None)
    assert timeline(course)[-1] == ("dee", "proposed dose 1.000 mg/kg withdrawn: Try 0.75 first")
    assert (no_reason.value.field, nothing.value.message) == (
        "reason", "no proposed dose awaits a co-signature"
    )  # fmt: skip


def test_a_lower_dose_needs_no_cosignature_and_replaces_the_proposal(course, ada, dee):
    set_dose(course, ada, "1.25")
    services.cosign_course_dose(course=course, by=dee, at=NOW)
    set_dose(course, ada, "1.3")  # above the cap and the current dose: proposed
    set_dose(course, ada, "1.0", reason="(reduce): systolic 185 mmHg")  # lower: applies

    course.refresh_from_db()
    assert (course.dose_mg_per_kg, course.dose_proposed_mg_per_kg) == (D("1.000"), None)
    assert timeline(course)[-1] == (
        "ada", "dose 1.250 → 1.0 mg/kg (reduce): systolic 185 mmHg; the proposed 1.300 mg/kg is "
        "withdrawn",
    )  # fmt: skip


def test_a_per_hour_course_has_no_dose_to_set(north, sam, ada):
    patient = build.register(north, sam, "Marisol", "Ventura", on=NOW.date())
    patient.primary_condition = "chronic_pain"
    patient.save(update_fields=["primary_condition"])
    crps = services.enrol_patient(
        patient=patient, protocol_key="crps-schwartzman-2009", protocol_version=1, by=ada, now=NOW
    )
    with pytest.raises(ClinicalValueError) as refused:
        set_dose(crps, ada, "0.4")

    assert refused.value.message == (
        "CRPS (Schwartzman 2009): 0.35 mg/kg/h, at most 25 mg/h, 4 h a day on 10 weekdays is "
        "dosed per hour: it has no per-session dose to change"
    )


def test_an_ended_course_keeps_its_dose(course, ada):
    services.change_course_status(
        course=course, status="discontinued", by=ada, at=NOW, reason="Moved away"
    )
    with pytest.raises(ClinicalValueError) as refused:
        set_dose(course, ada, "0.75")

    assert refused.value.message == "the course has ended: its dose no longer changes"


def test_the_database_refuses_a_proposal_without_its_prescriber(course):
    with pytest.raises(IntegrityError), transaction.atomic():
        Course.objects.filter(pk=course.pk).update(dose_proposed_mg_per_kg=D("1.0"))


# --- Through the pages -------------------------------------------------------------------


def test_the_dose_form_proposes_and_a_second_prescriber_cosigns(login, pat, ada, dee, course):
    proposed = login(ada).post(
        f"/patients/{pat.pk}/dose/", {"mg_per_kg": "1.0", "reason": "No response"}, follow=True
    )
    html = proposed.content.decode()
    assert "1.0 mg/kg is above the protocol&#x27;s titration cap: it applies once a second " in html
    assert "Proposed dose awaiting co-signature:" in html
    assert f'action="/patients/{pat.pk}/dose/cosign/"' not in html  # not for the proposer
    assert "Above the titration cap of 0.75 mg/kg a second prescriber co-signs" in html

    refused = login(ada).post(f"/patients/{pat.pk}/dose/cosign/", follow=True)
    assert "A second prescriber co-signs: not the one who proposed the dose" in (
        refused.content.decode()
    )
    page = login(dee).get(f"/patients/{pat.pk}/").content.decode()
    assert f'action="/patients/{pat.pk}/dose/cosign/"' in page
    done = login(dee).post(f"/patients/{pat.pk}/dose/cosign/", follow=True)

    assert "Co-signed: next infusions at 1 mg/kg." in done.content.decode()
    course.refresh_from_db()
    assert (course.dose_mg_per_kg, course.dose_proposed_mg_per_kg) == (D("1.000"), None)


@pytest.mark.parametrize(
    ("form", "shown"),
    [
        ({"mg_per_kg": "3.0", "reason": "typo"}, "3.0 mg/kg over 40 min (4.50 mg/kg/h) is above "
         "the platform ceiling"),
        ({"mg_per_kg": "lots", "reason": "typo"}, "Dose (mg/kg): Enter a number."),
        ({"mg_per_kg": "0.05", "reason": "typo"}, "The dose must be at least 0.1 mg/kg"),
        ({"mg_per_kg": "0.75"}, "Reason: This field is required."),
    ],
)  # fmt: skip
def test_the_dose_form_refuses_bad_input_and_changes_nothing(login, pat, ada, course, form, shown):
    response = login(ada).post(f"/patients/{pat.pk}/dose/", form, follow=True)

    assert shown in response.content.decode()
    course.refresh_from_db()
    assert (course.dose_mg_per_kg, course.dose_proposed_mg_per_kg, timeline(course)) == (
        None, None, []
    )  # fmt: skip


def test_the_withdraw_button_withdraws(login, pat, ada, dee, course):
    set_dose(course, ada, "1.0")
    response = login(dee).post(
        f"/patients/{pat.pk}/dose/withdraw/", {"reason": "Not yet"}, follow=True
    )

    assert "The proposed dose is withdrawn." in response.content.decode()
    course.refresh_from_db()
    assert course.dose_proposed_mg_per_kg is None


@pytest.mark.parametrize("path", ["dose/", "dose/cosign/", "dose/withdraw/"])
def test_without_an_active_course_there_is_no_dose(login, pat, ada, path):
    response = login(ada).post(f"/patients/{pat.pk}/{path}", {}, follow=True)

    assert "There is no active course." in response.content.decode()


# --- Titration and the chair --------------------------------------------------------------


def two_infusions_without_response(pat, ada, ben, sam, course):
    """Pat's first two infusions, with no response yet (PHQ-9 18 before each)."""
    with time_machine.travel(NOW, tick=False):
        services.record_consent(
            course=course, signed_on=NOW.date(), document="Consent v3", by=ben, now=NOW
        )
        standard = protocols.PROTOCOLS[build.PROTOCOL]
        screen = [*standard.contraindications_absolute, *standard.contraindications_relative]
        services.sign_contraindication_screen(
            course=course, answers=dict.fromkeys(screen, False), notes="", by=ada, now=NOW
        )
        for instrument, answers in (("phq9", build.phq9(18)), ("gad7", build.gad7(12))):
            services.record_assessment(
                patient=pat, instrument=instrument, answers=answers, timepoint="baseline",
                by=ben, completed_at=NOW, now=NOW,
            )  # fmt: skip
        visits = build.book_series(
            course, sam, first=dt.datetime(2026, 11, 30, 13, tzinfo=dt.UTC), now=timezone.now()
        )
    for visit in visits[:2]:
        with time_machine.travel(visit.starts_at, tick=False):
            build.give_infusion(visit, ben, pre_phq9=build.phq9(18) if visit.number > 1 else None)
    return visits


def test_titration_goes_through_the_same_rule_and_replaces_a_proposal(
    login, pat, ada, dee, ben, sam, course, stocked
):
    visits = two_infusions_without_response(pat, ada, ben, sam, course)
    with time_machine.travel(visits[1].ends_at, tick=False):
        set_dose(course, ada, "1.0")
        login(ada).post(f"/patients/{pat.pk}/titrate/")

    course.refresh_from_db()
    assert (course.dose_mg_per_kg, course.dose_proposed_mg_per_kg) == (D("0.750"), None)
    assert timeline(course)[-1][1].startswith("dose 0.5 → 0.75 mg/kg (increase)")
    assert timeline(course)[-1][1].endswith("; the proposed 1.000 mg/kg is withdrawn")


def test_the_chair_doses_only_a_cosigned_dose(pat, ada, dee, ben, sam, course, stocked):
    visits = two_infusions_without_response(pat, ada, ben, sam, course)

    def planned_mg():
        return infusion.plan_dose(
            appointment=visits[2], vial_mg_per_ml=D("50"), rules=clinic_rules.DEFAULT
        ).dose_mg

    set_dose(course, ada, "1.0")
    course.refresh_from_db()
    visits[2].course.refresh_from_db()
    proposed_only = planned_mg()
    services.cosign_course_dose(course=course, by=dee, at=NOW)
    visits[2].course.refresh_from_db()

    assert (proposed_only, planned_mg()) == (D("35.0"), D("70.0"))  # 70 kg × 0.5, then × 1.0


def test_the_chair_refuses_a_session_above_150_mg_after_titration(
    pat, ada, ben, sam, course, stocked
):
    """The issue's case at the chair: 300 kg on actual weight, 0.75 mg/kg after titration, is
    225 mg; the platform ceiling is 150 mg a session whatever the weight and titration."""
    visits = two_infusions_without_response(pat, ada, ben, sam, course)
    day = visits[1].ends_at.astimezone(pat.site.tz).date()
    services.record_weight(
        patient=pat, weight_kg=D("300.0"), measured_on=day, by=ben, now=visits[1].ends_at
    )
    set_dose(course, ada, "0.75", reason="(increase): no response")
    visits[2].course.refresh_from_db()
    on_actual_weight = replace(clinic_rules.DEFAULT, dosing_weight_basis=WeightBasis.ACTUAL)

    with pytest.raises(OutOfRange) as refused:
        infusion.plan_dose(appointment=visits[2], vial_mg_per_ml=D("50"), rules=on_actual_weight)

    assert (refused.value.field, refused.value.message.split(" (")[0]) == (
        "dose_mg", "225 mg in one session is above the platform ceiling of 150 mg per session"
    )  # fmt: skip
