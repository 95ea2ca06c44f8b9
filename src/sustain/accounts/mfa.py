"""The second factor of every staff account (issue 14, item 1; SEC-05 … SEC-07), with django-otp.

A person proves it with a TOTP code from an authenticator app, or with one of ten single-use
recovery codes (django-otp's static device) shown once when they enrol. Enrolment happens at the
first sign-in after the password (SecondFactorMiddleware lets a signed-in person who has not
passed the second factor see only the enrol, verify and sign-out pages); every later sign-in
asks for a code. A code works once: django-otp's TOTP device refuses a time step already used,
and a recovery code is deleted when it is used; it also slows down repeated wrong codes.

The status (`second_factor`) is read from the confirmed devices themselves, so it can never
disagree with them. An administrator's reset (users.reset_second_factor) deletes the devices: the
person's sessions that passed with them end at their next request (the middleware signs them
out), and their next sign-in asks them to enrol again. Enrolment, wrong codes and resets are
audited.
"""

import base64

import segno
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import User
from sustain_core.errors import ClinicalValueError

NOT_ENROLLED = "not enrolled: they enrol at their next sign-in"
RECOVERY_CODES = 10
APP_DEVICE = "authenticator app"
RECOVERY_DEVICE = "recovery codes"


def passed(user: object) -> bool:
    """Whether this request's signed-in user passed the second factor (django-otp's middleware
    sets `otp_device` from the device the session names, if it still exists), or the demo
    runs without it (SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR, refused outside debug)."""
    exempt: bool = settings.SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR
    return exempt or getattr(user, "otp_device", None) is not None


def enrolled_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def second_factors(users: list[User]) -> dict[int, str]:
    """How each of `users` proves a second factor at sign-in, and since when (two queries)."""
    since = dict(
        TOTPDevice.objects.filter(user__in=users, confirmed=True).values_list(
            "user_id", "created_at"
        )
    )
    left = dict(
        StaticToken.objects.filter(device__user__in=users, device__confirmed=True)
        .values("device__user_id")
        .annotate(n=Count("id"))
        .values_list("device__user_id", "n")
    )
    here = timezone.get_current_timezone()  # the page's, which base.html names
    return {
        user.pk: (
            f"enrolled {since[user.pk].astimezone(here):%Y-%m-%d %H:%M} (authenticator app; "
            f"{left.get(user.pk, 0)} recovery codes left)"
            if user.pk in since
            else NOT_ENROLLED
        )
        for user in users
    }


def second_factor(user: User) -> str:
    """How `user` proves a second factor at sign-in, and since when."""
    return second_factors([user])[user.pk]


def pending_device(user: User) -> TOTPDevice:
    """The authenticator key being enrolled: one unconfirmed device, made once and kept until a
    code from it is typed (so reloading the page shows the same key)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=APP_DEVICE, confirmed=False)


def secret_of(device: TOTPDevice) -> str:
    """The key as an authenticator app asks for it when typed in (base32, no padding)."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// link as an inline SVG QR code (no network, no image file)."""
    return str(segno.make(device.config_url, error="m").svg_inline(scale=4))


def _code(token: str) -> str:
    return "".join(token.split())


def enrol(request: HttpRequest, user: User, token: str) -> list[str]:
    """Confirm the pending authenticator key with a code from it, make ten recovery codes,
    and mark this session as having passed the second factor. Returns the recovery codes
    (shown once). Refused: already enrolled, or a wrong code (audited; the wrong try counts
    towards django-otp's slow-down, so it is kept outside the enrolment's transaction)."""
    if enrolled_device(user) is not None:
        raise ClinicalValueError("token", "you are enrolled already: sign in with a code")
    device = pending_device(user)
    _refuse_while_throttled(user, [device])
    if not device.verify_token(_code(token)):
        _refused(user, "wrong enrolment code")
        raise ClinicalValueError(
            "token", "that code is not right: type the 6 digits the app shows now"
        )
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
        record_event(
            actor=user, action=AuditAction.CREATE, category=DataCategory.AUTHENTICATION,
            obj=device, reason="second factor enrolled",
        )  # fmt: skip
    otp_login(request, device)
    return codes


def verify(request: HttpRequest, user: User, token: str) -> Device:
    """Pass the second factor with a code from the app or a recovery code (each used once).
    Refused, and audited, with a wrong or used code."""
    code = _code(token)
    devices = list(devices_for_user(user, confirmed=True))
    _refuse_while_throttled(user, devices)
    for device in devices:
        if device.verify_is_allowed()[0] and device.verify_token(code):
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                record_event(
                    actor=user, action=AuditAction.LOGIN, category=DataCategory.AUTHENTICATION,
                    obj=device, reason="recovery code used",
                )  # fmt: skip
            return device
    _refused(user, "wrong second-factor code")
    raise ClinicalValueError(
        "token", "that code is not right or was used already: type the code the app shows now"
    )


def _refuse_while_throttled(user: User, devices: list[Device]) -> None:
    """After a wrong code, django-otp makes the next try wait (1 s, 2 s, 4 s … doubling): a
    code typed before then is refused without being checked."""
    if not any(device.verify_is_allowed()[0] for device in devices):
        _refused(user, "second factor throttled")
        raise ClinicalValueError(
            "token", "too many wrong codes: wait a minute, then type the code the app shows now"
        )


def _refused(user: User, reason: str) -> None:
    record_event(
        actor=user, action=AuditAction.LOGIN_FAILED, category=DataCategory.AUTHENTICATION,
        outcome=AuditOutcome.DENIED, reason=reason,
    )  # fmt: skip


def remove_devices(user: User) -> None:
    """Delete `user`'s authenticator and recovery codes (sustain.accounts.users.reset_second_factor
    checks who may, and audits it)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
