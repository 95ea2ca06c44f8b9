"""Tokens for other systems (issue 16, item 3): OAuth 2.0 client credentials (RFC 6749 §4.4) in
the style of SMART Backend Services (HL7 SMART App Launch 2.x, "Backend Services"), with
django-oauth-toolkit.

A system client (`SystemClient`) belongs to one site and acts with one staff role through its
own service user, so it reads what that role reads at that site and no more; its scopes
("system/Patient.read", "system/*.read") narrow that per resource type, and a token may ask for
a subset of them. Making one refuses a scope its role cannot read. A client is revoked, never
deleted: its tokens stop working at once (`caller_for_token` checks the client on every call).

The token endpoint (`token`, POST /fhir/R4/auth/token) takes client_secret_basic or
client_secret_post (RFC 6749 §2.3.1) and answers in OAuth's own JSON (§5.1, §5.2); every token
issued and every refusal is an audit event (LOGIN / LOGIN_FAILED, category AUTHENTICATION, the
client's site), which never holds the secret. Tokens live SUSTAIN_FHIR_TOKEN_SECONDS (default
300: SMART Backend Services recommends no more than five minutes) and are stored as their
SHA-256 only (RFC 9700 §4, DOT's COMPLIANT_BCP_RFC9700_TOKEN_STORAGE).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.oauth2_validators import OAuth2Validator

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory, Role
from sustain.accounts.models import Site, User
from sustain.accounts.roles import ROLE_PERMISSIONS
from sustain.interop import auth
from sustain.interop.fhir import catalog
from sustain.interop.fhir.registry import Caller
from sustain.interop.models import SystemClient
from sustain_core.errors import ClinicalValueError

ENDPOINT = "/fhir/R4/auth/token"
ALL = "system/*.read"
# SMART App Launch v1 scope syntax for a system: "system/" resource type ".read".
SCOPE = re.compile(r"system/(\*|[A-Z][A-Za-z]{1,63})\.read")
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
CLI = "cli"  # who acted, in the audit log, when a client is made or revoked from a shell


# --- which scopes a role may hold --------------------------------------------------------------


def _a(label: str) -> str:
    return f"{'an' if label[:1].lower() in 'aeiou' else 'a'} {label}"


def readable_types(role: Role) -> set[str]:
    """The resource types a role reads at least one source of (the staff pages' permissions,
    sustain.accounts.roles; the sources in sustain.interop.fhir.catalog)."""
    held = ROLE_PERMISSIONS[role]
    return {s.type for s in catalog.SOURCES if s.permission is None or s.permission in held}


def check_scopes(role: Role, scopes: Iterable[str]) -> list[str]:
    """The scopes, each once and in order, or ClinicalValueError naming the first one the role
    cannot read, one Sustain does not serve, or one that is not a scope."""
    wanted = list(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    if not wanted:
        raise ClinicalValueError(
            "scope", "give at least one scope, e.g. system/Patient.read or system/*.read"
        )
    readable = readable_types(role)
    for scope in wanted:
        match = SCOPE.fullmatch(scope)
        if match is None:
            raise ClinicalValueError(
                "scope",
                f"{scope[:80]!r} is not a scope: write system/<resource type>.read "
                "(e.g. system/Patient.read) or system/*.read",
            )
        kind = match[1]
        if kind == "*":
            if not readable:
                raise ClinicalValueError("scope", f"{_a(role.label)} may read no FHIR resource")
        elif kind not in catalog.types():
            raise ClinicalValueError(
                "scope",
                f"Sustain serves no {kind} resources (it serves {', '.join(catalog.types())})",
            )
        elif kind not in readable:
            raise ClinicalValueError(
                "scope",
                f"{_a(role.label)} may not read {kind} resources: leave out {scope} or choose a "
                "role that may read them",
            )
    return wanted


def grants(client: SystemClient, requested: Iterable[str]) -> bool:
    """Whether a token of `client` may carry every requested scope: one it holds, or, when it
    holds system/*.read, one for a type its role reads."""
    held = set(client.scope_list)
    readable = readable_types(Role(client.role))
    for scope in requested:
        if scope in held:
            continue
        match = SCOPE.fullmatch(scope)
        if ALL not in held or match is None or match[1] not in readable:
            return False
    return True


# --- making, listing and revoking clients -------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    """A new client: its id and its secret, shown once (only its hash is kept)."""

    client: SystemClient
    client_id: str
    secret: str


def create_client(
    *, name: str, site: Site, role: str, scopes: Iterable[str], by: User | None, now: dt.datetime
) -> Issued:
    """Make a system client at `site` acting as `role` with `scopes` (one transaction, one audit
    event); `by` None: from a shell. ClinicalValueError for a bad name, role or scope."""
    name = name.strip()
    if not NAME.fullmatch(name):
        raise ClinicalValueError(
            "name", "a client's name is 1 to 60 lower-case letters, digits and hyphens"
        )
    try:
        the_role = Role(role)
    except ValueError:
        raise ClinicalValueError(
            "role", f"{role[:40]!r} is not a role; choose one of {', '.join(Role.values)}"
        ) from None
    wanted = check_scopes(the_role, scopes)
    username = f"system-{name}"
    with transaction.atomic():
        if SystemClient.objects.filter(name=name).exists():
            raise ClinicalValueError("name", f"a system client named {name} exists already")
        if User.objects.filter(username__iexact=username).exists():
            raise ClinicalValueError("name", f"the username {username} is taken; choose another")
        user = User(username=username, first_name=name, last_name="(system client)")
        user.set_unusable_password()  # it never signs in on the web
        user.save()  # no role, no membership: its role and site are the client's (Caller)
        secret = generate_client_secret()
        application = Application.objects.create(
            name=f"Sustain system client {name}",
            user=user,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
            hash_client_secret=True,
            redirect_uris="",
        )
        client = SystemClient.objects.create(
            name=name, site=site, role=the_role, scopes=" ".join(wanted), service_user=user,
            application=application, created_at=now, created_by=by,
        )  # fmt: skip
        record_event(
            actor=by, username=CLI, action=AuditAction.CREATE, category=DataCategory.STAFF,
            site=site, obj=client, reason=f"system client, {the_role}"[:40],
        )  # fmt: skip
    return Issued(client=client, client_id=application.client_id, secret=secret)


def revoke_client(client: SystemClient, *, by: User | None, now: dt.datetime) -> SystemClient:
    """Revoke `client` (one transaction, one audit event): its tokens stop working at once and
    its service user is deactivated. ClinicalValueError when it was revoked already."""
    with transaction.atomic():
        client = SystemClient.objects.select_for_update().get(pk=client.pk)
        if client.revoked_at is not None:
            raise ClinicalValueError(
                "name", f"{client.name} was revoked already, {client.revoked_at:%Y-%m-%d %H:%M} UTC"
            )
        client.revoked_at = now
        client.revoked_by = by
        client.save(update_fields=["revoked_at", "revoked_by"])
        User.objects.filter(pk=client.service_user_id).update(is_active=False)
        record_event(
            actor=by, username=CLI, action=AuditAction.UPDATE, category=DataCategory.STAFF,
            site=client.site, obj=client, reason="system client revoked",
        )  # fmt: skip
    return client


def clients_at(site_ids: Iterable[int] | None = None) -> list[SystemClient]:
    """The system clients (of these sites; None: every site), newest first."""
    found = SystemClient.objects.select_related("site", "application").order_by("-created_at")
    if site_ids is not None:
        found = found.filter(site__in=list(site_ids))
    return list(found)


# --- the token endpoint -------------------------------------------------------------------------


def _system_client(application: Any) -> SystemClient | None:
    if not isinstance(application, Application):
        return None
    return SystemClient.objects.select_related("site").filter(application=application).first()


class SystemClientValidator(OAuth2Validator):  # type: ignore[misc]  # DOT is untyped
    """DOT's validator, narrowed to system clients: a revoked client does not authenticate, and
    a token carries only the client's own scopes (or, under system/*.read, types its role
    reads); no scope asked for: all the client holds (RFC 6749 §3.3)."""

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        client = _system_client(request.client)
        return client is not None and client.active

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        system_client = _system_client(client)
        return system_client is not None and grants(system_client, scopes)

    def get_default_scopes(
        self, client_id: str, request: Any, *args: Any, **kwargs: Any
    ) -> list[str]:
        client = _system_client(request.client)
        return client.scope_list if client is not None else []


def _basic_credentials(request: HttpRequest) -> str:
    """The decoded "id:secret" of an HTTP Basic header (RFC 6749 §2.3.1), "" for none."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return unquote_plus(base64.b64decode(encoded.strip(), validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def _client_id(request: HttpRequest) -> str:
    """The client id the request names (Basic header, else the body), for the audit event:
    printable characters only (PostgreSQL text holds no NUL); "" when it names none or cannot
    be read. Never the secret."""
    if request.headers.get("Authorization", "").lower().startswith("basic"):
        named = _basic_credentials(request).partition(":")[0]
    else:
        try:
            named = str(request.POST.get("client_id", ""))
        except (SuspiciousOperation, ValueError):
            named = ""
    return "".join(c for c in named if c.isprintable())[:100]


def _client_named(client_id: str) -> SystemClient | None:
    if not client_id or "\x00" in client_id:
        return None
    return (
        SystemClient.objects.select_related("site", "service_user")
        .filter(application__client_id=client_id)
        .first()
    )


def _answer(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    response["Pragma"] = "no-cache"
    for key, value in (headers or {}).items():
        if key.lower() not in {"content-type", "cache-control", "pragma"}:
            response[key] = value
    if status == 401 and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Basic realm="sustain"'  # RFC 6749 §5.2
    return response


def _refuse(
    request: HttpRequest, status: int, error: str, description: str, *, client_id: str = ""
) -> HttpResponse:
    """An OAuth error answer (RFC 6749 §5.2), audited as a failed sign-in of the client."""
    client = _client_named(client_id)
    reason = error
    if error == "invalid_client" and client is not None and not client.active:
        reason = "invalid_client: revoked"
    record_event(
        actor=None,
        username=(
            f"client {client.name}" if client else f"client {client_id}" if client_id else ""
        )[:150]
        or "unknown client",
        action=AuditAction.LOGIN_FAILED,
        category=DataCategory.AUTHENTICATION,
        outcome=AuditOutcome.DENIED,
        site=client.site if client else None,
        obj=client,
        reason=reason[:40],
    )
    return _answer(status, {"error": error, "error_description": description})


def _form_problem(request: HttpRequest) -> tuple[int, str, str] | None:
    """What is wrong with the token request before the client is even looked at (RFC 6749
    §4.4.2, §3.2), as (status, OAuth error, description); None: nothing."""
    if request.method != "POST":
        return 405, "invalid_request", "POST the token request (RFC 6749 §4.4.2)"
    if request.content_type != "application/x-www-form-urlencoded":
        return (
            400, "invalid_request",
            "send the token request as application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
        )  # fmt: skip
    try:
        repeated = sorted(key[:40] for key, values in request.POST.lists() if len(values) > 1)
        grant_type = request.POST.get("grant_type", "")
        sent = [request.headers.get("Authorization", ""), _basic_credentials(request)]
        sent += [f"{key}={value}" for key, values in request.POST.lists() for value in values]
    except (SuspiciousOperation, ValueError):
        return 400, "invalid_request", "the form could not be read"
    if any("\x00" in text for text in sent):  # PostgreSQL text holds no NUL: never a 500
        return 400, "invalid_request", "the request holds a NUL character"
    found = [
        # RFC 6749 §3.2: a parameter MUST NOT be sent more than once
        (bool(repeated), "invalid_request", f"{', '.join(repeated)} sent more than once"),
        (not grant_type, "invalid_request", "send grant_type=client_credentials"),
        (
            grant_type != "client_credentials", "unsupported_grant_type",
            "only grant_type=client_credentials is accepted",
        ),
    ]  # fmt: skip
    return next(((400, error, why) for wrong, error, why in found if wrong), None)


def _issued_to(answer: dict[str, Any]) -> SystemClient:
    """The system client a token answer was issued to (the validator authenticates system
    clients only: anything else is a bug, refused as unreadable and rolled back)."""
    access = answer.get("access_token")
    stored = (
        AccessToken.objects.select_related("application")
        .filter(token_checksum=hashlib.sha256(str(access).encode()).hexdigest())
        .first()
    )
    client = _system_client(stored.application) if stored is not None else None
    if client is None:
        raise ValueError("a token issued to no system client")
    return client


@csrf_exempt
@sensitive_post_parameters("client_secret")  # never in an error report
def token(request: HttpRequest) -> HttpResponse:
    """POST /fhir/R4/auth/token: an access token for a system client (RFC 6749 §4.4,
    client_credentials), or an OAuth error (§5.2: invalid_request, invalid_client 401,
    unsupported_grant_type, invalid_scope), never a 500. The token and its audit event are
    one transaction."""
    client_id = _client_id(request)
    problem = _form_problem(request)
    if problem is not None:
        status, error, description = problem
        response = _refuse(request, status, error, description, client_id=client_id)
        if status == 405:
            response["Allow"] = "POST"
        return response
    try:
        with transaction.atomic():
            _uri, headers, body, status = get_oauthlib_core().create_token_response(request)
            answer = json.loads(body)
            if status == 200:
                client = _issued_to(answer)
                record_event(
                    actor=client.service_user, action=AuditAction.LOGIN,
                    category=DataCategory.AUTHENTICATION, site=client.site, obj=client,
                    reason="client credentials token",
                )  # fmt: skip
    except (ValueError, SuspiciousOperation):  # oauthlib refuses characters it cannot read
        return _refuse(
            request, 400, "invalid_request", "the token request could not be read",
            client_id=client_id,
        )  # fmt: skip
    if status != 200:
        error = str(answer.get("error", "invalid_request"))
        description = str(answer.get("error_description", "")) or {
            "invalid_client": "the client id or secret is wrong, or the client was revoked",
            "invalid_scope": "a scope asked for is not one this client holds",
        }.get(error, "the token request was refused")
        return _refuse(request, status, error, description, client_id=client_id)
    return _answer(200, answer, headers)


# --- reading with a token -----------------------------------------------------------------------


def caller_for_token(token: str) -> Caller:
    """Who a bearer token reads as: the client's service user and the token's scopes.
    auth.Refused 401 for a token Sustain never issued ("login"), one past its time ("expired"),
    or one of a revoked client ("login")."""
    checksum = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
    stored = (
        AccessToken.objects.select_related(
            "application__system_client__service_user", "application__system_client__site"
        )
        .filter(token_checksum=checksum)
        .first()
    )
    if stored is None:
        raise auth.Refused(
            401, "login", f"The access token is not known: ask for a new one at {ENDPOINT}."
        )
    if stored.is_expired():
        raise auth.Refused(
            401, "expired", f"The access token has expired: ask for a new one at {ENDPOINT}."
        )
    client = getattr(stored.application, "system_client", None) if stored.application else None
    if client is None or not client.active or not client.service_user.is_active:
        raise auth.Refused(401, "login", "The client of this access token was revoked.")
    return caller_for_client(client, frozenset(stored.scope.split()))


def caller_for_client(client: SystemClient, scopes: frozenset[str]) -> Caller:
    """The client reading with `scopes`: what its role grants (accounts.roles), at its site."""
    return Caller(
        user=client.service_user,
        scopes=scopes,
        permissions=ROLE_PERMISSIONS[Role(client.role)],
        sites=frozenset({client.site_id}),
    )
