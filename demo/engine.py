"""The application lifecycle as the demo uses it: the one place where demo/ imports
the engine and its names (a move of the engine changes these import lines only).

The demo moves every application with the engine (`application_transition`, and
`application_score` for the system's moves), inside `quiet()`: one transaction whose
after-commit work is dropped. The engine queues, after the commit, the notification
e-mail of every transition and the on-enter work (scoring task, PDF renderings); the
seed scores synchronously itself, creates the dossiers as pending rows, and sends no
mail.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from applications.lifecycle import (
    EDITABLE_STATUSES,
    TRANSITIONS,
    Actor,
    Rule,
    Status,
    application_transition,
    rule_for,
)
from applications.scoring import application_score

__all__ = [
    "EDITABLE_STATUSES",
    "TRANSITIONS",
    "Actor",
    "Rule",
    "Status",
    "application_score",
    "application_transition",
    "quiet",
    "rule_for",
]


@contextmanager
def quiet() -> Iterator[None]:
    """A transaction whose after-commit callbacks, queued inside it, never run."""
    with transaction.atomic():
        start = len(connection.run_on_commit)
        try:
            yield
        finally:
            del connection.run_on_commit[start:]
