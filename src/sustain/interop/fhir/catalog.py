"""Every source of FHIR resources, in one list (sustain.interop.fhir.registry explains them)."""

from sustain.interop.fhir import (
    administrations,
    audit,
    conditions,
    imported_conditions,
    locations,
    medications,
    organizations,
    patients,
    plans,
    questionnaires,
    visits,
    vitals,
)
from sustain.interop.fhir.registry import Source

SOURCES: tuple[Source, ...] = (
    patients.PATIENTS,
    organizations.ORGANIZATIONS,
    organizations.PRACTITIONERS,
    locations.SITES,
    locations.CHAIRS,
    conditions.INDICATIONS,
    imported_conditions.RECORDED_CONDITIONS,
    plans.LIBRARY_PROTOCOLS,
    plans.CLINIC_PROTOCOLS,
    plans.CARE_PLANS,
    plans.CONSENTS,
    medications.MEDICATION_STATEMENTS,
    questionnaires.QUESTIONNAIRES,
    questionnaires.QUESTIONNAIRE_RESPONSES,
    questionnaires.SCORES,
    questionnaires.WEIGHTS,
    visits.APPOINTMENTS,
    visits.ENCOUNTERS,
    administrations.ADMINISTRATIONS,
    administrations.ADVERSE_EVENTS,
    vitals.VITALS,
    vitals.ALDRETE,
    audit.AUDIT_EVENTS,
)


def sources_of(type_name: str) -> list[Source]:
    return [s for s in SOURCES if s.type == type_name]


def types() -> list[str]:
    return sorted({s.type for s in SOURCES})


def source_for_id(type_name: str, resource_id: str) -> tuple[Source, int] | None:
    """The source and row pk a resource id names, or None for an id Sustain never gave."""
    head, _, rest = resource_id.partition("-")
    pk = rest.split("-", 1)[0]
    for source in sources_of(type_name):
        if head == source.prefix and pk.isdigit():
            return source, int(pk)
    return None
