"""Patient resources: demographics, the MRN as an identifier (and another system's, kept by
`sustain fhir-import`), contacts (FHIR R4 Patient)."""

import datetime as dt

from django.db.models import Q, QuerySet

from sustain.accounts.enums import DataCategory
from sustain.care.models import Patient
from sustain.interop.fhir.registry import Json, Source, model_json


def mrn_system(site_id: int) -> str:
    """The identifier system of a site's MRNs."""
    return f"urn:sustain:site:{site_id}:mrn"


def _rows(site_ids: frozenset[int]) -> QuerySet[Patient]:
    return Patient.objects.filter(site__in=site_ids).prefetch_related("identifiers").order_by("pk")


def _build(patient: Patient) -> list[Json]:
    telecom = [
        {"system": system, "value": value, "use": "home"}
        for system, value in (("phone", patient.phone), ("email", patient.email))
        if value
    ]
    resource: Json = {
        "resourceType": "Patient",
        "id": f"patient-{patient.pk}",
        "identifier": [
            {
                "use": "usual",
                "type": {"text": "MRN"},
                "system": mrn_system(patient.site_id),
                "value": patient.mrn,
            },
            # Another system's identifiers, kept when the patient was imported (fhir-import).
            *(
                {"use": "secondary", "system": i.system, "value": i.value}
                for i in patient.identifiers.all()
            ),
        ],
        "active": True,
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex,
        "birthDate": patient.date_of_birth.isoformat(),
        "managingOrganization": {"reference": f"Organization/site-{patient.site_id}"},
    }
    if telecom:
        resource["telecom"] = telecom
    if patient.address:
        resource["address"] = [{"text": patient.address}]
    return [model_json("Patient", resource)]


def _name(value: str) -> Q:
    """FHIR `name`: each word starts the given or family name (case-insensitive)."""
    found = Q()
    for word in value.split():
        found &= Q(given_name__istartswith=word) | Q(family_name__istartswith=word)
    return found


PATIENTS = Source(
    type="Patient",
    prefix="patient",
    permission="care.view_patient",
    category=DataCategory.DEMOGRAPHICS,
    rows=_rows,
    build=_build,
    patient="pk",
    date=None,
    narrow={
        "name": _name,
        "family": lambda v: Q(family_name__istartswith=v),
        "given": lambda v: Q(given_name__istartswith=v),
        "birthdate": lambda v: Q(date_of_birth=dt.date.fromisoformat(v)),
        "identifier": lambda v: Q(mrn=v.rpartition("|")[2]),
    },
)
