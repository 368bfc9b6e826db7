"""Settings, driven by environment variables, with a zero-setup embedded default.

With no variables set Journeys runs on SQLite (WAL) in ``var/`` with a filesystem
Celery broker in ``var/broker/`` shared by every process on the machine. With
``DATABASE_URL`` and ``REDIS_URL`` the same code runs on PostgreSQL and Redis.
A bad value fails at start with ``ImproperlyConfigured``.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# Lets typed generics like admin.ModelAdmin[Profile] work at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("JOURNEYS_VAR_DIR", BASE_DIR / "var")).resolve()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: expected 1/0, true/false, yes/no or on/off")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _secret_key() -> str:
    """Use DJANGO_SECRET_KEY, else one generated once and kept in var/ (never a fixed key)."""
    key = os.environ.get("DJANGO_SECRET_KEY")
    if key:
        return key
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("JOURNEYS_DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_celery_beat",
    "channels",
    "engine",
    "builder",
    "stats",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # An id too large for the database is a 404, not a 500 (journeys_site/errors.py).
    "journeys_site.errors.OutOfRangeIsNotFound",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "journeys_site.urls"
WSGI_APPLICATION = "journeys_site.wsgi.application"
ASGI_APPLICATION = "journeys_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "builder.context.current_project",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for bad URLs
        raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from exc
    if _db.get("ENGINE") not in {
        "django.db.backends.postgresql",
        "django.db.backends.sqlite3",
    }:
        raise ImproperlyConfigured("DATABASE_URL must be postgres://... or sqlite:///...")
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "journeys.sqlite3")}

if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions take
    # the write lock up front so concurrent writers queue (busy timeout) instead of
    # failing with "database is locked" when a read lock cannot be upgraded.
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    _db["CONN_MAX_AGE"] = 0
elif os.environ.get("JOURNEYS_DB_POOL") == "1":
    # Set by journeys_site/asgi.py for the web server: Django runs each ASGI request's
    # sync code in a thread of its own, so a persistent connection is never used twice
    # and every request opened a new PostgreSQL connection (a backend started, its
    # catalog caches filled). A pool per web process hands the same few connections on.
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {"pool": {"min_size": 2, "max_size": 8, "timeout": 30}}
DATABASES = {"default": _db}
DATABASE_IS_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, channel layer and cache ------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL and urlparse(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured("REDIS_URL must be redis://, rediss:// or unix://")

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT: str | None = None  # None: the broker URL's scheme decides
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # The embedded broker: messages are files in one folder that every process on this
    # machine (web, worker, scheduler) reads and writes.
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    # Kombu's filesystem channel with atomic writes and claims (see journeys_site/broker.py).
    CELERY_BROKER_TRANSPORT = "journeys_site.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    # Live updates made by the worker reach websockets through the database (see
    # stats/broadcast.py), so a per-process layer is enough here.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Redis: one task at a time per process, so a crash loses nothing that was not started.
# Embedded broker: Celery's loop for it applies acks only every 2 seconds, so a small
# prefetch would throttle the worker to 2 tasks per 2 s; its messages leave the folder
# when fetched anyway, and lost work is found again by the ticker's sweeps.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1 if REDIS_URL else 64
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Sends wait on networks; they get their own queue (and, under `make run`, their own
# worker) so a slow provider never delays users moving through journeys.
CELERY_TASK_ROUTES = {"engine.deliver_messages": {"queue": "delivery"}}
CELERY_TASK_DEFAULT_QUEUE = "celery"
# A handful of fixed ticks; never a row per journey or user.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "heartbeat": {"task": "engine.heartbeat", "schedule": 5.0},
    "tick": {"task": "engine.tick", "schedule": 1.0, "options": {"expires": 5}},
    "prune_frequency_counts": {"task": "engine.prune_frequency_counts", "schedule": 3600.0},
}
WORKER_HEARTBEAT_MAX_AGE = 30  # seconds; /healthz reports the worker down after this

# --- Auth, API -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected at least {minimum}")
    return value


# Sign-in throttling (django-axes) on every sign-in door: the API token endpoint, /login/
# and the admin login. Locked per username and, separately, per address.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.ThrottlingBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("JOURNEYS_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("JOURNEYS_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
# How many reverse proxies in front of Journeys append to X-Forwarded-For (0: none, the
# peer's address is the client's). Decides the address sign-ins are counted under.
JOURNEYS_PROXY_COUNT = env_int("JOURNEYS_PROXY_COUNT", 0)

# API tokens (accounts/) expire this many days after they are issued; invitations too.
JOURNEYS_TOKEN_TTL_DAYS = env_int("JOURNEYS_TOKEN_TTL_DAYS", 30, minimum=1)
JOURNEYS_INVITATION_TTL_DAYS = env_int("JOURNEYS_INVITATION_TTL_DAYS", 7, minimum=1)

# --- Production security, by environment (docs/operations.md "Production settings") ----
# JOURNEYS_HTTPS=1 says the site is served over HTTPS: it turns on the SSL redirect,
# secure cookies and HSTS, each of which its own variable can still override. Unset, the
# embedded default keeps working over plain http://127.0.0.1.
JOURNEYS_HTTPS = env_bool("JOURNEYS_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", JOURNEYS_HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", JOURNEYS_HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", JOURNEYS_HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if JOURNEYS_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", JOURNEYS_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", JOURNEYS_HTTPS)
# /healthz answers over plain HTTP too, so a load balancer's probe is not redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]


def _proxy_ssl_header(raw: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto: https`` -> ("HTTP_X_FORWARDED_PROTO", "https")."""
    if not raw.strip():
        return None
    name, sep, value = raw.partition(":")
    if not sep or not name.strip() or not value.strip():
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER={raw!r}: expected 'Header-Name: value', "
            "like 'X-Forwarded-Proto: https'"
        )
    return "HTTP_" + name.strip().upper().replace("-", "_"), value.strip()


# Set only behind a proxy that overwrites this header on every request.
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
for _origin in CSRF_TRUSTED_ORIGINS:
    if urlparse(_origin).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS: {_origin!r} needs its scheme, like https://journeys.example.com"
        )


def _websocket_sources(hosts: list[str], secure_only: bool) -> list[str]:
    """ws:/wss: sources for the site's own hosts ('self' covers them in CSP 3 browsers)."""
    schemes = ["wss"] if secure_only else ["ws", "wss"]
    if "*" in hosts:
        return [f"{scheme}:" for scheme in schemes]
    sources: list[str] = []
    for host in hosts:
        if host.startswith("["):  # CSP has no syntax for IPv6 literals; 'self' covers them
            continue
        names = [host[1:], "*" + host] if host.startswith(".") else [host]
        sources += [f"{scheme}://{name}:*" for name in names for scheme in schemes]
    return sources


# Content Security Policy on every response (django-csp): scripts only from our own
# files (no inline scripts anywhere), inline styles allowed (React Flow and the docs
# viewer, Swagger UI, set style attributes), websockets to this site.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'", *_websocket_sources(ALLOWED_HOSTS, JOURNEYS_HTTPS)],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
if os.environ.get("JOURNEYS_CSP_REPORT_URI"):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [os.environ["JOURNEYS_CSP_REPORT_URI"]]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Bounded before parsing: size, nesting depth, strict UTF-8 (journeys_site/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["journeys_site.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "journeys_site.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Journeys API",
    "DESCRIPTION": "Marketer, ingest and stats API of Journeys. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the error answers any request can get (400, 401, 404, ...).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "journeys_site.schema.document_error_responses",
    ],
    # The docs viewer's scripts come from our static files, never a CDN.
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge fetched from the public validator: the page calls nothing but this site.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Ingest endpoints are called from any origin by the web SDK with a bearer key (no
# cookies), so every origin may call them and nothing else is opened.
CORS_URLS_REGEX = r"^/api/v1/(events|profiles|identify|web-push/key|web-push/subscriptions)/?$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_PREFLIGHT_MAX_AGE = 86400
CORS_EXPOSE_HEADERS = ["Retry-After"]

# Ingest bodies are capped at 1 MiB by the ingest views with a clear 413; Django's own
# guard sits above that so it never answers first.
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
INGEST_MAX_BYTES = 1024 * 1024
INGEST_MAX_ITEMS = 1000
# Every JSON body (API and ingest): at most this many bytes and levels of nesting.
JSON_MAX_BYTES = 1024 * 1024
JSON_MAX_DEPTH = 32

# --- I18n, static ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Delivery --------------------------------------------------------------------
EMAIL_URL = os.environ.get("EMAIL_URL", "")
if EMAIL_URL:
    _email = urlparse(EMAIL_URL)
    if _email.scheme != "smtp" or not _email.hostname:
        raise ImproperlyConfigured("EMAIL_URL must look like smtp://host:port")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname
    EMAIL_PORT = _email.port or 25
    EMAIL_HOST_USER = _email.username or ""
    EMAIL_HOST_PASSWORD = _email.password or ""
else:
    # Embedded default: the site's own mails (password reset links) are written as files
    # to var/mail/ instead of failing against an SMTP server that is not there.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
# Marketing email through an ESP's API with django-anymail: its backend module name
# (postmark, mailgun, sendgrid, amazon_ses, brevo, ...) and its settings from the
# environment as ANYMAIL_<ESP>_<SETTING> (e.g. ANYMAIL_POSTMARK_SERVER_TOKEN).
JOURNEYS_EMAIL_ESP = os.environ.get("JOURNEYS_EMAIL_ESP", "").strip()
if JOURNEYS_EMAIL_ESP and not JOURNEYS_EMAIL_ESP.replace("_", "").isalnum():
    raise ImproperlyConfigured("JOURNEYS_EMAIL_ESP must be an anymail ESP name, e.g. postmark")
ANYMAIL = {k.removeprefix("ANYMAIL_"): v for k, v in os.environ.items() if k.startswith("ANYMAIL_")}
JOURNEYS_WEBHOOK_ALLOW_PRIVATE = env_bool("JOURNEYS_WEBHOOK_ALLOW_PRIVATE", False)
# Sends of one delivery batch in flight at once (threads that wait on the network).
JOURNEYS_DELIVERY_THREADS = env_int("JOURNEYS_DELIVERY_THREADS", 16, minimum=1)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "journeys@localhost")
# Where people reach this site from the emails it sends (open pixel, tracked links,
# unsubscribe pages): an absolute http(s) URL without a path (docs/channels.md).
JOURNEYS_PUBLIC_URL = os.environ.get("JOURNEYS_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
if not re.match(r"^https?://[^/\s?#]+$", JOURNEYS_PUBLIC_URL):
    raise ImproperlyConfigured(
        f"JOURNEYS_PUBLIC_URL={JOURNEYS_PUBLIC_URL!r}: expected https://host[:port], no path"
    )
# An address that takes unsubscribe requests by mail (List-Unsubscribe's mailto:), if any.
JOURNEYS_UNSUBSCRIBE_MAILTO = os.environ.get("JOURNEYS_UNSUBSCRIBE_MAILTO", "").strip()
# Web push: whom push services may write to (VAPID "sub"); default mailto:DEFAULT_FROM_EMAIL.
JOURNEYS_VAPID_SUBJECT = os.environ.get("JOURNEYS_VAPID_SUBJECT", "")
# Encrypts the channel secrets projects store (SMTP passwords, API keys): comma-separated
# keys, the first encrypts and all decrypt (docs/operations.md); unset: derived from SECRET_KEY.
JOURNEYS_SECRETS_KEY = os.environ.get("JOURNEYS_SECRETS_KEY", "")


def env_choice(name: str, choices: set[str]) -> str:
    """A backend name from the environment ("" = the channel's default), checked at start."""
    value = os.environ.get(name, "").strip().lower()
    if value and value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: expected one of {sorted(choices)}")
    return value


# Channel backends (engine/channels/): "record" records instead of sending. Unset picks
# the real backend when its provider is configured, else record (docs/channels.md).
JOURNEYS_PUSH_BACKEND = env_choice("JOURNEYS_PUSH_BACKEND", {"fcm", "record"})
JOURNEYS_WEB_PUSH_BACKEND = env_choice("JOURNEYS_WEB_PUSH_BACKEND", {"record"})
JOURNEYS_EMAIL_BACKEND = env_choice("JOURNEYS_EMAIL_BACKEND", {"smtp", "record"})
JOURNEYS_SMS_BACKEND = env_choice("JOURNEYS_SMS_BACKEND", {"twilio", "record"})
JOURNEYS_IN_APP_BACKEND = env_choice("JOURNEYS_IN_APP_BACKEND", {"store", "record"})
JOURNEYS_WEBHOOK_BACKEND = env_choice("JOURNEYS_WEBHOOK_BACKEND", {"http", "record"})
JOURNEYS_RECORD_DIR = os.environ.get("JOURNEYS_RECORD_DIR", str(VAR_DIR / "outbox"))
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM = os.environ.get("TWILIO_FROM", "")
TWILIO_API_URL = os.environ.get("TWILIO_API_URL", "https://api.twilio.com")
FCM_SERVER_KEY = os.environ.get("FCM_SERVER_KEY", "")
# The Firebase service account JSON (inline, or a path to the file): tokens are minted from it.
FCM_SERVICE_ACCOUNT = os.environ.get("FCM_SERVICE_ACCOUNT", "")
FCM_PROJECT_ID = os.environ.get("FCM_PROJECT_ID", "")
FCM_API_URL = os.environ.get("FCM_API_URL", "https://fcm.googleapis.com")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
