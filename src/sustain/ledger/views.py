"""The ledger's own pages (issue 12, items 1, 2 and 7): the safe for the nurse, a container's
history, and the administrator's setup and stock pages. Thin views: each checks the role
(403), scopes to the user's sites (another site's object is a 404), parses a form and runs one
service through accounts.web.attempt; a refusal is shown on the page (400) and saves nothing.
"""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from sustain.accounts.access import (
    AuthenticatedRequest,
    chosen_site,
    get_site_for_user,
    require_permission,
    sites_for_user,
    users_with_perm,
)
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.accounts.web import attempt, show_times_in
from sustain.ledger import queries, services, setup
from sustain.ledger.forms import (
    AdjustForm,
    CorrectForm,
    DestroyForm,
    LocationForm,
    ProductForm,
    ReceiveForm,
    RegistrationForm,
    ReturnForm,
    SupplierForm,
    TransferForm,
)
from sustain.ledger.models import Container, Location, Product, SiteRegistration, Supplier

VIEW = "ledger.view_ledgerentry"
CATEGORY = DataCategory.LEDGER


def _site(request: AuthenticatedRequest) -> tuple[Site, list[Site]]:
    """The site asked for (?site=), else the user's first, whose time zone the page shows; 404
    for a user of no site."""
    site, sites = chosen_site(request.user, request.GET.get("site"))
    show_times_in(site)
    return site, sites


def _read(request: AuthenticatedRequest, site: Site) -> None:
    record_event(actor=request.user, action=AuditAction.READ, category=CATEGORY, site=site)


# -- the safe -------------------------------------------------------------------------------------


@require_GET
@login_required
def safe(request: AuthenticatedRequest) -> HttpResponse:
    """Each location of a site with its containers: lot, number, strength, expiry, balance in
    mg and mL, opened or not; an expired lot is flagged. Nurses open a container here."""
    require_permission(request.user, VIEW, category=CATEGORY)
    site, sites = _site(request)
    today = timezone.localdate(timezone=site.tz)
    empty = request.GET.get("empty") == "1"
    locations = queries.safe(site, today=today, empty=empty)
    _read(request, site)
    return render(
        request,
        "ledger/safe.html",
        {
            "site": site, "sites": sites, "locations": locations, "today": today, "empty": empty,
            "can_open": request.user.has_perm("ledger.draw_stock"),
        },
    )  # fmt: skip


# -- a container ----------------------------------------------------------------------------------


def _container_url(container: Container) -> str:
    return reverse("ledger:container", args=[container.pk])


def _transfer_locations(user: User, container: Container) -> QuerySet[Location]:
    """Where the user may move the container: every other location of their sites."""
    return (
        Location.objects.filter(site__memberships__user=user)
        .exclude(pk=container.location_id)
        .select_related("site")
        .order_by("site__name", "name")
    )


def _container_page(
    request: AuthenticatedRequest, container: Container, **forms: Any
) -> HttpResponse:
    """The container's page; a refused form is shown again with its errors (400)."""
    user = request.user
    site = container.location.site
    names = user.has_perm(queries.NAMES)
    lines = queries.history(container, names=names)
    _read(request, site)
    if names and any(line.patient for line in lines):
        record_event(actor=user, action=AuditAction.READ, category=DataCategory.DEMOGRAPHICS)
    context: dict[str, Any] = {
        "container": container,
        "site": site,
        "product": container.lot.product,
        "lines": lines,
        "names": names,
        "expired": container.lot.expires_on < timezone.localdate(timezone=site.tz),
        "can_open": user.has_perm("ledger.draw_stock"),
        "can_transfer": user.has_perm("ledger.transfer_stock"),
        "can_adjust": user.has_perm("ledger.adjust_stock"),
        "can_return": user.has_perm("ledger.return_stock"),
        "can_correct": user.has_perm("ledger.correct_entry"),
        "transfer_form": TransferForm(locations=_transfer_locations(user, container)),
        "adjust_form": AdjustForm(),
        "return_form": ReturnForm(),
        "correct_form": CorrectForm(),
        "correcting": None,
    }
    context.update(forms)
    refused = any(getattr(form, "errors", None) for form in forms.values())
    return render(request, "ledger/container.html", context, status=400 if refused else 200)


@require_GET
@login_required
def container(request: AuthenticatedRequest, container_id: int) -> HttpResponse:
    """A container's entries in order with the running balance, who, witnesses, kind, date;
    the visit's patient named only for roles that may see patients."""
    return _container_page(
        request, queries.get_container_for_user(request.user, container_id, VIEW)
    )


def _container_action(
    request: AuthenticatedRequest,
    container_id: int,
    *,
    perm: str,
    form_class: type[Any],
    name: str,
    action: Callable[[Container, Any], object],
    success: str,
    **form_kwargs: Any,
) -> HttpResponse:
    held = queries.get_container_for_user(request.user, container_id, perm)
    if name == "transfer_form":
        form_kwargs["locations"] = _transfer_locations(request.user, held)
    form = form_class(request.POST, **form_kwargs)
    if form.is_valid():
        done = attempt(request, lambda: action(held, form.cleaned_data), form=form, success=success)
        if done is not None:
            return redirect(_container_url(held))
    return _container_page(request, held, **{name: form})


@require_POST
@login_required
def open_container(request: AuthenticatedRequest, container_id: int) -> HttpResponse:
    """Record the container's first puncture (nurses and prescribers)."""
    held = queries.get_container_for_user(request.user, container_id, "ledger.draw_stock")
    attempt(
        request,
        lambda: services.open_container(container=held, by=request.user, now=timezone.now()),
        success=f"Container {held} opened.",
    )
    if request.POST.get("back") == "safe":
        return redirect(f"{reverse('ledger:safe')}?site={held.location.site_id}")
    return redirect(_container_url(held))


@require_POST
@login_required
def transfer(request: AuthenticatedRequest, container_id: int) -> HttpResponse:
    """Move the container to another location of its site or of another site."""
    return _container_action(
        request, container_id, perm="ledger.transfer_stock", form_class=TransferForm,
        name="transfer_form",
        action=lambda c, data: services.transfer_container(
            container=c, to=data["to"], by=request.user, now=timezone.now()
        ),
        success="Container moved.",
    )  # fmt: skip


@require_POST
@login_required
def adjust(request: AuthenticatedRequest, container_id: int) -> HttpResponse:
    """Adjust the container's balance, with a reason (flagged for review)."""
    return _container_action(
        request, container_id, perm="ledger.adjust_stock", form_class=AdjustForm,
        name="adjust_form",
        action=lambda c, data: services.adjust_balance(
            container=c, change_mg=data["change_mg"], reason=data["reason"], by=request.user,
            now=timezone.now(),
        ),
        success="Balance adjusted; the adjustment is flagged for review.",
    )  # fmt: skip


@require_POST
@login_required
def return_container(request: AuthenticatedRequest, container_id: int) -> HttpResponse:
    """Return the sealed container to a supplier."""
    return _container_action(
        request, container_id, perm="ledger.return_stock", form_class=ReturnForm,
        name="return_form",
        action=lambda c, data: services.return_to_supplier(
            container=c, supplier=data["supplier"], reference=data["reference"],
            reason=data["reason"], by=request.user, now=timezone.now(),
        ),
        success="Container returned to the supplier.",
    )  # fmt: skip


@require_POST
@login_required
def correct(request: AuthenticatedRequest, entry_id: int) -> HttpResponse:
    """Reverse one entry with a new one (flagged for review)."""
    require_permission(request.user, "ledger.correct_entry", category=CATEGORY)
    entry = queries.get_entry_for_user(request.user, entry_id)
    held = queries.get_container_for_user(request.user, entry.container_id, VIEW)
    form = CorrectForm(request.POST)
    if form.is_valid():
        done = attempt(
            request,
            lambda: services.correct_entry(
                entry=entry,
                reason=form.cleaned_data["reason"],
                by=request.user,
                now=timezone.now(),
            ),
            form=form,
            success=f"Entry {entry.seq} reversed; the correction is flagged for review.",
        )
        if done is not None:
            return redirect(_container_url(held))
    return _container_page(request, held, correct_form=form, correcting=entry.pk)


# -- the administrator's stock page ---------------------------------------------------------------


def _stock_url(site: Site) -> str:
    return f"{reverse('ledger:stock')}?site={site.pk}"


def _destroy_form(site: Site, data: Any = None) -> DestroyForm:
    return DestroyForm(
        data,
        containers=queries.containers_at(site).filter(balance__balance_mg__gt=0),
        witnesses=users_with_perm("ledger.witness_destruction", site).order_by("username"),
    )


def _stock_page(
    request: AuthenticatedRequest, site: Site, sites: list[Site], **forms: Any
) -> HttpResponse:
    user = request.user
    registration = SiteRegistration.objects.filter(site=site).first()
    locations = site.storage_locations.order_by("name")
    context: dict[str, Any] = {
        "site": site,
        "sites": sites,
        "registration": registration,
        "review": list(queries.for_review(site)),
        "can_receive": user.has_perm("ledger.receive_stock"),
        "can_destroy": user.has_perm("ledger.destroy_stock"),
        "receive_form": ReceiveForm(
            locations=locations, initial={"received_on": timezone.localdate(timezone=site.tz)}
        ),
        "destroy_form": _destroy_form(site) if user.has_perm("ledger.destroy_stock") else None,
    }
    context.update(forms)
    _read(request, site)
    refused = any(getattr(form, "errors", None) for form in forms.values())
    return render(request, "ledger/stock.html", context, status=400 if refused else 200)


@require_GET
@login_required
def stock(request: AuthenticatedRequest) -> HttpResponse:
    """Receive stock, destroy stock (DEA Form 41), and the entries flagged for review."""
    require_permission(request.user, VIEW, category=CATEGORY)
    site, sites = _site(request)
    return _stock_page(request, site, sites)


@require_POST
@login_required
def receive(request: AuthenticatedRequest) -> HttpResponse:
    """Receive containers of one lot on an invoice."""
    require_permission(request.user, "ledger.receive_stock", category=CATEGORY)
    site = get_site_for_user(request.user, request.POST.get("site"))
    form = ReceiveForm(request.POST, locations=site.storage_locations.all())
    if form.is_valid():
        data = form.cleaned_data
        done = attempt(
            request,
            lambda: services.receive_stock(
                location=data["location"],
                supplier=data["supplier"],
                invoice_number=data["invoice_number"],
                product=data["product"],
                lot_number=data["lot_number"],
                expires_on=data["expires_on"],
                containers=data["containers"],
                received_on=data["received_on"],
                by=request.user,
                now=timezone.now(),
            ),
            form=form,
            success=lambda received: f"Received {len(received)} containers.",
        )
        if done is not None:
            return redirect(_stock_url(site))
    return _stock_page(request, site, list(sites_for_user(request.user)), receive_form=form)


@require_POST
@login_required
def destroy(request: AuthenticatedRequest) -> HttpResponse:
    """Destroy containers' remaining contents before two witnesses (DEA Form 41)."""
    require_permission(request.user, "ledger.destroy_stock", category=CATEGORY)
    site = get_site_for_user(request.user, request.POST.get("site"))
    form = _destroy_form(site, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        done = attempt(
            request,
            lambda: services.destroy(
                containers=list(data["containers"]),
                method=data["method"],
                place=data["place"],
                reason=data["reason"],
                witness=data["witness"],
                witness_password=data["witness_password"],
                second_witness=data["second_witness"],
                second_witness_password=data["second_witness_password"],
                by=request.user,
                now=timezone.now(),
            ),
            form=form,
            success=lambda d: f"Destruction recorded (DEA Form 41, {d.destroyed_on}).",
        )
        if done is not None:
            return redirect(_stock_url(site))
    return _stock_page(request, site, list(sites_for_user(request.user)), destroy_form=form)


# -- the administrator's setup page ---------------------------------------------------------------


def _setup_url(site: Site) -> str:
    return f"{reverse('ledger:setup')}?site={site.pk}"


def _pick(model: type[Any], value: object, **scope: Any) -> Any:
    """The row `value` names (within `scope`), None for a blank value; 404 for anything else."""
    text = str(value or "")
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        raise Http404("No such record.")
    return get_object_or_404(model, pk=int(text), **scope)


def _setup_page(
    request: AuthenticatedRequest, site: Site, sites: list[Site], **forms: Any
) -> HttpResponse:
    registration = SiteRegistration.objects.filter(site=site).first()
    editing = {
        "supplier": _pick(Supplier, request.GET.get("supplier")),
        "product": _pick(Product, request.GET.get("product")),
        "location": _pick(Location, request.GET.get("location"), site=site),
    }
    context: dict[str, Any] = {
        "site": site,
        "sites": sites,
        "registration": registration,
        "suppliers": Supplier.objects.order_by("name"),
        "products": Product.objects.order_by("strength_mg_per_ml", "pk"),
        "locations": site.storage_locations.order_by("name"),
        "can_change": request.user.has_perm("ledger.change_setup"),
        "editing": editing,
        "registration_form": RegistrationForm(
            initial={
                "dea_number": registration.dea_number,
                "registrant_name": registration.registrant_name,
                "address": registration.address,
            }
            if registration
            else None
        ),
        "supplier_form": SupplierForm(
            initial=_initial(editing["supplier"], "name", "address", "dea_number")
        ),
        "product_form": ProductForm(
            initial=_initial(
                editing["product"], "name", "strength_mg_per_ml", "container_volume_ml", "ndc"
            )
        ),
        "location_form": LocationForm(initial=_initial(editing["location"], "name")),
    }
    context.update(forms)
    for kind in ("supplier", "product", "location"):
        if f"{kind}_id" in forms:
            editing[kind] = forms[f"{kind}_id"]
    _read(request, site)
    refused = any(getattr(form, "errors", None) for form in forms.values())
    return render(request, "ledger/setup.html", context, status=400 if refused else 200)


def _initial(obj: Any, *fields: str) -> dict[str, Any] | None:
    return None if obj is None else {name: getattr(obj, name) for name in fields}


@require_GET
@login_required
def setup_page(request: AuthenticatedRequest) -> HttpResponse:
    """The site's DEA registration, the suppliers, the products and the site's locations."""
    require_permission(request.user, VIEW, category=CATEGORY)
    site, sites = _site(request)
    return _setup_page(request, site, sites)


def _setup_action(
    request: AuthenticatedRequest,
    *,
    form: Any,
    name: str,
    site: Site,
    action: Callable[[dict[str, Any]], object],
    success: str,
    editing: tuple[str, Any] | None = None,
) -> HttpResponse:
    if form.is_valid():
        done = attempt(request, lambda: action(form.cleaned_data), form=form, success=success)
        if done is not None:
            return redirect(_setup_url(site))
    extra = {f"{editing[0]}_id": editing[1]} if editing and editing[1] else {}
    return _setup_page(request, site, list(sites_for_user(request.user)), **{name: form}, **extra)


def _setup_site(request: AuthenticatedRequest) -> Site:
    require_permission(request.user, "ledger.change_setup", category=CATEGORY)
    return get_site_for_user(request.user, request.POST.get("site"))


@require_POST
@login_required
def registration(request: AuthenticatedRequest) -> HttpResponse:
    """Record or correct the site's DEA registration."""
    site = _setup_site(request)
    return _setup_action(
        request, form=RegistrationForm(request.POST), name="registration_form", site=site,
        action=lambda data: setup.set_registration(site=site, by=request.user, **data),
        success="Registration saved.",
    )  # fmt: skip


@require_POST
@login_required
def supplier(request: AuthenticatedRequest) -> HttpResponse:
    """Add a supplier, or change the one the form names."""
    site = _setup_site(request)
    current = _pick(Supplier, request.POST.get("supplier"))
    return _setup_action(
        request, form=SupplierForm(request.POST), name="supplier_form", site=site,
        action=lambda data: setup.save_supplier(supplier=current, by=request.user, **data),
        success="Supplier saved.", editing=("supplier", current),
    )  # fmt: skip


@require_POST
@login_required
def product(request: AuthenticatedRequest) -> HttpResponse:
    """Add a product, or change the one the form names."""
    site = _setup_site(request)
    current = _pick(Product, request.POST.get("product"))
    return _setup_action(
        request, form=ProductForm(request.POST), name="product_form", site=site,
        action=lambda data: setup.save_product(product=current, by=request.user, **data),
        success="Product saved.", editing=("product", current),
    )  # fmt: skip


@require_POST
@login_required
def location(request: AuthenticatedRequest) -> HttpResponse:
    """Add a storage location at the site, or rename the one the form names."""
    site = _setup_site(request)
    current = _pick(Location, request.POST.get("location"), site=site)
    return _setup_action(
        request, form=LocationForm(request.POST), name="location_form", site=site,
        action=lambda data: setup.save_location(
            site=site, location=current, name=data["name"], by=request.user
        ),
        success="Location saved.", editing=("location", current),
    )  # fmt: skip
