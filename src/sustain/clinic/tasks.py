"""Background work of the clinic, run by `sustain worker`: the nightly downtime run sheet
(sustain.clinic.run_sheet, BTG-04)."""

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from sustain.clinic import run_sheet

log = logging.getLogger(__name__)


@task()
def write_run_sheets() -> int:
    """Write each site's encrypted run sheet for its tomorrow, then schedule the next night's
    run; return how many were written. Without the password nothing is written and the refusal
    is logged as an error (the next night tries again)."""
    try:
        return len(run_sheet.write_nightly(now=timezone.now()))
    except run_sheet.RunSheetRefused as refused:
        log.error("run sheet not written: %s", refused)
        return 0
    finally:
        schedule_next_run_sheet()


def next_run(now: dt.datetime) -> dt.datetime:
    """The next SUSTAIN_RUN_SHEET_HOUR:00 UTC after `now`."""
    at = now.astimezone(dt.UTC).replace(
        hour=settings.SUSTAIN_RUN_SHEET_HOUR, minute=0, second=0, microsecond=0
    )
    return at if at > now else at + dt.timedelta(days=1)


def schedule_next_run_sheet() -> None:
    """Keep exactly one future run of write_run_sheets waiting in the queue."""
    waiting = DBTaskResult.objects.filter(
        task_path=write_run_sheets.module_path, status=TaskResultStatus.READY
    )
    if not waiting.exists():
        write_run_sheets.using(run_after=next_run(timezone.now())).enqueue()
