"""Measures due by the protocol's plan: shown to staff, sent by the worker (issue 3, 4–5)."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sustain.care import services as care
from sustain.portal.models import Invitation
from sustain.portal.tasks import invite_due_patients, schedule_next_run, send_due_links
from sustain.scheduling import services as scheduling

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # Friday; the series starts Monday


@pytest.fixture
def booked(pat, ada, sam):
    course = care.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    scheduling.book_series(course=course, earliest=NOW + dt.timedelta(days=2), by=sam, now=NOW)
    return course


@time_machine.travel(NOW, tick=False)
def test_baseline_is_due_on_the_patient_page_and_the_day_board(login, ben, pat, booked):
    page = login(ben).get(f"/patients/{pat.pk}/")
    due = [(d.rule, d.instrument, d.status) for d in page.context["due_now"]]
    assert due == [("baseline", "gad7", "due"), ("baseline", "phq9", "due")]
    first = booked.appointments.order_by("starts_at").first()
    board = login(ben).get("/schedule/", {"day": f"{first.starts_at:%Y-%m-%d}"})
    [(visit, pills)] = [(v, d) for _, visits in board.context["rows"] for v, d, _, _ in visits]
    assert (visit, [p.instrument for p in pills]) == (first, ["gad7", "phq9"])


@time_machine.travel(NOW, tick=False)
def test_worker_sends_one_link_for_what_is_due_then_nothing_more(pat, booked):
    assert invite_due_patients(now=NOW) == 1
    invitation = Invitation.objects.get()
    first = booked.appointments.order_by("starts_at").first()
    first_infusion = first.starts_at + dt.timedelta(minutes=first.check_in_minutes)
    assert (invitation.instruments, invitation.timepoint) == (["gad7", "phq9"], "baseline")
    assert invitation.created_by is None
    # The link ends when the baseline window closes (the first infusion), if before 72 h.
    assert invitation.expires_at == min(NOW + dt.timedelta(hours=72), first_infusion)
    assert invite_due_patients(now=NOW) == 0  # already asked for


@time_machine.travel(NOW, tick=False)
def test_self_reported_measures_are_done(login, ben, pat, booked):
    assert len(login(ben).get(f"/patients/{pat.pk}/").context["due_now"]) == 2
    for code, items in (("phq9", 9), ("gad7", 7)):
        care.record_assessment(
            patient=pat, instrument=code, answers={str(n): 1 for n in range(1, items + 1)},
            timepoint="baseline", by=None, source="self_report", completed_at=NOW,
            now=timezone.now(),
        )  # fmt: skip
    page = login(ben).get(f"/patients/{pat.pk}/")
    assert page.context["due_now"] == []
    assert invite_due_patients(now=NOW) == 0


def test_worker_keeps_one_sweep_queued(db):
    schedule_next_run()
    schedule_next_run()
    waiting = DBTaskResult.objects.filter(task_path=send_due_links.module_path, status="READY")
    assert waiting.count() == 1
    assert waiting.get().run_after > dt.datetime.now(tz=dt.UTC)
