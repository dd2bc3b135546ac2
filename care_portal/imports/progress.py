"""Live progress of an import batch.

The rows are written inside one open transaction, invisible to other connections
until it commits, so the running import publishes its progress through the cache
(Redis in production and CI, local memory with eager tasks) and stores the final
counts on the batch row when it ends. `batch_progress` reads the cache first and
falls back on the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.cache import cache
from django.utils.translation import gettext as _

from .models import ImportBatchBase

# Longer than the longest task (CELERY_TASK_TIME_LIMIT): a stale entry expires.
PROGRESS_TIMEOUT = 3600
Status = ImportBatchBase.Status


class Phase:
    PENDING = "pending"
    READING = "reading"  # reading, checking and writing chunk by chunk
    CHECKING = "checking"  # an error was found: the rest is only checked
    DONE = "done"


def phase_label(phase: str, extra: Mapping[str, str] | None = None) -> str:
    labels = {
        Phase.PENDING: _("En attente de traitement"),
        Phase.READING: _("Lecture, vérification et écriture"),
        Phase.CHECKING: _(
            "Vérification seulement : des erreurs ont été trouvées, rien ne sera importé"
        ),
        Phase.DONE: _("Terminé"),
        **(extra or {}),
    }
    return labels.get(phase, phase)


def publish(
    key: str,
    *,
    phase: str,
    rows_processed: int,
    rows_total: int | None,
    percent: int,
    error_count: int,
) -> None:
    cache.set(
        key,
        {
            "status": Status.RUNNING.value,
            "phase": phase,
            "rows_processed": rows_processed,
            "rows_total": rows_total,
            "percent": max(0, min(99, percent)),
            "error_count": error_count,
        },
        PROGRESS_TIMEOUT,
    )


def forget(key: str) -> None:
    cache.delete(key)


def batch_progress(
    batch: ImportBatchBase, key: str, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """{"status", "phase", "phase_label", "rows_processed", "rows_total", "percent",
    "error_count", "finished"} of a batch: live while it runs, else from the row."""
    live = None if batch.finished else cache.get(key)
    if live is None:
        phase = {Status.PENDING: Phase.PENDING, Status.RUNNING: Phase.READING}.get(
            batch.status,  # type: ignore[call-overload]
            Phase.DONE,
        )
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
        "phase_label": phase_label(live["phase"], labels),
        "finished": live["status"] in (Status.SUCCEEDED, Status.FAILED),
    }
