"""Background work for messages to patients, run by `sustain worker` (issue 14):

- `deliver_message` hands one message to its backend (queued when the sender commits, and
  again at each backoff time; sustain.accounts.notify.deliver);
- `retry_messages`, the periodic safety net, hands over every message whose next attempt is
  due, in case a queued hand-over was lost;
- `recover_stale_tasks` marks failed the tasks a killed worker left "running".

A periodic sweep queues its next run first, before its work: a sweep that raises, or whose
worker is killed, is still run again (OPS reliability, issue 14 item 3).
"""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

from sustain.accounts import notify
from sustain.accounts.chain import write_anchors
from sustain.accounts.models import OutboxMessage

WORKER_LOST = "sustain.worker_lost"  # exception_class_path of a task a dead worker left


@task()
def deliver_message(message_id: int) -> bool:
    """Hand one message to its backend, if it is due; True if it was handed over."""
    message = OutboxMessage.objects.filter(pk=message_id).first()
    return message is not None and notify.deliver(message, now=timezone.now())


@task()
def retry_messages() -> int:
    """Schedule the next sweep, then hand over the messages whose next attempt is due."""
    schedule_next_retry_sweep()
    return notify.retry_failed(now=timezone.now())


def keep_one_run_queued(periodic: Task, *, every: dt.timedelta) -> None:
    """Keep one future run of a periodic task waiting in the queue (none is added while one
    waits, so racing workers converge on one)."""
    waiting = DBTaskResult.objects.filter(
        task_path=periodic.module_path, status=TaskResultStatus.READY
    )
    if not waiting.exists():
        periodic.using(run_after=timezone.now() + every).enqueue()


def schedule_next_retry_sweep() -> None:
    """Keep exactly one future run of retry_messages waiting in the queue."""
    every = dt.timedelta(minutes=settings.SUSTAIN_NOTIFY_RETRY_EVERY_MINUTES)
    keep_one_run_queued(retry_messages, every=every)


def recover_stale_tasks(*, now: dt.datetime) -> int:
    """Mark failed every task still "running" SUSTAIN_TASK_STALE_MINUTES after it started:
    its worker died (django-tasks-db keeps no heartbeat, so age is the only sign). A periodic
    sweep has already queued its next run; a message's next attempt is queued too. Returns
    how many were recovered."""
    cutoff = now - dt.timedelta(minutes=settings.SUSTAIN_TASK_STALE_MINUTES)
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=cutoff
    ).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path=WORKER_LOST,
        traceback="The worker running this task stopped (no result after "
        f"{settings.SUSTAIN_TASK_STALE_MINUTES} minutes).",
    )


@task()
def anchor_chains() -> int:
    """Schedule the next run, then append a signed checkpoint of every hash chain's head to
    the anchor file (issue 14, AUD-04)."""
    schedule_next_anchor()
    return len(write_anchors(timezone.now()))


def schedule_next_anchor() -> None:
    """Keep exactly one future run of anchor_chains waiting in the queue."""
    every = dt.timedelta(minutes=settings.SUSTAIN_AUDIT_ANCHOR_EVERY_MINUTES)
    keep_one_run_queued(anchor_chains, every=every)
