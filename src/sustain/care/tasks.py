"""Background work run by `sustain worker` (django-tasks database backend)."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from sustain.accounts import notify
from sustain.accounts.access import users_with_perm
from sustain.accounts.tasks import keep_one_run_queued
from sustain.care import break_glass
from sustain.care.models import Alert


@task()
def notify_alert(alert_id: int) -> int:
    """E-mail the alert's prescriber (or, when none is assigned, the site's prescribers),
    through the outbox, so an SMTP outage delays the e-mail (retries with backoff, then the
    administrator's *Messages not sent*) but never loses it (issue 14, item 4).

    Returns the number of recipients. The message names no patient and no score (no patient
    data in e-mail): it points to the alert list.
    """
    alert = Alert.objects.select_related("patient__site", "assigned_to").get(pk=alert_id)
    site = alert.patient.site
    if alert.assigned_to is not None and alert.assigned_to.email:
        recipients = [alert.assigned_to.email]
    else:
        recipients = sorted(
            users_with_perm("care.prescribe", site)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    with transaction.atomic():
        notify.email_staff(
            site=site,
            emails=recipients,
            subject=f"Sustain: an alert is open at {site.name}",
            body=(
                f"A {alert.get_kind_display().lower()} alert was raised. Open Sustain's alert "
                f"list to review it (alert #{alert.pk})."
            ),
            now=timezone.now(),
        )
    return len(recipients)


@task()
def end_expired_break_glass() -> int:
    """Schedule the next sweep first, then end and audit ("BTG expired") the emergency
    accesses whose time ran out (BTG-02, 03)."""
    schedule_next_break_glass_sweep()
    return break_glass.end_expired(now=timezone.now())


def schedule_next_break_glass_sweep() -> None:
    """Keep exactly one future run of end_expired_break_glass waiting in the queue."""
    every = dt.timedelta(minutes=settings.SUSTAIN_BREAK_GLASS_SWEEP_MINUTES)
    keep_one_run_queued(end_expired_break_glass, every=every)
