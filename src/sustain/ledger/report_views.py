"""The dispensing record's pages: on screen, as CSV and as a PDF (sustain.ledger.report).

Clinic administrators and auditors (ledger.report_ledger); another site answers 404. The URL
carries only the site and the days, never a patient. Each page or download is one export
event in the audit trail.
"""

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from sustain.accounts.access import (
    AuthenticatedRequest,
    get_site_for_user,
    require_permission,
    sites_for_user,
)
from sustain.accounts.bounds import BoundedDateField
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import Site
from sustain.ledger import report
from sustain_core.errors import ClinicalValueError


class ReportForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    start = BoundedDateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = BoundedDateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, sites: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, dt.date) and isinstance(end, dt.date):
            try:
                report.check_range(start, end)
            except ClinicalValueError as error:
                self.add_error("end", error.message)
        return data


def _form(request: AuthenticatedRequest) -> ReportForm:
    """The form for the GET parameters, after the permission and the site checks: a site the
    user is not on (or no site at all) answers 404, like any other site's object."""
    require_permission(request.user, report.PERMISSION, category=DataCategory.LEDGER)
    if "site" in request.GET:
        get_site_for_user(request.user, request.GET["site"])
    return ReportForm(request.GET or None, sites=sites_for_user(request.user))


def _record(
    request: AuthenticatedRequest, form: ReportForm, output: str
) -> report.DispensingRecord:
    data = form.cleaned_data
    return report.record_for_user(
        user=request.user, site=data["site"], start=data["start"], end=data["end"],
        output=output, now=timezone.now(),
    )  # fmt: skip


def _refused(form: ReportForm) -> HttpResponse:
    """A bad choice as one plain line (400), naming the fields by their labels."""
    text = "; ".join(
        f"{form[name].label if name in form.fields else 'Range'}: "
        + " ".join(str(e) for e in errors)
        for name, errors in form.errors.items()
    )
    return HttpResponse(
        text or "Choose a site and the days.", status=400, content_type="text/plain"
    )


def _filename(form: ReportForm, extension: str) -> str:
    data = form.cleaned_data
    return f"dispensing-record-{data['site'].pk}-{data['start']}-{data['end']}.{extension}"


@require_GET
@login_required
def report_page(request: AuthenticatedRequest) -> HttpResponse:
    """The record on screen for the chosen site and days (the form until they are chosen)."""
    form = _form(request)
    if not form.is_bound:
        today = timezone.localdate()
        form = ReportForm(
            initial={"start": today.replace(day=1), "end": today},
            sites=sites_for_user(request.user),
        )
        return render(request, "ledger/report.html", {"form": form})
    if not form.is_valid():
        return render(request, "ledger/report.html", {"form": form}, status=400)
    record = _record(request, form, "page")
    query = urlencode(
        {"site": form.cleaned_data["site"].pk, "start": record.start, "end": record.end}
    )
    return render(request, "ledger/report.html", {"form": form, "record": record, "query": query})


@require_GET
@login_required
def report_csv(request: AuthenticatedRequest) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return _refused(form)
    record = _record(request, form, "csv")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(form, "csv")}"'
    report.write_csv(record, response)
    return response


@require_GET
@login_required
def report_pdf(request: AuthenticatedRequest) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return _refused(form)
    record = _record(request, form, "pdf")
    site = form.cleaned_data["site"]
    pdf = report.render_pdf(record, printed_at=timezone.now(), tz=site.tz)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{_filename(form, "pdf")}"'
    return response
