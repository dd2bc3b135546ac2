"""Live progress of an audit import batch (care_portal.imports.progress), with the
Volet 1 status refresh as its last phase."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from care_portal.imports import progress as core

from ..models import AuditImport


class Phase(core.Phase):
    STATUSES = "statuses"  # Volet 1 statuses of the entities touched


def progress_key(batch_id: int) -> str:
    return f"audit-import-progress:{batch_id}"


def publish(batch_id: int, **values: Any) -> None:
    core.publish(progress_key(batch_id), **values)


def forget(batch_id: int) -> None:
    core.forget(progress_key(batch_id))


def batch_progress(batch: AuditImport) -> dict[str, Any]:
    labels = {Phase.STATUSES: _("Mise à jour des statuts Volet 1")}
    return core.batch_progress(batch, progress_key(batch.pk), labels)
