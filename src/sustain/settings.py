"""Sustain's one settings file, driven by environment variables.

Defaults are production's (SUSTAIN_DEBUG=0: then SUSTAIN_SECRET_KEY and SUSTAIN_ALLOWED_HOSTS must
be set; DATABASE_URL for PostgreSQL). Development says so: SUSTAIN_DEBUG=1 (`make demo`; the tests
through sustain.dev_settings).
"""

import datetime as dt
import os
import urllib.parse
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("SUSTAIN_VAR_DIR", PROJECT_DIR / "var"))


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false); got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer; got {raw!r}") from None


def database_from_env() -> dict[str, Any]:
    """SQLite in VAR_DIR by default; DATABASE_URL=postgres://user@host:port/name for PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SUSTAIN_SQLITE_PATH", str(VAR_DIR / "sustain.sqlite3")),
            "OPTIONS": {
                # BEGIN IMMEDIATE: a writer takes the lock at the start of atomic(), so two
                # bookings racing for one chair give one clean winner, not "database is locked"
                # after a read (measured: security-reliability-interop.md §4.2).
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory: tests with threads then meet the same locking as production.
            "TEST": {"NAME": env_str("SUSTAIN_TEST_SQLITE_PATH", str(VAR_DIR / "test.sqlite3"))},
        }
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be postgres://...; got scheme {parts.scheme!r}"
        )
    query = urllib.parse.parse_qs(parts.query)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": urllib.parse.unquote(parts.username or ""),
        "PASSWORD": urllib.parse.unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": env_int("SUSTAIN_DB_CONN_MAX_AGE", 0),
        "OPTIONS": {key: values[-1] for key, values in query.items()},
    }


# Off unless asked for (a traceback page shows settings and code): `make demo` and the tests set
# SUSTAIN_DEBUG=1 themselves.
DEBUG = env_bool("SUSTAIN_DEBUG", False)
DEV_SECRET_KEY = "dev-insecure-do-not-use-in-production"  # noqa: S105 - refused below in production
SECRET_KEY = env_str("SUSTAIN_SECRET_KEY", DEV_SECRET_KEY)
if not DEBUG and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SUSTAIN_SECRET_KEY must be set to a random value of at least 50 characters when "
        "SUSTAIN_DEBUG=0 (the default); the development key is refused. For development, set "
        "SUSTAIN_DEBUG=1."
    )
ALLOWED_HOSTS = env_str("SUSTAIN_ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "oauth2_provider",  # tokens for other systems (sustain.interop.clients)
    "sustain.accounts",
    "sustain.care",
    "sustain.scheduling",
    "sustain.infusion",
    "sustain.ledger",
    "sustain.portal",
    "sustain.interop",
    "sustain.reports",
    "sustain.clinic",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from gunicorn, right after SecurityMiddleware (whitenoise docs).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "sustain.accounts.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "sustain.accounts.middleware.SecondFactorMiddleware",  # right after OTPMiddleware
    "sustain.accounts.middleware.SessionLifetimeMiddleware",
    "sustain.accounts.middleware.SiteTimeZoneMiddleware",
    "sustain.accounts.middleware.SecurityHeadersMiddleware",
    "sustain.accounts.middleware.RefusedFormAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "sustain.accounts.middleware.PasswordChecksBusyMiddleware",
    # A staff form sent twice writes once (needs the user and messages).
    "sustain.accounts.form_tokens.FormTokenMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "sustain.urls"
WSGI_APPLICATION = "sustain.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% form_token %} next to every {% csrf_token %} (sustain.accounts.form_tokens).
            "builtins": ["sustain.accounts.templatetags.form_tokens"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sustain.care.break_glass_views.banner",
            ],
        },
    },
]

DATABASES = {"default": database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "care:patient_list"
LOGOUT_REDIRECT_URL = "accounts:login"

# Every staff sign-in asks for a second factor (sustain.accounts.mfa). `make demo` alone turns it
# off, so its users sign in with the printed password; refused outside debug, like the dev key.
OTP_TOTP_ISSUER = "Sustain"
SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR = env_bool("SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR", False)
if not DEBUG and SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR:
    raise ImproperlyConfigured(
        "SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR is for the demo only: it is refused when "
        "SUSTAIN_DEBUG=0."
    )

# Argon2id at the ASVS minimum that bounds memory (t=2, m=19 MiB, p=1; SEC-08), at most
# SUSTAIN_PASSWORD_CHECKS_AT_ONCE at a time per process; a check that waits longer than
# SUSTAIN_PASSWORD_CHECK_WAIT_SECONDS answers "busy" (sustain.accounts.passwords). It verifies
# every argon2 hash (an older one is rehashed at sign-in); PBKDF2 only verifies legacy hashes.
PASSWORD_HASHERS = [
    "sustain.accounts.passwords.BoundedArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
SUSTAIN_PASSWORD_CHECKS_AT_ONCE = env_int("SUSTAIN_PASSWORD_CHECKS_AT_ONCE", 4)
SUSTAIN_PASSWORD_CHECK_WAIT_SECONDS = env_int("SUSTAIN_PASSWORD_CHECK_WAIT_SECONDS", 5)
if SUSTAIN_PASSWORD_CHECKS_AT_ONCE < 1:
    raise ImproperlyConfigured("SUSTAIN_PASSWORD_CHECKS_AT_ONCE must be at least 1")

# Sign-in lockout (SEC-10), with django-axes: SUSTAIN_LOCKOUT_FAILURES wrong passwords for one
# user name, from any address, lock that user name for SUSTAIN_LOCKOUT_MINUTES after the last
# counted one; other users, and other people at the same clinic address, are unaffected (never
# per address alone). Also counted per user name and address (at most the same count: what
# django-axes' own check asks for). Tries while locked do not prolong it. The locked-out page
# says until when (sustain.accounts.views.locked_out_page); a clinic administrator can unlock
# earlier on the staff page. The audit trail records each try, so axes keeps no access log.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("SUSTAIN_LOCKOUT_FAILURES", 20)
SUSTAIN_LOCKOUT_MINUTES = env_int("SUSTAIN_LOCKOUT_MINUTES", 30)
AXES_COOLOFF_TIME = dt.timedelta(minutes=SUSTAIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_CLIENT_IP_CALLABLE = "sustain.accounts.addresses.client_address"
AXES_LOCKOUT_CALLABLE = "sustain.accounts.views.locked_out_page"
AXES_VERBOSE = False
if min(AXES_FAILURE_LIMIT, SUSTAIN_LOCKOUT_MINUTES) < 1:
    raise ImproperlyConfigured(
        "SUSTAIN_LOCKOUT_FAILURES and SUSTAIN_LOCKOUT_MINUTES must be at least 1"
    )
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions: server-side, 15 min idle (each request renews), 12 h absolute lifetime
# (SessionLifetimeMiddleware). Defaults from security-reliability-interop.md §1.5.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env_int("SUSTAIN_SESSION_IDLE_SECONDS", 15 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SUSTAIN_SESSION_ABSOLUTE_SECONDS = env_int("SUSTAIN_SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

SECURE = not DEBUG
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = env_bool("SUSTAIN_SSL_REDIRECT", SECURE)
SECURE_HSTS_SECONDS = 31_536_000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
# Outside debug the cookies carry the __Host- prefix: Secure, path /, no domain (SEC-14).
SESSION_COOKIE_NAME = "__Host-sessionid" if SECURE else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if SECURE else "csrftoken"
# A reverse proxy's X-Forwarded-Proto and X-Forwarded-For are believed only when the deployment
# says one is in front (and strips what clients send): sustain.accounts.addresses.
SUSTAIN_TRUST_PROXY_HEADERS = env_bool("SUSTAIN_TRUST_PROXY_HEADERS", False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if SUSTAIN_TRUST_PROXY_HEADERS else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content security policy, sent outside debug by SecurityHeadersMiddleware (no inline script).
SUSTAIN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("SUSTAIN_STATIC_ROOT", str(VAR_DIR / "static")))
# Production serves `sustain collectstatic`'s compressed, hashed copies (cached for a year);
# debug, tests and `make demo` serve the source files through the finders, no collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Debug (the demo, and tests, which Django runs with DEBUG off) serves the source files as they
# change; production only collectstatic's output, read once at start.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# A monitor asks /healthz over plain HTTP on the machine itself: no redirect to HTTPS there.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# How old the worker's heartbeat may be before /healthz reports the worker down; the worker
# beats every SUSTAIN_WORKER_HEARTBEAT_SECONDS (sustain.accounts.health).
SUSTAIN_WORKER_HEARTBEAT_SECONDS = env_int("SUSTAIN_WORKER_HEARTBEAT_SECONDS", 15)
SUSTAIN_WORKER_STALE_SECONDS = env_int("SUSTAIN_WORKER_STALE_SECONDS", 60)

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# E-mail (staff alerts, and patient messages with the DjangoEmailBackend below): SMTP once
# SUSTAIN_EMAIL_HOST is set, else printed on the console. README: "Sending e-mail and texts".
EMAIL_HOST = env_str("SUSTAIN_EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "SUSTAIN_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("SUSTAIN_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("SUSTAIN_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("SUSTAIN_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("SUSTAIN_EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env_bool("SUSTAIN_EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "SUSTAIN_EMAIL_USE_TLS (STARTTLS, port 587) and SUSTAIN_EMAIL_USE_SSL (port 465) "
        "exclude each other: set one to 0"
    )
EMAIL_TIMEOUT = env_int("SUSTAIN_EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("SUSTAIN_EMAIL_FROM", "sustain@localhost")
# Patient messages (self-report links, visit reminders): the default holds them in the outbox,
# so nothing leaves the machine by accident. "sustain.accounts.notify.DjangoEmailBackend"
# sends e-mail; SUSTAIN_SMS_BACKEND="sustain.accounts.notify.TwilioSmsBackend" sends texts
# through a Twilio-compatible API with the SUSTAIN_SMS_* settings.
SUSTAIN_NOTIFICATION_BACKEND = env_str(
    "SUSTAIN_NOTIFICATION_BACKEND", "sustain.accounts.notify.OutboxBackend"
)
SUSTAIN_SMS_BACKEND = env_str("SUSTAIN_SMS_BACKEND", "sustain.accounts.notify.OutboxBackend")
SUSTAIN_SMS_BASE_URL = env_str("SUSTAIN_SMS_BASE_URL", "https://api.twilio.com")
SUSTAIN_SMS_ACCOUNT_SID = env_str("SUSTAIN_SMS_ACCOUNT_SID", "")
SUSTAIN_SMS_AUTH_TOKEN = env_str("SUSTAIN_SMS_AUTH_TOKEN", "")
SUSTAIN_SMS_FROM = env_str("SUSTAIN_SMS_FROM", "")
SUSTAIN_SMS_TIMEOUT = env_int("SUSTAIN_SMS_TIMEOUT", 10)
if SUSTAIN_SMS_BACKEND.endswith("TwilioSmsBackend") and not (
    SUSTAIN_SMS_ACCOUNT_SID and SUSTAIN_SMS_AUTH_TOKEN and SUSTAIN_SMS_FROM
):
    raise ImproperlyConfigured(
        "the Twilio SMS backend needs SUSTAIN_SMS_ACCOUNT_SID, SUSTAIN_SMS_AUTH_TOKEN and "
        "SUSTAIN_SMS_FROM"
    )
# A failed message is handed over again by the worker every few minutes, at most this often.
SUSTAIN_NOTIFY_MAX_ATTEMPTS = env_int("SUSTAIN_NOTIFY_MAX_ATTEMPTS", 5)
SUSTAIN_NOTIFY_RETRY_EVERY_MINUTES = env_int("SUSTAIN_NOTIFY_RETRY_EVERY_MINUTES", 10)
# Issue 14: a failed message waits SUSTAIN_NOTIFY_BACKOFF_SECONDS, doubled after each attempt,
# before the next; a task "running" longer than SUSTAIN_TASK_STALE_MINUTES is taken for the
# work of a dead worker and marked failed (sustain.accounts.tasks.recover_stale_tasks).
SUSTAIN_NOTIFY_BACKOFF_SECONDS = env_int("SUSTAIN_NOTIFY_BACKOFF_SECONDS", 600)
SUSTAIN_TASK_STALE_MINUTES = env_int("SUSTAIN_TASK_STALE_MINUTES", 30)
if SUSTAIN_NOTIFY_MAX_ATTEMPTS < 1 or SUSTAIN_NOTIFY_BACKOFF_SECONDS < 1:
    raise ImproperlyConfigured(
        "SUSTAIN_NOTIFY_MAX_ATTEMPTS and SUSTAIN_NOTIFY_BACKOFF_SECONDS must be at least 1"
    )
if SUSTAIN_TASK_STALE_MINUTES < 0 or (not DEBUG and SUSTAIN_TASK_STALE_MINUTES < 5):
    raise ImproperlyConfigured(
        "SUSTAIN_TASK_STALE_MINUTES must be at least 5 in production: a shorter time would fail "
        "tasks that are still running"
    )
# Where patients reach Sustain (for links in messages).
SUSTAIN_BASE_URL = env_str("SUSTAIN_BASE_URL", "http://127.0.0.1:8000")
SUSTAIN_INVITATION_TTL_HOURS = env_int("SUSTAIN_INVITATION_TTL_HOURS", 72)
# Clinic-tablet codes: how long one lives, and wrong codes allowed per address in 10 minutes.
SUSTAIN_KIOSK_CODE_MINUTES = env_int("SUSTAIN_KIOSK_CODE_MINUTES", 30)
SUSTAIN_KIOSK_MAX_FAILURES = env_int("SUSTAIN_KIOSK_MAX_FAILURES", 5)
# How often the worker looks for measures that fell due and sends self-report links.
SUSTAIN_DUE_LINKS_EVERY_MINUTES = env_int("SUSTAIN_DUE_LINKS_EVERY_MINUTES", 15)
# How often the worker looks for visit reminders that fell due (the hours before a visit and
# the preparation text are each site's own rules: sustain.care.rules).
SUSTAIN_REMINDERS_EVERY_MINUTES = env_int("SUSTAIN_REMINDERS_EVERY_MINUTES", 15)

# Emergency ("break-glass") access (sustain.care.break_glass, BTG-01..03): how long one grant
# lasts, and how often the worker ends (and audits) the grants whose time ran out.
SUSTAIN_BREAK_GLASS_MINUTES = env_int("SUSTAIN_BREAK_GLASS_MINUTES", 60)
SUSTAIN_BREAK_GLASS_SWEEP_MINUTES = env_int("SUSTAIN_BREAK_GLASS_SWEEP_MINUTES", 5)
if not 1 <= SUSTAIN_BREAK_GLASS_MINUTES <= 24 * 60:
    raise ImproperlyConfigured("SUSTAIN_BREAK_GLASS_MINUTES must be 1 to 1440 minutes")
# The nightly downtime run sheet (sustain.clinic.run_sheet, BTG-04): an AES-256 encrypted PDF
# per site of tomorrow's visits, written at this hour (UTC) into this directory. No password,
# no sheet: the job refuses rather than write one unencrypted.
SUSTAIN_RUN_SHEET_PASSWORD = env_str("SUSTAIN_RUN_SHEET_PASSWORD", "")
SUSTAIN_RUN_SHEET_DIR = Path(env_str("SUSTAIN_RUN_SHEET_DIR", str(VAR_DIR / "run-sheets")))
SUSTAIN_RUN_SHEET_HOUR = env_int("SUSTAIN_RUN_SHEET_HOUR", 2)
# FHIR bulk export (sustain.interop.fhir.bulk_views, issue 16): the NDJSON files of a finished
# $export are kept this many hours under this directory (mode 0700), then the worker deletes them.
SUSTAIN_FHIR_EXPORT_HOURS = env_int("SUSTAIN_FHIR_EXPORT_HOURS", 24)
SUSTAIN_EXPORT_DIR = Path(env_str("SUSTAIN_EXPORT_DIR", str(VAR_DIR / "exports")))
if not 1 <= SUSTAIN_FHIR_EXPORT_HOURS <= 24 * 30:
    raise ImproperlyConfigured("SUSTAIN_FHIR_EXPORT_HOURS must be 1 to 720 hours")

# Tokens for other systems (issue 16, item 3; sustain.interop.clients): OAuth 2.0 client
# credentials with django-oauth-toolkit. An access token lives SUSTAIN_FHIR_TOKEN_SECONDS (SMART
# Backend Services, "Issue access token": an expiration time of no more than five minutes is
# recommended). Tokens are stored only as their SHA-256 and every RFC 9700 gate is on; only the
# client-credentials grant is ever accepted (the token view refuses the others).
SUSTAIN_FHIR_TOKEN_SECONDS = env_int("SUSTAIN_FHIR_TOKEN_SECONDS", 300)
if not 1 <= SUSTAIN_FHIR_TOKEN_SECONDS <= 3600:
    raise ImproperlyConfigured("SUSTAIN_FHIR_TOKEN_SECONDS must be 1 to 3600 seconds")
# Named, though it is DOT's default, for the migration of SystemClient (a swappable model).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "sustain.interop.clients.SystemClientValidator",
    "ACCESS_TOKEN_EXPIRE_SECONDS": SUSTAIN_FHIR_TOKEN_SECONDS,
    # The scopes a system client may hold are its own (SystemClient.scopes, checked by the
    # validator); this list only names the wildcard for DOT's own pages, which are not served.
    "SCOPES": {"system/*.read": "Read every resource type the client's role may read"},
    "DEFAULT_SCOPES": ["system/*.read"],
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "ALLOW_URI_WILDCARDS": False,
    "PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("SUSTAIN_LOG_LEVEL", "INFO")},
}

# Backups (sustain backup / restore, OPS-01..OPS-03): the encryption key, 32 random bytes in
# URL-safe base64 (`sustain backup --new-key`). Not needed to run the site; without it
# `sustain backup` and `sustain restore` refuse.
SUSTAIN_BACKUP_KEY = env_str("SUSTAIN_BACKUP_KEY", "")

# The audit trail (issue 14, AUD-04): its hash chains are keyed with SUSTAIN_AUDIT_KEY, a
# secret apart from SECRET_KEY (rotating the session key must not break the chain, and one
# leaked key must not forge both); production refuses to start without one. Signed
# checkpoints of the chain heads go to a file outside the database (sustain.accounts.anchor).
SUSTAIN_AUDIT_KEY = env_str("SUSTAIN_AUDIT_KEY", "" if not DEBUG else SECRET_KEY)
if not DEBUG and (len(SUSTAIN_AUDIT_KEY) < 50 or SUSTAIN_AUDIT_KEY == SECRET_KEY):
    raise ImproperlyConfigured(
        "SUSTAIN_AUDIT_KEY must be set to a random value of at least 50 characters, different "
        "from SUSTAIN_SECRET_KEY, when SUSTAIN_DEBUG=0."
    )
SUSTAIN_AUDIT_ANCHOR_PATH = Path(
    env_str("SUSTAIN_AUDIT_ANCHOR_PATH", str(VAR_DIR / "audit-anchors.jsonl"))
)
SUSTAIN_AUDIT_ANCHOR_EVERY_MINUTES = env_int("SUSTAIN_AUDIT_ANCHOR_EVERY_MINUTES", 60)

# The ledger's nightly reconciliation (INT-10): every balance recomputed from its entries, a
# mismatch audited and e-mailed to those who resolve discrepancies (sustain.ledger.tasks).
SUSTAIN_LEDGER_RECONCILE_EVERY_HOURS = env_int("SUSTAIN_LEDGER_RECONCILE_EVERY_HOURS", 24)
