"""Declarative columns: a header name, its aliases, whether the header must hold it,
and, for identifiers, their width in digits.

Header names match case-, accent- and space-insensitively (normalize_header), under
the column's name or any alias: "N° FINESS EJ", "finess ej" and an English alias
all name the same column. `Column.clean` repairs what a spreadsheet does to an
identifier: it refuses scientific notation (the digits Excel rounded away are lost)
and restores the one leading zero Excel drops ("10000123" -> "010000123").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from care_portal.errors import ImportFileError

from .lines import normalize_header

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MAX_INT = 2_147_483_647  # PositiveIntegerField on PostgreSQL
MAX_INT_DIGITS = 12  # more significant digits than that: too large for any column
_SPACES = str.maketrans("", "", " \u00a0\u202f\t")
# "2,601E+13", "2.601e13", "6.9E+08": a number Excel displayed in scientific notation.
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d*)?[eE][+-]?\d+$")


@dataclass(frozen=True)
class Column:
    """One column of an import file. `required`: the header must name it (a value may
    still be empty where the app allows). `width`: the digits of an identifier
    column (0 for any other column), see `clean`."""

    name: str
    required: bool
    description: StrOrPromise = ""
    example: str = ""
    aliases: tuple[str, ...] = ()
    width: int = 0

    @property
    def in_header(self) -> bool:
        return self.required

    def clean(self, text: str) -> tuple[str, str | None]:
        """The cell stripped; an identifier's repaired (clean_identifier)."""
        return clean_identifier(text, self.width) if self.width else (text.strip(), None)


def clean_identifier(text: str, width: int) -> tuple[str, str | None]:
    """(value, problem) of an identifier cell as a spreadsheet may have left it:
    scientific notation is a problem (its lost digits cannot be recovered); a number
    one digit short of `width` gets back the leading zero the spreadsheet dropped
    (identifiers never start with two zeros, so only one can be missing)."""
    value = text.strip()
    if len(value) == width - 1 and value.isdigit():
        return "0" + value, None
    if _SCIENTIFIC.match(value):
        return value, _(
            "« %(value)s » est un nombre en notation scientifique : le tableur a arrondi le "
            "numéro et ses derniers chiffres sont perdus, ils ne peuvent pas être retrouvés. "
            "Saisissez le numéro complet, la colonne au format Texte"
        ) % {"value": value}
    return value, None


def header_names(columns: Iterable[Column]) -> dict[str, str]:
    """Normalized name or alias -> the column's name."""
    names: dict[str, str] = {}
    for column in columns:
        for name in (column.name, *column.aliases):
            names[normalize_header(name)] = column.name
    return names


def resolve_header(names: Sequence[str], columns: Sequence[Column]) -> list[str]:
    """The column names a (normalized) header line holds, aliases resolved; a
    duplicate, unknown or missing required column is a file error."""
    known = header_names(columns)
    resolved = [known.get(name, name) for name in names]
    duplicates = sorted({name for name in resolved if name and resolved.count(name) > 1})
    if duplicates:
        raise ImportFileError(
            _("Colonne en double dans l'en-tête : %(columns)s.")
            % {"columns": ", ".join(duplicates)}
        )
    unknown = [name or _("(sans nom)") for name in names if name not in known]
    if unknown:
        raise ImportFileError(
            _("Colonne inconnue dans l'en-tête : %(columns)s. Colonnes attendues : %(expected)s.")
            % {"columns": ", ".join(unknown), "expected": ", ".join(c.name for c in columns)}
        )
    missing = [column.name for column in columns if column.required and column.name not in resolved]
    if missing:
        raise ImportFileError(
            _("Colonne obligatoire absente de l'en-tête : %(columns)s.")
            % {"columns": ", ".join(missing)}
        )
    return resolved


def parse_integer(text: str) -> int | None:
    """The integer a cell holds ("1 200" and "-3" included), or None when it holds none
    or one too large for any column (int() would refuse more than 4,300 digits)."""
    if len(text) <= MAX_INT_DIGITS and text.isdigit() and text.isascii():
        return int(text)
    text = text.translate(_SPACES)
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    if not (digits.isdigit() and digits.isascii()) or len(digits.lstrip("0")) > MAX_INT_DIGITS:
        return None
    return -int(digits) if negative else int(digits)


TRUE_VALUES = frozenset({"oui", "1", "true", "vrai"})
FALSE_VALUES = frozenset({"non", "0", "false", "faux"})


def parse_boolean(text: str) -> tuple[bool | None, str | None]:
    """(value, problem) of a yes/no cell; (None, None) when it is empty."""
    lowered = text.strip().lower()
    if lowered in TRUE_VALUES or lowered in FALSE_VALUES or not lowered:
        return (lowered in TRUE_VALUES if lowered else None), None
    message = _("« %(value)s » n'est pas une valeur reconnue (oui, non, 1, 0, true, false)")
    return None, message % {"value": text.strip()}
