"""/healthz and the worker's heartbeat (issue 14 part 8; sustain.accounts.health): a real
`sustain worker` process beats, a real unreachable database is reported."""

import datetime as dt
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from sustain.accounts import health
from sustain.accounts.models import WorkerHeartbeat

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[3]


def test_fresh_heartbeat_is_healthy_without_a_sign_in(db):
    health.beat()
    response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (200, {"database": "ok", "worker": "ok"})
    assert "no-cache" in response["Cache-Control"]


def test_no_worker_ever_is_503_naming_the_worker(db):
    response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (
        503,
        {"database": "ok", "worker": "never started"},
    )


def test_a_stale_heartbeat_is_503(db, settings):
    health.beat(
        now=timezone.now() - dt.timedelta(seconds=settings.SUSTAIN_WORKER_STALE_SECONDS + 1)
    )
    response = Client().get("/healthz")
    assert (response.status_code, response.json()["worker"]) == (503, "stale")
    health.beat()
    assert Client().get("/healthz").status_code == 200


def test_only_get_and_head(db):
    health.beat()
    assert Client().head("/healthz").status_code == 200
    assert Client().post("/healthz").status_code == 405


def test_an_unreachable_database_is_503_naming_the_database():
    code = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client(HTTP_HOST='127.0.0.1').get('/healthz'); "
        "print(r.status_code, r.content.decode())"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code],
        env=os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "sustain.settings",
            "PYTHONPATH": str(ROOT / "src"),
            # Nothing listens on port 1: the connection is refused, as for a stopped server.
            "DATABASE_URL": "postgres://postgres@127.0.0.1:1/sustain?connect_timeout=2",
            "SUSTAIN_LOG_LEVEL": "CRITICAL",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.stdout.strip() == '503 {"database": "unreachable", "worker": "unknown"}', (
        done.stderr
    )


def database_env() -> dict[str, str]:
    """The environment that points a subprocess at this test's database."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return {"SUSTAIN_SQLITE_PATH": str(name)}
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return {"DATABASE_URL": urllib.parse.urlunsplit(url._replace(path=f"/{name}"))}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_process_beats_and_healthz_sees_it(settings):
    assert Client().get("/healthz").status_code == 503
    worker = subprocess.Popen(
        [sys.executable, "-m", "sustain.cli", "worker"],
        env=os.environ
        | database_env()
        | {
            "DJANGO_SETTINGS_MODULE": "sustain.settings",
            "PYTHONPATH": str(ROOT / "src"),
            "SUSTAIN_WORKER_HEARTBEAT_SECONDS": "1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not WorkerHeartbeat.objects.exists() and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            time.sleep(0.2)
        first = WorkerHeartbeat.objects.get()
        assert first.pid == worker.pid
        response = Client().get("/healthz")
        assert (response.status_code, response.json()) == (200, {"database": "ok", "worker": "ok"})
        time.sleep(2.5)  # it keeps beating
        assert WorkerHeartbeat.objects.get().beat_at > first.beat_at
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    settings.SUSTAIN_WORKER_STALE_SECONDS = 1
    time.sleep(1.5)  # the worker is gone: its last beat grows stale
    assert Client().get("/healthz").json()["worker"] == "stale"
