"""Sustain's one settings file, driven by environment variables.

Defaults give a development install on SQLite. Production is only a set of variables:
SUSTAIN_DEBUG=0, SUSTAIN_SECRET_KEY, SUSTAIN_ALLOWED_HOSTS and, for PostgreSQL, DATABASE_URL.
"""

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


DEBUG = env_bool("SUSTAIN_DEBUG", True)
DEV_SECRET_KEY = "dev-insecure-do-not-use-in-production"  # noqa: S105 - refused below in production
SECRET_KEY = env_str("SUSTAIN_SECRET_KEY", DEV_SECRET_KEY)
if not DEBUG and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SUSTAIN_SECRET_KEY must be set to a random value of at least 50 characters when "
        "SUSTAIN_DEBUG=0; the development key is refused."
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
    "sustain.accounts",
    "sustain.care",
    "sustain.scheduling",
    "sustain.infusion",
    "sustain.ledger",
    "sustain.portal",
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
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: a staff form sent twice writes once (needs the user and messages).
    "sustain.accounts.form_tokens.FormTokenMiddleware",
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

# Argon2id first (ASVS 11.4.2); the others only verify legacy hashes.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
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
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("SUSTAIN_LOG_LEVEL", "INFO")},
}
