"""Reading an uploaded CSV file line by line: the imports of the directory and of the
Volet 1 results share it."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from typing import IO

from django.utils.translation import gettext as _

from .errors import ImportFileError

# A physical line longer than this is not a line of our formats (longest value: 255).
MAX_LINE_CHARS = 16_384
_SURROGATE = re.compile("[\udc80-\udcff]")  # undecodable bytes under "surrogateescape"


def normalize_header(name: str) -> str:
    """Header names are case-, accent- and space-insensitive: " Date scan " -> date_scan."""
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


class NumberedLines:
    """The physical lines of the file, decoded one at a time and numbered.

    Undecodable bytes are kept as surrogates ("surrogateescape") so that the error
    names the very line that holds them, whatever the decoder's read-ahead.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.text = io.TextIOWrapper(
            raw, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        self.number = 0

    def __iter__(self) -> NumberedLines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(MAX_LINE_CHARS + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > MAX_LINE_CHARS:
            raise ImportFileError(
                _(
                    "La ligne %(line)d dépasse %(max)d caractères : ce n'est pas un fichier de "
                    "ce format."
                )
                % {"line": self.number, "max": MAX_LINE_CHARS}
            )
        if not line.isascii() and _SURROGATE.search(line):
            raise ImportFileError(
                _(
                    "Le fichier n'est pas encodé en UTF-8 (ligne %(line)d). Enregistrez-le au "
                    "format « CSV UTF-8 » et importez-le de nouveau."
                )
                % {"line": self.number}
            )
        if "\x00" in line:
            # A NUL is no text (a UTF-16 file, a binary one), and PostgreSQL stores
            # none in a text column.
            raise ImportFileError(
                _(
                    "La ligne %(line)d contient un caractère nul : ce n'est pas un fichier "
                    "texte de ce format. Enregistrez-le au format « CSV UTF-8 » et "
                    "importez-le de nouveau."
                )
                % {"line": self.number}
            )
        return line

    def read_header(self) -> tuple[str, list[str]]:
        """Read the first line as the header: its delimiter (";" or ",", whichever it
        holds more of) and its normalized column names."""
        first = next(self, None)
        if first is None:
            raise ImportFileError(_("Le fichier est vide."))
        if not first.strip():
            raise ImportFileError(
                _("La première ligne doit être la ligne d'en-tête (noms des colonnes).")
            )
        delimiter = ";" if ";" in first and first.count(";") >= first.count(",") else ","
        names = next(csv.reader([first], delimiter=delimiter), [])
        return delimiter, [normalize_header(name) for name in names]

    def close(self) -> None:
        # Detach rather than close: the caller owns the binary file.
        self.text.detach()
