"""Every write of an application. `application_transition` is the only code that
changes an application's status (DESIGN.md, "Application lifecycle")."""

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from care_portal.errors import (
    ApplicationError,
    ApplicationNotEditable,
    CommentRequired,
    SubmissionIncomplete,
    TransitionConflict,
    TransitionForbidden,
    TransitionNotAllowed,
)
from establishments.models import LegalEntity

from .lifecycle import EDITABLE_STATUSES, Actor, Status, rule_for
from .models import (
    Answer,
    Application,
    BudgetLine,
    Coverage,
    Dossier,
    EligibilityResult,
    Evidence,
    FundingCall,
    Message,
    Requirement,
    Transition,
)
from .roles import actor_roles
from .tasks import notify_message_task

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
        if to == Status.RETURNED:
            # The request is shown at the top of the reopened application and in its thread.
            Message.objects.create(
                application=application, author=by, body=comment, is_return_request=True
            )
        for field, value in changes.items():
            setattr(application, field, value)
        _queue_after_commit(record)
    return record


def _queue_after_commit(record: Transition) -> None:
    from .tasks import notify_transition_task

    # robust: a broker outage is logged, never turned into an error of the committed
    # request; the sweeper re-queues what was lost (DESIGN.md).
    application_id = record.application_id
    transaction.on_commit(lambda: notify_transition_task.delay(record.pk), robust=True)
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


# --- The applicant side: start, edit section by section, submit -----------------


@dataclass(frozen=True)
class Issue:
    """Something missing in an application: a warning while drafting, a blocking
    error at submission. `section` and `field` name where to fix it."""

    section: str
    message: str
    field: str = ""


def _require_editor(application: Application, by: "User") -> None:
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
def _editing(application: Application, by: "User") -> Iterator[None]:
    """An edit's writes, in a transaction that holds the application's row: the status
    checked is the database's, so that an edit never lands on an application submitted
    or withdrawn meanwhile (by another tab, another user or a double click)."""
    with transaction.atomic():
        current = Application.objects.select_for_update().only("status").get(pk=application.pk)
        application.status = current.status
        _require_editor(application, by)
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


def application_start(*, call: FundingCall, candidate: LegalEntity, by: "User") -> Application:
    """The candidate's draft for this call, created with its coverage and one blank
    answer per requirement; a second call returns the same application."""
    existing = Application.objects.filter(call=call, candidate=candidate).first()
    if existing is not None:
        return existing
    if candidate.id not in by.scope.legal_entity_ids:
        raise TransitionForbidden(_("Vous ne pouvez candidater que pour votre établissement."))
    problem = candidate_problem(call=call, candidate=candidate)
    if problem:
        raise ApplicationError(problem)
    covered = covered_entities(candidate)
    try:
        with transaction.atomic():
            application = Application.objects.create(
                call=call,
                candidate=candidate,
                ght=candidate.ght if candidate.is_ght_support else None,
                reference=f"tmp-{uuid.uuid4().hex}",
                created_by=by,
                director_email="",
            )
            application.reference = f"{call.code}-{application.pk:06d}"
            application.save(update_fields=["reference"])
            Coverage.objects.bulk_create(
                [Coverage(call=call, application=application, legal_entity=e) for e in covered]
            )
            Answer.objects.bulk_create(
                [Answer(application=application, requirement=r) for r in call.requirements.all()]
            )
    except IntegrityError:
        existing = Application.objects.filter(call=call, candidate=candidate).first()
        if existing is not None:  # a double click: the other request created it
            return existing
        taken = Coverage.objects.filter(call=call, legal_entity__in=covered).select_related(
            "application", "legal_entity"
        )
        names = ", ".join(sorted({c.legal_entity.name for c in taken}))
        raise ApplicationError(
            _("Ces entités sont déjà couvertes par une autre candidature à cet appel : %(names)s.")
            % {"names": names}
        ) from None
    return application


IDENTITY_FIELDS = (
    "director_name",
    "director_email",
    "rssi_name",
    "rssi_email",
    "continuity_lead_name",
    "continuity_lead_email",
)


def application_update_identity(
    *, application: Application, by: "User", data: dict[str, str]
) -> Application:
    with _editing(application, by):
        for field in IDENTITY_FIELDS:
            setattr(application, field, (data.get(field) or "").strip())
        application.save(update_fields=[*IDENTITY_FIELDS, "updated_at"])
    return application


def application_save_answers(
    *, application: Application, by: "User", answers: dict[int, tuple[str, str]]
) -> int:
    """Save answers by requirement id: (state, comment). Returns how many changed."""
    valid_states = {choice for choice, _label in Answer.State.choices} | {""}
    changed = []
    with _editing(application, by):
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
    with _editing(application, by):
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
        if evidence.answer_id:
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


def application_submit(*, application: Application, by: "User", sworn: bool) -> Application:
    """Submit (or resubmit after a return). Idempotent: a replayed POST or a double
    click on a submitted application changes nothing and raises nothing."""
    if application.status not in EDITABLE_STATUSES and application.submitted_at is not None:
        return application  # already submitted: nothing to do twice
    _require_editor(application, by)
    if not sworn:
        raise SubmissionIncomplete(
            _("Cochez la déclaration sur l'honneur pour déposer la candidature."),
            [Issue("statement", _("La déclaration sur l'honneur est obligatoire."), "sworn")],
        )
    issues = application_issues(application)
    if issues:
        raise SubmissionIncomplete(
            _("La candidature est incomplète : corrigez les points signalés."), issues
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
    message = Message.objects.create(application=application, author=by, body=body)
    transaction.on_commit(lambda: notify_message_task.delay(message.pk), robust=True)
    return message


def evidence_add(
    *, application: Application, answer: Answer | None, uploaded_file: Any, by: "User"
) -> Evidence:
    """Check an uploaded file (type by content, active content, size, quota) and store
    it under a server-generated name in private storage, with its SHA-256."""
    from .evidence import check_application_quota, inspect_upload, store_upload

    _require_editor(application, by)  # fail fast, before reading the file
    if answer is not None and answer.application_id != application.pk:
        raise ApplicationError(_("Cette réponse n'appartient pas à la candidature."))
    inspected = inspect_upload(uploaded_file, name=getattr(uploaded_file, "name", "") or "")
    stored_as = store_upload(uploaded_file, inspected)
    try:
        # The row lock also keeps two uploads at once from both passing the quota.
        with _editing(application, by):
            check_application_quota(application, inspected.size, name=inspected.safe_name)
            return Evidence.objects.create(
                application=application,
                answer=answer,
                file=stored_as,
                original_name=inspected.safe_name,
                content_type=inspected.content_type,
                size=inspected.size,
                sha256=inspected.sha256,
                uploaded_by=by,
            )
    except BaseException:
        default_storage.delete(stored_as)  # nothing half-written
        raise


def evidence_delete(*, evidence: Evidence, by: "User") -> None:
    name = evidence.file.name
    with _editing(evidence.application, by):
        evidence.delete()
    transaction.on_commit(lambda: default_storage.delete(name), robust=True)


# --- Eligibility scoring (workers) ---------------------------------------------------


def application_score(*, application_id: int) -> EligibilityResult | None:
    """Evaluate the rules and the priority score and store them (idempotent: the same
    outcome writes nothing). A submitted application then moves, through the
    lifecycle engine, to regional review or to ineligible."""
    from .eligibility import evaluate

    with transaction.atomic():
        # One scoring of an application at a time: a redelivered task waits here.
        application = (
            Application.objects.select_for_update()
            .select_related("candidate__department")
            .filter(pk=application_id)
            .first()
        )
        if application is None or application.status == Status.DRAFT:
            return None
        outcome = evaluate(application)
        values = {
            "rules_version": outcome.rules_version,
            "eligible": outcome.eligible,
            "score": outcome.score,
            "rules": outcome.rules_json(),
            "factors": outcome.factors_json(),
        }
        result = EligibilityResult.objects.filter(application=application).first()
        if result is None:
            result = EligibilityResult.objects.create(
                application=application, computed_at=timezone.now(), **values
            )
        elif any(getattr(result, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(result, key, value)
            result.computed_at = timezone.now()
            result.save()
        if application.status == Status.SUBMITTED:
            target = Status.REGIONAL_REVIEW if outcome.eligible else Status.INELIGIBLE
            summary = "; ".join(f"{r.id} : {r.detail}" for r in outcome.failed)
            application_transition(application=application, to=target, by=None, comment=summary)
            # The dossier includes the eligibility result: it is rendered once scored.
            _queue_dossier(application.pk, Dossier.Kind.DOSSIER.value)
    return result


def _rescoring_key(run: str) -> str:
    return f"rescoring:{run}:done"


def rescoring_progress_tick(run: str) -> None:
    """Count one scored application of a bulk rescoring run (in the shared cache)."""
    key = _rescoring_key(run)
    try:
        cache.incr(key)
    except ValueError:  # first of the run, or the key expired
        cache.add(key, 0, timeout=24 * 3600)
        cache.incr(key)


def rescoring_progress(run: str) -> int:
    return int(cache.get(_rescoring_key(run), 0))


def rescore_call(
    *, call: FundingCall | None, application_ids: list[int] | None = None
) -> tuple[str, int]:
    """Queue the scoring of every submitted application of a call (never the drafts)
    to the workers; returns the run id whose progress `rescoring_progress` reads, and
    how many were queued."""
    from .tasks import score_application_task

    if application_ids is None:
        if call is None:
            raise ValueError("rescore_call needs a call or application ids")
        application_ids = list(
            Application.objects.filter(call=call, submitted_at__isnull=False)
            .exclude(status=Status.DRAFT)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    run = uuid.uuid4().hex
    cache.set(_rescoring_key(run), 0, timeout=24 * 3600)
    for application_id in application_ids:
        score_application_task.delay(application_id, run=run)
    return run, len(application_ids)


@on_enter(Status.SUBMITTED)
def _score_after_submission(application_id: int) -> None:
    from .tasks import score_application_task

    score_application_task.delay(application_id)


def applications_needing_work(*, older_than_seconds: int = 300) -> list[int]:
    """Applications not scored since their last submission: the sweeper's work list.
    Only those submitted a while ago, so that normal queued work is not doubled."""
    limit = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        # Scoring always moves a submission on; one still "submitted" was never scored
        # since its last submission, whatever result an earlier submission left.
        Application.objects.filter(status=Status.SUBMITTED, submitted_at__lte=limit)
        .order_by("submitted_at")
        .values_list("pk", flat=True)[:1000]
    )


# --- PDF dossiers and decision letters (workers, queue "pdf") --------------------------

# A rendering still "running" after this long was abandoned (the task's hard time
# limit is 300 s): the sweeper queues it again.
DOSSIER_STALE_AFTER = timedelta(seconds=600)
# Namespace of the PostgreSQL advisory locks taken while rendering a dossier.
DOSSIER_LOCK_NAMESPACE = 0x0D05


@contextmanager
def rendering_lock(dossier_id: int) -> Iterator[bool]:
    """Hold a PostgreSQL session advisory lock on a dossier while rendering it: a
    duplicate delivery sees it taken and leaves; a worker killed with -9 loses its
    connection, the server frees the lock, and the redelivered task renders. SQLite
    (the embedded default, tasks run in process) needs no lock."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [DOSSIER_LOCK_NAMESPACE, dossier_id])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [DOSSIER_LOCK_NAMESPACE, dossier_id]
                )


# The sweeper stops re-queuing a dossier that failed this many times; the ministry's
# "Relancer la génération" button still can.
DOSSIER_MAX_SWEPT_ATTEMPTS = 5


class DossierNotReady(Exception):
    """The dossier of a submission waits for its eligibility result (the scoring task
    runs on another queue): the task retries later."""


def dossier_version(application_id: int, kind: str) -> int:
    """The version due now: the number of submissions for a dossier, of decisions for
    a decision letter (0: nothing to render)."""
    from .selectors import DECISION_STATUSES

    transitions = Transition.objects.filter(application_id=application_id)
    if kind == Dossier.Kind.DECISION:
        return transitions.filter(
            from_status=Status.NATIONAL_REVIEW, to_status__in=DECISION_STATUSES
        ).count()
    return transitions.filter(to_status=Status.SUBMITTED).count()


def dossier_render(
    *, application_id: int, kind: str = Dossier.Kind.DOSSIER, version: int | None = None
) -> Dossier | None:
    """Render the dossier (or decision letter) of an application once per version.

    Idempotent: the row of (application, kind, version) is created once; a worker
    claims it by a conditional UPDATE (pending or failed → running), so a redelivered
    task finds it done and returns it, or running and leaves it. On an error the row is
    marked failed with the error and the error is raised again (the task retries).
    Returns None when there is nothing to render (no submission, no decision)."""
    from . import pdf

    kind = Dossier.Kind(kind).value
    application = Application.objects.filter(pk=application_id).first()
    if application is None:
        return None
    if version is None:
        version = dossier_version(application_id, kind)
    if version < 1:
        return None
    if kind == Dossier.Kind.DOSSIER and application.status == Status.SUBMITTED:
        # Not scored since this submission: the dossier must carry the new result.
        raise DossierNotReady(f"Application {application_id} is not scored yet.")
    dossier, _created = Dossier.objects.get_or_create(
        application=application, kind=kind, version=version
    )
    if dossier.status == Dossier.Status.DONE:
        return dossier
    with rendering_lock(dossier.pk) as acquired:
        if not acquired:
            return dossier  # a live worker is rendering it right now
        dossier.refresh_from_db()
        if dossier.status == Dossier.Status.DONE:
            return dossier  # rendered by the delivery that held the lock before us
        # Whatever the row says ("running" left by a killed worker included), we hold
        # the lock: this delivery renders it.
        Dossier.objects.filter(pk=dossier.pk).update(
            status=Dossier.Status.RUNNING,
            attempts=F("attempts") + 1,
            error="",
            updated_at=timezone.now(),
        )
        stored_as = None
        try:
            content = pdf.render_dossier(application, kind=kind, version=version)
            pages = pdf.page_count(content)
            stored_as = default_storage.save(
                pdf.storage_name(application, kind=kind, version=version), ContentFile(content)
            )
            Dossier.objects.filter(pk=dossier.pk).update(
                status=Dossier.Status.DONE,
                file=stored_as,
                sha256=hashlib.sha256(content).hexdigest(),
                pages=pages,
                size=len(content),
                generated_at=timezone.now(),
                error="",
                updated_at=timezone.now(),
            )
        except Exception as error:
            if stored_as:
                default_storage.delete(stored_as)
            Dossier.objects.filter(pk=dossier.pk).update(
                status=Dossier.Status.FAILED,
                error=f"{type(error).__name__}: {error}"[:4000],
                updated_at=timezone.now(),
            )
            raise
    dossier.refresh_from_db()
    return dossier


def dossier_retry(*, dossier: Dossier, by: "User") -> Dossier:
    """The ministry relaunches a failed rendering: the row goes back to pending and the
    task is queued after the commit."""
    if Actor.MINISTRY.value not in actor_roles(by, dossier.application):
        raise TransitionForbidden(_("Seul le ministère peut relancer la génération d'un PDF."))
    updated = Dossier.objects.filter(pk=dossier.pk, status=Dossier.Status.FAILED).update(
        status=Dossier.Status.PENDING, updated_at=timezone.now()
    )
    if not updated:
        raise ApplicationError(
            _("Ce PDF n'est pas en échec : sa génération est déjà en cours ou terminée.")
        )
    _queue_dossier(dossier.application_id, dossier.kind, dossier.version)
    dossier.refresh_from_db()
    return dossier


def _queue_dossier(application_id: int, kind: str, version: int | None = None) -> None:
    from .tasks import render_dossier_task

    transaction.on_commit(
        lambda: render_dossier_task.delay(application_id, kind, version), robust=True
    )


@on_enter(Status.APPROVED)
@on_enter(Status.REJECTED)
def _render_decision_letter(application_id: int) -> None:
    # Entering "approved" again (objectives returned) is no new decision: the task
    # finds the letter of the current decision done and renders nothing.
    from .tasks import render_dossier_task

    render_dossier_task.delay(application_id, Dossier.Kind.DECISION.value)


def dossiers_needing_work(*, older_than_seconds: int = 300) -> list[tuple[int, str]]:
    """(application id, kind) of the dossiers and decision letters due and not done:
    the current version missing, pending, failed (fewer than DOSSIER_MAX_SWEPT_ATTEMPTS
    times) or abandoned while running. Only those due for a while, so that normal
    queued work is not doubled; a dossier waiting for its score is left to the scoring
    sweep."""
    from .selectors import DECISION_STATUSES

    now = timezone.now()
    limit = now - timedelta(seconds=older_than_seconds)
    submissions = Transition.objects.filter(application=OuterRef("pk"), to_status=Status.SUBMITTED)
    decisions = Transition.objects.filter(
        application=OuterRef("pk"),
        from_status=Status.NATIONAL_REVIEW,
        to_status__in=DECISION_STATUSES,
    )
    settled = (
        Q(status=Dossier.Status.DONE)
        | Q(status=Dossier.Status.FAILED, attempts__gte=DOSSIER_MAX_SWEPT_ATTEMPTS)
        | Q(status=Dossier.Status.RUNNING, updated_at__gte=now - DOSSIER_STALE_AFTER)
        | Q(status=Dossier.Status.PENDING, updated_at__gte=limit)
    )

    def due(kind: str, transitions: QuerySet[Transition]) -> list[int]:
        count = Subquery(
            transitions.order_by().values("application").annotate(n=Count("id")).values("n")[:1],
            output_field=IntegerField(),
        )
        latest = Subquery(transitions.order_by("-created_at").values("created_at")[:1])
        queryset = (
            Application.objects.annotate(version=count, due_since=latest)
            .filter(version__gte=1, due_since__lte=limit)
            .exclude(
                Exists(
                    Dossier.objects.filter(
                        settled, application=OuterRef("pk"), kind=kind, version=OuterRef("version")
                    )
                )
            )
        )
        if kind == Dossier.Kind.DOSSIER:
            queryset = queryset.exclude(status=Status.SUBMITTED)
        return list(queryset.order_by("due_since", "pk").values_list("pk", flat=True)[:200])

    return [(pk, Dossier.Kind.DOSSIER.value) for pk in due(Dossier.Kind.DOSSIER, submissions)] + [
        (pk, Dossier.Kind.DECISION.value) for pk in due(Dossier.Kind.DECISION, decisions)
    ]
