"""A patient's whole record, for their right of access (issue 16, item 5; HIPAA 45 CFR
164.524: a copy "in the form and format requested ... if it is readily producible"): a FHIR
Bundle of type `collection` (FHIR R4 Bundle, §"Bundle.type": "a set of resources collected into
a single document for ease of distribution") holding every resource of every source with a
patient lookup that the reader may read, and the same resources in sections a patient can read
(the clinic's PDF, sustain.clinic.documents.record_html).

The sections are read back from the Bundle's resources, so the PDF holds exactly what the
Bundle holds: each resource type's fields as the FHIR R4 resource pages define them
(Observation.category "vital-signs" or "survey", MedicationAdministration.dosage.dose, ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sustain.care.models import Patient
from sustain.interop.fhir import catalog
from sustain.interop.fhir.registry import Caller, Json, model_json, patient_resources


def patient_bundle(caller: Caller, patient: Patient, *, base: str, now: dt.datetime) -> Json:
    """The patient's resources from every source `caller` may read, as a collection Bundle
    (checked by the R4B Bundle model). `base` is the FHIR base URL of the fullUrls."""
    entries = [
        {"fullUrl": f"{base}{resource['resourceType']}/{resource['id']}", "resource": resource}
        for source in catalog.SOURCES
        if source.patient is not None and caller.may_read(source)
        for resource in patient_resources(source, patient)
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "entry": entries,
    }
    return model_json("Bundle", bundle)


# -- reading the resources back, for people ----------------------------------------------------


def concept(value: Any) -> str:
    """A CodeableConcept (or a list of them) as words: its text, else its first display."""
    if isinstance(value, list):
        return "; ".join(filter(None, map(concept, value)))
    if not isinstance(value, dict):
        return ""
    if value.get("text"):
        return str(value["text"])
    for coding in value.get("coding", []):
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return ""


def quantity(value: Any) -> str:
    """A Quantity as "35 mg" (a whole number without its ".0")."""
    if not isinstance(value, dict) or "value" not in value:
        return ""
    number = value["value"]
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    return f"{number} {value.get('unit') or value.get('code') or ''}".strip()


def when(resource: Json) -> str:
    """The date (or start) a resource is about, as written in it (YYYY-MM-DD[Thh:mm])."""
    for key in ("effectiveDateTime", "occurrenceDateTime", "authored", "dateTime", "date",
                "onsetDateTime", "recordedDate", "start", "issued", "birthDate"):  # fmt: skip
        if resource.get(key):
            return _short(resource[key])
    for key in ("effectivePeriod", "period", "performedPeriod"):
        if isinstance(resource.get(key), dict) and resource[key].get("start"):
            return _short(resource[key]["start"])
    return ""


def _short(text: str) -> str:
    return text[:16].replace("T", " ")


def _period(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    start, end = _short(value.get("start", "")), _short(value.get("end", ""))
    return f"{start} to {end}" if end else (f"from {start}" if start else "")


def _value(resource: Json) -> str:
    for key in ("valueQuantity",):
        if key in resource:
            return quantity(resource[key])
    for key in ("valueInteger", "valueString", "valueBoolean", "valueDecimal"):
        if key in resource:
            return str(resource[key])
    if "valueCodeableConcept" in resource:
        return concept(resource["valueCodeableConcept"])
    parts = [f"{concept(c.get('code'))} {_value(c)}".strip() for c in resource.get("component", [])]
    return ", ".join(p for p in parts if p)


def _category_codes(resource: Json) -> set[str]:
    return {
        coding.get("code", "")
        for category in resource.get("category", [])
        for coding in category.get("coding", [])
    }


@dataclass(frozen=True)
class Row:
    when: str
    what: str
    detail: str


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)


def _status(resource: Json) -> str:
    status = resource.get("status") or concept(resource.get("clinicalStatus"))
    return str(status).replace("-", " ") if status else ""


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _condition(r: Json) -> Row:
    return Row(when(r), concept(r.get("code")) or "a condition", _status(r))


def _care_plan(r: Json) -> Row:
    what = r.get("title") or r.get("description") or concept(r.get("category")) or "a course"
    return Row(when(r), str(what), _join(_status(r), _period(r.get("period"))))


def _medication_statement(r: Json) -> Row:
    dosage = "; ".join(d.get("text", "") for d in r.get("dosage", []) if d.get("text"))
    medicine = concept(r.get("medicationCodeableConcept")) or "a medication"
    return Row(when(r), medicine, _join(dosage, _status(r)))


def _observation(r: Json) -> Row:
    return Row(when(r), concept(r.get("code")) or "a measurement", _value(r))


def _administration(r: Json) -> Row:
    dosage = r.get("dosage", {}) if isinstance(r.get("dosage"), dict) else {}
    rate = quantity(dosage.get("rateQuantity")) or quantity(
        (dosage.get("rateRatio") or {}).get("numerator")
    )
    detail = _join(
        f"dose {quantity(dosage.get('dose'))}" if dosage.get("dose") else "",
        f"rate {rate}" if rate else "",
        concept(dosage.get("route")),
        _status(r),
    )
    return Row(when(r), concept(r.get("medicationCodeableConcept")) or "an infusion", detail)


def _encounter(r: Json) -> Row:
    kind = concept(r.get("type")) or concept(r.get("serviceType")) or "a visit"
    return Row(when(r), kind, _join(_status(r), _period(r.get("period"))))


def _adverse_event(r: Json) -> Row:
    detail = _join(concept(r.get("severity")), concept(r.get("seriousness")))
    return Row(when(r), concept(r.get("event")) or "an adverse event", detail)


def _consent(r: Json) -> Row:
    what = concept(r.get("category")) or concept(r.get("scope")) or "a consent"
    return Row(when(r), what, _status(r))


def _appointment(r: Json) -> Row:
    what = r.get("description") or concept(r.get("serviceType")) or "an appointment"
    return Row(when(r), str(what), _status(r))


def _questionnaire_response(r: Json) -> Row:
    name = str(r.get("questionnaire", "")).rsplit("/", 1)[-1] or "a questionnaire"
    return Row(when(r), f"Answers to {name}", _status(r))


def _other(r: Json) -> Row:
    return Row(when(r), f"{r['resourceType']} {r.get('id', '')}", _status(r))


# (title, which resources, how each reads), in the order a patient reads their record.
SECTIONS: tuple[tuple[str, Callable[[Json], bool], Callable[[Json], Row]], ...] = (
    ("Conditions treated (indications)", lambda r: r["resourceType"] == "Condition", _condition),
    ("Courses of treatment", lambda r: r["resourceType"] == "CarePlan", _care_plan),
    ("Medications", lambda r: r["resourceType"] == "MedicationStatement", _medication_statement),
    ("Questionnaire scores",
     lambda r: r["resourceType"] == "Observation" and "survey" in _category_codes(r),
     _observation),
    ("Questionnaire answers",
     lambda r: r["resourceType"] == "QuestionnaireResponse", _questionnaire_response),
    ("Infusions and doses",
     lambda r: r["resourceType"] == "MedicationAdministration", _administration),
    ("Vital signs",
     lambda r: r["resourceType"] == "Observation" and "survey" not in _category_codes(r),
     _observation),
    ("Visits", lambda r: r["resourceType"] == "Encounter", _encounter),
    ("Side effects and adverse events",
     lambda r: r["resourceType"] == "AdverseEvent", _adverse_event),
    ("Consents", lambda r: r["resourceType"] == "Consent", _consent),
    ("Appointments", lambda r: r["resourceType"] == "Appointment", _appointment),
)  # fmt: skip


def sections(bundle: Json) -> list[Section]:
    """The Bundle's resources (the Patient aside) in SECTIONS, each by date, then an
    "Other records" section for any type not named there."""
    resources = [e["resource"] for e in bundle.get("entry", [])]
    found = [Section(title) for title, _, _ in SECTIONS]
    other = Section("Other records")
    for resource in resources:
        if resource["resourceType"] == "Patient":
            continue
        for section, (_, belongs, read) in zip(found, SECTIONS, strict=True):
            if belongs(resource):
                section.rows.append(read(resource))
                break
        else:
            other.rows.append(_other(resource))
    for section in [*found, other]:
        section.rows.sort(key=lambda row: row.when)
    return [*found, other] if other.rows else found


def patients_of(bundle: Json) -> Iterable[Json]:
    return (
        e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Patient"
    )
