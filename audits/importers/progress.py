"""Live progress of an import batch.

The rows are written inside one open transaction, invisible to other connections
until it commits, so the running task publishes its progress through the cache
(Redis in production and CI, local memory with eager tasks) and stores the final
counts on the batch row when it ends. `batch_progress` reads the cache first and
falls back on the row.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils.translation import gettext as _

from ..models import AuditImport

# Longer than the longest task (CELERY_TASK_TIME_LIMIT): a stale entry expires.
PROGRESS_TIMEOUT = 3600


class Phase:
    PENDING = "pending"
    READING = "reading"  # reading, checking and writing chunk by chunk
    CHECKING = "checking"  # an error was found: the rest is only checked
    STATUSES = "statuses"  # Volet 1 statuses of the entities touched
    DONE = "done"


def phase_label(phase: str) -> str:
    labels = {
        Phase.PENDING: _("En attente de traitement"),
        Phase.READING: _("Lecture, vérification et écriture"),
        Phase.CHECKING: _(
            "Vérification seulement : des erreurs ont été trouvées, rien ne sera importé"
        ),
        Phase.STATUSES: _("Mise à jour des statuts Volet 1"),
        Phase.DONE: _("Terminé"),
    }
    return labels.get(phase, phase)


def progress_key(batch_id: int) -> str:
    return f"audit-import-progress:{batch_id}"


def publish(
    batch_id: int,
    *,
    phase: str,
    rows_processed: int,
    rows_total: int | None,
    percent: int,
    error_count: int,
) -> None:
    cache.set(
        progress_key(batch_id),
        {
            "status": AuditImport.Status.RUNNING.value,
            "phase": phase,
            "rows_processed": rows_processed,
            "rows_total": rows_total,
            "percent": max(0, min(99, percent)),
            "error_count": error_count,
        },
        PROGRESS_TIMEOUT,
    )


def forget(batch_id: int) -> None:
    cache.delete(progress_key(batch_id))


def batch_progress(batch: AuditImport) -> dict[str, Any]:
    """{"status", "phase", "phase_label", "rows_processed", "rows_total", "percent",
    "error_count", "finished"} of a batch: live while it runs, else from the row."""
    live = None if batch.finished else cache.get(progress_key(batch.pk))
    if live is None:
        phase = {
            AuditImport.Status.PENDING: Phase.PENDING,
            AuditImport.Status.RUNNING: Phase.READING,
        }.get(batch.status, Phase.DONE)  # type: ignore[call-overload]
        live = {
            "status": batch.status,
            "phase": phase,
            "rows_processed": batch.rows_processed,
            "rows_total": batch.rows_total,
            "percent": batch.progress_percent,
            "error_count": batch.error_count,
        }
    return {
        **live,
        "phase_label": phase_label(live["phase"]),
        "finished": live["status"] in (AuditImport.Status.SUCCEEDED, AuditImport.Status.FAILED),
    }
