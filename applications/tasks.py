from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(name="applications.notify_transition_task", acks_late=True)
def notify_transition_task(transition_id: int) -> None:
    from .notifications import notify_transition

    notify_transition(transition_id=transition_id)


@shared_task(name="applications.notify_message_task", acks_late=True)
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
def score_application_task(application_id: int) -> None:
    from .services import application_score

    application_score(application_id=application_id)


@shared_task(name="applications.sweep_unfinished_task", acks_late=True)
def sweep_unfinished_task() -> int:
    """Re-queue the work a broker outage or a killed worker left undone: the
    database is the source of truth (DESIGN.md, "Background work that loses nothing")."""
    from .services import applications_needing_work

    pending = applications_needing_work()
    for application_id in pending:
        score_application_task.delay(application_id)
    return len(pending)
