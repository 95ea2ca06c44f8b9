"""Contraindications that block (issue 11, item 2): a present absolute contraindication blocks
induction on every path; a present relative one needs the prescriber's written justification;
the course card lists every present item; the protocol's minimum age is a guard too."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.utils import timezone

from sustain.accounts.enums import AuditAction
from sustain.accounts.models import AuditEvent
from sustain.care import protocol_versions, services
from sustain.care.forms import ContraindicationScreenForm
from sustain.care.models import ContraindicationScreen, Course
from sustain_core import protocols
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def course(pat, ada):
    return services.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada, now=NOW
    )


def items(course: Course) -> tuple[list[str], list[str]]:
    protocol = protocol_versions.protocol_for(course)
    return list(protocol.contraindications_absolute), list(protocol.contraindications_relative)


def item(course: Course, starts: str) -> str:
    absolute, relative = items(course)
    return next(text for text in [*absolute, *relative] if text.startswith(starts))


def answers(course: Course, *present: str) -> dict[str, bool]:
    absolute, relative = items(course)
    return {text: text in present for text in [*absolute, *relative]}


def ready_but_for_the_screen(course: Course, pat, ben) -> None:
    """Consent and every baseline: only the screen decides."""
    services.record_consent(course=course, signed_on=NOW.date(), document="v3", by=ben, now=NOW)
    for code, values in (("phq9", build.phq9(18)), ("gad7", build.gad7(12))):
        services.record_assessment(
            patient=pat, instrument=code, answers=values, timepoint="baseline", by=ben,
            completed_at=NOW, now=NOW,
        )  # fmt: skip


def form_data(course: Course, *present: str, **fields: str) -> dict[str, str]:
    data = {
        ContraindicationScreenForm.field_name(text): "present" if value else "absent"
        for text, value in answers(course, *present).items()
    }
    return data | fields


def plain(text: str) -> str:
    """An item as messages and pages say it: without the sources written in it (issue 13)."""
    return protocols.split_sources(text).text


def shown(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_present_absolute_contraindication_blocks_ready_and_induction(course, pat, ada, ben):
    ready_but_for_the_screen(course, pat, ben)
    pregnancy = item(course, "Pregnancy")
    services.sign_contraindication_screen(
        course=course, answers=answers(course, pregnancy), notes="", by=ada, now=NOW
    )

    with pytest.raises(ClinicalValueError) as refused:
        services.change_course_status(course=course, status="ready", by=ada, at=NOW)

    assert refused.value.message == (
        f"ready needs: no absolute contraindication (present: {plain(pregnancy)})"
    )
    assert Course.objects.get().status == "screening"

    # A new screen without it (e.g. a negative test) is the one that counts.
    services.sign_contraindication_screen(
        course=course, answers=answers(course), notes="Test negative", by=ada,
        now=NOW + dt.timedelta(hours=1),
    )  # fmt: skip
    services.change_course_status(course=course, status="ready", by=ada, at=NOW)
    services.change_course_status(course=course, status="induction", by=ada, at=NOW)
    assert Course.objects.get().status == "induction"


def test_the_browser_path_refuses_induction_and_the_card_lists_the_item(
    login, course, pat, ada, ben
):
    ready_but_for_the_screen(course, pat, ben)
    pregnancy = item(course, "Pregnancy")
    prescriber = login(ada)

    response = prescriber.post(f"/patients/{pat.pk}/screen/", form_data(course, pregnancy))
    assert shown(response) == [
        "Screen signed. An absolute contraindication is present: induction and every infusion "
        "are blocked until a new screen is signed without it."
    ]
    response = prescriber.post(f"/patients/{pat.pk}/course-status/", {"status": "ready"})

    assert shown(response)[-1] == (
        f"Ready needs: no absolute contraindication (present: {plain(pregnancy)})"
    )
    assert Course.objects.get().status == "screening"
    page = prescriber.get(f"/patients/{pat.pk}/").content.decode()
    assert f"✘ Absolute contraindication present: {plain(pregnancy)}" in page
    assert "✔ Contraindication screen" not in page


def test_a_present_relative_contraindication_needs_a_written_justification(
    login, course, pat, ada, ben
):
    ready_but_for_the_screen(course, pat, ben)
    glaucoma = item(course, "Raised intracranial or intraocular pressure")
    prescriber = login(ada)
    audit_before = AuditEvent.objects.filter(action=AuditAction.CREATE).count()

    response = prescriber.post(
        f"/patients/{pat.pk}/screen/", form_data(course, glaucoma, justification="  ")
    )

    assert shown(response) == [
        f"A relative contraindication is present ({plain(glaucoma)}): write why treating is "
        "justified"
    ]
    assert ContraindicationScreen.objects.count() == 0
    assert AuditEvent.objects.filter(action=AuditAction.CREATE).count() == audit_before

    why = "Glaucoma treated, pressure 16 mmHg; ophthalmologist agrees"
    response = prescriber.post(
        f"/patients/{pat.pk}/screen/", form_data(course, glaucoma, justification=why)
    )

    screen = ContraindicationScreen.objects.get()
    assert (screen.relative_present, screen.absolute_present, screen.justification) == (
        True, False, why
    )  # fmt: skip
    assert shown(response)[-1] == "Contraindication screen signed."
    services.change_course_status(course=course, status="ready", by=ada, at=NOW)
    page = prescriber.get(f"/patients/{pat.pk}/").content.decode()
    assert f"⚠ Relative contraindication present: {plain(glaucoma)}" in page
    assert f"Justified by ada: “{why}”" in page
    assert "✔ Contraindication screen" not in page


def test_the_database_refuses_a_relative_item_without_a_justification(course, ada):
    with pytest.raises(IntegrityError), transaction.atomic():
        ContraindicationScreen.objects.create(
            course=course, answers={}, absolute_present=False, relative_present=True,
            justification="", signed_by=ada, signed_at=NOW,
        )  # fmt: skip


def test_a_screen_with_nothing_present_is_ticked(login, course, pat, ada):
    services.sign_contraindication_screen(
        course=course, answers=answers(course), notes="", by=ada, now=NOW
    )

    page = login(ada).get(f"/patients/{pat.pk}/").content.decode()

    assert "✔ Contraindication screen, none present, signed by ada on 2026-11-27" in page
    assert "contraindication present" not in page


def test_the_protocols_minimum_age_guards_induction(login, north, ada, ben, sam):
    today = timezone.now().date()
    born = dt.date(today.year - 17, 1, 1)  # 17 all year
    teen = services.register_patient(
        by=sam, site=north, given_name="Tia", family_name="Young", date_of_birth=born,
        sex="female", phone="555-0101", email="tia@example.com",
        primary_condition="depression", weight_kg=Decimal("58.0"), today=NOW.date(),
        now=NOW,  # registered before the consent's day (care.services._check_consent)
    )  # fmt: skip
    course = services.enrol_patient(
        patient=teen, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    ready_but_for_the_screen(course, teen, ben)
    services.sign_contraindication_screen(
        course=course, answers=answers(course), notes="", by=ada, now=timezone.now()
    )

    with pytest.raises(ClinicalValueError) as refused:
        services.change_course_status(course=course, status="ready", by=ada, at=timezone.now())

    assert refused.value.message == (
        "ready needs: a patient aged 18 or over, as the protocol requires (the patient is 17)"
    )
    page = login(ada).get(f"/patients/{teen.pk}/").content.decode()
    assert "✘ The patient is under 18: the protocol is for patients aged 18 or over." in page
