"""Patient calendars: the public feed, a staff .ics per visit, and the page that issues and
revokes a patient's feed URL."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sustain.accounts.access import AuthenticatedRequest, require_permission
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.web import show_times_in
from sustain.care import queries as care_queries
from sustain.scheduling import calendar, queries

FEED_PERMISSION = "scheduling.add_calendarfeed"


def ics_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@never_cache
@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's subscription feed. No session: the secret URL is the credential."""
    feed = calendar.open_feed(token)
    if feed is None:
        raise Http404("No such calendar.")
    return ics_response(calendar.feed_calendar(feed, now=timezone.now()), "clinic-visits.ics")


@require_GET
@login_required
def visit_ics(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """One visit as an .ics file, the same event the patient's feed carries."""
    require_permission(request.user, "scheduling.view_appointment", category=DataCategory.SCHEDULE)
    try:
        appointment = queries.get_appointment_for_user(request.user, appointment_id)
    except Http404:
        record_event(
            actor=request.user,
            action=AuditAction.READ,
            category=DataCategory.SCHEDULE,
            outcome=AuditOutcome.DENIED,
        )
        raise
    record_event(
        actor=request.user,
        action=AuditAction.READ,
        category=DataCategory.SCHEDULE,
        site=appointment.site,
        patient_id=appointment.patient_id,
        obj=appointment,
    )
    return ics_response(calendar.visit_calendar(appointment, now=timezone.now()), "visit.ics")


@require_http_methods(["GET", "POST"])
@login_required
def patient_calendar(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """The patient's calendar link (GET), or a new one (POST), whose URL is shown only now."""
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, FEED_PERMISSION, category=DataCategory.SCHEDULE
    )
    now = timezone.now()
    new_url = ""
    if request.method == "POST":
        _, token = calendar.create_feed(patient=patient, by=request.user, now=now)
        new_url = calendar.feed_url(token)
    care_queries.record_patient_read(request.user, patient)
    context = {
        "patient": patient,
        "feed": calendar.active_feed(patient),
        "new_url": new_url,
        "webcal_url": "webcal://" + new_url.partition("://")[2] if new_url else "",
        "visits": calendar.feed_visits(patient, now=now),
        "tz": show_times_in(patient.site),
    }
    return render(
        request, "scheduling/patient_calendar.html", context, status=201 if new_url else 200
    )


@require_POST
@login_required
def patient_calendar_revoke(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, FEED_PERMISSION, category=DataCategory.SCHEDULE
    )
    if calendar.revoke_feed(patient=patient, by=request.user, now=timezone.now()) is None:
        messages.info(request, "There was no calendar link to revoke.")
    else:
        messages.success(request, "Calendar link revoked: it no longer works.")
    return redirect("scheduling:patient_calendar", patient_id=patient.pk)
