"""Background work run by `sustain worker` (django-tasks database backend)."""

from django.core.mail import send_mail
from django_tasks import task

from sustain.accounts.access import users_with_perm
from sustain.care.models import Alert


@task()
def notify_alert(alert_id: int) -> int:
    """E-mail the alert's prescriber (or, when none is assigned, the site's prescribers).

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
    if not recipients:
        return 0
    send_mail(
        subject=f"Sustain: an alert is open at {site.name}",
        message=(
            f"A {alert.get_kind_display().lower()} alert was raised. Open Sustain's alert list to "
            f"review it (alert #{alert.pk})."
        ),
        from_email=None,
        recipient_list=recipients,
    )
    return len(recipients)
