"""Cookies and the reverse proxy (SEC-14; sustain.settings, sustain.accounts.addresses): outside
debug the session and CSRF cookies are __Host- (Secure, path /, no domain; the session's
HttpOnly, both SameSite=Lax); X-Forwarded-Proto and X-Forwarded-For count only with
SUSTAIN_TRUST_PROXY_HEADERS=1, and then only the right-most hop."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory

from sustain.accounts import client_address
from sustain.accounts.models import AuditEvent

SRC = Path(__file__).resolve().parents[3] / "src"
NAMES = (
    "DEBUG", "SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME", "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SAMESITE", "SESSION_COOKIE_DOMAIN", "CSRF_COOKIE_DOMAIN", "SESSION_COOKIE_PATH",
    "CSRF_COOKIE_PATH", "SECURE_PROXY_SSL_HEADER", "SUSTAIN_TRUST_PROXY_HEADERS",
)  # fmt: skip
PASSWORD = "a long enough passphrase"  # noqa: S105 - a test account's


def production_settings(**env: str) -> dict[str, object]:
    """sustain.settings as a production server loads them (a fresh process, SUSTAIN_DEBUG=0)."""
    code = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {NAMES!r}}}))"
    )
    production = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(SRC),
        "DJANGO_SETTINGS_MODULE": "sustain.settings",
        "SUSTAIN_DEBUG": "0",
        "SUSTAIN_SECRET_KEY": "k" * 60,
        "SUSTAIN_AUDIT_KEY": "a" * 60,
        "SUSTAIN_ALLOWED_HOSTS": "clinic.example.org",
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, the code above
        [sys.executable, "-c", code], env=production | env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


@pytest.mark.api
def test_production_cookies_are_host_prefixed_secure_and_lax(db, settings, ben):
    production = production_settings()
    assert production["DEBUG"] is False
    for name in NAMES[1:-2]:
        setattr(settings, name, production[name])
    ben.set_password(PASSWORD)
    ben.save(update_fields=["password"])
    client = Client()
    page = client.get("/accounts/login/", secure=True)
    csrf = page.cookies["__Host-csrftoken"]
    signed = client.post("/accounts/login/", {"username": "ben", "password": PASSWORD}, secure=True)
    assert signed.status_code == 302
    session = signed.cookies["__Host-sessionid"]
    for cookie in (csrf, session):
        assert cookie["secure"] is True and cookie["path"] == "/" and cookie["domain"] == ""
        assert cookie["samesite"] == "Lax"
        assert "Domain" not in cookie.output()
    assert session["httponly"] is True
    assert "sessionid" not in {n for n in signed.cookies if not n.startswith("__Host-")}
    # The prefixed cookie is the session: the next request is signed in (to the second factor).
    assert client.get("/accounts/second-factor/enrol/", secure=True).status_code == 200


def test_development_cookies_keep_their_plain_names():
    development = production_settings(SUSTAIN_DEBUG="1")
    assert development["SESSION_COOKIE_NAME"] == "sessionid"
    assert development["CSRF_COOKIE_NAME"] == "csrftoken"


def test_proxy_headers_count_only_when_the_deployment_says_so():
    assert production_settings()["SECURE_PROXY_SSL_HEADER"] is None
    trusted = production_settings(SUSTAIN_TRUST_PROXY_HEADERS="1")
    assert trusted["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_client_address(settings):
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.9")
    settings.SUSTAIN_TRUST_PROXY_HEADERS = False
    assert client_address(request) == "10.0.0.2"  # a client's header, not believed
    settings.SUSTAIN_TRUST_PROXY_HEADERS = True
    assert client_address(request) == "198.51.100.9"  # the hop our proxy added
    junk = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="nonsense")
    assert client_address(junk) == "10.0.0.2"
    assert client_address(factory.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
    assert client_address(factory.get("/", REMOTE_ADDR="")) is None


@pytest.mark.api
@pytest.mark.parametrize(("trusted", "seen"), [(False, "10.0.0.2"), (True, "198.51.100.9")])
def test_the_audit_trail_and_the_lockout_see_the_same_address(db, settings, trusted, seen):
    settings.SUSTAIN_TRUST_PROXY_HEADERS = trusted
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.9")
    client.post("/accounts/login/", {"username": "nobody", "password": "wrong"})
    assert AuditEvent.objects.get(action="login-failed", actor_username="nobody").ip == seen
    assert AccessAttempt.objects.get(username="nobody").ip_address == seen
