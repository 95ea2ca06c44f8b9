"""Visit reminders, the site's reminder hours (48 h and 24 h by default) before each booked
visit (sustain.care.rules: each site sets its own).

A reminder names the clinic, the visit's local date and time and the site's preparation text
(fasting, an escort, no driving) and a link to confirm the visit or ask to change it
(sustain.scheduling.replies), never the patient or the drug. It
goes through the notification backends (sustain.accounts.notify): e-mail if the patient has an
address, else a text message, else nothing. The worker runs `send_due_reminders` every
SUSTAIN_REMINDERS_EVERY_MINUTES (sustain.scheduling.tasks).
"""

import datetime as dt
from collections.abc import Sequence

from django.db import IntegrityError, transaction

from sustain.accounts import notify
from sustain.accounts.audit import WORKER
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import OutboxMessage, Site
from sustain.care.rules import rules_by_site
from sustain.care.services import record_patient_event
from sustain.scheduling import replies
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment, VisitReminder


def visit_time(appointment: Appointment) -> str:
    """The visit's local date and time as patients read it, with the zone."""
    local = appointment.starts_at.astimezone(appointment.site.tz)
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({local:%Z})"


def reminder_text(appointment: Appointment, *, preparation: str, link: str) -> tuple[str, str]:
    """The subject and body of a visit reminder: the clinic, the local time, the preparation,
    and the link to confirm the visit or ask to change it (sustain.scheduling.replies)."""
    site = appointment.site
    subject = f"Your visit at {site.name}"
    body = (
        f"This is a reminder of your visit at {site.name} on {visit_time(appointment)}.\n\n"
        f"{preparation}\n\n"
        f"Please confirm the visit, or ask to change it, here (no reply needed):\n{link}\n\n"
        f"If you cannot come, please contact {site.name}."
    )
    return subject, body


def send_due_reminders(*, now: dt.datetime) -> int:
    """Queue every reminder that fell due and was not claimed yet; return the messages queued
    (the worker hands each to its backend and retries it; VisitReminder.sent says if it left).

    A visit's reminder for H hours is due once the booked visit starts within H hours and is
    still in the future. When a sweep finds several of a visit's reminders due at once (a
    visit booked 20 h ahead, or a worker that was down), one message covers them all.
    """
    rules = rules_by_site(Site.objects.all())
    longest = max((max(r.reminder_hours, default=0) for r in rules.values()), default=0)
    if not longest:
        return 0
    visits = (
        Appointment.objects.filter(
            status=AppointmentStatus.BOOKED,
            starts_at__gt=now,
            starts_at__lte=now + dt.timedelta(hours=longest),
        )
        .select_related("patient", "site")
        .prefetch_related("reminders")
    )
    sent = 0
    for visit in visits:
        site_rules = rules[visit.site_id]
        done = {
            r.hours_before for r in visit.reminders.all() if r.visit_starts_at == visit.starts_at
        }
        due = [
            h
            for h in site_rules.reminder_hours
            if h not in done and visit.starts_at - now <= dt.timedelta(hours=h)
        ]
        if due and send_reminder(
            visit, hours=due, preparation=site_rules.visit_preparation, now=now
        ):
            sent += 1
    return sent


def send_reminder(
    appointment: Appointment, *, hours: Sequence[int], preparation: str, now: dt.datetime
) -> OutboxMessage | None:
    """Claim the visit's reminders for `hours` and send one message for them.

    Returns None when the message reaches the patient nowhere (Patient.message_address: no
    e-mail or phone, or they asked for no messages), when the visit was cancelled or
    moved meanwhile, or when another sweep claimed the reminders first: the unique
    (appointment, hours_before, visit_starts_at) row is the claim, so two workers racing send
    one message between them.
    """
    patient = appointment.patient
    address = patient.message_address()  # the patient's preferred contact, if stated
    if address is None:
        return None
    channel, to = address
    try:
        with transaction.atomic():
            still_due = Appointment.objects.select_for_update().filter(
                pk=appointment.pk,
                status=AppointmentStatus.BOOKED,
                starts_at=appointment.starts_at,
            )
            if not still_due.exists():
                return None
            claimed = []
            for h in sorted(hours):
                reminder, created = VisitReminder.objects.get_or_create(
                    appointment=appointment,
                    hours_before=h,
                    visit_starts_at=appointment.starts_at,
                    defaults={"queued_at": now},
                )
                if created:
                    claimed.append(reminder)
            if not claimed:
                return None
            link = replies.create_link(appointment, now=now)
            subject, body = reminder_text(appointment, preparation=preparation, link=link)
            message = notify.send(
                site=appointment.site,
                channel=channel,
                to=to,
                subject=subject,
                body=body,
                now=now,
            )
            VisitReminder.objects.filter(pk__in=[r.pk for r in claimed]).update(message=message)
            record_patient_event(
                by=None,
                patient=patient,
                category=DataCategory.SCHEDULE,
                obj=claimed[0],
                unattended=WORKER,
            )
            return message
    except IntegrityError:
        # Another sweep inserted the same reminder between our read and our insert.
        return None
