"""manage.py render_dossier PUBLIC_ID --output FILE.pdf [--kind dossier|decision]: render
an application's dossier or decision letter synchronously to a file, for operators and
for checks. It writes no `Dossier` row and stores nothing in the portal."""

import hashlib
import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from applications.dossiers import dossier_version, render_dossier
from applications.models import Application, Dossier
from applications.pdf import page_count


class Command(BaseCommand):
    help = (
        "Génère le dossier PDF (ou la lettre de décision) d'une candidature dans un "
        "fichier, sans passer par les workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("public_id", help="Identifiant public (UUID) de la candidature.")
        parser.add_argument("--output", "-o", required=True, help="Fichier PDF à écrire.")
        parser.add_argument(
            "--kind",
            default=Dossier.Kind.DOSSIER.value,
            choices=Dossier.Kind.values,
            help="dossier (dossier de candidature, par défaut) ou decision (lettre de décision).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            public_id = uuid.UUID(options["public_id"])
        except ValueError:
            raise CommandError(
                _("Identifiant invalide « %(id)s » : un UUID est attendu.")
                % {"id": options["public_id"]}
            ) from None
        application = Application.objects.filter(public_id=public_id).first()
        if application is None:
            raise CommandError(
                _("Aucune candidature n'a l'identifiant %(id)s.") % {"id": public_id}
            )
        kind = options["kind"]
        if dossier_version(application.pk, kind) < 1:
            message = (
                _("La candidature %(reference)s n'a pas encore été déposée.")
                if kind == Dossier.Kind.DOSSIER
                else _("Aucune décision n'a été prise sur la candidature %(reference)s.")
            )
            raise CommandError(message % {"reference": application.reference})
        output = Path(options["output"])
        if not output.parent.is_dir():
            raise CommandError(_("Dossier introuvable : %(path)s") % {"path": output.parent})
        content = render_dossier(application, kind=kind)
        try:
            output.write_bytes(content)
        except OSError as error:
            raise CommandError(
                _("Impossible d'écrire %(path)s : %(error)s")
                % {"path": output, "error": error.strerror or error}
            ) from None
        pages = page_count(content)
        self.stdout.write(
            ngettext(
                "%(label)s %(reference)s écrit dans %(path)s : %(pages)d page, SHA-256 %(sha)s.",
                "%(label)s %(reference)s écrit dans %(path)s : %(pages)d pages, SHA-256 %(sha)s.",
                pages,
            )
            % {
                "label": Dossier.Kind(kind).label,
                "reference": application.reference,
                "path": output,
                "pages": pages,
                "sha": hashlib.sha256(content).hexdigest(),
            }
        )
