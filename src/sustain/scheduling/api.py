"""The scheduling API: book a patient's whole induction series (mounted by sustain.api)."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status

from sustain.accounts.bounds import check_date
from sustain.accounts.enums import DataCategory
from sustain.accounts.idempotency import once
from sustain.accounts.models import User
from sustain.care import queries as care_queries
from sustain.care import services as care_services
from sustain.scheduling import services
from sustain_core.errors import ClinicalValueError

router = Router()


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


@router.post(
    "/patients/{patient_id}/series",
    response={201: SeriesOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
              422: ErrorOut},
)  # fmt: skip
def book_series(request: HttpRequest, patient_id: int, payload: SeriesIn) -> Status[Any]:
    """Book the patient's whole induction series from a first day (Idempotency-Key honoured).

    409 when the series is already booked, a chair was taken meanwhile, or a visit would start
    under the infusion gap floor from another infusion of the patient (e.g. of an earlier
    course, booked since the series was held); 400 when no series fits, with the reason.
    """
    user: User = request.auth  # type: ignore[attr-defined]  # StaffSession: a staff User
    patient = care_queries.get_patient_for_change(
        user, patient_id, "scheduling.add_appointment", category=DataCategory.SCHEDULE
    )
    course = care_services.active_course(patient)
    if course is None:
        raise ClinicalValueError("course", "enrol the patient in a protocol first")
    check_date(payload.first_day, "first_day", "the first day")
    now = timezone.now()
    earliest = max(dt.datetime.combine(payload.first_day, dt.time.min, tzinfo=patient.site.tz), now)

    def run() -> tuple[int, dict[str, Any]]:
        visits = services.book_series(course=course, earliest=earliest, by=user, now=now)
        body = SeriesOut(
            visits=[
                VisitOut(
                    number=v.number, starts_at=v.starts_at, ends_at=v.ends_at, chair=v.chair.name
                )
                for v in visits
            ]
        )
        return 201, body.model_dump(mode="json")

    return Status(*once(request, user, run, now=now))
