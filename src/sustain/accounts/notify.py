"""Pluggable notification backends: e-mail (SUSTAIN_NOTIFICATION_BACKEND) and text messages
(SUSTAIN_SMS_BACKEND), each holding messages in the outbox unless a clinic configures more.

Every message is first written to the outbox table (status "queued"); once the caller commits,
a task is queued and the worker (sustain.accounts.tasks) hands the message to the channel's
backend, recording its answer on the row: held, sent (with the provider's id), or failed with
the provider's error. A failed message is handed over again after an exponential backoff
(`next_attempt_at`), up to SUSTAIN_NOTIFY_MAX_ATTEMPTS times, then dead-lettered for a clinic
administrator to send again (issue 14, OPS reliability: nothing lost, nothing inside the
request). An SMS provider's
status callback marks a sent text delivered or undelivered (`record_provider_status`).

Messages carry links and clinic names only, never a patient's name or clinical data. Logs name
the message's id, never its address or text.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils.module_loading import import_string

from sustain.accounts.enums import Channel, OutboxStatus
from sustain.accounts.models import OutboxMessage, Site

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The backend or its provider refused the message; the text is the provider's error."""


@dataclass(frozen=True)
class Delivery:
    """A backend's answer: held here, or sent with the provider's id for the message."""

    status: OutboxStatus
    provider_id: str = ""


class Backend(Protocol):
    def deliver(self, message: OutboxMessage) -> Delivery: ...


class OutboxBackend:
    """Default: keep the message in the outbox, which clinic administrators can read."""

    def deliver(self, message: OutboxMessage) -> Delivery:
        return Delivery(OutboxStatus.HELD)


class DjangoEmailBackend:
    """E-mail through Django's EMAIL_BACKEND (SMTP settings from SUSTAIN_EMAIL_*)."""

    def deliver(self, message: OutboxMessage) -> Delivery:
        if message.channel != Channel.EMAIL:
            return Delivery(OutboxStatus.HELD)
        try:
            send_mail(message.subject, message.body, None, [message.to], fail_silently=False)
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(_smtp_error(error)) from error
        return Delivery(OutboxStatus.SENT)


def _smtp_error(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return f"SMTP {code}: {_text(text)}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP {error.smtp_code}: {_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}"


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class TwilioSmsBackend:
    """Text messages through a Twilio-compatible HTTP API (SUSTAIN_SMS_* settings).

    POST {base}/2010-04-01/Accounts/{sid}/Messages.json with To, From, Body and a
    StatusCallback URL, HTTP basic authentication with the account SID and token. A 2xx answer
    carries the message's "sid"; any other answer's "code" and "message" are the error kept.
    """

    def deliver(self, message: OutboxMessage) -> Delivery:
        if message.channel != Channel.SMS:
            return Delivery(OutboxStatus.HELD)
        sid = settings.SUSTAIN_SMS_ACCOUNT_SID
        url = f"{settings.SUSTAIN_SMS_BASE_URL.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
        form = {
            "To": message.to,
            "From": settings.SUSTAIN_SMS_FROM,
            "Body": message.body,
            "StatusCallback": status_callback_url(),
        }
        credentials = base64.b64encode(f"{sid}:{settings.SUSTAIN_SMS_AUTH_TOKEN}".encode())
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's setting
            url,
            data=urllib.parse.urlencode(form).encode(),
            headers={"Authorization": "Basic " + credentials.decode()},
            method="POST",
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=settings.SUSTAIN_SMS_TIMEOUT
            ) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise DeliveryFailed(_provider_error(error)) from error
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
        return Delivery(OutboxStatus.SENT, provider_id=str(answer.get("sid", ""))[:64])


def _provider_error(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("message"):
        code = f" {body['code']}" if body.get("code") else ""
        return f"HTTP {error.code}{code}: {body['message']}"
    return f"HTTP {error.code}: {error.reason}"


def status_callback_url() -> str:
    """Where the SMS provider reports delivery (SUSTAIN_BASE_URL + the callback's path)."""
    return settings.SUSTAIN_BASE_URL.rstrip("/") + reverse("accounts:sms_status")


def provider_signature(url: str, params: Mapping[str, str]) -> str:
    """Twilio's request signature: base64 HMAC-SHA1, keyed with the auth token, of the URL
    followed by every parameter's name and value in name order."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(
        settings.SUSTAIN_SMS_AUTH_TOKEN.encode(), payload.encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


# The provider's final states we record; "queued", "sending", "sent" change nothing here.
PROVIDER_STATUSES = {"delivered": OutboxStatus.DELIVERED, "undelivered": OutboxStatus.UNDELIVERED}
PROVIDER_FAILED = "failed"


@transaction.atomic
def record_provider_status(
    *, provider_id: str, status: str, error_code: str, now: dt.datetime
) -> OutboxMessage | None:
    """Record what the provider reported for a sent message; None if the id is unknown."""
    message = (
        OutboxMessage.objects.select_for_update().filter(provider_id=provider_id).first()
        if provider_id
        else None
    )
    if message is None:
        return None
    fields = ["status", "error"]
    if status in PROVIDER_STATUSES:
        message.status = PROVIDER_STATUSES[status]
        if message.status == OutboxStatus.DELIVERED:
            message.delivered_at = now
            fields.append("delivered_at")
    elif status == PROVIDER_FAILED:
        message.status = OutboxStatus.FAILED
    else:
        return message
    message.error = f"provider error {error_code}" if error_code else ""
    message.save(update_fields=fields)
    return message


def send(
    *,
    site: Site,
    channel: Channel,
    to: str,
    subject: str,
    body: str,
    now: dt.datetime,
    to_staff: bool = False,
) -> OutboxMessage:
    """Write the message to the outbox now; once the caller commits, queue its hand-over for
    the worker (the page never waits for an SMTP server or an SMS provider). `to_staff`: a
    staff alert, e-mailed through Django's EMAIL_BACKEND (backend_for) with the same retries
    and dead letters as patients' messages."""
    message = OutboxMessage.objects.create(
        site=site,
        channel=channel,
        to=to,
        subject=subject,
        body=body,
        to_staff=to_staff,
        status=OutboxStatus.QUEUED,
        created_at=now,
        next_attempt_at=now,
    )
    transaction.on_commit(lambda: enqueue_hand_over(message.pk, at=None))
    return message


def enqueue_hand_over(message_id: int, *, at: dt.datetime | None) -> None:
    """Queue one hand-over of the message for the worker (sustain.accounts.tasks), at `at`."""
    from sustain.accounts.tasks import deliver_message  # noqa: PLC0415 - tasks imports notify

    task = deliver_message if at is None else deliver_message.using(run_after=at)
    task.enqueue(message_id)


def email_staff(
    *, site: Site, emails: Iterable[str], subject: str, body: str, now: dt.datetime
) -> int:
    """A staff alert e-mailed to each address through the outbox (`to_staff`: SUSTAIN_EMAIL_*
    whatever backend patients' messages use), so an outage delays it but never loses it; the
    caller keeps patient data out of it. Returns how many were queued."""
    count = 0
    for to in emails:
        send(
            site=site, channel=Channel.EMAIL, to=to, subject=subject, body=body, now=now,
            to_staff=True,
        )  # fmt: skip
        count += 1
    return count


def backend_for(message: OutboxMessage) -> Backend:
    if message.to_staff:
        return DjangoEmailBackend()
    path = (
        settings.SUSTAIN_SMS_BACKEND
        if message.channel == Channel.SMS
        else settings.SUSTAIN_NOTIFICATION_BACKEND
    )
    backend: Backend = import_string(path)()
    return backend


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the `attempts`-th hand-over before the next one: exponential,
    SUSTAIN_NOTIFY_BACKOFF_SECONDS doubled each time (10, 20, 40, 80 min by default), at most
    a day."""
    seconds = settings.SUSTAIN_NOTIFY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, 86_400))


RETRYABLE = (OutboxStatus.QUEUED, OutboxStatus.FAILED)


def deliver(message: OutboxMessage, *, now: dt.datetime) -> bool:
    """Hand the message to its channel's backend once and record the answer; False if the
    message was not due (already sent, dead-lettered, claimed by another worker, or waiting
    for its next attempt).

    The attempt is claimed by one conditional UPDATE on (status, attempts, next_attempt_at),
    so two workers send it once between them. In the same transaction the next attempt is
    queued at the backoff time, first: if this worker is killed while the backend talks, the
    message is handed over again (and the queued attempt finds nothing to do once the message
    is sent). The status says "sent" only after the backend accepted the message. A failure
    on the last of SUSTAIN_NOTIFY_MAX_ATTEMPTS hand-overs dead-letters the message, for a
    clinic administrator to send again (`send_again`). Whatever the backend raises is
    recorded, never raised.

    The one window left: a worker killed after the provider accepted the message and before
    the answer is saved sends it again on the next attempt (at least once, never lost).
    """
    with transaction.atomic():
        claimed = (
            OutboxMessage.objects.filter(
                pk=message.pk,
                status__in=RETRYABLE,
                attempts=message.attempts,
                attempts__lt=settings.SUSTAIN_NOTIFY_MAX_ATTEMPTS,
            )
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .update(
                attempts=F("attempts") + 1,
                last_attempt_at=now,
                next_attempt_at=now + backoff(message.attempts + 1),
            )
        )
        if not claimed:
            return False
        message.attempts += 1
        message.last_attempt_at = now
        message.next_attempt_at = now + backoff(message.attempts)
        last = message.attempts >= settings.SUSTAIN_NOTIFY_MAX_ATTEMPTS
        if not last:
            enqueue_hand_over(message.pk, at=message.next_attempt_at)
    try:
        result = backend_for(message).deliver(message)
    except DeliveryFailed as failure:
        message.status, message.error = OutboxStatus.FAILED, str(failure)[:500]
        log.warning("message %s failed (attempt %s)", message.pk, message.attempts)
    except Exception as error:  # a backend's bug must not lose the message or break the page
        message.status, message.error = OutboxStatus.FAILED, type(error).__name__
        log.error("message %s: backend raised %s", message.pk, type(error).__name__)
    else:
        message.status, message.provider_id, message.error = result.status, result.provider_id, ""
        if result.status == OutboxStatus.SENT:
            message.sent_at = now
        message.next_attempt_at = None
    if message.status == OutboxStatus.FAILED and last:
        message.status, message.next_attempt_at = OutboxStatus.DEAD, None
        log.warning("message %s dead-lettered after %s attempts", message.pk, message.attempts)
    message.save(update_fields=["status", "provider_id", "error", "sent_at", "next_attempt_at"])
    return True


def retry_failed(*, now: dt.datetime) -> int:
    """The worker's safety net: hand over every failed or queued message whose next attempt
    is due (one whose queued hand-over was lost, e.g. a process stopped before its commit hook
    ran); return how many were handed over."""
    lost = now - dt.timedelta(minutes=1)  # a new message's own task had a minute to run
    due = OutboxMessage.objects.filter(
        Q(status=OutboxStatus.FAILED, next_attempt_at__lte=now)
        | Q(status=OutboxStatus.QUEUED, next_attempt_at__lte=lost)
        | Q(status__in=RETRYABLE, next_attempt_at__isnull=True),
        attempts__lt=settings.SUSTAIN_NOTIFY_MAX_ATTEMPTS,
    ).order_by("pk")
    return sum(deliver(message, now=now) for message in due)


class NotDeadLettered(Exception):
    """Only a dead-lettered message can be sent again."""


@transaction.atomic
def send_again(message_id: int, *, sites: Iterable[Site], now: dt.datetime) -> OutboxMessage:
    """A clinic administrator's "Send again" of a dead-lettered message of one of their sites:
    a fresh round of attempts, handed over by the worker once this commits. Raises
    OutboxMessage.DoesNotExist for another site's message and NotDeadLettered when it is not
    (or no longer) dead-lettered, so two clicks queue it once."""
    message = OutboxMessage.objects.select_for_update().get(pk=message_id, site__in=sites)
    if message.status != OutboxStatus.DEAD:
        raise NotDeadLettered
    message.status, message.attempts, message.next_attempt_at = OutboxStatus.QUEUED, 0, now
    message.save(update_fields=["status", "attempts", "next_attempt_at"])
    transaction.on_commit(lambda: enqueue_hand_over(message.pk, at=None))
    return message
