"""gunicorn settings for Sustain (issue 14 part 8): `gunicorn -c deploy/gunicorn.conf.py`.

Each choice, and the SUSTAIN_WEB_* variable that changes it:

- bind 127.0.0.1:8000: only the TLS proxy on the same machine (deploy/Caddyfile) reaches
  gunicorn, so the X-Forwarded-Proto header Django trusts (SECURE_PROXY_SSL_HEADER) can only
  come from it.
- workers = 2 × cores + 1 processes (gunicorn's rule of thumb: one computing while another waits
  on the database), each with 4 threads ("gthread"): a page spends most of its time waiting on
  the database, so threads give 20 concurrent requests on 2 cores at a fraction of the memory of
  20 processes. Each thread has its own database connection (SQLite in WAL mode lets readers
  run beside the one writer; PostgreSQL connections: workers × threads + the worker's, well
  under max_connections=100).
- timeout 30 s: above SQLite's 20 s busy timeout (a write queued behind another fails with a
  page, not a killed process) and above the slowest page measured (the load test's p100).
  graceful_timeout 30 s lets requests in flight finish on restart.
- max_requests 1000 (± 100 jitter): a worker is replaced now and then, so memory cannot creep.
- keepalive 5 s behind the proxy; worker_tmp_dir /dev/shm keeps gunicorn's liveness file off
  a slow disk.
- No access log: URLs carry single-use patient links (/r/<token>/); the proxy's log is the
  place for traffic, and Sustain's audit trail for who saw what. Errors go to stderr (journald).
"""

import multiprocessing
import os

bind = os.environ.get("SUSTAIN_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SUSTAIN_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("SUSTAIN_WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("SUSTAIN_WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
max_requests = 1000
max_requests_jitter = 100
worker_tmp_dir = "/dev/shm"  # noqa: S108 - gunicorn's heartbeat files, not data
forwarded_allow_ips = "127.0.0.1"
accesslog = None
errorlog = "-"
loglevel = os.environ.get("SUSTAIN_WEB_LOG_LEVEL", "info")
wsgi_app = "sustain.wsgi:application"
