"""Passwords (sustain.accounts.passwords): Argon2id at the bounded ASVS minimum (SEC-08), at most
N checks at once with a plain "busy" answer past the wait, and the rules on every path that sets
one (SEC-09: the invitation's and the reset's set-password link)."""

import threading
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher, make_password
from django.test import Client
from django.utils import timezone

from sustain.accounts import passwords, users
from sustain.accounts.models import User

BOUNDED = "sustain.accounts.passwords.BoundedArgon2PasswordHasher"
PASSWORD = "a long enough passphrase"  # noqa: S105 - a test account's


@pytest.fixture
def argon2(settings):
    """The production hashers (the other tests use MD5 for speed)."""
    settings.PASSWORD_HASHERS = [BOUNDED, "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.mark.db
def test_a_new_password_is_argon2id_with_the_bounded_parameters(db, argon2, ben):
    ben.set_password(PASSWORD)
    ben.save(update_fields=["password"])
    ben.refresh_from_db()
    assert ben.password.startswith("argon2$argon2id$")
    params = get_hasher("argon2").decode(ben.password)
    assert params["algorithm"] == "argon2"
    assert (params["time_cost"], params["memory_cost"], params["parallelism"]) == (2, 19456, 1)
    assert ben.check_password(PASSWORD) and not ben.check_password(PASSWORD + "!")


@pytest.mark.db
def test_a_hash_with_django_s_default_cost_still_works_and_is_made_bounded(db, argon2, ben):
    ben.password = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
    ben.save(update_fields=["password"])
    assert "m=102400" in ben.password
    response = Client().post("/accounts/login/", {"username": "ben", "password": PASSWORD})
    assert response.status_code == 302
    ben.refresh_from_db()
    assert "$v=19$m=19456,t=2,p=1$" in ben.password


@pytest.mark.parametrize("at_once", [1, 2, 4])
def test_at_most_n_password_checks_run_at_once(settings, monkeypatch, at_once):
    """Real threads, real Argon2id: 3N checks start together; at most N hash at a time."""
    settings.PASSWORD_HASHERS = [BOUNDED]
    settings.SUSTAIN_PASSWORD_CHECKS_AT_ONCE = at_once
    settings.SUSTAIN_PASSWORD_CHECK_WAIT_SECONDS = 60
    encoded = make_password(PASSWORD)
    running, peak = 0, 0
    count = threading.Lock()
    real_verify = Argon2PasswordHasher.verify

    def watched(self, password, encoded):
        nonlocal running, peak
        with count:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.1)  # long enough for the others to pile up
            return real_verify(self, password, encoded)
        finally:
            with count:
                running -= 1

    monkeypatch.setattr(Argon2PasswordHasher, "verify", watched)
    start = threading.Barrier(3 * at_once)
    results: list[bool] = []

    def check() -> None:
        start.wait()
        results.append(passwords.BoundedArgon2PasswordHasher().verify(PASSWORD, encoded))

    threads = [threading.Thread(target=check) for _ in range(3 * at_once)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * (3 * at_once)
    assert peak == at_once


@pytest.mark.api
def test_a_check_that_waits_too_long_answers_busy_not_500(db, argon2, settings, ben):
    ben.set_password(PASSWORD)
    ben.save(update_fields=["password"])
    settings.SUSTAIN_PASSWORD_CHECKS_AT_ONCE = 1
    settings.SUSTAIN_PASSWORD_CHECK_WAIT_SECONDS = 0.2
    gate = passwords._gate()
    assert gate.acquire(timeout=5)  # another sign-in is hashing
    try:
        client = Client()
        response = client.post("/accounts/login/", {"username": "ben", "password": PASSWORD})
        page = response.content.decode()
        assert response.status_code == 503 and response["Retry-After"] == "5"
        assert "Busy, try again in a moment" in page and "Traceback" not in page
        assert "_auth_user_id" not in client.session
        assert not AccessAttempt.objects.exists()  # busy is not a wrong password
    finally:
        gate.release()
    response = Client().post("/accounts/login/", {"username": "ben", "password": PASSWORD})
    assert response.status_code == 302


def _invited(alex, north) -> User:
    invitation = users.Invitation(
        username="dora", first_name="Dora", last_name="Lind", email="dora@example.org",
        roles=frozenset({"nurse"}), site=north,
    )  # fmt: skip
    return users.invite_user(invitation=invitation, by=alex, now=timezone.now())


def _reset(alex, north) -> User:
    ben = User.objects.get(username="ben")
    users.reset_password(user=ben, by=alex, now=timezone.now())
    return ben


UNICODE_64 = ("Grüße aus Köln — 日本語のパスフレーズ 🌻 ✓ " * 3)[:64]


@pytest.mark.api
@pytest.mark.parametrize("link", [_invited, _reset], ids=["invitation", "reset"])
@pytest.mark.parametrize(
    ("password", "refusal"),
    [
        ("password123", "This password is too short. It must contain at least 12 characters."),
        ("xK9#mP2$vL7", "This password is too short. It must contain at least 12 characters."),
        ("password1234", "This password is too common."),
        ("902741365820", "This password is entirely numeric."),
        (UNICODE_64, None),
    ],
    ids=["password123", "11-characters", "common", "numeric", "64-unicode"],
)
def test_the_set_password_link_applies_the_rules(db, alex, ben, north, link, password, refusal):
    assert len(UNICODE_64) == 64
    person = link(alex, north)
    client = Client()
    form_page = client.get(users.set_password_path(person), follow=True)
    assert form_page.status_code == 200 and "Choose your password" in form_page.content.decode()
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password}
    )
    person.refresh_from_db()
    if refusal is None:
        assert response.status_code == 302
        assert person.check_password(password)
        signed = Client().post(
            "/accounts/login/", {"username": person.username, "password": password}
        )
        assert signed.status_code == 302
    else:
        assert response.status_code == 200
        assert refusal in response.content.decode().replace("&#x27;", "'")
        assert not person.has_usable_password()
