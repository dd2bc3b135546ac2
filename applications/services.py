"""Every write of an application. `application_transition` is the only code that
changes an application's status (DESIGN.md, "Application lifecycle")."""

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from care_portal.errors import (
    CommentRequired,
    TransitionConflict,
    TransitionForbidden,
    TransitionNotAllowed,
)

from .models import Application, Transition
from .roles import actor_roles
from .transitions import Status, rule_for

if TYPE_CHECKING:
    from accounts.models import User

# Work to queue after the commit of a transition into a status: callables taking the
# application id. Later features (scoring, PDF dossiers) register theirs here.
ON_ENTER: dict[str, list[Callable[[int], None]]] = {}


def on_enter(status: str) -> Callable[[Callable[[int], None]], Callable[[int], None]]:
    def register(func: Callable[[int], None]) -> Callable[[int], None]:
        ON_ENTER.setdefault(status, []).append(func)
        return func

    return register


def application_transition(
    *,
    application: Application,
    to: str,
    by: "User | None",
    comment: str = "",
    amount: Decimal | None = None,
) -> Transition:
    """Move `application` to `to` if the table allows it and `by` may take the move.

    The status is changed by a conditional UPDATE (… WHERE status = <from>): of two
    concurrent transitions exactly one wins, the other raises TransitionConflict.
    Raises a subclass of care_portal.errors.ApplicationError on any refusal."""
    source = application.status
    rule = rule_for(source, to)
    if rule is None:
        raise TransitionNotAllowed(
            _("Une candidature à l'état « %(source)s » ne peut pas passer à « %(target)s ».")
            % {"source": Status(source).label, "target": _status_label(to)}
        )
    if not rule.actors & actor_roles(by, application):
        raise TransitionForbidden(_("Vous n'avez pas le droit d'effectuer cette action."))
    comment = comment.strip()
    if rule.requires_comment and not comment:
        raise CommentRequired(_("Un motif est obligatoire pour cette action."))

    now = timezone.now()
    changes: dict[str, object] = {"status": to, "updated_at": now}
    if to == Status.SUBMITTED:
        changes["submitted_at"] = now
    if to == Status.APPROVED and source == Status.NATIONAL_REVIEW:
        if amount is None or amount < 0:
            raise CommentRequired(_("Indiquez le montant accordé."))
        changes["granted_amount"] = amount
    if to == Status.PAID:
        changes["paid_amount"] = amount if amount is not None else application.granted_amount

    with transaction.atomic():
        updated = Application.objects.filter(pk=application.pk, status=source).update(**changes)
        if updated != 1:
            raise TransitionConflict(
                _(
                    "La candidature a été modifiée entre-temps par une autre personne : "
                    "rechargez la page pour voir son état actuel."
                )
            )
        record = Transition.objects.create(
            application=application,
            from_status=source,
            to_status=to,
            actor=by,
            comment=comment,
            created_at=now,
        )
        for field, value in changes.items():
            setattr(application, field, value)
        _queue_after_commit(record)
    return record


def _queue_after_commit(record: Transition) -> None:
    from .tasks import notify_transition_task

    application_id = record.application_id
    transaction.on_commit(lambda: notify_transition_task.delay(record.pk))
    for func in ON_ENTER.get(record.to_status, []):
        transaction.on_commit(lambda func=func: func(application_id))  # type: ignore[misc]


def _status_label(value: str) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return value
