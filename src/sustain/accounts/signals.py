"""Audit sign-in, sign-out, failed sign-in and lockout (AUD-02), from Django's and django-axes'
signals (their only hooks)."""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.middleware import LOGIN_AT_KEY, SITE_ZONES_KEY, site_zones
from sustain.accounts.models import User


@receiver(user_logged_in)
def on_login(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    request.session[LOGIN_AT_KEY] = timezone.now().isoformat()
    request.session[SITE_ZONES_KEY] = site_zones(user)
    record_event(actor=user, action=AuditAction.LOGIN, category=DataCategory.AUTHENTICATION)


@receiver(user_logged_out)
def on_logout(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        record_event(actor=user, action=AuditAction.LOGOUT, category=DataCategory.AUTHENTICATION)


@receiver(user_login_failed)
def on_login_failed(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    # The username typed is recorded (it may not exist); the password never is.
    record_event(
        actor=None,
        username=str(credentials.get("username", ""))[:150],
        action=AuditAction.LOGIN_FAILED,
        category=DataCategory.AUTHENTICATION,
        outcome=AuditOutcome.DENIED,
    )


@receiver(user_locked_out)
def on_locked_out(sender: Any, request: HttpRequest, username: str | None, **kwargs: Any) -> None:
    """django-axes refused the user name (sustain.accounts.lockout): at the failure that locks
    it, and at each try while it is locked."""
    record_event(
        actor=None,
        username=str(username or "")[:150],
        action=AuditAction.LOGIN_FAILED,
        category=DataCategory.AUTHENTICATION,
        outcome=AuditOutcome.DENIED,
        reason="locked out",
    )
