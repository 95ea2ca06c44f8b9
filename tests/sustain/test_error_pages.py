"""Production error pages (SEC-19): plain words in the layout, no traceback, no settings, never
a 500 for a body the browser could not have sent (Django answers an unreadable multipart body
with its 400 handler, templates/400.html)."""

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.api

LEAKS = ("Traceback", "secret detail", "DATABASE_URL", "SECRET_KEY", "settings", 'File "')


@pytest.mark.urls("tests.sustain.error_urls")
def test_an_exception_in_production_is_a_generic_500_page(db, settings, caplog):
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/fails/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body
    assert [leak for leak in (*LEAKS, django_settings.SECRET_KEY) if leak in body] == []
    # ... while the log keeps what the administrator needs
    assert "secret detail" in caplog.text


def test_an_unknown_page_is_the_404_page(db, login, ada, settings):
    settings.DEBUG = False
    response = login(ada).get("/no-such-page/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    assert "Traceback" not in response.content.decode()


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",  # no boundary
        "multipart/form-data; boundary=",  # an empty one
        "multipart/form-data; boundary=\u00e9\u00e9",  # not ASCII
    ],
)
def test_a_multipart_body_without_a_boundary_is_a_400_page(db, login, sam, settings, content_type):
    settings.DEBUG = False
    client = login(sam)
    client.raise_request_exception = False
    response = client.generic(
        "POST", "/patients/new/", b"--x\r\nfirst_name=Pat\r\n", content_type=content_type
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Request not understood" in body
    assert "Traceback" not in body


def test_a_post_without_the_csrf_check_is_the_form_expired_page(db, sam, settings):
    settings.DEBUG = False
    client = signed_in(sam, Client(enforce_csrf_checks=True))
    response = client.post("/patients/new/", {"first_name": "Pat"})
    assert response.status_code == 403
    assert "Form expired" in response.content.decode()
