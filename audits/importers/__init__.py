"""Imports of Volet 1 results: Active Directory audits (CSV, JSON, PingCastle XML
reports alone or zipped) and internet exposure scans (CSV, JSON).

One pass over the stored file, inside the caller's transaction: records are read as
a stream (care_portal.imports.sources for CSV and JSON, pingcastle.py), checked one
by one (rows.py) and written chunk by chunk (writer.py). Any error, in a record or in
the file, makes `import_batch_file` raise ImportFailed once the whole file has been
checked, so that the caller rolls back and every bad line is reported.
docs/import-audits.md describes the formats.
"""

from __future__ import annotations

import os
from typing import IO

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from care_portal.errors import ImportFileError
from care_portal.imports.report import MAX_STORED_ERRORS, RowError
from care_portal.imports.sources import CSVSource, JSONSource, Source, max_size_message

from ..models import AuditImport, AuditKind
from . import progress
from .columns import AD_COLUMNS, COLUMNS, EXPOSURE_COLUMNS, JSON_ARRAY_KEYS, Column
from .pingcastle import LABELS as PINGCASTLE_LABELS
from .pingcastle import (
    PingCastleXMLSource,
    PingCastleZipSource,
    ReportValues,
    rule_severity,
    rules_fingerprint,
)
from .progress import Phase, batch_progress
from .rows import ParsedRow, RowParser
from .writer import CHUNK_SIZE, ChunkWriter, ImportReport

__all__ = [
    "AD_COLUMNS",
    "CHUNK_SIZE",
    "COLUMNS",
    "EXPOSURE_COLUMNS",
    "JSON_ARRAY_KEYS",
    "MAX_STORED_ERRORS",
    "Column",
    "ImportFailed",
    "ImportReport",
    "RowError",
    "batch_progress",
    "detect_format",
    "import_batch_file",
    "rule_severity",
]

Format = AuditImport.Format
_EXTENSIONS = {
    ".csv": Format.CSV,
    ".txt": Format.CSV,
    ".json": Format.JSON,
    ".xml": Format.PINGCASTLE_XML,
    ".zip": Format.PINGCASTLE_ZIP,
}
PINGCASTLE_FORMATS = (Format.PINGCASTLE_XML, Format.PINGCASTLE_ZIP)


class ImportFailed(Exception):
    """The file had errors: the caller rolls back and stores the report."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(report.file_error or f"{report.error_count} errors")
        self.report = report


def detect_format(filename: str, head: bytes) -> str:
    """The file's format from its first bytes (a zip, XML), else its extension."""
    if head.startswith(b"PK\x03\x04"):
        return Format.PINGCASTLE_ZIP
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    extension = os.path.splitext(filename.lower())[1]
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    if text.startswith(b"<"):
        return Format.PINGCASTLE_XML
    if text.startswith((b"[", b"{")):
        return Format.JSON
    raise ImportFileError(
        _(
            "Format de fichier non reconnu : un fichier .csv, .json, un rapport PingCastle "
            ".xml ou une archive .zip de rapports est attendu."
        )
    )


def _source(batch: AuditImport, raw: IO[bytes]) -> tuple[Source, dict[str, str] | None]:
    columns = COLUMNS[batch.kind]
    if batch.file_format == Format.CSV:
        return CSVSource(raw, columns), None
    if batch.file_format == Format.JSON:
        return JSONSource(raw, columns, JSON_ARRAY_KEYS[batch.kind]), None
    if batch.kind != AuditKind.DIRECTORY:
        raise ImportFileError(_("Un rapport PingCastle est un audit Active Directory (type ad)."))
    if batch.legal_entity is None:
        raise ImportFileError(
            _("Un rapport PingCastle doit être rattaché à une entité juridique choisie à l'envoi.")
        )
    finess = batch.legal_entity.finess
    if batch.file_format == Format.PINGCASTLE_XML:
        return PingCastleXMLSource(raw, finess=finess, filename=batch.original_filename), (
            PINGCASTLE_LABELS
        )
    return PingCastleZipSource(raw, finess=finess), PINGCASTLE_LABELS


def _open(batch: AuditImport) -> IO[bytes]:
    limit: int = settings.AUDIT_IMPORT_MAX_FILE_SIZE
    try:
        size = batch.file.size
        if size > limit:
            raise ImportFileError(max_size_message(limit))
        batch.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise ImportFileError(
            _("Le fichier de cet import est introuvable sur le serveur.")
        ) from None
    return batch.file.file


def import_batch_file(*, batch: AuditImport) -> ImportReport:
    """Read, check and write the batch's file in the current transaction, publishing
    progress; raise ImportFailed (after reading everything) when anything is wrong."""
    report = ImportReport()
    try:
        raw = _open(batch)
    except ImportFileError as exc:
        report.file_error = exc.message
        raise ImportFailed(report) from None
    try:
        _import(batch, raw, report)
    finally:
        batch.file.close()
    if not report.ok:
        raise ImportFailed(report)
    return report


def _import(batch: AuditImport, raw: IO[bytes], report: ImportReport) -> None:
    try:
        source, labels = _source(batch, raw)
    except ImportFileError as exc:
        report.file_error = exc.message
        return
    report.rows_total = source.rows_total
    parser = RowParser(batch.kind, today=timezone.localdate(), labels=labels)

    def publish() -> None:
        progress.publish(
            batch.pk,
            phase=Phase.READING if report.ok else Phase.CHECKING,
            rows_processed=report.rows,
            rows_total=report.rows_total,
            percent=round(100 * source.fraction_done()),
            error_count=report.error_count,
        )

    publish()
    with ChunkWriter(
        kind=batch.kind,
        batch_id=batch.pk,
        report=report,
        location=source.location,
        finess_label=(labels or {}).get("finess_ej", "finess_ej"),
        on_chunk=publish,
    ) as writer:
        try:
            for line, values, problems in source.records():
                report.rows += 1
                if values is None:
                    writer.add(
                        ParsedRow(line=line, finess="", key=None, values={}, problems=problems)
                    )
                    continue
                row = parser.parse(line, values)
                if isinstance(values, ReportValues):
                    row.rules = values.rules
                    row.values.update(
                        engine_version=values.engine_version,
                        maturity_from_rules=values.maturity_from_rules,
                        rules_fingerprint=rules_fingerprint(values.rules),
                    )
                if problems:
                    row.problems[:0] = problems
                writer.add(row)
        except ImportFileError as exc:
            report.file_error = exc.message
        writer.flush()
    if report.ok and report.rows == 0:
        report.file_error = _("Le fichier ne contient aucune ligne à importer.")
