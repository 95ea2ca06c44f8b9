"""The outcomes app's background work: the nightly refit of every site's relapse model
(sustain.reports.forecast), kept queued by `ensure_periodic_tasks` (sustain.clinic.tasks)."""

import datetime as dt

from django.utils import timezone
from django_tasks import task

from sustain.accounts.tasks import keep_one_run_queued
from sustain.reports import forecast

REFIT_EVERY = dt.timedelta(hours=24)


@task()
def refit_relapse_models() -> int:
    """Queue the next night's run first, then fit every site's model; return how many."""
    schedule_next_refit()
    return len(forecast.fit_all_sites(now=timezone.now()))


def schedule_next_refit() -> None:
    """Keep exactly one future run of refit_relapse_models waiting in the queue."""
    keep_one_run_queued(refit_relapse_models, every=REFIT_EVERY)
