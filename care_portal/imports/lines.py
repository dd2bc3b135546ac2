"""Text of an uploaded file: its encoding, its delimiter, its numbered lines.

The encoding is found in one pass over the bytes (`sniff`): UTF-8, with or without a
byte order mark; else Windows-1252 (what Excel writes under "CSV (séparateur :
point-virgule)" on a French Windows), or Latin-1 when a byte has no Windows-1252
character. A file mixing valid UTF-8 and other bytes is refused, naming the first
bad line: guessing there would garble names silently.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _

from care_portal.errors import ImportFileError

# A physical line longer than this is not a line of our formats (longest value: 255).
MAX_LINE_CHARS = 16_384
DELIMITERS = (";", ",", "\t")
UTF8 = "utf-8-sig"  # reads the byte order mark away when there is one
_SURROGATE = re.compile("[\udc80-\udcff]")  # undecodable bytes under "surrogateescape"
_NON_ASCII_TEXT = re.compile("[\u0080-\udc7f\udd00-\U0010ffff]")
_CP1252_HOLES = re.compile(b"[\x81\x8d\x8f\x90\x9d]")  # no character in Windows-1252
_BLOCK = 64 * 1024


def normalize_header(name: str) -> str:
    """Header names are case-, accent- and space-insensitive: " Date scan " -> date_scan."""
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@dataclass(frozen=True)
class Sniffed:
    encoding: str
    lines: int  # physical lines, the last one counted even without its newline


def sniff(raw: IO[bytes]) -> Sniffed:
    """The encoding and line count of a seekable binary file, read once by blocks
    (bounded memory); the file is rewound."""
    raw.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    count = 0
    last = b""
    invalid = valid_non_ascii = cp1252_holes = False
    while block := raw.read(_BLOCK):
        count += block.count(b"\n")
        last = block
        if block.isascii():
            continue
        text = decoder.decode(block)
        invalid = invalid or bool(_SURROGATE.search(text))
        valid_non_ascii = valid_non_ascii or bool(_NON_ASCII_TEXT.search(text))
        cp1252_holes = cp1252_holes or bool(_CP1252_HOLES.search(block))
    invalid = invalid or bool(_SURROGATE.search(decoder.decode(b"", final=True)))
    raw.seek(0)
    lines = count + (1 if last and not last.endswith(b"\n") else 0)
    if not invalid or valid_non_ascii:
        # UTF-8, or a mix that NumberedLines refuses at its first bad line.
        return Sniffed(UTF8, lines)
    return Sniffed("latin-1" if cp1252_holes else "cp1252", lines)


def detect_delimiter(header_line: str) -> str:
    """The delimiter the header line holds most of: `;`, `,` or a tab (`;` on a tie)."""
    counts = [(header_line.count(delimiter), delimiter) for delimiter in DELIMITERS]
    best = max(counts, key=lambda pair: pair[0])
    return best[1] if best[0] else ","


class NumberedLines:
    """The physical lines of the file, decoded one at a time and numbered.

    In UTF-8, undecodable bytes are kept as surrogates ("surrogateescape") so that the
    error names the very line that holds them, whatever the decoder's read-ahead.
    """

    def __init__(self, raw: IO[bytes], encoding: str = UTF8) -> None:
        self.text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
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
                    "Le fichier n'est pas encodé en UTF-8 (ligne %(line)d) : il mélange des "
                    "caractères UTF-8 et d'autres encodages. Enregistrez-le au format « CSV "
                    "UTF-8 » et importez-le de nouveau."
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
        """Read the first line as the header: its delimiter (detect_delimiter) and its
        normalized column names."""
        first = next(self, None)
        if first is None:
            raise ImportFileError(_("Le fichier est vide."))
        if not first.strip():
            raise ImportFileError(
                _("La première ligne doit être la ligne d'en-tête (noms des colonnes).")
            )
        delimiter = detect_delimiter(first)
        names = next(csv.reader([first], delimiter=delimiter), [])
        return delimiter, [normalize_header(name) for name in names]

    def close(self) -> None:
        # Detach rather than close: the caller owns the binary file.
        self.text.detach()
