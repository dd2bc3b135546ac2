"""Writes of Volet 1 data: stored statuses, and imports of audit results."""

import logging
import os
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from care_portal.errors import ImportFileError
from care_portal.imports.sources import seekable
from care_portal.queue import enqueue_on_commit
from establishments.models import LegalEntity

from . import importers
from .importers import PINGCASTLE_FORMATS, detect_format, progress
from .models import AuditImport, AuditKind, Volet1Status
from .selectors import volet1_statuses

logger = logging.getLogger(__name__)

# Entities refreshed at a time: each one's audits and scans are read whole, so chunks
# keep memory bounded whatever the number of rows per entity (an import of 100,000
# rows peaks at about 3.6 MB with chunks of 200: bench/).
REFRESH_CHUNK = 200
STATUS_FIELDS = [
    "level",
    "ad_audit_date",
    "exposure_first_scan_date",
    "exposure_second_scan_date",
    "last_scan_date",
    "updated_at",
]


def volet1_status_refresh(*, legal_entity_ids: Iterable[int]) -> int:
    """Recompute and store the Volet 1 status of these entities (idempotent); returns
    how many stored statuses changed. Call it in the transaction that changed their
    audits or scans."""
    ids = sorted(set(legal_entity_ids))
    changed = 0
    now = timezone.now()
    with transaction.atomic():
        for start in range(0, len(ids), REFRESH_CHUNK):
            chunk = ids[start : start + REFRESH_CHUNK]
            results = volet1_statuses(chunk)
            stored = {
                s.legal_entity_id: s for s in Volet1Status.objects.filter(legal_entity_id__in=chunk)
            }
            to_create, to_update = [], []
            for entity_id, result in results.items():
                values = {
                    "level": result.level,
                    "ad_audit_date": result.ad_audit_date,
                    "exposure_first_scan_date": (
                        result.exposure_scan_dates[0] if result.exposure_scan_dates else None
                    ),
                    "exposure_second_scan_date": (
                        result.exposure_scan_dates[1] if result.exposure_scan_dates else None
                    ),
                    "last_scan_date": result.last_scan_date,
                }
                current = stored.get(entity_id)
                if current is None:
                    to_create.append(Volet1Status(legal_entity_id=entity_id, **values))
                elif any(getattr(current, k) != v for k, v in values.items()):
                    for key, value in values.items():
                        setattr(current, key, value)
                    current.updated_at = now
                    to_update.append(current)
            Volet1Status.objects.bulk_create(to_create)
            Volet1Status.objects.bulk_update(to_update, STATUS_FIELDS, batch_size=500)
            changed += len(to_create) + len(to_update)
    return changed


# Imports of audit results ---------------------------------------------------------------

_STORED_EXTENSIONS: dict[str, str] = {
    AuditImport.Format.CSV: ".csv",
    AuditImport.Format.JSON: ".json",
    AuditImport.Format.PINGCASTLE_XML: ".xml",
    AuditImport.Format.PINGCASTLE_ZIP: ".zip",
}


def _stored_batch(
    kind: str,
    raw: IO[bytes],
    size: int,
    filename: str,
    legal_entity: LegalEntity | None,
    by: User | None,
) -> AuditImport:
    """The unsaved batch, its file stored, once its format suits the kind."""
    if size == 0:
        raise ImportFileError(_("Le fichier est vide."))
    head = raw.read(16)
    raw.seek(0)
    file_format = detect_format(filename, head)
    if file_format in PINGCASTLE_FORMATS:
        if kind != AuditKind.DIRECTORY:
            raise ImportFileError(
                _("Un rapport PingCastle (XML ou zip) s'importe avec le type ad, pas exposure.")
            )
        if legal_entity is None:
            raise ImportFileError(
                _("Choisissez l'entité juridique auditée : un rapport PingCastle ne la nomme pas.")
            )
    elif legal_entity is not None:
        raise ImportFileError(
            _(
                "L'entité juridique ne se choisit que pour un rapport PingCastle : un fichier "
                "CSV ou JSON donne le FINESS de chaque ligne."
            )
        )
    batch = AuditImport(
        kind=kind,
        file_format=file_format,
        original_filename=os.path.basename(filename.replace("\\", "/"))[:255] or "fichier",
        file_size=size,
        legal_entity=legal_entity,
        created_by=by,
    )
    # A server-made name: the user's file name is only shown, never used as a path.
    batch.file.save(f"{uuid.uuid4().hex}{_STORED_EXTENSIONS[file_format]}", File(raw), save=False)
    return batch


def audit_import_create(
    *,
    kind: str,
    uploaded_file: IO[bytes] | File,
    filename: str,
    legal_entity: LegalEntity | None = None,
    by: User | None = None,
) -> AuditImport:
    """Store an uploaded file of Volet 1 results as a pending batch and queue its
    processing once the transaction commits (eager tasks: right then).

    The format comes from the content (zip, XML) or the extension: CSV or JSON for
    both kinds, PingCastle XML or zip for `ad` only, with the legal entity the
    reports belong to. Raises ImportFileError (French) for an unknown kind, a format
    the kind does not take, a missing or superfluous entity, or a file larger than
    AUDIT_IMPORT_MAX_FILE_SIZE; nothing is stored then."""
    if kind not in AuditKind.values:
        raise ImportFileError(
            _("Type d'import inconnu « %(kind)s » : ad (audits Active Directory) ou exposure.")
            % {"kind": kind}
        )
    raw, size, is_copy = seekable(uploaded_file, settings.AUDIT_IMPORT_MAX_FILE_SIZE)
    try:
        batch = _stored_batch(kind, raw, size, filename, legal_entity, by)
    finally:
        if is_copy:
            raw.close()
    with transaction.atomic():
        batch.save()
        # robust: a broker outage leaves the batch pending for the sweeper, never an error.
        enqueue_on_commit("audits.audit_import_task", batch.pk)
    return batch


def audit_imports_needing_work(*, older_than_seconds: int = 300) -> list[int]:
    """Batches whose task was lost (broker outage) or whose worker died: re-queued by
    the sweeper. The claim in `audit_import_run` keeps a double delivery harmless."""
    now = timezone.now()
    waiting = now - timedelta(seconds=older_than_seconds)
    abandoned = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    return list(
        AuditImport.objects.filter(
            Q(status=AuditImport.Status.PENDING, created_at__lt=waiting)
            | Q(status=AuditImport.Status.RUNNING, started_at__lt=abandoned)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:100]
    )


def _refresh_statuses(legal_entity_ids: Iterable[int]) -> None:
    """The import's last step (REFRESH_CHUNK entities at a time)."""
    volet1_status_refresh(legal_entity_ids=legal_entity_ids)


def _claim(batch: AuditImport) -> bool:
    """Take the batch for this run, exactly once: a pending batch, or one left running
    by a worker that died (longer than the task time limit: its transaction is gone)."""
    now = timezone.now()
    abandoned = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimed = (
        AuditImport.objects.filter(pk=batch.pk)
        .filter(
            Q(status=AuditImport.Status.PENDING)
            | Q(status=AuditImport.Status.RUNNING, started_at__lt=abandoned)
        )
        .update(status=AuditImport.Status.RUNNING, started_at=now, updated_at=now)
    )
    return claimed == 1


def audit_import_run(*, batch: AuditImport) -> AuditImport:
    """Process a pending batch: its whole file in one transaction, or nothing.

    Claimed with a conditional UPDATE, so that a second delivery of the task does
    nothing (and a re-delivery of a finished batch neither). Every entity whose
    audits or scans changed gets its Volet 1 status refreshed in the same
    transaction. On an unexpected exception the batch is marked failed with a
    message and the exception re-raised."""
    if not _claim(batch):
        batch.refresh_from_db()
        return batch
    batch.refresh_from_db()
    logger.info("audit import %s (%s, %s) started", batch.pk, batch.kind, batch.file_format)
    try:
        try:
            with transaction.atomic(durable=True):
                report = importers.import_batch_file(batch=batch)
                progress.publish(
                    batch.pk,
                    phase=progress.Phase.STATUSES,
                    rows_processed=report.rows,
                    rows_total=report.rows_total,
                    percent=99,
                    error_count=0,
                )
                _refresh_statuses(report.legal_entity_ids)
                batch.store_report(report)
        except importers.ImportFailed as failed:
            batch.store_report(failed.report)
    except Exception as exc:
        logger.exception("audit import %s failed unexpectedly", batch.pk)
        if isinstance(exc, IntegrityError):
            message = _(
                "Un autre import a écrit les mêmes audits pendant celui-ci : rien n'a été "
                "importé, relancez l'import."
            )
        else:
            message = _(
                "Erreur inattendue pendant l'import (%(error)s) : rien n'a été importé. "
                "L'équipe technique a été prévenue par le journal d'erreurs."
            ) % {"error": exc.__class__.__name__}
        AuditImport.objects.filter(pk=batch.pk).update(
            status=AuditImport.Status.FAILED,
            message=message,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        batch.refresh_from_db()
        raise
    finally:
        progress.forget(batch.pk)
    logger.info(
        "audit import %s %s: %d rows, %d created, %d updated, %d unchanged, %d errors",
        batch.pk,
        batch.status,
        batch.rows_processed,
        batch.created_count,
        batch.updated_count,
        batch.unchanged_count,
        batch.error_count,
    )
    return batch
