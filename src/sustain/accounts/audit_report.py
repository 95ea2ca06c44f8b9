"""The audit report (AUD-06, issue 14): the events an auditor or clinic administrator may see
(their sites' events, and their own events that belong to no site, such as their sign-ins),
for a date range, sorted by any column, as a page, a CSV file or a FHIR R4B Bundle of
AuditEvent resources (https://hl7.org/fhir/R4B/auditevent.html).

Only ids, dates and codes travel in the URL: ?start=YYYY-MM-DD&end=YYYY-MM-DD&sort=-seq.
Days are UTC days, as the CSV's times are.
"""

import datetime as dt
from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from sustain.accounts.access import sites_for_user
from sustain.accounts.bounds import check_date
from sustain.accounts.enums import AuditAction, AuditOutcome
from sustain.accounts.models import AuditEvent, User
from sustain_core.errors import ClinicalValueError

# The columns people may sort by: the query's own field names, nothing typed in reaches SQL.
SORTABLE = {
    "seq": "#", "recorded_at": "Recorded", "actor_username": "User", "role": "Role",
    "action": "Action", "category": "Category", "site_id": "Site id",
    "patient_id": "Patient id", "object_type": "Object", "outcome": "Outcome", "ip": "IP",
}  # fmt: skip
SORT_CHOICES = [(f"{sign}{name}", f"{label} {word}") for name, label in SORTABLE.items()
                for sign, word in (("", "ascending"), ("-", "descending"))]  # fmt: skip


class AuditFilterForm(forms.Form):
    start = forms.DateField(required=False, label="From (UTC day)")
    end = forms.DateField(required=False, label="To (UTC day)")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label="Sort by")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("start", "end"):
            if data.get(name):
                try:
                    check_date(data[name], name)
                except ClinicalValueError as error:
                    self.add_error(name, error.message)
        start, end = data.get("start"), data.get("end")
        if start and end and start > end and not self.errors:
            self.add_error("end", "the end date must be on or after the start date")
        return data


def visible_events(user: User) -> QuerySet[AuditEvent]:
    """The events of the user's sites, and the user's own events that name no site."""
    return AuditEvent.objects.filter(
        Q(site__in=sites_for_user(user)) | Q(site__isnull=True, actor=user)
    )


def report(user: User, form: AuditFilterForm) -> QuerySet[AuditEvent]:
    """The visible events in the form's range and order (a valid form: cleaned_data)."""
    events = visible_events(user)
    start, end = form.cleaned_data.get("start"), form.cleaned_data.get("end")
    if start:
        events = events.filter(recorded_at__gte=dt.datetime.combine(start, dt.time(), dt.UTC))
    if end:
        after = dt.datetime.combine(end, dt.time(), dt.UTC) + dt.timedelta(days=1)
        events = events.filter(recorded_at__lt=after)
    # Newest first by default; ties by the order of appends (seq counts per site's lane).
    sort = form.cleaned_data.get("sort") or "-id"
    return events.order_by(sort, "id" if sort.startswith("-") else "-id")


FHIR_ACTION = {
    AuditAction.CREATE: "C", AuditAction.READ: "R", AuditAction.UPDATE: "U",
    AuditAction.DELETE: "D", AuditAction.EXPORT: "R", AuditAction.LOGIN: "E",
    AuditAction.LOGOUT: "E", AuditAction.LOGIN_FAILED: "E",
}  # fmt: skip
FHIR_OUTCOME = {AuditOutcome.SUCCESS: "0", AuditOutcome.DENIED: "4", AuditOutcome.REFUSED: "4"}
SIGN_IN = {AuditAction.LOGIN, AuditAction.LOGOUT, AuditAction.LOGIN_FAILED}


def event_name(event: AuditEvent) -> str:
    """An event's name in exports: its seq in lane 0 (as before lanes), else lane-seq (seq
    counts per site's lane, issue 15)."""
    return f"{event.lane}-{event.seq}" if event.lane else str(event.seq)


def fhir_audit_event(event: AuditEvent, resource_id: str | None = None) -> dict[str, Any]:
    """One event as a FHIR AuditEvent (JSON; R4 and R4B agree on it, and it validates against
    the R4 JSON schema, tests/sustain/interop): who, what, when, where from, the outcome. Its
    id is `resource_id`, else "sustain-audit-<lane-seq>" (this download's own); the patient is
    referenced by the FHIR server's Patient id, "patient-<pk>" (sustain.interop.fhir)."""
    kind: dict[str, str]
    if event.action in SIGN_IN:
        kind = {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110114",
                "display": "User Authentication"}  # fmt: skip
    else:
        kind = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                "code": "rest", "display": "RESTful Operation"}  # fmt: skip
    agent: dict[str, Any] = {
        "who": {"identifier": {"system": "urn:sustain:user", "value": str(event.actor_id or 0)},
                "display": event.actor_username},
        "requestor": True,
    }  # fmt: skip
    if event.role:
        agent["role"] = [{"text": event.role}]
    if event.ip:
        agent["network"] = {"address": event.ip, "type": "2"}
    entities: list[dict[str, Any]] = []
    if event.patient_id is not None:
        entities.append({"what": {"reference": f"Patient/patient-{event.patient_id}"}})
    if event.object_type:
        entities.append(
            {"what": {"identifier": {"system": f"urn:sustain:{event.object_type}",
                                     "value": event.object_id}}}
        )  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": resource_id or f"sustain-audit-{event_name(event)}",
        "type": kind,
        "subtype": [{"system": "urn:sustain:audit-category", "code": event.category}],
        "action": FHIR_ACTION[AuditAction(event.action)],
        "recorded": event.recorded_at.astimezone(dt.UTC).isoformat(),
        "outcome": FHIR_OUTCOME[AuditOutcome(event.outcome)],
        "agent": [agent],
        "source": {"observer": {"display": "Sustain"},
                   **({"site": str(event.site_id)} if event.site_id else {})},
    }  # fmt: skip
    if event.reason:
        resource["outcomeDesc"] = event.reason
    if entities:
        resource["entity"] = entities
    return resource


def fhir_bundle(events: list[AuditEvent]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:sustain:audit:{event_name(e)}",
                   "resource": fhir_audit_event(e)}
                  for e in events],
    }  # fmt: skip
