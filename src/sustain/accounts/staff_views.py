"""The staff accounts pages (clinic administrators; sustain.accounts.users) and the public
set-password page that an invitation or a reset links to."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sustain.accounts import lockout, mfa, users
from sustain.accounts.access import (
    AuthenticatedRequest,
    chosen_site,
    get_account_for_user,
    require_permission,
    sites_for_user,
)
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.forms import CodeForm, InviteForm, RolesForm
from sustain.accounts.landing import landing_url
from sustain.accounts.mfa import second_factor
from sustain.accounts.models import Site, User
from sustain.accounts.web import attempt


class SignInView(auth_views.LoginView):
    """Sign in; without a page to go back to, each role lands on its own page
    (sustain.accounts.landing)."""

    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return landing_url(self.request.user) or super().get_default_redirect_url()  # type: ignore[arg-type]


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """Choose a password from an invitation's or a reset's link (Django's view, with the
    tokens that a deactivation voids); the person then signs in as usual."""

    template_name = "accounts/set_password.html"
    token_generator = users.tokens
    success_url = reverse_lazy("accounts:set_password_done")


class SetPasswordDoneView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/set_password_done.html"


def _next_page(request: AuthenticatedRequest) -> str:
    """Where the person was going before the second factor (a page of this site), else their
    landing page."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return landing_url(request.user) or reverse(settings.LOGIN_REDIRECT_URL)


@require_http_methods(["GET", "POST"])
@login_required
def second_factor_enrol(request: AuthenticatedRequest) -> HttpResponse:
    """Enrol an authenticator app at the first sign-in (SecondFactorMiddleware sends the
    person here): its key as a QR code and as text; a code from it confirms, and the ten
    recovery codes are shown once."""
    if mfa.enrolled_device(request.user) is not None:
        verify = reverse("accounts:second_factor_verify")
        return redirect(f"{verify}?{urlencode({'next': _next_page(request)})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = attempt(
            request, lambda: mfa.enrol(request, request.user, form.cleaned_data["token"]), form=form
        )
        if codes is not None:
            shown = {"codes": codes, "next": _next_page(request)}
            return render(request, "accounts/recovery_codes.html", shown)
    device = mfa.pending_device(request.user)
    context: dict[str, object] = {
        "form": form,
        "qr": mfa.qr_svg(device),
        "secret": mfa.secret_of(device),
        "next": _next_page(request),
    }
    status = 400 if form.errors else 200
    return render(request, "accounts/second_factor_enrol.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def second_factor_verify(request: AuthenticatedRequest) -> HttpResponse:
    """Every sign-in after the password: a code from the app or a recovery code."""
    if mfa.passed(request.user):
        return redirect(_next_page(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        if attempt(request, lambda: mfa.verify(request, request.user, token), form=form):
            return redirect(_next_page(request))
    context = {"form": form, "next": _next_page(request)}
    status = 400 if form.errors else 200
    return render(request, "accounts/second_factor_verify.html", context, status=status)


def _staff_url(site: Site) -> str:
    return f"{reverse('accounts:staff')}?site={site.pk}"


@require_GET
@login_required
def staff_accounts(request: AuthenticatedRequest) -> HttpResponse:
    """One site's staff accounts: roles, active or not, last sign-in, second factor; the
    invitation form for administrators."""
    require_permission(request.user, users.VIEW, category=DataCategory.STAFF)
    site, sites = chosen_site(request.user, request.GET.get("site"))
    return _staff_page(request, site, sites)


def _staff_page(
    request: AuthenticatedRequest,
    site: Site,
    sites: list[Site],
    invite_form: InviteForm | None = None,
) -> HttpResponse:
    accounts = list(users.staff_of_site(site))
    factors = mfa.second_factors(accounts)
    record_event(
        actor=request.user, action=AuditAction.READ, category=DataCategory.STAFF, site=site
    )
    context = {
        "site": site,
        "sites": sites,
        "accounts": [(account, factors[account.pk]) for account in accounts],
        "invite_form": invite_form
        or InviteForm(sites=sites_for_user(request.user), initial={"site": site}),
        "can_invite": request.user.has_perm(users.INVITE),
    }
    status = 400 if invite_form is not None and invite_form.errors else 200
    return render(request, "accounts/staff.html", context, status=status)


@require_POST
@login_required
def staff_invite(request: AuthenticatedRequest) -> HttpResponse:
    """Invite a staff member; a refusal is shown on the form and nothing is made."""
    require_permission(request.user, users.INVITE, category=DataCategory.STAFF)
    form = InviteForm(request.POST, sites=sites_for_user(request.user))
    if form.is_valid():
        data = form.cleaned_data
        invitation = users.Invitation(
            username=data["username"], first_name=data["first_name"],
            last_name=data["last_name"], email=data["email"], roles=frozenset(data["roles"]),
            site=data["site"],
        )  # fmt: skip
        made = attempt(
            request,
            lambda: users.invite_user(invitation=invitation, by=request.user, now=timezone.now()),
            form=form,
            success=lambda user: (
                f"{users.name_of(user)} is invited: the set-password link is in the outbox "
                f"for {user.email}."
            ),
        )
        if made is not None:
            return redirect(_staff_url(data["site"]))
    site, sites = chosen_site(request.user, request.POST.get("site"))
    return _staff_page(request, site, sites, invite_form=form)


def _account_page(
    request: AuthenticatedRequest, account: User, roles_form: RolesForm | None = None
) -> HttpResponse:
    record_event(
        actor=request.user, action=AuditAction.READ, category=DataCategory.STAFF, obj=account
    )
    account_sites = list(account.sites.order_by("name"))
    context = {
        "account": account,
        "account_sites": account_sites,
        "tz": account_sites[0].tz if account_sites else None,
        "second_factor": second_factor(account),
        "enrolled": mfa.enrolled_device(account) is not None,
        "locked_until": lockout.locked_until(account.get_username(), timezone.now()),
        "roles_form": roles_form or RolesForm(initial={"roles": account.roles}),
        "can_manage": request.user.has_perm(users.MANAGE),
        "is_self": account.pk == request.user.pk,
    }
    status = 400 if roles_form is not None and roles_form.errors else 200
    return render(request, "accounts/staff_account.html", context, status=status)


@require_GET
@login_required
def staff_account(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    """One staff account: its roles (changeable), sites, state, and its actions."""
    return _account_page(request, get_account_for_user(request.user, user_id))


def _back(account: User) -> HttpResponse:
    return redirect("accounts:staff_account", user_id=account.pk)


@require_POST
@login_required
def staff_roles(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    require_permission(request.user, users.MANAGE, category=DataCategory.STAFF)
    account = get_account_for_user(request.user, user_id)
    form = RolesForm(request.POST)
    if form.is_valid():
        changed = attempt(
            request,
            lambda: users.change_roles(
                user=account, roles=set(form.cleaned_data["roles"]), by=request.user
            ),
            form=form,
            success=f"{users.name_of(account)}'s roles are saved.",
        )
        if changed is not None:
            return _back(account)
    return _account_page(request, account, roles_form=form)


@require_http_methods(["GET", "POST"])
@login_required
def staff_deactivate(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    """Deactivate an account: a GET asks to confirm, saying what follows; the POST does it."""
    require_permission(request.user, users.MANAGE, category=DataCategory.STAFF)
    account = get_account_for_user(request.user, user_id)
    if request.method == "POST":
        attempt(
            request,
            lambda: users.deactivate_user(user=account, by=request.user),
            success=f"{users.name_of(account)} is deactivated and can no longer sign in.",
        )
        return _back(account)
    record_event(
        actor=request.user, action=AuditAction.READ, category=DataCategory.STAFF, obj=account
    )
    return render(request, "accounts/staff_deactivate.html", {"account": account})


@require_POST
@login_required
def staff_reactivate(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    require_permission(request.user, users.MANAGE, category=DataCategory.STAFF)
    account = get_account_for_user(request.user, user_id)
    attempt(
        request,
        lambda: users.reactivate_user(user=account, by=request.user),
        success=f"{users.name_of(account)} can sign in again.",
    )
    return _back(account)


@require_POST
@login_required
def staff_reset_password(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    require_permission(request.user, users.MANAGE, category=DataCategory.STAFF)
    account = get_account_for_user(request.user, user_id)
    attempt(
        request,
        lambda: users.reset_password(user=account, by=request.user, now=timezone.now()),
        success=(
            f"{users.name_of(account)}'s password no longer works; a set-password link is in "
            f"the outbox for {account.email}."
        ),
    )
    return _back(account)


@require_POST
@login_required
def staff_reset_second_factor(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    require_permission(request.user, users.MANAGE, category=DataCategory.STAFF)
    account = get_account_for_user(request.user, user_id)
    attempt(
        request,
        lambda: users.reset_second_factor(user=account, by=request.user),
        success=(
            f"{users.name_of(account)}'s second factor is removed and their sessions end; they "
            "enrol a new one at their next sign-in."
        ),
    )
    return _back(account)


@require_POST
@login_required
def staff_unlock(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    """End a sign-in lockout before it expires (SEC-10), audited."""
    require_permission(request.user, users.MANAGE, category=DataCategory.STAFF)
    account = get_account_for_user(request.user, user_id)
    attempt(
        request,
        lambda: users.unlock(user=account, by=request.user, now=timezone.now()),
        success=f"{users.name_of(account)} can sign in again.",
    )
    return _back(account)
