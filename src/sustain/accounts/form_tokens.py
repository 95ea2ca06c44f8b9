"""One-time form tokens: a staff form sent twice writes once (issue 14 part 7).

Every POST form carries `{% form_token %}` next to `{% csrf_token %}` (a built-in tag,
sustain.accounts.templatetags.form_tokens): a hidden `form_token` naming the signed-in user and
a random nonce, signed with the secret key (nothing is stored when a page is shown).
`FormTokenMiddleware` consumes it on POST by inserting the nonce into `FormSubmission`, whose
unique column lets exactly one request win, even two at once on two threads. The second
submission of the same rendered form never reaches the view: it is sent where the first one led
("This form was already sent …"), or told so on a page when the first is still running.

Deny by default: a signed-in POST without a valid token is refused (400, nothing changed). Not
checked: the API (`/api/`, its Idempotency-Key makes retries safe), signing in and out and the
second factor (a repeat is harmless, and no token can exist before sign-in), the set-password
link and the SMS provider's reports (no session: their link or signature is single-use or
verified), the patient portal and kiosk (single-use links and codes of their own), and views
marked `form_token_exempt` (searches: they only read). A view that fails (5xx) gives its token
back, so the retry is not refused.
"""

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from sustain.accounts.models import FormSubmission

FIELD = "form_token"
_SALT = "sustain.accounts.form_tokens"
EXEMPT_PREFIXES = ("/api/",)
EXEMPT_NAMESPACES = frozenset({"portal"})
EXEMPT_VIEWS = frozenset(
    {
        "accounts:login",
        "accounts:logout",
        "accounts:second_factor_verify",
        "accounts:second_factor_enrol",
        "accounts:set_password",
        "accounts:sms_status",
    }
)
ALREADY_SENT = "This form was already sent; it was recorded once. Here is the result."
STILL_RUNNING = (
    "This form was already sent and is being recorded once; open the page again in a moment "
    "to see the result."
)
REFUSED = (
    "This form could not be accepted: it did not come from a page of Sustain shown to you, or "
    "it is older than your session. Nothing was changed. Open the page again and send the form "
    "from there."
)

V = TypeVar("V", bound=Callable[..., HttpResponse])


def issue(user_id: int) -> str:
    """A new token for one rendered form of user `user_id`."""
    return signing.TimestampSigner(salt=_SALT).sign(f"{user_id}.{secrets.token_hex(16)}")


def form_token_exempt(view: V) -> V:
    """Mark a view whose POST only reads (a search), so it needs no token."""
    view.form_token_exempt = True  # type: ignore[attr-defined]
    return view


def _nonce(request: HttpRequest) -> str | None:
    """The nonce of the request's token if it is genuine, recent and the signed-in user's."""
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(
            request.POST.get(FIELD, ""), max_age=settings.SUSTAIN_SESSION_ABSOLUTE_SECONDS
        )
    except signing.BadSignature:  # also SignatureExpired
        return None
    user_id, _, nonce = value.partition(".")
    return nonce if user_id == str(request.user.pk) and len(nonce) == 32 else None


class FormTokenMiddleware:
    """Consume the form token of every signed-in POST before its view (module docstring).

    Last in MIDDLEWARE: it needs the user (after the second factor) and messages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        nonce: str | None = getattr(request, "_form_token_nonce", None)
        if nonce is not None:
            if response.status_code >= 500:  # nothing was recorded: the token is given back
                FormSubmission.objects.filter(nonce=nonce).delete()
            elif 300 <= response.status_code < 400 and response.get("Location"):
                FormSubmission.objects.filter(nonce=nonce).update(result_url=response["Location"])
        return response

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if request.method != "POST" or not request.user.is_authenticated:
            return None
        match = request.resolver_match
        if (
            request.path_info.startswith(EXEMPT_PREFIXES)
            or getattr(view, "form_token_exempt", False)
            or (match is not None and match.namespace in EXEMPT_NAMESPACES)
            or (match is not None and match.view_name in EXEMPT_VIEWS)
        ):
            return None
        nonce = _nonce(request)
        if nonce is None:
            return render(request, "form_token_refused.html", {"message": REFUSED}, status=400)
        try:
            with transaction.atomic():
                FormSubmission.objects.create(nonce=nonce, user=request.user, at=timezone.now())
        except IntegrityError:
            return self.already_sent(request, nonce)
        request._form_token_nonce = nonce  # type: ignore[attr-defined]
        return None

    def already_sent(self, request: HttpRequest, nonce: str) -> HttpResponse:
        first = FormSubmission.objects.filter(nonce=nonce).values_list("result_url", flat=True)
        result_url = first.first() or ""
        if result_url and url_has_allowed_host_and_scheme(result_url, allowed_hosts=None):
            messages.info(request, ALREADY_SENT)
            return HttpResponseRedirect(result_url, status=303)
        return render(
            request,
            "form_token_refused.html",
            {"message": STILL_RUNNING, "again": request.get_full_path()},
            status=409,
        )
