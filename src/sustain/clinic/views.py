"""The pages that gather from several apps: the patient page, questionnaire entry (at a visit
or not), the course's phase changes and post-induction review, and self-report links."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sustain.accounts.access import AuthenticatedRequest, chosen_site, require_permission
from sustain.accounts.audit import record_event
from sustain.accounts.bounds import BoundedDateField
from sustain.accounts.enums import AuditAction, Channel, DataCategory
from sustain.accounts.web import attempt, show_form_errors, show_times_in
from sustain.care import protocol_versions
from sustain.care import queries as care_queries
from sustain.care import services as care_services
from sustain.care.enums import CourseStatus, Timepoint
from sustain.care.forms import (
    AcknowledgeForm,
    AddressForm,
    AllergyForm,
    AssessmentMetaForm,
    ContraindicationScreenForm,
    HeightForm,
    IndicationForm,
    InstrumentForm,
    MedicationForm,
    StopMedicationForm,
    WeightForm,
)
from sustain.care.models import Patient
from sustain.clinic import documents, queries
from sustain.clinic.forms import InviteForm
from sustain.clinic.queries import patient_page
from sustain.infusion import services as infusion_services
from sustain.interop.fhir import record
from sustain.interop.fhir.registry import Caller, Json
from sustain.portal import services as portal_services
from sustain.reports import forecast_views
from sustain.scheduling import extension
from sustain.scheduling import queries as scheduling_queries
from sustain.scheduling.enums import OCCUPYING, AppointmentStatus
from sustain.scheduling.forms import NoShowForm, VisitForm
from sustain.scheduling.models import Appointment
from sustain_core import course as course_rules
from sustain_core import instruments, maintenance, medications, protocols
from sustain_core.errors import ClinicalValueError
from sustain_core.numbers import plain
from sustain_core.outcomes import TrajectoryStatus


def _to_patient(patient_id: int) -> HttpResponse:
    return redirect("clinic:patient_detail", patient_id=patient_id)


@require_GET
@login_required
def patient_detail(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    now = timezone.now()
    page = patient_page(request.user, patient_id, now=now)
    patient, course, protocol = page.patient, page.course, page.protocol
    user = request.user
    context = {
        "page": page,
        "patient": patient,
        "course": course,
        "protocol": protocol,
        "next_phases": [(p.value, p.label) for p in care_services.next_phases(course)]
        if course and user.has_perm("care.change_course")
        else [],
        "protocols": [
            p
            for p in protocol_versions.available(patient.site)
            if p.condition == patient.primary_condition
        ]
        if course is None and user.has_perm("care.add_course")
        else [],
        "screen_form": ContraindicationScreenForm(protocol)
        if protocol and user.has_perm("care.add_contraindicationscreen")
        else None,
        "due_now": [d for d in page.due if d.status in {"due", "overdue"}],
        "due_next": [d for d in page.due if d.status == "upcoming"][:6],
        "missed": [d for d in page.due if d.status == "missed"][-6:],
        "visit_rows": [
            (a, page.doses.given.get(a.pk) if page.doses else None) for a in page.appointments
        ],
        "visit_form": VisitForm(chairs=patient.site.chairs.all()),
        "no_show_form": NoShowForm(),
        "acknowledge_form": AcknowledgeForm(),
        "chairs": list(patient.site.chairs.all()),
        "invite_form": InviteForm(),
        "weight_form": WeightForm(initial={"measured_on": now.astimezone(patient.site.tz).date()}),
        "medication_form": MedicationForm(),
        "stop_medication_form": StopMedicationForm(
            initial={"stopped_on": now.astimezone(patient.site.tz).date()}
        ),
        "drug_names": [name for drug in medications.DRUGS for name in drug.names],
        "height_form": HeightForm(initial={"height_cm": patient.height_cm}),
        "indication_form": IndicationForm(),
        "address_form": AddressForm(initial={"address": patient.address}),
        "allergy_form": AllergyForm(),
        "registered_on": patient.created_at.astimezone(patient.site.tz).date(),
        "today": now.astimezone(patient.site.tz).date(),
        "now": now,
        "tz": show_times_in(patient.site),
        # The relapse forecast beside the booster list: read (and audited) only for the roles
        # that may see it (reports.view_relapsefit).
        "forecast": forecast_views.patient_panel(user, patient, course.pk, now=now)
        if course
        else None,
    }
    return render(request, "clinic/patient_detail.html", context)


def _visit_named(
    request: AuthenticatedRequest, patient: Patient, data: QueryDict | None
) -> Appointment | None:
    """The visit an entry is for, when the chair-side record named it (the patient's own)."""
    visit_id = (data or request.GET).get("visit", "")
    if not visit_id.isdigit():
        return None
    visit = scheduling_queries.get_appointment_for_user(request.user, int(visit_id))
    if visit.patient_id != patient.pk:
        raise Http404("No such visit for this patient.")
    return visit


def _timepoint(patient: Patient, instrument: str, visit: Appointment | None) -> Timepoint:
    """The entry's likely timepoint: after an infusion given at the visit (the CADSS at its
    end), else before an infusion once a baseline exists, else the baseline."""
    if visit is not None and visit.status == AppointmentStatus.COMPLETED:
        return Timepoint.FOLLOW_UP
    if patient.assessments.filter(instrument=instrument).exists():
        return Timepoint.PRE_INFUSION
    return Timepoint.BASELINE


@require_http_methods(["GET", "POST"])
@login_required
def assessment_create(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Enter any instrument for a patient: self-report on paper, or clinician-rated; at a visit
    (CADSS from the infusion record, or the pre-infusion PHQ-9 of the next booked visit)."""
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, "care.add_assessment", category=DataCategory.QUESTIONNAIRE
    )
    data = request.POST if request.method == "POST" else None
    chosen = (data or request.GET).get("instrument", "phq9")
    if chosen not in instruments.INSTRUMENTS:
        chosen = "phq9"
    instrument = instruments.get_instrument(chosen)
    visit = from_the_chair = _visit_named(request, patient, data)
    meta = AssessmentMetaForm(
        data, initial={"instrument": chosen, "timepoint": _timepoint(patient, chosen, visit)}
    )
    form = InstrumentForm(instrument, data)
    if data is not None and meta.is_valid() and form.is_valid():
        timepoint = Timepoint(meta.cleaned_data["timepoint"])
        if visit is None and timepoint == Timepoint.PRE_INFUSION:
            visit = scheduling_queries.next_booked_visit(patient)
        now = timezone.now()
        try:
            if visit is not None:
                assessment = infusion_services.record_visit_assessment(
                    appointment=visit, instrument=chosen, answers=form.answers(),
                    timepoint=timepoint, by=request.user, completed_at=now, now=now,
                )  # fmt: skip
            else:
                assessment = care_services.record_assessment(
                    patient=patient, instrument=chosen, answers=form.answers(),
                    timepoint=timepoint, by=request.user, completed_at=now, now=now,
                )  # fmt: skip
        except ClinicalValueError as error:
            form.show_error(error)
        else:
            messages.success(
                request,
                f"{instrument.short_title} recorded: {plain(assessment.total_score)}.",
            )
            for alert in assessment.alerts.all():
                messages.error(request, f"{alert.get_kind_display()}: an alert is open.")
            if from_the_chair is not None:
                return redirect("infusion:chairside", appointment_id=from_the_chair.pk)
            return _to_patient(patient.pk)
    care_queries.record_patient_read(request.user, patient)
    show_times_in(patient.site)
    context = {
        "patient": patient,
        "meta": meta,
        "form": form,
        "instrument": instrument,
        "visit": visit,
        "choices": list(instruments.INSTRUMENTS.values()),
    }
    status = 400 if form.errors or meta.errors else 200
    return render(request, "clinic/assessment_form.html", context, status=status)


@require_POST
@login_required
def course_status(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Move the patient's course to its next phase (prescribers)."""
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, "care.change_course", category=DataCategory.COURSE
    )
    course = care_services.active_course(patient)
    status = request.POST.get("status", "")
    if course is None or status not in CourseStatus.values:
        messages.error(request, "There is no active course, or no such phase.")
    elif _final(CourseStatus(status)) and not request.POST.get("confirm"):
        # A phase the course never leaves (completed, discontinued): a confirmation first.
        care_queries.record_patient_read(request.user, patient)
        context = {
            "patient": patient,
            "course": course,
            "status": CourseStatus(status),
            "reason": request.POST.get("reason", ""),
        }
        return render(request, "clinic/confirm_phase.html", context)
    else:
        attempt(
            request,
            lambda: care_services.change_course_status(
                course=course,
                status=CourseStatus(status),
                by=request.user,
                at=timezone.now(),
                reason=request.POST.get("reason", ""),
                infusions_given=infusion_services.infusions_given(course),
            ),
            success=f"Course moved to {CourseStatus(status).label}.",
        )
    return _to_patient(patient.pk)


def _final(status: CourseStatus) -> bool:
    """Whether a course in `status` can never move on (sustain_core.course's lifecycle)."""
    return not course_rules.allowed_transitions(course_rules.Phase(status))


class ReviewForm(forms.Form):
    """The maintenance option chosen at the review (by its position in the protocol's list, or
    "none" to complete the course) and the prescriber's notes."""

    notes = forms.CharField(required=False, max_length=2000)

    def __init__(self, options: list[maintenance.MaintenanceOption], *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.options = options
        self.fields["option"] = forms.ChoiceField(
            choices=[(str(n), o.label) for n, o in enumerate(options)] + [("none", "none")],
            label="Maintenance plan",
        )

    def option(self) -> maintenance.MaintenanceOption | None:
        choice = self.cleaned_data["option"]
        return None if choice == "none" else self.options[int(choice)]


@require_http_methods(["GET", "POST"])
@login_required
def course_review(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """The post-induction review: the series summarised, a recommendation, the plan signed."""
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, "care.add_coursereview", category=DataCategory.COURSE
    )
    course = care_services.active_course(patient)
    if course is None or course.status != CourseStatus.REVIEW:
        messages.error(request, "The course is not awaiting its post-induction review.")
        return _to_patient(patient.pk)
    protocol = protocol_versions.protocol_for(course)
    tz = show_times_in(patient.site)
    visits = list(
        course.appointments.select_related("infusion").prefetch_related("infusion__adverse_events")
    )
    measures = care_queries.measure_summaries(
        list(patient.assessments.select_related("recorded_by")),
        scheduling_queries.as_visits(visits),
        protocol=protocol,
        tz=tz,
        induction_infusions=course.induction_infusions(protocol),
    )
    primary = care_queries.primary_measure(measures, protocol)
    status = primary.trajectory.status if primary and primary.trajectory else None
    extend_up_to = _extension_allowed(protocol, primary, visits)
    recommended, why = maintenance.recommend(
        responded=status in {TrajectoryStatus.RESPONDED, TrajectoryStatus.REMITTED},
        remitted=status == TrajectoryStatus.REMITTED,
        relapsed=False,
        days_to_relapse=None,
        options=protocol.maintenance_options,
        partial=status == TrajectoryStatus.PARTIAL_RESPONSE,
        extend_up_to=extend_up_to,
    )
    options = list(protocol.maintenance_options)
    form = ReviewForm(options, request.POST or None)
    confirming = False
    if request.method == "POST":
        if not form.is_valid():
            show_form_errors(request, form)
        elif not request.POST.get("confirm"):
            confirming = True  # a signed review is locked: the plan is confirmed first
        elif attempt(
            request,
            lambda: care_services.sign_review(
                course=course,
                option=form.option(),
                summary={
                    m.instrument.code: {
                        "baseline": str(m.baseline.total_score) if m.baseline else None,
                        "latest": str(m.latest.total_score) if m.latest else None,
                        "outcome": m.outcome.value if m.outcome else None,
                    }
                    for m in measures
                },
                notes=form.cleaned_data["notes"],
                by=request.user,
                now=timezone.now(),
            ),
            success="Review signed.",
        ):
            return _to_patient(patient.pk)
    care_queries.record_patient_read(request.user, patient)
    context = {
        "patient": patient,
        "course": course,
        "protocol": protocol,
        "primary": primary,
        "extend_up_to": extend_up_to,
        "visits": visits,
        "measures": measures,
        "options": options,
        "recommended": options.index(recommended) if recommended in options else None,
        "recommended_option": recommended,
        "why": why,
        "tz": tz,
        "confirming": form.option() if confirming else None,
        "confirming_none": confirming and form.option() is None,
    }
    return render(request, "clinic/review.html", context)


def _extension_allowed(
    protocol: protocols.Protocol,
    primary: care_queries.MeasureSummary | None,
    visits: list[Appointment],
) -> int | None:
    """The infusions in all the protocol would let this course extend to now, or None (the
    review's suggestion names it; booking checks again: scheduling.extension)."""
    try:
        protocols.check_extension(
            protocol,
            outcome=primary.outcome if primary else None,
            infusions=sum(v.status in OCCUPYING for v in visits),
            extra=1,
        )
    except ClinicalValueError:
        return None
    return protocol.extension_max_infusions


class ExtensionForm(forms.Form):
    extra = forms.IntegerField(min_value=1, max_value=100, label="More infusions")
    earliest = BoundedDateField(required=False, label="From (optional)")


@require_POST
@login_required
def course_extend(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Extend the induction series of a partial or late responder (prescribers): book more
    visits under the protocol's series rules (sustain.scheduling.extension)."""
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, "care.prescribe", category=DataCategory.SCHEDULE
    )
    course = care_services.active_course(patient)
    form = ExtensionForm(request.POST)
    if course is None:
        messages.error(request, "There is no active course.")
    elif not form.is_valid():
        show_form_errors(request, form)
    else:
        now = timezone.now()
        day = form.cleaned_data["earliest"]
        earliest = dt.datetime.combine(day, dt.time.min, tzinfo=patient.site.tz) if day else now
        attempt(
            request,
            lambda: extension.extend_series(
                course=course,
                extra=form.cleaned_data["extra"],
                earliest=earliest,
                by=request.user,
                now=now,
            ),
            success=lambda booked: f"Series extended: {len(booked)} more visits booked.",
        )
    return _to_patient(patient.pk)


@require_POST
@login_required
def self_report_invite(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Send the patient a single-use link to their self-report questionnaires, or show a code
    for the clinic tablet."""
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, "portal.add_invitation", category=DataCategory.SELF_REPORT
    )
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose at least one questionnaire and a channel.")
        return _to_patient(patient.pk)
    codes, now = form.cleaned_data["instruments"], timezone.now()
    timepoint = Timepoint(form.cleaned_data["timepoint"])
    if "kiosk" in request.POST:
        opened = attempt(
            request,
            lambda: portal_services.open_on_kiosk(
                patient=patient,
                instrument_codes=codes,
                timepoint=timepoint,
                by=request.user,
                now=now,
            ),
        )
        if opened is not None:
            invitation, code = opened
            context = {"patient": patient, "invitation": invitation, "code": code}
            context["tz"] = show_times_in(patient.site)
            return render(request, "clinic/kiosk_code.html", context)
    else:
        attempt(
            request,
            lambda: portal_services.invite_patient(
                patient=patient,
                instrument_codes=codes,
                timepoint=timepoint,
                by=request.user,
                now=now,
                channel=Channel(form.cleaned_data["channel"]),
            ),
            success="Link sent (see the outbox).",
        )
    return _to_patient(patient.pk)


def _pdf_response(html: str, filename: str) -> HttpResponse:
    response = HttpResponse(documents.pdf(html), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@require_GET
@login_required
def blank_consent_pdf(request: AuthenticatedRequest, key: str, version: int) -> HttpResponse:
    """A protocol's consent form without a patient, with the details of the chosen site
    (?site=, else the user's first): every role that reads protocols."""
    require_permission(request.user, "care.view_clinicprotocol", category=DataCategory.PROTOCOL)
    site, _ = chosen_site(request.user, request.GET.get("site"))
    try:
        protocol = protocol_versions.resolve(site, key, version)
    except ClinicalValueError:
        raise Http404("No such protocol.") from None
    html = documents.consent_html(site=site, protocol=protocol, patient=None, now=timezone.now())
    return _pdf_response(html, f"consent-{protocol.key}-v{protocol.version}.pdf")


@require_GET
@login_required
def consent_pdf(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """The consent form of the patient's course's protocol, with their name and date of birth
    (the roles that see patients: the chair side and the front desk). An audited read."""
    now = timezone.now()
    try:
        patient, protocol = queries.consent_form_for_user(request.user, patient_id, now=now)
    except ClinicalValueError as error:
        messages.error(request, error.message)
        return _to_patient(patient_id)
    html = documents.consent_html(site=patient.site, protocol=protocol, patient=patient, now=now)
    return _pdf_response(html, f"consent-{protocol.key}-v{protocol.version}.pdf")


def _record_for(request: AuthenticatedRequest, patient_id: int, what: str) -> tuple[Patient, Json]:
    """The patient (an audited read: care.view_patient at the patient's site, as the patient
    page) and their record as a FHIR Bundle of what the user's role may read (issue 16,
    item 5), audited as an export."""
    now = timezone.now()
    patient = care_queries.get_patient_for_user(request.user, patient_id, now=now)
    bundle = record.patient_bundle(
        Caller(user=request.user), patient, base=request.build_absolute_uri("/fhir/R4/"), now=now
    )
    record_event(
        actor=request.user, action=AuditAction.EXPORT, category=DataCategory.PATIENT_RECORD,
        site=patient.site, patient_id=patient.pk, obj=patient, reason=f"patient record: {what}",
    )  # fmt: skip
    return patient, bundle


@require_GET
@login_required
def record_fhir(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """The patient's whole record as a FHIR R4 Bundle (type collection), to download."""
    patient, bundle = _record_for(request, patient_id, "FHIR Bundle")
    response = JsonResponse(bundle, content_type="application/fhir+json")
    response["Content-Disposition"] = f'attachment; filename="record-{patient.mrn}.fhir.json"'
    return response


@require_GET
@login_required
def record_pdf(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """The same record as a PDF a patient can read (WeasyPrint)."""
    patient, bundle = _record_for(request, patient_id, "PDF")
    html = documents.record_html(patient=patient, bundle=bundle, now=timezone.now())
    return _pdf_response(html, f"record-{patient.mrn}.pdf")


@require_GET
@login_required
def discharge_pdf(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """The visit's discharge instructions (nurses and prescribers). An audited read."""
    visit, protocol, next_visit = queries.discharge_for_user(request.user, appointment_id)
    html = documents.discharge_html(
        visit=visit, protocol=protocol, next_visit=next_visit, now=timezone.now()
    )
    return _pdf_response(html, "discharge-instructions.pdf")
