"""The clinic's background work, run by `sustain worker`.

- The worker's own upkeep (issue 14, item 3): every periodic task stays queued and no task stays
  "running" for ever after its worker was killed. `sustain worker` runs `ensure_periodic_tasks`
  as it starts, and `housekeeping` repeats it every HOUSEKEEPING_EVERY while any worker runs, so
  a sweep lost in any way is queued again.
- The nightly downtime run sheet (sustain.clinic.run_sheet, BTG-04).
"""

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from sustain.accounts.tasks import (
    keep_one_run_queued,
    recover_stale_tasks,
    schedule_next_anchor,
    schedule_next_retry_sweep,
)
from sustain.care.tasks import schedule_next_break_glass_sweep
from sustain.clinic import run_sheet
from sustain.interop.tasks import schedule_next_export_cleanup
from sustain.ledger.tasks import schedule_next_reconciliation
from sustain.portal.tasks import schedule_next_run as schedule_next_due_links
from sustain.reports.tasks import schedule_next_refit
from sustain.scheduling.tasks import schedule_next_reminder_sweep

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = dt.timedelta(minutes=5)


def ensure_periodic_tasks(*, now: dt.datetime) -> int:
    """Recover the tasks a dead worker left running, then make sure one run of every periodic
    task waits in the queue; returns how many tasks were recovered."""
    recovered = recover_stale_tasks(now=now)
    schedule_next_due_links()
    schedule_next_reminder_sweep()
    schedule_next_retry_sweep()
    schedule_next_anchor()
    schedule_next_break_glass_sweep()
    schedule_next_run_sheet()
    schedule_next_reconciliation()
    schedule_next_export_cleanup()
    schedule_next_refit()
    keep_one_run_queued(housekeeping, every=HOUSEKEEPING_EVERY)
    return recovered


@task()
def housekeeping() -> int:
    """Queue the next run first, then `ensure_periodic_tasks`."""
    keep_one_run_queued(housekeeping, every=HOUSEKEEPING_EVERY)
    return ensure_periodic_tasks(now=timezone.now())


@task()
def write_run_sheets() -> int:
    """Schedule the next night's run first, then write each site's encrypted run sheet for its
    tomorrow; return how many were written. Without the password nothing is written and the
    refusal is logged as an error (the next night tries again)."""
    schedule_next_run_sheet()
    try:
        return len(run_sheet.write_nightly(now=timezone.now()))
    except run_sheet.RunSheetRefused as refused:
        log.error("run sheet not written: %s", refused)
        return 0


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
