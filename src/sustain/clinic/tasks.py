"""The worker's own upkeep (issue 14, item 3): every periodic task stays queued and no task
stays "running" for ever after its worker was killed.

`sustain worker` runs `ensure_periodic_tasks` as it starts, and `housekeeping` repeats it every
HOUSEKEEPING_EVERY while any worker runs, so a sweep lost in any way is queued again.
"""

import datetime as dt

from django.utils import timezone
from django_tasks import task

from sustain.accounts.tasks import (
    keep_one_run_queued,
    recover_stale_tasks,
    schedule_next_retry_sweep,
)
from sustain.portal.tasks import schedule_next_run as schedule_next_due_links
from sustain.scheduling.tasks import schedule_next_reminder_sweep

HOUSEKEEPING_EVERY = dt.timedelta(minutes=5)


def ensure_periodic_tasks(*, now: dt.datetime) -> int:
    """Recover the tasks a dead worker left running, then make sure one run of every periodic
    task waits in the queue; returns how many tasks were recovered."""
    recovered = recover_stale_tasks(now=now)
    schedule_next_due_links()
    schedule_next_reminder_sweep()
    schedule_next_retry_sweep()
    keep_one_run_queued(housekeeping, every=HOUSEKEEPING_EVERY)
    return recovered


@task()
def housekeeping() -> int:
    """Queue the next run first, then `ensure_periodic_tasks`."""
    keep_one_run_queued(housekeeping, every=HOUSEKEEPING_EVERY)
    return ensure_periodic_tasks(now=timezone.now())
