"""The production server as deployed (issue 14 part 8): gunicorn with deploy/gunicorn.conf.py,
SUSTAIN_DEBUG=0, collected static files served by whitenoise, /healthz; and the example
environment file names every setting."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from sustain.accounts import health
from tests.sustain.accounts.test_health import database_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_the_example_environment_names_every_production_setting():
    settings_py = (ROOT / "src/sustain/settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"(SUSTAIN_\w+)"', settings_py))
    read |= set(re.findall(r'environ.get\("(SUSTAIN_\w+)"', settings_py))
    read -= {"SUSTAIN_TEST_SQLITE_PATH", "SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR"}  # not production
    example = (ROOT / "deploy/sustain.env.example").read_text()
    named = set(re.findall(r"^#?(SUSTAIN_\w+)=", example, re.MULTILINE))
    assert read, "the settings file is read"
    assert read - named == set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    # The header the TLS proxy adds. Loopback http only.
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_gunicorn_serves_pages_static_files_and_healthz_in_production_mode(tmp_path):
    health.beat()
    connection.close()
    env = (
        os.environ
        | database_env()
        | {
            "DJANGO_SETTINGS_MODULE": "sustain.settings",
            "PYTHONPATH": str(ROOT / "src"),
            "SUSTAIN_DEBUG": "0",
            "SUSTAIN_SECRET_KEY": "k" * 60,
            "SUSTAIN_AUDIT_KEY": "a" * 60,
            "SUSTAIN_ALLOWED_HOSTS": "127.0.0.1",
            "SUSTAIN_STATIC_ROOT": str(tmp_path / "static"),
            "SUSTAIN_WEB_WORKERS": "1",
            "SUSTAIN_WEB_THREADS": "2",
            # The beat above stays fresh however slowly a loaded machine starts the server.
            "SUSTAIN_WORKER_STALE_SECONDS": "3600",
        }
    )
    subprocess.run(  # noqa: S603 - the project's own command
        [BIN / "sustain", "collectstatic", "--no-input", "--verbosity", "0"], env=env, check=True
    )
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - the installed gunicorn, the repository's config
        [BIN / "gunicorn", "-c", ROOT / "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, body = get(f"{base}/healthz")
                break
            except urllib.error.URLError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert (status, body) == (200, b'{"database": "ok", "worker": "ok"}')
        status, headers, page = get(f"{base}/accounts/login/")
        assert status == 200
        css = re.search(rb'href="(/static/sustain\.[0-9a-f]{12}\.css)"', page)
        assert css, "the page links the hashed copy collectstatic made"
        status, headers, _ = get(base + css.group(1).decode())
        assert status == 200
        assert headers["Cache-Control"] == "max-age=315360000, public, immutable"
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        server.terminate()
        server.wait(timeout=30)
