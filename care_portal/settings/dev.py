"""Developer and `make run` settings: SQLite and eager tasks unless told otherwise."""

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)  # noqa: F405
CARE_ENVIRONMENT = "dev"
# The demo's agents sign in without enrolling an authenticator (CARE_TWO_FACTOR_REQUIRED=1
# to try the two-factor flow locally).
CARE_TWO_FACTOR_REQUIRED = env_bool("CARE_TWO_FACTOR_REQUIRED", False)  # noqa: F405
# The demo data (`manage.py seed_demo`): dev and test settings only, never in production.
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405
