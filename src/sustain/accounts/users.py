"""Staff accounts, run by a clinic administrator from the browser (issue 13, item 2): invite,
deactivate and reactivate, reset a password or the second factor, change roles.

An administrator manages only the staff of their own sites: an account they may change works
only at sites they belong to (a person who also works at another site is changed by an
administrator of every site they work at, since an account and its roles are one for all its
sites). Nobody deactivates themself or gives themself a role, and no change leaves a site
without an active clinic administrator. Every change is one transaction and one audit event.

Passwords are never chosen by an administrator: an invitation or a reset sends a set-password
link through the outbox (sustain.accounts.notify), made by Django's password-reset tokens
(`tokens`): it names no patient, works once (the token is bound to the password it replaces)
and for PASSWORD_RESET_TIMEOUT, and not once the account is deactivated.
"""

import datetime as dt
from dataclasses import dataclass, replace

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from sustain.accounts import lockout, mfa, notify
from sustain.accounts.access import sites_for_user, users_with_perm
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, Channel, DataCategory, Role
from sustain.accounts.models import Membership, OutboxMessage, Site, User
from sustain_core.errors import ClinicalValueError

VIEW = "accounts.view_user"
INVITE = "accounts.add_user"
MANAGE = "accounts.change_user"


class AccountTokens(PasswordResetTokenGenerator):
    """Django's password-reset tokens, void also once the account is deactivated (a link
    sent before stops working, and stays void if the account is reactivated later)."""

    key_salt = "sustain.accounts.users.AccountTokens"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return super()._make_hash_value(user, timestamp) + str(user.is_active)


tokens = AccountTokens()


def name_of(user: User) -> str:
    return user.get_full_name() or user.get_username()


def set_password_path(user: User) -> str:
    """The set-password page for `user`, with a fresh token (no patient data: an id, a token)."""
    return reverse(
        "accounts:set_password",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": tokens.make_token(user),
        },
    )


def staff_of_site(site: Site) -> QuerySet[User]:
    """The site's staff accounts, active or not, with their roles, by name."""
    return (
        User.objects.filter(memberships__site=site)
        .prefetch_related("groups")
        .order_by("last_name", "first_name", "username")
    )


def _check_manages(by: User, user: User) -> Site:
    """Refuse unless `by` may change `user`'s account; return a site they share."""
    if not (by.is_active and by.has_perm(MANAGE)):
        raise ClinicalValueError("by", "only a clinic administrator changes staff accounts")
    mine = set(sites_for_user(by).values_list("pk", flat=True))
    theirs = list(Site.objects.filter(memberships__user=user).order_by("name"))
    outside = [site.name for site in theirs if site.pk not in mine]
    if not theirs or len(outside) == len(theirs):
        raise ClinicalValueError("user", f"{name_of(user)} does not work at any of your sites")
    if outside:
        raise ClinicalValueError(
            "user",
            f"{name_of(user)} also works at {', '.join(outside)}, which you do not administer: "
            "an administrator of every site they work at changes the account",
        )
    return next(site for site in theirs if site.pk in mine)


def _refuse_leaving_no_administrator(user: User, change: str) -> None:
    """Refuse a change that leaves one of `user`'s sites with no active clinic administrator.
    The sites' rows are locked first, so two administrators removing each other at once
    cannot both pass (PostgreSQL; SQLite's BEGIN IMMEDIATE has one writer at a time)."""
    sites = list(Site.objects.select_for_update().filter(memberships__user=user).order_by("pk"))
    for site in sites:
        if not users_with_perm(MANAGE, site).exclude(pk=user.pk).exists():
            raise ClinicalValueError(
                "user",
                f"{name_of(user)} is the last clinic administrator of {site.name}: make "
                f"someone else a clinic administrator there before you {change}",
            )


def _roles(roles: set[str]) -> list[Role]:
    unknown = sorted(r for r in roles if r not in Role.values)
    if unknown:
        raise ClinicalValueError("roles", f"no such role: {', '.join(unknown)}")
    if not roles:
        raise ClinicalValueError(
            "roles", "choose at least one role (to stop someone signing in, deactivate the account)"
        )
    return sorted(Role(r) for r in roles)


def _send_link(user: User, site: Site, *, invited: bool, now: dt.datetime) -> OutboxMessage:
    days = settings.PASSWORD_RESET_TIMEOUT // 86400
    link = settings.SUSTAIN_BASE_URL + set_password_path(user)
    if invited:
        subject = f"Your Sustain account at {site.name}"
        opening = f"An account was made for you at {site.name} (username {user.get_username()})."
    else:
        subject = "Set a new Sustain password"
        opening = (
            f"Your Sustain password (username {user.get_username()}) was reset by a clinic "
            "administrator; the old one no longer works."
        )
    body = (
        f"{opening}\n\nChoose your password here (the link works once, for {days} days):\n"
        f"{link}\n\nIf you did not expect this message, tell your clinic."
    )
    return notify.send(
        site=site, channel=Channel.EMAIL, to=user.email, subject=subject, body=body, now=now
    )


CLI = "cli"  # who acted, in the audit log, when the first administrator is made from a shell


@dataclass(frozen=True)
class Invitation:
    username: str
    first_name: str
    last_name: str
    email: str
    roles: frozenset[str]
    site: Site


@transaction.atomic
def invite_user(*, invitation: Invitation, by: User, now: dt.datetime) -> User:
    """Make an account with no usable password, its roles and its site, and send the person a
    set-password link. Refused: a role that does not manage accounts, a site not the
    administrator's, a username taken or malformed, a missing or malformed e-mail or one
    another account uses, no role."""
    if not (by.is_active and by.has_perm(INVITE)):
        raise ClinicalValueError("by", "only a clinic administrator invites staff")
    site = invitation.site
    if not Membership.objects.filter(user=by, site=site).exists():
        raise ClinicalValueError("site", f"you are not a member of {site.name}")
    user = _make_account(invitation)
    _send_link(user, site, invited=True, now=now)
    record_event(
        actor=by, action=AuditAction.CREATE, category=DataCategory.STAFF, site=site, obj=user,
        reason=f"invited {'+'.join(user.roles)}"[:40],
    )  # fmt: skip
    return user


@transaction.atomic
def make_first_administrator(*, invitation: Invitation) -> User:
    """The bootstrap of a site (`sustain add-site-admin`, from a shell): a clinic
    administrator account with no password at `invitation.site`, audited as made by "cli".
    Refused once the site has an active clinic administrator, who invites everyone else from
    the staff accounts page."""
    Site.objects.select_for_update().filter(pk=invitation.site.pk).first()
    if users_with_perm(MANAGE, invitation.site).exists():
        raise ClinicalValueError(
            "site",
            f"{invitation.site.name} has a clinic administrator already: they invite staff "
            "from the Staff accounts page",
        )
    user = _make_account(replace(invitation, roles=frozenset({Role.CLINIC_ADMIN})))
    record_event(
        actor=None, username=CLI, action=AuditAction.CREATE, category=DataCategory.STAFF,
        site=invitation.site, obj=user, reason="first administrator",
    )  # fmt: skip
    return user


def _make_account(invitation: Invitation) -> User:
    """A new account with no usable password, its roles and its one site, after the checks
    every way of making one shares."""
    site = invitation.site
    username = invitation.username.strip()
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise ClinicalValueError(
            "username", "a username is letters, digits and @ . + - _ only, without spaces"
        ) from None
    if not username or len(username) > 150:
        raise ClinicalValueError("username", "a username is 1 to 150 characters")
    if User.objects.filter(username__iexact=username).exists():
        raise ClinicalValueError("username", f"the username {username} is taken")
    email = invitation.email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ClinicalValueError(
            "email", "an e-mail address is needed for the invitation (e.g. name@clinic.org)"
        ) from None
    if User.objects.filter(email__iexact=email).exists():
        raise ClinicalValueError("email", f"another account uses {email}")
    roles = _roles(set(invitation.roles))
    user = User(
        username=username,
        first_name=invitation.first_name.strip()[:150],
        last_name=invitation.last_name.strip()[:150],
        email=email,
    )
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same username, invited at the same moment
        raise ClinicalValueError("username", f"the username {username} is taken") from None
    user.groups.set(Group.objects.filter(name__in=roles))
    Membership.objects.create(user=user, site=site)
    return user


@transaction.atomic
def deactivate_user(*, user: User, by: User) -> User:
    """Stop `user` signing in (their open sessions end at their next request). Refused for
    oneself and for the last active clinic administrator of a site."""
    site = _check_manages(by, user)
    if user.pk == by.pk:
        raise ClinicalValueError(
            "user", "you cannot deactivate your own account: another clinic administrator can"
        )
    if not user.is_active:
        raise ClinicalValueError("user", f"{name_of(user)} is already deactivated")
    _refuse_leaving_no_administrator(user, "deactivate this account")
    user.is_active = False
    user.save(update_fields=["is_active"])
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.STAFF, site=site, obj=user,
        reason="deactivated",
    )  # fmt: skip
    return user


@transaction.atomic
def reactivate_user(*, user: User, by: User) -> User:
    """Let a deactivated account sign in again (with its password as it was)."""
    site = _check_manages(by, user)
    if user.is_active:
        raise ClinicalValueError("user", f"{name_of(user)} is active already")
    user.is_active = True
    user.save(update_fields=["is_active"])
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.STAFF, site=site, obj=user,
        reason="reactivated",
    )  # fmt: skip
    return user


@transaction.atomic
def reset_password(*, user: User, by: User, now: dt.datetime) -> OutboxMessage:
    """Make `user`'s password unusable at once (a password that may be known stops working)
    and send a set-password link to their e-mail. Refused for a deactivated account (reactivate
    it first) and for one with no e-mail address."""
    site = _check_manages(by, user)
    if not user.is_active:
        raise ClinicalValueError("user", f"{name_of(user)} is deactivated: reactivate first")
    if not user.email:
        raise ClinicalValueError("user", f"{name_of(user)} has no e-mail address for the link")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    message = _send_link(user, site, invited=False, now=now)
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.STAFF, site=site, obj=user,
        reason="password reset",
    )  # fmt: skip
    return message


@transaction.atomic
def unlock(*, user: User, by: User, now: dt.datetime) -> User:
    """End `user`'s sign-in lockout now (sustain.accounts.lockout; SEC-10), audited. Refused
    when they are not locked out."""
    site = _check_manages(by, user)
    if lockout.locked_until(user.get_username(), now) is None:
        raise ClinicalValueError("user", f"{name_of(user)} is not locked out")
    AccessAttempt.objects.filter(username=user.get_username()).delete()
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.STAFF, site=site, obj=user,
        reason="sign-in unlocked",
    )  # fmt: skip
    return user


@transaction.atomic
def change_roles(*, user: User, roles: set[str], by: User) -> User:
    """Give `user` exactly `roles`. Refused: giving oneself a role one does not hold (another
    administrator must), no role at all (deactivate instead), no change, and taking the
    clinic administrator role from the last active one of a site."""
    site = _check_manages(by, user)
    wanted = _roles(roles)
    current = set(user.roles)
    added = [role for role in wanted if role not in current]
    if user.pk == by.pk and added:
        labels = ", ".join(role.label.lower() for role in added)
        raise ClinicalValueError(
            "roles", f"you cannot give yourself a role ({labels}): another clinic administrator can"
        )
    if set(wanted) == current:
        raise ClinicalValueError("roles", f"{name_of(user)} has these roles already")
    if Role.CLINIC_ADMIN in current and Role.CLINIC_ADMIN not in wanted:
        _refuse_leaving_no_administrator(user, "take the clinic administrator role away")
    user.groups.set(Group.objects.filter(name__in=wanted))
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.STAFF, site=site, obj=user,
        reason=f"roles {'+'.join(wanted)}"[:40],
    )  # fmt: skip
    return user


@transaction.atomic
def reset_second_factor(*, user: User, by: User) -> User:
    """Delete `user`'s second factor (sustain.accounts.mfa): their next sign-in asks them to
    enrol again, and their sessions that passed with the old one end at their next request.
    Refused for oneself (another clinic administrator can) and for someone not enrolled."""
    site = _check_manages(by, user)
    if user.pk == by.pk:
        raise ClinicalValueError(
            "user", "you cannot reset your own second factor: another clinic administrator can"
        )
    if mfa.enrolled_device(user) is None:
        raise ClinicalValueError("user", f"{name_of(user)} has no second factor to reset")
    mfa.remove_devices(user)
    record_event(
        actor=by, action=AuditAction.DELETE, category=DataCategory.STAFF, site=site, obj=user,
        reason="second factor reset",
    )  # fmt: skip
    return user
