"""Background work for patient self-report, run by `sustain worker`."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from sustain.accounts.enums import Channel
from sustain.accounts.tasks import keep_one_run_queued
from sustain.care.enums import Timepoint
from sustain.care.models import ACTIVE_COURSE_STATUSES, Patient
from sustain.portal import services
from sustain.portal.models import Invitation
from sustain.scheduling import queries as scheduling_queries
from sustain_core import instruments

TIMEPOINTS = {"baseline": Timepoint.BASELINE, "pre_infusion": Timepoint.PRE_INFUSION}
MIN_LINK_LIFETIME = dt.timedelta(hours=1)


def invite_due_patients(*, now: dt.datetime) -> int:
    """Send one link per patient for the self-report measures now due and not yet asked for.

    A measure counts as asked for while an unused, unexpired link covers it. The link lives
    72 h (SUSTAIN_INVITATION_TTL_HOURS) or until the measure's window closes, if sooner.
    Returns the number of links sent.
    """
    patients = Patient.objects.filter(courses__status__in=ACTIVE_COURSE_STATUSES).select_related(
        "site"
    )
    by_id = {p.pk: p for p in patients}
    due = scheduling_queries.due_by_patient(sorted(by_id), now=now)
    sent = 0
    for patient_id, items in due.items():
        patient = by_id[patient_id]
        open_links = Invitation.objects.filter(
            patient=patient, used_at__isnull=True, expires_at__gt=now
        )
        asked = {code for link in open_links for code in link.instruments}
        wanted = [
            item
            for item in items
            if instruments.get_instrument(item.instrument).rater == instruments.Rater.SELF
            and item.instrument not in asked
        ]
        channel = Channel.EMAIL if patient.email else Channel.SMS if patient.phone else None
        if not wanted or channel is None:
            continue
        closes = min(item.closes_at for item in wanted)
        ttl = min(dt.timedelta(hours=settings.SUSTAIN_INVITATION_TTL_HOURS), closes - now)
        with transaction.atomic():
            services.invite_patient(
                patient=patient,
                instrument_codes=list(dict.fromkeys(item.instrument for item in wanted)),
                channel=channel,
                timepoint=TIMEPOINTS.get(wanted[0].rule, Timepoint.FOLLOW_UP),
                by=None,
                now=now,
                ttl=max(ttl, MIN_LINK_LIFETIME),
            )
        sent += 1
    return sent


@task()
def send_due_links() -> int:
    """Schedule the next run first (a run that raises or is killed still runs again, issue
    14), then invite patients with measures due."""
    schedule_next_run()
    return invite_due_patients(now=timezone.now())


def schedule_next_run() -> None:
    """Keep exactly one future run of send_due_links waiting in the queue."""
    every = dt.timedelta(minutes=settings.SUSTAIN_DUE_LINKS_EVERY_MINUTES)
    keep_one_run_queued(send_due_links, every=every)
