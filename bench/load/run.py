"""The bounded loopback load test (TST-02): `make load` (or `python bench/load/run.py sqlite`).

For each database asked for (sqlite, postgres): a fresh database seeded with the demo clinic
(bench/load/seed.py), static files collected, the worker and gunicorn started as in production
(deploy/gunicorn.conf.py, SUSTAIN_DEBUG=0), then locust headless with 20 users for 60 s.
Prints p50/p95/max, requests and errors per database and fails (exit 1) unless p95 < 300 ms
and there are no errors. PostgreSQL: DATABASE_URL's server, database `sustain_load` (recreated).
"""

import csv
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
USERS, SECONDS, P95_BUDGET_MS = 20, 60, 300
PG = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def database(kind: str, scratch: Path) -> dict[str, str]:
    if kind == "sqlite":
        return {"SUSTAIN_SQLITE_PATH": str(scratch / "load.sqlite3")}
    import psycopg  # noqa: PLC0415 - only for PostgreSQL

    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS sustain_load WITH (FORCE)")
        admin.execute("CREATE DATABASE sustain_load")
    return {
        "DATABASE_URL": urllib.parse.urlunsplit(
            urllib.parse.urlsplit(PG)._replace(path="/sustain_load")
        )
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer 200")


def run(kind: str) -> dict[str, str]:
    scratch = Path(tempfile.mkdtemp(prefix=f"sustain-load-{kind}-"))
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SUSTAIN_SQLITE_PATH"}}
    env = base | database(kind, scratch) | {"DJANGO_SETTINGS_MODULE": "sustain.settings"}
    env["PYTHONPATH"] = str(ROOT / "src")
    # One secret key for the seed and the server: the sessions the seed signs must hold.
    env["SUSTAIN_SECRET_KEY"] = "load-test-" + secrets.token_urlsafe(50)
    seed = scratch / "seed.json"
    subprocess.run(  # noqa: S603 - this interpreter, the repository's script
        [sys.executable, ROOT / "bench/load/seed.py", seed],
        env=env | {"SUSTAIN_DEBUG": "1"},
        check=True,
    )
    port = free_port()
    prod = env | {
        "SUSTAIN_DEBUG": "0",
        # As behind deploy/Caddyfile: the proxy's X-Forwarded-Proto is trusted.
        "SUSTAIN_TRUST_PROXY_HEADERS": "1",
        "SUSTAIN_AUDIT_KEY": "load-test-audit-" + secrets.token_urlsafe(50),
        "SUSTAIN_ALLOWED_HOSTS": "127.0.0.1",
        "SUSTAIN_STATIC_ROOT": str(scratch / "static"),
        "SUSTAIN_LOG_LEVEL": "WARNING",
        # Each gunicorn thread keeps its PostgreSQL connection (deploy/sustain.env.example).
        "SUSTAIN_DB_CONN_MAX_AGE": "60",
    }
    subprocess.run([BIN / "sustain", "collectstatic", "--no-input", "-v0"], env=prod, check=True)  # noqa: S603
    worker = subprocess.Popen([BIN / "sustain", "worker"], env=prod, stdout=subprocess.DEVNULL)  # noqa: S603
    web = subprocess.Popen(  # noqa: S603
        [BIN / "gunicorn", "-c", ROOT / "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
        env=prod,
        cwd=scratch,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 120)
        subprocess.run(  # noqa: S603
            [
                BIN / "locust",
                "-f",
                ROOT / "bench/load/locustfile.py",
                "--headless",
                "--host",
                f"http://127.0.0.1:{port}",
                "-u",
                str(USERS),
                "-r",
                str(USERS),
                "-t",
                f"{SECONDS}s",
                "--csv",
                scratch / "stats",
                "--only-summary",
                "--exit-code-on-error",
                "0",
            ],
            env=prod | {"SUSTAIN_LOAD_SEED": str(seed)},
            check=True,
        )
    finally:
        web.terminate()
        worker.terminate()
        web.wait(timeout=60)
        worker.wait(timeout=60)
    with (scratch / "stats_stats.csv").open() as f:
        rows = list(csv.DictReader(f))
    shutil.rmtree(scratch, ignore_errors=True)
    for row in rows:
        print(
            f"{kind}: {row['Name']}: {row['Request Count']} requests, {row['Failure Count']} "
            f"errors, p50 {row['50%']} ms, p95 {row['95%']} ms, "
            f"max {float(row['Max Response Time']):.0f} ms"
        )
    return next(row for row in rows if row["Name"] == "Aggregated")


def main() -> None:
    kinds = sys.argv[1:] or ["sqlite", "postgres"]
    results = {kind: run(kind) for kind in kinds}
    print(f"\n| {USERS} users, {SECONDS} s | " + " | ".join(kinds) + " |")
    print("| --- |" + " --- |" * len(kinds))
    for label, key in (("requests", "Request Count"), ("errors", "Failure Count"),
                       ("p50 (ms)", "50%"), ("p95 (ms)", "95%")):  # fmt: skip
        print(f"| {label} | " + " | ".join(results[k][key] for k in kinds) + " |")
    print(
        "| max (ms) | "
        + " | ".join(f"{float(results[k]['Max Response Time']):.0f}" for k in kinds)
        + " |"
    )
    failed = [
        kind for kind, row in results.items()
        if int(row["Failure Count"]) > 0 or float(row["95%"]) >= P95_BUDGET_MS
    ]  # fmt: skip
    if failed:
        raise SystemExit(f"over budget (p95 < {P95_BUDGET_MS} ms, 0 errors): {', '.join(failed)}")
    print(f"within budget: p95 < {P95_BUDGET_MS} ms and 0 errors on {', '.join(kinds)}")


if __name__ == "__main__":
    main()
