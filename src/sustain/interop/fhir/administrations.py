"""Each infusion as a FHIR R4 MedicationAdministration (http://hl7.org/fhir/R4/
medicationadministration.html) and each adverse event at it as an AdverseEvent
(http://hl7.org/fhir/R4/adverseevent.html): reference §5.1, FHIR-05.

MedicationAdministration:
- medicationCodeableConcept: RxNorm ketamine (codes.toml "ketamine") and the NDC of the product
  the dose was drawn from (the ledger's draw → container → lot → product); the SCD RxCUIs of
  reference §5.2 are not sent (§5.2 does not say which strength each is).
- status from the chair-side stage: infusing → "in-progress", stopped → "on-hold", ended →
  "completed"; a record without a chair-side record (before issue 13) → "completed".
- dosage.dose: the mg given, exact (the record's Decimal, never rounded): the ledger's
  administered mg once the infusion ended (what the pump delivered: less than the dose drawn
  when it was stopped and not resumed), else the dose drawn (InfusionRecord.dose_mg).
- dosage.rateQuantity: the pump rate in mL/h (InfusionRecord.pump_rate_ml_per_h, what the record
  holds for every regimen); a per-hour regimen's mg/h is in dosage.text. Later rate changes,
  stops and resumptions are timed notes.
- The lot: R4 MedicationAdministration has no lot element, so it travels as the extension
  urn:sustain:fhir:lot-number (valueString) and as a note.
- context → the visit's Encounter; performer → the nurse who confirmed the dose.

AdverseEvent: actuality "actual", the event as text with a local coding (urn:sustain:adverse-
event-kind: no code list for these reactions is confirmed in reference §5.2, so none is
invented), seriousness and severity (R4 core code systems), suspectEntity.instance → the
infusion's MedicationAdministration, encounter → the visit; the action taken as the extension
urn:sustain:fhir:action-taken (R4 AdverseEvent has no element for it).
"""

from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet

from sustain.accounts.enums import DataCategory
from sustain.infusion.enums import AdverseEventSeverity, EventKind, Stage
from sustain.infusion.models import (
    ENDED,
    AdverseEvent,
    ChairsideRecord,
    InfusionEvent,
    InfusionRecord,
)
from sustain.interop.fhir import codes
from sustain.interop.fhir.registry import Json, Source, model_json
from sustain.interop.fhir.visits import (
    encounter_ref,
    instant,
    patient_ref,
    practitioner_ref,
    status_search,
    statuses_of,
)
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import LedgerEntry

LOT_EXTENSION = "urn:sustain:fhir:lot-number"
# R4 AdverseEvent has no element for what was done about it (outcome is the patient's state).
ACTION_EXTENSION = "urn:sustain:fhir:action-taken"
NOTED_EVENTS = (EventKind.STOP, EventKind.RESUME, EventKind.RATE_CHANGE)
SEVERITY = {
    AdverseEventSeverity.MILD: "ae-mild",
    AdverseEventSeverity.MODERATE: "ae-moderate",
    AdverseEventSeverity.SEVERE: "ae-severe",
}


def administration_ref(infusion_id: int) -> Json:
    return {"reference": f"MedicationAdministration/infusion-{infusion_id}"}


def _infusions(site_ids: frozenset[int]) -> QuerySet[InfusionRecord]:
    return (
        InfusionRecord.objects.filter(appointment__site__in=site_ids)
        .select_related("appointment__chairside", "draw__container__lot__product")
        .prefetch_related(
            Prefetch(
                "appointment__chairside__events",
                queryset=InfusionEvent.objects.filter(kind__in=NOTED_EVENTS).order_by("at", "pk"),
                to_attr="noted_events",
            ),
            Prefetch(
                "appointment__ledger_entries",
                queryset=LedgerEntry.objects.filter(
                    kind=EntryKind.ADMINISTER, reversed_by__isnull=True
                ).order_by("pk"),
                to_attr="administered",
            ),
        )
        .order_by("pk")
    )


def _chairside(given: InfusionRecord) -> ChairsideRecord | None:
    try:
        return given.appointment.chairside
    except ChairsideRecord.DoesNotExist:
        return None


def dose_given(given: InfusionRecord, record: ChairsideRecord | None) -> Decimal:
    """The mg given: what the ledger records as administered once the infusion ended, else the
    dose drawn (exact Decimals)."""
    administered = getattr(given.appointment, "administered", [])
    if record is not None and record.stage in ENDED and administered:
        return sum((entry.quantity_mg for entry in administered), Decimal(0))
    return given.dose_mg


# The dose is recorded when the infusion starts, so a record is at least infusing.
ADMINISTRATION_STATUS = {
    Stage.CHECKING_IN: "in-progress", Stage.READY: "in-progress", Stage.INFUSING: "in-progress",
    Stage.STOPPED: "on-hold", **dict.fromkeys(ENDED, "completed"),
}  # fmt: skip


def _status(record: ChairsideRecord | None) -> str:
    return "completed" if record is None else ADMINISTRATION_STATUS[Stage(record.stage)]


def _build_administration(given: InfusionRecord) -> list[Json]:
    record = _chairside(given)
    medication = codes.concept("ketamine", text="Ketamine hydrochloride injection")
    lot = ""
    if given.draw is not None:
        product = given.draw.container.lot.product
        medication["coding"].append(
            {"system": codes.system("ndc"), "code": product.ndc, "display": str(product)}
        )
        medication["text"] = str(product)
        lot = given.draw.container.lot.lot_number
    elif record is not None:
        lot = record.lot
    effective: Json
    if record is not None and record.started_at is not None:
        period = {"start": instant(record.started_at)}
        if record.ended_at is not None:
            period["end"] = instant(record.ended_at)
        effective = {"effectivePeriod": period}
    else:
        effective = {"effectiveDateTime": instant(given.confirmed_at)}
    text = f"{given.dose_mg.normalize():f} mg drawn in {given.bag_volume_ml.normalize():f} mL"
    if given.dose_rate_mg_per_h is not None:
        text += f", run at {given.dose_rate_mg_per_h.normalize():f} mg/h"
    text += f" over {given.infusion_minutes} min"
    notes: list[Json] = []
    if lot:
        notes.append({"text": f"Lot {lot}"})
    for event in getattr(record, "noted_events", []) if record is not None else []:
        notes.append(
            {"time": instant(event.at), "text": f"{event.get_kind_display()}: {event.detail}"}
        )
    resource: Json = {
        "resourceType": "MedicationAdministration",
        "id": f"infusion-{given.pk}",
        "status": _status(record),
        "medicationCodeableConcept": medication,
        "subject": patient_ref(given.patient_id),
        "context": encounter_ref(given.appointment_id),
        **effective,
        "performer": [{"actor": practitioner_ref(given.confirmed_by_id)}],
        "dosage": {
            "text": text,
            "route": codes.concept("route-iv"),
            "dose": codes.quantity(dose_given(given, record), "mg"),
            "rateQuantity": codes.quantity(given.pump_rate_ml_per_h, "mL/h"),
        },
    }
    if lot:
        resource["extension"] = [{"url": LOT_EXTENSION, "valueString": lot}]
    if notes:
        resource["note"] = notes
    return [model_json("MedicationAdministration", resource)]


def _adverse_events(site_ids: frozenset[int]) -> QuerySet[AdverseEvent]:
    return (
        AdverseEvent.objects.filter(infusion__appointment__site__in=site_ids)
        .select_related("infusion")
        .order_by("pk")
    )


def _build_adverse_event(event: AdverseEvent) -> list[Json]:
    label = event.get_kind_display()
    text = f"{label}: {event.description}" if event.description else label
    resource: Json = {
        "resourceType": "AdverseEvent",
        "id": f"adverse-{event.pk}",
        "actuality": "actual",
        "event": {
            "coding": [
                {"system": "urn:sustain:adverse-event-kind", "code": event.kind, "display": label}
            ],
            "text": text,
        },
        "subject": patient_ref(event.infusion.patient_id),
        "encounter": encounter_ref(event.infusion.appointment_id),
        "date": instant(event.recorded_at),
        "recordedDate": instant(event.recorded_at),
        "recorder": practitioner_ref(event.recorded_by_id),
        "seriousness": codes.concept("ae-serious" if event.serious else "ae-non-serious"),
        "severity": codes.concept(SEVERITY[AdverseEventSeverity(event.severity)]),
        "suspectEntity": [{"instance": administration_ref(event.infusion_id)}],
    }
    if event.action_taken:
        resource["extension"] = [{"url": ACTION_EXTENSION, "valueString": event.action_taken}]
    return [model_json("AdverseEvent", resource)]


# http://hl7.org/fhir/R4/valueset-medication-admin-status.html
ADMINISTRATION_R4 = "in-progress not-done on-hold completed entered-in-error stopped unknown"
ADMINISTRATION_SEARCH = {
    fhir: q | Q(appointment__chairside__isnull=True) if fhir == "completed" else q
    for fhir, q in statuses_of(ADMINISTRATION_STATUS, "appointment__chairside__stage").items()
}

ADMINISTRATIONS = Source(
    type="MedicationAdministration",
    prefix="infusion",
    permission="infusion.view_infusionrecord",
    category=DataCategory.INFUSION,
    rows=_infusions,
    build=_build_administration,
    patient="patient",
    date="confirmed_at",
    narrow={"status": status_search(ADMINISTRATION_SEARCH, ADMINISTRATION_R4)},
)

ADVERSE_EVENTS = Source(
    type="AdverseEvent",
    prefix="adverse",
    permission="infusion.view_infusionrecord",
    category=DataCategory.INFUSION,
    rows=_adverse_events,
    build=_build_adverse_event,
    patient="infusion__patient",
    date="recorded_at",
)
