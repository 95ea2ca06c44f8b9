"""/healthz and the worker's heartbeat (issue 14 part 8).

`sustain worker` starts `start_heartbeat()`: a daemon thread that writes the host's
`WorkerHeartbeat` row every SUSTAIN_WORKER_HEARTBEAT_SECONDS (and prunes spent form tokens,
sustain.accounts.form_tokens). `/healthz` answers without a sign-in and without patient data:
200 {"database": "ok", "worker": "ok"} when the database answers and some worker beat within
SUSTAIN_WORKER_STALE_SECONDS, else 503 naming the part that failed, for a load balancer or
monitor.
"""

import datetime as dt
import logging
import os
import socket
import threading

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Max
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from sustain.accounts.models import FormSubmission, WorkerHeartbeat

logger = logging.getLogger(__name__)


def beat(now: dt.datetime | None = None) -> None:
    """Record that this host's worker is alive now; drop form tokens no session can still use."""
    now = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        host=socket.gethostname()[:255], defaults={"pid": os.getpid(), "beat_at": now}
    )
    expired = now - dt.timedelta(seconds=settings.SUSTAIN_SESSION_ABSOLUTE_SECONDS)
    FormSubmission.objects.filter(at__lt=expired).delete()


def _beat_forever(stop: threading.Event) -> None:
    while True:
        try:
            beat()
        except DatabaseError:  # the database is away: /healthz says so; try again next beat
            logger.exception("worker heartbeat failed")
        finally:
            connection.close()
        if stop.wait(settings.SUSTAIN_WORKER_HEARTBEAT_SECONDS):
            return


def start_heartbeat() -> threading.Event:
    """Beat now and then every SUSTAIN_WORKER_HEARTBEAT_SECONDS in a daemon thread; set the
    returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=_beat_forever, args=(stop,), name="heartbeat", daemon=True).start()
    return stop


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and a worker beat recently; 503 naming what failed."""
    try:
        last = WorkerHeartbeat.objects.aggregate(last=Max("beat_at"))["last"]
    except DatabaseError:
        return JsonResponse({"database": "unreachable", "worker": "unknown"}, status=503)
    stale = timezone.now() - dt.timedelta(seconds=settings.SUSTAIN_WORKER_STALE_SECONDS)
    if last is None:
        return JsonResponse({"database": "ok", "worker": "never started"}, status=503)
    if last < stale:
        return JsonResponse({"database": "ok", "worker": "stale"}, status=503)
    return JsonResponse({"database": "ok", "worker": "ok"})
