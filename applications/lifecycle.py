"""The application lifecycle: the only code that writes `Application.status`
(docs/architecture.md, "Application lifecycle").

`TRANSITIONS` maps each status to the statuses reachable from it; `RULES` says, for
each move, who may take it; `actor_roles` says which roles a user holds towards an
application; `application_transition` moves an application along the table and runs
the on-enter hooks after the commit. Hooks are registered with `@on_enter(status)` by
the modules that own the work (scoring, dossiers), imported when the app is ready:
this module imports none of them. It imports no model either (the models import the
table for their choices): it writes through the application it is given.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import audit
from care_portal.errors import (
    CommentRequired,
    TransitionConflict,
    TransitionForbidden,
    TransitionNotAllowed,
)
from care_portal.queue import enqueue_on_commit

if TYPE_CHECKING:
    from accounts.models import User


class Status(models.TextChoices):
    DRAFT = "draft", gettext_lazy("Brouillon")
    SUBMITTED = "submitted", gettext_lazy("Déposée")
    INELIGIBLE = "ineligible", gettext_lazy("Inéligible")
    REGIONAL_REVIEW = "regional_review", gettext_lazy("Instruction par l'ARS")
    RETURNED = "returned", gettext_lazy("Renvoyée pour compléments")
    NATIONAL_REVIEW = "national_review", gettext_lazy("Instruction nationale")
    APPROVED = "approved", gettext_lazy("Accordée")
    REJECTED = "rejected", gettext_lazy("Refusée")
    WITHDRAWN = "withdrawn", gettext_lazy("Retirée")
    OBJECTIVES_DECLARED = "objectives_declared", gettext_lazy("Objectifs déclarés atteints")
    OBJECTIVES_CHECKED = "objectives_checked", gettext_lazy("Objectifs vérifiés par l'ARS")
    OBJECTIVES_VALIDATED = "objectives_validated", gettext_lazy("Objectifs validés")
    PAID = "paid", gettext_lazy("Payée")


class Actor(models.TextChoices):
    """Who may take a transition: a role of accounts.Membership, or the system
    (the eligibility task)."""

    ESTABLISHMENT = "establishment", gettext_lazy("Établissement")
    REGIONAL = "regional", gettext_lazy("ARS")
    MINISTRY = "ministry", gettext_lazy("Ministère")
    SYSTEM = "system", gettext_lazy("Système")


@dataclass(frozen=True)
class Rule:
    source: str
    target: str
    actors: frozenset[str]
    action: str  # a verb for buttons and the history ("déposer", "valider"…)
    requires_comment: bool = False


def _rule(
    source: Status, target: Status, actors: set[Actor], action: str, *, comment: bool = False
) -> Rule:
    return Rule(source.value, target.value, frozenset(a.value for a in actors), action, comment)


S, A = Status, Actor
E, R, M, SYS = A.ESTABLISHMENT, A.REGIONAL, A.MINISTRY, A.SYSTEM

RULES: tuple[Rule, ...] = (
    _rule(S.DRAFT, S.SUBMITTED, {E}, "submit"),
    _rule(S.SUBMITTED, S.REGIONAL_REVIEW, {SYS}, "score_eligible"),
    _rule(S.SUBMITTED, S.INELIGIBLE, {SYS}, "score_ineligible"),
    _rule(S.INELIGIBLE, S.REGIONAL_REVIEW, {M}, "reconsider", comment=True),
    _rule(S.REGIONAL_REVIEW, S.NATIONAL_REVIEW, {R}, "validate_regional"),
    _rule(S.REGIONAL_REVIEW, S.RETURNED, {R}, "return_regional", comment=True),
    _rule(S.RETURNED, S.SUBMITTED, {E}, "resubmit"),
    _rule(S.NATIONAL_REVIEW, S.APPROVED, {M}, "approve"),
    _rule(S.NATIONAL_REVIEW, S.REJECTED, {M}, "reject", comment=True),
    _rule(S.NATIONAL_REVIEW, S.RETURNED, {M}, "return_national", comment=True),
    _rule(S.DRAFT, S.WITHDRAWN, {E}, "withdraw"),
    _rule(S.SUBMITTED, S.WITHDRAWN, {E}, "withdraw"),
    _rule(S.RETURNED, S.WITHDRAWN, {E}, "withdraw"),
    _rule(S.REGIONAL_REVIEW, S.WITHDRAWN, {E}, "withdraw"),
    # Found ineligible, the candidate may withdraw and start again once its data is
    # fixed (a withdrawn application no longer holds its place in the call).
    _rule(S.INELIGIBLE, S.WITHDRAWN, {E}, "withdraw"),
    _rule(S.APPROVED, S.OBJECTIVES_DECLARED, {E}, "declare_objectives"),
    _rule(S.OBJECTIVES_DECLARED, S.OBJECTIVES_CHECKED, {R}, "check_objectives"),
    _rule(S.OBJECTIVES_CHECKED, S.OBJECTIVES_VALIDATED, {M}, "validate_objectives"),
    _rule(S.OBJECTIVES_DECLARED, S.APPROVED, {R}, "refuse_evidence", comment=True),
    _rule(S.OBJECTIVES_CHECKED, S.APPROVED, {M}, "refuse_evidence", comment=True),
    _rule(S.OBJECTIVES_VALIDATED, S.PAID, {M}, "record_payment"),
)

RULES_BY_MOVE: dict[tuple[str, str], Rule] = {(r.source, r.target): r for r in RULES}

# The table as data: each status -> the statuses reachable from it.
TRANSITIONS: dict[str, frozenset[str]] = {
    status.value: frozenset(r.target for r in RULES if r.source == status.value)
    for status in Status
}

# Statuses in which the applicant may edit the application's content.
EDITABLE_STATUSES = frozenset({Status.DRAFT.value, Status.RETURNED.value})


def rule_for(source: str, target: str) -> Rule | None:
    return RULES_BY_MOVE.get((source, target))


# --- What the engine reads and writes of an application ---------------------------------


class Lifecycled(Protocol):
    """An application (`applications.models.Application`), named by what the engine uses
    of it: the models import this module for their choices, so it cannot import them."""

    objects: ClassVar[Any]  # the applications' manager: the conditional UPDATE
    pk: Any
    status: str
    candidate_id: int
    granted_amount: Decimal | None

    @property
    def candidate(self) -> Any: ...  # read for the regional role

    @property
    def transitions(self) -> Any: ...  # the log: Transition rows

    @property
    def messages(self) -> Any: ...  # the thread: Message rows


# --- Who holds which role towards an application ---------------------------------------


def actor_roles(user: "User | None", application: Lifecycled) -> set[str]:
    """The roles of the lifecycle table this user holds for this application: the
    establishment role for the candidate's users, the regional role for the ARS of the
    candidate's region, the ministry role nationally; `None` is the system."""
    if user is None:
        return {Actor.SYSTEM.value}
    if not user.is_active:
        return set()
    scope = user.scope
    roles: set[str] = set()
    if application.candidate_id in scope.legal_entity_ids:
        roles.add(Actor.ESTABLISHMENT.value)
    if application.candidate.department.region_id in scope.region_ids:
        roles.add(Actor.REGIONAL.value)
    if scope.national:
        roles.add(Actor.MINISTRY.value)
    return roles


# --- The on-enter hooks -----------------------------------------------------------------

# Work to queue after the commit of a transition into a status: callables taking the
# application id, registered with `@on_enter(status)` by the modules owning the work
# (imported by `ApplicationsConfig.ready`, so that web, workers and tests share them).
ON_ENTER: dict[str, list[Callable[[int], None]]] = {}


def on_enter(status: str) -> Callable[[Callable[[int], None]], Callable[[int], None]]:
    def register(func: Callable[[int], None]) -> Callable[[int], None]:
        hooks = ON_ENTER.setdefault(str(status), [])
        if func not in hooks:  # a module imported twice registers once
            hooks.append(func)
        return func

    return register


# --- The engine -------------------------------------------------------------------------


def application_transition(
    *,
    application: Lifecycled,
    to: str,
    by: "User | None",
    comment: str = "",
    amount: Decimal | None = None,
) -> Any:
    """Move `application` to `to` if the table allows it and `by` may take the move.

    The status is changed by a conditional UPDATE (… WHERE status = <from>): of two
    concurrent transitions exactly one wins, the other raises TransitionConflict.
    Raises a subclass of care_portal.errors.ApplicationError on any refusal. Returns
    the `Transition` row written."""
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
        updated = (
            type(application).objects.filter(pk=application.pk, status=source).update(**changes)
        )
        if updated != 1:
            raise TransitionConflict(
                _(
                    "La candidature a été modifiée entre-temps par une autre personne : "
                    "rechargez la page pour voir son état actuel."
                )
            )
        record = application.transitions.create(
            from_status=source,
            to_status=to,
            actor=by,
            comment=comment,
            created_at=now,
            notification_pending=True,
        )
        audit.record(
            audit.Action.TRANSITION,
            actor=by,
            obj=application,  # type: ignore[arg-type]
            move=rule.action,
            source=source,
            target=to,
            amount=str(changes.get("granted_amount", "")),
        )
        if to == Status.RETURNED:
            # The request is shown at the top of the reopened application and in its thread;
            # not flagged for notification: the transition's e-mail announces it.
            application.messages.create(author=by, body=comment, is_return_request=True)
        for field, value in changes.items():
            setattr(application, field, value)
        _queue_after_commit(record)
    return record


def _queue_after_commit(record: Any) -> None:
    # robust: a broker outage is logged, never turned into an error of the committed
    # request; the sweeper re-queues what was lost (docs/architecture.md).
    application_id = record.application_id
    enqueue_on_commit("applications.notify_transition_task", record.pk)
    for func in ON_ENTER.get(record.to_status, []):
        # A named function, not a partial: the robust handler logs the callback's name.
        transaction.on_commit(_bound(func, application_id), robust=True)


def _bound(func: Callable[[int], None], application_id: int) -> Callable[[], None]:
    def run() -> None:
        func(application_id)

    run.__qualname__ = run.__name__ = getattr(func, "__qualname__", "on_enter")
    return run


def _status_label(value: str) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return value


def lock_status(application: Lifecycled) -> str:
    """Lock the application's row until the end of the current transaction and read its
    status from the database into `application` (an edit then never lands on an
    application moved meanwhile by another tab, another user or a double click)."""
    current = type(application).objects.select_for_update().only("status").get(pk=application.pk)
    application.status = current.status
    return application.status
