"""Patient self-report links: signed, expiring, single-use (issue 3, item 5)."""

import datetime as dt
import re
import threading

import pytest
import time_machine
from django.db import connection
from django.test import Client

from sustain.accounts.models import AuditEvent, OutboxMessage
from sustain.care.models import Assessment
from sustain.portal import services
from sustain.portal.models import Invitation
from sustain_core.errors import ClinicalValueError
from tests.sustain.conftest import make_user
from tests.sustain.worker import hand_over_messages

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)


def invite(pat, by, codes=("phq9", "gad7"), channel="email", now=NOW):
    _, url = services.invite_patient(
        patient=pat, instrument_codes=list(codes), channel=channel, timepoint="follow_up",
        by=by, now=now,
    )  # fmt: skip
    return url.removeprefix("http://127.0.0.1:8000")


def form_data(phq9=(1,) * 9, gad7=(1,) * 7) -> dict[str, str]:
    data = {f"phq9-{n}": str(v) for n, v in enumerate(phq9, start=1)}
    return data | {f"gad7-{n}": str(v) for n, v in enumerate(gad7, start=1)}


def link_events():
    return list(
        AuditEvent.objects.filter(actor_username="patient-link").values_list(
            "action", "outcome", "reason"
        )
    )


def test_invitation_is_held_in_the_outbox_without_patient_data(
    pat, ben, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        path = invite(pat, ben)
    assert OutboxMessage.objects.get().status == "queued"  # the worker hands it over (issue 14)
    hand_over_messages()
    message = OutboxMessage.objects.get()
    invitation = Invitation.objects.get()
    assert (message.channel, message.to, message.status) == ("email", "pat@example.com", "held")
    assert message.subject == "North Clinic: a short questionnaire before your next visit"
    assert f"http://127.0.0.1:8000{path}" in message.body
    assert "expires in 72 hours" in message.body
    for secret in ("Pat", "Quinn", "1980"):
        assert secret not in message.subject + message.body + path
    assert invitation.expires_at - invitation.created_at == dt.timedelta(hours=72)
    assert len(invitation.nonce_hash) == 64 and invitation.nonce_hash not in path


@time_machine.travel(NOW, tick=False)
def test_patient_opens_link_and_answers_both_questionnaires(pat, ben):
    path = invite(pat, ben)
    client = Client()

    page = client.get(path)
    html = page.content.decode()
    assert page.status_code == 200
    assert "988" in html  # crisis resources on every page
    assert "Quinn" not in html and "1980-05-17" not in html  # nothing else about the patient
    assert [f.instrument.code for f in page.context["forms"]] == ["phq9", "gad7"]

    done = client.post(path, form_data(phq9=(2, 2, 2, 1, 1, 1, 1, 0, 0)))
    assessments = list(Assessment.objects.order_by("instrument"))
    assert (done.status_code, "Thank you" in done.content.decode()) == (200, True)
    assert [(a.instrument, a.total_score, a.source, a.recorded_by) for a in assessments] == [
        ("gad7", 7, "self_report", None),
        ("phq9", 10, "self_report", None),
    ]
    assert Invitation.objects.get().used_at == NOW
    assert link_events() == [
        ("read", "success", ""),  # the page was opened
        ("create", "success", ""),  # each questionnaire was saved
        ("create", "success", ""),
    ]
    creates = AuditEvent.objects.filter(category="questionnaire", action="create")
    assert set(creates.values_list("patient_id", flat=True)) == {pat.pk}


@time_machine.travel(NOW, tick=False)
def test_used_link_is_refused_and_the_attempt_audited(pat, ben):
    path = invite(pat, ben)
    client = Client()
    client.post(path, form_data())
    again = client.post(path, form_data(phq9=(3,) * 9))
    page = client.get(path)
    assert (again.status_code, page.status_code) == (410, 410)
    assert "already been used" in page.content.decode()
    assert Assessment.objects.count() == 2
    assert link_events()[-2:] == [("read", "denied", "used"), ("read", "denied", "used")]


def test_expired_link_is_refused(pat, ben):
    path = invite(pat, ben)
    with time_machine.travel(NOW + dt.timedelta(hours=72), tick=False):
        response = Client().get(path)
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert link_events() == [("read", "denied", "expired")]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda path: path.replace("/r/", "/r/9"),  # another invitation id
        lambda path: path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:],  # signature
        lambda path: "/r/not-a-token/",
    ],
)
@time_machine.travel(NOW, tick=False)
def test_tampered_link_is_refused(pat, ben, tamper):
    path = invite(pat, ben)
    response = Client().post(tamper(path), form_data())
    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert Assessment.objects.count() == 0
    assert link_events() == [("read", "denied", "tampered")]


@time_machine.travel(NOW, tick=False)
def test_every_missing_item_is_named_at_once(pat, ben):
    path = invite(pat, ben)
    data = form_data()
    for key in ("gad7-2", "gad7-5", "gad7-7"):
        del data[key]
    response = Client().post(path, data)
    assert response.status_code == 400
    assert response.context["forms"][1].errors["2"] == ["GAD-7 items 2, 5 and 7 are missing"]
    assert Assessment.objects.count() == 0


@time_machine.travel(NOW, tick=False)
def test_invalid_answer_saves_nothing_and_keeps_the_link(pat, ben):
    path = invite(pat, ben)
    client = Client()
    data = form_data()
    del data["gad7-3"]
    response = client.post(path, data)
    gad7 = response.context["forms"][1]
    assert response.status_code == 400
    assert gad7.errors["3"] == ["GAD-7 item 3 is missing"]
    assert (Assessment.objects.count(), Invitation.objects.get().used_at) == (0, None)
    assert link_events() == [("create", "denied", "invalid-answer")]
    assert client.post(path, form_data()).status_code == 200  # still usable


def test_answers_to_an_instrument_not_asked_are_refused(pat, ben):
    path = invite(pat, ben, codes=["phq9"])
    token = path.removeprefix("/r/").removesuffix("/")
    with pytest.raises(ClinicalValueError) as excinfo:
        services.submit_answers(
            token=token,
            answers={"phq9": {str(n): 0 for n in range(1, 10)}, "gad7": {"1": 3}},
            now=NOW,
        )
    assert str(excinfo.value) == "instruments: answers to gad7 were not asked for by this link"
    assert Assessment.objects.count() == 0


@pytest.mark.parametrize(
    ("codes", "channel", "message"),
    [
        (["madrs"], "email", "instruments: madrs is clinician-rated; it cannot be sent"),
        ([], "email", "instruments: choose at least one questionnaire"),
    ],
)
def test_invitation_refusals(pat, ben, codes, channel, message):
    with pytest.raises(ClinicalValueError) as excinfo:
        invite(pat, ben, codes=codes, channel=channel)
    assert str(excinfo.value).startswith(message)
    assert (Invitation.objects.count(), OutboxMessage.objects.count()) == (0, 0)


def test_invitation_needs_a_contact(pat, ben):
    pat.phone = ""
    pat.save(update_fields=["phone"])
    with pytest.raises(ClinicalValueError) as excinfo:
        invite(pat, ben, channel="sms")
    assert str(excinfo.value) == "channel: the patient has no phone number on file"


def test_staff_sends_a_link_from_the_patient_page_and_the_admin_reads_the_outbox(
    login, north, ben, pat
):
    response = login(ben).post(
        f"/patients/{pat.pk}/invite/",
        {"instruments": ["phq9", "gad7"], "channel": "sms", "timepoint": "follow_up"},
    )
    assert response.status_code == 302
    assert Invitation.objects.get().instruments == ["phq9", "gad7"]
    admin = make_user("alex", "clinic_admin", north)
    outbox = login(admin).get("/accounts/outbox/").content.decode()
    assert "555-0100" in outbox
    assert re.search(r'href="http://127\.0\.0\.1:8000/r/[^"]+/"', outbox)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_submissions_through_one_link_save_once(pat, ben):
    token = invite(pat, ben, now=dt.datetime.now(tz=dt.UTC)).removeprefix("/r/").removesuffix("/")
    answers = {"phq9": {str(n): 1 for n in range(1, 10)}, "gad7": {str(n): 1 for n in range(1, 8)}}
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def submit() -> None:
        try:
            barrier.wait()
            services.submit_answers(token=token, answers=answers, now=dt.datetime.now(tz=dt.UTC))
            outcomes.append("saved")
        except services.InvitationRefused as refused:
            outcomes.append(refused.reason)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["saved", "used", "used", "used"]
    assert Assessment.objects.count() == 2
