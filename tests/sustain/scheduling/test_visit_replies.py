"""A reply-free link in each visit reminder (issue 13, item 9): the patient confirms the visit
or asks to change it; the answer is recorded on the visit, audited, and shown to the staff."""

import datetime as dt
import re
import threading
import zoneinfo

import pytest
import time_machine
from django.db import IntegrityError, connection
from django.test import Client
from django.utils import timezone

from sustain.accounts import links
from sustain.accounts.models import AuditEvent, OutboxMessage
from sustain.care import services as care_services
from sustain.portal.services import SALT as SELF_REPORT_SALT
from sustain.scheduling import replies, services
from sustain.scheduling.models import Appointment, Chair, VisitLink
from sustain.scheduling.reminders import send_due_reminders
from sustain_core.errors import ClinicalValueError

pytestmark = pytest.mark.db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
VISIT = dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK)
REMINDED = VISIT - dt.timedelta(hours=24)
LATER = REMINDED + dt.timedelta(hours=2)


def book(patient, prescriber, scheduler, starts_at: dt.datetime) -> Appointment:
    course = care_services.enrol_patient(
        patient=patient,
        protocol_key="depression-induction",
        protocol_version=1,
        by=prescriber,
        now=timezone.now(),
    )
    chair = Chair.objects.filter(site=patient.site).first()
    return services.book_visit(
        course=course, chair=chair, starts_at=starts_at, by=scheduler, now=timezone.now()
    )


@pytest.fixture
def visit(pat, ada, sam) -> Appointment:
    with time_machine.travel(VISIT - dt.timedelta(days=7), tick=False):
        return book(pat, ada, sam, VISIT)


@pytest.fixture
def path(visit) -> str:
    """The link path in the reminder the worker sent 24 h before the visit."""
    with time_machine.travel(REMINDED, tick=False):
        send_due_reminders(now=REMINDED)
    return re.search(r"http://127\.0\.0\.1:8000(/v/[^/\s]+/)", OutboxMessage.objects.get().body)[1]


def token(path: str) -> str:
    return path.removeprefix("/v/").removesuffix("/")


def at(moment: dt.datetime, method: str, path: str, data: dict[str, str] | None = None):
    with time_machine.travel(moment, tick=False):
        client = Client()
        return client.get(path) if method == "get" else client.post(path, data or {})


def link_events() -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(actor_username="patient-link")
        .order_by("seq")
        .values_list("action", "outcome", "reason")
    )


def reply(visit: Appointment) -> tuple[bool, bool, str]:
    visit.refresh_from_db()
    return visit.confirmed_at is not None, visit.change_requested_at is not None, visit.change_note


def test_the_reminder_carries_a_link_for_this_visit_time(path, visit):
    link = VisitLink.objects.get()
    assert (link.appointment, link.visit_starts_at, link.expires_at) == (visit, VISIT, VISIT)
    assert link.created_at == REMINDED and link.used_at is None
    assert len(link.nonce_hash) == 64 and link.nonce_hash not in path


def test_the_page_shows_the_clinic_and_the_time_and_nothing_else_of_the_patient(path):
    page = at(LATER, "get", path)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Your visit at North Clinic" in text
    assert "Monday 30 November 2026 at 08:00 (EST)" in text
    for secret in ("Pat", "Quinn", "1980", "depression", "ketamine", "Chair"):
        assert secret not in text
    assert link_events() == [("read", "success", "")]


def test_the_patient_confirms_the_visit(path, visit):
    done = at(LATER, "post", path, {"answer": "confirm"})
    assert done.status_code == 200
    assert "Your visit on Monday 30 November 2026 at 08:00 (EST) is confirmed." in (
        done.content.decode()
    )
    assert reply(visit) == (True, False, "")
    assert visit.confirmed_at == LATER
    assert VisitLink.objects.get().used_at == LATER
    event = AuditEvent.objects.filter(reason="confirmed by the patient").get()
    assert (event.action, event.actor_username, event.patient_id) == (
        "update", "patient-link", visit.patient_id
    )  # fmt: skip


def test_the_patient_asks_to_change_with_a_note(path, visit):
    note = "  I have a work trip that week, any day after the 4th works  "
    done = at(LATER, "post", path, {"answer": "change", "note": note})
    assert "North Clinic will contact you to find another time" in done.content.decode()
    assert reply(visit) == (False, True, note.strip())
    assert AuditEvent.objects.filter(reason="change asked by the patient").count() == 1


def test_a_used_link_is_refused_and_changes_nothing(path, visit):
    at(LATER, "post", path, {"answer": "confirm"})
    again = at(LATER, "post", path, {"answer": "change", "note": "no"})
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    assert reply(visit) == (True, False, "")
    assert link_events()[-1] == ("read", "denied", "used")


def test_a_note_too_long_is_refused_naming_the_limit_and_nothing_changes(path, visit):
    refused = at(LATER, "post", path, {"answer": "change", "note": "x" * 501})
    assert refused.status_code == 400
    assert "The note is at most 500 characters" in refused.content.decode()
    assert reply(visit) == (False, False, "")
    assert VisitLink.objects.get().used_at is None
    assert at(LATER, "post", path, {"answer": "change", "note": "x" * 500}).status_code == 200


def test_an_unknown_answer_is_refused(path, visit):
    refused = at(LATER, "post", path, {"answer": "maybe"})
    assert refused.status_code == 400
    assert "Choose Confirm or Ask to change" in refused.content.decode()
    assert reply(visit) == (False, False, "")


def test_a_tampered_link_is_refused(path, visit):
    for bad in (path[:-3] + "xx/", "/v/1.abc:def/", "/v/nothing/"):
        assert at(LATER, "get", bad).status_code == 404
    # A self-report link's signature does not open a visit link (each kind has its own salt).
    link = VisitLink.objects.get()
    assert (
        at(LATER, "get", "/v/" + links.sign(SELF_REPORT_SALT, link.pk, "n") + "/").status_code
        == 404
    )


def test_the_link_expires_when_the_visit_starts(path, visit):
    refused = at(VISIT, "post", path, {"answer": "confirm"})
    assert refused.status_code == 410
    assert reply(visit) == (False, False, "")


def test_a_moved_visit_refuses_the_old_link_and_forgets_the_old_answer(path, visit, sam):
    at(LATER, "post", path, {"answer": "confirm"})
    with time_machine.travel(LATER, tick=False):
        services.reschedule_visit(
            appointment=visit,
            starts_at=VISIT + dt.timedelta(hours=2),
            chair=visit.chair,
            by=sam,
            override_reason="",
            now=LATER,
        )
    assert reply(visit) == (False, False, "")
    VisitLink.objects.update(used_at=None)  # even an unused link of the old time is refused
    refused = at(LATER, "get", path)
    assert refused.status_code == 410
    assert "This visit has been changed" in refused.content.decode()


def test_a_cancelled_visit_refuses_its_link(path, visit, sam):
    services.cancel_visit(appointment=visit, reason="illness", note="", by=sam, now=LATER)
    assert at(LATER, "post", path, {"answer": "confirm"}).status_code == 410


def test_the_database_refuses_both_answers_at_once(visit):
    with pytest.raises(IntegrityError):
        Appointment.objects.filter(pk=visit.pk).update(
            confirmed_at=LATER, change_requested_at=LATER
        )


def test_the_scheduler_sees_the_request_and_keeps_the_time(path, visit, sam, login):
    at(LATER, "post", path, {"answer": "change", "note": "Mornings are hard"})
    with time_machine.travel(LATER, tick=False):
        client = login(sam)  # signed in at that time: the session's idle limit counts from it
        day = client.get("/schedule/", {"day": "2026-11-30"}).content.decode()
        patient = client.get(f"/patients/{visit.patient_id}/").content.decode()
        assert "Patients asking to change a visit" in day
        assert "Patient asks to change" in day and "“Mornings are hard”" in day
        assert "Patient asks to change" in patient and "“Mornings are hard”" in patient

        kept = client.post(f"/visits/{visit.pk}/keep-time/", {"next": "board"})
    assert kept.status_code == 302 and kept.url.startswith("/schedule/?site=")
    assert reply(visit) == (False, False, "")
    assert AuditEvent.objects.filter(reason="change request closed: time kept", actor=sam).exists()
    with time_machine.travel(LATER, tick=False):
        day = client.get("/schedule/", {"day": "2026-11-30"}).content.decode()
    assert "Patients asking to change a visit" not in day


def test_keeping_a_time_nobody_asked_to_change_is_refused(visit, sam, login):
    with pytest.raises(ClinicalValueError, match="has not asked to change"):
        replies.keep_visit_time(appointment=visit, by=sam)
    answer = login(sam).post(f"/visits/{visit.pk}/keep-time/", follow=True)
    assert answer.status_code == 200
    assert "has not asked to change" in answer.content.decode()


def test_only_who_may_change_visits_keeps_a_time(path, visit, nora, ivy, carl, login):
    at(LATER, "post", path, {"answer": "change"})
    assert login(nora).post(f"/visits/{visit.pk}/keep-time/").status_code == 403
    assert login(ivy).post(f"/visits/{visit.pk}/keep-time/").status_code == 403
    assert login(carl).post(f"/visits/{visit.pk}/keep-time/").status_code == 404
    assert reply(visit)[1] is True


def test_the_board_shows_a_confirmed_visit(path, visit, ben, login):
    at(LATER, "post", path, {"answer": "confirm"})
    with time_machine.travel(LATER, tick=False):
        board = login(ben).get("/schedule/", {"day": "2026-11-30", "fragment": "1"})
    assert "Confirmed by the patient" in board.content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_answers_at_once_count_once(path, visit):
    barrier = threading.Barrier(2)
    results: list[object] = []

    def run(confirm: bool) -> None:
        try:
            barrier.wait()
            answered = replies.answer_visit(token=token(path), confirm=confirm, note="", now=LATER)
            results.append("confirmed" if answered.confirmed_at else "change")
        except replies.VisitLinkRefused as refused:
            results.append(refused.reason)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(confirm,)) for confirm in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) in (["change", "used"], ["confirmed", "used"])
    confirmed, changed, _ = reply(visit)
    assert (confirmed, changed) == (results.count("confirmed") == 1, results.count("change") == 1)
    assert AuditEvent.objects.filter(reason__endswith="by the patient").count() == 1
