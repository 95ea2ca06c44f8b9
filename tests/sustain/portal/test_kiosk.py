"""Kiosk mode: a clinic tablet opens a patient's questionnaires with a short code."""

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from sustain.accounts.models import OutboxMessage
from sustain.care.models import Assessment
from sustain.portal.models import Invitation

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
KIOSK_FORM = {
    "instruments": ["phq9"],
    "channel": "email",
    "timepoint": "pre_infusion",
    "kiosk": "1",
}


def show_code(client, pat) -> str:
    page = client.post(f"/patients/{pat.pk}/invite/", KIOSK_FORM)
    return re.search(r'aria-label="code">(\d{6})<', page.content.decode()).group(1)


@time_machine.travel(NOW, tick=False)
def test_tablet_opens_the_questionnaire_with_the_code(login, ben, pat):
    code = show_code(login(ben), pat)
    invitation = Invitation.objects.get()
    assert (invitation.channel, invitation.expires_at) == ("kiosk", NOW + dt.timedelta(minutes=30))
    assert OutboxMessage.objects.count() == 0  # nothing is sent anywhere

    tablet = Client()
    start = tablet.post("/kiosk/", {"code": code})
    assert start.status_code == 302
    assert start["Location"].startswith("/r/")
    data = {f"phq9-{n}": "0" for n in range(1, 10)}
    done = tablet.post(start["Location"], data)
    assert "hand the tablet back" in done.content.decode()
    assert Assessment.objects.get().source == "self_report"
    again = tablet.post("/kiosk/", {"code": code})
    assert "not valid" in again.content.decode()  # used up


@time_machine.travel(NOW, tick=False)
def test_wrong_codes_are_refused_then_the_tablet_is_locked(login, ben, pat):
    code = show_code(login(ben), pat)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    tablet = Client()
    for _ in range(5):
        response = tablet.post("/kiosk/", {"code": wrong})
        assert (response.status_code, "not valid" in response.content.decode()) == (400, True)
    locked = tablet.post("/kiosk/", {"code": code})
    assert "Too many wrong codes" in locked.content.decode()


def test_code_expires(login, ben, pat):
    with time_machine.travel(NOW, tick=False):
        code = show_code(login(ben), pat)
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False):
        response = Client().post("/kiosk/", {"code": code})
    assert response.status_code == 400
