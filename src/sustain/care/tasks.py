"""Background work run by `sustain worker` (django-tasks database backend)."""

from django.core.mail import send_mail
from django_tasks import task

from sustain.accounts.enums import Role
from sustain.care.models import Alert


@task()
def notify_suicide_risk_alert(alert_id: int) -> int:
    """Tell the site's prescribers that an item-9 alert is open. Returns messages sent.

    The message names no patient (no patient data in email): it links to the alert list.
    """
    alert = Alert.objects.select_related("patient__site").get(pk=alert_id)
    site = alert.patient.site
    recipients = sorted(
        site.staff.filter(groups__name=Role.PRESCRIBER, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    send_mail(
        subject=f"Sustain: a suicide-risk alert is open at {site.name}",
        message=(
            "A PHQ-9 item 9 answer above 0 was recorded. Open Sustain's alert list to review it "
            f"(alert #{alert.pk})."
        ),
        from_email=None,
        recipient_list=recipients,
    )
    return len(recipients)
