"""Protocol pages (issue 4, item 8) and clinic versions (item 3). Protocols hold no patient
data: reading them needs a staff role; saving a version needs care.add_clinicprotocol."""

import datetime as dt
import json
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from sustain.accounts import directors
from sustain.accounts.access import AuthenticatedRequest, require_permission, sites_for_user
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import Site
from sustain.accounts.web import plain
from sustain.care import labels, pk_chart, protocol_form, protocol_versions
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
        "own": [
            (
                row,
                protocols.protocol_from_dict(row.data),
                protocol_versions.resolve(row.site, row.based_on_key, row.based_on_version),
            )
            for row in own.select_related("created_by", "site")
        ],
    }
    return render(request, "care/protocol_list.html", context)


@require_GET
@login_required
def protocol_detail(request: AuthenticatedRequest, key: str, version: int) -> HttpResponse:
    """What the protocol is, its sources, its schedule as a timeline, reported outcomes, each
    measure's recall period with the plan's warnings, what each titration rule reads, and the
    modelled plasma level of one session (a model, labelled so)."""
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
        "based_on": based_on,
        "changes": protocol_form.changes(based_on, protocol) if based_on else [],
        "absolute": labels.footnotes(protocol, protocol.contraindications_absolute).items,
        "relative": labels.footnotes(protocol, protocol.contraindications_relative).items,
        "item_notes": labels.footnotes(
            protocol, protocol.contraindications_absolute + protocol.contraindications_relative
        ).notes,
        "dates": dates,
        # Warnings, not refusals: a measure asked more often than its questions recall.
        "plan_warnings": protocols.plan_warnings(protocol),
        "titration": [
            (rule, protocols.trigger_reads(protocol, rule.trigger)) for rule in protocol.titration
        ],
        "day_offsets": [(d, (d - dates[0]).days) for d in dates],
        "span_days": (dates[-1] - dates[0]).days + 1 if dates else 0,
        "schedule_error": schedule_error,
        # The modelled plasma level of one session at a reference 70 kg (sustain_core.pk).
        "plasma": pk_chart.protocol_plasma(protocol),
    }
    return render(request, "care/protocol_detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def protocol_edit(request: AuthenticatedRequest, key: str, version: int) -> HttpResponse:
    """Copy a protocol, edit it in sections (or as JSON, for experts), see every change in
    words, and save it as the site's next immutable version (``protocol_versions.save_version``,
    the one path, with its validation and its medical-director rule)."""
    require_permission(request.user, "care.add_clinicprotocol", category=DataCategory.PROTOCOL)
    based_on = _find(request, key, version)
    sites = list(sites_for_user(request.user))
    posted = request.POST if request.method == "POST" else None
    # The JSON view, for experts (and scripts posting the protocol's JSON as "data").
    asked = posted if posted is not None else request.GET
    expert = asked.get("view") == "json" or (posted is not None and "data" in posted)
    meta = protocol_form.VersionForm(sites, posted)
    form = protocol_form.ProtocolForm(based_on, None if expert else posted)
    text = (posted.get("data") if posted is not None else "") or json.dumps(
        protocols.protocol_to_dict(based_on), indent=2, ensure_ascii=False
    )
    context: dict[str, object] = {
        "protocol": based_on, "form": form, "meta": meta, "expert": expert, "text": text,
        "error": "",
    }  # fmt: skip
    if posted is not None:
        edited = _edited(form, text, expert, context)
        if edited is not None and meta.is_valid():
            chosen = meta.cleaned_data["site"] or sites[0].pk
            site = next(s for s in sites if s.pk == chosen)
            if meta.cleaned_data["confirm"] == protocol_form.digest(edited):
                row = _save(
                    request, form=form, site=site, based_on=based_on, edited=edited,
                    meta=meta, context=context,
                )  # fmt: skip
                if row is not None:
                    messages.success(request, f"Saved {labels.protocol_name(edited)}.")
                    return redirect("care:protocol_detail", key=row.key, version=row.version)
            else:
                _preview(request, based_on, edited, site, context)
    failed = bool(context["error"] or form.errors or meta.errors)
    return render(request, "care/protocol_edit.html", context, status=400 if failed else 200)


# A number in the protocol's JSON has at most 9 digits before and after the point, as in the
# form (protocol_form._NUMBER): 30 digits or 1e400 is a typing error, refused in words before
# any rule computes with it (TST-03).
_JSON_NUMBER = re.compile(r"^-?\d{1,9}(\.\d{1,9})?$")


def _bounded_int(text: str) -> int:
    return int(_bounded_number(text))


def _bounded_float(text: str) -> float:
    return float(_bounded_number(text))


def _bounded_number(text: str) -> str:
    if not _JSON_NUMBER.match(text):
        raise ClinicalValueError(
            "data", f"a number has at most 9 digits each side of the point; got {text[:24]}"
        )
    return text


def _no_constant(text: str) -> float:
    raise ClinicalValueError("data", f"{text} is not a number a protocol can hold")


def _edited(
    form: protocol_form.ProtocolForm, text: str, expert: bool, context: dict[str, object]
) -> protocols.Protocol | None:
    """The edited protocol, validated by the core, or None with the refusal shown: on the
    field it names (the form) or as one message (the JSON)."""
    try:
        if expert:
            data = json.loads(
                text,
                parse_int=_bounded_int,
                parse_float=_bounded_float,
                parse_constant=_no_constant,
            )
            if not isinstance(data, dict):
                raise ClinicalValueError("data", "the protocol must be a JSON object")
        elif form.is_valid():
            data = form.to_dict()
        else:
            return None
        return protocols.protocol_from_dict(data)
    except json.JSONDecodeError as bad:
        context["error"] = (
            f"data: not valid JSON at line {bad.lineno}, column {bad.colno}: {bad.msg}"
        )
    except ClinicalValueError as refused:
        if expert:
            context["error"] = str(refused)
        else:
            form.show_refusal(refused)
    return None


def _preview(
    request: AuthenticatedRequest,
    based_on: protocols.Protocol,
    edited: protocols.Protocol,
    site: Site,
    context: dict[str, object],
) -> None:
    """Every change in words before anything is saved, with who may save it."""
    changes = protocol_form.changes(based_on, edited)
    context["changes"] = changes
    context["digest"] = protocol_form.digest(edited)
    context["needs_director"] = any(change.clinical for change in changes) and not (
        directors.is_medical_director(request.user, site)
    )
    context["site"] = site


def _save(
    request: AuthenticatedRequest,
    *,
    form: protocol_form.ProtocolForm,
    site: Site,
    based_on: protocols.Protocol,
    edited: protocols.Protocol,
    meta: protocol_form.VersionForm,
    context: dict[str, object],
) -> ClinicProtocol | None:
    try:
        return protocol_versions.save_version(
            site=site, based_on=based_on, data=protocols.protocol_to_dict(edited),
            change_note=meta.cleaned_data["change_note"], by=request.user, now=timezone.now(),
        )  # fmt: skip
    except ClinicalValueError as refused:
        if refused.field == "change_note":
            meta.add_error("change_note", plain(refused))
        elif context["expert"]:
            context["error"] = str(refused)
        else:
            form.show_refusal(refused)
        _preview(request, based_on, edited, site, context)
        return None
