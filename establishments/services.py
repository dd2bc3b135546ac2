"""Writes of the establishment directory."""

import logging
from typing import BinaryIO

from django.db import IntegrityError
from django.utils.translation import gettext as _

from care_portal.errors import ImportFileError

from .finess import import_file
from .importers import ImportReport

logger = logging.getLogger(__name__)


def establishments_import(*, file: BinaryIO, filename: str = "") -> ImportReport:
    """Import a directory file, recognised by its content (establishments.finess):
    the portal's CSV (docs/import-establishments.md), the FINESS extracts of
    establishments (ET) or legal entities (EJ), or the FINESS+ JSON structures file.
    In one transaction: every row, or nothing when a row is bad (the report then
    names each bad line).

    Raises care_portal.errors.ImportFileError when the file cannot be read at all, or
    when another import wrote the same GHTs, entities or sites in the meantime (its
    rows, unseen when this one read the directory, make an insert collide; the
    transaction has been rolled back: running the import again updates them).
    """
    try:
        return import_file(file=file, filename=filename)
    except IntegrityError:
        logger.warning(
            "establishments import %r collided with another import", filename, exc_info=True
        )
        raise ImportFileError(
            _("Un autre import de l'annuaire s'est terminé pendant celui-ci : relancez l'import.")
        ) from None
