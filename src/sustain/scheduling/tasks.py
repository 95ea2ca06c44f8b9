"""Background work for visit reminders, run by `sustain worker`."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from sustain.scheduling import reminders


@task()
def send_reminders() -> int:
    """Send the visit reminders that fell due, then schedule the next sweep."""
    sent = reminders.send_due_reminders(now=timezone.now())
    schedule_next_reminder_sweep()
    return sent


def schedule_next_reminder_sweep() -> None:
    """Keep exactly one future run of send_reminders waiting in the queue."""
    waiting = DBTaskResult.objects.filter(
        task_path=send_reminders.module_path, status=TaskResultStatus.READY
    )
    if not waiting.exists():
        interval = dt.timedelta(minutes=settings.SUSTAIN_REMINDERS_EVERY_MINUTES)
        send_reminders.using(run_after=timezone.now() + interval).enqueue()
