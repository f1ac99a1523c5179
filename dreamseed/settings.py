"""Settings for DreamSeed jobs.

Everything comes from the environment. With nothing configured the project
runs on the embedded default: SQLite and kombu's filesystem transport under
``DREAMSEED_VAR_DIR``, so a machine with only Python can run the demo.
Production sets ``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL``
(Redis).
"""

import os
from pathlib import Path

import dj_database_url
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


# Runtime files of the embedded default (database, broker folders, media).
VAR_DIR = Path(os.environ.get("DREAMSEED_VAR_DIR", BASE_DIR / "var"))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "embedded-default-only-not-for-production-use"
)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
    if h.strip()
]
if os.environ.get("DATABASE_URL") and SECRET_KEY.startswith("embedded-default"):
    # Production profile: refuse to run with the public development key.
    if not env_bool("DREAMSEED_ALLOW_DEFAULT_SECRET", False):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "DATABASE_URL is set but DJANGO_SECRET_KEY is not: set a secret key "
            "(or DREAMSEED_ALLOW_DEFAULT_SECRET=1 for tests)."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_celery_results",
    "assessments",
    "jobs",
    "calibration",
    "reports",
    "notifications",
    "exports",
    "analytics",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dreamseed.urls"
WSGI_APPLICATION = "dreamseed.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------

EMBEDDED = not os.environ.get("DATABASE_URL")
if EMBEDDED:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "dreamseed.sqlite3",
            "OPTIONS": {
                # Several worker processes write at once: WAL lets readers go on
                # while one writes, IMMEDIATE takes the write lock up front so a
                # transaction never fails half-way on an upgrade, and the busy
                # timeout (seconds) makes writers wait instead of failing.
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
else:
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"],
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE_SECONDS", 60),
            conn_health_checks=True,
        )
    }
    if "postgresql" in DATABASES["default"]["ENGINE"]:
        # A server that accepts the connection and never answers (a
        # fail-over, a paused machine, a dropped NAT entry) would otherwise
        # hold each request and each job claim for ever. A connect_timeout in
        # DATABASE_URL wins.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = Path(os.environ.get("DREAMSEED_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

# Files (report PDFs, exports) go through Django's storage API. Production may
# point "default" at an S3-compatible backend with DREAMSEED_STORAGE_BACKEND.
STORAGES = {
    "default": {
        "BACKEND": os.environ.get(
            "DREAMSEED_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
        ),
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}

# Request bodies larger than this (bytes) are refused before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DREAMSEED_MAX_BODY_BYTES", 1_000_000)

# --- Cache ------------------------------------------------------------------

# Shared by every process (submission throttling counts per user across all
# web servers): Redis in production, this process's memory otherwise.
_cache_url = os.environ.get("CACHE_URL") or (
    os.environ.get("CELERY_BROKER_URL", "")
    if os.environ.get("CELERY_BROKER_URL", "").startswith(("redis://", "rediss://"))
    else ""
)
if _cache_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": "dreamseed-cache",
            # Fail fast when Redis is unreachable: the cache only throttles,
            # and a request should not wait for it.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST framework ---------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "assessments.authentication.OrganisationTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "assessments.permissions.HasOrganisation",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "jobs.pagination.JobCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {
        "submissions": os.environ.get("DREAMSEED_SUBMIT_RATE", "600/minute"),
    },
    "EXCEPTION_HANDLER": "dreamseed.api.exception_handler",
    # The API takes JSON only: anything else is 415, a body over
    # DATA_UPLOAD_MAX_MEMORY_SIZE is 413.
    "DEFAULT_PARSER_CLASSES": ["jobs.parsers.LimitedJSONParser"],
    "STRICT_JSON": True,
}

# Where /api-auth/login/ sends a user it has no (local) next page for: the
# only page that sign-in is for, instead of Django's /accounts/profile/ (404).
LOGIN_REDIRECT_URL = "api-docs"

SPECTACULAR_SETTINGS = {
    "TITLE": "DreamSeed jobs API",
    "DESCRIPTION": "Submit and track background work: reports, calibrations, exports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its UI need a signed-in user, like every other endpoint.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's scripts from this server, at a pinned version, rather than
    # from a CDN: the page works without internet access.
    # The job's choices appear in more than one component (a job, a job in a
    # list): name them once.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.Job.Status",
        "JobKindEnum": "jobs.models.Job.Kind",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Celery -------------------------------------------------------------------

# Broker: Redis in production; kombu's filesystem transport on the embedded
# default (no server to install, but no priorities either).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
BROKER_IS_REDIS = CELERY_BROKER_URL.startswith(("redis://", "rediss://"))

# Longest hard time limit of any task, in seconds. Calibration of a large bank
# may run for hours.
JOBS_LONGEST_TIME_LIMIT_SECONDS = env_int("JOBS_LONGEST_TIME_LIMIT_SECONDS", 6 * 3600)

if BROKER_IS_REDIS:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Ten real priority lanes (kombu's default has four: 0, 3, 6, 9).
        "priority_steps": list(range(10)),
        "sep": ":",
        "queue_order_strategy": "priority",
        # Redis redelivers an unacknowledged message after this many seconds.
        # It must exceed every hard time limit, or a running task is handed
        # to a second worker while the first still works on it.
        "visibility_timeout": JOBS_LONGEST_TIME_LIMIT_SECONDS + 3600,
        # A Redis that stops answering without closing the connection (a
        # fail-over, a paused machine, a dropped NAT entry) would otherwise
        # hold every publish, and the request making it, for ever. A publish
        # that times out leaves its job queued for the sweeper.
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
elif CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        # Seconds between looks at the folder. With one message prefetched per
        # process, kombu's default of 1 s capped the demo at about 2 jobs/s.
        "polling_interval": 0.05,
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}

CELERY_RESULT_BACKEND = os.environ.get(
    "CELERY_RESULT_BACKEND", "dreamseed.results.ResultBackend"
)
CELERY_CACHE_BACKEND = "django-cache"
# Celery's Django fix-up closes the database connection after every task
# unless this is set; reopening it capped results in PostgreSQL at about 125
# tasks/s here. Connections are recycled after this many tasks instead.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_RESULT_EXTENDED = True  # store task name, arguments and worker
CELERY_RESULT_EXPIRES = 24 * 3600  # seconds
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A child that ends gives its memory back. Replacing one costs the worker
# about 17 ms with the pool below (0.2 s, sometimes 5 s, with the stock one).
CELERY_WORKER_POOL = os.environ.get("CELERY_WORKER_POOL", "dreamseed.pool:TaskPool")
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 100)
# Task events cost the worker's parent three Redis publishes per task, about a
# tenth of a short job's throughput, and nobody hears them unless Flower runs;
# Flower switches them on itself every few seconds (its --enable-events,
# on by default). "sent" events, which only the publisher can send, are off
# for the same reason; turn either on here if another consumer wants them.
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_WORKER_SEND_TASK_EVENTS", False)
CELERY_TASK_SEND_SENT_EVENT = env_bool("CELERY_TASK_SEND_SENT_EVENT", False)
CELERY_TASK_TRACK_STARTED = True
# Hard limit (seconds) of any task that does not set its own.
CELERY_TASK_TIME_LIMIT = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [
    Queue("default"),
    Queue("reports"),
    Queue("irt"),
    Queue("emails"),
    Queue("exports"),
]
CELERY_TASK_ROUTES = {
    "dreamseed.reports.*": {"queue": "reports"},
    "dreamseed.calibration.*": {"queue": "irt"},
    "dreamseed.notifications.*": {"queue": "emails"},
    "dreamseed.exports.*": {"queue": "exports"},
}

# API priority 0-9, higher is more urgent; see jobs.priorities.
JOBS_DEFAULT_PRIORITY = 5
# Broker priority of a message published without one (the API's default 5:
# Redis serves 0 first, so 9 - 5).
CELERY_TASK_DEFAULT_PRIORITY = 9 - JOBS_DEFAULT_PRIORITY

# Job lifecycle.
JOBS_MAX_ATTEMPTS = env_int("JOBS_MAX_ATTEMPTS", 3)
JOBS_RETRY_BACKOFF_SECONDS = env_int("JOBS_RETRY_BACKOFF_SECONDS", 5)
JOBS_RETRY_BACKOFF_MAX_SECONDS = env_int("JOBS_RETRY_BACKOFF_MAX_SECONDS", 300)
JOBS_HEARTBEAT_SECONDS = env_int("JOBS_HEARTBEAT_SECONDS", 30)
# A running job whose heartbeat is older than this is presumed lost.
JOBS_STALE_AFTER_SECONDS = env_int("JOBS_STALE_AFTER_SECONDS", 300)
# A queued job not started after this long is published again.
JOBS_REQUEUE_AFTER_SECONDS = env_int("JOBS_REQUEUE_AFTER_SECONDS", 600)
JOBS_BATCH_MAX_SIZE = env_int("JOBS_BATCH_MAX_SIZE", 1000)
# Also keep django-celery-results rows for job tasks (name, arguments,
# worker). Off by default: the job row already holds the outcome in the
# database, and the second row was a sixth of a short job's cost. Other tasks
# (sweeps, clean-up, webhook deliveries) always keep theirs. The publisher
# tells the worker, so set it alike in web processes and workers.
JOBS_STORE_TASK_RESULTS = env_bool("JOBS_STORE_TASK_RESULTS", False)

# Calibration.
CALIBRATION_DEFAULT_METHOD = os.environ.get("CALIBRATION_DEFAULT_METHOD", "jmle")
CALIBRATION_MAX_ITERATIONS = env_int("CALIBRATION_MAX_ITERATIONS", 500)
CALIBRATION_TOLERANCE = float(os.environ.get("CALIBRATION_TOLERANCE", "1e-4"))
CALIBRATION_TIME_LIMIT_SECONDS = env_int(
    "CALIBRATION_TIME_LIMIT_SECONDS", JOBS_LONGEST_TIME_LIMIT_SECONDS
)
# Responses read from the database per query when building the matrix.
CALIBRATION_READ_CHUNK_ROWS = env_int("CALIBRATION_READ_CHUNK_ROWS", 200_000)

# Reports.
REPORTS_ENGINE = os.environ.get("REPORTS_ENGINE", "auto")  # auto|builtin|quarto
REPORTS_RENDER_TIMEOUT_SECONDS = env_int("REPORTS_RENDER_TIMEOUT_SECONDS", 120)
REPORTS_TIME_LIMIT_SECONDS = env_int("REPORTS_TIME_LIMIT_SECONDS", 600)
REPORTS_TEMPLATE_DIR = BASE_DIR / "templates" / "reports"

# E-mail: console on the embedded default, SMTP when a host is configured.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_SECONDS", 30)
# Without a mail server the embedded default prints messages to the console;
# a production setup refuses to send, so an e-mail job fails saying so
# instead of reporting messages as sent that went only to a log.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
    if EMBEDDED
    else "notifications.backends.NoMailServerBackend",
)
# Where people reach this service; links in e-mails start with it.
DREAMSEED_BASE_URL = os.environ.get(
    "DREAMSEED_BASE_URL", "http://localhost:8000"
).rstrip("/")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "reports@dreamseed.invalid")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Exports, notifications, analytics and monitoring ----------------------

# Exports are deleted (row and file) this many seconds after they were asked
# for.
EXPORTS_TTL_SECONDS = env_int("EXPORTS_TTL_SECONDS", 7 * 24 * 3600)
EXPORTS_TIME_LIMIT_SECONDS = env_int("EXPORTS_TIME_LIMIT_SECONDS", 3600)
# Rows fetched from the server-side cursor per round trip: on 1,000,000
# responses 20,000 took 8.1 s against 9.6 s for 5,000, for a few MB of memory.
EXPORTS_READ_CHUNK_ROWS = env_int("EXPORTS_READ_CHUNK_ROWS", 20_000)

# Webhooks. Production: https to public addresses only (no SSRF into the
# private network); tests allow http://127.0.0.1 through these two switches.
WEBHOOKS_ALLOW_HTTP = env_bool("WEBHOOKS_ALLOW_HTTP", False)
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 10)
# How long a worker trusts its list of organisations with an endpoint: a new
# endpoint hears of jobs that end at most this long after it was saved.
WEBHOOKS_ENDPOINTS_REFRESH_SECONDS = env_int("WEBHOOKS_ENDPOINTS_REFRESH_SECONDS", 5)
WEBHOOKS_MAX_ATTEMPTS = env_int("WEBHOOKS_MAX_ATTEMPTS", 8)
WEBHOOKS_RETRY_BACKOFF_SECONDS = env_int("WEBHOOKS_RETRY_BACKOFF_SECONDS", 10)
WEBHOOKS_RETRY_BACKOFF_MAX_SECONDS = env_int("WEBHOOKS_RETRY_BACKOFF_MAX_SECONDS", 3600)
# Receivers should refuse a signature older than this (seconds).
WEBHOOKS_SIGNATURE_TOLERANCE_SECONDS = 300

# Monitoring. /metrics answers staff sessions and this bearer token (empty:
# staff sessions only). Health checks wait at most this long per part.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
HEALTH_TIMEOUT_SECONDS = float(os.environ.get("HEALTH_TIMEOUT_SECONDS", "1.0"))
FLOWER_BASIC_AUTH = os.environ.get("FLOWER_BASIC_AUTH", "")
# Every log line says which task and job wrote it ("-" outside tasks).
LOGGING["formatters"]["plain"] = {
    "()": "monitoring.logs.TaskFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s [task=%(task_id)s job=%(job_id)s] "
    "%(message)s",
}
CELERY_WORKER_LOG_FORMAT = (
    "[%(asctime)s: %(levelname)s/%(processName)s] %(name)s "
    "[task=%(task_id)s job=%(job_id)s] %(message)s"
)
CELERY_WORKER_TASK_LOG_FORMAT = CELERY_WORKER_LOG_FORMAT
