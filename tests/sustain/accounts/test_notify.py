"""Messages that reach people (issue 13, item 9): e-mail through Django's backends (a real SMTP
conversation), text messages through a Twilio-compatible HTTP API (a real local server), the
delivery status of each message, retries by the worker and the provider's signed reports."""

import base64
import datetime as dt
import os
import subprocess
import sys
import urllib.parse

import pytest
import time_machine
from django.core import mail
from django_tasks_db.models import DBTaskResult

from sustain.accounts import notify
from sustain.accounts.enums import Channel
from sustain.accounts.models import OutboxMessage
from sustain.accounts.tasks import retry_messages, schedule_next_retry_sweep
from tests.sustain.accounts.servers import sms_provider, smtp_server
from tests.sustain.worker import hand_over_messages

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
EMAIL = "sustain.accounts.notify.DjangoEmailBackend"
TWILIO = "sustain.accounts.notify.TwilioSmsBackend"


def send(site, capture, channel=Channel.EMAIL, to="pat@example.com") -> OutboxMessage:
    with capture(execute=True):
        message = notify.send(
            site=site, channel=channel, to=to, subject="Your visit", body="See you soon.", now=NOW
        )
    with time_machine.travel(NOW, tick=False):
        hand_over_messages()  # what the worker does next (issue 14: never inside the request)
    message.refresh_from_db()
    return message


def status(message: OutboxMessage) -> tuple[str, int, str]:
    message.refresh_from_db()
    return message.status, message.attempts, message.error


@pytest.fixture
def smtp(settings):
    with smtp_server() as (port, mailbox):
        settings.SUSTAIN_NOTIFICATION_BACKEND = EMAIL
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.DEFAULT_FROM_EMAIL = "clinic@north.example"
        yield mailbox


@pytest.fixture
def provider(settings):
    with sms_provider() as (url, provider):
        settings.SUSTAIN_SMS_BACKEND = TWILIO
        settings.SUSTAIN_SMS_BASE_URL = url
        settings.SUSTAIN_SMS_ACCOUNT_SID = "AC123"
        settings.SUSTAIN_SMS_AUTH_TOKEN = "secret-token"  # noqa: S105 - a test token
        settings.SUSTAIN_SMS_FROM = "+15550001111"
        yield provider


# -- defaults ---------------------------------------------------------------------------------


def test_by_default_every_message_is_held_in_the_outbox(north, django_capture_on_commit_callbacks):
    for channel, to in ((Channel.EMAIL, "pat@example.com"), (Channel.SMS, "+15550100")):
        message = send(north, django_capture_on_commit_callbacks, channel, to)
        assert (message.status, message.attempts, message.sent_at) == ("held", 1, None)
    assert mail.outbox == []


def test_a_message_is_queued_until_the_caller_commits(north):
    message = notify.send(
        site=north, channel=Channel.EMAIL, to="pat@example.com", subject="s", body="b", now=NOW
    )
    assert status(message) == ("queued", 0, "")


# -- e-mail -----------------------------------------------------------------------------------


def test_email_goes_through_djangos_email_backend(
    settings, north, django_capture_on_commit_callbacks
):
    settings.SUSTAIN_NOTIFICATION_BACKEND = EMAIL
    settings.DEFAULT_FROM_EMAIL = "clinic@north.example"
    message = send(north, django_capture_on_commit_callbacks)
    [sent] = mail.outbox  # pytest-django's locmem backend
    assert (sent.to, sent.subject, sent.body, sent.from_email) == (
        ["pat@example.com"],
        "Your visit",
        "See you soon.",
        "clinic@north.example",
    )
    assert (message.status, message.attempts, message.error) == ("sent", 1, "")
    assert message.sent_at is not None


def test_email_is_a_real_smtp_conversation(smtp, north, django_capture_on_commit_callbacks):
    message = send(north, django_capture_on_commit_callbacks)
    [(sender, recipients, data)] = smtp.messages
    assert (sender, recipients) == ("clinic@north.example", ["pat@example.com"])
    assert "Subject: Your visit" in data and "See you soon." in data
    verbs = [line.split(":")[0].split(" ")[0].upper() for line in smtp.conversation]
    assert verbs == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    assert status(message) == ("sent", 1, "")


def test_a_refused_address_is_recorded_with_the_servers_error(
    smtp, north, django_capture_on_commit_callbacks
):
    smtp.refuse.add("pat@example.com")
    message = send(north, django_capture_on_commit_callbacks)
    assert status(message) == ("failed", 1, "SMTP 550: 5.1.1 mailbox unavailable")
    assert smtp.messages == []


def test_an_unreachable_server_fails_the_message_and_never_the_page(
    settings, north, django_capture_on_commit_callbacks
):
    with smtp_server() as (port, _):
        pass  # the port is closed now
    settings.SUSTAIN_NOTIFICATION_BACKEND = EMAIL
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    message = send(north, django_capture_on_commit_callbacks)
    state, attempts, error = status(message)
    assert (state, attempts) == ("failed", 1)
    assert error.startswith("ConnectionRefusedError")


def settings_from(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, "
        "s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, s.DEFAULT_FROM_EMAIL)"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("SUSTAIN_EMAIL")}
    return subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code],
        env=base | {"DJANGO_SETTINGS_MODULE": "sustain.settings", "PYTHONPATH": "src"} | env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_smtp_settings_come_from_the_environment():
    done = settings_from(
        {
            "SUSTAIN_EMAIL_HOST": "smtp.example.org",
            "SUSTAIN_EMAIL_PORT": "2525",
            "SUSTAIN_EMAIL_USER": "clinic",
            "SUSTAIN_EMAIL_PASSWORD": "pw",
            "SUSTAIN_EMAIL_FROM": "North <north@example.org>",
        }
    )
    assert done.stdout.split(" ", 7) == [
        "django.core.mail.backends.smtp.EmailBackend", "smtp.example.org", "2525", "clinic",
        "pw", "True", "False", "North <north@example.org>\n",
    ]  # fmt: skip
    assert settings_from({}).stdout.startswith("django.core.mail.backends.console.EmailBackend")


def test_tls_and_ssl_together_are_refused_naming_both():
    done = settings_from({"SUSTAIN_EMAIL_USE_TLS": "1", "SUSTAIN_EMAIL_USE_SSL": "1"})
    assert done.returncode != 0
    assert "SUSTAIN_EMAIL_USE_TLS" in done.stderr and "SUSTAIN_EMAIL_USE_SSL" in done.stderr


# -- text messages ----------------------------------------------------------------------------


def test_a_text_goes_to_the_providers_api(provider, north, django_capture_on_commit_callbacks):
    message = send(north, django_capture_on_commit_callbacks, Channel.SMS, "+15550100")
    [request] = provider.requests
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["authorization"] == "Basic " + base64.b64encode(b"AC123:secret-token").decode()
    assert request["content_type"] == "application/x-www-form-urlencoded"
    form = dict(urllib.parse.parse_qsl(str(request["body"])))
    assert form == {
        "To": "+15550100",
        "From": "+15550001111",
        "Body": "See you soon.",
        "StatusCallback": "http://127.0.0.1:8000/accounts/notify/sms-status/",
    }
    assert status(message) == ("sent", 1, "")
    assert message.provider_id == "SM0001"


def test_email_still_goes_to_the_email_backend_when_texts_use_the_provider(
    provider, north, django_capture_on_commit_callbacks
):
    message = send(north, django_capture_on_commit_callbacks)
    assert provider.requests == []
    assert status(message) == ("held", 1, "")


def test_the_providers_refusal_is_recorded_with_its_code_and_message(
    provider, north, django_capture_on_commit_callbacks
):
    provider.answer = (400, {"code": 21211, "message": "The 'To' number is not valid."})
    message = send(north, django_capture_on_commit_callbacks, Channel.SMS, "+1")
    assert status(message) == ("failed", 1, "HTTP 400 21211: The 'To' number is not valid.")


def test_the_twilio_backend_without_its_settings_is_refused_at_startup():
    done = settings_from({"SUSTAIN_SMS_BACKEND": TWILIO})
    assert done.returncode != 0
    assert "SUSTAIN_SMS_ACCOUNT_SID" in done.stderr


# -- retries ----------------------------------------------------------------------------------


def test_the_worker_retries_a_failed_message_with_growing_waits_until_it_is_sent(
    provider, north, django_capture_on_commit_callbacks
):
    provider.answer = (503, {"message": "Service unavailable"})
    message = send(north, django_capture_on_commit_callbacks, Channel.SMS, "+15550100")
    assert status(message) == ("failed", 1, "HTTP 503: Service unavailable")
    assert message.next_attempt_at == NOW + dt.timedelta(minutes=10)
    assert notify.retry_failed(now=NOW + dt.timedelta(minutes=9)) == 0  # not yet
    assert notify.retry_failed(now=NOW + dt.timedelta(minutes=10)) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 2)
    assert message.next_attempt_at == NOW + dt.timedelta(minutes=30)  # 20 minutes later
    assert notify.retry_failed(now=NOW + dt.timedelta(minutes=29)) == 0
    provider.answer = (201, {"sid": "SM0002"})
    assert notify.retry_failed(now=NOW + dt.timedelta(minutes=30)) == 1
    assert status(message) == ("sent", 3, "")
    assert notify.retry_failed(now=NOW + dt.timedelta(days=1)) == 0
    assert len(provider.requests) == 3


def test_each_attempt_queues_the_next_one_first(
    provider, north, django_capture_on_commit_callbacks
):
    """The worker's task for the next attempt is queued when an attempt starts, so a worker
    killed mid hand-over still leaves the message to be tried again."""
    provider.answer = (503, {})
    message = send(north, django_capture_on_commit_callbacks, Channel.SMS, "+15550100")
    waiting = DBTaskResult.objects.filter(status="READY")
    assert [t.args_kwargs["args"] for t in waiting] == [[message.pk]]
    assert waiting.get().run_after == NOW + dt.timedelta(minutes=10)


def test_the_last_failure_dead_letters_the_message(
    settings, provider, north, django_capture_on_commit_callbacks
):
    settings.SUSTAIN_NOTIFY_MAX_ATTEMPTS = 3
    provider.answer = (500, {})
    message = send(north, django_capture_on_commit_callbacks, Channel.SMS, "+15550100")
    tried = [notify.retry_failed(now=NOW + dt.timedelta(minutes=n)) for n in (10, 30, 70, 200)]
    assert tried == [1, 1, 0, 0]
    assert status(message) == ("dead", 3, "HTTP 500: Internal Server Error")
    assert len(provider.requests) == 3


def test_a_mail_outage_delays_but_never_loses_the_message(
    smtp, north, django_capture_on_commit_callbacks
):
    """A real SMTP server on loopback that refuses with 451 twice, then accepts."""
    smtp.refuse_next = 2
    message = send(north, django_capture_on_commit_callbacks)
    assert status(message)[:2] == ("failed", 1) and message.error.startswith("SMTP 451")
    for minutes in (10, 30):
        notify.retry_failed(now=NOW + dt.timedelta(minutes=minutes))
    assert status(message) == ("sent", 3, "")
    assert len(smtp.messages) == 1


def test_a_message_whose_hand_over_never_ran_is_sent_by_the_sweep(settings, north):
    settings.SUSTAIN_NOTIFICATION_BACKEND = EMAIL
    message = notify.send(
        site=north, channel=Channel.EMAIL, to="pat@example.com", subject="s", body="b", now=NOW
    )  # the commit hook never runs inside the test's transaction
    assert notify.retry_failed(now=NOW) == 0  # its own queued task has a minute to run
    assert notify.retry_failed(now=NOW + dt.timedelta(minutes=2)) == 1
    assert status(message) == ("sent", 1, "")
    assert len(mail.outbox) == 1


def test_the_retry_sweep_keeps_one_run_queued(north):
    schedule_next_retry_sweep()
    schedule_next_retry_sweep()
    assert DBTaskResult.objects.filter(task_path=retry_messages.module_path).count() == 1
    assert retry_messages.call() == 0
    assert DBTaskResult.objects.filter(task_path=retry_messages.module_path).count() == 1


# -- the provider's delivery reports ----------------------------------------------------------

CALLBACK = "http://127.0.0.1:8000/accounts/notify/sms-status/"


def report(client, params: dict[str, str], signature: str | None = None):
    signature = signature or notify.provider_signature(CALLBACK, params)
    return client.post(
        "/accounts/notify/sms-status/", params, headers={"X-Twilio-Signature": signature}
    )


@pytest.fixture
def texted(provider, north, django_capture_on_commit_callbacks) -> OutboxMessage:
    return send(north, django_capture_on_commit_callbacks, Channel.SMS, "+15550100")


def test_a_signed_report_marks_the_text_delivered(client, texted):
    answer = report(client, {"MessageSid": "SM0001", "MessageStatus": "delivered"})
    assert answer.status_code == 204
    texted.refresh_from_db()
    assert (texted.status, texted.delivered_at is not None) == ("delivered", True)


def test_a_report_of_failure_keeps_the_providers_code(client, texted):
    params = {"MessageSid": "SM0001", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert report(client, params).status_code == 204
    assert status(texted) == ("undelivered", 1, "provider error 30003")


def test_an_unsigned_or_forged_report_changes_nothing(client, texted):
    params = {"MessageSid": "SM0001", "MessageStatus": "delivered"}
    assert client.post("/accounts/notify/sms-status/", params).status_code == 403
    assert report(client, params, signature="AAAA").status_code == 403
    forged = notify.provider_signature(CALLBACK, params | {"MessageStatus": "failed"})
    assert report(client, params, signature=forged).status_code == 403
    assert status(texted) == ("sent", 1, "")


def test_reports_are_refused_when_no_provider_is_configured(client, settings, north):
    settings.SUSTAIN_SMS_AUTH_TOKEN = ""
    params = {"MessageSid": "SM0001", "MessageStatus": "delivered"}
    assert report(client, params).status_code == 403


def test_the_outbox_shows_each_messages_status_and_error(
    provider, north, alex, login, django_capture_on_commit_callbacks
):
    provider.answer = (400, {"code": 21211, "message": "The 'To' number is not valid."})
    send(north, django_capture_on_commit_callbacks, Channel.SMS, "+1")
    page = login(alex).get("/accounts/outbox/").content.decode()
    assert (
        "Failed" in page
        and "Error: HTTP 400 21211: The &#x27;To&#x27; number is not valid." in page
    )
