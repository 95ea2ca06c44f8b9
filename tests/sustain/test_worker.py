"""The worker keeps going whatever happens (issue 14, items 1 and 3): periodic sweeps queue
their next run before their work, a killed worker's "running" tasks are recovered, a mail
outage delays a reminder but never loses it, and every due reminder leaves exactly once under
racing workers and a worker killed with SIGKILL mid hand-over (real `sustain worker`
processes on the test's database, SQLite file or PostgreSQL, and a real SMTP server)."""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sustain.accounts import notify
from sustain.accounts.enums import OutboxStatus
from sustain.accounts.models import OutboxMessage
from sustain.accounts.tasks import WORKER_LOST, anchor_chains, deliver_message, retry_messages
from sustain.care import services as care_services
from sustain.care.tasks import end_expired_break_glass
from sustain.clinic.tasks import ensure_periodic_tasks, housekeeping, write_run_sheets
from sustain.interop.tasks import delete_expired_exports
from sustain.ledger.tasks import reconcile_balances
from sustain.portal import tasks as portal_tasks
from sustain.reports.tasks import refit_relapse_models
from sustain.scheduling import reminders, services
from sustain.scheduling import tasks as scheduling_tasks
from sustain.scheduling.models import Appointment, Chair, VisitReminder
from tests.sustain.accounts.servers import Mailbox, smtp_server
from tests.sustain.worker import hand_over_messages

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
HOUR = dt.timedelta(hours=1)
PERIODIC = [
    scheduling_tasks.send_reminders,
    portal_tasks.send_due_links,
    retry_messages,
    anchor_chains,
    end_expired_break_glass,
    write_run_sheets,
    reconcile_balances,
    delete_expired_exports,
    refit_relapse_models,
    housekeeping,
]


def waiting(periodic) -> int:
    return DBTaskResult.objects.filter(task_path=periodic.module_path, status="READY").count()


# -- periodic sweeps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sweep", "work"),
    [
        (scheduling_tasks.send_reminders, "sustain.scheduling.reminders.send_due_reminders"),
        (portal_tasks.send_due_links, "sustain.portal.tasks.invite_due_patients"),
        (retry_messages, "sustain.accounts.notify.retry_failed"),
    ],
)
def test_a_sweep_that_raises_is_still_run_again(sweep, work, monkeypatch, north):
    def outage(**_: object) -> int:
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(work, outage)
    with pytest.raises(ConnectionRefusedError):
        sweep.call()
    assert waiting(sweep) == 1


def test_worker_start_recovers_dead_workers_tasks_and_queues_every_sweep(north):
    now = timezone.now()
    dead = deliver_message.enqueue(1)
    alive = deliver_message.enqueue(2)
    DBTaskResult.objects.filter(pk=dead.id).update(status="RUNNING", started_at=now - 2 * HOUR)
    DBTaskResult.objects.filter(pk=alive.id).update(status="RUNNING", started_at=now)

    assert ensure_periodic_tasks(now=now) == 1
    assert ensure_periodic_tasks(now=now) == 0

    assert DBTaskResult.objects.get(pk=dead.id).status == "FAILED"
    assert DBTaskResult.objects.get(pk=dead.id).exception_class_path == WORKER_LOST
    assert DBTaskResult.objects.get(pk=alive.id).status == "RUNNING"
    assert [waiting(p) for p in PERIODIC] == [1] * len(PERIODIC)


def test_housekeeping_requeues_a_lost_sweep_and_itself(north):
    ensure_periodic_tasks(now=timezone.now())
    DBTaskResult.objects.filter(task_path=scheduling_tasks.send_reminders.module_path).delete()
    DBTaskResult.objects.filter(task_path=housekeeping.module_path).delete()
    housekeeping.call()
    assert [waiting(p) for p in PERIODIC] == [1] * len(PERIODIC)


# -- a reminder during a mail outage ----------------------------------------------------------


@pytest.fixture
def smtp(settings) -> Iterator[Mailbox]:
    with smtp_server() as (port, mailbox):
        settings.SUSTAIN_NOTIFICATION_BACKEND = "sustain.accounts.notify.DjangoEmailBackend"
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield mailbox


@pytest.fixture
def visit(pat, ada, sam) -> Appointment:
    """Pat's visit, moved to start 30 hours from now: its 48 h reminder is due."""
    course = care_services.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    chair = Chair.objects.filter(site=pat.site).first()
    start = dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)
    booked = services.book_visit(course=course, chair=chair, starts_at=start, by=sam, now=start)
    at = timezone.now() + 30 * HOUR
    Appointment.objects.filter(pk=booked.pk).update(starts_at=at, ends_at=at + 2 * HOUR)
    booked.refresh_from_db()
    return booked


def test_a_mail_outage_delays_a_reminder_but_it_leaves_once(
    smtp, visit, django_capture_on_commit_callbacks
):
    smtp.refuse_next = 2
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.send_due_reminders(now=now) == 1
    with time_machine.travel(now, tick=False):
        hand_over_messages()
    reminder = VisitReminder.objects.select_related("message").get()
    assert (reminder.message.status, reminder.sent) == (OutboxStatus.FAILED, False)
    assert reminders.send_due_reminders(now=now + 10 * dt.timedelta(minutes=1)) == 0
    for minutes in (10, 30):
        notify.retry_failed(now=now + dt.timedelta(minutes=minutes))
    reminder = VisitReminder.objects.select_related("message").get()
    assert (reminder.message.status, reminder.message.attempts, reminder.sent) == ("sent", 3, True)
    assert len(smtp.messages) == 1 and OutboxMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_racing_hand_overs_send_a_message_once(smtp, north):
    """Eight threads hand the same message over at once: one conversation, one message."""
    message = notify.send(
        site=north, channel="email", to="pat@example.com", subject="s", body="b",
        now=timezone.now(),
    )  # fmt: skip
    barrier = threading.Barrier(8)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            copy = OutboxMessage.objects.get(pk=message.pk)
            results.append(notify.deliver(copy, now=timezone.now()))
        except Exception as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [False] * 7 + [True]
    assert len(smtp.messages) == 1
    assert OutboxMessage.objects.get().status == "sent"


# -- real worker processes ------------------------------------------------------------------


def worker_env(port: int) -> dict[str, str]:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUSTAIN_", "DATABASE_URL"))}
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        env["SUSTAIN_SQLITE_PATH"] = str(db["NAME"])
    return env | {
        "DJANGO_SETTINGS_MODULE": "sustain.settings",
        "PYTHONPATH": str(ROOT / "src"),
        "SUSTAIN_DEBUG": "1",
        "SUSTAIN_NOTIFICATION_BACKEND": "sustain.accounts.notify.DjangoEmailBackend",
        "SUSTAIN_EMAIL_HOST": "127.0.0.1",
        "SUSTAIN_EMAIL_PORT": str(port),
        "SUSTAIN_EMAIL_USE_TLS": "0",
        "SUSTAIN_NOTIFY_BACKOFF_SECONDS": "2",
        "SUSTAIN_TASK_STALE_MINUTES": "0",
    }


@contextmanager
def worker(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`sustain worker` in its own process group (the autoreloader's child included)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sustain.cli", "worker"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def sent_messages() -> int:
    return OutboxMessage.objects.filter(status="sent").count()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_hand_over_the_reminder_still_leaves_exactly_once(visit):
    with smtp_server() as (port, mailbox):
        mailbox.hang_next = threading.Event()  # the server stalls at MAIL FROM
        scheduling_tasks.send_reminders.enqueue()  # a sweep due now
        env = worker_env(port)
        with worker(env) as first:
            wait_for(lambda: any(line.upper().startswith("MAIL") for line in mailbox.conversation))
            os.killpg(first.pid, signal.SIGKILL)  # kill -9, mid conversation
            first.wait(timeout=30)
        mailbox.hang_next.set()
        message = OutboxMessage.objects.get()
        assert (message.status, message.attempts, len(mailbox.messages)) == ("queued", 1, 0)
        assert DBTaskResult.objects.filter(status="RUNNING").count() == 1  # left by the dead

        with worker(env):
            wait_for(lambda: sent_messages() == 1)
            time.sleep(3)  # the next queued attempt (2 s backoff) runs and finds it sent
        assert len(mailbox.messages) == 1 and mailbox.messages[0][1] == ["pat@example.com"]
        assert VisitReminder.objects.count() == 1 and OutboxMessage.objects.count() == 1
        assert DBTaskResult.objects.filter(status="RUNNING").count() == 0
        assert DBTaskResult.objects.filter(exception_class_path=WORKER_LOST).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_racing_workers_send_a_due_reminder_once(visit):
    with smtp_server() as (port, mailbox):
        for _ in range(3):
            scheduling_tasks.send_reminders.enqueue()  # three sweeps due at once
        env = worker_env(port)
        with worker(env), worker(env):
            wait_for(lambda: sent_messages() >= 1)
            time.sleep(3)
        assert len(mailbox.messages) == OutboxMessage.objects.count() == 1
        assert VisitReminder.objects.count() == 1


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SUSTAIN_NOTIFY_BACKOFF_SECONDS": "0"}, "SUSTAIN_NOTIFY_BACKOFF_SECONDS"),
        ({"SUSTAIN_NOTIFY_MAX_ATTEMPTS": "0"}, "SUSTAIN_NOTIFY_MAX_ATTEMPTS"),
        ({"SUSTAIN_DEBUG": "0", "SUSTAIN_TASK_STALE_MINUTES": "1"}, "SUSTAIN_TASK_STALE_MINUTES"),
    ],
)
def test_unsafe_delivery_settings_are_refused_naming_them(env, named):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SUSTAIN_", "DATABASE_URL"))}
    production = {
        "SUSTAIN_SECRET_KEY": "k" * 60,
        "SUSTAIN_AUDIT_KEY": "a" * 60,
        "SUSTAIN_ALLOWED_HOSTS": "clinic.example",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=base | production | {"DJANGO_SETTINGS_MODULE": "sustain.settings"}
        | {"PYTHONPATH": str(ROOT / "src")} | env,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and named in done.stderr.splitlines()[-1]


def test_a_page_that_sends_never_waits_for_the_mail_server(
    smtp, settings, login, ben, pat, django_capture_on_commit_callbacks
):
    """The mail server stalls (as in an outage with no refusal); sending a self-report link
    from the patient page still answers at once: the worker, not the request, talks SMTP."""
    smtp.hang_next = threading.Event()
    settings.EMAIL_TIMEOUT = 10
    client = login(ben)
    form = {"instruments": ["phq9"], "channel": "email", "timepoint": "pre_infusion"}
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/patients/{pat.pk}/invite/", form)
    elapsed = time.monotonic() - started
    smtp.hang_next.set()
    assert answer.status_code == 302 and elapsed < settings.EMAIL_TIMEOUT  # it never waited
    assert OutboxMessage.objects.get().status == "queued" and smtp.conversation == []
    assert DBTaskResult.objects.filter(task_path=deliver_message.module_path).count() == 1
