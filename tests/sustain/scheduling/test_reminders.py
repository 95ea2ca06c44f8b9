"""Visit reminders 48 h and 24 h before each booked visit, sent once by the worker (issue 8)."""

import datetime as dt
import io
import re
import threading
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sustain.accounts.models import AuditEvent, OutboxMessage
from sustain.care import rules
from sustain.care import services as care_services
from sustain.scheduling import services
from sustain.scheduling.models import Appointment, Chair, VisitReminder
from sustain.scheduling.reminders import send_due_reminders
from sustain.scheduling.tasks import schedule_next_reminder_sweep, send_reminders
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
VISIT = dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK)  # Monday 13:00 UTC
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
BODY = (
    "This is a reminder of your visit at North Clinic on Monday 30 November 2026 at 08:00 "
    "(EST).\n\n"
    "Please do not eat for 6 hours before your visit (clear fluids until 2 hours before), "
    "bring an adult to take you home, and do not drive until the next day.\n\n"
    "Please confirm the visit, or ask to change it, here (no reply needed):\n"
    "http://127.0.0.1:8000/v/{token}/\n\n"
    "If you cannot come, please contact North Clinic."
)


@pytest.fixture
def visit(pat, ada, sam) -> Appointment:
    course = care_services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    chair = Chair.objects.filter(site=pat.site).first()
    return services.book_visit(
        course=course, chair=chair, starts_at=VISIT, by=sam, now=timezone.now()
    )


def sweep(at: dt.datetime) -> int:
    with time_machine.travel(at, tick=False):
        return send_due_reminders(now=at)


def sent() -> list[tuple[int, ...]]:
    return list(VisitReminder.objects.values_list("hours_before", "message_id"))


def test_reminders_go_out_once_at_48_and_once_at_24_hours(visit):
    assert sweep(VISIT - 48 * HOUR - MINUTE) == 0  # not yet
    assert sweep(VISIT - 48 * HOUR + 5 * MINUTE) == 1
    assert sweep(VISIT - 48 * HOUR + 20 * MINUTE) == 0  # the next sweep: already sent
    assert sweep(VISIT - 25 * HOUR) == 0
    assert sweep(VISIT - 24 * HOUR + 5 * MINUTE) == 1
    assert sweep(VISIT - 2 * HOUR) == 0
    assert sweep(VISIT + MINUTE) == 0

    messages = list(OutboxMessage.objects.order_by("pk"))
    assert sent() == [(48, messages[0].pk), (24, messages[1].pk)]
    assert [m.created_at for m in messages] == [
        VISIT - 48 * HOUR + 5 * MINUTE,
        VISIT - 24 * HOUR + 5 * MINUTE,
    ]


def test_reminder_names_the_clinic_time_and_preparation_only(visit):
    sweep(VISIT - 24 * HOUR)

    message = OutboxMessage.objects.get()
    assert (message.channel, message.to, message.site) == ("email", "pat@example.com", visit.site)
    assert message.subject == "Your visit at North Clinic"
    token = re.search(r"/v/([^/]+)/", message.body).group(1)
    assert message.body == BODY.format(token=token)
    for secret in ("Pat", "Quinn", "ketamine", "Ketalar", "depression", "infusion"):
        assert secret.lower() not in (message.subject + message.body).lower()


def test_summer_visit_shows_daylight_time(pat, visit, sam):
    july = dt.datetime(2027, 7, 5, 14, 30, tzinfo=NEW_YORK)
    Appointment.objects.filter(pk=visit.pk).update(
        starts_at=july, ends_at=july + 2 * HOUR
    )  # fmt: skip

    sweep(july - 24 * HOUR)

    assert OutboxMessage.objects.get().body.startswith(
        "This is a reminder of your visit at North Clinic on Monday 5 July 2027 at 14:30 (EDT)."
    )


def test_text_message_when_there_is_no_email_and_nothing_without_either(pat, visit):
    pat.email = ""
    pat.save(update_fields=["email"])
    sweep(VISIT - 48 * HOUR)
    pat.phone = ""
    pat.save(update_fields=["phone"])
    sweep(VISIT - 24 * HOUR)

    assert list(OutboxMessage.objects.values_list("channel", "to")) == [("sms", "555-0100")]
    assert sent() == [(48, OutboxMessage.objects.get().pk)]


def test_cancelled_and_past_visits_are_not_reminded(visit):
    assert sweep(VISIT + MINUTE) == 0  # started
    Appointment.objects.filter(pk=visit.pk).update(status="cancelled", cancel_reason="illness")
    assert sweep(VISIT - 24 * HOUR) == 0
    assert (OutboxMessage.objects.count(), VisitReminder.objects.count()) == (0, 0)


def test_completed_visit_is_not_reminded(visit):
    Appointment.objects.filter(pk=visit.pk).update(status="completed")
    assert sweep(VISIT - 24 * HOUR) == 0


def test_a_visit_booked_inside_24_hours_gets_one_message(visit):
    assert sweep(VISIT - 20 * HOUR) == 1

    message = OutboxMessage.objects.get()
    assert sent() == [(24, message.pk), (48, message.pk)]


def test_a_moved_visit_is_reminded_again_for_its_new_time(visit):
    sweep(VISIT - 24 * HOUR)
    later = VISIT + 48 * HOUR
    Appointment.objects.filter(pk=visit.pk).update(starts_at=later, ends_at=later + 2 * HOUR)

    assert sweep(later - 48 * HOUR) == 1
    assert sweep(later - 24 * HOUR) == 1
    assert OutboxMessage.objects.count() == 3


def test_reminder_hours_and_text_come_from_the_sites_rules(visit, north, south):
    alex = make_user("alex", "clinic_admin", north)
    rules.change_rules(
        site=north, changes={"reminder_hours": (72,), "visit_preparation": "Eat lightly."},
        based_on=0, reason="three days' notice", by=alex, now=VISIT - 100 * HOUR,
    )  # fmt: skip
    assert sweep(VISIT - 72 * HOUR) == 1
    assert sweep(VISIT - 24 * HOUR) == 0
    assert "Eat lightly." in OutboxMessage.objects.get().body
    rules.change_rules(
        site=north, changes={"reminder_hours": ()}, based_on=1, reason="no reminders",
        by=alex, now=VISIT - 50 * HOUR,
    )  # fmt: skip
    assert sweep(VISIT - HOUR) == 0
    assert sent() == [(72, OutboxMessage.objects.get().pk)]
    assert rules.current_rules(south).reminder_hours == [48, 24]  # another site keeps its own


def test_sending_is_audited_as_the_worker(pat, visit):
    before = AuditEvent.objects.latest("id").id

    sweep(VISIT - 24 * HOUR)

    event = AuditEvent.objects.get(id__gt=before)
    assert (event.actor, event.actor_username, event.action, event.category) == (
        None, "worker", "create", "schedule"
    )  # fmt: skip
    assert (event.patient_id, event.object_type) == (pat.pk, "scheduling.VisitReminder")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_sweeps_send_each_reminder_once(visit):
    at = dt.datetime.now(tz=dt.UTC)
    Appointment.objects.filter(pk=visit.pk).update(starts_at=at + 47 * HOUR, ends_at=at + 49 * HOUR)
    barrier = threading.Barrier(4)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(send_due_reminders(now=at))
        except Exception as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results, key=str) == [0, 0, 0, 1]
    assert (OutboxMessage.objects.count(), VisitReminder.objects.count()) == (1, 1)


def test_command_runs_one_sweep(visit):
    out = io.StringIO()
    with time_machine.travel(VISIT - 24 * HOUR, tick=False):
        call_command("send_reminders", stdout=out)
    assert out.getvalue() == "1 visit reminders sent\n"


def test_task_sweeps_and_keeps_one_run_queued(visit):
    with time_machine.travel(VISIT - 24 * HOUR, tick=False):
        assert send_reminders.call() == 1
        schedule_next_reminder_sweep()
        waiting = DBTaskResult.objects.filter(
            task_path=send_reminders.module_path, status="READY"
        ).get()
    assert waiting.run_after == VISIT - 24 * HOUR + dt.timedelta(minutes=15)
