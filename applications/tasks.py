"""Celery tasks of applications: thin entry points that call `notifications`,
`scoring` and `dossiers`. Nothing imports this module: work is queued by task name
with `care_portal.queue` (docs/architecture.md)."""

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from care_portal.queue import RETRY_WHILE_UNREACHABLE


@shared_task(name="applications.notify_transition_task", **RETRY_WHILE_UNREACHABLE)
def notify_transition_task(transition_id: int) -> None:
    from .notifications import notify_transition

    notify_transition(transition_id=transition_id)


@shared_task(name="applications.notify_message_task", **RETRY_WHILE_UNREACHABLE)
def notify_message_task(message_id: int) -> None:
    from .notifications import notify_message

    notify_message(message_id=message_id)


@shared_task(
    name="applications.score_application_task",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def score_application_task(application_id: int, run: str = "") -> None:
    """`run`: of messages queued by an earlier version (ignored)."""
    from .scoring import application_score

    application_score(application_id=application_id)


@shared_task(
    name="applications.score_applications_batch_task",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def score_applications_batch_task(
    application_ids: list[int] | None = None, run: str = "", batch: int | None = None
) -> None:
    """A batch of a call's rescoring (`scoring.rescoring_batch_run`): one transaction,
    a fixed number of queries, once. A message queued by an earlier version carries the
    applications' ids instead of its batch's."""
    from .scoring import applications_score_batch, rescoring_batch_run

    if batch is not None:
        rescoring_batch_run(batch)
    elif application_ids:
        applications_score_batch(application_ids=application_ids)


@shared_task(name="applications.sweep_unfinished_task", acks_late=True)
def sweep_unfinished_task() -> int:
    """Re-queue the work a broker outage or a killed worker left undone: the
    database is the source of truth (docs/architecture.md, "Background work that loses
    nothing")."""
    from .dossiers import dossiers_needing_work
    from .notifications import notifications_needing_work
    from .scoring import (
        applications_needing_work,
        purge_done_rescoring_batches,
        rescoring_batches_needing_work,
    )

    after = settings.SWEEP_AFTER_SECONDS
    pending = applications_needing_work(older_than_seconds=after)
    for application_id in pending:
        score_application_task.delay(application_id)
    dossiers = dossiers_needing_work(older_than_seconds=after)
    for application_id, kind in dossiers:
        render_dossier_task.delay(application_id, kind)
    batches = rescoring_batches_needing_work(older_than_seconds=after)
    for batch_id in batches:
        score_applications_batch_task.delay(batch=batch_id)
    purge_done_rescoring_batches()
    transitions, messages = notifications_needing_work(older_than_seconds=after)
    for transition_id in transitions:
        notify_transition_task.delay(transition_id)
    for message_id in messages:
        notify_message_task.delay(message_id)
    return len(pending) + len(dossiers) + len(batches) + len(transitions) + len(messages)


@shared_task(
    name="applications.render_dossier_task",  # routed to the "pdf" queue (applications.render_*)
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError, OSError),
    retry_backoff=10,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=240,
    time_limit=300,
)
def render_dossier_task(
    self: Task, application_id: int, kind: str = "dossier", version: int | None = None
) -> str | None:
    """Render an application's dossier (or decision letter) once per version: a
    redelivery finds it done. A dossier waits, by retrying, for its eligibility result;
    past the retries the sweeper queues it again."""
    from .dossiers import DossierNotReady, dossier_render

    try:
        dossier = dossier_render(application_id=application_id, kind=kind, version=version)
    except DossierNotReady as waiting:
        raise self.retry(exc=waiting, countdown=min(300, 15 * 2**self.request.retries)) from None
    return dossier.status if dossier else None


@shared_task(name="applications.decide_many_task", acks_late=True)
def decide_many_task(job_id: str) -> str | None:
    """A bulk decision of the admin (applications/decision_jobs.py): resumable, each
    application decided once."""
    from .decision_jobs import decision_job_run

    job = decision_job_run(job_id)
    return job["state"] if job else None


@shared_task(name="applications.send_digests_task", acks_late=True)
def send_digests_task() -> int:
    """Daily (Celery beat): the work digests and the reminders; a second run the same
    day sends nothing again."""
    from .digests import send_daily_digests

    return send_daily_digests()
