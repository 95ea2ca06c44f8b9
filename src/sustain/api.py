"""The REST API under /api/v1/ (django-ninja): session authentication, one error shape
{"error": {"code": ..., "message": ...}}, an OpenAPI document at /api/v1/openapi.json."""

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI, Schema, Status
from ninja.security import SessionAuth

from sustain.accounts.access import require_permission
from sustain.accounts.enums import DataCategory
from sustain.accounts.idempotency import KeyReused, once
from sustain.accounts.models import User
from sustain.care import queries as care_queries
from sustain.care import services as care_services
from sustain.scheduling import services as scheduling
from sustain_core.errors import ClinicalValueError


class StaffSession(SessionAuth):
    """Django's session, for staff with a role only: deny by default (401 otherwise)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.groups.exists() else None


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For the OpenAPI document: signed in and holding a role."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.is_authenticated and request.user.groups.exists()):
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
)


def error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message}}, status=status
    )


@api.exception_handler(scheduling.BookingConflict)
def on_conflict(request: HttpRequest, exc: scheduling.BookingConflict) -> HttpResponse:
    return error(request, 409, exc.field, exc.message)


@api.exception_handler(KeyReused)
def on_key_reused(request: HttpRequest, exc: KeyReused) -> HttpResponse:
    return error(request, 422, exc.field, exc.message)


@api.exception_handler(ClinicalValueError)
def on_refused(request: HttpRequest, exc: ClinicalValueError) -> HttpResponse:
    return error(request, 400, exc.field, exc.message)


@api.exception_handler(PermissionDenied)
def on_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error(request, 403, "permission", str(exc) or "not allowed")


@api.exception_handler(Http404)
def on_missing(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error(request, 404, "not_found", str(exc) or "not found")


class SeriesIn(Schema):
    first_day: dt.date


class VisitOut(Schema):
    number: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    chair: str


class SeriesOut(Schema):
    visits: list[VisitOut]


class ErrorOut(Schema):
    error: dict[str, str]


@api.post(
    "/patients/{patient_id}/series",
    response={201: SeriesOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
              422: ErrorOut},
)  # fmt: skip
def book_series(request: HttpRequest, patient_id: int, payload: SeriesIn) -> Status[Any]:
    """Book the patient's whole induction series from a first day (Idempotency-Key honoured).

    409 when the series is already booked or a chair was taken meanwhile; 400 when no series
    fits, with the reason.
    """
    user: User = request.auth  # type: ignore[attr-defined]  # StaffSession: a staff User
    require_permission(user, "scheduling.add_appointment", category=DataCategory.SCHEDULE)
    patient = care_queries.get_patient_for_user(user, patient_id, audit_read=False)
    course = care_services.active_course(patient)
    if course is None:
        raise ClinicalValueError("course", "enrol the patient in a protocol first")
    tz = zoneinfo.ZoneInfo(patient.site.timezone)
    earliest = max(dt.datetime.combine(payload.first_day, dt.time.min, tzinfo=tz), timezone.now())

    def run() -> tuple[int, dict[str, Any]]:
        visits = scheduling.book_series(course=course, earliest=earliest, by=user)
        body = SeriesOut(
            visits=[
                VisitOut(
                    number=v.number, starts_at=v.starts_at, ends_at=v.ends_at, chair=v.chair.name
                )
                for v in visits
            ]
        )
        return 201, body.model_dump(mode="json")

    return Status(*once(request, user, run))
