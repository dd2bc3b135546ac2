"""Queue a Celery task by its registered name, without importing the module that
defines it: services never import `tasks` modules (docs/architecture.md).

The task is looked up in the Celery app's registry and queued with `.delay()`, so
CELERY_TASK_ALWAYS_EAGER runs it in process as before (`send_task` would not)."""

from typing import Any

from celery import Task, current_app
from django.db import InterfaceError, OperationalError, transaction

# The options of a task that sends mail: retried, with growing delays, while the mail
# server or the database is unreachable (then the sweepers take over).
RETRY_WHILE_UNREACHABLE: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OSError, OperationalError, InterfaceError),
    "retry_backoff": True,
    "max_retries": 5,
}


def task(name: str) -> Task:
    """The registered task called `name` (e.g. "applications.score_application_task")."""
    registry = current_app.tasks  # finalizes the app: shared tasks are bound to it
    if name not in registry:
        # Tasks modules are discovered lazily (`autodiscover_tasks`): import them now.
        current_app.loader.import_default_modules()
    return registry[name]


def enqueue(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue the task now (run it now under CELERY_TASK_ALWAYS_EAGER)."""
    task(name).delay(*args, **kwargs)


def enqueue_on_commit(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue the task once the current transaction (if any) has committed.

    robust: a broker outage is logged, never turned into an error of the committed
    request; the sweepers re-queue what was lost."""

    def queue() -> None:
        enqueue(name, *args, **kwargs)

    # The robust handler logs the callback's name: make it say which task it was.
    queue.__qualname__ = queue.__name__ = f"enqueue({name})"
    transaction.on_commit(queue, robust=True)


def in_process() -> bool:
    """Whether queued tasks run in process (CELERY_TASK_ALWAYS_EAGER: the embedded
    default, no broker, no worker, no scheduler): work nobody queued is then never
    picked up unless the request that needs it does it."""
    return bool(current_app.conf.task_always_eager)
