"""Sign-in lockout (SEC-10; sustain.accounts.lockout, django-axes) and the audit of every sign-in
event (AUD-02): 20 wrong passwords lock the user name, even against the right password, until
the cool-off ends by itself; nobody else is locked, not even from the same clinic address; an
administrator can unlock sooner; wrong second-factor codes are slowed down by django-otp."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory
from django.utils import timezone

from sustain.accounts.models import AuditEvent
from tests.sustain.second_factor import code_for, enrolled, signed_in

pytestmark = pytest.mark.api

PASSWORD = "a long enough passphrase"  # noqa: S105 - a test account's
CLINIC_ADDRESS = "203.0.113.7"  # every computer at the clinic, behind one router


def with_password(user) -> None:
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])


def sign_in(username: str, password: str, address: str = CLINIC_ADDRESS):
    client = Client(REMOTE_ADDR=address)
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return client, response


def signed_in_now(client: Client) -> bool:
    return "_auth_user_id" in client.session


def lock(username: str, times: int = 20) -> list:
    return [sign_in(username, f"wrong guess {n}")[1] for n in range(times)]


def test_twenty_wrong_passwords_lock_even_the_right_one_until_the_cool_off(db, ben, ada):
    with_password(ben)
    with_password(ada)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        answers = lock("ben")
        assert [a.status_code for a in answers[:19]] == [200] * 19  # the form, with its error
        assert answers[19].status_code == 429  # the 20th locks

        client, response = sign_in("ben", PASSWORD)  # the 21st, with the right password
        page = response.content.decode()
        assert response.status_code == 429
        assert not signed_in_now(client)
        until = (start + dt.timedelta(minutes=30)).astimezone(dt.UTC)
        assert f"until\n<strong>{until:%Y-%m-%d %H:%M} UTC</strong>" in page
        assert "Traceback" not in page and int(response["Retry-After"]) == 30 * 60

        # Another user at the same clinic address is not affected.
        other, response = sign_in("ada", PASSWORD)
        assert response.status_code == 302 and signed_in_now(other)

    with time_machine.travel(start + dt.timedelta(minutes=29), tick=False):
        client, response = sign_in("ben", PASSWORD)  # still locked; the try does not prolong
        assert response.status_code == 429 and not signed_in_now(client)
    with time_machine.travel(start + dt.timedelta(minutes=30, seconds=1), tick=False):
        client, response = sign_in("ben", PASSWORD)
        assert response.status_code == 302 and signed_in_now(client)


def test_nineteen_wrong_passwords_do_not_lock_and_a_success_starts_the_count_again(db, ben):
    with_password(ben)
    lock("ben", times=19)
    assert sign_in("ben", PASSWORD)[1].status_code == 302
    lock("ben", times=19)
    assert sign_in("ben", PASSWORD)[1].status_code == 302


def test_a_shared_address_does_not_lock_everyone(db, ben):
    """Thirty failures from one address, each for another (mistyped) name: nobody is locked."""
    with_password(ben)
    for n in range(30):
        assert sign_in(f"bne{n}", "wrong")[1].status_code == 200
    assert sign_in("ben", PASSWORD)[1].status_code == 302


def test_failures_from_many_addresses_add_up(db, ben):
    with_password(ben)
    for n in range(20):
        sign_in("ben", "wrong", address=f"198.51.100.{n + 1}")
    assert sign_in("ben", PASSWORD, address="192.0.2.1")[1].status_code == 429


def test_every_path_to_a_session_respects_the_lockout(db, ben):
    """The backend itself refuses (not only the page), and the API has no way around: it
    takes only a session, which a locked person cannot get."""
    with_password(ben)
    lock("ben")
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR=CLINIC_ADDRESS)
    assert authenticate(request, username="ben", password=PASSWORD) is None
    client, _ = sign_in("ben", PASSWORD)
    assert client.get("/api/v1/ledger/balance").status_code == 401


def test_the_lockout_and_every_sign_in_event_are_audited(db, ben):
    """AUD-02: failed sign-in, lockout, successful sign-in, sign-out (enrolment and reset of
    the second factor: test_second_factor)."""
    with_password(ben)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lock("ben")
        sign_in("ben", PASSWORD)
    events = AuditEvent.objects.filter(actor_username="ben")
    failed = events.filter(action="login-failed", outcome="denied", reason="")
    assert failed.count() == 21  # 20 wrong passwords and the refused right one
    assert set(failed.values_list("ip", flat=True)) == {CLINIC_ADDRESS}
    locked = events.filter(action="login-failed", outcome="denied", reason="locked out")
    assert locked.count() == 2  # the 20th failure, and the try while locked
    with time_machine.travel(start + dt.timedelta(minutes=31), tick=False):
        client, _ = sign_in("ben", PASSWORD)
        assert events.filter(action="login", actor=ben).count() == 1
        client.post("/accounts/logout/")
        assert events.filter(action="logout", actor=ben).count() == 1
    assert "wrong guess" not in str(list(events.values()))  # no password in the trail


def test_an_administrator_unlocks_the_account_audited(db, ben, alex, ada):
    with_password(ben)
    lock("ben")
    admin = signed_in(alex)
    page = admin.get(f"/accounts/staff/{ben.pk}/").content.decode()
    assert "<strong>locked</strong> after too many wrong passwords" in page
    assert "Unlock sign-in" in page

    refused = signed_in(ada).post(f"/accounts/staff/{ben.pk}/unlock/")
    assert refused.status_code == 403
    assert sign_in("ben", PASSWORD)[1].status_code == 429

    done = admin.post(f"/accounts/staff/{ben.pk}/unlock/", follow=True)
    assert "can sign in again." in done.content.decode()
    assert AuditEvent.objects.filter(
        actor=alex, action="update", object_id=str(ben.pk), reason="sign-in unlocked"
    ).exists()
    assert "Unlock sign-in" not in admin.get(f"/accounts/staff/{ben.pk}/").content.decode()
    assert sign_in("ben", PASSWORD)[1].status_code == 302

    again = admin.post(f"/accounts/staff/{ben.pk}/unlock/", follow=True)
    assert "is not locked out" in again.content.decode()


def test_wrong_second_factor_codes_are_slowed_down(db, ben):
    """django-otp's throttle: after each wrong code the next is not even checked for 2^(n-1)
    seconds, so ten wrong codes make the right one wait over four minutes; then it works."""
    with_password(ben)
    device = enrolled(ben)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client, _ = sign_in("ben", PASSWORD)
    moment = start
    for n in range(10):  # each wrong code once it may be checked again
        moment += dt.timedelta(seconds=2**n + 1)
        with time_machine.travel(moment, tick=False):
            wrong = client.post("/accounts/second-factor/", {"token": "000000"})
            assert "That code is not right" in wrong.content.decode(), n
    with time_machine.travel(moment + dt.timedelta(seconds=200), tick=False):
        refused = client.post("/accounts/second-factor/", {"token": code_for(device)})
        assert refused.status_code == 400
        assert "Too many wrong codes" in refused.content.decode()
    with time_machine.travel(moment + dt.timedelta(seconds=2**10 + 1), tick=False):
        passed = client.post("/accounts/second-factor/", {"token": code_for(device)})
        assert passed.status_code == 302
    reasons = AuditEvent.objects.filter(actor=ben, action="login-failed").values_list(
        "reason", flat=True
    )
    assert list(reasons).count("wrong second-factor code") == 10
    assert "second factor throttled" in reasons


def test_signing_in_rotates_the_session_key_and_signing_out_ends_it(db, settings, ben):
    """SEC-13 (with axes in the chain): a session fixed before sign-in is not the one after."""
    with_password(ben)
    client = Client()
    before = client.session.session_key
    assert sign_in_with(client, "ben", PASSWORD).status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=after).exists()


def sign_in_with(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})
