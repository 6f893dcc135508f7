"""Reelsmith settings: one module, read from the environment once.

With nothing set, Reelsmith runs embedded: SQLite, media on local disk served by Django,
Celery tasks executed in-process, the `tiny-sd` model on CPU. Each service switches on
when its variable is set, and only then are its other variables required. Every variable
is listed, with a comment, in `.env.example`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.logs import logging_config, structlog_configure
from core.sentry import sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("REELSMITH_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_required(name: str, because: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set {because}")
    return value


# --- Django -----------------------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", default=False)
_DEV_SECRET = "dev-only-insecure-secret-key-reelsmith-embedded-mode-do-not-use-in-production"  # noqa: S105  (embedded mode only; service mode refuses it)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET)
EMBEDDED = not env_str("DATABASE_URL")
if not EMBEDDED and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DATABASE_URL is (service mode)")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "core",
    "templates.apps.AdTemplatesConfig",
    "campaigns",
    "render",
    "django_htmx",
    "dashboard",
]

MIDDLEWARE = [
    # First, so every answer (a redirect, a 413, a view) carries a request id, is logged and counted
    # (core.request_context).
    "core.request_context.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # An oversized body answers 413 in the API's error shape before anything reads it (core.middleware).
    "core.middleware.BodyLimitMiddleware",
    # Static files (the admin's styles) in every mode, before anything else reads the request (WhiteNoise's
    # documented place: right after SecurityMiddleware).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who is acting and the hash of their address, for the audit entries the services write (core.audit).
    "core.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"

# Django's admin needs the template engine; the `templates/` app holds ad templates, not HTML.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if EMBEDDED:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES: dict[str, Any] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "reelsmith.sqlite3")),
            # Renders write from worker threads while requests write: wait for the lock rather than fail
            # (seconds; SQLite's busy timeout), and take the write lock at BEGIN so two writers never
            # deadlock on an upgrade (Django 5.1+ `transaction_mode`).
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
else:
    DATABASES = {
        "default": dj_database_url.parse(env_str("DATABASE_URL"), conn_max_age=60, conn_health_checks=True)
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Static files are served by WhiteNoise (middleware above). The API image runs collectstatic when it is built
# and sets DJANGO_STATIC_MANIFEST (infra/docker/api.Dockerfile): hashed, compressed copies from STATIC_ROOT,
# cacheable forever. Anywhere collectstatic has not run (embedded mode, tests, a checkout) the manifest storage
# would raise on every {% static %} with DEBUG off, so those keep plain names and WhiteNoise serves the files
# straight from the apps (its finders), DEBUG or not; STATIC_ROOT is then unset, as there is nothing to read
# there (WhiteNoise warns about a folder that does not exist).
STATIC_MANIFEST = env_bool("DJANGO_STATIC_MANIFEST", default=False) and not DEBUG
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static"))) if STATIC_MANIFEST else None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Absolute base for URLs handed to clients in embedded mode (served media). Service mode hands out presigned S3 URLs.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# Uploads: brand assets are capped by core.assets; Django's own cap must sit above the largest (music, 20 MiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Dashboard (people signed in with a session) ------------------------------------------------------------

LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "dashboard:login"
# Password-reset and invitation mail. Embedded mode prints it on the console unless told otherwise; set
# EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend and EMAIL_FILE_PATH to keep it in files.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Reelsmith <noreply@localhost>")

# --- Security (production) ----------------------------------------------------------------------------------

if not DEBUG and not EMBEDDED:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # One year, the value hstspreload.org asks for.
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- REST framework -----------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.auth.IsWorkspaceMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only, read under core.parsers' limits (size, depth, NUL, surrogates, 64-bit integers); the upload
    # views take multipart themselves (`parser_classes`), so the schema lists one body type per operation.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
    # Per API key (or signed-in person), at REELSMITH_THROTTLE_RATE; 429 with Retry-After (core.throttling).
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.ApiKeyRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Reelsmith API",
    "DESCRIPTION": "Personalized marketing video: brands, ad templates, renders, campaigns.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Campaign, delivery and integration choices share field names with renders' and assets' (`status`, `kind`).
    "ENUM_NAME_OVERRIDES": {
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "WebhookDeliveryStatusEnum": "campaigns.models.WebhookDelivery.Status",
        "IntegrationKindEnum": "campaigns.models.Integration.Kind",
    },
    # spectacular's enum hook, then the 4xx answers in the error shape and strict request bodies (core.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.errors_postprocess",
    ],
}

# --- Celery ---------------------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
# Embedded mode: no broker, tasks run in-process right after the transaction that enqueued them commits.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ROUTES = {"render.generate": {"queue": "gpu"}}
# The longest task (a GPU batch, or composing a long ad) is killed at this hard limit (seconds) ...
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# ... and Redis must not redeliver an unacked task while it may still legitimately run
# (docs/reliability.md R5): the visibility timeout sits above the hard limit, with margin for the worker's
# own shutdown.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 5 * 60),
    # Priorities 0..9 on Redis (kombu emulates them with one list per step); API renders jump campaign batches.
    "queue_order_strategy": "priority",
    "sep": ":",
    "priority_steps": list(range(10)),
}
CELERY_TASK_DEFAULT_PRIORITY = 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # Every 15 s: with the 60 s lease, a killed worker's renders are re-queued within 75 s (R1).
    "render-reconcile": {"task": "render.reconcile", "schedule": 15.0},
}
CELERY_TIMEZONE = "UTC"

# --- Storage -----------------------------------------------------------------------------------------------

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL")
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "us-east-1")
# boto3 >= 1.36 sends CRC checksums on every upload by default; some S3-compatible servers reject them
# (docs/reliability.md R15). `when_supported` (boto3's default) or `when_required`.
AWS_S3_CHECKSUM = env_str("AWS_S3_CHECKSUM", "when_supported")
if AWS_S3_CHECKSUM not in {"when_supported", "when_required"}:
    raise ImproperlyConfigured("AWS_S3_CHECKSUM must be when_supported or when_required")
# Presigned GET URLs live this long (seconds); a week is S3's SigV4 maximum.
AWS_PRESIGN_SECONDS = env_int("AWS_PRESIGN_SECONDS", 24 * 3600)

# --- Rendering --------------------------------------------------------------------------------------------

REELSMITH_DEFAULT_MODEL = env_str("REELSMITH_DEFAULT_MODEL", "tiny-sd")
# The model a `"generate": {"video": true}` background uses when it names none (a video model).
REELSMITH_DEFAULT_VIDEO_MODEL = env_str("REELSMITH_DEFAULT_VIDEO_MODEL", "tiny-wan")
# The voice of a scene's `voice` that names none (adspec/voices.py); render/speech reads the same variable.
REELSMITH_DEFAULT_VOICE = env_str("REELSMITH_DEFAULT_VOICE", "espeak-en")
# What checks the texts, prompts and values of a render before it is accepted (templates/moderation.py): a
# dotted path to a class or factory of a `templates.moderator.Moderator`; loaded when the app starts.
REELSMITH_MODERATOR = env_str("REELSMITH_MODERATOR") or "templates.moderator.WordListModerator"
# Work a worker holds is leased: a heartbeat renews the lease every REELSMITH_HEARTBEAT_SECONDS while it works,
# and the reconciler hands back work whose lease was not renewed for REELSMITH_RENDER_LEASE_SECONDS (renders
# that have not moved, Generations claimed by a batch): docs/reliability.md R1, render/services/lease.py.
# Six beats per lease, so a few lost to a database hiccup never cost a live worker its work.
REELSMITH_RENDER_LEASE_SECONDS = env_int("REELSMITH_RENDER_LEASE_SECONDS", 60)
REELSMITH_HEARTBEAT_SECONDS = env_int("REELSMITH_HEARTBEAT_SECONDS", 10)
if not 0 < 3 * REELSMITH_HEARTBEAT_SECONDS <= REELSMITH_RENDER_LEASE_SECONDS:
    raise ImproperlyConfigured(
        "REELSMITH_HEARTBEAT_SECONDS must be positive and at most a third of REELSMITH_RENDER_LEASE_SECONDS"
    )
# A render or generation task that starts this many times without finishing is a poison job
# (docs/reliability.md R3).
REELSMITH_MAX_ATTEMPTS = 3
REELSMITH_X264_PRESET = env_str("REELSMITH_X264_PRESET", "veryfast")
# The H.264 encoder of every segment of every render (render/compose/encode.py VIDEO_ENCODERS): libx264, or
# h264_nvenc on nodes with an NVIDIA video engine (docs/performance.md). Tried once per worker process before
# its first render; a node whose ffmpeg cannot open it fails that render with the reason.
REELSMITH_VIDEO_ENCODER = env_str("REELSMITH_VIDEO_ENCODER", "libx264")
if REELSMITH_VIDEO_ENCODER not in {"libx264", "h264_nvenc"}:
    raise ImproperlyConfigured("REELSMITH_VIDEO_ENCODER must be libx264 or h264_nvenc")
# Service mode: each machine keeps the storage objects that never change (pictures, brand files, shared
# segments) in this folder, up to this many bytes, least recently used out first (core.storage.LocalCache);
# 0 turns it off. 10 GiB holds ~80 of the largest intermediates (a 3 s 1080x1920 moving background is
# ~120 MB, docs/benchmarks.md) besides the segments.
REELSMITH_LOCAL_CACHE_DIR = env_str("REELSMITH_LOCAL_CACHE_DIR") or str(VAR_DIR / "cache")
REELSMITH_LOCAL_CACHE_BYTES = env_int("REELSMITH_LOCAL_CACHE_BYTES", 10 * 1024**3)
# Campaign renders of one template version and brand share their segments; with K > 0 shards their compose
# tasks go to queue `compose.<k>` (k fixed by the pair), so they meet the cpu workers whose cache already
# holds those segments (docs/architecture.md "Campaign renders meet warm caches"). 0: everything on `cpu`.
REELSMITH_COMPOSE_SHARDS = env_int("REELSMITH_COMPOSE_SHARDS", 0)
# Which of those shard queues a cpu worker consumes besides `cpu`: "all" (the default, so no shard is ever
# without a consumer), "" for none, or a list such as "0,1".
REELSMITH_WORKER_COMPOSE_SHARDS = env_str("REELSMITH_WORKER_COMPOSE_SHARDS", "all")
# Outbound calls (callback URLs, CRM assets) may reach private addresses only when this is on (tests, dev).
OUTBOUND_ALLOW_PRIVATE = env_bool("OUTBOUND_ALLOW_PRIVATE", default=False)

# --- Campaigns and webhooks ---------------------------------------------------------------------------------

# Campaign renders in flight at once per workspace (across its campaigns); single API renders never count.
# 50 keeps one workspace's batch from filling a 2-CPU-worker deployment's queues for long.
REELSMITH_CAMPAIGN_MAX_IN_FLIGHT = env_int("REELSMITH_CAMPAIGN_MAX_IN_FLIGHT", 50)
# Recipients a fan-out task turns into renders per run (bounded memory and transaction size).
REELSMITH_CAMPAIGN_CHUNK = env_int("REELSMITH_CAMPAIGN_CHUNK", 500)
# Seconds before each retry of a failed webhook delivery (±20 % jitter): 5 s doubling-ish to 24 h, about
# 3 days in all, after the Standard Webhooks / Svix schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
REELSMITH_WEBHOOK_RETRY_SCHEDULE = [
    int(s)
    for s in env_list(
        "REELSMITH_WEBHOOK_RETRY_SCHEDULE",
        ["5", "300", "1800", "7200", "18000", "36000", "36000", "86400", "86400"],
    )
]
# One delivery attempt's connect + read timeout (seconds); Svix and Stripe allow receivers 15 s or less.
REELSMITH_WEBHOOK_TIMEOUT = env_int("REELSMITH_WEBHOOK_TIMEOUT", 10)

# --- Watch pages (render/watch, docs/watch-pages.md) -----------------------------------------------------------

# A watch page's lookup (render, brand, outputs, CTA) is cached this long (seconds); revoking a page or
# changing its expiry drops it at once, so this only bounds how stale an unforeseen change can be.
REELSMITH_WATCH_CACHE_SECONDS = env_int("REELSMITH_WATCH_CACHE_SECONDS", 300)
# Engagement events one watch page accepts (DRF rate syntax, or `off`). One viewing sends at most 7 (view,
# play, 4 progress marks, CTA), so 300 a minute is about 40 viewings a minute of one recipient's video.
REELSMITH_WATCH_EVENT_RATE = env_str("REELSMITH_WATCH_EVENT_RATE", "300/minute")

# --- Stripe ---------------------------------------------------------------------------------------------------

STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
if STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET:
    raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET must be set when STRIPE_SECRET_KEY is")
# Where the SDK sends its calls (tests point it at a local fake that speaks Stripe's JSON).
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
# The Billing Meter's event_name (created once in the Stripe dashboard) that receives credits per captured render.
STRIPE_METER_EVENT_NAME = env_str("STRIPE_METER_EVENT_NAME", "reelsmith_credits")
# A past_due subscription keeps rendering this long (seconds) before new renders answer 402; 3 days matches
# Stripe's default first Smart Retry of a failed invoice.
REELSMITH_BILLING_GRACE_SECONDS = env_int("REELSMITH_BILLING_GRACE_SECONDS", 3 * 24 * 3600)
# Plans: credits granted per paid period, renders in flight at once, largest output allowed (pixels per frame).
# A workspace without a subscription is on REELSMITH_DEFAULT_PLAN (credits come only from grant_credits).
REELSMITH_PLANS: dict[str, dict[str, Any]] = {
    "free": {
        "name": "Free",
        "price_id": "",
        "metered_price_id": "",
        "credits_per_period": 0,
        "renders_in_flight": 2,
        "max_format_pixels": 1920 * 1080,  # Full HD
    },
    "starter": {
        "name": "Starter",
        "price_id": env_str("STRIPE_PRICE_STARTER"),
        "metered_price_id": env_str("STRIPE_PRICE_STARTER_METERED"),
        "credits_per_period": env_int("REELSMITH_STARTER_CREDITS", 1_000),
        "renders_in_flight": 10,
        "max_format_pixels": 1920 * 1080,
    },
    "pro": {
        "name": "Pro",
        "price_id": env_str("STRIPE_PRICE_PRO"),
        "metered_price_id": env_str("STRIPE_PRICE_PRO_METERED"),
        "credits_per_period": env_int("REELSMITH_PRO_CREDITS", 10_000),
        "renders_in_flight": 50,
        "max_format_pixels": 3840 * 2160,  # 4K UHD
    },
}
REELSMITH_DEFAULT_PLAN = "free"
# Where Stripe's Checkout and Customer Portal send the customer back to (the dashboard's billing page).
REELSMITH_BILLING_RETURN_URL = env_str("REELSMITH_BILLING_RETURN_URL", f"{PUBLIC_BASE_URL}/billing")
# Meter events go out in batches of this many per task run (Stripe's v1 meter events API takes one per call).
REELSMITH_METER_BATCH = env_int("REELSMITH_METER_BATCH", 100)
CELERY_BEAT_SCHEDULE["billing-report-usage"] = {"task": "billing.report_usage", "schedule": 60.0}
# Schedule slots and fan-out nudges (campaigns), and webhook retries that came due.
CELERY_BEAT_SCHEDULE["campaigns-tick"] = {"task": "campaigns.tick", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["webhooks-dispatch-due"] = {"task": "webhooks.dispatch_due", "schedule": 15.0}
# Consents that ran out: what was made with their assets is canceled and erased within a minute (core.consent).
CELERY_BEAT_SCHEDULE["consents-expire"] = {"task": "consents.expire", "schedule": 60.0}

# Embedded mode only: run tasks on a background thread (`thread`, so the API answers at once) or right after
# the commit in the caller's thread (`sync`, deterministic for tests).
REELSMITH_EMBEDDED_WORKER = env_str("REELSMITH_EMBEDDED_WORKER", "thread")
if REELSMITH_EMBEDDED_WORKER not in {"thread", "sync"}:
    raise ImproperlyConfigured("REELSMITH_EMBEDDED_WORKER must be thread or sync")
# Embedded mode only: the beat's periodic work (CELERY_BEAT_SCHEDULE: the reconciler, campaign ticks, webhook
# retries, usage metering) runs in-process, on the same schedule, in a process that serves requests or runs
# the demo (core.periodic). REELSMITH_EMBEDDED_PERIODIC_EVERY (seconds) runs every entry that often instead of
# its own interval (tests and demos that cannot wait a minute); 0 keeps the beat's intervals.
REELSMITH_EMBEDDED_PERIODIC = env_bool("REELSMITH_EMBEDDED_PERIODIC", default=True)
REELSMITH_EMBEDDED_PERIODIC_EVERY = env_float("REELSMITH_EMBEDDED_PERIODIC_EVERY", 0.0)

# --- Operations: logs, errors, throttling --------------------------------------------------------------------

# Structured logs (core.logs): JSON lines in service mode, readable lines in embedded mode, each with the
# request id and the render/campaign/... ids of the task that wrote it.
REELSMITH_LOG_FORMAT = env_str("REELSMITH_LOG_FORMAT", "console" if EMBEDDED else "json")
if REELSMITH_LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured("REELSMITH_LOG_FORMAT must be json or console")
LOGGING = logging_config(json=REELSMITH_LOG_FORMAT == "json", level=env_str("LOG_LEVEL", "INFO"))
structlog_configure()

# Errors to Sentry (Django, Celery, and log records at ERROR) when a DSN is set; nothing is sent otherwise.
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    sentry_init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT"),
        release=env_str("SENTRY_RELEASE"),
        traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0),
    )

# Requests per API key (or signed-in person): DRF's "<n>/<second|minute|hour|day>", or `off`. 600 a minute
# is 10 a second sustained, far above what one integration needs and well below what hurts the API.
REELSMITH_THROTTLE_RATE = env_str("REELSMITH_THROTTLE_RATE", "600/minute")
# Django's cache holds the throttle's counts: shared by every process through Redis (REELSMITH_CACHE_URL, by
# default a Redis broker's URL), per process otherwise (embedded mode has one). Its keys are prefixed; on the
# broker's database, never `cache.clear()` (a FLUSHDB would drop the queued tasks too).
REELSMITH_CACHE_URL = env_str(
    "REELSMITH_CACHE_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
CACHES: dict[str, Any] = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REELSMITH_CACHE_URL,
        "KEY_PREFIX": "reelsmith-cache",
    }
    if REELSMITH_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
