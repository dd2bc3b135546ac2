"""What the manage.py import commands share: opening the file they are given, and
reporting a file the import refuses as a command error naming it."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from care_portal.errors import ImportFileError


def open_import_file(path: Path) -> BinaryIO:
    """The file, open for reading in binary; a CommandError when it cannot be opened."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise CommandError(_("Fichier introuvable : %(path)s") % {"path": path}) from None
    except OSError as exc:
        raise CommandError(
            _("Impossible d'ouvrir %(path)s : %(error)s")
            % {"path": path, "error": exc.strerror or exc}
        ) from None


@contextmanager
def file_refused(filename: str) -> Iterator[None]:
    """An ImportFileError raised within, as a CommandError: "file : message"."""
    try:
        yield
    except ImportFileError as exc:
        raise CommandError(
            _("%(file)s : %(message)s") % {"file": filename, "message": exc.message}
        ) from None
