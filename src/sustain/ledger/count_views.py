"""The count pages: the blind count form, a count's result, the discrepancies and their
resolution, theft and loss reports with their DEA deadlines, inventories, and the end of the
day for a site. Every page is scoped to the user's sites (another site's object is a 404) and
calls one service of sustain.ledger.counts; no page shows a patient."""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sustain.accounts.access import (
    AuthenticatedRequest,
    get_site_for_user,
    require_permission,
    sites_for_user,
    users_with_perm,
)
from sustain.accounts.bounds import check_date
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import Site, User
from sustain.accounts.web import attempt, show_form_errors, show_refusal, show_times_in
from sustain.ledger import counts, visits
from sustain.ledger.count_forms import (
    UNIT_CHOICES,
    FilingForm,
    InventoryForm,
    ResolveForm,
    TheftLossForm,
)
from sustain.ledger.enums import BusinessTime, CountMethod
from sustain.ledger.models import (
    Count,
    Discrepancy,
    Inventory,
    LedgerEntry,
    TheftLossReport,
)
from sustain.scheduling.models import Appointment
from sustain_core.errors import ClinicalValueError

VIEW = "ledger.view_ledgerentry"


def _view(request: AuthenticatedRequest, perm: str = VIEW) -> None:
    require_permission(request.user, perm, category=DataCategory.LEDGER)


def _site(request: AuthenticatedRequest) -> tuple[Site, list[Site]]:
    sites = list(sites_for_user(request.user))
    if not sites:
        raise Http404("You are not a member of any site.")
    wanted = request.GET.get("site") or request.POST.get("site")
    site = get_site_for_user(request.user, wanted) if wanted else sites[0]
    show_times_in(site)
    return site, sites


def _today(site: Site) -> dt.date:
    return timezone.localdate(timezone=site.tz)


def _amounts(request: AuthenticatedRequest, containers: list[Any]) -> list[counts.Amount]:
    """One amount per container from the posted sheet (amount_<id>, method_<id>), in the
    posted unit; a blank or unreadable amount is refused, naming the container."""
    unit = request.POST.get("unit", "")
    amounts = []
    for container in containers:
        text = request.POST.get(f"amount_{container.pk}", "").strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ClinicalValueError(
                "lines", f"enter what container {container} holds as a number"
            ) from None
        method = request.POST.get(f"method_{container.pk}", CountMethod.EXACT)
        amounts.append(counts.Amount(container.pk, value, unit, method))
    return amounts


def _staff(site: Site, username: str) -> User:
    user = User.objects.filter(username=username, memberships__site=site).first()
    if user is None:
        raise ClinicalValueError("confirmed_by", f"no one named {username!r} works at {site.name}")
    return user


# -- counts -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def count_new(request: AuthenticatedRequest) -> HttpResponse:
    """The blind count of one location: its containers, never their balances; a second
    person confirms with their password. The comparison is shown only once it is in."""
    _view(request, "ledger.count_stock")
    site, sites = _site(request)
    locations = list(site.storage_locations.order_by("name"))
    location_id = request.GET.get("location") or request.POST.get("location")
    location = next((loc for loc in locations if str(loc.pk) == location_id), None)
    if location is None and locations:
        location = locations[0]
    now = timezone.now()
    sheet = counts.count_sheet(location, now) if location else []
    if request.method == "POST" and location is not None:
        try:
            confirmer = _staff(site, request.POST.get("confirmed_by", ""))
            count = counts.submit_count(
                location=location, amounts=_amounts(request, sheet), confirmed_by=confirmer,
                confirmed_password=request.POST.get("confirmed_password", ""),
                by=request.user, now=now,
            )  # fmt: skip
        except ClinicalValueError as error:
            show_refusal(request, error)
        else:
            messages.success(request, f"{location.name} counted.")
            return redirect("ledger:count_detail", count_id=count.pk)
    confirmers = users_with_perm("ledger.count_stock", site).exclude(pk=request.user.pk)
    # What was typed comes back after a refusal, so the counter need not count again.
    rows = [(c, request.POST.get(f"amount_{c.pk}", "")) for c in sheet]
    context = {
        "site": site, "sites": sites, "locations": locations, "location": location,
        "rows": rows, "unit": request.POST.get("unit", "ml"), "units": UNIT_CHOICES,
        "confirmers": confirmers.order_by("username"),
        "confirmer": request.POST.get("confirmed_by", ""),
    }  # fmt: skip
    return render(request, "ledger/count_form.html", context, status=200)


@require_GET
@login_required
def count_detail(request: AuthenticatedRequest, count_id: int) -> HttpResponse:
    _view(request)
    count = (
        Count.objects.filter(pk=count_id, site__in=sites_for_user(request.user))
        .select_related("location", "counted_by", "confirmed_by", "site")
        .first()
    )
    if count is None:
        raise Http404("No such count.")
    lines = count.lines.select_related("container__lot__product").order_by("pk")
    show_times_in(count.site)
    return render(request, "ledger/count_detail.html", {"count": count, "lines": lines})


# -- discrepancies ------------------------------------------------------------------------------


@require_GET
@login_required
def discrepancy_list(request: AuthenticatedRequest) -> HttpResponse:
    _view(request)
    site, sites = _site(request)
    rows = (
        Discrepancy.objects.filter(site=site)
        .select_related("count__location", "container__lot__product", "resolved_by", "report")
        .order_by("-count__counted_at", "pk")[:200]
    )
    context = {
        "site": site, "sites": sites, "rows": rows,
        "can_resolve": request.user.has_perm("ledger.resolve_discrepancy"),
    }  # fmt: skip
    return render(request, "ledger/discrepancies.html", context)


def _discrepancy(request: AuthenticatedRequest, discrepancy_id: int) -> Discrepancy:
    row = (
        Discrepancy.objects.filter(pk=discrepancy_id, site__in=sites_for_user(request.user))
        .select_related("count__location", "container__lot__product", "site")
        .first()
    )
    if row is None:
        raise Http404("No such discrepancy.")
    return row


@require_http_methods(["GET", "POST"])
@login_required
def discrepancy_resolve(request: AuthenticatedRequest, discrepancy_id: int) -> HttpResponse:
    """Close a discrepancy as found (naming the recount) or as a documentation error (naming
    the correcting entry); a loss or theft goes to the theft/loss report."""
    _view(request, "ledger.resolve_discrepancy")
    discrepancy = _discrepancy(request, discrepancy_id)
    form = ResolveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        site = discrepancy.site
        recount = Count.objects.filter(pk=data["recount"], site=site).first()
        entry = LedgerEntry.objects.filter(seq=data["entry_seq"], site=site).first()
        done = attempt(
            request,
            lambda: counts.resolve_discrepancy(
                discrepancy=discrepancy, resolution=data["resolution"], note=data["note"],
                by=request.user, now=timezone.now(), recount=recount, correcting_entry=entry,
            ),
            form=form,
            success="Discrepancy closed.",
        )  # fmt: skip
        if done is not None:
            return redirect(f"{reverse('ledger:discrepancies')}?site={site.pk}")
    later = Count.objects.filter(
        location=discrepancy.count.location, counted_at__gt=discrepancy.count.counted_at
    ).order_by("counted_at")
    context = {"d": discrepancy, "form": form, "later": later}
    show_times_in(discrepancy.site)
    return render(
        request, "ledger/discrepancy_resolve.html", context, status=400 if form.errors else 200
    )


# -- theft and loss ---------------------------------------------------------------------------


@require_GET
@login_required
def theft_loss_list(request: AuthenticatedRequest) -> HttpResponse:
    _view(request)
    site, sites = _site(request)
    today = _today(site)
    reports = [
        (r, r.notice_overdue(today), r.form_106_overdue(today))
        for r in TheftLossReport.objects.filter(site=site).prefetch_related(
            "discrepancies__container__lot"
        )
    ]
    context = {
        "site": site, "sites": sites, "reports": reports,
        "can_report": request.user.has_perm("ledger.report_theft_loss"),
    }  # fmt: skip
    return render(request, "ledger/theft_loss_list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def theft_loss_new(request: AuthenticatedRequest) -> HttpResponse:
    """Report a theft or loss of the shortages chosen; it closes their discrepancies and
    starts the clock: notice within 1 business day, Form 106 within 45 days."""
    _view(request, "ledger.report_theft_loss")
    site, sites = _site(request)
    shortages = counts.open_discrepancies([site]).filter(difference_mg__lt=0).order_by("pk")
    chosen = {int(x) for x in request.POST.getlist("discrepancy") if x.isdigit()} or {
        int(x) for x in request.GET.getlist("discrepancy") if x.isdigit()
    }
    form = TheftLossForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            show_form_errors(request, form)
        else:
            data = form.cleaned_data
            discovered = data["discovered_at"].replace(tzinfo=None)
            made = attempt(
                request,
                lambda: counts.report_theft_loss(
                    site=site, discrepancies=[d for d in shortages if d.pk in chosen],
                    kind=data["kind"], explanation=data["explanation"],
                    discovered_at=dt.datetime.combine(
                        discovered.date(), discovered.time(), tzinfo=site.tz
                    ),
                    occurred_on=data["occurred_on"], county=data["county"],
                    police_notified=data["police_notified"],
                    police_department=data["police_department"],
                    police_report_number=data["police_report_number"],
                    purchase_value_usd=data["purchase_value_usd"], by=request.user,
                    now=timezone.now(),
                ),
            )  # fmt: skip
            if made is not None:
                messages.success(request, "Theft or loss reported; the deadlines are below.")
                return redirect("ledger:theft_loss_detail", report_id=made.pk)
    context = {
        "site": site, "sites": sites, "form": form, "shortages": shortages, "chosen": chosen,
    }  # fmt: skip
    return render(request, "ledger/theft_loss_form.html", context)


def _report(request: AuthenticatedRequest, report_id: int) -> TheftLossReport:
    report = (
        TheftLossReport.objects.filter(pk=report_id, site__in=sites_for_user(request.user))
        .select_related("site", "recorded_by", "notice_sent_by", "form_106_filed_by")
        .first()
    )
    if report is None:
        raise Http404("No such report.")
    return report


@require_GET
@login_required
def theft_loss_detail(request: AuthenticatedRequest, report_id: int) -> HttpResponse:
    _view(request)
    report = _report(request, report_id)
    today = _today(report.site)
    show_times_in(report.site)
    context = {
        "r": report,
        "lines": report.discrepancies.select_related("container__lot__product", "count"),
        "notice_overdue": report.notice_overdue(today),
        "form_106_overdue": report.form_106_overdue(today),
        "can_file": request.user.has_perm("ledger.report_theft_loss"),
        "form": FilingForm(),
    }
    return render(request, "ledger/theft_loss_detail.html", context)


@require_POST
@login_required
def theft_loss_file(request: AuthenticatedRequest, report_id: int, what: str) -> HttpResponse:
    """Record the notice sent or Form 106 filed (once each)."""
    _view(request, "ledger.report_theft_loss")
    if what not in ("notice", "form-106"):
        raise Http404("No such filing.")
    report = _report(request, report_id)
    form = FilingForm(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
    else:
        local = form.cleaned_data["at"].replace(tzinfo=None)
        at = dt.datetime.combine(local.date(), local.time(), tzinfo=report.site.tz)
        if what == "notice":
            attempt(
                request,
                lambda: counts.record_notice(
                    report=report, sent_at=at, by=request.user, now=timezone.now()
                ),
                success="Notice to the DEA Field Division recorded.",
            )
        else:
            attempt(
                request,
                lambda: counts.record_form_106(
                    report=report, filed_at=at, reference=form.cleaned_data["reference"],
                    by=request.user, now=timezone.now(),
                ),
                success="DEA Form 106 recorded as filed.",
            )  # fmt: skip
    return redirect("ledger:theft_loss_detail", report_id=report.pk)


# -- inventories --------------------------------------------------------------------------------


@require_GET
@login_required
def inventory_list(request: AuthenticatedRequest) -> HttpResponse:
    _view(request)
    site, sites = _site(request)
    context = {
        "site": site, "sites": sites,
        "status": counts.inventory_status(site, _today(site)),
        "inventories": Inventory.objects.filter(site=site).select_related("taken_by")
        .prefetch_related("lines__container__lot__product"),
        "can_record": request.user.has_perm("ledger.record_inventory"),
    }  # fmt: skip
    return render(request, "ledger/inventories.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def inventory_new(request: AuthenticatedRequest) -> HttpResponse:
    """Record an inventory: the containers held at the chosen day's opening or close, each
    counted exactly, or (opened ones) estimated."""
    _view(request, "ledger.record_inventory")
    site, sites = _site(request)
    data: QueryDict | None = request.POST
    if request.method != "POST":  # the day and time chosen to list the containers held then
        data = request.GET if "taken_on" in request.GET else None
    form = InventoryForm(data, initial={"taken_on": _today(site), "time_of_day": "close"})
    taken_on, time_of_day = _today(site), BusinessTime.CLOSE.value
    if request.method == "GET" and form.is_bound:
        try:
            taken_on = check_date(dt.date.fromisoformat(request.GET.get("taken_on", "")), "")
        except ValueError:  # not a date, or outside the bounds (OutOfRange)
            messages.error(request, "Choose the day as YYYY-MM-DD, between 1900 and 2199.")
        if request.GET.get("time_of_day") in BusinessTime.values:
            time_of_day = request.GET["time_of_day"]
        form = InventoryForm(
            initial={"taken_on": taken_on, "time_of_day": time_of_day, "kind": "biennial"}
        )
    elif form.is_bound and form.is_valid():
        taken_on, time_of_day = form.cleaned_data["taken_on"], form.cleaned_data["time_of_day"]
    held = counts.holdings(
        site.storage_locations.all(), counts.inventory_moment(site, taken_on, time_of_day)
    )
    if request.method == "POST":
        if not form.is_valid():
            show_form_errors(request, form)
        else:
            try:
                made = counts.record_inventory(
                    site=site, kind=form.cleaned_data["kind"], taken_on=taken_on,
                    time_of_day=time_of_day,
                    taken_by=_staff(site, form.cleaned_data["taken_by"]),
                    amounts=_amounts(request, [h.container for h in held]), by=request.user,
                    now=timezone.now(),
                )  # fmt: skip
            except ClinicalValueError as error:
                show_refusal(request, error)
            else:
                messages.success(request, f"{made.get_kind_display()} recorded.")
                return redirect(f"{reverse('ledger:inventories')}?site={site.pk}")
    context = {
        "site": site, "sites": sites, "form": form, "held": held,
        "methods": CountMethod.choices,
    }  # fmt: skip
    return render(request, "ledger/inventory_form.html", context)


# -- the end of the day -------------------------------------------------------------------------


@require_GET
@login_required
def end_of_day(request: AuthenticatedRequest) -> HttpResponse:
    """One page at the end of the day: the site's balance per product, every open container,
    every unresolved discrepancy, today's visits whose ledger is not closed (drawn, neither
    given nor wasted), and whether each location was counted today. For someone who counts,
    balances stay hidden until every location is counted (the count is blind)."""
    _view(request)
    site, sites = _site(request)
    day = _today(site)
    page = counts.end_of_day(site, day)
    counts_blind = request.user.has_perm("ledger.count_stock") and not page.all_counted
    unclosed = visits.open_visits(site, day)
    unclosed_visits = [
        (visit, unclosed[visit.pk].note)
        for visit in Appointment.objects.filter(pk__in=unclosed)
        .select_related("chair")
        .order_by("starts_at")
    ]
    context = {
        "site": site, "sites": sites, "page": page, "day": day, "show_balances": not counts_blind,
        "unclosed_visits": unclosed_visits,
        "can_count": request.user.has_perm("ledger.count_stock"),
        "can_resolve": request.user.has_perm("ledger.resolve_discrepancy"),
    }  # fmt: skip
    return render(request, "ledger/end_of_day.html", context)
