"""Sign-in lockout (SEC-10), with django-axes (settings: AXES_*, from SUSTAIN_LOCKOUT_FAILURES and
SUSTAIN_LOCKOUT_MINUTES).

Wrong passwords are counted per user name, from any address: at SUSTAIN_LOCKOUT_FAILURES that
user name is refused, even with the right password, until SUSTAIN_LOCKOUT_MINUTES after the last
counted failure; then it works again by itself. Nobody else is affected, so a clinic whose staff
share one address is not locked as a whole. The person sees a plain page saying until when
(accounts.views.locked_out_page); a clinic administrator can unlock sooner (users.unlock).
Failed sign-ins, lockouts and unlocks are audited (AUD-02; accounts.signals, users.unlock).
"""

import datetime as dt

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum


def locked_until(username: str, now: dt.datetime) -> dt.datetime | None:
    """When the lockout of `username` ends by itself, or None when it is not locked out. (At
    the latest: failures counted from several addresses may expire a little sooner.)"""
    cool_off: dt.timedelta = settings.AXES_COOLOFF_TIME
    counted = AccessAttempt.objects.filter(username=username, attempt_time__gt=now - cool_off)
    totals = counted.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
    if (totals["failures"] or 0) < settings.AXES_FAILURE_LIMIT:
        return None
    last: dt.datetime = totals["last"]
    return last + cool_off
