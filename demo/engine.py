"""The application lifecycle as the demo uses it: the one place where demo/ imports the
engine (a move of the engine changes these import lines only).

The demo moves every application with the engine (`application_transition`, and the
real scoring `application_score` for the system's moves; payments through the tracking
service `record_payment`, which moves a fully paid application to paid) inside
`quiet()`: one transaction whose after-commit work (notification e-mails, scoring task,
PDF renderings) is dropped, its notifications marked done so that no sweeper sends them
later, and whose clock reads the moment of the demo history that is being played, so
that the engine itself stamps every row with its planned date.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from unittest import mock

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from applications.lifecycle import EDITABLE_STATUSES as EDITABLE_STATUSES
from applications.lifecycle import TRANSITIONS as TRANSITIONS
from applications.lifecycle import Actor as Actor
from applications.lifecycle import Status as Status
from applications.lifecycle import application_transition as application_transition
from applications.lifecycle import rule_for as rule_for
from applications.models import Message, Transition
from applications.scoring import application_score as application_score
from applications.tracking import Tranche as Tranche
from applications.tracking import record_payment as record_payment


def _reachable_editable() -> frozenset[str]:
    """Statuses from which `draft` or `returned` can still be reached: evidence of an
    application in any other status is never deleted again, so it may share files."""
    result = set(EDITABLE_STATUSES)
    while grown := {s for s, to in TRANSITIONS.items() if s not in result and to & result}:
        result |= grown
    return frozenset(result)


CAN_BECOME_EDITABLE = _reachable_editable()


@contextmanager
def quiet() -> Iterator[Callable[[datetime], None]]:
    """A transaction whose after-commit callbacks never run; yields `set_clock(moment)`,
    after which `timezone.now()` returns that moment until the block ends."""
    moment = [timezone.now()]
    with transaction.atomic(), mock.patch.object(timezone, "now", lambda: moment[0]):
        start = len(connection.run_on_commit)
        last = {model: _last_pk(model) for model in (Transition, Message)}
        try:
            yield lambda at: moment.__setitem__(0, at)
            # Their e-mails are dropped too: no sweeper sends them later.
            for model, pk in last.items():
                model.objects.filter(pk__gt=pk, notification_pending=True).update(
                    notification_pending=False
                )
        finally:
            del connection.run_on_commit[start:]


def _last_pk(model: type[Transition] | type[Message]) -> int:
    return model.objects.aggregate(last=Max("pk"))["last"] or 0
