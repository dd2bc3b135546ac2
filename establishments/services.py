"""Writes of the establishment directory."""

from typing import BinaryIO

from .importers import ImportReport, import_establishments


def establishments_import(*, file: BinaryIO, filename: str = "") -> ImportReport:
    """Import the directory CSV (docs/import-establishments.md) in one transaction:
    every row, or nothing when a row is bad (the report then names each bad line).

    Raises care_portal.errors.ImportFileError when the file cannot be read at all.
    """
    return import_establishments(file=file, filename=filename)
