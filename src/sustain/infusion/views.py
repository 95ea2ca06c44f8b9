"""The infusion record of a visit, its adverse events, and titration."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from sustain.accounts.access import AuthenticatedRequest
from sustain.accounts.enums import DataCategory
from sustain.accounts.web import attempt, show_form_errors
from sustain.care import queries as care_queries
from sustain.care import services as care_services
from sustain.care.rules import current_rules
from sustain.infusion import queries, services
from sustain.infusion.forms import AdverseEventForm, InfusionForm
from sustain_core import dosing
from sustain_core.errors import ClinicalValueError


@require_http_methods(["GET", "POST"])
@login_required
def infusion_record(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """The dose for the visit, computed, and its confirmation by the nurse at the chair."""
    appointment = queries.get_visit_for_change(
        request.user, appointment_id, "infusion.add_infusionrecord"
    )
    vial = dosing.ALLOWED_VIAL_MG_PER_ML[-1]
    form = InfusionForm(request.POST or None, initial={"vial_mg_per_ml": vial})
    if form.is_bound and form.is_valid():
        vial = form.cleaned_data["vial_mg_per_ml"]
    plan, plan_error = None, ""
    try:
        plan = services.plan_dose(
            appointment=appointment,
            vial_mg_per_ml=vial,
            rules=current_rules(appointment.site).as_rules(),
        )
    except ClinicalValueError as error:
        plan_error = error.message
    if request.method == "POST" and form.is_valid():
        recorded = attempt(
            request,
            lambda: services.record_infusion(
                appointment=appointment,
                vial_mg_per_ml=vial,
                by=request.user,
                confirmed_at=timezone.now(),
            ),
            form=form,
            success=f"Infusion {appointment.number} recorded.",
        )
        if recorded is not None:
            return redirect("clinic:patient_detail", patient_id=appointment.patient_id)
    care_queries.record_patient_read(request.user, appointment.patient)
    context = {
        "patient": appointment.patient,
        "appointment": appointment,
        "form": form,
        "plan": plan,
        "plan_error": plan_error,
        "pump_resolution": dosing.PUMP_RATE_RESOLUTION_ML_PER_H,
        "tz": appointment.site.tz,
        "record": getattr(appointment, "infusion", None),
        "adverse_form": AdverseEventForm(),
    }
    return render(
        request, "infusion/infusion_form.html", context, status=400 if form.errors else 200
    )


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
    return redirect("infusion:infusion_record", appointment_id=appointment.pk)


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
            success=lambda decision: f"Next infusions at {decision.mg_per_kg} mg/kg.",
        )
    return redirect("clinic:patient_detail", patient_id=patient.pk)
