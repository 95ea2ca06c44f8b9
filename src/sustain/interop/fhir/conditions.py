"""Condition resources: the indication a patient is treated for (Patient.primary_condition),
id "indication-<patient pk>" (FHIR R4 §9.2 Condition; reference §5.1–5.2).

Codes (codes.toml, FHIR-07): treatment-resistant depression is SNOMED 370143000 (major
depressive disorder) with "Treatment-resistant depression" as `code.text`, since no SNOMED
concept for it was confirmed (reference §5.2), and ICD-10-CM F32.9; PTSD is SNOMED 47505003 and
ICD-10-CM F43.10. Sustain records "anxiety" (GAD or social anxiety: the anxiety protocol) and
"chronic pain" without the disorder, so those carry only what is true of them: ICD-10-CM F41.9
(anxiety disorder, unspecified) and G89.29 (other chronic pain), with the words as text; the
SNOMED GAD, fibromyalgia and CRPS concepts are not claimed for them. Every indication is an
active, confirmed problem-list item (the program enrols only a diagnosed patient)."""

from typing import Any

from django.db.models import Q, QuerySet

from sustain.accounts.enums import DataCategory
from sustain.care.enums import Condition
from sustain.care.models import Patient
from sustain.interop.fhir import codes, tokens
from sustain.interop.fhir.registry import Json, Source, model_json

# The listed codes of each indication (codes.toml names), SNOMED first.
INDICATION_CODES: dict[str, tuple[str, ...]] = {
    Condition.DEPRESSION: ("mdd", "indication-depression-icd10"),
    Condition.PTSD: ("ptsd", "indication-ptsd-icd10"),
    Condition.ANXIETY: ("indication-anxiety-icd10",),
    Condition.CHRONIC_PAIN: ("indication-chronic-pain-icd10",),
}


def _rows(site_ids: frozenset[int]) -> QuerySet[Patient]:
    """The patients whose indication is recorded (an imported patient's is not yet assessed)."""
    return Patient.objects.filter(site__in=site_ids).exclude(primary_condition="").order_by("pk")


def indication(patient: Patient) -> Json:
    condition = Condition(patient.primary_condition)
    resource: Json = {
        "resourceType": "Condition",
        "id": f"indication-{patient.pk}",
        "clinicalStatus": codes.concept("condition-active"),
        "verificationStatus": codes.concept("condition-confirmed"),
        "category": [codes.concept("condition-problem-list-item")],
        "code": codes.concept(*INDICATION_CODES[condition], text=str(condition.label)),
        "subject": {"reference": f"Patient/patient-{patient.pk}"},
        "recordedDate": patient.created_at.isoformat(),
    }
    return model_json("Condition", resource)


def _code(value: str) -> Q:
    by_condition: dict[str, Any] = {
        key: [codes.coding(n) for n in names] for key, names in INDICATION_CODES.items()
    }
    return Q(primary_condition__in=tokens.keys_matching(value, by_condition))


def _status(value: str) -> Q:
    """clinical-status: every indication is active."""
    return Q() if "active" in value.split(",") else Q(pk__in=[])


INDICATIONS = Source(
    type="Condition",
    prefix="indication",
    permission="care.view_course",
    category=DataCategory.PATIENT_RECORD,
    rows=_rows,
    build=lambda patient: [indication(patient)],
    patient="pk",
    date="created_at",
    narrow={"code": _code, "clinical-status": _status},
)
