"""Settings shared by every environment; each value comes from the environment."""

from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from care_portal.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "simple_history",  # field history of applications, calls, evidence and roles
    "crispy_forms",
    "dsfr",
    "crispy_dsfr",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from the package (no CDN)
    "care_portal",  # the e-mail outbox (care_portal/models.py); the apps' abstract bases
    "accounts",
    "establishments",
    "audits",
    "applications",
    "monitoring",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "care_portal.middleware.HttpHardeningMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "care_portal.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # The signed-in user as the author of the field history's rows (simple_history).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "accounts.security.SessionExpiryMiddleware",
    "accounts.twofactor.TwoFactorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "care_portal.urls"
WSGI_APPLICATION = "care_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
        },
    },
]

# Database: DATABASE_URL (PostgreSQL in production and CI), else a local SQLite file.
DATABASE_URL = env_str("DATABASE_URL")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if "sqlite" in DATABASES["default"]["ENGINE"]:
    # The embedded default serves parallel requests (uploads): WAL lets readers and one
    # writer work together, writers start at BEGIN IMMEDIATE and wait up to 20 s for
    # the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# SQLite (the embedded default) cannot enforce NULLS NOT DISTINCT; PostgreSQL does.
SILENCED_SYSTEM_CHECKS = ["models.W047"] if "sqlite" in DATABASES["default"]["ENGINE"] else []

AUTH_USER_MODEL = "accounts.User"
# Lockout first: axes refuses a locked account or address before any password check.
AUTHENTICATION_BACKENDS = ["accounts.security.LockoutBackend", "accounts.backends.RoleBackend"]
# ProConnect, the state's single sign-on for agents (accounts/proconnect.py): off unless
# PROCONNECT_CLIENT_ID is set; its backend only ever answers a ProConnect callback.
AUTHENTICATION_BACKENDS += ["accounts.proconnect.ProConnectBackend"]
PROCONNECT_CLIENT_ID = env_str("PROCONNECT_CLIENT_ID")
PROCONNECT_CLIENT_SECRET = env_str("PROCONNECT_CLIENT_SECRET")
PROCONNECT_DISCOVERY_URL = env_str("PROCONNECT_DISCOVERY_URL")
PROCONNECT_ACR_VALUES = env_str("PROCONNECT_ACR_VALUES", "eidas1")
PROCONNECT_SIGN_ALGO = env_str("PROCONNECT_SIGN_ALGO", "RS256")
PROCONNECT_SCOPES = env_str("PROCONNECT_SCOPES", "openid email given_name usual_name")
if PROCONNECT_CLIENT_ID and not (PROCONNECT_CLIENT_SECRET and PROCONNECT_DISCOVERY_URL):
    raise ImproperlyConfigured(
        "PROCONNECT_CLIENT_ID is set: PROCONNECT_CLIENT_SECRET and PROCONNECT_DISCOVERY_URL "
        "are required too."
    )
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    # Older hashes still verify, and are upgraded to Argon2 at the next login.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# django-axes: 5 failures lock the account and the address for 15 minutes; a success
# resets the count. The admin unlocks through "Tentatives d'accès" (axes) or
# `manage.py axes_reset_username EMAIL`.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Its admin pages are registered read-only by accounts/admin.py (records are never edited).
AXES_ENABLE_ADMIN = False
AXES_LOCKOUT_CALLABLE = "accounts.security.lockout_response"
AXES_USERNAME_CALLABLE = "accounts.security.attempted_username"
AXES_VERBOSE = False
# Sessions: 12 hours at most (idle limits per role in accounts.security).
SESSION_COOKIE_AGE = 12 * 60 * 60
PASSWORD_RESET_TIMEOUT = 60 * 60
# Two-factor authentication (TOTP) for ARS and ministry agents and staff. On by default;
# the embedded default (`make run`) turns it off so the demo accounts sign in at once.
CARE_TWO_FACTOR_REQUIRED = env_bool("CARE_TWO_FACTOR_REQUIRED", True)
OTP_TOTP_ISSUER = "Portail CaRE"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Private storage: never served by a public URL; downloads go through scoped views.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media-not-served/"
STORAGES = {
    # Never a partial file: a failed write (disk full) removes what it wrote.
    "default": {"BACKEND": "care_portal.storage.PrivateFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = ("crispy_dsfr",)
CRISPY_TEMPLATE_PACK = "crispy_dsfr"

# Redis: broker and cache when REDIS_URL is set; otherwise tasks run eagerly in process.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "care"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery (docs/architecture.md, "Background work that loses nothing").
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540)
# A message a worker took and never acknowledged (the worker was killed) is delivered
# again once this old: longer than the longest task, so that a slow task is not
# delivered twice meanwhile. Workers look for such messages every ten
# CELERY_UNACKED_RESTORE_INTERVAL seconds (kombu's Redis transport). The fault drills
# (`make drill`) shorten both to see a redelivery within the drill.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT * 2),
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    # A worker's connections are checked and kept alive, so that one cut by a Redis
    # restart is noticed and opened again instead of waiting on a dead socket.
    "health_check_interval": 10,
    "socket_keepalive": True,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Publishing gives up quickly when the broker is down: the request that queued the work
# has committed, and the sweeper re-queues it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_TASK_ROUTES = {"applications.render_*": {"queue": "pdf"}}
# The sweepers re-queue only the work that has waited this long (a submission not
# scored, a dossier not rendered, an import batch left pending), so that work queued
# normally is not doubled.
SWEEP_AFTER_SECONDS = env_int("SWEEP_AFTER_SECONDS", 300)
CELERY_BEAT_SCHEDULE = {
    "sweep-unfinished-applications": {
        "task": "applications.sweep_unfinished_task",
        "schedule": env_int("SWEEP_INTERVAL_SECONDS", 120),
    },
    "sweep-audit-imports": {
        "task": "audits.sweep_audit_imports_task",
        "schedule": env_int("SWEEP_INTERVAL_SECONDS", 120),
    },
    # E-mails of the outbox not sent yet (care_portal/mail.py).
    "sweep-outgoing-emails": {
        "task": "care_portal.sweep_emails_task",
        "schedule": env_int("SWEEP_INTERVAL_SECONDS", 120),
    },
    # Daily digests and reminders (applications/digests.py), early in the morning.
    "send-daily-digests": {
        "task": "applications.send_digests_task",
        "schedule": crontab(hour=env_int("CARE_DIGEST_HOUR", 7), minute=0),
    },
}
# Digests: an application waiting longer than this in a queue is called out; reminders
# start this many days before a due date or a deadline.
CARE_DIGEST_WAITING_DAYS = env_int("CARE_DIGEST_WAITING_DAYS", 15)
CARE_REMINDER_DAYS = env_int("CARE_REMINDER_DAYS", 7)
CELERY_TIMEZONE = TIME_ZONE

# E-mail: EMAIL_URL-like settings; console by default.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "sent-mail"))
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env_str(
    "DEFAULT_FROM_EMAIL", "Portail CaRE <ne-pas-repondre@care.sante.gouv.fr>"
)
# security.txt (RFC 9116): where to report a vulnerability.
# Whom users write to about the portal (the accessibility statement's contact).
CONTACT_EMAIL = env_str("CONTACT_EMAIL", "care@sante.gouv.fr")
SECURITY_CONTACT = env_str("SECURITY_CONTACT", f"mailto:{parseaddr(DEFAULT_FROM_EMAIL)[1]}")

# Uploads: a bound on what a single request may carry in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
IMPORT_MAX_FILE_SIZE = env_int("IMPORT_MAX_FILE_SIZE", 50 * 1024 * 1024)
# Volet 1 audit imports (audits/importers): an uploaded file larger than this is refused
# before it is stored; docs/import-audits.md.
AUDIT_IMPORT_MAX_FILE_SIZE = env_int("AUDIT_IMPORT_MAX_FILE_SIZE", 100 * 1024 * 1024)
# PDF dossiers: the archival variant WeasyPrint writes (empty: a plain PDF).
DOSSIER_PDF_VARIANT = env_str("DOSSIER_PDF_VARIANT", "pdf/a-3b") or None
EVIDENCE_MAX_FILE_SIZE = env_int("EVIDENCE_MAX_FILE_SIZE", 20 * 1024 * 1024)
EVIDENCE_MAX_APPLICATION_SIZE = env_int("EVIDENCE_MAX_APPLICATION_SIZE", 200 * 1024 * 1024)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content Security Policy: the portal's own scripts only (inline scripts carry the
# request's nonce), the portal's own style sheets only (no style attribute, no <style>
# block: classes in static CSS; styles set by scripts through the DOM stay possible), no
# plugin, no framing, forms post to the portal only. tests/e2e/test_csp_browser.py
# fails on any violation in Chromium.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Field history (simple_history): read in the admin's history pages; never reverted
# from there (a past version would bypass the portal's rules).
SIMPLE_HISTORY_REVERT_DISABLED = True

# The read-only API (api/, README "API"): personal tokens only (Authorization: Bearer),
# throttled per token in the default cache (Redis when REDIS_URL is set).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Requests per token (or per address without one), e.g. "120/min", "5000/day".
CARE_API_THROTTLE_RATE = env_str("CARE_API_THROTTLE_RATE", "120/min")
SPECTACULAR_SETTINGS = {
    "TITLE": _("API du portail CaRE"),
    "DESCRIPTION": _(
        "API en lecture seule du portail CaRE : les entités juridiques avec leur statut "
        "Volet 1 et Volet 2, les candidatures et les chiffres de participation, chacun "
        "dans le périmètre exact des pages du portail. Authentification par jeton "
        "personnel : "
        "`Authorization: Bearer <jeton>` (créé sur la page « API » de votre compte)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
}

# Refuse to fall back to SQLite or eager tasks (CI sets this).
CARE_REQUIRE_SERVICES = env_bool("CARE_REQUIRE_SERVICES", False)
DEMO_PASSWORD = "demo-care-2025"  # noqa: S105 - public demo accounts, never created in prod
CARE_ENVIRONMENT = "base"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # pikepdf and WeasyPrint announce themselves, and fontTools talks, at INFO.
    "loggers": {name: {"level": "WARNING"} for name in ("pikepdf", "weasyprint", "fontTools")},
}
