"""Dead-lettered messages (issue 14, item 2): after the last attempt a message waits on the
clinic administrator's "Messages not sent" page, own sites only, and "Send again" (a POST,
audited) queues a fresh round for the worker."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sustain.accounts.enums import Channel, OutboxStatus
from sustain.accounts.models import AuditEvent, OutboxMessage
from sustain.accounts.tasks import deliver_message

pytestmark = pytest.mark.db


def dead(site, to="pat@example.com", body="Your link: https://x.example/p/SECRET") -> OutboxMessage:
    return OutboxMessage.objects.create(
        site=site,
        channel=Channel.EMAIL,
        to=to,
        subject="Your visit",
        body=body,
        status=OutboxStatus.DEAD,
        created_at=timezone.now() - dt.timedelta(hours=3),
        attempts=5,
        error="SMTP 451: mail system unavailable",
    )


def queued_hand_overs() -> list[list[int]]:
    tasks = DBTaskResult.objects.filter(task_path=deliver_message.module_path, status="READY")
    return [t.args_kwargs["args"] for t in tasks]


def test_the_page_lists_own_sites_dead_letters_with_the_error_but_not_the_body(
    login, alex, north, south
):
    ours, theirs = dead(north), dead(south, to="other@example.com")
    page = login(alex).get("/accounts/outbox/dead/").content.decode()
    assert "pat@example.com" in page and "SMTP 451: mail system unavailable" in page
    assert f"/accounts/outbox/{ours.pk}/send-again/" in page
    assert "other@example.com" not in page and f"/{theirs.pk}/send-again/" not in page
    assert "SECRET" not in page
    assert AuditEvent.objects.filter(category="outbox", action="read", actor=alex).exists()


def test_send_again_queues_a_fresh_round_for_the_worker_and_is_audited(
    login, alex, north, django_capture_on_commit_callbacks
):
    message = dead(north)
    with django_capture_on_commit_callbacks(execute=True):
        answer = login(alex).post(f"/accounts/outbox/{message.pk}/send-again/")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/outbox/dead/"
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.QUEUED, 0)
    assert queued_hand_overs() == [[message.pk]]
    event = AuditEvent.objects.get(reason="send-again")
    assert (event.actor, event.action, event.object_id) == (alex, "update", str(message.pk))


def test_a_second_click_queues_nothing_more(login, alex, north, django_capture_on_commit_callbacks):
    message = dead(north)
    client = login(alex)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/accounts/outbox/{message.pk}/send-again/")
        answer = client.post(f"/accounts/outbox/{message.pk}/send-again/", follow=True)
    assert "already queued or sent" in answer.content.decode()
    assert queued_hand_overs() == [[message.pk]]
    assert AuditEvent.objects.filter(reason="send-again").count() == 1


def test_another_sites_message_is_not_found_and_unchanged(login, alex, south):
    message = dead(south)
    assert login(alex).post(f"/accounts/outbox/{message.pk}/send-again/").status_code == 404
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD and queued_hand_overs() == []


def test_get_changes_nothing_and_other_roles_are_refused(login, alex, sam, north):
    message = dead(north)
    assert login(alex).get(f"/accounts/outbox/{message.pk}/send-again/").status_code == 405
    assert login(sam).post(f"/accounts/outbox/{message.pk}/send-again/").status_code == 403
    assert login(sam).get("/accounts/outbox/dead/").status_code == 403
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD and queued_hand_overs() == []
