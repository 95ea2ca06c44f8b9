"""The REST API under /api/v1/ (django-ninja): session authentication, one error shape
{"error": {"code": ..., "message": ...}}, an OpenAPI document at /api/v1/openapi.json. Each
app brings its router (scheduling.api, infusion.api, ledger.api); the errors are mapped here,
once."""

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.security import SessionAuth

from sustain.accounts import mfa
from sustain.accounts.idempotency import KeyReused
from sustain.accounts.web import audit_refusal
from sustain.infusion import api as infusion_api
from sustain.infusion.services import StepRefused
from sustain.ledger import api as ledger_api
from sustain.ledger import count_api
from sustain.scheduling import api as scheduling_api
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


api = NinjaAPI(
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


api.add_router("", scheduling_api.router)
api.add_router("", infusion_api.router)
api.add_router("", ledger_api.router)
api.add_router("", count_api.router)
