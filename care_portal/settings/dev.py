"""Developer and `make run` settings: SQLite and eager tasks unless told otherwise."""

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)  # noqa: F405
CARE_ENVIRONMENT = "dev"
# The demo data (`manage.py seed_demo`): dev and test settings only, never in production.
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405
