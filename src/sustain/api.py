"""The REST API under /api/v1/ (django-ninja): session authentication, one error shape
{"error": {"code": ..., "message": ...}}, an OpenAPI document at /api/v1/openapi.json. Each
app brings its router (scheduling.api, infusion.api, ledger.api); the errors are mapped here,
once."""

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.multipartparser import MultiPartParserError
from django.urls import URLPattern, URLResolver, re_path
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.security import SessionAuth

from sustain.accounts import context, mfa
from sustain.accounts.idempotency import KeyReused
from sustain.accounts.web import audit_refusal
from sustain.infusion import api as infusion_api
from sustain.infusion.services import StepRefused
from sustain.ledger import api as ledger_api
from sustain.ledger import count_api
from sustain.scheduling import api as scheduling_api
from sustain.scheduling.api import ErrorOut
from sustain.scheduling.services import BookingConflict
from sustain_core.errors import ClinicalValueError, LedgerRefused


class StaffSession(SessionAuth):
    """Django's session past the second factor, for staff with a role only: deny by default
    (401 otherwise)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and mfa.passed(user) and user.groups.exists() else None


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For the OpenAPI document: signed in and holding a role."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and mfa.passed(user) and user.groups.exists()):
            raise Http404("Not found.")
        return view(request, *args, **kwargs)

    return wrapped


logger = logging.getLogger(__name__)


class SustainAPI(NinjaAPI):
    """NinjaAPI whose every answer outside a route's own is in the error shape too (TST-03):
    a method the path does not take (ninja answers 405 in plain text before any handler) and
    a path under /api/v1/ that names no route (Django's HTML 404 otherwise)."""

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _shaped_405(pattern.callback)
        return [*urls, re_path(r"^.*$", _no_route, name="no_route")]

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        """The document, with the answers any operation may give documented on each: 400 (a
        body that cannot be read), 401 (not signed in as staff), 422 (a value the schema
        refuses), all in the error shape."""
        document = super().get_openapi_schema(**kwargs)
        shape = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        document["components"].setdefault("schemas", {}).setdefault(
            "ErrorOut", ErrorOut.model_json_schema()
        )
        for operations in document["paths"].values():
            for operation in operations.values():
                for status, description in COMMON_ANSWERS.items():
                    operation["responses"].setdefault(
                        status, {"description": description, "content": shape}
                    )
        return document


COMMON_ANSWERS = {
    400: "Bad Request: the body cannot be read",
    401: "Unauthorized: sign in as staff past the second factor",
    422: "Unprocessable Content: a value the schema refuses",
}


def _shaped_405(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = error(
                request, 405, "method", f"{request.method} is not allowed here; use {allowed}"
            )
            response["Allow"] = allowed
        return response

    return wrapped


def _no_route(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return error(request, 404, "not_found", "no such API path")


api = SustainAPI(
    title="Sustain API",
    version="1",
    urls_namespace="api",
    auth=StaffSession(),
    docs_url=None,  # the interactive docs load scripts from a CDN, which the CSP forbids
    docs_decorator=staff_only,
    openapi_extra={"tags": [{"name": "ledger", "description": ledger_api.DESCRIPTION}]},
)


def error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message}}, status=status
    )


@api.exception_handler(BookingConflict)
def on_conflict(request: HttpRequest, exc: BookingConflict) -> HttpResponse:
    audit_refusal(request, exc)  # issue 14: one audit event per refusal
    return error(request, 409, exc.field, exc.message)


# django-ninja picks the handler of the first class in the exception's MRO that has one
# (NinjaAPI._lookup_exception_handler), so this subclass of ClinicalValueError answers 409
# whatever the order of registration.
@api.exception_handler(StepRefused)
def on_step_refused(request: HttpRequest, exc: StepRefused) -> HttpResponse:
    """The record does not allow this step now (chair-side record): nothing was saved."""
    audit_refusal(request, exc)  # issue 14: one audit event per refusal
    return error(request, 409, exc.field, exc.message)


@api.exception_handler(LedgerRefused)
def on_ledger_refused(request: HttpRequest, exc: LedgerRefused) -> HttpResponse:
    """A ledger write breaks one of its rules: 409, the code naming the rule (ledger.enums.Rule),
    nothing saved. Only the ledger's services raise it, so other routers keep 400."""
    audit_refusal(request, exc)  # issue 14: one audit event per refusal
    return error(request, 409, exc.rule, exc.message)


@api.exception_handler(KeyReused)
def on_key_reused(request: HttpRequest, exc: KeyReused) -> HttpResponse:
    return error(request, 422, exc.field, exc.message)


@api.exception_handler(ClinicalValueError)
def on_refused(request: HttpRequest, exc: ClinicalValueError) -> HttpResponse:
    audit_refusal(request, exc)  # issue 14: one audit event per refusal
    return error(request, 400, exc.field, exc.message)


@api.exception_handler(PermissionDenied)
def on_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error(request, 403, "permission", str(exc) or "not allowed")


@api.exception_handler(Http404)
def on_missing(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error(request, 404, "not_found", str(exc) or "not found")


HTTP_CODES = {400: "request", 401: "authentication", 403: "permission", 429: "rate_limit"}
PARSE_MESSAGE = "the request body could not be read: send JSON with Content-Type application/json"


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja's own refusals: the body cannot be parsed (bad JSON, a multipart body without a
    boundary: 400), not signed in past the second factor or without a role (401), throttled."""
    message = str(exc)
    if exc.status_code == 400 and message == "Cannot parse request body":
        message = PARSE_MESSAGE
    elif exc.status_code == 401:
        message = "sign in (with the second factor) as staff with a role"
    return error(request, exc.status_code, HTTP_CODES.get(exc.status_code, "error"), message)


@api.exception_handler(MultiPartParserError)
def on_unreadable(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """A form body Django cannot parse (e.g. multipart without a boundary), met when the CSRF
    check reads the form: 400, as a body ninja cannot parse."""
    return error(request, 400, "request", PARSE_MESSAGE)


@api.exception_handler(SuspiciousOperation)
def on_suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    """Too many fields, a body over the size limit: 400, as Django answers them."""
    return error(request, 400, "request", "the request is too large or malformed")


@api.exception_handler(ValidationError)
def on_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """422: a value the schema refuses, the code naming the first field, the message every
    refused field in plain words ("first_day: Input should be a valid date ...")."""
    fields = [_field(e.get("loc", ())) for e in exc.errors]
    message = "; ".join(
        f"{field}: {e.get('msg', 'invalid')}" for field, e in zip(fields, exc.errors, strict=True)
    )
    return error(request, 422, fields[0] if fields else "body", message or "invalid request")


def _field(loc: Any) -> str:
    """The field a pydantic error location names: ("body", "payload", "first_day") → first_day."""
    parts = [str(p) for p in loc if p not in ("body", "payload", "query", "path", "header")]
    return ".".join(parts) or "body"


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    """500 in the shape, no traceback to the client: logged with the request id (the log
    carries the exception, not the request's body)."""
    request_id = context.current.get().request_id
    logger.exception("API error %s on %s %s", request_id, request.method, request.path)
    return error(
        request, 500, "internal", f"an unexpected error occurred (request {request_id or '-'})"
    )


api.add_router("", scheduling_api.router)
api.add_router("", infusion_api.router)
api.add_router("", ledger_api.router)
api.add_router("", count_api.router)
