"""The relapse forecast page (issue 17, item 3): a site's responders in maintenance with their
relapse risk, the day to book a booster by, and the model's backtest figures beside them."""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from sustain.accounts.access import (
    AuthenticatedRequest,
    require_permission,
    site_or_first,
    sites_for_user,
)
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import User
from sustain.accounts.web import show_times_in
from sustain.care.models import Patient
from sustain.reports import forecast
from sustain_core import relapse

VIEW_FORECAST = "reports.view_relapsefit"


def _percent(value: float) -> str:
    """A probability as a whole percent for display ("< 1 %" below one half percent)."""
    shown = round(value * 100)
    return "< 1 %" if shown == 0 and value > 0 else f"{shown} %"


def patient_panel(
    user: User, patient: Patient, course_id: int, *, now: dt.datetime
) -> dict[str, object] | None:
    """The forecast for one course on the patient page's booster list, or None for a role
    without reports.view_relapsefit (nothing is read then) or before the first fit. The read
    is the patient page's, audited once as a read of the record (clinic.queries.patient_page),
    so a page read stays one audit row."""
    if not user.has_perm(VIEW_FORECAST):
        return None
    found = forecast.site_forecast(patient.site, now=now, course_id=course_id)
    if found is None:
        return None
    risk = found.patients[0] if found.patients else None
    return {
        "found": found,
        "risk": risk,
        "risks": [(h, _percent(p)) for h, p in risk.risks] if risk else [],
        "min_n": relapse.MIN_BACKTEST_N,
        "min_events": relapse.MIN_BACKTEST_EVENTS,
    }


@require_GET
@login_required
def forecast_page(request: AuthenticatedRequest) -> HttpResponse:
    """The site's latest relapse forecast (roles with reports.view_relapsefit: the clinical
    ones); the read is audited."""
    require_permission(request.user, VIEW_FORECAST, category=DataCategory.COURSE)
    site = site_or_first(request.user, request.GET.get("site"))
    now = timezone.now()
    found = forecast.site_forecast(site, now=now)
    names = {}
    if found is not None:
        record_event(
            actor=request.user, action=AuditAction.READ, category=DataCategory.COURSE,
            site=site, obj=found.fit, reason="relapse forecast",
        )  # fmt: skip
        names = {
            p.pk: p
            for p in Patient.objects.filter(
                site=site, pk__in=[r.patient_id for r in found.patients]
            )
        }
    context = {
        "site": site,
        "sites": list(sites_for_user(request.user)),
        "found": found,
        "rows": [
            (names.get(r.patient_id), r, [_percent(risk) for _, risk in r.risks])
            for r in (found.patients if found else ())
        ],
        "calibration": [
            {
                "group": f"{_percent(g['low'])} – {_percent(g['high'])}",
                "n": g["n"],
                "predicted": _percent(g["mean_predicted"]),
                "observed": _percent(g["observed"]),
            }
            for g in (found.fit.backtest.get("calibration", []) if found else [])
        ],
        "horizons": relapse.HORIZONS_DAYS,
        "min_n": relapse.MIN_BACKTEST_N,
        "min_events": relapse.MIN_BACKTEST_EVENTS,
        "tz": show_times_in(site),
    }
    return render(request, "reports/forecast.html", context)
