"""Background work for visit reminders, run by `sustain worker`."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from sustain.accounts.tasks import keep_one_run_queued
from sustain.scheduling import reminders


@task()
def send_reminders() -> int:
    """Schedule the next sweep first (a sweep that raises or is killed still runs again,
    issue 14), then send the visit reminders that fell due."""
    schedule_next_reminder_sweep()
    return reminders.send_due_reminders(now=timezone.now())


def schedule_next_reminder_sweep() -> None:
    """Keep exactly one future run of send_reminders waiting in the queue."""
    every = dt.timedelta(minutes=settings.SUSTAIN_REMINDERS_EVERY_MINUTES)
    keep_one_run_queued(send_reminders, every=every)
