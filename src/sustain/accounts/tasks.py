"""Background work for messages to patients, run by `sustain worker`: failed messages are
handed to their backend again, up to SUSTAIN_NOTIFY_MAX_ATTEMPTS times in all."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from sustain.accounts import notify
from sustain.accounts.chain import write_anchors


@task()
def retry_messages() -> int:
    """Retry the failed messages, then schedule the next sweep."""
    tried = notify.retry_failed(now=timezone.now())
    schedule_next_retry_sweep()
    return tried


def schedule_next_retry_sweep() -> None:
    """Keep exactly one future run of retry_messages waiting in the queue."""
    waiting = DBTaskResult.objects.filter(
        task_path=retry_messages.module_path, status=TaskResultStatus.READY
    )
    if not waiting.exists():
        interval = dt.timedelta(minutes=settings.SUSTAIN_NOTIFY_RETRY_EVERY_MINUTES)
        retry_messages.using(run_after=timezone.now() + interval).enqueue()


@task()
def anchor_chains() -> int:
    """Append a signed checkpoint of every hash chain's head to the anchor file (issue 14,
    AUD-04), then schedule the next one."""
    written = len(write_anchors(timezone.now()))
    schedule_next_anchor()
    return written


def schedule_next_anchor() -> None:
    """Keep exactly one future run of anchor_chains waiting in the queue."""
    waiting = DBTaskResult.objects.filter(
        task_path=anchor_chains.module_path, status=TaskResultStatus.READY
    )
    if not waiting.exists():
        interval = dt.timedelta(minutes=settings.SUSTAIN_AUDIT_ANCHOR_EVERY_MINUTES)
        anchor_chains.using(run_after=timezone.now() + interval).enqueue()
