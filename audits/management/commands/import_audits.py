"""manage.py import_audits FILE --kind ad|exposure [--finess EJ]: a Volet 1 import
from a shell, as an AuditImport batch processed by the Celery task.

With eager tasks (no REDIS_URL) the batch is processed when the transaction that
creates it commits, before the command goes on: it prints a summary, or each bad
record on stderr ("ligne N : raison") and exits with status 1. With a worker it
prints the batch's id and returns.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from audits.models import AuditImport, AuditKind
from audits.services import audit_import_create
from care_portal.imports.commands import file_refused, open_import_file
from establishments.identifiers import compact, finess_error
from establishments.models import LegalEntity


class Command(BaseCommand):
    help = (
        "Importe des résultats Volet 1 : audits Active Directory (--kind ad : CSV, JSON, "
        "rapport PingCastle XML ou zip de rapports avec --finess) ou scans d'exposition "
        "(--kind exposure : CSV ou JSON). Format : docs/import-audits.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Fichier à importer (.csv, .json, .xml ou .zip).")
        parser.add_argument(
            "--kind",
            required=True,
            help="ad (audits Active Directory) ou exposure (scans d'exposition).",
        )
        parser.add_argument(
            "--finess",
            default="",
            help="FINESS EJ de l'entité auditée, pour un rapport PingCastle (XML ou zip).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind = options["kind"].strip().lower()
        if kind not in AuditKind.values:
            raise CommandError(
                _("Type inconnu « %(kind)s » : --kind ad ou --kind exposure.")
                % {"kind": options["kind"]}
            )
        path = Path(options["file"])
        legal_entity = self._legal_entity(options["finess"])
        handle = open_import_file(path)

        if path.suffix.lower() in (".xml", ".zip") and legal_entity is None:
            handle.close()
            raise CommandError(
                _(
                    "Un rapport PingCastle ne nomme pas l'établissement : donnez le FINESS de "
                    "l'entité juridique auditée avec --finess."
                )
            )
        # On commit the task is queued, or, with eager tasks, runs right then; it is
        # queued with robust=True, so that a failing task is logged, not raised here:
        # the batch, marked failed, says what happened.
        with handle, file_refused(path.name), transaction.atomic():
            batch = audit_import_create(
                kind=kind,
                uploaded_file=handle,
                filename=path.name,
                legal_entity=legal_entity,
            )
        batch.refresh_from_db()
        if not batch.finished:  # tasks are not eager: a worker takes it from the broker
            self.stdout.write(
                _(
                    "Import %(id)s créé (%(file)s) : un worker va le traiter ; suivez-le dans "
                    "l'administration, « Imports d'audits »."
                )
                % {"id": batch.public_id, "file": path.name}
            )
            return
        self._report(batch, path.name)

    def _legal_entity(self, finess: str) -> LegalEntity | None:
        number = compact(finess)
        if not number:
            return None
        if error := finess_error(number):
            raise CommandError(
                _("--finess %(finess)s : %(error)s") % {"finess": finess, "error": error}
            )
        entity = LegalEntity.objects.filter(finess=number).first()
        if entity is None:
            raise CommandError(
                _("--finess %(finess)s : aucune entité juridique de l'annuaire n'a ce FINESS.")
                % {"finess": number}
            )
        return entity

    def _report(self, batch: AuditImport, filename: str) -> None:
        if batch.status != AuditImport.Status.SUCCEEDED:
            for error in batch.errors:
                self.stderr.write(
                    _("%(where)s : %(message)s")
                    % {
                        "where": error.get("where") or error.get("line"),
                        "message": error["message"],
                    }
                )
            if batch.error_count > len(batch.errors):
                self.stderr.write(
                    _("… et %(more)d autres erreurs.")
                    % {"more": batch.error_count - len(batch.errors)}
                )
            raise CommandError(
                _("%(file)s : %(message)s")
                % {
                    "file": filename,
                    "message": batch.message
                    or _("l'import n'a pas abouti (état : %(status)s).")
                    % {"status": batch.get_status_display()},
                }
            )
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "%(file)s : %(rows)d ligne(s) lue(s) ; %(created)d créée(s), %(updated)d "
                    "modifiée(s), %(unchanged)d inchangée(s)."
                )
                % {
                    "file": filename,
                    "rows": batch.rows_processed,
                    "created": batch.created_count,
                    "updated": batch.updated_count,
                    "unchanged": batch.unchanged_count,
                }
            )
        )
