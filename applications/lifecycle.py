"""The application lifecycle as data (DESIGN.md, "Application lifecycle").

`TRANSITIONS` maps each status to the statuses reachable from it; `RULES` says, for
each move, who may take it. `applications.services.application_transition` is the
only code that changes an application's status, and it reads this table.
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    SUBMITTED = "submitted", _("Déposée")
    INELIGIBLE = "ineligible", _("Inéligible")
    REGIONAL_REVIEW = "regional_review", _("Instruction par l'ARS")
    RETURNED = "returned", _("Renvoyée pour compléments")
    NATIONAL_REVIEW = "national_review", _("Instruction nationale")
    APPROVED = "approved", _("Accordée")
    REJECTED = "rejected", _("Refusée")
    WITHDRAWN = "withdrawn", _("Retirée")
    OBJECTIVES_DECLARED = "objectives_declared", _("Objectifs déclarés atteints")
    OBJECTIVES_CHECKED = "objectives_checked", _("Objectifs vérifiés par l'ARS")
    OBJECTIVES_VALIDATED = "objectives_validated", _("Objectifs validés")
    PAID = "paid", _("Payée")


class Actor(models.TextChoices):
    """Who may take a transition: a role of accounts.Membership, or the system
    (the eligibility task)."""

    ESTABLISHMENT = "establishment", _("Établissement")
    REGIONAL = "regional", _("ARS")
    MINISTRY = "ministry", _("Ministère")
    SYSTEM = "system", _("Système")


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
