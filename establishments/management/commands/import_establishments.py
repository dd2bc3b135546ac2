"""manage.py import_establishments FILE: the directory import from a shell.

The file is recognised by its content (the portal's CSV, a FINESS extract of
establishments or legal entities, the FINESS+ JSON structures file). Exits with
status 1, writing nothing, when the file has an error; each bad row is printed on
stderr as "ligne N : raison". The report ends with the lines set aside and the FINESS
codes missing from the code table.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from care_portal.imports.commands import file_refused, open_import_file
from establishments.services import establishments_import


class Command(BaseCommand):
    help = (
        "Importe l'annuaire des établissements depuis le CSV du portail "
        "(docs/import-establishments.md), une extraction FINESS (ET ou EJ) ou le fichier "
        "JSON des structures FINESS+ ; le format est reconnu d'après le contenu."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", help="Fichier CSV du portail, extraction FINESS ou JSON FINESS+."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        handle = open_import_file(path)

        with handle, file_refused(path.name):
            report = establishments_import(file=handle, filename=path.name)

        if report.file_format:
            self.stdout.write(
                _("%(file)s : fichier reconnu comme %(format)s.")
                % {"file": path.name, "format": report.file_format}
            )
        if not report.ok:
            self._notes(report)
            for error in report.errors:
                if error.where:
                    self.stderr.write(f"{error.where} : {error.message}")
                else:
                    self.stderr.write(
                        _("ligne %(line)d : %(message)s")
                        % {"line": error.line, "message": error.message}
                    )
            if report.errors_truncated:
                self.stderr.write(
                    _("… et %(more)d autres lignes en erreur.")
                    % {"more": report.error_count - len(report.errors)}
                )
            raise CommandError(
                _(
                    "%(count)d ligne(s) en erreur sur %(rows)d : rien n'a été importé. "
                    "Corrigez le fichier et relancez l'import."
                )
                % {"count": report.error_count, "rows": report.rows}
            )

        self.stdout.write(
            self.style.SUCCESS(
                _("%(file)s : %(rows)d ligne(s) importée(s).")
                % {"file": path.name, "rows": report.rows}
            )
        )
        for label, counts in report.kinds:
            self.stdout.write(
                _(
                    "%(label)s : %(created)d créé(s), %(updated)d modifié(s), "
                    "%(unchanged)d inchangé(s)"
                )
                % {
                    "label": label,
                    "created": counts.created,
                    "updated": counts.updated,
                    "unchanged": counts.unchanged,
                }
            )
        self._notes(report)

    def _notes(self, report: Any) -> None:
        for group in report.ignored_groups:
            self.stdout.write(
                _("Mis de côté : %(label)s : %(count)d ligne(s) (%(lines)s)")
                % {"label": group.label, "count": group.count, "lines": group.lines_text}
            )
        for group in report.unknown_code_groups:
            self.stdout.write(
                _(
                    "Code inconnu de la table establishments/data/finess_codes.csv : "
                    "%(label)s : %(count)d ligne(s) (%(lines)s)"
                )
                % {"label": group.label, "count": group.count, "lines": group.lines_text}
            )
