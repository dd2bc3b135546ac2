"""Developer and `make run` settings: SQLite and eager tasks unless told otherwise."""

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)  # noqa: F405
CARE_ENVIRONMENT = "dev"
