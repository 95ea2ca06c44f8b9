import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sustain.accounts.access import AuthenticatedRequest, require_permission, sites_for_user
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.care import protocol_versions, queries, services
from sustain.care.enums import AlertStatus, CourseStatus, Timepoint
from sustain.care.forms import (
    AdverseEventForm,
    AssessmentMetaForm,
    ConsentForm,
    InfusionForm,
    InstrumentForm,
    InviteForm,
    PatientForm,
)
from sustain.care.models import Alert, Course, Patient
from sustain.portal import services as portal_services
from sustain.portal.enums import Channel
from sustain.scheduling.enums import AppointmentStatus, CancellationReason
from sustain.scheduling.forms import VisitForm
from sustain.scheduling.services import SERIES_BOOKABLE
from sustain_core import dosing, instruments, maintenance
from sustain_core.errors import ClinicalValueError
from sustain_core.outcomes import TrajectoryStatus


def add_clinical_error(form: forms.Form, error: ClinicalValueError) -> None:
    """Show a rule's refusal on the field it names (or on the form when no field matches)."""
    form.add_error(error.field if error.field in form.fields else None, error.message)


@require_GET
@login_required
def patient_list(request: AuthenticatedRequest) -> HttpResponse:
    require_permission(request.user, "care.view_patient", category=DataCategory.DEMOGRAPHICS)
    patients = (
        Patient.objects.filter(site__in=sites_for_user(request.user))
        .select_related("site")
        .annotate(
            open_alerts=Count("alerts", filter=Q(alerts__status=AlertStatus.OPEN)),
            course_status=Subquery(
                Course.objects.filter(patient=OuterRef("pk"))
                .order_by("-enrolled_at")
                .values("status")[:1]
            ),
        )
    )
    # A list of names is a read of many records: one audit event for the list.
    record_event(actor=request.user, action=AuditAction.READ, category=DataCategory.DEMOGRAPHICS)
    context = {"patients": patients, "course_labels": dict(CourseStatus.choices)}
    return render(request, "care/patient_list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def patient_create(request: AuthenticatedRequest) -> HttpResponse:
    require_permission(request.user, "care.add_patient", category=DataCategory.DEMOGRAPHICS)
    sites = sites_for_user(request.user)
    form = PatientForm(request.POST or None, sites=sites)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            patient = services.register_patient(
                by=request.user,
                today=timezone.localdate(timezone=zoneinfo.ZoneInfo(data["site"].timezone)),
                **data,
            )
        except ClinicalValueError as error:
            add_clinical_error(form, error)
        else:
            messages.success(request, "Patient registered.")
            return redirect("care:patient_detail", patient_id=patient.pk)
    return render(
        request, "care/patient_form.html", {"form": form}, status=400 if form.errors else 200
    )


@require_GET
@login_required
def patient_detail(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    patient = queries.get_patient_for_user(request.user, patient_id)
    tz = zoneinfo.ZoneInfo(patient.site.timezone)
    course = services.active_course(patient) or patient.courses.order_by("-enrolled_at").first()
    protocol = protocol_versions.protocol_for(course) if course else None
    appointments = list(
        patient.appointments.exclude(status=AppointmentStatus.CANCELLED).select_related(
            "chair", "infusion"
        )
    )
    can_see_scores = request.user.has_perm("care.view_assessment")
    assessments = list(patient.assessments.select_related("recorded_by"))
    due = queries.due_measures(course, appointments, assessments, now=timezone.now())
    measures = queries.measure_summaries(assessments, appointments, protocol=protocol, tz=tz)
    responded = queries.has_responded(measures, protocol)
    titration = services.titration_suggestion(course, responded=responded) if course else None
    boosters = queries.due_boosters(
        course, appointments, measures, today=timezone.localdate(timezone=tz), tz=tz
    )
    next_visit = next((a for a in appointments if a.status == AppointmentStatus.BOOKED), None)
    dose_preview = None
    if next_visit is not None and course is not None:
        try:
            dose_preview = services.plan_dose(
                appointment=next_visit, vial_mg_per_ml=dosing.ALLOWED_VIAL_MG_PER_ML[-1]
            )
        except ClinicalValueError as error:
            messages.warning(request, str(error))
    context = {
        "patient": patient,
        "course": course,
        "protocol": protocol,
        "next_phases": [(p.value, p.label) for p in services.next_phases(course)] if course else [],
        "can_book_series": course is not None
        and course.status in SERIES_BOOKABLE
        and not any(a.course_id == course.pk for a in appointments),
        "timeline": course.transitions.select_related("by") if course else [],
        "consents": course.consents.all() if course else [],
        "screen": course.screens.select_related("signed_by").first() if course else None,
        "protocols": [
            p
            for p in protocol_versions.available(patient.site)
            if p.condition == patient.primary_condition
        ],
        "appointments": appointments,
        "can_see_scores": can_see_scores,
        "measures": measures if can_see_scores else [],
        "boosters": boosters,
        "titration": titration,
        "due_now": [d for d in due if d.status in {"due", "overdue"}],
        "due_next": [d for d in due if d.status == "upcoming"][:6],
        "missed": [d for d in due if d.status == "missed"][-6:],
        "alerts": patient.alerts.filter(status=AlertStatus.OPEN).select_related(
            "assessment", "assigned_to"
        ),
        "weight": patient.weights.first(),
        "next_visit": next_visit,
        "weight_basis": settings.SUSTAIN_DOSING_WEIGHT_BASIS,
        "course_total": services.course_dose_total(course) if course else None,
        "dose_preview": dose_preview,
        "visit_form": VisitForm(chairs=patient.site.chairs.all()),
        "chairs": list(patient.site.chairs.all()),
        "cancel_reasons": CancellationReason.choices,
        "invite_form": InviteForm(),
        "invitations": patient.invitations.select_related("created_by")[:5],
        "now": timezone.now(),
        "tz": tz,
    }
    return render(request, "care/patient_detail.html", context)


@require_POST
@login_required
def enrol(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    require_permission(request.user, "care.add_course", category=DataCategory.COURSE)
    patient = queries.get_patient_for_user(request.user, patient_id, audit_read=False)
    key, _, version = request.POST.get("protocol", "").rpartition(":")
    try:
        services.enrol_patient(
            patient=patient,
            protocol_key=key,
            protocol_version=int(version) if version.isdigit() else 0,
            by=request.user,
        )
    except ClinicalValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Enrolled.")
    return redirect("care:patient_detail", patient_id=patient.pk)


@require_http_methods(["GET", "POST"])
@login_required
def assessment_create(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Enter any instrument for a patient: self-report on paper, or clinician-rated."""
    require_permission(request.user, "care.add_assessment", category=DataCategory.QUESTIONNAIRE)
    patient = queries.get_patient_for_user(request.user, patient_id, audit_read=False)
    data = request.POST if request.method == "POST" else None
    chosen = (data or request.GET).get("instrument", "phq9")
    if chosen not in instruments.INSTRUMENTS:
        chosen = "phq9"
    instrument = instruments.get_instrument(chosen)
    has_baseline = patient.assessments.filter(instrument=chosen).exists()
    meta = AssessmentMetaForm(
        data,
        initial={
            "instrument": chosen,
            "timepoint": Timepoint.PRE_INFUSION if has_baseline else Timepoint.BASELINE,
        },
    )
    form = InstrumentForm(instrument, data)
    visit = None  # an in-session scale (CADSS) entered from the infusion record
    visit_id = (data or request.GET).get("visit", "")
    if visit_id.isdigit():
        visit = queries.get_appointment_for_user(request.user, int(visit_id))
        if visit.patient_id != patient.pk:
            raise Http404("No such visit for this patient.")
    if data is not None and meta.is_valid() and form.is_valid():
        timepoint = Timepoint(meta.cleaned_data["timepoint"])
        if visit is None and timepoint == Timepoint.PRE_INFUSION:
            visit = queries.next_booked_visit(patient)
        try:
            assessment = services.record_assessment(
                patient=patient,
                instrument=chosen,
                answers=form.answers(),
                timepoint=timepoint,
                by=request.user,
                completed_at=timezone.now(),
                appointment=visit,
            )
        except ClinicalValueError as error:
            form.show_error(error)
        else:
            messages.success(
                request,
                f"{instrument.short_title} recorded: {assessment.total_score.normalize():f}.",
            )
            for alert in assessment.alerts.all():
                messages.error(request, f"{alert.get_kind_display()}: an alert is open.")
            return redirect("care:patient_detail", patient_id=patient.pk)
    queries.audit_patient_read(request.user, patient)
    context = {
        "patient": patient,
        "meta": meta,
        "form": form,
        "instrument": instrument,
        "visit": visit,
        "choices": list(instruments.INSTRUMENTS.values()),
    }
    status = 400 if form.errors or meta.errors else 200
    return render(request, "care/assessment_form.html", context, status=status)


@require_POST
@login_required
def alert_acknowledge(request: AuthenticatedRequest, alert_id: int) -> HttpResponse:
    require_permission(request.user, "care.change_alert", category=DataCategory.ALERT)
    alert = queries.get_alert_for_user(request.user, alert_id)
    try:
        services.acknowledge_alert(alert=alert, by=request.user, note=request.POST.get("note", ""))
    except ClinicalValueError as error:
        messages.error(request, str(error))
    return redirect("care:patient_detail", patient_id=alert.patient_id)


@require_http_methods(["GET", "POST"])
@login_required
def infusion_record(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    require_permission(request.user, "care.add_infusionrecord", category=DataCategory.INFUSION)
    appointment = queries.get_appointment_for_user(request.user, appointment_id)
    patient = queries.get_patient_for_user(request.user, appointment.patient_id, audit_read=False)
    form = InfusionForm(
        request.POST or None, initial={"vial_mg_per_ml": dosing.ALLOWED_VIAL_MG_PER_ML[-1]}
    )
    vial = dosing.ALLOWED_VIAL_MG_PER_ML[-1]
    if form.is_bound and form.is_valid():
        vial = form.cleaned_data["vial_mg_per_ml"]
    plan, plan_error = None, ""
    try:
        plan = services.plan_dose(appointment=appointment, vial_mg_per_ml=vial)
    except ClinicalValueError as error:
        plan_error = str(error)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_infusion(
                appointment=appointment,
                vial_mg_per_ml=vial,
                by=request.user,
                confirmed_at=timezone.now(),
            )
        except ClinicalValueError as error:
            add_clinical_error(form, error)
        else:
            messages.success(request, f"Infusion {appointment.number} recorded.")
            return redirect("care:patient_detail", patient_id=patient.pk)
    context = {
        "patient": patient,
        "appointment": appointment,
        "form": form,
        "plan": plan,
        "plan_error": plan_error,
        "pump_resolution": dosing.PUMP_RATE_RESOLUTION_ML_PER_H,
        "tz": zoneinfo.ZoneInfo(patient.site.timezone),
        "record": getattr(appointment, "infusion", None),
        "adverse_form": AdverseEventForm(),
    }
    queries.audit_patient_read(request.user, patient)
    return render(request, "care/infusion_form.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def alert_list(request: AuthenticatedRequest) -> HttpResponse:
    require_permission(request.user, "care.view_alert", category=DataCategory.ALERT)
    alerts = Alert.objects.filter(
        patient__site__in=sites_for_user(request.user), status=AlertStatus.OPEN
    ).select_related("patient", "assessment")
    record_event(actor=request.user, action=AuditAction.READ, category=DataCategory.ALERT)
    return render(request, "care/alert_list.html", {"alerts": alerts})


@require_POST
@login_required
def self_report_invite(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Send the patient a single-use link to their self-report questionnaires."""
    require_permission(request.user, "portal.add_invitation", category=DataCategory.SELF_REPORT)
    patient = queries.get_patient_for_user(request.user, patient_id, audit_read=False)
    form = InviteForm(request.POST)
    if form.is_valid() and "kiosk" in request.POST:
        try:
            invitation, code = portal_services.open_on_kiosk(
                patient=patient,
                instrument_codes=form.cleaned_data["instruments"],
                timepoint=Timepoint(form.cleaned_data["timepoint"]),
                by=request.user,
                now=timezone.now(),
            )
        except ClinicalValueError as error:
            messages.error(request, str(error))
        else:
            context = {"patient": patient, "invitation": invitation, "code": code}
            context["tz"] = zoneinfo.ZoneInfo(patient.site.timezone)
            return render(request, "care/kiosk_code.html", context)
    elif form.is_valid():
        try:
            portal_services.invite_patient(
                patient=patient,
                instrument_codes=form.cleaned_data["instruments"],
                channel=Channel(form.cleaned_data["channel"]),
                timepoint=Timepoint(form.cleaned_data["timepoint"]),
                by=request.user,
                now=timezone.now(),
            )
        except ClinicalValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Link sent (see the outbox).")
    else:
        messages.error(request, "Choose at least one questionnaire and a channel.")
    return redirect("care:patient_detail", patient_id=patient.pk)


@require_POST
@login_required
def course_status(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Move the patient's course to its next phase (prescribers)."""
    require_permission(request.user, "care.change_course", category=DataCategory.COURSE)
    patient = queries.get_patient_for_user(request.user, patient_id, audit_read=False)
    course = services.active_course(patient)
    status = request.POST.get("status", "")
    if course is None or status not in CourseStatus.values:
        messages.error(request, "There is no active course, or no such phase.")
    else:
        try:
            services.change_course_status(
                course=course,
                status=CourseStatus(status),
                by=request.user,
                at=timezone.now(),
                reason=request.POST.get("reason", ""),
            )
        except ClinicalValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Course moved to {CourseStatus(status).label}.")
    return redirect("care:patient_detail", patient_id=patient.pk)


@require_POST
@login_required
def consent_record(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Record that the patient signed the consent form for the active course."""
    require_permission(request.user, "care.add_consent", category=DataCategory.COURSE)
    patient = queries.get_patient_for_user(request.user, patient_id, audit_read=False)
    course = services.active_course(patient)
    form = ConsentForm(request.POST)
    if course is None or not form.is_valid():
        messages.error(request, "Give the date signed and the form's name and version.")
    else:
        try:
            services.record_consent(
                course=course, by=request.user, now=timezone.now(), **form.cleaned_data
            )
        except ClinicalValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Consent recorded.")
    return redirect("care:patient_detail", patient_id=patient.pk)


@require_POST
@login_required
def screen_sign(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """A prescriber answers the protocol's contraindication checklist and signs it."""
    require_permission(
        request.user, "care.add_contraindicationscreen", category=DataCategory.COURSE
    )
    patient = queries.get_patient_for_user(request.user, patient_id, audit_read=False)
    course = services.active_course(patient)
    if course is None:
        messages.error(request, "There is no active course.")
        return redirect("care:patient_detail", patient_id=patient.pk)
    protocol = protocol_versions.protocol_for(course)
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    answers = {
        item: request.POST.get(f"item-{n}") == "present"
        for n, item in enumerate(items)
        if request.POST.get(f"item-{n}") in {"present", "absent"}
    }
    try:
        screen = services.sign_contraindication_screen(
            course=course,
            answers=answers,
            notes=request.POST.get("notes", ""),
            by=request.user,
            now=timezone.now(),
        )
    except ClinicalValueError as error:
        messages.error(request, str(error))
    else:
        if screen.absolute_present:
            messages.error(
                request, "An absolute contraindication is present: induction cannot start."
            )
        else:
            messages.success(request, "Contraindication screen signed.")
    return redirect("care:patient_detail", patient_id=patient.pk)


@require_http_methods(["GET", "POST"])
@login_required
def course_review(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """The post-induction review: the series summarised, a recommendation, the plan signed."""
    require_permission(request.user, "care.add_coursereview", category=DataCategory.COURSE)
    patient = queries.get_patient_for_user(request.user, patient_id, audit_read=False)
    course = services.active_course(patient)
    if course is None or course.status != CourseStatus.REVIEW:
        messages.error(request, "The course is not awaiting its post-induction review.")
        return redirect("care:patient_detail", patient_id=patient.pk)
    protocol = protocol_versions.protocol_for(course)
    tz = zoneinfo.ZoneInfo(patient.site.timezone)
    visits = list(course.appointments.select_related("infusion").order_by("starts_at"))
    measures = queries.measure_summaries(
        list(patient.assessments.select_related("recorded_by")), visits, protocol=protocol, tz=tz
    )
    primary = next((m for m in measures if m.instrument.code == protocol.instrument), None)
    trajectory = primary.trajectory if primary else None
    status = trajectory.status if trajectory else None
    recommended, why = maintenance.recommend(
        responded=status in {TrajectoryStatus.RESPONDED, TrajectoryStatus.REMITTED},
        remitted=status == TrajectoryStatus.REMITTED,
        relapsed=False,
        days_to_relapse=None,
        options=protocol.maintenance_options,
    )
    options = list(protocol.maintenance_options)
    if request.method == "POST":
        choice = request.POST.get("option", "")
        option = options[int(choice)] if choice.isdigit() and int(choice) < len(options) else None
        summary = {
            m.instrument.code: {
                "baseline": str(m.baseline.total_score) if m.baseline else None,
                "latest": str(m.latest.total_score) if m.latest else None,
                "outcome": m.outcome.value if m.outcome else None,
            }
            for m in measures
        }
        try:
            services.sign_review(
                course=course, option=option, summary=summary,
                notes=request.POST.get("notes", ""), by=request.user, now=timezone.now(),
            )  # fmt: skip
        except ClinicalValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Review signed.")
            return redirect("care:patient_detail", patient_id=patient.pk)
    queries.audit_patient_read(request.user, patient)
    context = {
        "patient": patient,
        "course": course,
        "protocol": protocol,
        "visits": visits,
        "measures": measures,
        "options": options,
        "recommended": options.index(recommended) if recommended in options else None,
        "recommended_option": recommended,
        "why": why,
        "tz": tz,
    }
    return render(request, "care/review.html", context)


@require_POST
@login_required
def titrate(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Apply the protocol's titration decision for the next infusions (prescribers)."""
    require_permission(request.user, "care.change_course", category=DataCategory.COURSE)
    patient = queries.get_patient_for_user(request.user, patient_id, audit_read=False)
    course = services.active_course(patient)
    if course is None:
        messages.error(request, "There is no active course.")
        return redirect("care:patient_detail", patient_id=patient.pk)
    protocol = protocol_versions.protocol_for(course)
    visits = list(course.appointments.all())
    measures = queries.measure_summaries(
        list(patient.assessments.all()), visits, protocol=protocol,
        tz=zoneinfo.ZoneInfo(patient.site.timezone),
    )  # fmt: skip
    try:
        decision = services.apply_titration(
            course=course, responded=queries.has_responded(measures, protocol),
            by=request.user, at=timezone.now(),
        )  # fmt: skip
    except ClinicalValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Next infusions at {decision.mg_per_kg} mg/kg.")
    return redirect("care:patient_detail", patient_id=patient.pk)


@require_POST
@login_required
def adverse_event_record(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """Record an adverse event at a given infusion (nurses, prescribers)."""
    require_permission(request.user, "care.add_adverseevent", category=DataCategory.INFUSION)
    appointment = queries.get_appointment_for_user(request.user, appointment_id)
    infusion = getattr(appointment, "infusion", None)
    form = AdverseEventForm(request.POST)
    if infusion is None:
        messages.error(request, "No infusion is recorded for this visit yet.")
    elif not form.is_valid():
        messages.error(request, "Choose the kind and severity of the adverse event.")
    else:
        try:
            services.record_adverse_event(
                infusion=infusion, by=request.user, now=timezone.now(), **form.cleaned_data
            )
        except ClinicalValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Adverse event recorded.")
    return redirect("care:infusion_record", appointment_id=appointment.pk)
