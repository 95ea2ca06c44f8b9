"""Sign-in lockout (SEC-10), with django-axes (settings: AXES_*, from SUSTAIN_LOCKOUT_FAILURES and
SUSTAIN_LOCKOUT_MINUTES).

Wrong passwords are counted per user name, from any address: at SUSTAIN_LOCKOUT_FAILURES that
user name is refused, even with the right password, until SUSTAIN_LOCKOUT_MINUTES after the last
counted failure; then it works again by itself. Nobody else is affected, so a clinic whose staff
share one address is not locked as a whole. The person sees a plain page saying until when
(`locked_out_page`); a clinic administrator can unlock sooner (users.unlock). Failed sign-ins,
lockouts and unlocks are audited (AUD-02; accounts.signals, users.unlock).
"""

import datetime as dt
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def locked_until(username: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the lockout of `username` ends by itself, or None when it is not locked out. (At
    the latest: failures counted from several addresses may expire a little sooner.)"""
    now = now or timezone.now()
    cool_off: dt.timedelta = settings.AXES_COOLOFF_TIME
    counted = AccessAttempt.objects.filter(username=username, attempt_time__gt=now - cool_off)
    totals = counted.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
    if (totals["failures"] or 0) < settings.AXES_FAILURE_LIMIT:
        return None
    last: dt.datetime = totals["last"]
    return last + cool_off


def locked_out_page(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: a plain page saying until when (429)."""
    username = ""
    if isinstance(credentials, dict):
        username = str(credentials.get("username") or "")
    username = username or request.POST.get("username", "")
    until = locked_until(username) or timezone.now() + settings.AXES_COOLOFF_TIME
    context = {"until": until, "failures": settings.AXES_FAILURE_LIMIT}
    response = render(request, "accounts/locked_out.html", context, status=429)
    response["Retry-After"] = str(max(1, int((until - timezone.now()).total_seconds())))
    return response
