"""Regional instruction: what an ARS agent does to an application of their region.

Every act asks the same two questions first: does the agent hold the regional role
for this application (`lifecycle.actor_roles`: the candidate's region is theirs), and
are they free of any conflict of interest (`conflicts.ensure_no_conflict`)? Status
moves go through `lifecycle.application_transition`, the only writer of the status;
the other columns are written by conditional UPDATEs of the fields concerned, never by
saving the whole row (a stale copy would put an old status back). Every refusal raises
a `care_portal.errors.ApplicationError` with a French message."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.models import Membership
from care_portal.errors import (
    AmountRefused,
    ApplicationError,
    CommentRequired,
    ConflictOfInterest,
    TransitionForbidden,
    TransitionNotAllowed,
)

from .conflicts import conflict_declare, ensure_no_conflict, has_conflict
from .lifecycle import Actor, Status, actor_roles, application_transition, lock_status
from .models import Application, ConflictDeclaration, InstructionNote, Opinion, RegionalReview

if TYPE_CHECKING:
    from accounts.models import User
    from establishments.models import LegalEntity

# The statuses in which an application has an agent in charge at the ARS: instructed,
# waiting for the applicant's complements, or its objectives to check.
ASSIGNABLE_STATUSES = frozenset(
    {
        Status.REGIONAL_REVIEW.value,
        Status.RETURNED.value,
        Status.OBJECTIVES_DECLARED.value,
    }
)

NOTE_MAX_LENGTH = 10000


# --- Who may instruct --------------------------------------------------------------------


def is_regional_agent(user: "User", application: Application) -> bool:
    """The user holds the regional role for this application (its candidate's region)."""
    return Actor.REGIONAL.value in actor_roles(user, application)


def can_instruct(user: "User", application: Application) -> bool:
    """An ARS agent of the candidate's region with no conflict of interest."""
    return is_regional_agent(user, application) and not has_conflict(user, application)


def _ensure_agent(user: "User", application: Application) -> None:
    if not is_regional_agent(user, application):
        raise TransitionForbidden(
            _("Seul un agent de l'ARS de la région du candidat peut instruire cette candidature.")
        )
    ensure_no_conflict(user, application)


IN_REGIONAL_REVIEW = frozenset({Status.REGIONAL_REVIEW.value})


@contextmanager
def _in_status(application: Application, statuses: frozenset[str], message: str) -> Iterator[None]:
    """A transaction holding the application's status lock, entered only if its status
    is one of `statuses`; otherwise TransitionNotAllowed with `message`."""
    with transaction.atomic():
        lock_status(application)
        if application.status not in statuses:
            raise TransitionNotAllowed(
                message % {"status": application.get_status_display(), "reference": application}
            )
        yield


def _write(application: Application, **fields: object) -> None:
    """Write these columns only (and `updated_at`), then mirror them in memory."""
    fields["updated_at"] = timezone.now()
    Application.objects.filter(pk=application.pk).update(**fields)
    for name, value in fields.items():
        setattr(application, name, value)


# --- Assignment ----------------------------------------------------------------------------


def take(application: Application, *, by: "User") -> Application:
    """ "Je prends": the agent puts the application in their own name."""
    _ensure_agent(by, application)
    _assign(
        application,
        by=by,
        agent=by,
        refused=_("Une candidature à l'état « %(status)s » ne peut pas être prise en charge."),
        move="take",
    )
    return application


def _assign(
    application: Application,
    *,
    by: "User",
    agent: "User",
    refused: str,
    move: str,
    **details: Any,
) -> None:
    """Put the application in the agent's name, under the status lock, if its status allows
    it (`refused` says why not), and write the act to the audit trail."""
    with _in_status(application, ASSIGNABLE_STATUSES, refused):
        previous = application.assigned_to_id
        _write(application, assigned_to=agent, assigned_at=timezone.now())
        audit.record(
            audit.Action.DECISION,
            actor=by,
            obj=application,
            move=move,
            **details,
            previous=previous,
        )


def colleagues(application: Application) -> list["User"]:
    """The active agents of the ARS of the candidate's region, by name."""
    from accounts.models import User

    region_id = application.candidate.department.region_id
    return list(
        User.objects.filter(
            is_active=True,
            memberships__role=Membership.Role.REGIONAL,
            memberships__region_id=region_id,
        )
        .distinct()
        .order_by("full_name", "email")
    )


def reassign(application: Application, *, by: "User", to: "User") -> Application:
    """Hand the application to a colleague of the same ARS (an active user with a
    regional membership in the candidate's region, free of any conflict with it)."""
    _ensure_agent(by, application)
    region_id = application.candidate.department.region_id
    is_colleague = (
        to.is_active
        and to.memberships.filter(role=Membership.Role.REGIONAL, region_id=region_id).exists()
    )
    if not is_colleague:
        raise TransitionForbidden(
            _(
                "%(name)s n'est pas un agent de l'ARS de la région du candidat : "
                "la candidature ne peut lui être attribuée."
            )
            % {"name": to}
        )
    if has_conflict(to, application):
        raise ConflictOfInterest(
            _(
                "%(name)s est en conflit d'intérêts avec cette candidature : "
                "elle ne peut lui être attribuée."
            )
            % {"name": to}
        )
    _assign(
        application,
        by=by,
        agent=to,
        refused=_("Une candidature à l'état « %(status)s » ne peut pas être réattribuée."),
        move="reassign",
        to=to.email,
    )
    return application


# --- Private notes -------------------------------------------------------------------------


def add_note(application: Application, *, by: "User", body: str) -> InstructionNote:
    """A note between agents of the ARS: never shown to the applicant."""
    _ensure_agent(by, application)
    body = body.strip()
    if not body:
        raise CommentRequired(_("La note est vide."))
    if len(body) > NOTE_MAX_LENGTH:
        raise ApplicationError(_("La note dépasse %(max)d caractères.") % {"max": NOTE_MAX_LENGTH})
    return InstructionNote.objects.create(application=application, author=by, body=body)


# --- Opinion and return ------------------------------------------------------------------


@dataclass(frozen=True)
class OpinionInput:
    opinion: str
    motivation: str
    proposed_amount: Decimal | None


def _check_opinion(application: Application, given: OpinionInput) -> None:
    if given.opinion not in Opinion.values:
        raise ApplicationError(_("Choisissez un avis : favorable, défavorable ou réservé."))
    if not given.motivation.strip():
        raise CommentRequired(_("La motivation de l'avis est obligatoire."))
    amount = given.proposed_amount
    if amount is None or amount <= 0:
        raise AmountRefused(_("Le montant proposé doit être supérieur à 0 €."))
    if amount > application.requested_amount:
        raise AmountRefused(
            _("Le montant proposé (%(amount)s €) dépasse le montant demandé (%(requested)s €).")
            % {
                "amount": formats.number_format(amount, 2, use_l10n=True, force_grouping=True),
                "requested": formats.number_format(
                    application.requested_amount, 2, use_l10n=True, force_grouping=True
                ),
            }
        )


def validate_regional(
    application: Application,
    *,
    by: "User",
    opinion: str,
    motivation: str,
    proposed_amount: Decimal | None,
) -> RegionalReview:
    """ "Envoyer au ministère": the ARS opinion (favourable, unfavourable or reserved), its
    motivation and a proposed amount (above 0, at most the requested amount) are
    recorded and the application moves to national review, in one transaction."""
    _ensure_agent(by, application)
    given = OpinionInput(opinion, motivation.strip(), proposed_amount)
    with _in_status(
        application,
        IN_REGIONAL_REVIEW,
        _(
            "La candidature est à l'état « %(status)s » : seule une candidature en "
            "instruction par l'ARS peut être envoyée au ministère."
        ),
    ):
        _check_opinion(application, given)
        application_transition(application=application, to=Status.NATIONAL_REVIEW.value, by=by)
        review = RegionalReview.objects.create(
            application=application,
            author=by,
            opinion=given.opinion,
            motivation=given.motivation,
            proposed_amount=given.proposed_amount,
        )
        _write(application, regional_opinion=given.opinion, proposed_amount=given.proposed_amount)
    return review


give_opinion = validate_regional


def return_regional(
    application: Application,
    *,
    by: "User",
    request: str,
    due_on: date | None,
    today: date | None = None,
) -> Application:
    """ "Renvoyer pour compléments": the request (shown at the top of the reopened
    application, and in its thread) and the date the complements are expected by,
    which must be in the future."""
    _ensure_agent(by, application)
    request = request.strip()
    if not request:
        raise CommentRequired(_("Indiquez les compléments demandés à l'établissement."))
    today = today or timezone.localdate()
    if due_on is None or due_on <= today:
        raise ApplicationError(
            _("La date attendue des compléments doit être postérieure à aujourd'hui.")
        )
    with _in_status(
        application,
        IN_REGIONAL_REVIEW,
        _(
            "La candidature est à l'état « %(status)s » : seule une candidature en "
            "instruction par l'ARS peut être renvoyée pour compléments."
        ),
    ):
        application_transition(
            application=application, to=Status.RETURNED.value, by=by, comment=request
        )
        _write(application, return_due_on=due_on)
    return application


# --- Conflicts of interest -----------------------------------------------------------------


def recusable_entities(application: Application) -> list["LegalEntity"]:
    """The entities an agent may declare a conflict with: the candidate and every
    covered entity, by name."""
    from establishments.models import LegalEntity

    ids = {
        application.candidate_id,
        *application.coverages.values_list("legal_entity_id", flat=True),
    }
    return list(LegalEntity.objects.filter(id__in=ids).order_by("name"))


def recuse(
    application: Application, *, by: "User", legal_entity_id: int, reason: str
) -> ConflictDeclaration:
    """ "Je me déporte": the agent declares a conflict of interest with the candidate or
    a covered entity; from then on they can no longer instruct the application (nor any
    other covering that entity), and it leaves their name if it was assigned to them."""
    if not is_regional_agent(by, application):
        raise TransitionForbidden(
            _("Seul un agent de l'ARS de la région du candidat peut se déporter de ce dossier.")
        )
    if legal_entity_id not in {e.pk for e in recusable_entities(application)}:
        raise ApplicationError(
            _("Choisissez le candidat ou une entité couverte par la candidature.")
        )
    with transaction.atomic():
        declaration = conflict_declare(user=by, legal_entity_id=legal_entity_id, reason=reason)
        if application.assigned_to_id == by.pk:
            _write(application, assigned_to=None, assigned_at=None)
        audit.record(
            audit.Action.DECISION,
            actor=by,
            obj=application,
            move="recuse",
            legal_entity=legal_entity_id,
        )
    return declaration
