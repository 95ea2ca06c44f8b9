"""The clinic administrator's page of system clients (issue 16, item 3): the site's clients,
making one (its secret shown once, on the answer to the form) and revoking one. The same
services as `sustain fhir-client` (sustain.interop.clients); the permission is the site's own
(accounts.change_site)."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from sustain.accounts.access import AuthenticatedRequest, chosen_site, require_permission
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory, Role
from sustain.accounts.web import attempt
from sustain.interop import clients
from sustain.interop.models import SystemClient

MANAGE = "accounts.change_site"


class ClientForm(forms.Form):
    name = forms.CharField(max_length=60, help_text="lower-case letters, digits and hyphens")
    role = forms.ChoiceField(choices=Role.choices, help_text="it reads what this role reads")
    scopes = forms.CharField(
        max_length=1000, initial="system/Patient.read",
        help_text="by spaces: system/<resource type>.read, or system/*.read",
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
@login_required
def client_list(request: AuthenticatedRequest) -> HttpResponse:
    """The site's system clients; a POST makes one and shows its secret this once."""
    require_permission(request.user, MANAGE, category=DataCategory.STAFF)
    chosen = request.POST.get("site") if request.method == "POST" else request.GET.get("site")
    site, my_sites = chosen_site(request.user, chosen)
    form = ClientForm(request.POST if request.method == "POST" else None)
    issued = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data

        def make() -> clients.Issued:
            return clients.create_client(
                name=data["name"], site=site, role=data["role"], scopes=data["scopes"].split(),
                by=request.user, now=timezone.now(),
            )  # fmt: skip

        issued = attempt(request, make, form=form)
        if issued is not None:
            form = ClientForm()
    record_event(
        actor=request.user, action=AuditAction.READ, category=DataCategory.STAFF, site=site
    )
    context = {
        "site": site, "sites": my_sites, "form": form, "issued": issued,
        "clients": clients.clients_at([site.pk]), "endpoint": clients.ENDPOINT,
    }  # fmt: skip
    status = 400 if form.errors else 200
    return render(request, "interop/clients.html", context, status=status)


@require_POST
@login_required
def client_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's sites' clients (another site's: 404); back to the list."""
    require_permission(request.user, MANAGE, category=DataCategory.STAFF)
    client = SystemClient.objects.filter(pk=pk, site__memberships__user=request.user).first()
    if client is None:
        raise Http404("No such system client.")
    attempt(
        request,
        lambda: clients.revoke_client(client, by=request.user, now=timezone.now()),
        success=f"{client.name} is revoked: its tokens no longer work.",
    )
    return redirect(f"{reverse('fhir_clients:list')}?site={client.site_id}")
