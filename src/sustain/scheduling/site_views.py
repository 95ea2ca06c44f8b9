"""The site details page: a clinic administrator sets the site's name, time zone, address and
telephone (sustain.scheduling.sites)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from sustain.accounts.access import AuthenticatedRequest, chosen_site, require_permission
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.forms import SiteDetailsForm
from sustain.accounts.web import attempt
from sustain.scheduling import sites


@require_http_methods(["GET", "POST"])
@login_required
def site_details(request: AuthenticatedRequest) -> HttpResponse:
    """Show the chosen site's details in a form; a POST saves them, or shows the refusal on
    the form (400) with nothing changed."""
    require_permission(request.user, sites.CHANGE_SITE, category=DataCategory.SCHEDULE)
    chosen = request.POST.get("site") if request.method == "POST" else request.GET.get("site")
    site, my_sites = chosen_site(request.user, chosen)
    now = timezone.now()
    initial = {
        f: getattr(site, f) for f in ("name", "timezone", "address", "phone", "privacy_email")
    }
    form = SiteDetailsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = attempt(
            request,
            lambda: sites.change_site_details(site=site, by=request.user, now=now, **data),
            form=form,
            success="The site's details are saved.",
        )
        if saved is not None:
            return redirect(f"{reverse('scheduling:site_details')}?site={site.pk}")
        site.refresh_from_db()
    visits, shifts = sites.bookings_ahead(site, now)
    record_event(
        actor=request.user, action=AuditAction.READ, category=DataCategory.SCHEDULE, site=site
    )
    context = {"site": site, "sites": my_sites, "form": form, "visits": visits, "shifts": shifts}
    return render(
        request, "scheduling/site_details.html", context, status=400 if form.errors else 200
    )
