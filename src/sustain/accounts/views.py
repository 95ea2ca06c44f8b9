import hmac
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sustain.accounts import audit_report, lockout, notify
from sustain.accounts.access import AuthenticatedRequest, require_permission, sites_for_user
from sustain.accounts.audit import record_event, verify_chain
from sustain.accounts.audit_report import AuditFilterForm
from sustain.accounts.enums import AuditAction, DataCategory, OutboxStatus
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


@require_GET
@login_required
def dead_letters(request: AuthenticatedRequest) -> HttpResponse:
    """Messages the worker gave up on after SUSTAIN_NOTIFY_MAX_ATTEMPTS hand-overs, for the
    user's sites, each with its last error and a "Send again" button (issue 14, item 2).

    Shown: when, site, channel, recipient address, subject, attempts, error; not the body
    (the outbox page shows it to the same administrators). The URL carries no patient data.
    """
    require_permission(request.user, "accounts.change_outboxmessage", category=DataCategory.OUTBOX)
    dead = OutboxMessage.objects.filter(
        site__in=sites_for_user(request.user), status=OutboxStatus.DEAD
    ).select_related("site")
    page = Paginator(dead, 50).get_page(request.GET.get("page"))
    record_event(actor=request.user, action=AuditAction.READ, category=DataCategory.OUTBOX)
    return render(request, "accounts/dead_letters.html", {"page": page})


@require_POST
@login_required
def send_again(request: AuthenticatedRequest, message_id: int) -> HttpResponse:
    """Queue a dead-lettered message for a fresh round of attempts (audited); the worker
    hands it over, never this request. Another site's message is a 404."""
    require_permission(request.user, "accounts.change_outboxmessage", category=DataCategory.OUTBOX)
    with transaction.atomic():
        try:
            message = notify.send_again(
                message_id, sites=sites_for_user(request.user), now=timezone.now()
            )
        except OutboxMessage.DoesNotExist:
            raise Http404("No such message.") from None
        except notify.NotDeadLettered:
            messages.info(request, "That message is already queued or sent.")
            return redirect("accounts:dead_letters")
        record_event(
            actor=request.user,
            action=AuditAction.UPDATE,
            category=DataCategory.OUTBOX,
            site=message.site,
            obj=message,
            reason="send-again",
        )
    messages.success(request, "The message is queued; the worker will send it shortly.")
    return redirect("accounts:dead_letters")


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


def locked_out_page(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE (sustain.accounts.lockout; SEC-10): a plain page
    saying until when (429), no traceback."""
    username = ""
    if isinstance(credentials, dict):
        username = str(credentials.get("username") or "")
    username = username or request.POST.get("username", "")
    now = timezone.now()
    until = lockout.locked_until(username, now) or now + settings.AXES_COOLOFF_TIME
    context = {"until": until, "failures": settings.AXES_FAILURE_LIMIT}
    response = render(request, "accounts/locked_out.html", context, status=429)
    response["Retry-After"] = str(max(1, int((until - now).total_seconds())))
    return response
