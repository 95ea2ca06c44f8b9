"""Care's pages and actions: the patient list, registration, enrolment, consent, the
contraindication screen and alerts. The patient page itself gathers from every app and lives
in sustain.clinic."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sustain.accounts.access import (
    AuthenticatedRequest,
    get_site_for_user,
    require_permission,
    site_or_first,
    sites_for_user,
)
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.exports import Cell, csv_export
from sustain.accounts.form_tokens import form_token_exempt
from sustain.accounts.landing import landing_url
from sustain.accounts.models import Site
from sustain.accounts.web import attempt, show_form_errors, show_refusal, show_times_in
from sustain.care import protocol_versions, queries, rules, services
from sustain.care.enums import CourseStatus
from sustain.care.forms import (
    AcknowledgeForm,
    AddressForm,
    AllergyForm,
    ClinicalRulesForm,
    ConsentCorrectionForm,
    ConsentForm,
    ContraindicationScreenForm,
    CourseDoseForm,
    HeightForm,
    IndicationForm,
    MedicationForm,
    MessageRulesForm,
    PatientDetailsForm,
    PatientForm,
    PatientSearchForm,
    RemoveAllergyForm,
    StopMedicationForm,
    WeightForm,
)
from sustain.care.models import Course, Patient
from sustain_core import clinic_rules
from sustain_core.errors import ClinicalValueError
from sustain_core.numbers import plain

T = TypeVar("T")


def _to_patient(patient_id: int) -> HttpResponse:
    return redirect("clinic:patient_detail", patient_id=patient_id)


@form_token_exempt  # its POST is a search: it only reads, and may be sent again
@require_http_methods(["GET", "POST"])
@login_required
def patient_list(request: AuthenticatedRequest) -> HttpResponse:
    """The patients of the user's sites, a page at a time. The search term, page and order
    come by POST (PatientSearchForm), so no patient's name or date of birth is ever in a URL;
    a GET shows the first page by name. A GET by a role that cannot use the list goes to its
    own landing page (sustain.accounts.landing); anything else it asks is refused (403)."""
    if request.method == "GET" and not request.user.has_perm("care.view_patient"):
        home = landing_url(request.user)
        if home is not None:
            return redirect(home)
    form = PatientSearchForm(request.POST if request.method == "POST" else None)
    search = form.cleaned_data if form.is_valid() else {}
    patients = attempt(
        request,
        lambda: queries.patients_for_user(
            request.user,
            q=search.get("q", ""),
            sort=search.get("sort") or "name",
            page=search.get("page"),
        ),
        form=form,
    )
    if patients is None:  # a term that is no date: the first page of everyone, by name
        patients = queries.patients_for_user(request.user)
    context = {
        "form": form,
        "patients": patients,
        "course_labels": dict(CourseStatus.choices),
        "sees_alerts": request.user.has_perm(queries.ALERTS),
    }
    return render(request, "care/patient_list.html", context, status=400 if form.errors else 200)


def _patient_row(patient: Patient, *, alerts: bool) -> list[Cell]:
    """The patient list's columns for one patient (the alert count only with `alerts`)."""
    listed = cast(Any, patient)  # course_status and open_alerts: the list's annotations
    row: list[Cell] = [
        patient.pk, patient.family_name, patient.given_name, patient.date_of_birth,
        str(patient.get_primary_condition_display() or "not yet assessed"),
        dict(CourseStatus.choices).get(listed.course_status, "not enrolled"), patient.site.name,
    ]  # fmt: skip
    return [*row, listed.open_alerts] if alerts else row


@form_token_exempt  # a download by POST: it only reads, and may be sent again
@require_POST
@login_required
def patient_export(request: AuthenticatedRequest) -> HttpResponse:
    """The patient list as CSV: every patient its search finds, every page, in its order (by
    POST, as the list, so no term is in a URL). The alert count only for roles that see
    alerts. A term that is no date is refused (400), naming it."""
    form = PatientSearchForm(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    search = form.cleaned_data
    try:
        patients = list(
            queries.patients_to_export(request.user, q=search["q"], sort=search["sort"] or "name")
        )
    except ClinicalValueError as error:
        return HttpResponse(f"Search: {error.message}", status=400, content_type="text/plain")
    alerts = request.user.has_perm(queries.ALERTS)
    columns = ["patient_id", "family_name", "given_name", "date_of_birth", "condition",
               "course", "site"] + (["open_alerts"] if alerts else [])  # fmt: skip
    rows = [_patient_row(patient, alerts=alerts) for patient in patients]
    return csv_export(
        user=request.user,
        category=DataCategory.DEMOGRAPHICS,
        name="patients",
        columns=columns,
        rows=rows,
    )


@require_http_methods(["GET", "POST"])
@login_required
def patient_create(request: AuthenticatedRequest) -> HttpResponse:
    """Register a patient. A possible duplicate at the site (services.possible_duplicates) is
    listed, by name and date of birth, and the form asks to confirm before registering."""
    require_permission(request.user, "care.add_patient", category=DataCategory.DEMOGRAPHICS)
    form = PatientForm(request.POST or None, sites=sites_for_user(request.user))
    duplicates: list[Patient] = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        contacts = {name: data.pop(name) for name in services.CONTACT_FIELDS}
        try:
            patient = services.register_patient(
                by=request.user,
                today=timezone.localdate(timezone=data["site"].tz),
                now=timezone.now(),
                contacts=contacts,
                **data,
            )
        except services.PossibleDuplicates as error:
            duplicates = error.patients
            record_event(
                actor=request.user,
                action=AuditAction.READ,
                category=DataCategory.DEMOGRAPHICS,
                site=data["site"],
            )
            show_refusal(request, error, form)
        except ClinicalValueError as error:
            show_refusal(request, error, form)
        else:
            messages.success(request, "Patient registered.")
            return _to_patient(patient.pk)
    if not duplicates:  # the confirmation is asked only with the patients it is about
        form.fields["confirm_duplicate"].widget = forms.HiddenInput()
    return render(
        request,
        "care/patient_form.html",
        {"form": form, "duplicates": duplicates},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def patient_edit(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Correct a patient's demographics and contacts (who registers patients, prescribers):
    the form shows the values recorded; a change of name or date of birth that makes the
    patient look like another asks to confirm (as registration does)."""
    patient = queries.get_patient_for_change(
        request.user, patient_id, "care.change_patient", category=DataCategory.DEMOGRAPHICS
    )
    initial = {name: getattr(patient, name) for name in PatientDetailsForm.FIELDS}
    form = PatientDetailsForm(request.POST or None, initial=initial)
    duplicates: list[Patient] = []
    if request.method == "POST" and form.is_valid():
        try:
            services.correct_patient(
                patient=patient, changes=form.changes(), reason=form.cleaned_data["reason"],
                confirm_duplicate=form.cleaned_data["confirm_duplicate"], by=request.user,
                now=timezone.now(),
            )  # fmt: skip
        except services.PossibleDuplicates as error:
            duplicates = error.patients
            show_refusal(request, error, form)
        except ClinicalValueError as error:
            show_refusal(request, error, form)
        else:
            messages.success(request, "Details corrected; the old values are kept.")
            return _to_patient(patient.pk)
    if not duplicates:
        form.fields["confirm_duplicate"].widget = forms.HiddenInput()
    queries.record_patient_read(request.user, patient)
    return render(
        request,
        "care/patient_edit.html",
        {"form": form, "patient": patient, "duplicates": duplicates},
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def allergy_add(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Put an allergy on the patient's chart (prescribers and nurses)."""
    return _patient_form(
        request, patient_id, perm="care.add_allergy", category=DataCategory.PATIENT_RECORD,
        form_class=AllergyForm,
        action=lambda patient, data: services.record_allergy(
            patient=patient, by=request.user, now=timezone.now(), **data
        ),
        success=lambda allergy: f"Allergy to {allergy.substance} recorded.",
    )  # fmt: skip


@require_POST
@login_required
def no_known_allergies(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Record that the patient has no known allergies (prescribers and nurses)."""
    patient = queries.get_patient_for_change(
        request.user, patient_id, "care.add_allergy", category=DataCategory.PATIENT_RECORD
    )
    attempt(
        request,
        lambda: services.record_no_known_allergies(
            patient=patient, by=request.user, now=timezone.now()
        ),
        success="No known allergies recorded.",
    )
    return _to_patient(patient.pk)


@require_POST
@login_required
def allergy_remove(request: AuthenticatedRequest, allergy_id: int) -> HttpResponse:
    """Take an allergy off the chart, with a reason (prescribers and nurses); it is kept."""
    allergy = queries.get_allergy_for_change(request.user, allergy_id)
    form = RemoveAllergyForm(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
    else:
        attempt(
            request,
            lambda: services.remove_allergy(
                allergy=allergy, by=request.user, now=timezone.now(), **form.cleaned_data
            ),
            success=lambda removed: f"Allergy to {removed.substance} removed.",
        )
    return _to_patient(allergy.patient_id)


@require_POST
@login_required
def consent_correct(request: AuthenticatedRequest, consent_id: int) -> HttpResponse:
    """A prescriber corrects a consent's date or document, with a reason (the old kept)."""
    consent = queries.get_consent_for_change(request.user, consent_id)
    form = ConsentCorrectionForm(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
    else:
        attempt(
            request,
            lambda: services.correct_consent(
                consent=consent, by=request.user, now=timezone.now(), **form.cleaned_data
            ),
            success="Consent corrected; the old version is kept.",
        )
    return _to_patient(consent.course.patient_id)


@require_POST
@login_required
def enrol(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    patient = queries.get_patient_for_change(
        request.user, patient_id, "care.add_course", category=DataCategory.COURSE
    )
    key, _, version = request.POST.get("protocol", "").rpartition(":")
    attempt(
        request,
        lambda: services.enrol_patient(
            patient=patient,
            protocol_key=key,
            protocol_version=int(version) if version.isdigit() else 0,
            by=request.user,
            now=timezone.now(),
        ),
        success="Enrolled.",
    )
    return _to_patient(patient.pk)


@require_POST
@login_required
def alert_acknowledge(request: AuthenticatedRequest, alert_id: int) -> HttpResponse:
    """Close an alert with a note (a review task with a decision), once confirmed."""
    alert = queries.get_alert_for_change(request.user, alert_id)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
    else:
        attempt(
            request,
            lambda: services.acknowledge_alert(
                alert=alert,
                by=request.user,
                note=form.cleaned_data["note"],
                now=timezone.now(),
                decision=form.cleaned_data["decision"],
            ),
        )
    return _to_patient(alert.patient_id)


@require_GET
@login_required
def alert_list(request: AuthenticatedRequest) -> HttpResponse:
    context = {
        "alerts": queries.alerts_for_user(request.user),
        "acknowledge_form": AcknowledgeForm(),
    }
    return render(request, "care/alert_list.html", context)


@require_GET
@login_required
def alert_export(request: AuthenticatedRequest) -> HttpResponse:
    """The open alerts of the alert list as CSV (clinical roles), raised_at in UTC."""
    alerts = queries.alerts_to_export(request.user)
    columns = ("alert_id", "raised_at_utc", "patient_id", "family_name", "given_name", "site",
               "alert", "questionnaire", "score", "for", "detail")  # fmt: skip
    rows = [
        (a.pk, a.raised_at, a.patient_id, a.patient.family_name, a.patient.given_name,
         a.patient.site.name, a.get_kind_display(),
         a.assessment.instrument_title if a.assessment else None,
         plain(a.assessment.total_score) if a.assessment else None,
         a.assigned_to.username if a.assigned_to else None, a.detail)
        for a in alerts
    ]  # fmt: skip
    return csv_export(
        user=request.user, category=DataCategory.ALERT, name="alerts", columns=columns, rows=rows
    )


@require_POST
@login_required
def consent_record(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Record that the patient signed the consent form for the active course."""
    patient = queries.get_patient_for_change(
        request.user, patient_id, "care.add_consent", category=DataCategory.COURSE
    )
    course = services.active_course(patient)
    form = ConsentForm(request.POST)
    if course is None:
        messages.error(request, "There is no active course.")
    elif not form.is_valid():
        show_form_errors(request, form)
    else:
        attempt(
            request,
            lambda: services.record_consent(
                course=course, by=request.user, now=timezone.now(), **form.cleaned_data
            ),
            success="Consent recorded.",
        )
    return _to_patient(patient.pk)


def _patient_form(
    request: AuthenticatedRequest,
    patient_id: int,
    *,
    perm: str,
    category: DataCategory,
    form_class: type[forms.Form],
    action: Callable[[Patient, dict[str, Any]], T],
    success: str | Callable[[T], str],
) -> HttpResponse:
    """A form posted on the patient page: the patient as the user may change it, the form
    checked, one service call (its refusal shown), back to the patient."""
    patient = queries.get_patient_for_change(request.user, patient_id, perm, category=category)
    form = form_class(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
    else:
        attempt(request, lambda: action(patient, form.cleaned_data), success=success)
    return _to_patient(patient.pk)


@require_POST
@login_required
def weight_record(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Record a weighed body weight (nurses, prescribers): doses use the latest."""
    return _patient_form(
        request, patient_id, perm="care.add_weightmeasurement",
        category=DataCategory.PATIENT_RECORD, form_class=WeightForm,
        action=lambda patient, data: services.record_weight(
            patient=patient, by=request.user, now=timezone.now(), **data
        ),
        success=lambda weight: f"Weight recorded: {plain(weight.weight_kg)} kg.",
    )  # fmt: skip


@require_POST
@login_required
def height_record(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Record the patient's height (nurses, prescribers): an ideal or adjusted dosing weight
    needs it for the BMI."""
    return _patient_form(
        request, patient_id, perm="care.add_weightmeasurement",
        category=DataCategory.DEMOGRAPHICS, form_class=HeightForm,
        action=lambda patient, data: services.record_height(
            patient=patient, by=request.user, now=timezone.now(), **data
        ),
        success=lambda patient: f"Height recorded: {plain(cast(Decimal, patient.height_cm))} cm.",
    )  # fmt: skip


@require_POST
@login_required
def address_record(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Record the patient's postal address (who registers patients: the front desk,
    prescribers, clinic administrators)."""
    return _patient_form(
        request, patient_id, perm="care.add_patient", category=DataCategory.DEMOGRAPHICS,
        form_class=AddressForm,
        action=lambda patient, data: services.record_address(
            patient=patient, by=request.user, now=timezone.now(), **data
        ),
        success="Address recorded.",
    )  # fmt: skip


@require_POST
@login_required
def indication_record(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Record the indication of a patient who has none yet (prescribers)."""
    return _patient_form(
        request, patient_id, perm="care.prescribe", category=DataCategory.PATIENT_RECORD,
        form_class=IndicationForm,
        action=lambda patient, data: services.record_indication(
            patient=patient, by=request.user, now=timezone.now(), **data
        ),
        success=lambda patient: f"Indication recorded: {patient.get_primary_condition_display()}.",
    )  # fmt: skip


def _active_course_to_dose(
    request: AuthenticatedRequest, patient_id: int
) -> tuple[int, Course | None]:
    """The patient (for a prescriber) and their active course, or a message that there is
    none."""
    patient = queries.get_patient_for_change(
        request.user, patient_id, "care.prescribe", category=DataCategory.COURSE
    )
    course = services.active_course(patient)
    if course is None:
        messages.error(request, "There is no active course.")
    return patient.pk, course


@require_POST
@login_required
def dose_set(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """A prescriber sets the course's dose; above the protocol's titration cap it waits for a
    second prescriber's co-signature (care.services.set_course_dose)."""
    patient_pk, course = _active_course_to_dose(request, patient_id)
    form = CourseDoseForm(request.POST)
    if course is not None and not form.is_valid():
        show_form_errors(request, form)
    elif course is not None:
        wanted = form.cleaned_data["mg_per_kg"]

        def said(changed: Course) -> str:
            if changed.dose_proposed_mg_per_kg == wanted:
                return (
                    f"{wanted} mg/kg is above the protocol's titration cap: it applies once a "
                    "second prescriber co-signs it."
                )
            return f"Next infusions at {wanted} mg/kg."

        attempt(
            request,
            lambda: services.set_course_dose(
                course=course,
                mg_per_kg=wanted,
                reason=form.cleaned_data["reason"],
                by=request.user,
                at=timezone.now(),
            ),
            success=said,
        )
    return _to_patient(patient_pk)


@require_POST
@login_required
def dose_cosign(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """A second prescriber co-signs the proposed dose: it applies to the next infusions."""
    patient_pk, course = _active_course_to_dose(request, patient_id)
    if course is not None:
        attempt(
            request,
            lambda: services.cosign_course_dose(course=course, by=request.user, at=timezone.now()),
            success=lambda changed: (
                "Co-signed: next infusions at "
                f"{plain(cast(Decimal, changed.dose_mg_per_kg))} mg/kg."
            ),
        )
    return _to_patient(patient_pk)


@require_POST
@login_required
def dose_withdraw(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """A prescriber withdraws the proposed dose before it is co-signed."""
    patient_pk, course = _active_course_to_dose(request, patient_id)
    if course is not None:
        attempt(
            request,
            lambda: services.withdraw_course_dose(
                course=course,
                reason=request.POST.get("reason", ""),
                by=request.user,
                at=timezone.now(),
            ),
            success="The proposed dose is withdrawn.",
        )
    return _to_patient(patient_pk)


@require_POST
@login_required
def medication_add(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Put a medication on the patient's list (prescribers and nurses)."""
    return _patient_form(
        request, patient_id, perm="care.add_medication", category=DataCategory.PATIENT_RECORD,
        form_class=MedicationForm,
        action=lambda patient, data: services.add_medication(
            patient=patient, by=request.user, now=timezone.now(), **data
        ),
        success=lambda medication: f"{medication.name} added to the medication list.",
    )  # fmt: skip


@require_POST
@login_required
def medication_stop(request: AuthenticatedRequest, medication_id: int) -> HttpResponse:
    """Record that the patient stopped a medication (prescribers and nurses)."""
    medication = queries.get_medication_for_change(
        request.user, medication_id, "care.change_medication"
    )
    form = StopMedicationForm(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
    else:
        attempt(
            request,
            lambda: services.stop_medication(
                medication=medication, by=request.user, now=timezone.now(), **form.cleaned_data
            ),
            success=lambda stopped: f"{stopped.name} stopped on {stopped.stopped_on}.",
        )
    return _to_patient(medication.patient_id)


@require_POST
@login_required
def screen_sign(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """A prescriber answers the protocol's contraindication checklist and signs it."""
    patient = queries.get_patient_for_change(
        request.user, patient_id, "care.add_contraindicationscreen", category=DataCategory.COURSE
    )
    course = services.active_course(patient)
    if course is None:
        messages.error(request, "There is no active course.")
        return _to_patient(patient.pk)
    form = ContraindicationScreenForm(protocol_versions.protocol_for(course), request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
        return _to_patient(patient.pk)
    screen = attempt(
        request,
        lambda: services.sign_contraindication_screen(
            course=course,
            answers=form.answers(),
            notes=form.cleaned_data["notes"],
            justification=form.cleaned_data["justification"],
            by=request.user,
            now=timezone.now(),
        ),
    )
    if screen is not None and screen.absolute_present:
        messages.error(
            request,
            "Screen signed. An absolute contraindication is present: induction and every "
            "infusion are blocked until a new screen is signed without it.",
        )
    elif screen is not None:
        messages.success(request, "Contraindication screen signed.")
    return _to_patient(patient.pk)


RULE_LABELS = {
    name: str(field.label)
    for form_class in (ClinicalRulesForm, MessageRulesForm)
    for name, field in form_class.base_fields.items()
}
RULES_FORMS = {
    "clinical": (ClinicalRulesForm, "care.change_clinical_rules"),
    "messages": (MessageRulesForm, "care.change_message_rules"),
}


def _rules_page(
    request: AuthenticatedRequest, site: Site, refused: tuple[str, forms.Form] | None = None
) -> HttpResponse:
    current = rules.current_rules(site)
    show_times_in(site)
    initial = {name: getattr(current, name) for name in clinic_rules.CLINICAL_FIELDS} | {
        "reminder_hours": ", ".join(map(str, current.reminder_hours))
    }
    initial |= {"visit_preparation": current.visit_preparation, "based_on": current.version}
    shown = {
        part: refused[1] if refused and refused[0] == part else form_class(initial=initial)
        for part, (form_class, perm) in RULES_FORMS.items()
        if request.user.has_perm(perm)
    }
    context = {
        "site": site,
        "sites": list(sites_for_user(request.user)),
        "current": current,
        "history": [
            (row, [RULE_LABELS[name] for name in changed]) for row, changed in rules.history(site)
        ],
        "forms": shown,
    }
    return render(request, "care/clinic_rules.html", context, status=400 if refused else 200)


@require_GET
@login_required
def clinic_rules_page(request: AuthenticatedRequest) -> HttpResponse:
    """A site's own rules in force, their history, and the forms of the roles that change
    them (dosing and safety: prescribers; patient messages: administrators)."""
    require_permission(request.user, "care.view_clinicrules", category=DataCategory.CLINIC_RULES)
    site = site_or_first(request.user, request.GET.get("site"))
    return _rules_page(request, site)


@require_POST
@login_required
def clinic_rules_change(request: AuthenticatedRequest, part: str) -> HttpResponse:
    """Save a new version of the site's dosing and safety rules, or of its patient messages."""
    if part not in RULES_FORMS:
        raise Http404("No such rules.")
    form_class, perm = RULES_FORMS[part]
    require_permission(request.user, perm, category=DataCategory.CLINIC_RULES)
    site = get_site_for_user(request.user, request.POST.get("site"))
    form = form_class(request.POST)
    if form.is_valid():
        saved = attempt(
            request,
            lambda: rules.change_rules(
                site=site,
                changes=form.changes(),
                based_on=form.cleaned_data["based_on"],
                reason=form.cleaned_data["reason"],
                by=request.user,
                now=timezone.now(),
            ),
            form=form,
            success=lambda row: f"Clinic rules saved as version {row.version}.",
        )
        if saved is not None:
            return redirect(f"{reverse('care:clinic_rules')}?site={site.pk}")
    return _rules_page(request, site, (part, form))
