"""Condition resources of the conditions another system recorded for a patient
(care.RecordedCondition, taken by `sustain fhir-import`): FHIR R4 Condition
(http://hl7.org/fhir/R4/condition.html), id "condition-<pk>".

Their `code` is the source record's own coding, passed through unchanged (it is data, not a
code Sustain assigns), and the resource carries the IMPORTED tag that says so (codes.py); the
statuses and the category are the R4 core codes from codes.toml. Not the program's indication
(the care helper's Condition "indication-<patient pk>")."""

from django.db.models import Q, QuerySet

from sustain.accounts.enums import DataCategory
from sustain.care.models import RecordedCondition
from sustain.interop.fhir import codes
from sustain.interop.fhir.registry import Json, Source, model_json


def _rows(site_ids: frozenset[int]) -> QuerySet[RecordedCondition]:
    return RecordedCondition.objects.filter(patient__site__in=site_ids).order_by("pk")


def _status(kind: str, value: str) -> Json | None:
    """A status or category as the listed R4 core code, None when it is not one."""
    try:
        return codes.concept(f"{kind}-{value}")
    except KeyError:
        return None


def _build(row: RecordedCondition) -> list[Json]:
    concept: Json = {}
    if row.code:
        coding = {"system": row.code_system, "code": row.code}
        if row.display:
            coding["display"] = row.display
        concept["coding"] = [coding]
    if row.text:
        concept["text"] = row.text
    resource: Json = {
        "resourceType": "Condition",
        "id": f"condition-{row.pk}",
        "meta": {"tag": [codes.IMPORTED]},
        "identifier": [{"system": "urn:sustain:fhir-import:source-id", "value": row.source_id}],
        "code": concept,
        "subject": {"reference": f"Patient/patient-{row.patient_id}"},
    }
    for key, kind, value in (
        ("clinicalStatus", "condition-clinical", row.clinical_status),
        ("verificationStatus", "condition-ver", row.verification_status),
    ):
        if value and (found := _status(kind, value)):
            resource[key] = found
    if row.category and (category := _status("condition-category", row.category)):
        resource["category"] = [category]
    for key, when in (
        ("onsetDateTime", row.onset),
        ("abatementDateTime", row.abatement),
        ("recordedDate", row.recorded_date),
    ):
        if when is not None:
            resource[key] = when.isoformat()
    return [model_json("Condition", resource)]


def _code(value: str) -> Q:
    """FHIR token search on `code` (R4 §3.1.1.4.4 token): "code", "system|code", "system|"."""
    system, bar, code = value.rpartition("|")
    found = Q(code=code) if code else Q()
    if bar and system:
        found &= Q(code_system=system)
    return found


RECORDED_CONDITIONS = Source(
    type="Condition",
    prefix="condition",
    permission="care.view_course",
    category=DataCategory.PATIENT_RECORD,
    rows=_rows,
    build=_build,
    patient="patient",
    date="onset",
    narrow={
        "code": _code,
        "clinical-status": lambda v: Q(clinical_status=v.rpartition("|")[2]),
    },
)
