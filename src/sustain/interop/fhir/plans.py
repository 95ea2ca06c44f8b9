"""PlanDefinition (a protocol version), CarePlan (a course) and Consent (its signed consent):
FHIR R4 §12.23 PlanDefinition, §12.4 CarePlan, §9.11 Consent; reference §5.1.

A protocol version's canonical URL is "urn:sustain:protocol:<key>" with `version` its number, so
a course's CarePlan instantiates "urn:sustain:protocol:<key>|<version>" whether the protocol is
the library's or a clinic's own (clinic keys are "<library key>-site<id>", unique).

The registry builds resources from rows, and library protocols are files, not rows
(sustain_core.protocols.PROTOCOLS). So library versions are read through the caller's sites:
each site offers the whole library (sustain.care.protocol_versions.available), and a site's row
builds one PlanDefinition per library version, id "library-<site pk>-<key>.v<version>" (the
registry's "<prefix>-<pk>-<part>"); the same canonical at two sites is the same protocol. Clinic
versions are rows of care.ClinicProtocol, id "protocol-<pk>". Nothing in the registry changed.

The induction is one action: the series' count and spacing as a Timing, the dose and infusion
time as extensions defined here (urn:sustain:fhir:…, values with UCUM units) and in words as
its textEquivalent. A version is "active" until a later version of its key exists ("retired").
"""

from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import Site
from sustain.care.enums import CourseStatus
from sustain.care.models import ClinicProtocol, Course
from sustain.care.models import Consent as ConsentRow
from sustain.interop.fhir import codes
from sustain.interop.fhir.registry import Json, Source, model_json
from sustain_core import protocols
from sustain_core.protocols import Protocol, RegimenKind

EXTENSION = "urn:sustain:fhir:StructureDefinition:"
DOSE_MG_PER_KG = EXTENSION + "dose-mg-per-kg"
RATE_MG_PER_KG_PER_H = EXTENSION + "rate-mg-per-kg-per-h"
CAP_MG_PER_H = EXTENSION + "cap-mg-per-h"
MAX_SINGLE_DOSE_MG = EXTENSION + "max-single-dose-mg"
INFUSION_MINUTES = EXTENSION + "infusion-minutes"
MIN_GAP_HOURS = EXTENSION + "min-gap-hours"


def canonical_url(key: str) -> str:
    return f"urn:sustain:protocol:{key}"


def canonical(key: str, version: int) -> str:
    """The canonical reference to one protocol version (FHIR R4 §2.1.0.1.4 canonical|version)."""
    return f"{canonical_url(key)}|{version}"


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _dose_words(protocol: Protocol) -> str:
    regimen = protocol.regimen
    if regimen.kind == RegimenKind.PER_HOUR:
        words = f"{regimen.mg_per_kg_per_h} mg/kg/h for {regimen.infusion_minutes} min"
        if regimen.cap_mg_per_h is not None:
            words += f", at most {regimen.cap_mg_per_h} mg/h"
    else:
        words = f"{regimen.mg_per_kg} mg/kg over {regimen.infusion_minutes} min"
    if regimen.max_single_dose_mg is not None:
        words += f", at most {regimen.max_single_dose_mg} mg a session"
    return words


def _series_words(protocol: Protocol) -> str:
    series = protocol.series
    gap_h = int(series.min_gap.total_seconds() // 3600)
    words = f"{series.count} infusions, at least {gap_h} h apart"
    if series.max_per_week is not None:
        words += f", at most {series.max_per_week} a week"
    return words + f", within {series.max_span.days} days"


def _extensions(protocol: Protocol) -> list[Json]:
    regimen = protocol.regimen
    found: list[tuple[str, Decimal | int | None, str]] = [
        (DOSE_MG_PER_KG, regimen.mg_per_kg, "mg/kg"),
        (RATE_MG_PER_KG_PER_H, regimen.mg_per_kg_per_h, "mg/kg/h"),
        (CAP_MG_PER_H, regimen.cap_mg_per_h, "mg/h"),
        (MAX_SINGLE_DOSE_MG, regimen.max_single_dose_mg, "mg"),
        (INFUSION_MINUTES, regimen.infusion_minutes, "min"),
        (
            MIN_GAP_HOURS,
            int(protocol.series.min_gap.total_seconds() // 3600),
            "h",
        ),
    ]
    return [
        {"url": url, "valueQuantity": codes.quantity(_number(Decimal(value)), unit)}
        for url, value, unit in found
        if value is not None
    ]


def plan_definition(
    protocol: Protocol,
    *,
    resource_id: str,
    retired: bool,
    publisher: str,
    date: str | None = None,
    based_on: tuple[str, int] | None = None,
) -> Json:
    series = protocol.series
    repeat: Json = {"count": series.count}
    if series.max_per_week is not None:
        repeat.update(frequencyMax=series.max_per_week, period=1, periodUnit="wk")
    repeat["boundsDuration"] = codes.quantity(series.max_span.days, "d")
    artifacts: list[Json] = [
        {"type": "citation", "label": c.key, "citation": c.reference, "display": c.supports}
        for c in protocol.citations
    ]
    if based_on is not None:
        artifacts.insert(0, {"type": "derived-from", "resource": canonical(*based_on)})
    resource: Json = {
        "resourceType": "PlanDefinition",
        "id": resource_id,
        "url": canonical_url(protocol.key),
        "version": str(protocol.version),
        "title": protocol.title,
        "type": codes.concept("plan-clinical-protocol"),
        "status": "retired" if retired else "active",
        "experimental": False,
        "publisher": publisher,
        "subjectCodeableConcept": {"text": str(protocol.condition)},
        "action": [
            {
                "title": "Induction series",
                "description": _series_words(protocol),
                "textEquivalent": f"{_series_words(protocol)}; each {_dose_words(protocol)}",
                "timingTiming": {"repeat": repeat},
                "extension": _extensions(protocol),
            }
        ],
    }
    if date is not None:
        resource["date"] = date
    if protocol.notes:
        resource["description"] = protocol.notes
    if artifacts:
        resource["relatedArtifact"] = artifacts
    return model_json("PlanDefinition", resource)


def _library_id(site_pk: int, protocol: Protocol) -> str:
    return f"library-{site_pk}-{protocol.key}.v{protocol.version}"


def library_plans(site: Site) -> list[Json]:
    """The library's protocol versions as the site offers them."""
    latest: dict[str, int] = {}
    for key, version in protocols.PROTOCOLS:
        latest[key] = max(version, latest.get(key, 0))
    return [
        plan_definition(
            protocol,
            resource_id=_library_id(site.pk, protocol),
            retired=protocol.version < latest[protocol.key],
            publisher="Sustain protocol library",
        )
        for protocol in protocols.PROTOCOLS.values()
    ]


def _sites(site_ids: frozenset[int]) -> QuerySet[Site]:
    return Site.objects.filter(pk__in=site_ids).order_by("pk")


def _clinic_rows(site_ids: frozenset[int]) -> QuerySet[ClinicProtocol]:
    later = ClinicProtocol.objects.filter(key=OuterRef("key"), version__gt=OuterRef("version"))
    return (
        ClinicProtocol.objects.filter(site__in=site_ids)
        .select_related("site")
        .annotate(superseded=Exists(later))
        .order_by("pk")
    )


def clinic_plan(row: Any) -> Json:
    return plan_definition(
        protocols.protocol_from_dict(row.data),
        resource_id=f"protocol-{row.pk}",
        retired=bool(getattr(row, "superseded", False)),
        publisher=row.site.name,
        date=row.created_at.isoformat(),
        based_on=(row.based_on_key, row.based_on_version),
    )


def _plan_status(value: str) -> Q:
    """PlanDefinition status: active or retired (a later version of the key exists)."""
    wanted = set(value.split(","))
    found = Q(pk__in=[])
    if "active" in wanted:
        found |= Q(superseded=False)
    if "retired" in wanted:
        found |= Q(superseded=True)
    return found


LIBRARY_PROTOCOLS = Source(
    type="PlanDefinition",
    prefix="library",
    permission="care.view_clinicprotocol",
    category=DataCategory.PROTOCOL,
    rows=_sites,
    build=library_plans,
)

CLINIC_PROTOCOLS = Source(
    type="PlanDefinition",
    prefix="protocol",
    permission="care.view_clinicprotocol",
    category=DataCategory.PROTOCOL,
    rows=_clinic_rows,
    build=lambda row: [clinic_plan(row)],
    date="created_at",
    narrow={"status": _plan_status},
)

# -- CarePlan --------------------------------------------------------------------------------

# CourseStatus → CarePlan.status (R4 request-status): before the plan is in force (referred,
# screening) it is a draft; from ready for induction through maintenance and a relapse it is
# active; paused is on-hold; completed is completed; discontinued ended it before completion,
# which R4 calls revoked ("The plan was terminated prior to reaching completion").
CARE_PLAN_STATUS: dict[str, str] = {
    CourseStatus.REFERRED: "draft",
    CourseStatus.SCREENING: "draft",
    CourseStatus.READY: "active",
    CourseStatus.INDUCTION: "active",
    CourseStatus.REVIEW: "active",
    CourseStatus.MAINTENANCE: "active",
    CourseStatus.RELAPSED: "active",
    CourseStatus.PAUSED: "on-hold",
    CourseStatus.COMPLETED: "completed",
    CourseStatus.DISCONTINUED: "revoked",
}
ENDED = (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED)


def _courses(site_ids: frozenset[int]) -> QuerySet[Course]:
    return (
        Course.objects.filter(patient__site__in=site_ids)
        .prefetch_related("transitions")
        .order_by("pk")
    )


def care_plan(course: Course) -> Json:
    period: Json = {"start": course.enrolled_at.isoformat()}
    if course.status in ENDED:
        ends = [t.at for t in course.transitions.all() if t.to_status == course.status]
        if ends:
            period["end"] = max(ends).isoformat()
    resource: Json = {
        "resourceType": "CarePlan",
        "id": f"course-{course.pk}",
        "instantiatesCanonical": [canonical(course.protocol_key, course.protocol_version)],
        "status": CARE_PLAN_STATUS[course.status],
        "intent": "plan",
        "title": f"Ketamine infusion course ({CourseStatus(course.status).label})",
        "subject": {"reference": f"Patient/patient-{course.patient_id}"},
        "period": period,
        "created": course.enrolled_at.isoformat(),
        "addresses": [{"reference": f"Condition/indication-{course.patient_id}"}],
    }
    if course.prescriber_id is not None:
        resource["author"] = {"reference": f"Practitioner/practitioner-{course.prescriber_id}"}
    if course.ended_reason:
        resource["note"] = [{"text": course.ended_reason}]
    return model_json("CarePlan", resource)


def _care_plan_status(value: str) -> Q:
    wanted = set(value.split(","))
    return Q(status__in=[k for k, v in CARE_PLAN_STATUS.items() if v in wanted])


def _instantiates(value: str) -> Q:
    """instantiates-canonical: "urn:sustain:protocol:<key>[|<version>]"."""
    url, _, version = value.partition("|")
    prefix = canonical_url("")
    if not url.startswith(prefix):
        return Q(pk__in=[])
    found = Q(protocol_key=url.removeprefix(prefix))
    if version:
        if not version.isdigit():
            raise ValueError(f"{version!r} is not a protocol version")
        found &= Q(protocol_version=int(version))
    return found


CARE_PLANS = Source(
    type="CarePlan",
    prefix="course",
    permission="care.view_course",
    category=DataCategory.COURSE,
    rows=_courses,
    build=lambda course: [care_plan(course)],
    patient="patient",
    date="enrolled_at",
    narrow={"status": _care_plan_status, "instantiates-canonical": _instantiates},
)

# -- Consent ---------------------------------------------------------------------------------


def _consents(site_ids: frozenset[int]) -> QuerySet[ConsentRow]:
    return (
        ConsentRow.objects.filter(course__patient__site__in=site_ids)
        .select_related("course__patient")
        .order_by("pk")
    )


def consent(row: ConsentRow) -> Json:
    """The patient's signed consent to treatment: active (Sustain records no withdrawal; a
    discontinued course ends the treatment, not the record of consent), scope "treatment", the
    form as the policy rule and source attachment's title."""
    patient = row.course.patient
    resource: Json = {
        "resourceType": "Consent",
        "id": f"consent-{row.pk}",
        "status": "active",
        "scope": codes.concept("consent-treatment"),
        "category": [codes.concept("consent-document", text=row.document)],
        "patient": {"reference": f"Patient/patient-{patient.pk}"},
        "dateTime": row.signed_on.isoformat(),
        "performer": [{"reference": f"Patient/patient-{patient.pk}"}],
        "organization": [{"reference": f"Organization/site-{patient.site_id}"}],
        "sourceAttachment": {"title": row.document},
        "policyRule": {"text": row.document},
        "provision": {"type": "permit"},
    }
    return model_json("Consent", resource)


CONSENTS = Source(
    type="Consent",
    prefix="consent",
    permission="care.view_course",
    category=DataCategory.COURSE,
    rows=_consents,
    build=lambda row: [consent(row)],
    patient="course__patient",
    date="signed_on",
    narrow={"status": lambda v: Q() if "active" in v.split(",") else Q(pk__in=[])},
)
