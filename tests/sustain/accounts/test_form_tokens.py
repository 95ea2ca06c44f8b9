"""A staff form sent twice writes once (issue 14 part 7; sustain.accounts.form_tokens).

These tests post the token the page gave, as a browser does (not the test helper's fresh one):
GET the PHQ-9 form, then POST it once, twice, from two threads at once, with a token forged,
another user's, missing or expired."""

import datetime as dt
import re
import threading
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sustain.accounts import form_tokens
from sustain.accounts.models import FormSubmission
from sustain.care.models import Assessment
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.api
TEMPLATES = Path(__file__).resolve().parents[3] / "src/sustain/templates"


def phq9(token: str) -> dict[str, str]:
    answers = {f"phq9-{n}": "1" for n in range(1, 9)} | {"phq9-9": "0"}
    return answers | {"instrument": "phq9", "timepoint": "baseline", "form_token": token}


def page_token(client: Client, path: str) -> str:
    """The token in the form the page shows."""
    html = client.get(path).content.decode()
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found, "the form carries a token"
    return found.group(1)


def raw_post(client: Client, path: str, data: dict[str, str]):
    """POST exactly `data`, without the test helper's token (tests.sustain.second_factor)."""
    return client._post_without_token(path, data)  # type: ignore[attr-defined]


def test_phq9_sent_twice_stores_one_assessment_and_says_so(login, ben, pat):
    client = login(ben)
    path = f"/patients/{pat.pk}/assessments/new/"
    token = page_token(client, path)
    first = raw_post(client, path, phq9(token))
    assert (first.status_code, first["Location"]) == (302, f"/patients/{pat.pk}/")
    second = raw_post(client, path, phq9(token))
    assert (second.status_code, second["Location"]) == (303, f"/patients/{pat.pk}/")
    assert Assessment.objects.filter(patient=pat).count() == 1
    shown = client.get(second["Location"]).content.decode()
    assert "This form was already sent; it was recorded once." in shown
    # A new page gives a new token, and the next entry is recorded.
    assert raw_post(client, path, phq9(page_token(client, path))).status_code == 302
    assert Assessment.objects.filter(patient=pat).count() == 2


def test_a_second_send_while_the_first_runs_is_told_to_wait(login, ben, pat):
    client = login(ben)
    path = f"/patients/{pat.pk}/assessments/new/"
    token = page_token(client, path)
    nonce = token.split(":")[0].split(".")[1]
    FormSubmission.objects.create(nonce=nonce, user=ben, at=timezone.now())  # first in flight
    response = raw_post(client, path, phq9(token))
    assert response.status_code == 409
    assert "already sent and is being recorded once" in response.content.decode()
    assert not Assessment.objects.exists()


@pytest.mark.parametrize(
    "token",
    [
        "",  # none
        "forged",
        form_tokens.issue(999_999),  # another user's
    ],
)
def test_a_form_without_a_genuine_token_is_refused_and_nothing_changes(login, ben, pat, token):
    client = login(ben)
    response = raw_post(client, f"/patients/{pat.pk}/assessments/new/", phq9(token))
    assert response.status_code == 400
    assert "This form could not be accepted" in response.content.decode()
    assert not Assessment.objects.exists()


def test_a_token_older_than_a_session_is_refused(login, ben, pat, settings):
    client = login(ben)
    lifetime = dt.timedelta(seconds=settings.SUSTAIN_SESSION_ABSOLUTE_SECONDS + 60)
    with time_machine.travel(timezone.now() - lifetime, tick=False):
        stale = form_tokens.issue(ben.pk)
    response = raw_post(client, f"/patients/{pat.pk}/assessments/new/", phq9(stale))
    assert response.status_code == 400
    assert not Assessment.objects.exists()


def test_the_api_and_sign_in_pages_need_no_token(login, ben, pat):
    client = login(ben)
    # A JSON API call: the API answers for itself (here: 400 for a bad body), never the guard.
    response = client.post(
        f"/api/v1/patients/{pat.pk}/series", "{", content_type="application/json"
    )
    assert "This form could not be accepted" not in response.content.decode()
    assert raw_post(client, reverse("accounts:logout"), {}).status_code == 302


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_sends_record_each_token_once(ben, pat):
    """Two pages' tokens, each sent by two threads at the same moment: two assessments."""
    client = signed_in(ben, Client())
    path = f"/patients/{pat.pk}/assessments/new/"
    tokens = [page_token(client, path), page_token(client, path)]
    connection.close()
    start = threading.Barrier(4)
    statuses: list[int] = []

    def send(token: str) -> None:
        try:
            start.wait()
            statuses.append(raw_post(client, path, phq9(token)).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(t,)) for t in tokens for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Assessment.objects.filter(patient=pat).count() == 2
    assert sorted(statuses)[:2] == [302, 302]
    assert all(status in {302, 303, 409} for status in statuses)


def test_every_post_form_in_the_templates_carries_a_token():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert text.count("{% csrf_token %}") == text.count("{% csrf_token %}{% form_token %}"), (
            template
        )
    forms = sum(t.read_text().count("{% form_token %}") for t in TEMPLATES.rglob("*.html"))
    assert forms > 100


def test_the_exempt_views_exist():
    from django.urls import get_resolver  # noqa: PLC0415

    names = {
        f"{namespace}:{name}"
        for namespace, (_, resolver) in get_resolver().namespace_dict.items()
        for name in resolver.reverse_dict
        if isinstance(name, str)
    }
    assert names >= form_tokens.EXEMPT_VIEWS
