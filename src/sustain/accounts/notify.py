"""Pluggable notification backends (SUSTAIN_NOTIFICATION_BACKEND).

Every message is first written to the outbox table; the backend decides whether it leaves the
machine. Messages carry links and clinic names only, never a patient's name or clinical data.
"""

import datetime as dt
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.module_loading import import_string

from sustain.accounts.enums import Channel, OutboxStatus
from sustain.accounts.models import OutboxMessage, Site


class Backend(Protocol):
    def deliver(self, message: OutboxMessage) -> OutboxStatus: ...


class OutboxBackend:
    """Default: keep the message in the outbox, which clinic administrators can read."""

    def deliver(self, message: OutboxMessage) -> OutboxStatus:
        return OutboxStatus.HELD


class DjangoEmailBackend:
    """E-mail through Django's EMAIL_BACKEND; text messages stay in the outbox."""

    def deliver(self, message: OutboxMessage) -> OutboxStatus:
        if message.channel != Channel.EMAIL:
            return OutboxStatus.HELD
        send_mail(message.subject, message.body, None, [message.to])
        return OutboxStatus.SENT


def send(
    *, site: Site, channel: Channel, to: str, subject: str, body: str, now: dt.datetime
) -> OutboxMessage:
    """Write the message to the outbox now; hand it to the backend once the caller commits."""
    message = OutboxMessage.objects.create(
        site=site,
        channel=channel,
        to=to,
        subject=subject,
        body=body,
        status=OutboxStatus.HELD,
        created_at=now,
    )
    transaction.on_commit(lambda: deliver(message))
    return message


def deliver(message: OutboxMessage) -> None:
    backend: Backend = import_string(settings.SUSTAIN_NOTIFICATION_BACKEND)()
    status = backend.deliver(message)
    if status != message.status:
        message.status = status
        message.save(update_fields=["status"])
