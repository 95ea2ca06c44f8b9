"""Protocol pages (issue 4, item 8) and clinic versions (item 3). Protocols hold no patient
data: reading them needs a staff role; saving a version needs care.add_clinicprotocol."""

import datetime as dt
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from sustain.accounts.access import AuthenticatedRequest, require_permission, sites_for_user
from sustain.accounts.enums import DataCategory
from sustain.accounts.web import plain
from sustain.care import protocol_versions
from sustain.care.models import ClinicProtocol
from sustain_core import medications, protocols, series
from sustain_core.errors import ClinicalValueError


def _find(request: AuthenticatedRequest, key: str, version: int) -> protocols.Protocol:
    for site in sites_for_user(request.user):
        try:
            return protocol_versions.resolve(site, key, version)
        except ClinicalValueError:
            continue
    raise Http404("No such protocol.")


@require_GET
@login_required
def protocol_list(request: AuthenticatedRequest) -> HttpResponse:
    require_permission(request.user, "care.view_clinicprotocol", category=DataCategory.PROTOCOL)
    own = ClinicProtocol.objects.filter(site__in=sites_for_user(request.user))
    context = {
        "library": sorted(protocols.PROTOCOLS.values(), key=lambda p: (p.condition, p.title)),
        "own": own.select_related("created_by"),
    }
    return render(request, "care/protocol_list.html", context)


@require_GET
@login_required
def protocol_detail(request: AuthenticatedRequest, key: str, version: int) -> HttpResponse:
    """What the protocol is, its sources, its schedule as a timeline, reported outcomes, each
    measure's recall period with the plan's warnings, and what each titration rule reads."""
    require_permission(request.user, "care.view_clinicprotocol", category=DataCategory.PROTOCOL)
    protocol = _find(request, key, version)
    today = timezone.localdate()
    monday = today + dt.timedelta(days=(7 - today.weekday()) % 7 or 7)
    try:
        dates = series.plan_series_dates(protocol.series, start=monday)
        schedule_error = ""
    except ClinicalValueError as error:
        dates, schedule_error = (), plain(error)
    row = ClinicProtocol.objects.filter(key=key, version=version).first()
    based_on = (
        protocol_versions.resolve(row.site, row.based_on_key, row.based_on_version) if row else None
    )
    context = {
        "protocol": protocol,
        "required_medications": [
            medications.CLASS_TITLES[code] for code in protocol.required_medication_classes
        ],
        "row": row,
        "changes": [  # the new key and version are the point of a version: not listed
            change
            for change in (protocols.diff_protocols(based_on, protocol) if based_on else [])
            if change[0] not in {"key", "version"}
        ],
        "dates": dates,
        # Warnings, not refusals: a measure asked more often than its questions recall.
        "plan_warnings": protocols.plan_warnings(protocol),
        "titration": [
            (rule, protocols.trigger_reads(protocol, rule.trigger)) for rule in protocol.titration
        ],
        "day_offsets": [(d, (d - dates[0]).days) for d in dates],
        "span_days": (dates[-1] - dates[0]).days + 1 if dates else 0,
        "schedule_error": schedule_error,
    }
    return render(request, "care/protocol_detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def protocol_edit(request: AuthenticatedRequest, key: str, version: int) -> HttpResponse:
    """Copy a protocol, edit it, and save it as the site's next immutable version."""
    require_permission(request.user, "care.add_clinicprotocol", category=DataCategory.PROTOCOL)
    based_on = _find(request, key, version)
    sites = list(sites_for_user(request.user))
    text = json.dumps(protocols.protocol_to_dict(based_on), indent=2, ensure_ascii=False)
    error = ""
    if request.method == "POST":
        text = request.POST.get("data", "")
        site = next((s for s in sites if str(s.pk) == request.POST.get("site")), sites[0])
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ClinicalValueError("data", "the protocol must be a JSON object")
            row = protocol_versions.save_version(
                site=site, based_on=based_on, data=data,
                change_note=request.POST.get("change_note", ""), by=request.user,
                now=timezone.now(),
            )  # fmt: skip
        except json.JSONDecodeError as bad:
            error = f"data: not valid JSON at line {bad.lineno}, column {bad.colno}: {bad.msg}"
        except ClinicalValueError as refused:
            error = str(refused)
        else:
            messages.success(request, f"Saved {row.key} v{row.version}.")
            return redirect("care:protocol_detail", key=row.key, version=row.version)
    context = {"protocol": based_on, "text": text, "error": error, "sites": sites}
    return render(request, "care/protocol_edit.html", context, status=400 if error else 200)
