"""MedicationStatement resources: the patient's medication list (care.Medication), id
"medlist-<pk>" (FHIR R4 §10.5 MedicationStatement).

The medication is an RxNorm ingredient Coding only when its rxcui is in the reviewed code list
(codes.toml, FHIR-07: the ingredient codes sustain_core.medications verified); any other rxcui
and a name as typed are sent as text alone, never as an unreviewed Coding. Status: "stopped"
once a stop is recorded, else "active"; the period is the start and stop Sustain knows; the dose
and notes are the dosage's text."""

from django.db.models import Q, QuerySet

from sustain.accounts.enums import DataCategory
from sustain.care.models import Medication
from sustain.interop.fhir import codes, tokens
from sustain.interop.fhir.registry import Json, Source, model_json


def _rows(site_ids: frozenset[int]) -> QuerySet[Medication]:
    return Medication.objects.filter(patient__site__in=site_ids).order_by("pk")


def medication_concept(medication: Medication) -> Json:
    name = codes.named("rxnorm", medication.rxcui) if medication.rxcui else None
    if name is None:
        return {"text": medication.name}
    return codes.concept(name, text=medication.name)


def statement(medication: Medication) -> Json:
    resource: Json = {
        "resourceType": "MedicationStatement",
        "id": f"medlist-{medication.pk}",
        "status": "stopped" if medication.stopped_on is not None else "active",
        "medicationCodeableConcept": medication_concept(medication),
        "subject": {"reference": f"Patient/patient-{medication.patient_id}"},
        "dateAsserted": medication.recorded_at.isoformat(),
        "informationSource": {
            "reference": f"Practitioner/practitioner-{medication.recorded_by_id}"
        },
    }
    period: Json = {}
    if medication.started_on is not None:
        period["start"] = medication.started_on.isoformat()
    if medication.stopped_on is not None:
        period["end"] = medication.stopped_on.isoformat()
    if period:
        resource["effectivePeriod"] = period
    if medication.dose:
        resource["dosage"] = [{"text": medication.dose}]
    return model_json("MedicationStatement", resource)


def _status(value: str) -> Q:
    wanted = set(value.split(","))
    found = Q(pk__in=[])
    if "active" in wanted:
        found |= Q(stopped_on__isnull=True)
    if "stopped" in wanted:
        found |= Q(stopped_on__isnull=False)
    return found


def _code(value: str) -> Q:
    """code: a listed RxNorm code (a rxcui outside the list is never sent as a Coding)."""
    found = Q(pk__in=[])
    for one in value.split(","):
        system, code = tokens.parse(one)
        if system in (None, codes.system("rxnorm")) and codes.named("rxnorm", code):
            found |= Q(rxcui=code)
    return found


MEDICATION_STATEMENTS = Source(
    type="MedicationStatement",
    prefix="medlist",
    permission="care.view_medication",
    category=DataCategory.PATIENT_RECORD,
    rows=_rows,
    build=lambda medication: [statement(medication)],
    patient="patient",
    date="started_on",
    narrow={"status": _status, "code": _code},
)
