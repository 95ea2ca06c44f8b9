"""The patient-facing pages. No staff session is used here: the link alone says who answers,
and the page shows that patient's questionnaires and nothing else about them."""

import re

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sustain.accounts.enums import AuditAction, AuditOutcome
from sustain.accounts.models import Site
from sustain.accounts.web import plain
from sustain.care.forms import InstrumentForm
from sustain.portal import services
from sustain.portal.services import InvitationRefused
from sustain.scheduling import replies
from sustain.scheduling.reminders import visit_time
from sustain_core import instruments
from sustain_core.errors import ClinicalValueError


def _refused(request: HttpRequest, refused: InvitationRefused) -> HttpResponse:
    services.audit_link(
        refused.invitation,
        action=AuditAction.READ,
        outcome=AuditOutcome.DENIED,
        reason=refused.reason,
    )
    site = refused.invitation.patient.site if refused.invitation else None
    status = 404 if refused.reason == "tampered" else 410
    context = {"message": refused.message, "site": site}
    return render(request, "portal/refused.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def questionnaire(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    try:
        invitation = services.open_invitation(token, now=now)
    except InvitationRefused as refused:
        return _refused(request, refused)
    data = request.POST if request.method == "POST" else None
    forms = [
        InstrumentForm(instruments.get_instrument(code), data) for code in invitation.instruments
    ]
    if data is not None and all(form.is_valid() for form in forms):
        try:
            services.submit_answers(
                token=token, answers={f.instrument.code: f.answers() for f in forms}, now=now
            )
        except InvitationRefused as refused:
            return _refused(request, refused)
        except ClinicalValueError as error:
            services.audit_link(
                invitation,
                action=AuditAction.CREATE,
                outcome=AuditOutcome.DENIED,
                reason="invalid-answer",
            )
            code, _, field = error.field.partition(":")
            target = next((f for f in forms if f.instrument.code == code), forms[0])
            target.show_error(ClinicalValueError(field, error.message))
        else:
            context = {"site": invitation.patient.site, "kiosk": invitation.channel == "kiosk"}
            return render(request, "portal/thanks.html", context)
    elif data is None:
        services.audit_link(invitation, action=AuditAction.READ, outcome=AuditOutcome.SUCCESS)
    context = {"forms": forms, "site": invitation.patient.site}
    status = 400 if any(f.errors for f in forms) else 200
    return render(request, "portal/questionnaire.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def kiosk(request: HttpRequest) -> HttpResponse:
    """The clinic tablet: a patient types the code the staff gave them. A tablet opened as
    /kiosk/?site=<id> accepts that site's codes, and its wrong codes count against that site
    only (issue 14, item 5)."""
    message = ""
    site_param = request.GET.get("site", "")
    valid = re.fullmatch(r"[0-9]{1,9}", site_param) is not None
    site = Site.objects.filter(pk=int(site_param)).first() if valid else None
    if site_param and site is None:
        message = "This tablet's address is not valid. Please ask the clinic staff."
    elif request.method == "POST":
        try:
            path = services.redeem_kiosk_code(
                request.POST.get("code", ""), now=timezone.now(), site=site
            )
        except InvitationRefused as refused:
            services.audit_link(
                None, action=AuditAction.READ, outcome=AuditOutcome.DENIED, reason=refused.reason
            )
            message = refused.message
        else:
            return redirect(path)
    status = 400 if message else 200
    return render(request, "portal/kiosk.html", {"message": message}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def visit(request: HttpRequest, token: str) -> HttpResponse:
    """A reminder's link: the clinic and the visit's time, "Confirm" or "Ask to change"."""
    now = timezone.now()
    try:
        link = replies.open_link(token, now=now)
    except replies.VisitLinkRefused as refused:
        return _visit_refused(request, refused)
    site, when = link.appointment.site, visit_time(link.appointment)
    message, note = "", request.POST.get("note", "")
    if request.method == "POST":
        answer = request.POST.get("answer", "")
        try:
            if answer not in {"confirm", "change"}:
                raise ClinicalValueError("answer", "choose Confirm or Ask to change")
            replies.answer_visit(token=token, confirm=answer == "confirm", note=note, now=now)
        except replies.VisitLinkRefused as refused:
            return _visit_refused(request, refused)
        except ClinicalValueError as error:
            replies.audit_link(
                link, action=AuditAction.UPDATE, outcome=AuditOutcome.DENIED, reason=error.field
            )
            message = plain(error)
        else:
            context = {"site": site, "when": when, "confirmed": answer == "confirm"}
            return render(request, "portal/visit_answered.html", context)
    else:
        replies.audit_link(link, action=AuditAction.READ, outcome=AuditOutcome.SUCCESS)
    context = {
        "site": site, "when": when, "message": message, "note": note,
        "note_max": replies.NOTE_MAX_CHARS,
    }  # fmt: skip
    return render(request, "portal/visit.html", context, status=400 if message else 200)


def _visit_refused(request: HttpRequest, refused: replies.VisitLinkRefused) -> HttpResponse:
    replies.audit_link(
        refused.link, action=AuditAction.READ, outcome=AuditOutcome.DENIED, reason=refused.reason
    )
    site = refused.link.appointment.site if refused.link else None
    status = 404 if refused.reason == "tampered" else 410
    return render(
        request, "portal/refused.html", {"message": refused.message, "site": site}, status=status
    )
