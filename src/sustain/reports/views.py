"""The cohort outcomes page, its CSV and its PDF (issue 17, item 1).

Prescribers, nurses and clinic administrators (reports.view_outcomes); aggregates only, never
a name. The URL carries the site, the protocol key, the days and the chosen definitions,
never a patient. The page is one read event in the audit trail, each download one export.
"""

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from sustain.accounts.access import (
    AuthenticatedRequest,
    get_site_for_user,
    require_permission,
    sites_for_user,
)
from sustain.accounts.bounds import BoundedDateField
from sustain.accounts.exports import csv_export
from sustain.accounts.models import Site
from sustain.care.models import ClinicProtocol
from sustain.reports import charts, outcomes
from sustain_core import literature, protocols
from sustain_core.errors import ClinicalValueError


def _protocol_choices(sites: Any) -> list[tuple[str, str]]:
    # The title up to its colon ("Shiroma 2014"): the whole title is too wide for a phone.
    library = {key: p.title.split(":")[0] for (key, _), p in protocols.PROTOCOLS.items()}
    own = dict(ClinicProtocol.objects.filter(site__in=sites).values_list("key", "key").distinct())
    keys = sorted({**own, **library})
    return [("", "Every protocol"), *((k, library.get(k, k)) for k in keys)]


class OutcomesForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    protocol = forms.ChoiceField(required=False)
    start = BoundedDateField(
        label="First infusion from", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = BoundedDateField(label="to", widget=forms.DateInput(attrs={"type": "date"}))
    window = forms.ChoiceField(
        label="End of induction (first score after the last infusion)",
        choices=[
            ("end", "Up to 31 days after"),
            ("mcinnes", "14–31 days after (McInnes)"),
        ],
        initial="end",
        required=False,
    )
    censor = forms.BooleanField(label="Censor relapse at the first booster", required=False)

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]
        self.fields["protocol"].choices = _protocol_choices(sites)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, dt.date) and isinstance(end, dt.date):
            try:
                outcomes.check_period(start, end)
            except ClinicalValueError as error:
                self.add_error("end", error.message)
        return data


def _form(request: AuthenticatedRequest) -> OutcomesForm:
    """The form for the GET parameters, after the permission and the site checks: a site the
    user is not on answers 404, like any other site's object."""
    require_permission(request.user, outcomes.PERMISSION, category=outcomes.CATEGORY)
    if "site" in request.GET:
        get_site_for_user(request.user, request.GET["site"])
    sites = sites_for_user(request.user)
    if request.GET:
        return OutcomesForm(request.GET, sites=sites)
    # No choice made (the page from the menu, or its CSV or PDF asked for bare): the user's
    # first site, the last year to today in its time zone, as every output answers alike.
    site = sites.first()
    today = timezone.localdate(timezone=site.tz) if site else timezone.localdate()
    return OutcomesForm(
        {"site": site.pk if site else "", "start": today - dt.timedelta(days=365), "end": today,
         "window": "end"},
        sites=sites,
    )  # fmt: skip


def _report(
    request: AuthenticatedRequest, form: OutcomesForm, output: str
) -> outcomes.OutcomesReport:
    data = form.cleaned_data
    return outcomes.outcomes_for_user(
        user=request.user, site=data["site"], protocol_key=data["protocol"] or None,
        start=data["start"], end=data["end"], window=data["window"] or "end",
        censor_at_first_booster=data["censor"], output=output, now=timezone.now(),
    )  # fmt: skip


def _refused(form: OutcomesForm) -> HttpResponse:
    """A bad choice as one plain line (400), naming the fields by their labels."""
    text = "; ".join(
        f"{form[name].label if name in form.fields else 'Period'}: "
        + " ".join(str(e) for e in errors)
        for name, errors in form.errors.items()
    )
    return HttpResponse(text, status=400, content_type="text/plain")


def _filename(report: outcomes.OutcomesReport, extension: str) -> str:
    protocol = report.protocol_key or "all"
    return f"outcomes-{report.site.pk}-{protocol}-{report.start}-{report.end}.{extension}"


def present(report: outcomes.OutcomesReport) -> dict[str, Any]:
    """The report with its charts and literature lines, for the page and the PDF."""
    bars: dict[str, list[charts.Bar]] = {"response": [], "remission": []}
    for name, proportion in (("response", report.response), ("remission", report.remission)):
        if proportion is not None:
            bars[name].append(
                charts.Bar(
                    f"This clinic (n {proportion.n})", proportion.estimate,
                    proportion.low, proportion.high, ours=True,
                )
            )  # fmt: skip
    for row in report.studies:
        for name in ("response", "remission"):
            value = getattr(row.study, name)
            if value is not None:
                bars[name].append(
                    charts.Bar(row.study.label.split(" (")[0], charts.fraction(value))
                )
    points = [
        charts.LiteraturePoint(
            weeks * 7, charts.fraction(value), f"{study.label.split(' (')[0]} {weeks} wk"
        )
        for study in (literature.MCINNES_2022, literature.SHIROMA_2014)
        for weeks, value in study.sustained
    ]
    if report.relapse is not None and literature.MURROUGH_2013.median_relapse_days:
        points.append(
            charts.LiteraturePoint(
                literature.MURROUGH_2013.median_relapse_days, 0.5, "Murrough median 18 d"
            )
        )
    return {
        "report": report,
        "response_chart": charts.proportion_chart(
            "Response at the end of induction, this clinic beside the studies", bars["response"]
        ),
        "remission_chart": charts.proportion_chart(
            "Remission at the end of induction, this clinic beside the studies", bars["remission"]
        ),
        "relapse_chart": charts.relapse_chart(report.relapse, points) if report.relapse else "",
        "instrument_names": ", ".join(literature.instrument_name(i) for i in report.instruments),
        "rules": report.rules,
    }


@require_GET
@login_required
def outcomes_page(request: AuthenticatedRequest) -> HttpResponse:
    """The outcomes of the chosen site, protocol and period (the last year by default)."""
    form = _form(request)
    if not form.is_valid():
        return render(request, "reports/outcomes.html", {"form": form}, status=400)
    report = _report(request, form, "page")
    data = form.cleaned_data
    params = {
        "site": report.site.pk, "protocol": report.protocol_key or "", "start": report.start,
        "end": report.end, "window": data["window"] or "end",
    }  # fmt: skip
    if data["censor"]:
        params["censor"] = "on"
    query = urlencode(params)
    return render(
        request, "reports/outcomes.html", {"form": form, "query": query, **present(report)}
    )


@require_GET
@login_required
def outcomes_csv(request: AuthenticatedRequest) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return _refused(form)
    report = _report(request, form, "csv")
    return csv_export(
        user=request.user, category=outcomes.CATEGORY, name="cohort outcomes",
        columns=outcomes.CSV_COLUMNS, rows=outcomes.csv_rows(report), site=report.site,
        filename=_filename(report, "csv").removesuffix(".csv"),
    )  # fmt: skip


@require_GET
@login_required
def outcomes_pdf(request: AuthenticatedRequest) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return _refused(form)
    report = _report(request, form, "pdf")
    from weasyprint import HTML  # noqa: PLC0415 - Pango is loaded only when a PDF is made

    html = render_to_string(
        "reports/outcomes_pdf.html",
        {**present(report), "printed_at": timezone.now(), "tz": report.site.tz},
    )
    response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{_filename(report, "pdf")}"'
    return response
