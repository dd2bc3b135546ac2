"""The applicant's side of an application: start it, fill it in section by section
(identity, answers, budget), list what is missing (`application_issues`), submit or
withdraw it, and write in its thread. Status changes go through
`lifecycle.application_transition` (docs/architecture.md, "Application lifecycle")."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from care_portal.errors import (
    ApplicationError,
    ApplicationNotEditable,
    SubmissionIncomplete,
    TransitionConflict,
    TransitionForbidden,
)
from care_portal.queue import enqueue_on_commit
from establishments.models import LegalEntity

from .eligibility import preview
from .lifecycle import (
    EDITABLE_STATUSES,
    Actor,
    Status,
    actor_roles,
    application_transition,
    lock_status,
    on_enter,
)
from .models import (
    Answer,
    Application,
    BudgetLine,
    Coverage,
    FundingCall,
    Message,
    Requirement,
    Transition,
)

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class Issue:
    """Something missing in an application: a warning while drafting, a blocking
    error at submission. `section` and `field` name where to fix it."""

    section: str
    message: str
    field: str = ""


def require_editor(application: Application, by: "User") -> None:
    if Actor.ESTABLISHMENT.value not in actor_roles(by, application):
        raise TransitionForbidden(
            _("Seuls les utilisateurs du candidat peuvent modifier la candidature.")
        )
    if not application.is_editable:
        raise ApplicationNotEditable(
            _("Cette candidature est à l'état « %(status)s » : elle n'est plus modifiable.")
            % {"status": Status(application.status).label}
        )


@contextmanager
def editing(application: Application, by: "User") -> Iterator[None]:
    """An edit's writes, in a transaction that holds the application's row: the status
    checked is the database's, so that an edit never lands on an application submitted
    or withdrawn meanwhile (by another tab, another user or a double click)."""
    with transaction.atomic():
        lock_status(application)
        require_editor(application, by)
        yield


def candidate_problem(*, call: FundingCall, candidate: LegalEntity) -> str | None:
    """Why this legal entity cannot file to this call itself (French), or None.

    E3: a public member of a GHT is covered by its GHT's application, filed by the
    GHT's support establishment; it never files alone."""
    if not candidate.active:
        return _("%(name)s est inactive dans l'annuaire : elle ne peut pas candidater.") % {
            "name": candidate.name
        }
    if candidate.ght_id and not candidate.is_ght_support and candidate.status_group == "public":
        support = (
            candidate.ght.members.filter(is_ght_support=True).first() if candidate.ght else None
        )
        return _(
            "%(name)s est membre du %(ght)s : la candidature de tout le GHT est déposée par "
            "son établissement support (%(support)s)."
        ) % {
            "name": candidate.name,
            "ght": candidate.ght.name if candidate.ght else "",
            "support": support.name if support else _("non renseigné"),
        }
    if not call.is_open():
        return _("L'appel « %(call)s » n'est pas ouvert aux candidatures.") % {"call": call.title}
    return None


def covered_entities(candidate: LegalEntity) -> list[LegalEntity]:
    """A GHT support files for every active member of its GHT; others for themselves."""
    if candidate.is_ght_support and candidate.ght_id:
        return list(
            LegalEntity.objects.filter(ght_id=candidate.ght_id, active=True).order_by(
                "-is_ght_support", "name"
            )
        )
    return [candidate]


IDENTITY_FIELDS = (
    "director_name",
    "director_email",
    "rssi_name",
    "rssi_email",
    "continuity_lead_name",
    "continuity_lead_email",
)


def previous_contacts(candidate: LegalEntity) -> dict[str, str]:
    """The contacts of the candidate's most recent application (to any call, in any
    status), to prefill a new one; empty if it has none."""
    previous = (
        Application.objects.filter(candidate=candidate)
        .order_by("-created_at", "-id")
        .values(*IDENTITY_FIELDS)
        .first()
    )
    return previous or {}


def application_reference(call: FundingCall, pk: int) -> str:
    """The one shape of an application's reference: the call's code and the row's number
    (D2-2025-002046), whoever wrote the row (the portal or the demo seeding)."""
    return f"{call.code}-{pk:06d}"


def application_start(*, call: FundingCall, candidate: LegalEntity, by: "User") -> Application:
    """The candidate's draft for this call, created with its coverage, one blank
    answer per requirement and the contacts of its previous application; a second call
    returns the same draft (a double click).

    A withdrawn application no longer holds the candidate's place: the candidate may
    start again (the withdrawn one stays in its history). Any other application to the
    call, past the draft, is refused with its reference and status."""
    if candidate.id not in by.scope.legal_entity_ids:
        raise TransitionForbidden(_("Vous ne pouvez candidater que pour votre établissement."))
    existing = _active_application(call=call, candidate=candidate)
    if existing is not None:
        return _resume(existing)
    problem = candidate_problem(call=call, candidate=candidate)
    if problem:
        raise ApplicationError(problem)
    covered = covered_entities(candidate)
    contacts = {"director_email": "", **previous_contacts(candidate)}
    try:
        with transaction.atomic():
            # A withdrawal releases its coverages after its commit (`coverage_release`):
            # make sure it did before taking the places again.
            _release_withdrawn(call=call, entities=covered)
            application = Application.objects.create(
                call=call,
                candidate=candidate,
                ght=candidate.ght if candidate.is_ght_support else None,
                reference=f"tmp-{uuid.uuid4().hex}",
                created_by=by,
                **contacts,
            )
            application.reference = application_reference(call, application.pk)
            application.save(update_fields=["reference"])
            Coverage.objects.bulk_create(
                [Coverage(call=call, application=application, legal_entity=e) for e in covered]
            )
            Answer.objects.bulk_create(
                [Answer(application=application, requirement=r) for r in call.requirements.all()]
            )
    except IntegrityError:
        existing = _active_application(call=call, candidate=candidate)
        if existing is not None:  # a double click: the other request created it
            return _resume(existing)
        taken = Coverage.objects.held().filter(call=call, legal_entity__in=covered)
        names = ", ".join(sorted(taken.values_list("legal_entity__name", flat=True).distinct()))
        raise ApplicationError(
            _("Ces entités sont déjà couvertes par une autre candidature à cet appel : %(names)s.")
            % {"names": names}
        ) from None
    return application


def _active_application(*, call: FundingCall, candidate: LegalEntity) -> Application | None:
    """The candidate's application to the call that holds its place (not withdrawn):
    at most one (the constraint `one_application_per_call`)."""
    return (
        Application.objects.filter(call=call, candidate=candidate)
        .exclude(status=Status.WITHDRAWN)
        .select_related("candidate")
        .first()
    )


def _resume(existing: Application) -> Application:
    """A draft (or one returned for complements) is the candidate's to continue; past
    that, a second application to the call is refused."""
    if existing.is_editable:
        return existing
    raise ApplicationError(
        _(
            "%(candidate)s a déjà une candidature à cet appel : %(reference)s, à l'état "
            "« %(status)s ». Une seule candidature par appel est possible : pour en déposer "
            "une nouvelle, retirez d'abord celle-ci (si son état le permet)."
        )
        % {
            "candidate": existing.candidate.name,  # loaded by `_active_application`
            "reference": existing.reference,
            "status": Status(existing.status).label,
        }
    )


def _release_withdrawn(*, call: FundingCall, entities: list[LegalEntity]) -> int:
    """Release the coverages of these entities still held by withdrawn applications."""
    return Coverage.objects.filter(
        call=call,
        legal_entity__in=entities,
        released_at__isnull=True,
        application__status=Status.WITHDRAWN,
    ).update(released_at=timezone.now())


@on_enter(Status.WITHDRAWN)
def coverage_release(application_id: int) -> None:
    """A withdrawn application no longer covers its entities in its call: they may be
    covered by a new application (run after the withdrawal's commit; idempotent)."""
    Coverage.objects.filter(
        application_id=application_id,
        application__status=Status.WITHDRAWN,
        released_at__isnull=True,
    ).update(released_at=timezone.now())


def application_update_identity(
    *, application: Application, by: "User", data: dict[str, str]
) -> Application:
    with editing(application, by):
        for field in IDENTITY_FIELDS:
            setattr(application, field, (data.get(field) or "").strip())
        application._history_user = by  # type: ignore[attr-defined]  # field history's author
        application.save(update_fields=[*IDENTITY_FIELDS, "updated_at"])
    return application


def application_save_answers(
    *, application: Application, by: "User", answers: dict[int, tuple[str, str]]
) -> int:
    """Save answers by requirement id: (state, comment). Returns how many changed."""
    valid_states = {choice for choice, _label in Answer.State.choices} | {""}
    changed = []
    with editing(application, by):
        for answer in application.answers.all():
            if answer.requirement_id not in answers:
                continue
            state, comment = answers[answer.requirement_id]
            if state not in valid_states:
                raise ApplicationError(_("Réponse inconnue : %(state)s.") % {"state": state})
            comment = comment.strip()
            if (answer.state, answer.comment) != (state, comment):
                answer.state, answer.comment = state, comment
                changed.append(answer)
        Answer.objects.bulk_update(changed, ["state", "comment"])
        if changed:
            Application.objects.filter(pk=application.pk).update(updated_at=timezone.now())
    return len(changed)


def application_set_budget(
    *, application: Application, by: "User", lines: list[dict[str, object]]
) -> Decimal:
    """Replace the budget lines; the requested amount is their total."""
    total = sum((Decimal(str(line["amount"])) for line in lines), Decimal("0"))
    with editing(application, by):
        application.budget_lines.all().delete()
        BudgetLine.objects.bulk_create(
            [
                BudgetLine(
                    application=application,
                    category=str(line["category"]),
                    description=str(line["description"]).strip(),
                    amount=Decimal(str(line["amount"])),
                )
                for line in lines
            ]
        )
        application.requested_amount = total
        application._history_user = by  # type: ignore[attr-defined]
        application.save(update_fields=["requested_amount", "updated_at"])
    return total


def application_issues(application: Application) -> list[Issue]:
    """What is missing for a submission (warnings while drafting)."""
    issues: list[Issue] = []
    labels = {
        "director_name": _("le nom du directeur ou de la directrice"),
        "director_email": _("le courriel de la direction"),
        "rssi_name": _("le nom du RSSI"),
        "rssi_email": _("le courriel du RSSI"),
        "continuity_lead_name": _("le nom du responsable du plan de continuité"),
        "continuity_lead_email": _("le courriel du responsable du plan de continuité"),
    }
    for field, label in labels.items():
        if not getattr(application, field):
            issues.append(Issue("identity", _("Renseignez %(what)s.") % {"what": label}, field))
    evidence_by_answer: dict[int, int] = {}
    for evidence in application.evidence.all():
        if evidence.answer_id and evidence.superseded_at is None:
            evidence_by_answer[evidence.answer_id] = (
                evidence_by_answer.get(evidence.answer_id, 0) + 1
            )
    for answer in application.answers.all():
        requirement = answer.requirement
        where = f"answer-{requirement.pk}"
        if not answer.state:
            issues.append(
                Issue(
                    "answers",
                    _("Répondez à l'exigence %(id)s.") % {"id": requirement.identifier},
                    where,
                )
            )
            continue
        if requirement.kind == Requirement.Kind.PREREQUISITE and answer.state != Answer.State.MET:
            issues.append(
                Issue(
                    "answers",
                    _("Le prérequis %(id)s doit être atteint pour candidater.")
                    % {"id": requirement.identifier},
                    where,
                )
            )
        if (
            requirement.evidence_stage == Requirement.EvidenceStage.APPLICATION
            and answer.state == Answer.State.MET
            and not evidence_by_answer.get(answer.pk)
        ):
            issues.append(
                Issue(
                    "answers",
                    _("Joignez les pièces demandées pour %(id)s : %(evidence)s")
                    % {"id": requirement.identifier, "evidence": requirement.evidence or "—"},
                    where,
                )
            )
    lines = list(application.budget_lines.all())
    if not lines:
        issues.append(Issue("budget", _("Ajoutez au moins une ligne budgétaire."), "budget"))
    elif application.requested_amount <= 0:
        issues.append(Issue("budget", _("Le montant demandé doit être positif."), "budget"))
    return issues


def application_submit(
    *, application: Application, by: "User", sworn: bool, accept_ineligible: bool = False
) -> Application:
    """Submit (or resubmit after a return). Idempotent: a replayed POST or a double
    click on a submitted application changes nothing and raises nothing.

    A complete application that the eligibility rules would find ineligible
    (`eligibility.preview`) is submitted only with `accept_ineligible`: the applicant
    has seen why and files it anyway."""
    if application.status not in EDITABLE_STATUSES and application.submitted_at is not None:
        return application  # already submitted: nothing to do twice
    require_editor(application, by)
    statement: list[Issue] = []
    if not sworn:
        statement.append(
            Issue("statement", _("La déclaration sur l'honneur est obligatoire."), "sworn")
        )
    issues = application_issues(application)
    if issues:
        raise SubmissionIncomplete(
            _("La candidature est incomplète : corrigez les points signalés."),
            statement + issues,
        )
    if not accept_ineligible and not preview(application).eligible:
        statement.append(
            Issue(
                "statement",
                _(
                    "Avec les données actuelles, votre candidature serait jugée inéligible : "
                    "corrigez les points signalés ou confirmez que vous la déposez quand même."
                ),
                "accept_ineligible",
            )
        )
    if statement:
        raise SubmissionIncomplete(
            _("Cochez la déclaration sur l'honneur pour déposer la candidature.")
            if not sworn
            else _("Confirmez le dépôt d'une candidature qui serait jugée inéligible."),
            statement,
        )
    try:
        with transaction.atomic():
            Application.objects.filter(pk=application.pk, status=application.status).update(
                sworn_statement=True, sworn_by=by, sworn_at=timezone.now()
            )
            application_transition(application=application, to=Status.SUBMITTED, by=by)
    except TransitionConflict:
        application.refresh_from_db()
        if application.status not in EDITABLE_STATUSES:
            return application  # a concurrent request (double click) submitted it
        raise
    application.refresh_from_db()
    return application


def message_post(*, application: Application, by: "User", body: str) -> Message:
    """A message in the application's thread, from its users or its instructors."""
    body = body.strip()
    if not body:
        raise ApplicationError(_("Le message est vide."))
    if not actor_roles(by, application) - {Actor.SYSTEM.value}:
        raise TransitionForbidden(_("Vous ne pouvez pas écrire sur cette candidature."))
    if application.status == Status.DRAFT:
        raise ApplicationError(_("Les échanges s'ouvrent au dépôt de la candidature."))
    message = Message.objects.create(
        application=application, author=by, body=body, notification_pending=True
    )
    enqueue_on_commit("applications.notify_message_task", message.pk)
    return message


def application_withdraw(*, application: Application, by: "User", comment: str = "") -> Transition:
    """The candidate withdraws its application (from a status the table allows)."""
    return application_transition(
        application=application, to=Status.WITHDRAWN.value, by=by, comment=comment
    )
