"""Test settings: PostgreSQL and Redis when DATABASE_URL/REDIS_URL are set."""

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

from . import base as _base
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


# Under pytest-xdist (`make test` runs two test processes), each process has its own
# Redis database, as pytest-django gives it its own PostgreSQL database: their queues,
# caches and locks never meet. A real worker started by a test inherits the URL
# already chosen (tests/worker.py drops PYTEST_XDIST_WORKER from its environment).
def _redis_url_of_this_process(url: str) -> str:
    worker = env_str("PYTEST_XDIST_WORKER")  # noqa: F405 - "gw0", "gw1"... or unset
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    index = (int(parts.path.strip("/") or 0) + 1 + int(worker[2:])) % 16
    return urlunsplit(parts._replace(path=f"/{index}"))


REDIS_URL = _redis_url_of_this_process(_base.REDIS_URL)
if REDIS_URL != _base.REDIS_URL:
    CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
    CELERY_BROKER_URL = REDIS_URL

if CARE_REQUIRE_SERVICES:  # noqa: F405
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
        raise ImproperlyConfigured(
            "CARE_REQUIRE_SERVICES is set: DATABASE_URL must point to PostgreSQL."
        )
    if not REDIS_URL:
        raise ImproperlyConfigured("CARE_REQUIRE_SERVICES is set: REDIS_URL is required.")

# The suite itself runs tasks in process; tests marked `worker` start a real worker,
# which sets CARE_TEST_EAGER=0 so that its retries and follow-up tasks go to Redis.
CELERY_TASK_ALWAYS_EAGER = env_bool("CARE_TEST_EAGER", True)  # noqa: F405
