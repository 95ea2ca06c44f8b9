"""Deny-by-default access checks shared by every view (CONVENTIONS rule 6)."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import Site, User


class AuthenticatedRequest(HttpRequest):
    """A request behind @login_required: its user is a staff User (for the type checker)."""

    user: User


def require_permission(user: User, perm: str, *, category: DataCategory, message: str = "") -> None:
    """Raise PermissionDenied (403), audited, unless the user's role grants `perm`."""
    if not user.has_perm(perm):
        record_event(
            actor=user, action=AuditAction.READ, category=category, outcome=AuditOutcome.DENIED
        )
        raise PermissionDenied(message or f"Your role does not allow this ({perm}).")


def sites_for_user(user: User) -> QuerySet[Site]:
    return Site.objects.filter(memberships__user=user).order_by("name")


def users_with_perm(perm: str, site: Site) -> QuerySet[User]:
    """The site's active staff whose role (or own grant) holds `perm` ("app.codename")."""
    app_label, codename = perm.split(".")
    granted = Q(
        groups__permissions__content_type__app_label=app_label,
        groups__permissions__codename=codename,
    ) | Q(
        user_permissions__content_type__app_label=app_label,
        user_permissions__codename=codename,
    )
    return User.objects.filter(granted, memberships__site=site, is_active=True).distinct()


def chosen_site(user: User, wanted: object) -> tuple[Site, list[Site]]:
    """The user's site whose id is `wanted` (a page's ?site=), else their first; and all their
    sites, for the page's site picker. 404 for a user of no site."""
    sites = list(sites_for_user(user))
    if not sites:
        raise Http404("You are not a member of any site.")
    return next((s for s in sites if str(s.pk) == wanted), sites[0]), sites


def get_site_for_user(user: User, site_id: object) -> Site:
    """One of the user's sites, or 404 (another site's id looks like no site at all)."""
    pk = _int_or_none(site_id)
    site = None if pk is None else Site.objects.filter(pk=pk, memberships__user=user).first()
    if site is None:
        raise Http404("No such site.")
    return site


def site_or_first(user: User, wanted: str | None) -> Site:
    """The user's site `wanted` (a page's ?site=; 404 if it is not theirs), or their first
    when none is asked for (404 for a user of no site)."""
    if wanted is not None:
        return get_site_for_user(user, wanted)
    site = sites_for_user(user).first()
    if site is None:
        raise Http404("You are not a member of any site.")
    return site


def get_account_for_user(user: User, account_id: object) -> User:
    """A staff account at one of `user`'s sites, for a role that sees staff accounts (403
    otherwise, audited); another site's staff look like nobody (404)."""
    require_permission(user, "accounts.view_user", category=DataCategory.STAFF)
    pk = _int_or_none(account_id)
    mine = sites_for_user(user)
    account = None if pk is None else User.objects.filter(pk=pk, memberships__site__in=mine).first()
    if account is None:
        raise Http404("No such staff account.")
    return account


def _int_or_none(value: object) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() else None
