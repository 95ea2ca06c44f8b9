"""Deny-by-default access checks shared by every view (CONVENTIONS rule 6)."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import Site, User


class AuthenticatedRequest(HttpRequest):
    """A request behind @login_required: its user is a staff User (for the type checker)."""

    user: User


def require_permission(user: User, perm: str, *, category: DataCategory) -> None:
    """Raise PermissionDenied (403), audited, unless the user's role grants `perm`."""
    if not user.has_perm(perm):
        record_event(
            actor=user, action=AuditAction.READ, category=category, outcome=AuditOutcome.DENIED
        )
        raise PermissionDenied(f"Your role does not allow this ({perm}).")


def sites_for_user(user: User) -> QuerySet[Site]:
    return Site.objects.filter(memberships__user=user).order_by("name")
