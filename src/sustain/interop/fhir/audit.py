"""The audit log as FHIR R4 AuditEvent resources (http://hl7.org/fhir/R4/auditevent.html;
reference §5.1 "Audit"): the events of the caller's sites, ids "audit-<pk>", built by the audit
report's own mapping (sustain.accounts.audit_report.fhir_audit_event) so the audit log's FHIR
download and the FHIR server say the same; its codes are in codes.toml (audit-rest,
audit-user-authentication)."""

from django.db.models import QuerySet

from sustain.accounts.audit_report import fhir_audit_event
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import AuditEvent
from sustain.interop.fhir.registry import Json, Source, model_json


def _events(site_ids: frozenset[int]) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(site__in=site_ids).order_by("pk")


def _build(event: AuditEvent) -> list[Json]:
    return [model_json("AuditEvent", fhir_audit_event(event, resource_id=f"audit-{event.pk}"))]


AUDIT_EVENTS = Source(
    type="AuditEvent",
    prefix="audit",
    permission="accounts.view_auditevent",
    category=DataCategory.AUDIT,
    rows=_events,
    build=_build,
    patient="patient_id",
    date="recorded_at",
)
