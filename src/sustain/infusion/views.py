"""The infusion day at the chair (one page per visit, a tablet at the chair), its steps,
adverse events, the record's PDF, and titration."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sustain.accounts.access import AuthenticatedRequest
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import User
from sustain.accounts.web import attempt, show_form_errors, show_times_in
from sustain.care import queries as care_queries
from sustain.care import services as care_services
from sustain.care.forms import HeightForm, WeightForm
from sustain.infusion import chairside, queries, services
from sustain.infusion.enums import EventKind
from sustain.infusion.forms import (
    AddendumForm,
    AdverseEventForm,
    ChecksForm,
    CosignForm,
    DecisionForm,
    DischargeForm,
    EndForm,
    EventForm,
    LastDoseForm,
    ReasonForm,
    SignForm,
    StartForm,
    VitalsForm,
    WasteForm,
)
from sustain.infusion.models import ChairsideRecord
from sustain.scheduling.models import Appointment
from sustain_core.numbers import plain

AT_THE_CHAIR = chairside.AT_THE_CHAIR


def _record(appointment: Appointment) -> ChairsideRecord | None:
    return ChairsideRecord.objects.filter(appointment=appointment).first()


@require_GET
@login_required
def chairside_page(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """The visit's chair-side record as it stands, with the forms of the next steps."""
    appointment = queries.get_visit_for_change(request.user, appointment_id, AT_THE_CHAIR)
    care_queries.record_patient_read(request.user, appointment.patient)
    view = queries.chairside_view(appointment, now=timezone.now())
    tz = show_times_in(appointment.site)
    site, today = appointment.site, timezone.now().astimezone(tz).date()
    context = {
        "view": view,
        "appointment": appointment,
        "patient": appointment.patient,
        "tz": tz,
        "checks_form": ChecksForm(initial=queries.checks_initial(view.record, tz), tz=tz),
        "vitals_form": VitalsForm(),
        "decision_form": DecisionForm(),
        "start_form": StartForm(site=site, day=today),
        "end_form": EndForm(),
        "waste_form": WasteForm(site=site, by=request.user),
        "event_form": EventForm(),
        "reason_form": ReasonForm(),
        "discharge_form": DischargeForm(prescriber=request.user.has_perm("care.prescribe")),
        "addendum_form": AddendumForm(),
        "sign_form": SignForm(auto_id="sign-%s"),
        "cosign_form": CosignForm(auto_id="cosign-%s"),
        "weight_form": WeightForm(initial={"measured_on": timezone.now().astimezone(tz).date()}),
        "height_form": HeightForm(),
        "adverse_form": AdverseEventForm(),
        "allergies": care_queries.allergy_list(request.user, appointment.patient),
    }
    return render(request, "infusion/chairside.html", context)


@dataclass(frozen=True)
class Step:
    """One POST step of the chair-side record: its form, who may take it, and the service."""

    form: type[forms.Form] | None
    perm: str
    run: Callable[[ChairsideRecord, Any, User, dt.datetime], object]
    done: str


def _checks(record: ChairsideRecord, form: Any, by: User, now: dt.datetime) -> object:
    return chairside.answer_checks(record=record, answers=form.answers(), by=by, now=now)


STEPS = {
    "checks": Step(ChecksForm, AT_THE_CHAIR, _checks, "Checks saved."),
    "last-dose": Step(
        LastDoseForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.record_last_dose(
            record=r,
            medication_id=f.cleaned_data["medication"],
            taken_at=f.taken_at_aware(),
            by=by,
            now=now,
        ),
        "Last dose recorded.",
    ),
    "weight": Step(
        WeightForm,
        "care.add_weightmeasurement",
        lambda r, f, by, now: care_services.record_weight(
            patient=r.appointment.patient, by=by, now=now, **f.cleaned_data
        ),
        "Weight recorded.",
    ),
    "height": Step(
        HeightForm,
        "care.add_weightmeasurement",
        lambda r, f, by, now: care_services.record_height(
            patient=r.appointment.patient, by=by, now=now, **f.cleaned_data
        ),
        "Height recorded.",
    ),
    "vitals": Step(
        VitalsForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.record_vitals(record=r, vitals=f.vitals, by=by, now=now),
        "Vital signs recorded.",
    ),
    "decision": Step(
        DecisionForm,
        "care.prescribe",
        lambda r, f, by, now: chairside.decide(
            record=r,
            decision=f.cleaned_data["decision"],
            reason=f.cleaned_data["reason"],
            by=by,
            now=now,
        ),
        "Decision recorded.",
    ),
    "start": Step(
        StartForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.start_infusion(
            record=r, container=f.cleaned_data["container"], by=by, now=now
        ),
        "Infusion started.",
    ),
    "event": Step(
        EventForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.add_event(
            record=r,
            kind=EventKind(f.cleaned_data["kind"]),
            detail=f.cleaned_data["detail"],
            by=by,
            now=now,
        ),
        "Event recorded.",
    ),
    "resume": Step(
        ReasonForm,
        "care.prescribe",
        lambda r, f, by, now: chairside.resume(
            record=r, reason=f.cleaned_data["reason"], by=by, now=now
        ),
        "Infusion resumed.",
    ),
    "end": Step(
        EndForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.end_infusion(
            record=r, by=by, now=now, delivered_mg=f.cleaned_data["delivered_mg"]
        ),
        "Infusion ended: recovery.",
    ),
    "waste": Step(
        WasteForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.waste_remainder(
            record=r,
            witness=f.cleaned_data["witness"],
            witness_password=f.cleaned_data["witness_password"],
            by=by,
            now=now,
        ),
        "Remainder wasted, witnessed.",
    ),
    "discharge": Step(
        DischargeForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.discharge(
            record=r,
            aldrete=f.aldrete(),
            dissociation_resolved=f.cleaned_data["dissociation_resolved"],
            escort_present=f.cleaned_data["escort_present"],
            by=by,
            now=now,
            override_reason=f.cleaned_data.get("override_reason", ""),
        ),
        "Discharged.",
    ),
    "sign": Step(
        SignForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.sign(record=r, by=by, now=now),
        "Signed.",
    ),
    "cosign": Step(
        CosignForm,
        "care.prescribe",
        lambda r, f, by, now: chairside.cosign(record=r, by=by, now=now),
        "Co-signed: the record is locked.",
    ),
    "undo": Step(
        ReasonForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.undo(
            record=r, reason=f.cleaned_data["reason"], by=by, now=now
        ),
        "Step undone.",
    ),
    "addendum": Step(
        AddendumForm,
        AT_THE_CHAIR,
        lambda r, f, by, now: chairside.add_addendum(
            record=r, text=f.cleaned_data["text"], by=by, now=now
        ),
        "Addendum added.",
    ),
}


@require_POST
@login_required
def check_in(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """The patient has arrived: open the visit's record."""
    appointment = queries.get_visit_for_change(request.user, appointment_id, AT_THE_CHAIR)
    attempt(
        request,
        lambda: chairside.check_in(appointment=appointment, by=request.user, now=timezone.now()),
        success="Checked in.",
    )
    return redirect("infusion:chairside", appointment_id=appointment.pk)


@require_http_methods(["GET", "POST"])
@login_required
def chairside_step(request: AuthenticatedRequest, appointment_id: int, step: str) -> HttpResponse:
    """One step of the record (STEPS); a refusal is shown in plain words and saves nothing. A
    GET (back from signing in again after the session lapsed at the chair) goes to the
    record's page."""
    if step not in STEPS:
        raise Http404("No such step.")
    action = STEPS[step]
    appointment = queries.get_visit_for_change(request.user, appointment_id, action.perm)
    if request.method == "GET":
        return redirect("infusion:chairside", appointment_id=appointment.pk)
    record = _record(appointment)
    if record is None:
        messages.error(request, "Check the patient in first.")
        return redirect("infusion:chairside", appointment_id=appointment.pk)
    form: forms.Form | None = None
    if action.form in (ChecksForm, LastDoseForm):
        form = action.form(request.POST, tz=appointment.site.tz)
    elif action.form is DischargeForm:
        form = DischargeForm(request.POST, prescriber=request.user.has_perm("care.prescribe"))
    elif action.form is StartForm:
        today = timezone.now().astimezone(appointment.site.tz).date()
        form = StartForm(request.POST, site=appointment.site, day=today)
    elif action.form is WasteForm:
        form = WasteForm(request.POST, site=appointment.site, by=request.user)
    elif action.form is not None:
        form = action.form(request.POST)
    if form is not None and not form.is_valid():
        show_form_errors(request, form)
    else:
        attempt(
            request,
            lambda: action.run(record, form, request.user, timezone.now()),
            success=action.done,
        )
    return redirect("infusion:chairside", appointment_id=appointment.pk)


@require_GET
@login_required
def record_pdf(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """The record as a PDF for the chart and for audits (WeasyPrint)."""
    from weasyprint import HTML  # noqa: PLC0415 - Pango is loaded only when a PDF is made

    appointment = queries.get_visit_for_change(request.user, appointment_id, AT_THE_CHAIR)
    care_queries.record_patient_read(request.user, appointment.patient)
    view = queries.chairside_view(appointment, now=timezone.now())
    if view.record is None:
        raise Http404("No record for this visit yet.")
    html = render_to_string(
        "infusion/record_pdf.html",
        {"view": view, "appointment": appointment, "patient": appointment.patient,
         "tz": appointment.site.tz, "printed_at": timezone.now()},
    )  # fmt: skip
    response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="infusion-record.pdf"'
    return response


@require_POST
@login_required
def adverse_event_record(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """Record an adverse event at a given infusion (nurses, prescribers)."""
    appointment = queries.get_visit_for_change(
        request.user, appointment_id, "infusion.add_adverseevent"
    )
    infusion = getattr(appointment, "infusion", None)
    form = AdverseEventForm(request.POST)
    if infusion is None:
        messages.error(request, "No infusion is recorded for this visit yet.")
    elif not form.is_valid():
        show_form_errors(request, form)
    else:
        attempt(
            request,
            lambda: services.record_adverse_event(
                infusion=infusion, by=request.user, now=timezone.now(), **form.cleaned_data
            ),
            success="Adverse event recorded.",
        )
    return redirect("infusion:chairside", appointment_id=appointment.pk)


@require_POST
@login_required
def titrate(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Apply the protocol's titration decision for the next infusions (prescribers)."""
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, "care.prescribe", category=DataCategory.COURSE
    )
    course = care_services.active_course(patient)
    if course is None:
        messages.error(request, "There is no active course.")
    else:
        attempt(
            request,
            lambda: services.apply_titration(course=course, by=request.user, at=timezone.now()),
            success=lambda decision: f"Next infusions at {plain(decision.mg_per_kg)} mg/kg.",
        )
    return redirect("clinic:patient_detail", patient_id=patient.pk)
