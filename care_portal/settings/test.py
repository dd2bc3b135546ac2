"""Test settings: PostgreSQL and Redis when DATABASE_URL/REDIS_URL are set."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403

CARE_ENVIRONMENT = "test"
# Off for the suite's personas (force_login gives no second factor); the two-factor
# tests turn it on.
CARE_TWO_FACTOR_REQUIRED = False
# The demo data (`manage.py seed_demo`), so that the tests can test it (never in prod).
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
if env_str("CARE_TEST_EMAIL_DIR"):  # noqa: F405 - a real worker process writes mail there
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env_str("CARE_TEST_EMAIL_DIR")  # noqa: F405
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / ".test-media")))  # noqa: F405
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}

if CARE_REQUIRE_SERVICES:  # noqa: F405
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
        raise ImproperlyConfigured(
            "CARE_REQUIRE_SERVICES is set: DATABASE_URL must point to PostgreSQL."
        )
    if not REDIS_URL:  # noqa: F405
        raise ImproperlyConfigured("CARE_REQUIRE_SERVICES is set: REDIS_URL is required.")

# The suite itself runs tasks in process; tests marked `worker` start a real worker,
# which sets CARE_TEST_EAGER=0 so that its retries and follow-up tasks go to Redis.
CELERY_TASK_ALWAYS_EAGER = env_bool("CARE_TEST_EAGER", True)  # noqa: F405
