"""One patient's progress report (issue 17, item 2), as a page and as a PDF, for
the referring clinician or for the patient (?for=clinician|patient)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from sustain.accounts.access import AuthenticatedRequest
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.web import show_times_in
from sustain.reports import progress


def _audience(request: AuthenticatedRequest) -> progress.Audience | None:
    return progress.parse_audience(request.GET.get("for"))


def _unknown_audience(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """A `for` the report does not know: a page that says what it takes (400)."""
    context = {"patient_id": patient_id, "given": request.GET.get("for", "")}
    return render(request, "reports/progress_unknown.html", context, status=400)


@require_GET
@login_required
def progress_page(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """The patient's progress report (clinical roles; an audited read of the patient)."""
    progress.check_access(request.user)
    audience = _audience(request)
    if audience is None:
        return _unknown_audience(request, patient_id)
    report = progress.progress_for_user(
        request.user, patient_id, audience=audience, now=timezone.now()
    )
    tz = show_times_in(report.patient.site)
    context = {
        "p": report,
        "patient": report.patient,
        "tz": tz,
        "audiences": list(progress.Audience),
    }
    return render(request, "reports/progress.html", context)


@require_GET
@login_required
def progress_pdf(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """The same report as a PDF (WeasyPrint), audited as an export of the patient's record
    (as the record's PDF: sustain.clinic.views.record_pdf). Its file name holds no name."""
    from weasyprint import HTML  # noqa: PLC0415 - Pango is loaded only when a PDF is made

    progress.check_access(request.user)
    audience = _audience(request)
    if audience is None:
        return _unknown_audience(request, patient_id)
    report = progress.progress_for_user(
        request.user, patient_id, audience=audience, now=timezone.now()
    )
    patient = report.patient
    record_event(
        actor=request.user, action=AuditAction.EXPORT, category=DataCategory.PATIENT_RECORD,
        site=patient.site, patient_id=patient.pk, obj=patient,
        reason=f"progress report PDF: {audience}",
    )  # fmt: skip
    html = render_to_string(
        "reports/progress_pdf.html", {"p": report, "patient": patient, "tz": patient.site.tz}
    )
    response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="progress-{audience}-patient-{patient.pk}.pdf"'
    )
    return response
