"""The emergency access pages (sustain.care.break_glass, BTG-01..BTG-03): open one patient
outside one's sites, end it, and the privacy review. The patient is searched by POST only:
no patient data in URLs."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sustain.accounts.access import AuthenticatedRequest, require_permission
from sustain.accounts.enums import DataCategory
from sustain.accounts.web import attempt, show_form_errors
from sustain.care import break_glass
from sustain.care.forms import EmergencyAccessForm, EmergencyReviewForm


@require_http_methods(["GET", "POST"])
@login_required
def emergency_access(request: AuthenticatedRequest) -> HttpResponse:
    require_permission(request.user, break_glass.BREAK_GLASS, category=DataCategory.PATIENT_RECORD)
    form = EmergencyAccessForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        grant = attempt(
            request,
            lambda: break_glass.start(
                request,
                request.user,
                now=timezone.now(),
                mrn=data["mrn"],
                family_name=data["family_name"],
                given_name=data["given_name"],
                date_of_birth=data["date_of_birth"],
                reason=data["reason"],
                password=data["password"],
                code=data["code"],
            ),
            form=form,
            success=lambda g: (
                f"Emergency access open until {timezone.localtime(g.expires_at):%H:%M}: "
                "everything you read is recorded and reviewed."
            ),
        )
        if grant is not None:
            return redirect("clinic:patient_detail", patient_id=grant.patient_id)
    context = {
        "form": form,
        "minutes": settings.SUSTAIN_BREAK_GLASS_MINUTES,
        "second_factor": not settings.SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR,
    }
    return render(
        request, "care/emergency_access.html", context, status=400 if form.errors else 200
    )


@require_POST
@login_required
def emergency_end(request: AuthenticatedRequest) -> HttpResponse:
    require_permission(request.user, break_glass.BREAK_GLASS, category=DataCategory.PATIENT_RECORD)
    if break_glass.end(request, request.user, now=timezone.now()):
        messages.success(request, "Emergency access ended.")
    return redirect("care:patient_list")


@require_GET
@login_required
def emergency_reviews(request: AuthenticatedRequest) -> HttpResponse:
    grants = list(break_glass.reviews_for_user(request.user)[:200])
    context = {
        "open": [g for g in grants if g.reviewed_at is None],
        "closed": [g for g in grants if g.reviewed_at is not None],
        "form": EmergencyReviewForm(),
    }
    return render(request, "care/emergency_reviews.html", context)


@require_POST
@login_required
def emergency_review_close(request: AuthenticatedRequest, grant_id: int) -> HttpResponse:
    require_permission(request.user, break_glass.REVIEW, category=DataCategory.AUDIT)
    form = EmergencyReviewForm(request.POST)
    if form.is_valid():
        attempt(
            request,
            lambda: break_glass.close_review(
                request.user,
                grant_id,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
                now=timezone.now(),
            ),
            success="Review closed.",
        )
    else:
        show_form_errors(request, form)
    return redirect("care:emergency_reviews")


@dataclass(frozen=True)
class Banner:
    patient_id: int
    until: dt.datetime


def banner(request: HttpRequest) -> dict[str, Banner | None]:
    """Template context: the banner of this session's emergency access while it lasts. Read
    from the session alone (no query on every page); the grant itself is checked on every
    read of the patient."""
    held = request.session.get(break_glass.SESSION_KEY) if hasattr(request, "session") else None
    if not held:
        return {"break_glass": None}
    until = dt.datetime.fromisoformat(held["until"])
    if until <= timezone.now():
        return {"break_glass": None}
    return {"break_glass": Banner(patient_id=held["patient"], until=until)}
