"""Series bookings per second over HTTP across a network of sites: `python bench/network.py`
(`make bench`; `python bench/network.py sqlite` for one database). Prints a Markdown table.

A network of 50 sites × 12 chairs in four US time zones, open Monday to Friday 08:00–18:00,
with nurse and prescriber shifts and phase staffing ratios as in bench/series_search.py, about
four weeks of series already booked at every site, and patients enrolled and waiting for
their induction series (seeded by bench/network_clinic.py). gunicorn serves it with
deploy/gunicorn.conf.py at SUSTAIN_DEBUG=0, behind no proxy but with its header (as
bench/load/run.py does), with 1, 2 and 4 worker processes × 4 threads. A pool of 24 client
threads, each a scheduler signed in past the second factor, books series through the API
(POST /api/v1/patients/{id}/series) over loopback for 6 s (after a 3 s warm-up per server):
spread over the 50 sites, then concentrated on one site (a site of its own per process count,
so each run starts from the same diary). No task worker runs: booking does not need one. The
server's CPU per series booked (its workers and, on PostgreSQL, the database's backends) is
printed too: on a shared machine series/s follows the load, CPU per series much less. After
each run the database is checked: no two visits overlap in a chair or for
a patient, no moment is understaffed where visits were booked, and the series booked are those
the server answered 201 for. 400 (no series fits) and 409 (taken meanwhile) are refusals,
counted apart; anything else is an error. Exit 1 when a check fails.

PostgreSQL: DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432), in a scratch
database created and dropped here; its rows are skipped when the server does not answer.
SQLite: a file in a temporary directory.
"""

import collections
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SCRATCH_DB = "sustain_bench_network"
PROCESSES = (1, 2, 4)  # must match network_clinic.RUNS
THREADS, CLIENTS, SECONDS, WARM_SECONDS = 4, 24, 6.0, 3.0
KINDS = ("postgres", "sqlite")
REFUSED = (400, 409)


def postgres(scratch: Path) -> dict[str, str] | None:
    """A fresh scratch database on DATABASE_URL's server; None when the server does not answer."""
    import psycopg  # noqa: PLC0415 - only for PostgreSQL

    try:
        with psycopg.connect(PG, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {SCRATCH_DB}")
    except psycopg.OperationalError:
        return None
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(PG)._replace(path=f"/{SCRATCH_DB}"))
    return {"DATABASE_URL": url, "SUSTAIN_DB_CONN_MAX_AGE": "60"}


def drop_postgres() -> None:
    import psycopg  # noqa: PLC0415 - only for PostgreSQL

    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, deadline: float) -> None:
    """Until the sign-in page answers 200 (not /healthz: without a task worker it answers 503,
    which the server logs)."""
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/accounts/login/", headers={"X-Forwarded-Proto": "https"})
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn on port {port} did not answer")


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each process (Linux /proc; a process gone is left out)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return used


def server_pids(master: int, kind: str) -> list[int]:
    """gunicorn's worker processes and, on PostgreSQL, the backends serving the scratch
    database: the CPU a run costs the server, apart from the clients and other work on the
    machine."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    pids = [int(pid) for pid in children]
    if kind == "postgres":
        import psycopg  # noqa: PLC0415 - only for PostgreSQL

        with psycopg.connect(PG, autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [SCRATCH_DB]
            ).fetchall()
        pids += [row[0] for row in rows]
    return pids


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings (a process started meanwhile counts whole)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


class Pool:
    """CLIENTS threads booking the waiting patients' series until SECONDS pass or none wait."""

    def __init__(self, port: int, seed: dict[str, Any], waiting: list[list[Any]]) -> None:
        self.port, self.seed = port, seed
        self.queue = collections.deque(waiting)
        self.lock = threading.Lock()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.latencies: list[float] = []
        self.problems: collections.Counter[str] = collections.Counter()

    def client(self, session: str, deadline: float) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",
            "Origin": f"https://127.0.0.1:{self.port}",
            "X-CSRFToken": self.seed["csrf"],
            # The production cookie names (sustain.settings: __Host- outside debug).
            "Cookie": f"__Host-sessionid={session}; __Host-csrftoken={self.seed['csrf']}",
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        while time.monotonic() < deadline:
            with self.lock:
                if not self.queue:
                    return
                patient, _, first_day = self.queue.popleft()
            body = json.dumps({"first_day": first_day})
            started = time.perf_counter()
            try:
                connection.request(
                    "POST", f"/api/v1/patients/{patient}/series", body=body, headers=headers
                )
                response = connection.getresponse()
                answer = response.read()
            except OSError as error:
                with self.lock:
                    self.statuses[0] += 1
                    self.problems[type(error).__name__] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                continue
            with self.lock:
                self.statuses[response.status] += 1
                self.latencies.append(time.perf_counter() - started)
                if response.status not in (201, *REFUSED):
                    self.problems[f"{response.status} {answer[:120]!r}"] += 1
        connection.close()

    def run(self, seconds: float) -> float:
        """Run the clients; the wall time from the start until the last answer."""
        started = time.monotonic()
        threads = [
            threading.Thread(target=self.client, args=(session, started + seconds))
            for session in self.seed["sessions"][:CLIENTS]
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - started


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def measure(kind: str, database: dict[str, str], scratch: Path, base: dict[str, str]) -> dict:
    """Seed one database, then the warm-up, spread and concentrated runs per process count."""
    env = base | database
    clinic = subprocess.Popen(  # noqa: S603 - this interpreter, the repository's script
        [sys.executable, ROOT / "bench/network_clinic.py"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert clinic.stdin is not None and clinic.stdout is not None  # noqa: S101 - pipes asked for
    started = time.monotonic()
    seed = json.loads(clinic.stdout.readline())
    print(
        f"{kind}: seeded {len(seed['sites'])} sites, {seed['existing']['series']:,} series "
        f"booked ({seed['existing']['visits']:,} visits), "
        f"{sum(len(w) for w in seed['waiting'].values()):,} patients waiting, "
        f"in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    results: dict[str, dict[int, dict]] = {"spread": {}, "concentrated": {}}
    for number, processes in enumerate(PROCESSES):
        port, booting = free_port(), time.monotonic()
        web = subprocess.Popen(  # noqa: S603 - gunicorn from this environment
            [BIN / "gunicorn", "-c", ROOT / "deploy/gunicorn.conf.py"],
            env=env | {
                "SUSTAIN_WEB_BIND": f"127.0.0.1:{port}",
                "SUSTAIN_WEB_WORKERS": str(processes),
                "SUSTAIN_WEB_THREADS": str(THREADS),
                "SUSTAIN_WEB_LOG_LEVEL": "warning",
            },
            cwd=scratch,
        )  # fmt: skip
        try:
            wait_up(port, time.monotonic() + 120)
            print(f"{kind}: {processes} × {THREADS} up in {time.monotonic() - booting:.1f} s")
            # Every worker process loads its code and opens its connections first.
            Pool(port, seed, seed["waiting"][f"warm-{number}"]).run(WARM_SECONDS)
            for label, run in (("spread", "spread"), ("concentrated", "one")):
                waiting = seed["waiting"][f"{run}-{number}"]
                pool = Pool(port, seed, waiting)
                load = os.getloadavg()[0]
                before = cpu_seconds(server_pids(web.pid, kind))
                wall = pool.run(SECONDS)
                cpu = cpu_between(before, cpu_seconds(server_pids(web.pid, kind)))
                clinic.stdin.write(json.dumps({"patients": [w[0] for w in waiting]}) + "\n")
                clinic.stdin.flush()
                found = json.loads(clinic.stdout.readline())
                booked = pool.statuses[201]
                refused = sum(pool.statuses[s] for s in REFUSED)
                errors = sum(pool.statuses.values()) - booked - refused
                result = {
                    "rate": booked / wall, "booked": booked, "refused": refused,
                    "errors": errors, "median_ms": median(pool.latencies) * 1000,
                    "cpu_ms": cpu / booked * 1000 if booked else 0.0, "load": load,
                    "problems": dict(pool.problems), **found,
                    "ok": found["series"] == booked and not any(
                        found[k] for k in ("chair_overlaps", "patient_overlaps", "understaffed")
                    ),
                }  # fmt: skip
                results[label][processes] = result
                print(
                    f"{kind}, {label}, {processes} × {THREADS}: {booked} series in {wall:.1f} s "
                    f"= {result['rate']:.1f}/s (median {result['median_ms']:.0f} ms, server CPU "
                    f"{result['cpu_ms']:.0f} ms a series, load average {load:.1f} before), "
                    f"{refused} refused, {errors} errors; in the database {found['series']} "
                    f"series, {found['chair_overlaps']} chair and {found['patient_overlaps']} "
                    f"patient overlaps, {found['understaffed']} understaffed moments"
                    + (f"; {dict(pool.problems)}" if pool.problems else ""),
                    flush=True,
                )
        finally:
            web.terminate()
            web.wait(timeout=60)
    clinic.stdin.close()
    chain = json.loads(clinic.stdout.readline())
    clinic.wait(timeout=60)
    print(f"{kind}: audit chain whole: {chain['audit_chain_ok']} ({chain['rows']:,} rows)")
    return {"runs": results, "chain_ok": chain["audit_chain_ok"]}


def table(results: dict[str, dict | None]) -> bool:
    """Print the tables; True when every check held."""
    heads = " | ".join(f"{p} × {THREADS}" for p in PROCESSES)
    rows: list[tuple[str, dict | None, str]] = [
        (f"{'PostgreSQL' if kind == 'postgres' else 'SQLite'}, {label}", measured, label)
        for kind, measured in results.items()
        for label in ("spread", "concentrated")
    ]
    print(f"\n| Series bookings/s (refused) | {heads} | errors | {PROCESSES[-1]} ÷ 1 | checks |")
    print("| --- |" + " ---: |" * (len(PROCESSES) + 2) + " --- |")
    ok = True
    for name, measured, label in rows:
        if measured is None:
            print(f"| {name} |" + " – |" * (len(PROCESSES) + 2) + " skipped |")
            continue
        runs = measured["runs"][label]
        cells = " | ".join(f"{runs[p]['rate']:.1f} ({runs[p]['refused']})" for p in PROCESSES)
        first, last = runs[PROCESSES[0]]["rate"], runs[PROCESSES[-1]]["rate"]
        ratio = f"{last / first:.2f}×" if first else "–"
        good = all(run["ok"] for run in runs.values()) and measured["chain_ok"]
        ok &= good
        errors = sum(run["errors"] for run in runs.values())
        print(f"| {name} | {cells} | {errors} | {ratio} | {'ok' if good else 'FAILED'} |")
    print(f"\n| Server CPU per series booked (ms) | {heads} |")
    print("| --- |" + " ---: |" * len(PROCESSES))
    for name, measured, label in rows:
        if measured is not None:
            runs = measured["runs"][label]
            print(f"| {name} | " + " | ".join(f"{runs[p]['cpu_ms']:.0f}" for p in PROCESSES) + " |")
    if any(measured is None for measured in results.values()):
        print(f"\nPostgreSQL did not answer at {PG}: its rows were skipped.")
    print(
        f"\n{CLIENTS} clients for {SECONDS:.0f} s per run against gunicorn (gthread, processes × "
        f"{THREADS} threads); checks: no chair or patient overlap, no understaffed moment, the "
        "series in the database = the 201 answers, the audit chain whole. Server CPU: gunicorn's "
        "workers and, on PostgreSQL, the scratch database's backends (a shared machine's "
        "contention shows in series/s, much less in CPU per series)."
    )
    return ok


def main() -> None:
    started = time.monotonic()
    kinds = [k for k in KINDS if k in sys.argv[1:]] or list(KINDS)
    scratch = Path(tempfile.mkdtemp(prefix="sustain-network-"))
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SUSTAIN_SQLITE_PATH"}}
    base |= {
        "PYTHONPATH": str(ROOT / "src"),
        "DJANGO_SETTINGS_MODULE": "sustain.settings",
        "SUSTAIN_DEBUG": "0",
        # One secret key for the seed and the server: the sessions the seed signs must hold.
        "SUSTAIN_SECRET_KEY": "network-bench-" + secrets.token_urlsafe(50),
        "SUSTAIN_AUDIT_KEY": "network-bench-audit-" + secrets.token_urlsafe(50),
        # As behind deploy/Caddyfile: the proxy's X-Forwarded-Proto is trusted.
        "SUSTAIN_TRUST_PROXY_HEADERS": "1",
        "SUSTAIN_ALLOWED_HOSTS": "127.0.0.1",
        "SUSTAIN_STATIC_ROOT": str(scratch / "static"),
        "SUSTAIN_VAR_DIR": str(scratch / "var"),
        # Errors only: /healthz answers 503 without a task worker, and sign-ins are logged.
        "SUSTAIN_LOG_LEVEL": "ERROR",
    }
    subprocess.run(  # noqa: S603 - this environment's CLI
        [BIN / "sustain", "collectstatic", "--no-input", "-v0"],
        env=base | {"SUSTAIN_SQLITE_PATH": str(scratch / "static.sqlite3")},
        check=True,
    )
    results: dict[str, dict | None] = {}
    try:
        for kind in kinds:
            if kind == "postgres":
                database = postgres(scratch)
                if database is None:
                    print(f"PostgreSQL did not answer at {PG}: its rows are skipped.")
                    results[kind] = None
                    continue
            else:
                database = {"SUSTAIN_SQLITE_PATH": str(scratch / "network.sqlite3")}
            try:
                results[kind] = measure(kind, database, scratch, base)
            finally:
                if kind == "postgres":
                    drop_postgres()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ok = table(results)
    print(f"(whole run {time.monotonic() - started:.0f} s)")
    if not ok:
        raise SystemExit("a check failed: see the lines above")


if __name__ == "__main__":
    main()
