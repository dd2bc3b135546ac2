"""Eligibility scoring, run by the workers: evaluate the rules of `eligibility.py` on
an application and store the result, move a fresh submission on (through
`lifecycle.application_transition`), rescore a whole call with its progress, and list
the applications the sweeper must score again."""

import uuid
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from care_portal.queue import enqueue

from .dossiers import queue_dossier
from .eligibility import evaluate
from .lifecycle import Status, application_transition, on_enter
from .models import Application, Dossier, EligibilityResult, FundingCall

SCORE_TASK = "applications.score_application_task"


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
            queue_dossier(application.pk, Dossier.Kind.DOSSIER.value)
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
        enqueue(SCORE_TASK, application_id, run=run)
    return run, len(application_ids)


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
