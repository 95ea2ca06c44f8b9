"""The second factor (sustain.accounts.mfa; issue 14 item 1, SEC-05 … SEC-07): enrolment at the
first sign-in, a code at every sign-in that works once, recovery codes, the administrator's reset
that ends the person's sessions, the demo's exemption refused in production, all audited."""

import datetime as dt
import re
import subprocess
import sys

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from sustain.accounts.models import AuditEvent
from tests.sustain.second_factor import code_for, enrolled, signed_in

pytestmark = pytest.mark.api

PASSWORD = "a long enough passphrase"  # noqa: S105 - a test account's


def with_password(user) -> Client:
    """A client past the password only."""
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def pending_code(user) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def test_a_password_alone_reaches_no_page_until_enrolment(db, ben, pat):
    client = with_password(ben)
    for path in (f"/patients/{pat.pk}/", "/schedule/", "/accounts/outbox/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/second-factor/enrol/?next=")
    assert client.get("/api/v1/ledger/balance").status_code == 401  # the API refuses, as ever
    assert client.get("/api/v1/openapi.json").status_code == 404
    page = client.get("/accounts/second-factor/enrol/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and re.search(r'id="otp-secret">[A-Z2-7]{32}<', html)
    assert "Quinn" not in html


def test_enrolment_refuses_a_wrong_code_then_shows_ten_recovery_codes_once(db, ben, pat):
    client = with_password(ben)
    client.get("/accounts/second-factor/enrol/")
    wrong = client.post("/accounts/second-factor/enrol/", {"token": "000000x"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=ben, confirmed=True).exists()
    assert AuditEvent.objects.filter(
        actor=ben, action="login-failed", outcome="denied", reason="wrong enrolment code"
    ).exists()

    too_soon = client.post("/accounts/second-factor/enrol/", {"token": pending_code(ben)})
    assert "Too many wrong codes: wait a minute" in too_soon.content.decode()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=3), tick=False):
        code = pending_code(ben)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=3)):
        done = client.post("/accounts/second-factor/enrol/", {"token": code, "next": "/schedule/"})
    codes = re.findall(r"<li><code>(\w+)</code></li>", done.content.decode())
    assert done.status_code == 200 and len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=ben).confirmed
    assert set(StaticToken.objects.filter(device__user=ben).values_list("token", flat=True)) == set(
        codes
    )
    assert AuditEvent.objects.filter(actor=ben, reason="second factor enrolled").exists()
    assert client.get(f"/patients/{pat.pk}/").status_code == 200
    assert client.get("/accounts/second-factor/enrol/").status_code == 302  # not twice


def test_every_sign_in_asks_for_a_code_that_works_once(db, ben, pat):
    device = enrolled(ben)
    client = with_password(ben)
    response = client.get(f"/patients/{pat.pk}/")
    assert response["Location"] == f"/accounts/second-factor/?next=%2Fpatients%2F{pat.pk}%2F"
    code = code_for(device)
    passed = client.post(
        "/accounts/second-factor/", {"token": code, "next": f"/patients/{pat.pk}/"}
    )
    assert (passed.status_code, passed["Location"]) == (302, f"/patients/{pat.pk}/")
    assert client.get(f"/patients/{pat.pk}/").status_code == 200

    other = with_password(ben)  # SEC-06: the same code again, in the same 30 s
    again = other.post("/accounts/second-factor/", {"token": code})
    assert again.status_code == 400
    assert other.get(f"/patients/{pat.pk}/").status_code == 302
    assert AuditEvent.objects.filter(
        actor=ben, action="login-failed", reason="wrong second-factor code"
    ).exists()


def test_a_recovery_code_works_once(db, ben, pat):
    enrolled(ben)
    recovery = StaticDevice.objects.create(user=ben, name="recovery codes", confirmed=True)
    StaticToken.objects.bulk_create(
        StaticToken(device=recovery, token=t) for t in ("first234", "second34")
    )
    client = with_password(ben)
    assert client.post("/accounts/second-factor/", {"token": "first234"}).status_code == 302
    assert client.get(f"/patients/{pat.pk}/").status_code == 200
    assert AuditEvent.objects.filter(actor=ben, reason="recovery code used").count() == 1

    other = with_password(ben)
    assert other.post("/accounts/second-factor/", {"token": "first234"}).status_code == 400
    assert list(StaticToken.objects.filter(device=recovery).values_list("token", flat=True)) == [
        "second34"
    ]
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=3)):
        assert other.post("/accounts/second-factor/", {"token": "second34"}).status_code == 302
        assert other.get(f"/patients/{pat.pk}/").status_code == 200


def test_the_staff_pages_show_the_status(login, alex, ada, ben):
    enrolled(ben)
    client = login(alex)
    rows = {a.username: f for a, f in client.get("/accounts/staff/").context["accounts"]}
    assert rows["ben"].startswith("enrolled ")
    assert rows["ada"] == "not enrolled: they enrol at their next sign-in"
    page = client.get(f"/accounts/staff/{ben.pk}/").content.decode()
    assert "Reset the second factor" in page
    own = client.get(f"/accounts/staff/{alex.pk}/").content.decode()
    assert "Reset the second factor" not in own


def test_a_reset_ends_their_sessions_and_they_enrol_again(login, alex, ben, pat):
    ben_client = signed_in(ben)
    assert ben_client.get(f"/patients/{pat.pk}/").status_code == 200
    response = login(alex).post(f"/accounts/staff/{ben.pk}/reset-second-factor/")
    assert (response.status_code, response["Location"]) == (302, f"/accounts/staff/{ben.pk}/")
    assert not TOTPDevice.objects.filter(user=ben).exists()
    assert AuditEvent.objects.filter(
        actor=alex, action="delete", object_id=str(ben.pk), reason="second factor reset"
    ).exists()
    ended = ben_client.get(f"/patients/{pat.pk}/")
    assert (ended.status_code, ended["Location"]) == (302, "/accounts/login/")
    assert ben_client.get("/accounts/second-factor/enrol/").status_code == 302  # signed out
    again = with_password(ben).get("/schedule/")
    assert again["Location"].startswith("/accounts/second-factor/enrol/")


def test_nobody_resets_their_own_second_factor(login, alex, ben):
    enrolled(ben)
    client = login(alex)
    own = client.post(f"/accounts/staff/{alex.pk}/reset-second-factor/", follow=True)
    assert "you cannot reset your own second factor" in own.content.decode().lower()
    assert TOTPDevice.objects.filter(user=alex).exists()
    denied = signed_in(ben).post(f"/accounts/staff/{alex.pk}/reset-second-factor/")
    assert denied.status_code == 403
    assert TOTPDevice.objects.filter(user=alex).exists()


def test_a_password_reset_does_not_bypass_the_second_factor(login, alex, ben, pat):
    enrolled(ben)
    login(alex).post(f"/accounts/staff/{ben.pk}/reset-password/")
    client = with_password(ben)  # the new password, as if set from the link
    assert client.get(f"/patients/{pat.pk}/")["Location"].startswith("/accounts/second-factor/?")


def test_the_demo_exemption(db, settings, ben, pat):
    settings.SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR = True
    assert with_password(ben).get(f"/patients/{pat.pk}/").status_code == 200


def test_production_refuses_the_demo_exemption():
    env = {
        "SUSTAIN_DEBUG": "0",
        "SUSTAIN_SECRET_KEY": "x" * 60,
        "SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR": "1",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import sustain.settings"],
        env=env | {"PYTHONPATH": "src"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR is for the demo only: it is refused" in result.stderr
