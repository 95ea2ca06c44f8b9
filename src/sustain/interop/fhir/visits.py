"""Visits as FHIR R4 Appointment (the booking, http://hl7.org/fhir/R4/appointment.html) and
Encounter (the visit that happened: its chair-side record, http://hl7.org/fhir/R4/encounter.html);
reference §5.1 ("Booking", "Session").

Appointment.status from the booking's status (scheduling.enums.AppointmentStatus):
  booked → "booked" ("arrived" once the patient is checked in: a chair-side record exists),
  completed → "fulfilled", cancelled → "cancelled" (the reason's label as cancelationReason's
  text), no_show → "noshow".
Encounter.status from the chair-side record's stage (infusion.enums.Stage):
  checking_in, ready → "arrived"; infusing, stopped, recovering → "in-progress";
  discharged, signed, cosigned → "finished". A visit with an infusion and no chair-side record
  (recorded before issue 13) is "finished".
serviceType and description carry no patient data (no name, no diagnosis, no dose).
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet

from sustain.accounts.enums import DataCategory
from sustain.infusion.enums import Stage
from sustain.infusion.models import ChairsideRecord
from sustain.interop.fhir import codes
from sustain.interop.fhir.locations import chair_ref, organization_ref
from sustain.interop.fhir.registry import Json, Source, model_json
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment

APPOINTMENT_STATUS = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.COMPLETED: "fulfilled",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.NO_SHOW: "noshow",
}
ENCOUNTER_STATUS = {
    Stage.CHECKING_IN: "arrived", Stage.READY: "arrived",
    Stage.INFUSING: "in-progress", Stage.STOPPED: "in-progress", Stage.RECOVERING: "in-progress",
    Stage.DISCHARGED: "finished", Stage.SIGNED: "finished", Stage.COSIGNED: "finished",
}  # fmt: skip
SERVICE = "Infusion visit"


def patient_ref(patient_id: int) -> Json:
    return {"reference": f"Patient/patient-{patient_id}"}


def practitioner_ref(user_id: int) -> Json:
    """A staff member as a Practitioner (built by the Practitioner source)."""
    return {"reference": f"Practitioner/practitioner-{user_id}"}


def encounter_ref(appointment_id: int) -> Json:
    return {"reference": f"Encounter/encounter-{appointment_id}"}


def appointment_ref(appointment_id: int) -> Json:
    return {"reference": f"Appointment/appointment-{appointment_id}"}


def instant(value: Any) -> str:
    """An aware datetime as a FHIR instant."""
    return str(value.isoformat())


def chairside_of(visit: Appointment) -> ChairsideRecord | None:
    try:
        return visit.chairside
    except ChairsideRecord.DoesNotExist:
        return None


def clinicians(record: ChairsideRecord | None) -> list[int]:
    """The nurse who checked the patient in and the prescriber who co-signed, where known."""
    if record is None:
        return []
    found = [record.checked_in_by_id]
    if record.prescriber_signed_by_id and record.prescriber_signed_by_id not in found:
        found.append(record.prescriber_signed_by_id)
    return found


def _appointments(site_ids: frozenset[int]) -> QuerySet[Appointment]:
    return Appointment.objects.filter(site__in=site_ids).select_related("chairside").order_by("pk")


def _build_appointment(visit: Appointment) -> list[Json]:
    record = chairside_of(visit)
    status = APPOINTMENT_STATUS[AppointmentStatus(visit.status)]
    if status == "booked" and record is not None:
        status = "arrived"
    participant: list[Json] = [
        {"actor": patient_ref(visit.patient_id), "required": "required", "status": "accepted"},
        {"actor": chair_ref(visit.chair_id), "required": "required", "status": "accepted"},
        *(
            {"actor": practitioner_ref(user), "required": "information-only", "status": "accepted"}
            for user in clinicians(record)
        ),
    ]
    resource: Json = {
        "resourceType": "Appointment",
        "id": f"appointment-{visit.pk}",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{visit.uid}"}],
        "status": status,
        "serviceType": [{"text": SERVICE}],
        "description": f"{SERVICE} {visit.number} of a course",
        "start": instant(visit.starts_at),
        "end": instant(visit.ends_at),
        "minutesDuration": int((visit.ends_at - visit.starts_at).total_seconds() // 60),
        "created": instant(visit.booked_at),
        "participant": participant,
    }
    if visit.status == AppointmentStatus.CANCELLED:
        resource["cancelationReason"] = {"text": visit.get_cancel_reason_display()}
    return [model_json("Appointment", resource)]


def _encounters(site_ids: frozenset[int]) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(site__in=site_ids)
        .filter(Q(chairside__isnull=False) | Q(infusion__isnull=False))
        .select_related("chairside", "infusion")
        .order_by("pk")
    )


def _build_encounter(visit: Appointment) -> list[Json]:
    record = chairside_of(visit)
    period: Json
    if record is not None:
        status = ENCOUNTER_STATUS[Stage(record.stage)]
        period = {"start": instant(record.checked_in_at)}
        if record.discharged_at is not None:
            period["end"] = instant(record.discharged_at)
    else:  # an infusion recorded before the chair-side record: its booked time
        status = "finished"
        period = {"start": instant(visit.starts_at), "end": instant(visit.ends_at)}
    resource: Json = {
        "resourceType": "Encounter",
        "id": f"encounter-{visit.pk}",
        "status": status,
        "class": codes.coding("encounter-ambulatory"),
        "serviceType": {"text": SERVICE},
        "subject": patient_ref(visit.patient_id),
        "appointment": [appointment_ref(visit.pk)],
        "period": period,
        "location": [{"location": chair_ref(visit.chair_id), "status": "completed"
                      if status == "finished" else "active"}],
        "serviceProvider": organization_ref(visit.site_id),
    }  # fmt: skip
    people = clinicians(record)
    if people:
        resource["participant"] = [{"individual": practitioner_ref(u)} for u in people]
    return [model_json("Encounter", resource)]


def status_search(choices: dict[str, Q], valid: str) -> Callable[[str], Q]:
    """`status=` answered in the database: each FHIR status (a comma list: any of them) as the
    rows that map to it; one of the resource's R4 statuses (`valid`) that Sustain never gives
    finds nothing, any other value raises ValueError (a 400)."""
    allowed = valid.split()

    def narrow(value: str) -> Q:
        found = Q(pk__in=[])
        for status in value.split(","):
            if status not in allowed:
                raise ValueError(f"status must be one of {', '.join(allowed)}; got {status!r}")
            found |= choices.get(status, Q(pk__in=[]))
        return found

    return narrow


def statuses_of(mapping: dict[Any, str], lookup: str) -> dict[str, Q]:
    """Each FHIR status of `mapping` as the rows whose own value (`lookup`) maps to it."""
    found: dict[str, list[Any]] = {}
    for own, fhir in mapping.items():
        found.setdefault(fhir, []).append(own)
    return {fhir: Q(**{f"{lookup}__in": own}) for fhir, own in found.items()}


# The R4 status value sets (http://hl7.org/fhir/R4/valueset-appointmentstatus.html,
# valueset-encounter-status.html).
APPOINTMENT_R4 = (
    "proposed pending booked arrived fulfilled cancelled noshow entered-in-error checked-in "
    "waitlist"
)
ENCOUNTER_R4 = (
    "planned arrived triaged in-progress onleave finished cancelled entered-in-error unknown"
)
_BOOKED = Q(status=AppointmentStatus.BOOKED)
APPOINTMENT_SEARCH = {
    **statuses_of(APPOINTMENT_STATUS, "status"),
    "booked": _BOOKED & Q(chairside__isnull=True),
    "arrived": _BOOKED & Q(chairside__isnull=False),
}
ENCOUNTER_SEARCH = {
    fhir: q | Q(chairside__isnull=True) if fhir == "finished" else q
    for fhir, q in statuses_of(ENCOUNTER_STATUS, "chairside__stage").items()
}

APPOINTMENTS = Source(
    type="Appointment",
    prefix="appointment",
    permission="scheduling.view_appointment",
    category=DataCategory.SCHEDULE,
    rows=_appointments,
    build=_build_appointment,
    patient="patient",
    date="starts_at",
    narrow={"status": status_search(APPOINTMENT_SEARCH, APPOINTMENT_R4)},
)

# Encounter `date=` narrows on the booked start (check-in is within the booked visit).
ENCOUNTERS = Source(
    type="Encounter",
    prefix="encounter",
    permission="infusion.view_infusionrecord",
    category=DataCategory.INFUSION,
    rows=_encounters,
    build=_build_encounter,
    patient="patient",
    date="starts_at",
    narrow={"status": status_search(ENCOUNTER_SEARCH, ENCOUNTER_R4)},
)
