"""The prescriber's review tasks an infusion makes due (issue 11, item 4): the futility review
at the protocol's checkpoint, and the review when a taper ends. Every infusion here is given
at the chair through the real services (sustain.clinic.story)."""

import datetime as dt
from decimal import Decimal

import pytest

from sustain.accounts.models import Site, User
from sustain.care import services
from sustain.care.models import Alert, Course
from sustain.infusion import services as infusion
from sustain.scheduling import services as scheduling
from sustain.scheduling.models import Appointment
from sustain_core import protocols
from tests.sustain import clinic_builders as build
from tests.sustain.care.test_outcome_rules import MONDAY, REGISTERED, ptsd_course, record

pytestmark = pytest.mark.db


def depression_course(
    north: Site, ada: User, ben: User, sam: User, *, baseline: int = 18
) -> tuple[Course, list[Appointment]]:
    patient = build.register(north, sam, "Yul", "Finch", on=REGISTERED)
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=build.at(north, REGISTERED, 10),
        phq9_total=baseline, gad7_total=12,
    )  # fmt: skip
    visits = build.book_series(
        course, sam, first=build.at(north, MONDAY, 8), now=build.at(north, REGISTERED, 11)
    )
    return course, visits


def give(visits: list[Appointment], ben: User, ada: User, *, phq9: int) -> None:
    for visit in visits:
        pre = build.phq9(phq9) if visit.number > 1 else None
        build.give_infusion(visit, ben, pre_phq9=pre, prescriber=ada)


def tasks(course: Course, kind: str) -> list[Alert]:
    return list(Alert.objects.filter(course=course, kind=kind))


def test_futility_review_on_the_first_score_after_infusion_3(north, ada, ben, sam, stocked):
    """depression-induction: futility after 3 [Sanacora2017-medscape]. The PHQ-9 before
    infusion 4 shows what 3 infusions did: 18 → 16 is no response at 50 %, so the prescriber
    gets the task, once, with the numbers."""
    course, visits = depression_course(north, ada, ben, sam)
    give(visits[:3], ben, ada, phq9=17)
    course.refresh_from_db()
    assert course.futility_checkpoint_at is not None
    assert tasks(course, "futility_review") == []  # the score after infusion 3 is not in yet

    before = visits[3].starts_at - dt.timedelta(minutes=15)
    infusion.record_visit_assessment(
        appointment=visits[3], instrument="phq9", answers=build.phq9(16),
        timepoint="pre_infusion", by=ben, completed_at=before, now=before,
    )  # fmt: skip
    record(course.patient, ben, "phq9", 17, before + dt.timedelta(minutes=5))  # a second one

    (task,) = tasks(course, "futility_review")
    assert (task.assigned_to, task.status, task.detail) == (
        ada, "open",
        "3 infusions given (the protocol's futility checkpoint is 3) and no response on PHQ-9: "
        "baseline 18, latest 16 (-11.1 %); response is ≥ 50 % below baseline (9 or less). "
        "Few reports describe response after more than 3 infusions when none came before "
        "[Sanacora2017-medscape]. Decide: continue, stop or extend.",
    )  # fmt: skip


def test_no_futility_review_for_a_responder(north, ada, ben, sam, stocked):
    course, visits = depression_course(north, ada, ben, sam)
    give(visits[:3], ben, ada, phq9=14)
    before = visits[3].starts_at - dt.timedelta(minutes=15)
    infusion.record_visit_assessment(
        appointment=visits[3], instrument="phq9", answers=build.phq9(9),  # −50 %: response
        timepoint="pre_infusion", by=ben, completed_at=before, now=before,
    )  # fmt: skip
    record(course.patient, ben, "phq9", 16, before + dt.timedelta(hours=1))  # judged once only

    assert tasks(course, "futility_review") == []


def test_ptsd_futility_review_at_infusion_3(north, ada, ben, sam, stocked):
    """The PTSD protocol measures the PCL-5 only at baseline and after induction, so nothing
    will show the response before infusion 4: the review is due at infusion 3."""
    course, visits = ptsd_course(north, ada, ben, sam)
    for visit in visits[:3]:
        pre = build.phq9(10) if visit.number > 1 else None
        build.give_infusion(visit, ben, pre_phq9=pre, prescriber=ada)

    (task,) = tasks(course, "futility_review")
    assert task.detail.startswith(
        "3 infusions given (the protocol's futility checkpoint is 3) and no PCL-5 score after "
        "infusion 3 shows a response (baseline 50); response is ≥ 30 % below baseline."
    )


def test_judged_without_a_score_names_the_missing_score(north, ada, ben, sam, stocked):
    """At the infusion after the checkpoint with still no PHQ-9 since it (the pre-infusion one
    the gate asks for was not taken: a clinic version may not ask), the review is judged on
    none (sustain.infusion.course_reviews)."""
    course, visits = depression_course(north, ada, ben, sam)
    give(visits[:1], ben, ada, phq9=17)

    task = services.judge_futility(
        course=course, infusions_given=4, latest=None, by=None, at=build.at(north, MONDAY, 9)
    )

    assert task.detail.startswith(
        "4 infusions given (the protocol's futility checkpoint is 3) and no PHQ-9 score after "
        "infusion 3 shows a response (baseline 18)"
    )


def test_a_review_when_the_weekly_x4_taper_ends(north, ada, ben, sam, stocked):
    """A responder signs onto "Weekly ×4 in responders" [Phillips2019]: when the fourth
    booster is given the plan has ended with nothing after it, and the prescriber gets a
    review task, once (not after the third)."""
    course, visits = depression_course(north, ada, ben, sam)
    give(visits, ben, ada, phq9=4)
    course.refresh_from_db()
    assert course.status == "review"
    taper = protocols.PROTOCOLS[build.PROTOCOL].maintenance_options[0]
    services.sign_review(
        course=course, option=taper, summary={}, notes="Remitted.", by=ada,
        now=visits[-1].ends_at + dt.timedelta(days=1),
    )  # fmt: skip
    later = visits[-1].ends_at + dt.timedelta(days=1)
    services.record_weight(
        patient=course.patient, weight_kg=Decimal("70.0"), measured_on=later.date(), by=ben,
        now=later,
    )  # fmt: skip
    chair = visits[-1].chair
    boosters = [
        scheduling.book_visit(
            course=course,
            chair=chair,
            starts_at=visits[-1].starts_at + dt.timedelta(weeks=n),
            by=ada,
            now=later,
        )
        for n in range(1, 5)
    ]
    give(boosters[:3], ben, ada, phq9=4)
    assert tasks(course, "taper_end_review") == []

    give(boosters[3:], ben, ada, phq9=4)

    (task,) = tasks(course, "taper_end_review")
    assert task.detail == (
        'The maintenance plan "Weekly ×4 in responders" has ended: its 4 boosters are given, '
        "the last on 2027-01-08, and nothing follows it. Latest PHQ-9: 4 (baseline 18). "
        "Decide: continue (boosters when needed), another plan, or complete the course."
    )
    assert [value for value, _ in task.decisions()] == ["continue", "new_plan", "complete"]
    assert infusion.course_dose_total(course)[0] == 10  # 6 induction infusions, 4 boosters
