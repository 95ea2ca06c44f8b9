"""Reads of patient data. Each one checks access and writes an audit event."""

from django.http import Http404

from sustain.accounts.access import require_permission
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import User
from sustain.care.models import Alert, Patient
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment


def get_patient_for_user(user: User, patient_id: int, *, audit_read: bool = True) -> Patient:
    """Return the patient if `user` may see them; another site's patient is a 404.

    `audit_read=False` is for views that may not show the record (a write that redirects is
    audited by its service); they call `audit_patient_read` when they do render it.
    """
    require_permission(user, "care.view_patient", category=DataCategory.PATIENT_RECORD)
    patient = (
        Patient.objects.select_related("site")
        .filter(pk=patient_id, site__memberships__user=user)
        .first()
    )
    if patient is None:
        record_event(
            actor=user,
            action=AuditAction.READ,
            category=DataCategory.PATIENT_RECORD,
            outcome=AuditOutcome.DENIED,
            patient_id=patient_id if Patient.objects.filter(pk=patient_id).exists() else None,
        )
        raise Http404("No such patient.")
    if audit_read:
        audit_patient_read(user, patient)
    return patient


def audit_patient_read(user: User, patient: Patient) -> None:
    record_event(
        actor=user,
        action=AuditAction.READ,
        category=DataCategory.PATIENT_RECORD,
        site=patient.site,
        patient_id=patient.pk,
        obj=patient,
    )


def next_booked_visit(patient: Patient) -> Appointment | None:
    """The patient's earliest visit still booked (the one a pre-infusion PHQ-9 precedes)."""
    return (
        patient.appointments.filter(status=AppointmentStatus.BOOKED).order_by("starts_at").first()
    )


def get_appointment_for_user(user: User, appointment_id: int) -> Appointment:
    """An appointment at one of the user's sites (no audit: callers audit the write)."""
    appointment = (
        Appointment.objects.select_related("patient", "course", "chair", "site")
        .filter(pk=appointment_id, site__memberships__user=user)
        .first()
    )
    if appointment is None:
        raise Http404("No such appointment.")
    return appointment


def get_alert_for_user(user: User, alert_id: int) -> Alert:
    alert = (
        Alert.objects.select_related("patient__site")
        .filter(pk=alert_id, patient__site__memberships__user=user)
        .first()
    )
    if alert is None:
        raise Http404("No such alert.")
    return alert
