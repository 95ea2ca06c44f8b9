import datetime as dt
import zoneinfo
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sustain.accounts import directors
from sustain.accounts.access import (
    AuthenticatedRequest,
    chosen_site,
    get_site_for_user,
    require_permission,
    sites_for_user,
)
from sustain.accounts.audit import record_event
from sustain.accounts.bounds import check_date, query_date
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.exports import csv_export
from sustain.accounts.models import Site
from sustain.accounts.web import attempt, show_form_errors, show_refusal, show_times_in
from sustain.care import queries as care_queries
from sustain.care import services as care_services
from sustain.care.protocol_versions import protocol_for, protocols_for
from sustain.scheduling import boosters, chairs, hours, queries, replies, services, staff
from sustain.scheduling.enums import (
    AppointmentStatus,
    CancellationReason,
    ChairCapability,
    StaffRole,
    Weekday,
)
from sustain.scheduling.forms import (
    BoosterForm,
    CancelForm,
    ChairCapabilitiesForm,
    ClosureForm,
    HolidayCountryForm,
    NoShowForm,
    OpeningHoursForm,
    PublicHolidaysForm,
    SeriesForm,
    ShiftForm,
    StaffRulesForm,
    VisitForm,
)
from sustain.scheduling.models import Appointment, Chair, Closure, PhaseStaffing
from sustain_core import series, staffing
from sustain_core.errors import ClinicalValueError


@require_http_methods(["GET", "POST"])
@login_required
def book_series(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    """Propose the induction series from a first day, then book it whole.

    A GET only shows (with its query, the preview, nothing held). The search form POSTs
    "search": the preview's chairs are then held for HOLD_MINUTES; any other POST books (its
    "choice", else the series as asked). No state changes on GET (SEC-16, issue 14 item 6).
    """
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, "scheduling.add_appointment", category=DataCategory.SCHEDULE
    )
    course = care_services.active_course(patient)
    if course is None:
        messages.error(request, "Enrol the patient in a protocol before booking a series.")
        return redirect("clinic:patient_detail", patient_id=patient.pk)
    tz = show_times_in(patient.site)
    chairs = patient.site.chairs.all()
    data = request.POST if request.method == "POST" else request.GET or None
    form = SeriesForm(data, chairs=chairs)
    result: series.SeriesResult | None = None
    held_until: dt.datetime | None = None
    if form.is_bound and form.is_valid():
        first_day = form.cleaned_data["first_day"]
        span = form.cleaned_data.get("span_days")
        now = timezone.now()
        try:
            wanted = services.SeriesRequest(
                earliest=max(dt.datetime.combine(first_day, dt.time.min, tzinfo=tz), now),
                availability=form.availability(),
                preferred_chair=form.cleaned_data.get("chair"),
                requested_span=dt.timedelta(days=span) if span else None,
            )
            searching = request.method == "POST" and "search" in request.POST
            if request.method == "POST" and not searching:
                booked = services.book_series(
                    course=course, earliest=wanted.earliest, by=request.user, now=now,
                    request=wanted, choice=request.POST.get("choice", services.EARLIEST),
                )  # fmt: skip
                messages.success(request, f"Booked {len(booked)} infusion visits.")
                return redirect("clinic:patient_detail", patient_id=patient.pk)
            result = services.propose_series(course=course, request=wanted, now=now)
            if searching:  # the search form's submit holds; a GET only shows
                held_until = services.hold_series(
                    course=course, result=result, by=request.user, now=now
                )
        except ClinicalValueError as error:
            show_refusal(request, error, form)
    by_pk = {series.ChairId(c.pk): c for c in chairs}

    def shown(slots: tuple[series.Slot, ...]) -> list[tuple[Chair, dt.datetime, dt.datetime]]:
        return [(by_pk[s.chair], s.start.astimezone(tz), s.end.astimezone(tz)) for s in slots]

    def gives_up(alternative: series.Alternative) -> str:
        """What the alternative gives up of the request, in words for the scheduler."""
        availability = wanted.availability
        return series.wording.gives_up(
            alternative,
            rules=protocol_for(course).series,
            earliest=wanted.earliest,
            tz=tz,
            windows=() if availability is None else availability.windows,
            preferred_chair=(
                series.ChairId(wanted.preferred_chair.pk) if wanted.preferred_chair else None
            ),
            requested_span=wanted.requested_span,
        )

    care_queries.record_patient_read(request.user, patient)
    context = {
        "patient": patient,
        "course": course,
        "form": form,
        "searched": result is not None,
        "proposal": shown(result.series) if result and result.series else [],
        "alternatives": (
            [(a, gives_up(a), shown(a.slots)) for a in result.alternatives] if result else []
        ),
        "query": request.GET.urlencode(),
        "held_until": held_until,
        "tz": tz,
        "staffing_checked": staff.staff_rules(patient.site).checked,
    }
    return render(request, "scheduling/series.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def visit_create(request: AuthenticatedRequest, patient_id: int) -> HttpResponse:
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, "scheduling.add_appointment", category=DataCategory.SCHEDULE
    )
    course = care_services.active_course(patient)
    form = VisitForm(request.POST, chairs=patient.site.chairs.all())
    if course is None:
        messages.error(request, "Enrol the patient in a protocol before booking a visit.")
    elif not form.is_valid():
        show_form_errors(request, form)
    else:
        starts_at = dt.datetime.combine(
            form.cleaned_data["day"], form.cleaned_data["start_time"], tzinfo=patient.site.tz
        )
        attempt(
            request,
            lambda: services.book_visit(
                course=course,
                chair=form.cleaned_data["chair"],
                starts_at=starts_at,
                by=request.user,
                now=timezone.now(),
            ),
            success="Visit booked.",
        )
    return redirect("clinic:patient_detail", patient_id=patient.pk)


def _board_site_and_day(request: AuthenticatedRequest) -> tuple[Site, dt.date, list[Site]]:
    site, sites = chosen_site(request.user, request.GET.get("site"))
    day = query_date(request, "day") or timezone.localdate(timezone=site.tz)
    return site, day, sites


@require_GET
@login_required
def day_view(request: AuthenticatedRequest) -> HttpResponse:
    """Every chair of one site on one day (the site's calendar day). With ?fragment=1 only the
    staffing strip and the chairs, which the page re-fetches every 30 s so the board stays
    current without a reload."""
    site, day, sites = _board_site_and_day(request)
    tz = show_times_in(site)
    board = queries.day_board(request.user, site, day, now=timezone.now())
    context = {
        "site": site,
        "sites": sites,
        "day": day,
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
        "rows": [
            (
                chair,
                [
                    (visit, due, _phase_line(visit, tz), board.notes.get(visit.pk, []))
                    for visit, due in visits
                ],
            )
            for chair, visits in board.rows
        ],
        "staffing": [(s, _decimal(s.nurse_load)) for s in board.staffing],
        "short": _short_spans(board.staffing),
        "staffing_checked": board.staffing_checked,
        "tz": tz,
        "refreshed": timezone.now(),
    }
    if request.GET.get("fragment"):
        return render(request, "scheduling/_board.html", context)
    if request.user.has_perm("scheduling.change_appointment"):
        context["change_requests"] = queries.change_requests(site, now=timezone.now())
    return render(request, "scheduling/day.html", context)


VISIT_COLUMNS = (
    "visit_id", "day", "starts_at_utc", "ends_at_utc", "chair", "patient_id", "family_name",
    "given_name", "infusion_number", "status",
)  # fmt: skip


@require_GET
@login_required
def visits_export(request: AuthenticatedRequest) -> HttpResponse:
    """The day board's visits (?site=&day=), or the week view's with &week=1, as CSV: the
    day is the site's calendar day, the times in UTC."""
    site, day, _ = _board_site_and_day(request)
    week = request.GET.get("week") == "1"
    first = day - dt.timedelta(days=day.weekday()) if week else day
    visits = queries.visits_to_export(request.user, site, first, days=7 if week else 1)
    tz = site.tz
    rows = [
        (v.pk, v.starts_at.astimezone(tz).date(), v.starts_at, v.ends_at, v.chair.name,
         v.patient_id, v.patient.family_name, v.patient.given_name, v.number,
         v.get_status_display())
        for v in visits
    ]  # fmt: skip
    return csv_export(
        user=request.user, category=DataCategory.SCHEDULE,
        name="visits week" if week else "visits day", columns=VISIT_COLUMNS, rows=rows, site=site,
        filename=f"visits-{site.pk}-{'week-' if week else ''}{first.isoformat()}",
    )  # fmt: skip


def _short_spans(
    slots: Sequence[staffing.Segment],
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The times the site is short of staff, adjoining slots joined: [(start, end), ...]."""
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for slot in slots:
        if not slot.short:
            continue
        if spans and spans[-1][1] == slot.start:
            spans[-1] = (spans[-1][0], slot.end)
        else:
            spans.append((slot.start, slot.end))
    return spans


def _phase_line(visit: Appointment, tz: zoneinfo.ZoneInfo) -> str:
    """The visit's planned phases, e.g. "check-in 08:00 · infusion 08:15–08:55 · recovery until
    09:55 · out 10:00" (discharge is the time up to "out")."""
    phases = staffing.visit_phases(
        visit.check_in_minutes,
        visit.infusion_minutes,
        visit.recovery_minutes,
        visit.discharge_minutes,
    )
    if not phases:
        return ""
    parts: list[str] = []
    for phase in phases:
        # Sums on the UTC instant, then local clock time: right across a DST change.
        begins = (visit.starts_at + phase.offset).astimezone(tz)
        ends = (visit.starts_at + phase.offset + phase.length).astimezone(tz)
        if phase.name == staffing.VisitPhaseName.CHECK_IN:
            parts.append(f"check-in {begins:%H:%M}")
        elif phase.name == staffing.VisitPhaseName.INFUSION:
            parts.append(f"infusion {begins:%H:%M}–{ends:%H:%M}")
        elif phase.name == staffing.VisitPhaseName.RECOVERY:
            parts.append(f"recovery until {ends:%H:%M}")
    out = (visit.starts_at + phases[-1].offset + phases[-1].length).astimezone(tz)
    return " · ".join([*parts, f"out {out:%H:%M}"])


def _decimal(load: Fraction) -> Decimal:
    # For reading only (2 places); whether staffing is short is decided on the exact fraction.
    return (Decimal(load.numerator) / Decimal(load.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


@require_GET
@login_required
def week_view(request: AuthenticatedRequest) -> HttpResponse:
    """Seven days from the Monday of the given day: each chair's visits per day."""
    site, day, sites = _board_site_and_day(request)
    tz = show_times_in(site)
    monday = day - dt.timedelta(days=day.weekday())
    week = queries.week_board(request.user, site, monday)
    days = list(week)
    by_day = {d: {chair.pk: visits for chair, visits in rows} for d, rows in week.items()}
    chairs = [chair for chair, _ in week[monday]]
    context = {
        "site": site,
        "sites": sites,
        "days": days,
        "rows": [(chair, [by_day[d][chair.pk] for d in days]) for chair in chairs],
        "previous": monday - dt.timedelta(days=7),
        "next": monday + dt.timedelta(days=7),
        "tz": tz,
    }
    return render(request, "scheduling/week.html", context)


def _visit_for_change(request: AuthenticatedRequest, appointment_id: int) -> Appointment:
    require_permission(
        request.user, "scheduling.change_appointment", category=DataCategory.SCHEDULE
    )
    return queries.get_appointment_for_user(request.user, appointment_id)


def _back(request: AuthenticatedRequest, appointment: Appointment) -> HttpResponse:
    target = request.POST.get("next", "")
    if target == "board":
        day = appointment.starts_at.astimezone(appointment.site.tz)
        return redirect(
            f"{reverse('scheduling:day')}?site={appointment.site_id}&day={day:%Y-%m-%d}"
        )
    return redirect("clinic:patient_detail", patient_id=appointment.patient_id)


@require_http_methods(["GET", "POST"])
@login_required
def visit_cancel(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """A confirmation step stating the visit to be cancelled, with the reason (GET); the
    cancellation itself only from that page's form (POST with `confirm`), never in one click."""
    appointment = _visit_for_change(request, appointment_id)
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and request.POST.get("confirm") and form.is_valid():
        done = attempt(
            request,
            lambda: services.cancel_visit(
                appointment=appointment,
                reason=CancellationReason(form.cleaned_data["reason"]),
                note=form.cleaned_data["note"],
                by=request.user,
                now=timezone.now(),
            ),
            form=form,
            success=f"Visit {appointment.number} cancelled.",
        )
        if done is not None:
            return _back(request, appointment)
    care_queries.record_patient_read(request.user, appointment.patient)
    context = {
        "visit": appointment,
        "form": form,
        "tz": appointment.site.tz,
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "scheduling/visit_cancel.html", context, status=status)


@require_POST
@login_required
def booster_book(request: AuthenticatedRequest, patient_id: int, number: int) -> HttpResponse:
    """Book booster `number` of the maintenance plan: at the earliest free time in its window,
    or at the day and time given (refused outside the window, naming it)."""
    patient = care_queries.get_patient_for_change(
        request.user, patient_id, "scheduling.add_appointment", category=DataCategory.SCHEDULE
    )
    course = care_services.active_course(patient)
    form = BoosterForm(request.POST, chairs=patient.site.chairs.all())
    if course is None:
        messages.error(request, "There is no active course to book a booster for.")
    elif not form.is_valid():
        show_form_errors(request, form)
    else:
        data = form.cleaned_data
        starts_at = (
            dt.datetime.combine(data["day"], data["start_time"], tzinfo=patient.site.tz)
            if data.get("day")
            else None
        )
        attempt(
            request,
            lambda: boosters.book_booster(
                course=course, number=number, by=request.user, now=timezone.now(),
                chair=data.get("chair"), starts_at=starts_at,
            ),
            success=lambda visit: (
                f"Booster {number} booked: "
                f"{visit.starts_at.astimezone(patient.site.tz):%a %d %b %H:%M}, "
                f"chair {visit.chair.name}."
            ),
        )  # fmt: skip
    return redirect("clinic:patient_detail", patient_id=patient.pk)


@require_http_methods(["GET", "POST"])
@login_required
def visit_rebook(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """Book a cancelled visit again for the same course: its chair, day and time prefilled
    (GET), booked with every check a booking has (POST)."""
    require_permission(request.user, "scheduling.add_appointment", category=DataCategory.SCHEDULE)
    cancelled = queries.get_appointment_for_user(request.user, appointment_id)
    if cancelled.status != AppointmentStatus.CANCELLED:
        raise Http404("No such cancelled visit.")
    tz = cancelled.site.tz
    was = cancelled.starts_at.astimezone(tz)
    form = VisitForm(
        request.POST or None,
        chairs=cancelled.site.chairs.all(),
        initial={"chair": cancelled.chair_id, "day": was.date(), "start_time": was.time()},
    )
    if request.method == "POST" and form.is_valid():
        starts_at = dt.datetime.combine(
            form.cleaned_data["day"], form.cleaned_data["start_time"], tzinfo=tz
        )
        if attempt(
            request,
            lambda: services.rebook_visit(
                cancelled=cancelled, chair=form.cleaned_data["chair"], starts_at=starts_at,
                by=request.user, now=timezone.now(),
            ),
            form=form,
            success=f"Visit {cancelled.number} booked again.",
        ):  # fmt: skip
            return redirect("clinic:patient_detail", patient_id=cancelled.patient_id)
    care_queries.record_patient_read(request.user, cancelled.patient)
    context = {"visit": cancelled, "form": form, "tz": tz}
    return render(
        request, "scheduling/visit_rebook.html", context, status=400 if form.errors else 200
    )


@require_POST
@login_required
def visit_keep_time(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """The patient asked to change the visit; after a call, the scheduler keeps its time."""
    appointment = _visit_for_change(request, appointment_id)
    attempt(
        request,
        lambda: replies.keep_visit_time(appointment=appointment, by=request.user),
        success=f"Visit {appointment.number} keeps its time; the change request is closed.",
    )
    return _back(request, appointment)


@require_POST
@login_required
def visit_no_show(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """Record that the patient did not come, once confirmed (NoShowForm)."""
    appointment = _visit_for_change(request, appointment_id)
    form = NoShowForm(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
    else:
        attempt(
            request,
            lambda: services.mark_no_show(
                appointment=appointment, by=request.user, now=timezone.now()
            ),
            success=f"Visit {appointment.number}: no-show recorded.",
        )
    return _back(request, appointment)


@require_POST
@login_required
def visit_move(request: AuthenticatedRequest, appointment_id: int) -> HttpResponse:
    """Move one visit in two steps: a preview of every visit the move changes (old → new time
    and chair, the nurses on shift then), nothing saved; then, from the preview's form (with
    the plan's fingerprint), the move saved exactly as previewed, or refused if the plan
    changed meanwhile."""
    appointment = _visit_for_change(request, appointment_id)
    form = VisitForm(request.POST, chairs=appointment.site.chairs.all())
    if not form.is_valid():
        messages.error(request, "Give a chair, a day and a time.")
        show_form_errors(request, form)  # what was wrong with them (a far date, a long reason)
        return _back(request, appointment)
    tz = appointment.site.tz
    starts_at = dt.datetime.combine(
        form.cleaned_data["day"], form.cleaned_data["start_time"], tzinfo=tz
    )
    move = {
        "appointment": appointment,
        "starts_at": starts_at,
        "chair": form.cleaned_data["chair"],
        "by": request.user,
        "override_reason": form.cleaned_data["override_reason"],
        "now": timezone.now(),
    }
    expected = request.POST.get("expected", "")
    if expected:

        def moved(result: services.Rescheduled) -> str:
            text = f"Visit {appointment.number} moved."
            if result.repaired:
                numbers = ", ".join(str(v.number) for v in result.repaired)
                text += f" Visits {numbers} moved too, to keep the protocol's spacing."
            if result.overridden:
                text += " Kept against the series rules: " + "; ".join(result.overridden)
            return text

        attempt(
            request,
            lambda: services.reschedule_visit(**move, expected=expected),
            success=moved,
        )
        return _back(request, appointment)
    plan = attempt(request, lambda: services.preview_move(**move))
    if plan is None:
        return _back(request, appointment)
    care_queries.record_patient_read(request.user, appointment.patient)
    context = {
        "visit": appointment,
        "plan": plan,
        "rows": _move_rows(appointment.site, plan),
        "form": form,
        "override_reason": move["override_reason"],
        "next": request.POST.get("next", ""),
        "tz": tz,
    }
    return render(request, "scheduling/visit_move.html", context)


def _move_rows(site: Site, plan: services.MovePlan) -> list[tuple[services.VisitChange, list[str]]]:
    """Each change of the plan with the nurses on shift during its new time (one query)."""
    shifts = staff.shifts_between(
        site, min(c.new_start for c in plan.changes), max(c.new_end for c in plan.changes)
    )
    return [
        (
            change,
            [
                s.staff.get_full_name() or s.staff.get_username()
                for s in shifts
                if s.role == StaffRole.NURSE
                and s.starts_at < change.new_end
                and change.new_start < s.ends_at
            ],
        )
        for change in plan.changes
    ]


@require_GET
@login_required
def waitlist(request: AuthenticatedRequest) -> HttpResponse:
    """Patients enrolled (screening or ready) whose induction series is not booked, oldest first."""
    require_permission(request.user, "scheduling.add_appointment", category=DataCategory.SCHEDULE)
    waiting = queries.waiting_courses(sites_for_user(request.user))
    record_event(actor=request.user, action=AuditAction.READ, category=DataCategory.SCHEDULE)
    pinned = protocols_for(waiting)  # each course's protocol, named by its title and version
    rows = [(course, pinned[course.pk]) for course in waiting]
    return render(request, "scheduling/waitlist.html", {"waiting": rows, "now": timezone.now()})


def _monday(text: str, site: Site) -> dt.date:
    """The Monday of the week of `text` (YYYY-MM-DD), or of today at the site."""
    try:
        day = check_date(dt.date.fromisoformat(text), "week")
    except ValueError:  # not a date, or outside the bounds (OutOfRange)
        day = timezone.localdate(timezone=site.tz)
    return day - dt.timedelta(days=day.weekday())


def _staff_url(site: Site, day: dt.date) -> str:
    return f"{reverse('scheduling:staff')}?site={site.pk}&week={_monday(day.isoformat(), site)}"


@require_GET
@login_required
def staff_view(request: AuthenticatedRequest) -> HttpResponse:
    """One site's week of shifts, its staffing rules per visit phase and its chairs; the forms
    that change them are shown to the roles allowed to."""
    require_permission(request.user, "scheduling.view_shift", category=DataCategory.SCHEDULE)
    site, _ = chosen_site(request.user, request.GET.get("site"))
    return _staff_page(request, site, _monday(request.GET.get("week", ""), site))


def _staff_page(
    request: AuthenticatedRequest,
    site: Site,
    monday: dt.date,
    *,
    shift_form: ShiftForm | None = None,
    rules_form: StaffRulesForm | None = None,
    chair_form: tuple[int, ChairCapabilitiesForm] | None = None,
) -> HttpResponse:
    """The staffing page; a refused form is shown again with its errors (400)."""
    user = request.user
    rules = list(PhaseStaffing.objects.filter(site=site))
    if shift_form is None:
        shift_form = ShiftForm(
            people=queries.shift_staff(site), initial={"day": monday, "weeks": 1}
        )
    if rules_form is None:
        rules_form = StaffRulesForm(initial=StaffRulesForm.initial_for(rules))
    by_phase = {row.phase: row for row in rules}
    labels = dict(ChairCapability.choices)
    chair_rows = [
        (
            chair,
            [labels[c] for c in chair.capabilities if c in labels],
            chair_form[1]
            if chair_form and chair_form[0] == chair.pk
            else ChairCapabilitiesForm(
                initial={"capabilities": chair.capabilities}, auto_id=f"id_chair{chair.pk}_%s"
            ),
        )
        for chair in site.chairs.all()
    ]
    record_event(actor=user, action=AuditAction.READ, category=DataCategory.SCHEDULE, site=site)
    context = {
        "site": site,
        "sites": list(sites_for_user(user)),
        "monday": monday,
        "days": [monday + dt.timedelta(days=n) for n in range(7)],
        "previous": monday - dt.timedelta(days=7),
        "next": monday + dt.timedelta(days=7),
        "rota": queries.week_rota(site, monday),
        "checked": staff.staff_rules(site).checked,
        "shift_form": shift_form,
        "rules_form": rules_form,
        "phases": [
            (phase, ratio, prescriber, by_phase.get(phase.value))
            for phase, ratio, prescriber in rules_form.phases()
        ],
        "chairs": chair_rows,
        "can_add": user.has_perm("scheduling.add_shift"),
        "can_remove": user.has_perm("scheduling.delete_shift"),
        "can_set": user.has_perm("scheduling.change_phasestaffing"),
        "prescribers": queries.site_prescribers(site),
        "can_designate": user.has_perm("accounts.designate_medical_director"),
        "tz": show_times_in(site),
    }
    refused = shift_form.errors or rules_form.errors or (chair_form and chair_form[1].errors)
    return render(request, "scheduling/staff.html", context, status=400 if refused else 200)


@require_POST
@login_required
def shift_add(request: AuthenticatedRequest) -> HttpResponse:
    """Add a shift, repeated weekly; a refusal is shown on the form and nothing is added."""
    require_permission(request.user, "scheduling.add_shift", category=DataCategory.SCHEDULE)
    site = get_site_for_user(request.user, request.POST.get("site"))
    form = ShiftForm(request.POST, people=queries.shift_staff(site))
    if form.is_valid():
        wanted = form.shift_request()
        who = wanted.staff.get_full_name() or wanted.staff.get_username()
        role = wanted.role.label.lower()
        added = attempt(
            request,
            lambda: staff.add_shifts(site=site, request=wanted, by=request.user),
            form=form,
            success=lambda shifts: (
                f"Added {len(shifts)} {role} shift{'s' * (len(shifts) > 1)} for {who}."
            ),
        )
        if added is not None:
            return redirect(_staff_url(site, wanted.day))
    return _staff_page(request, site, _monday(request.POST.get("week", ""), site), shift_form=form)


@require_POST
@login_required
def shift_remove(request: AuthenticatedRequest, shift_id: int) -> HttpResponse:
    """Remove one shift, unless booked visits need it (the message says when)."""
    require_permission(request.user, "scheduling.delete_shift", category=DataCategory.SCHEDULE)
    shift = queries.get_shift_for_user(request.user, shift_id)
    tz = shift.site.tz
    starts, ends = shift.starts_at.astimezone(tz), shift.ends_at.astimezone(tz)
    who = shift.staff.get_full_name() or shift.staff.get_username()
    try:
        staff.remove_shift(shift=shift, by=request.user)
    except ClinicalValueError as error:
        messages.error(request, f"Not removed: {error.message}.")
    else:
        messages.success(request, f"Removed {who}'s shift {starts:%a %d %b %H:%M}–{ends:%H:%M}.")
    return redirect(_staff_url(shift.site, starts.date()))


@require_POST
@login_required
def staff_rules(request: AuthenticatedRequest) -> HttpResponse:
    """Set the site's nurse ratios and prescriber presence for every visit phase at once."""
    require_permission(
        request.user, "scheduling.change_phasestaffing", category=DataCategory.SCHEDULE
    )
    site = get_site_for_user(request.user, request.POST.get("site"))
    monday = _monday(request.POST.get("week", ""), site)
    form = StaffRulesForm(request.POST)
    if form.is_valid():
        saved = attempt(
            request,
            lambda: staff.set_phase_staffing(
                site=site, rules=form.rules(), by=request.user, now=timezone.now()
            ),
            form=form,
            success="Staffing rules saved.",
        )
        if saved is not None:
            return redirect(_staff_url(site, monday))
    return _staff_page(request, site, monday, rules_form=form)


@require_POST
@login_required
def chair_capabilities(request: AuthenticatedRequest, chair_id: int) -> HttpResponse:
    """Set what one chair offers (ChairCapability); clinic administrators only."""
    require_permission(
        request.user, "scheduling.change_phasestaffing", category=DataCategory.SCHEDULE
    )
    chair = queries.get_chair_for_user(request.user, chair_id)
    monday = _monday(request.POST.get("week", ""), chair.site)
    form = ChairCapabilitiesForm(request.POST, auto_id=f"id_chair{chair.pk}_%s")
    if form.is_valid():
        saved = attempt(
            request,
            lambda: chairs.set_chair_capabilities(
                chair=chair,
                capabilities=form.cleaned_data["capabilities"],
                by=request.user,
                now=timezone.now(),
            ),
            form=form,
            success=f"{chair.name} saved.",
        )
        if saved is not None:
            return redirect(_staff_url(chair.site, monday))
    return _staff_page(request, chair.site, monday, chair_form=(chair.pk, form))


@require_POST
@login_required
def medical_director(request: AuthenticatedRequest) -> HttpResponse:
    """Designate one of the site's prescribers medical director, or no longer (clinic
    administrators; sustain.accounts.directors, audited)."""
    require_permission(
        request.user, "accounts.designate_medical_director", category=DataCategory.STAFF
    )
    site = get_site_for_user(request.user, request.POST.get("site"))
    monday = _monday(request.POST.get("week", ""), site)
    person = next(
        (p for p, _ in queries.site_prescribers(site) if str(p.pk) == request.POST.get("user")),
        None,
    )
    designated = request.POST.get("designated") == "yes"
    if person is None:
        messages.error(request, "Choose one of this site's prescribers.")
    else:
        name = person.get_full_name() or person.get_username()
        attempt(
            request,
            lambda: directors.designate_medical_director(
                site=site, user=person, designated=designated, by=request.user
            ),
            success=f"{name} is {'now' if designated else 'no longer'} a medical director.",
        )
    return redirect(_staff_url(site, monday))


# -- the site's calendar: opening hours, closures, public holidays (sustain.scheduling.hours) --


def _calendar_url(site: Site) -> str:
    return f"{reverse('scheduling:site_calendar')}?site={site.pk}"


@require_GET
@login_required
def site_calendar(request: AuthenticatedRequest) -> HttpResponse:
    """One site's opening hours, closures and public holidays; the forms that change them are
    shown to clinic administrators, the page read-only to the other roles that book or see
    visits."""
    require_permission(request.user, "scheduling.view_appointment", category=DataCategory.SCHEDULE)
    site, sites = chosen_site(request.user, request.GET.get("site"))
    return _calendar_page(request, site, sites=sites)


def _calendar_page(
    request: AuthenticatedRequest,
    site: Site,
    *,
    sites: list[Site] | None = None,
    hours_form: OpeningHoursForm | None = None,
    closure_form: ClosureForm | None = None,
    country_form: HolidayCountryForm | None = None,
    holidays_form: PublicHolidaysForm | None = None,
) -> HttpResponse:
    """The calendar page; a refused form is shown again with its errors (400)."""
    user = request.user
    today = timezone.localdate(timezone=site.tz)
    rows = list(site.opening_hours.all())
    hours_form = hours_form or OpeningHoursForm(initial=OpeningHoursForm.initial_for(rows))
    closure_form = closure_form or ClosureForm()
    country_form = country_form or HolidayCountryForm(
        initial={"country": site.holiday_country, "subdivision": site.holiday_subdivision}
    )
    holidays_form = holidays_form or PublicHolidaysForm(initial={"year": today.year})
    by_weekday: dict[int, list[str]] = {}
    for row in rows:
        by_weekday.setdefault(row.weekday, []).append(f"{row.opens:%H:%M}–{row.closes:%H:%M}")
    record_event(actor=user, action=AuditAction.READ, category=DataCategory.SCHEDULE, site=site)
    context = {
        "site": site,
        "sites": sites if sites is not None else list(sites_for_user(user)),
        "week": [(label, by_weekday.get(w, [])) for w, label in Weekday.choices],
        "closures": site.closures.filter(date__gte=today).order_by("date"),
        "hours_form": hours_form,
        "closure_form": closure_form,
        "country_form": country_form,
        "holidays_form": holidays_form,
        "can_set_hours": user.has_perm("scheduling.change_openinghours"),
        "can_close": user.has_perm("scheduling.add_closure"),
        "can_reopen": user.has_perm("scheduling.delete_closure"),
        "tz": show_times_in(site),
    }
    refused = any(f.errors for f in (hours_form, closure_form, country_form, holidays_form))
    return render(request, "scheduling/calendar.html", context, status=400 if refused else 200)


@require_POST
@login_required
def calendar_hours(request: AuthenticatedRequest) -> HttpResponse:
    """Set the site's opening hours for every weekday at once (clinic administrators)."""
    require_permission(
        request.user, "scheduling.change_openinghours", category=DataCategory.SCHEDULE
    )
    site = get_site_for_user(request.user, request.POST.get("site"))
    form = OpeningHoursForm(request.POST)
    if form.is_valid():
        saved = attempt(
            request,
            lambda: hours.set_opening_hours(
                site=site, hours=form.hours(), by=request.user, now=timezone.now()
            ),
            form=form,
            success="Opening hours saved.",
        )
        if saved is not None:
            return redirect(_calendar_url(site))
    return _calendar_page(request, site, hours_form=form)


@require_POST
@login_required
def closure_add(request: AuthenticatedRequest) -> HttpResponse:
    """Close the site on a day or a range of days, with a reason (clinic administrators)."""
    require_permission(request.user, "scheduling.add_closure", category=DataCategory.SCHEDULE)
    site = get_site_for_user(request.user, request.POST.get("site"))
    form = ClosureForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        added = attempt(
            request,
            lambda: hours.add_closures(
                site=site, first=data["first"], last=data.get("last"), reason=data["reason"],
                by=request.user, now=timezone.now(),
            ),
            form=form,
            success=lambda made: f"Closed on {len(made)} day{'s' * (len(made) > 1)}.",
        )  # fmt: skip
        if added is not None:
            return redirect(_calendar_url(site))
    return _calendar_page(request, site, closure_form=form)


@require_POST
@login_required
def closure_remove(request: AuthenticatedRequest, closure_id: int) -> HttpResponse:
    """Open the site again on a closed day (clinic administrators)."""
    require_permission(request.user, "scheduling.delete_closure", category=DataCategory.SCHEDULE)
    closure = Closure.objects.filter(
        pk=closure_id, site__in=sites_for_user(request.user)
    ).select_related("site").first()  # fmt: skip
    if closure is None:
        raise Http404("No such closure.")
    site, day = closure.site, closure.date
    hours.remove_closure(closure=closure, by=request.user)
    messages.success(request, f"Open again on {day:%a %d %b %Y}.")
    return redirect(_calendar_url(site))


@require_POST
@login_required
def holiday_country(request: AuthenticatedRequest) -> HttpResponse:
    """Choose the country (and subdivision) of the site's public holidays."""
    require_permission(
        request.user, "scheduling.change_openinghours", category=DataCategory.SCHEDULE
    )
    site = get_site_for_user(request.user, request.POST.get("site"))
    form = HolidayCountryForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        saved = attempt(
            request,
            lambda: hours.set_holiday_country(
                site=site, country=data["country"], subdivision=data["subdivision"],
                by=request.user,
            ),
            form=form,
            success="Public-holiday list saved.",
        )  # fmt: skip
        if saved is not None:
            return redirect(_calendar_url(site))
    return _calendar_page(request, site, country_form=form)


@require_POST
@login_required
def holidays_add(request: AuthenticatedRequest) -> HttpResponse:
    """Close the site on a year's public holidays not closed already (clinic administrators)."""
    require_permission(request.user, "scheduling.add_closure", category=DataCategory.SCHEDULE)
    site = get_site_for_user(request.user, request.POST.get("site"))
    form = PublicHolidaysForm(request.POST)
    if form.is_valid():
        year = form.cleaned_data["year"]
        added = attempt(
            request,
            lambda: hours.add_public_holidays(
                site=site, year=year, by=request.user, now=timezone.now()
            ),
            form=form,
            success=lambda made: (
                f"Closed on {len(made)} public holiday{'s' * (len(made) != 1)} of {year}"
                + (": " + ", ".join(f"{c.date:%d %b} ({c.reason})" for c in made) if made else "")
                + "."
            ),
        )
        if added is not None:
            return redirect(_calendar_url(site))
    return _calendar_page(request, site, holidays_form=form)
