"""Tokens for other systems (issue 16, item 3; sustain.interop.clients): a system client acts as
one role at one site, holds scopes per resource type, gets short-lived tokens by OAuth 2.0
client credentials (RFC 6749 §4.4), is revocable, and every token and refusal is audited."""

import base64
import datetime as dt
import io
import json
import re
from urllib.parse import quote_plus

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory
from django.utils import timezone

from sustain.accounts.access import users_with_perm
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import AuditEvent, Site
from sustain.interop import auth, clients
from sustain.interop.fhir.patients import PATIENTS
from sustain.interop.fhir.registry import Source
from sustain.interop.models import SystemClient
from sustain_core.errors import ClinicalValueError
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.db

ENDPOINT = "/fhir/R4/auth/token"
# A source of scores, as the resources helper declares them: the permission of the staff
# pages' score views (until its Observation source is merged into the catalog).
SCORES = Source(
    type="Observation", prefix="score", permission="care.view_assessment",
    category=DataCategory.QUESTIONNAIRE, rows=PATIENTS.rows, build=PATIENTS.build,
)  # fmt: skip


def basic(client_id: str, secret: str) -> str:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def ask(issued: clients.Issued, secret: str | None = None, **fields: str):
    """POST a client-credentials request with client_secret_basic."""
    return post(
        form(grant_type="client_credentials", **fields),
        headers={"Authorization": basic(issued.client_id, secret or issued.secret)},
    )


def form(**fields: str) -> str:
    return "&".join(f"{k}={quote_plus(v)}" for k, v in fields.items())


def post(body: str, **kwargs):
    return Client(enforce_csrf_checks=True).post(
        ENDPOINT, body, content_type="application/x-www-form-urlencoded", **kwargs
    )


def events(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


@pytest.fixture
def front_desk(north: Site) -> clients.Issued:
    return clients.create_client(
        name="referrals",
        site=north,
        role="scheduler",
        scopes=["system/Patient.read"],
        by=None,
        now=timezone.now(),
    )


@pytest.fixture
def prescribing(north: Site, ada) -> clients.Issued:
    return clients.create_client(
        name="registry",
        site=north,
        role="prescriber",
        scopes=["system/*.read"],
        by=ada,
        now=timezone.now(),
    )


def test_a_client_acts_through_a_service_user_of_its_site_and_role(front_desk, north):
    client = front_desk.client
    user = client.service_user
    assert not user.has_usable_password()  # it never signs in on the web
    # No site and no role of its own: it is on no staff list, rota, alert or witness choice;
    # it reads as its client's role at its client's site.
    assert (list(user.sites.all()), user.roles) == ([], [])
    assert not users_with_perm("care.view_patient", north).filter(pk=user.pk).exists()
    caller = clients.caller_for_client(client, frozenset({"system/Patient.read"}))
    assert caller.site_ids() == {north.pk}
    assert caller.may("care.view_patient") and not caller.may("care.view_assessment")
    application = client.application
    assert application.client_type == "confidential"
    assert application.authorization_grant_type == "client-credentials"
    assert application.client_secret != front_desk.secret  # only the hash is kept
    assert application.client_secret.startswith(("pbkdf2", "md5", "argon2", "bcrypt"))
    (made,) = [e for e in events(AuditAction.CREATE) if e.object_type == "interop.SystemClient"]
    assert (made.site, made.object_id, made.actor_username) == (north, str(client.pk), "cli")


@pytest.mark.parametrize(
    ("role", "scope", "message"),
    [
        ("auditor", "system/Patient.read", "may not read Patient"),
        ("scheduler", "patient/Patient.read", "is not a scope"),
        ("scheduler", "system/Patient.write", "is not a scope"),
        ("scheduler", "system/Spaceship.read", "serves no Spaceship"),
        ("scheduler", "", "at least one scope"),
        ("janitor", "system/Patient.read", "is not a role"),
    ],
)
def test_a_scope_the_role_cannot_read_is_refused_at_creation(north, role, scope, message):
    with pytest.raises(ClinicalValueError, match=message):
        clients.create_client(
            name="x", site=north, role=role, scopes=[scope], by=None, now=timezone.now()
        )
    assert not SystemClient.objects.exists()


def test_a_scheduler_client_may_not_hold_observation(north):
    with pytest.raises(ClinicalValueError, match="may not read Observation"):
        clients.create_client(
            name="x",
            site=north,
            role="scheduler",
            scopes=["system/Observation.read"],
            by=None,
            now=timezone.now(),
        )


def test_a_name_is_refused_twice_and_when_malformed(north, front_desk):
    with pytest.raises(ClinicalValueError, match="exists already"):
        clients.create_client(
            name="referrals",
            site=north,
            role="nurse",
            scopes=["system/*.read"],
            by=None,
            now=timezone.now(),
        )
    with pytest.raises(ClinicalValueError, match="lower-case"):
        clients.create_client(
            name="Bad Name",
            site=north,
            role="nurse",
            scopes=["system/*.read"],
            by=None,
            now=timezone.now(),
        )


def test_the_token_flow_end_to_end(front_desk, north, django_assert_max_num_queries):
    response = ask(front_desk)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["token_type"] == "Bearer"  # noqa: S105 - not a password
    assert answer["expires_in"] == 300
    assert answer["scope"] == "system/Patient.read"
    assert "refresh_token" not in answer
    assert response["Cache-Control"] == "no-store"
    # The API reads the bearer token through auth.caller.
    request = RequestFactory().get(
        "/fhir/R4/Patient", headers={"Authorization": f"Bearer {answer['access_token']}"}
    )
    with django_assert_max_num_queries(2):
        caller = auth.caller(request)
    assert caller.user == front_desk.client.service_user
    assert caller.scopes == frozenset({"system/Patient.read"})
    assert caller.site_ids() == frozenset({north.pk})
    assert caller.may_read(PATIENTS)
    assert not caller.may_read(SCORES)  # a scheduler never reads a score
    (issued,) = events(AuditAction.LOGIN)
    assert (issued.site, issued.category, issued.outcome) == (
        north, DataCategory.AUTHENTICATION, AuditOutcome.SUCCESS
    )  # fmt: skip
    assert issued.actor == front_desk.client.service_user
    assert len(issued.reason) <= 40


def test_client_secret_post_works_too(front_desk):
    response = post(
        form(
            grant_type="client_credentials", client_id=front_desk.client_id,
            client_secret=front_desk.secret,
        )
    )  # fmt: skip
    assert response.status_code == 200, response.content


def test_a_token_asks_for_a_subset_of_the_scopes(prescribing):
    response = ask(prescribing, scope="system/Patient.read")
    assert response.status_code == 200, response.content
    caller = clients.caller_for_token(response.json()["access_token"])
    assert caller.scopes == frozenset({"system/Patient.read"})
    assert caller.may_read(PATIENTS)
    assert not caller.may_read(SCORES)  # the role may, this token's scopes do not
    wide = clients.caller_for_token(ask(prescribing).json()["access_token"])
    assert wide.may_read(SCORES)  # system/*.read and a prescriber's role


def test_a_scope_the_client_does_not_hold_is_invalid_scope(front_desk, north):
    for scope in ("system/*.read", "system/Observation.read", "system/Patient.write"):
        response = ask(front_desk, scope=scope)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"
    refused = events(AuditAction.LOGIN_FAILED)
    assert [e.reason for e in refused] == ["invalid_scope"] * 3
    assert {e.site for e in refused} == {north}
    assert not events(AuditAction.LOGIN)


def test_an_expired_token_is_401(front_desk):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        access = ask(front_desk).json()["access_token"]
    with time_machine.travel(start + dt.timedelta(seconds=299), tick=False):
        assert clients.caller_for_token(access).user == front_desk.client.service_user
    with (
        time_machine.travel(start + dt.timedelta(seconds=301), tick=False),
        pytest.raises(auth.Refused) as refused,
    ):
        clients.caller_for_token(access)
    assert (refused.value.status, refused.value.code) == (401, "expired")


def test_the_token_lifetime_is_a_setting(front_desk, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ACCESS_TOKEN_EXPIRE_SECONDS": 60}
    assert ask(front_desk).json()["expires_in"] == 60


def test_an_unknown_or_malformed_bearer_token_is_401(front_desk):
    for header in ("Bearer not-a-token", "Bearer \u00e9\u00e8", "Basic abc", "Bearer "):
        request = RequestFactory().get("/fhir/R4/Patient", headers={"Authorization": header})
        with pytest.raises(auth.Refused) as refused:
            auth.caller(request)
        assert (refused.value.status, refused.value.code) == (401, "login")
    # Each a failed authentication in the audit trail, without the token.
    failed = events(AuditAction.LOGIN_FAILED)
    assert [(e.actor_username, e.reason) for e in failed] == [
        ("bearer token", "FHIR token refused: login")
    ] * 4
    assert not any("not-a-token" in str(vars(e)) for e in failed)


def test_revoking_stops_its_tokens_at_once(front_desk, north, alex):
    access = ask(front_desk).json()["access_token"]
    clients.revoke_client(front_desk.client, by=alex, now=timezone.now())
    with pytest.raises(auth.Refused) as refused:
        clients.caller_for_token(access)
    assert refused.value.status == 401
    response = ask(front_desk)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert events(AuditAction.LOGIN_FAILED)[-1].reason == "invalid_client: revoked"
    (revoked,) = events(AuditAction.UPDATE)
    assert (revoked.actor, revoked.site, revoked.reason) == (alex, north, "system client revoked")
    with pytest.raises(ClinicalValueError, match="revoked already"):
        clients.revoke_client(front_desk.client, by=alex, now=timezone.now())


def test_a_wrong_secret_is_401_and_audited_without_the_secret(front_desk, north):
    response = ask(front_desk, secret="guessed-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    (failed,) = events(AuditAction.LOGIN_FAILED)
    assert (failed.site, failed.category, failed.outcome, failed.reason) == (
        north, DataCategory.AUTHENTICATION, AuditOutcome.DENIED, "invalid_client"
    )  # fmt: skip
    assert failed.actor_username == "client referrals"
    for event in AuditEvent.objects.all():
        row = json.dumps([str(getattr(event, f.attname)) for f in event._meta.fields])
        assert "guessed-secret" not in row and front_desk.secret not in row


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (form(grant_type="password", username="a", password="b"), 400, "unsupported_grant_type"),
        (form(grant_type="authorization_code", code="x"), 400, "unsupported_grant_type"),
        (form(grant_type="urn:ietf:params:oauth:grant-type:device_code"), 400,
         "unsupported_grant_type"),
        (form(scope="system/Patient.read"), 400, "invalid_request"),
        ("grant_type=client_credentials&scope=%00%7B", 400, None),
        ("grant_type=client_credentials&scope=%FF%FE", 400, None),
        ("grant_type=client_credentials&client_id=%00&client_secret=x", 400, "invalid_request"),
        ("grant_type=client_credentials&scope=system/Patient.read%00", 400, "invalid_request"),
        (form(grant_type="client_credentials", client_id="nobody", client_secret="x"), 401,
         "invalid_client"),
        (form(grant_type="client_credentials"), 401, "invalid_client"),
    ],
)  # fmt: skip
def test_bad_token_requests_answer_oauth_errors(front_desk, body, status, error):
    response = post(body)
    assert response.status_code in {status, 401} if error is None else {status}, response.content
    answer = response.json()
    assert answer["error"] == error if error else answer["error"]
    assert events(AuditAction.LOGIN_FAILED), "every refusal is audited"
    assert not events(AuditAction.LOGIN)


def test_a_repeated_parameter_is_invalid_request(front_desk):
    response = post(
        "grant_type=client_credentials&scope=system/Patient.read&scope=system/Patient.read",
        headers={"Authorization": basic(front_desk.client_id, front_desk.secret)},
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Bearer x"},
    ],
)
def test_malformed_client_credentials_are_invalid_client(front_desk, headers):
    response = post(form(grant_type="client_credentials"), headers=headers)
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"


def test_a_nul_in_the_basic_credentials_is_invalid_request(front_desk):
    header = "Basic " + base64.b64encode(f"{front_desk.client_id}\x00:x".encode()).decode()
    response = post(form(grant_type="client_credentials"), headers={"Authorization": header})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_malformed_bodies_and_methods_are_refused_without_a_500(front_desk):
    c = Client(enforce_csrf_checks=True)
    as_json = c.post(
        ENDPOINT, {"grant_type": "client_credentials"}, content_type="application/json"
    )
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    multipart = c.post(ENDPOINT, {"grant_type": "client_credentials"})
    assert (multipart.status_code, multipart.json()["error"]) == (400, "invalid_request")
    got = c.get(ENDPOINT)
    assert (got.status_code, got.json()["error"], got["Allow"]) == (405, "invalid_request", "POST")
    assert len(events(AuditAction.LOGIN_FAILED)) == 3


def sustain(*argv: str) -> str:
    """Run `sustain fhir-client …` (sustain.cli's one-line refusals: test_cli_bad_input)."""
    out = io.StringIO()
    call_command("fhir_client", *argv, stdout=out)
    return out.getvalue()


def test_the_cli_creates_lists_and_revokes(north):
    out = sustain(
        "create", "--site", "North Clinic", "--role", "nurse", "--scope", "system/Patient.read",
        "--scope", "system/*.read", "lab-feed",
    )  # fmt: skip
    client_id = re.search(r"client id: +(\S+)", out)[1]
    secret = re.search(r"client secret: +(\S+)", out)[1]
    answer = post(
        form(grant_type="client_credentials"), headers={"Authorization": basic(client_id, secret)}
    ).json()
    assert answer["scope"] == "system/Patient.read system/*.read"
    assert "active" in sustain("list")
    assert (
        sustain("revoke", "lab-feed").strip() == "lab-feed is revoked: its tokens no longer work."
    )
    assert "revoked 20" in sustain("list")
    with pytest.raises(auth.Refused):
        clients.caller_for_token(answer["access_token"])
    with pytest.raises(CommandError, match="revoked already"):
        sustain("revoke", "lab-feed")


def test_the_cli_refuses_a_scope_the_role_cannot_read(north):
    with pytest.raises(CommandError) as refused:
        sustain(
            "create", "--site", "North Clinic", "--role", "auditor", "--scope",
            "system/Patient.read", "audit-feed",
        )  # fmt: skip
    assert str(refused.value) == (
        "An Auditor may not read Patient resources: leave out system/Patient.read or choose a "
        "role that may read them"
    )
    assert not SystemClient.objects.exists()


def test_the_clinic_admin_makes_and_revokes_a_client_on_the_page(login, alex, north):
    page = login(alex)
    made = page.post(
        "/fhir-clients/",
        {"site": north.pk, "name": "ehr", "role": "nurse", "scopes": "system/Patient.read"},
    )
    assert made.status_code == 200
    client = SystemClient.objects.get(name="ehr")
    html = made.content.decode()
    secret = re.search(r"Client secret</dt><dd><code>(\S+)</code>", html)[1]
    assert client.application.client_id in html
    answer = post(
        form(grant_type="client_credentials"),
        headers={"Authorization": basic(client.application.client_id, secret)},
    ).json()
    assert answer["scope"] == "system/Patient.read"
    listed = page.get("/fhir-clients/").content.decode()
    assert "ehr" in listed and secret not in listed  # shown once
    assert client.created_by == alex
    revoked = page.post(f"/fhir-clients/{client.pk}/revoke/")
    assert revoked.status_code == 302
    client.refresh_from_db()
    assert client.revoked_by == alex
    with pytest.raises(auth.Refused):
        clients.caller_for_token(answer["access_token"])


def test_the_page_refuses_a_scope_the_role_cannot_read(login, alex, north):
    refused = login(alex).post(
        "/fhir-clients/",
        {"site": north.pk, "name": "desk", "role": "auditor", "scopes": "system/Patient.read"},
    )
    assert refused.status_code == 400
    assert "An Auditor may not read Patient resources" in refused.content.decode()
    assert not SystemClient.objects.exists()


def test_other_roles_and_sites_may_not_manage_clients(login, sam, carl, front_desk):
    assert login(sam).get("/fhir-clients/").status_code == 403
    assert login(sam).post(f"/fhir-clients/{front_desk.client.pk}/revoke/").status_code == 403
    south_admin = make_user("sal", "clinic_admin", carl.sites.get())
    response = login(south_admin).post(f"/fhir-clients/{front_desk.client.pk}/revoke/")
    assert response.status_code == 404
    front_desk.client.refresh_from_db()
    assert front_desk.client.active
