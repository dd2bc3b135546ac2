"""Eligibility scoring, run by the workers: evaluate the rules of `eligibility.py` on
an application and store the result, move a fresh submission on (through
`lifecycle.application_transition`), rescore a whole call in batches with its
progress, and list the applications the sweeper must score again."""

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from care_portal.queue import enqueue, enqueue_on_commit

from .dossiers import queue_dossier
from .eligibility import EligibilityOutcome, evaluate, evaluate_inputs, gather_many
from .lifecycle import Status, application_transition, on_enter
from .models import Application, Dossier, EligibilityResult, FundingCall, RescoringBatch

SCORE_TASK = "applications.score_application_task"
SCORE_BATCH_TASK = "applications.score_applications_batch_task"
# Applications scored together by `applications_score_batch` when a call is rescored.
RESCORE_BATCH_SIZE = 200
# Batches done are kept this long (a run's progress stays readable), then deleted.
RESCORING_BATCHES_KEPT_DAYS = 7
_RESULT_FIELDS = ("rules_version", "eligible", "score", "rules", "factors")


def _result_values(outcome: EligibilityOutcome) -> dict[str, Any]:
    return {
        "rules_version": outcome.rules_version,
        "eligible": outcome.eligible,
        "score": outcome.score,
        "rules": outcome.rules_json(),
        "factors": outcome.factors_json(),
    }


def _move_on(application: Application, outcome: EligibilityOutcome) -> None:
    """A submitted application, once scored, goes to regional review or is ineligible."""
    target = Status.REGIONAL_REVIEW if outcome.eligible else Status.INELIGIBLE
    summary = "; ".join(f"{r.id} : {r.detail}" for r in outcome.failed)
    application_transition(application=application, to=target, by=None, comment=summary)
    # The dossier includes the eligibility result: it is rendered once scored.
    queue_dossier(application.pk, Dossier.Kind.DOSSIER.value)


def application_score(*, application_id: int) -> EligibilityResult | None:
    """Evaluate the rules and the priority score and store them (idempotent: the same
    outcome writes nothing). A submitted application then moves, through the
    lifecycle engine, to regional review or to ineligible."""
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
        values = _result_values(outcome)
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
            _move_on(application, outcome)
    return result


def applications_score_batch(*, application_ids: Sequence[int]) -> int:
    """Score a batch of applications exactly as `application_score` scores each one
    (same results, same moves, nothing written when nothing changed), in a number of
    queries that does not depend on the size of the batch: the rows locked in one
    query, the rules' data read by `eligibility.gather_many`, the results written by one
    bulk insert and one bulk update. Only an application still "submitted" costs more:
    its move through the lifecycle engine. Drafts are skipped. Returns how many
    applications were scored."""
    with transaction.atomic():
        # Locked in a fixed order: two batches, or a batch and a single scoring, queue
        # behind each other instead of deadlocking.
        locked = list(
            Application.objects.select_for_update()
            .filter(pk__in=list(application_ids))
            .exclude(status=Status.DRAFT)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not locked:
            return 0
        gathered = gather_many(locked)
        existing = {
            result.application_id: result
            for result in EligibilityResult.objects.filter(application_id__in=locked)
        }
        now = timezone.now()
        created: list[EligibilityResult] = []
        changed: list[EligibilityResult] = []
        moves: list[tuple[Application, EligibilityOutcome]] = []
        for application_id in locked:
            inputs = gathered[application_id]
            outcome = evaluate_inputs(inputs)
            values = _result_values(outcome)
            result = existing.get(application_id)
            if result is None:
                created.append(
                    EligibilityResult(application_id=application_id, computed_at=now, **values)
                )
            elif any(getattr(result, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(result, key, value)
                result.computed_at = result.updated_at = now
                changed.append(result)
            if inputs.application.status == Status.SUBMITTED:
                moves.append((inputs.application, outcome))
        if created:
            EligibilityResult.objects.bulk_create(created)
        if changed:
            EligibilityResult.objects.bulk_update(
                changed, [*_RESULT_FIELDS, "computed_at", "updated_at"]
            )
        for application, outcome in moves:
            _move_on(application, outcome)
    return len(locked)


def rescoring_progress(run: str) -> int:
    """How many applications of a bulk rescoring run are scored: its batches done."""
    done = RescoringBatch.objects.filter(run=run, done_at__isnull=False)
    return int(done.aggregate(total=Sum("size"))["total"] or 0)


def rescore_call(
    *, call: FundingCall | None, application_ids: list[int] | None = None
) -> tuple[str, int]:
    """Queue the scoring of every submitted application of a call (never the drafts)
    to the workers, in batches of RESCORE_BATCH_SIZE (`rescoring_batch_run`); returns
    the run id whose progress `rescoring_progress` reads, and how many were queued.
    Each batch is a row written before its message is sent (on commit): a message lost
    on its way (a worker killed as it takes it) is queued again by the sweeper."""
    if application_ids is None:
        if call is None:
            raise ValueError("rescore_call needs a call or application ids")
        application_ids = list(
            Application.objects.filter(call=call, submitted_at__isnull=False)
            .exclude(status=Status.DRAFT)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    run = uuid.uuid4()
    chunks = (
        application_ids[start : start + RESCORE_BATCH_SIZE]
        for start in range(0, len(application_ids), RESCORE_BATCH_SIZE)
    )
    with transaction.atomic():
        batches = RescoringBatch.objects.bulk_create(
            RescoringBatch(run=run, application_ids=chunk, size=len(chunk)) for chunk in chunks
        )
        for batch in batches:
            enqueue_on_commit(SCORE_BATCH_TASK, batch=batch.pk)
    return run.hex, len(application_ids)


def rescoring_batch_run(batch_id: int) -> int:
    """Score one batch of a rescoring run, once: the batch is marked done in the
    transaction that scores it, and a second delivery (a redelivery, the sweeper's
    copy) finds it done. Returns how many applications were scored."""
    with transaction.atomic():
        batch = RescoringBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.done_at is not None:
            return 0
        scored = applications_score_batch(application_ids=batch.application_ids)
        RescoringBatch.objects.filter(pk=batch.pk).update(done_at=timezone.now())
    return scored


def rescoring_batches_needing_work(*, older_than_seconds: int) -> list[int]:
    """The batches of rescoring runs not done after that long (their message was lost)."""
    before = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        RescoringBatch.objects.filter(done_at__isnull=True, created_at__lt=before)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def purge_done_rescoring_batches() -> int:
    """Delete the batches done more than RESCORING_BATCHES_KEPT_DAYS ago; how many."""
    before = timezone.now() - timedelta(days=RESCORING_BATCHES_KEPT_DAYS)
    deleted, _ = RescoringBatch.objects.filter(done_at__lt=before).delete()
    return deleted


@on_enter(Status.SUBMITTED)
def _score_after_submission(application_id: int) -> None:
    enqueue(SCORE_TASK, application_id)


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
