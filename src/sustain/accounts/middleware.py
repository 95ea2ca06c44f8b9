import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from sustain.accounts import context, mfa, web
from sustain.accounts.access import sites_for_user
from sustain.accounts.addresses import client_address
from sustain.accounts.models import User
from sustain.accounts.passwords import PasswordChecksBusy
from sustain_core.errors import ClinicalValueError

LOGIN_AT_KEY = "sustain_login_at"
# The user's sites and their time zones, [[site id, IANA name], ...] in the order
# accounts.access.chosen_site picks from; stored at sign-in (accounts.signals).
SITE_ZONES_KEY = "sustain_site_zones"

Handler = Callable[[HttpRequest], HttpResponse]


class RequestIdMiddleware:
    """Give each request an id (echoed as X-Request-ID) and expose it to the audit trail."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex
        token = context.current.set(
            context.RequestContext(ip=client_address(request), request_id=request_id)
        )
        try:
            response = self.get_response(request)
        finally:
            context.current.reset(token)
        response["X-Request-ID"] = request_id
        return response


class SessionLifetimeMiddleware:
    """End a session after its absolute lifetime, however active (ASVS 7.3.2; 12 h default).

    The idle timeout is Django's own: SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST.
    The FHIR API (sustain.interop) answers the ended session itself: a 401 OperationOutcome.
    """

    FHIR = "/fhir/"

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            login_at = request.session.get(LOGIN_AT_KEY)
            limit = dt.timedelta(seconds=settings.SUSTAIN_SESSION_ABSOLUTE_SECONDS)
            if login_at is None or timezone.now() - dt.datetime.fromisoformat(login_at) > limit:
                logout(request)
                if request.path.startswith(self.FHIR):  # no page to go to: its own 401
                    return self.get_response(request)
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)


class SecondFactorMiddleware:
    """A signed-in person who has not passed the second factor (sustain.accounts.mfa) sees only
    the enrol, verify and sign-out pages: everything else sends them to enrol (no device yet) or
    to type a code. A session that passed with a device since reset ends here (SEC-05, SEC-07).
    Off only in the demo (mfa.passed)."""

    OPEN = ("accounts:second_factor_enrol", "accounts:second_factor_verify", "accounts:logout")
    # These answer 401 in their own error shape (sustain.api.StaffSession, sustain.interop.auth)
    API = ("/api/", "/fhir/")

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Read before request.user: django-otp's lazy check of the user drops the session's
        # device id once that device is gone. It comes right after OTPMiddleware for that.
        passed_with = request.session.get(DEVICE_ID_SESSION_KEY)
        user = request.user
        if not user.is_authenticated or mfa.passed(user):
            return self.get_response(request)
        if passed_with:  # it passed with a device since reset: the session ends
            logout(request)
            return redirect(settings.LOGIN_URL)
        open_paths = {reverse(name) for name in self.OPEN}
        if request.path in open_paths or request.path.startswith(self.API):
            return self.get_response(request)
        page = (
            "accounts:second_factor_verify"
            if mfa.enrolled_device(user) is not None
            else "accounts:second_factor_enrol"
        )
        return redirect(f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}")


class SecurityHeadersMiddleware:
    """Content security policy outside debug; no caching of anything a signed-in user sees."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not settings.DEBUG:
            response.setdefault("Content-Security-Policy", settings.SUSTAIN_CSP)
        if request.user.is_authenticated:
            response["Cache-Control"] = "no-store"
        return response


def site_zones(user: User) -> list[list[object]]:
    """The user's sites and their time zones, as SITE_ZONES_KEY holds them."""
    return [list(zone) for zone in sites_for_user(user).values_list("pk", "timezone")]


class SiteTimeZoneMiddleware:
    """Every time a staff page shows is in a site's time zone, which base.html names.

    The zone is the chosen site's: the page's ?site= if it is one of the user's sites, else
    their first, as accounts.access.chosen_site picks. The sites' zones are read from the
    session (stored at sign-in), so this costs no query. A page about one patient, visit or
    record shows its site's zone instead (accounts.web.show_times_in). Without a site: UTC.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zones = None
        if request.user.is_authenticated:
            zones = request.session.get(SITE_ZONES_KEY)
            if zones is None:  # a session from before sign-in stored them
                zones = site_zones(request.user)
                request.session[SITE_ZONES_KEY] = zones
        if zones:
            wanted = request.GET.get("site")
            name = next((tz for pk, tz in zones if str(pk) == wanted), zones[0][1])
            timezone.activate(zoneinfo.ZoneInfo(name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class PasswordChecksBusyMiddleware:
    """Too many password checks at once (sustain.accounts.passwords): a plain "busy, try again
    in a moment" page (503, Retry-After), never a 500; nothing was changed."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, PasswordChecksBusy):
            return None
        response = render(request, "busy.html", status=503)
        response["Retry-After"] = "5"
        return response


class RefusedFormAuditMiddleware:
    """A staff form refused as typed (its view answers 400 before any service ran: a date out
    of bounds, a missing field) is one audit event too, "refused: form", like a service's
    refusal, which sustain.accounts.web.audit_refusal records with the field it names (issue
    14, AUD-02). The API audits its own refusals (sustain.api)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.method == "POST"
            and response.status_code == 400
            and request.user.is_authenticated
            and not request.path.startswith("/api/")
            and not getattr(request, "refusal_audited", False)
        ):
            web.audit_refusal(request, ClinicalValueError("form", "refused as typed"))
        return response
