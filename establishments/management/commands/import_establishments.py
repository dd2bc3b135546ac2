"""manage.py import_establishments FILE.csv: the directory import from a shell.

Exits with status 1, writing nothing, when the file has an error; each bad row is
printed on stderr as "ligne N : raison".
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from care_portal.errors import ImportFileError
from establishments.services import establishments_import


class Command(BaseCommand):
    help = (
        "Importe l'annuaire des établissements (une ligne par site, avec son entité "
        "juridique) depuis un fichier CSV ; format : docs/import-establishments.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Fichier CSV (UTF-8, séparateur « ; » ou « , »).")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise CommandError(_("Fichier introuvable : %(path)s") % {"path": path}) from None
        except OSError as exc:
            raise CommandError(
                _("Impossible d'ouvrir %(path)s : %(error)s")
                % {"path": path, "error": exc.strerror or exc}
            ) from None

        with handle:
            try:
                report = establishments_import(file=handle, filename=path.name)
            except ImportFileError as exc:
                raise CommandError(
                    _("%(file)s : %(message)s") % {"file": path.name, "message": exc.message}
                ) from None

        if not report.ok:
            for error in report.errors:
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
