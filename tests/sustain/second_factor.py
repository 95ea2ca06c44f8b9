"""Signing in with the second factor, the real way, for every test (sustain.accounts.mfa).

A test user gets a confirmed authenticator (`enrolled`); a test client passes the factor with
django_otp.login on its session (`signed_in`); a browser types the password and then a TOTP
code computed from the device's key (`sign_in_page`), as a person with the app would.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import django_otp
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from sustain.accounts import form_tokens
from sustain.accounts.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test user's

# One query more on every signed-in page: django-otp's middleware reads the device the session
# passed the second factor with (sustain.accounts.mfa). The query-count guards add it.
SECOND_FACTOR = 1


def enrolled(user: User) -> TOTPDevice:
    """`user`'s confirmed authenticator, made on first use."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test app", confirmed=True)


def code_for(device: TOTPDevice) -> str:
    """The code the app shows now; if this step's code was used already (a second sign-in
    within 30 s), the next step's, which the device accepts (its tolerance is one step). A
    third sign-in within one step waits for the clock, as a person would: a code is never
    accepted twice (SEC-06), and one two steps ahead is not accepted yet."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    while totp.t() + device.tolerance <= device.last_t:
        time.sleep(0.2)
    if totp.t() <= device.last_t:
        totp.time = device.t0 + (device.last_t + 1) * device.step
    return f"{totp.token():0{device.digits}d}"


def signed_in(user: User, client: Client | None = None) -> Client:
    """A test client signed in as `user`, past the second factor with their device."""
    client = client or Client()
    client.force_login(user)
    request = HttpRequest()
    request.session = client.session
    request.user = user
    django_otp.login(request, enrolled(user))
    request.session.save()
    with_form_tokens(client, user)
    return client


def with_form_tokens(client: Client, user: User) -> None:
    """Let `client.post` send a form as a page of Sustain would: with a fresh one-time token
    (sustain.accounts.form_tokens) for `user` unless the data names one already. Form data
    only (not JSON: the API needs none). Tests of the guard itself post their own tokens."""
    post = getattr(client, "_post_without_token", client.post)
    client._post_without_token = post  # type: ignore[attr-defined]

    def post_with_token(path: str, data: object = None, *args: object, **kwargs: object):
        if "content_type" not in kwargs and (data is None or isinstance(data, dict)):
            data = data or {}
            if form_tokens.FIELD not in data:
                data = {**data, form_tokens.FIELD: form_tokens.issue(user.pk)}
        return post(path, data, *args, **kwargs)

    client.post = post_with_token  # type: ignore[method-assign]


def _current_code(username: str) -> str:
    """The code of `username`'s authenticator (made on first use), read in a thread of its
    own: Playwright's sync API runs an event loop in the test's thread, where Django refuses
    database queries."""

    def read() -> str:
        try:
            return code_for(enrolled(User.objects.get(username=username)))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(read).result()


def sign_in_page(page: "Page", username: str, password: str = PASSWORD) -> None:
    """On the sign-in page: the password, then a code from the user's authenticator; the
    browser ends on the page it was going to."""
    _current_code(username)  # enrolled before the password, so the code is asked for
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.fill("#id_token", _current_code(username))
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "/accounts/second-factor/" not in page.url, page.locator("main").inner_text()
