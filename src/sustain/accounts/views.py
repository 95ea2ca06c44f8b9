import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sustain.accounts import audit_report, notify
from sustain.accounts.access import AuthenticatedRequest, require_permission, sites_for_user
from sustain.accounts.audit import record_event, verify_chain
from sustain.accounts.audit_report import AuditFilterForm
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.exports import csv_export
from sustain.accounts.models import AuditEvent, OutboxMessage


def _audit_query(request: AuthenticatedRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
    """The audit report's form and its events (none while the form is refused)."""
    require_permission(request.user, "accounts.view_auditevent", category=DataCategory.AUDIT)
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return form, AuditEvent.objects.none()
    return form, audit_report.report(request.user, form)


@require_GET
@login_required
def audit_log(request: AuthenticatedRequest) -> HttpResponse:
    """The audit report (AUD-06): the user's sites' events, newest first unless sorted,
    for a date range, with the chain's integrity (auditors, clinic administrators)."""
    form, events = _audit_query(request)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    report = verify_chain()
    record_event(actor=request.user, action=AuditAction.READ, category=DataCategory.AUDIT)
    kept = request.GET.copy()
    kept.pop("page", None)  # the exports and the pager keep the range and the order
    query = kept.copy()
    query.pop("sort", None)  # the column headings set the order
    context = {
        "page": page, "report": report, "form": form, "columns": audit_report.SORTABLE,
        "sort": form.cleaned_data.get("sort") if form.is_valid() else "",
        "query": query.urlencode(), "export_query": kept.urlencode(),
    }  # fmt: skip
    return render(request, "accounts/audit_log.html", context)


AUDIT_COLUMNS = (
    "seq", "recorded_at_utc", "user", "role", "action", "category", "site_id", "patient_id",
    "object_type", "object_id", "outcome", "reason", "ip", "request_id",
)  # fmt: skip


@require_GET
@login_required
def audit_export(request: AuthenticatedRequest) -> HttpResponse:
    """The audit report as the page lists it (range, order, every page) as CSV."""
    _, events = _audit_query(request)
    rows = (
        (e.seq, e.recorded_at, e.actor_username, e.role, e.action, e.category, e.site_id,
         e.patient_id, e.object_type, e.object_id, e.outcome, e.reason, e.ip, e.request_id)
        for e in events.iterator()
    )  # fmt: skip
    return csv_export(
        user=request.user, category=DataCategory.AUDIT, name="audit", columns=AUDIT_COLUMNS,
        rows=rows,
    )  # fmt: skip


@require_GET
@login_required
def audit_export_fhir(request: AuthenticatedRequest) -> HttpResponse:
    """The audit report as a FHIR R4B Bundle of AuditEvent resources (AUD-06), audited as
    one export."""
    _, events = _audit_query(request)
    listed = list(events)
    record_event(
        actor=request.user, action=AuditAction.EXPORT, category=DataCategory.AUDIT,
        reason=f"audit fhir: {len(listed)} row{'' if len(listed) == 1 else 's'}",
    )  # fmt: skip
    response = JsonResponse(audit_report.fhir_bundle(listed), content_type="application/fhir+json")
    response["Content-Disposition"] = 'attachment; filename="audit.fhir.json"'
    return response


@require_GET
@login_required
def outbox(request: AuthenticatedRequest) -> HttpResponse:
    """Messages to patients held or sent for the user's sites (clinic administrators)."""
    require_permission(request.user, "accounts.view_outboxmessage", category=DataCategory.OUTBOX)
    sites = sites_for_user(request.user)
    page = Paginator(OutboxMessage.objects.filter(site__in=sites), 50).get_page(
        request.GET.get("page")
    )
    record_event(actor=request.user, action=AuditAction.READ, category=DataCategory.OUTBOX)
    context = {"page": page, "max_attempts": settings.SUSTAIN_NOTIFY_MAX_ATTEMPTS}
    return render(request, "accounts/outbox.html", context)


@csrf_exempt  # a provider's server posts here; its signature stands in for the CSRF token
@require_POST
def sms_status(request: HttpRequest) -> HttpResponse:
    """The SMS provider's delivery report (Twilio's StatusCallback), checked by its signature.

    A missing or wrong signature, or no SMS backend configured, is a 403 and changes nothing.
    """
    params = {key: request.POST.get(key, "") for key in request.POST}
    expected = notify.provider_signature(notify.status_callback_url(), params)
    given = request.headers.get("X-Twilio-Signature", "")
    if not settings.SUSTAIN_SMS_AUTH_TOKEN or not hmac.compare_digest(expected, given):
        return HttpResponse(status=403)
    notify.record_provider_status(
        provider_id=params.get("MessageSid", ""),
        status=params.get("MessageStatus", ""),
        error_code=params.get("ErrorCode", ""),
        now=timezone.now(),
    )
    return HttpResponse(status=204)
