"""One record of an import file (a CSV line, a JSON element, a PingCastle report),
read as text by column name, checked on its own and turned into model values.

Checks that need the database (FINESS in the directory) or the rest of the file
(duplicates) are the writer's (audits/importers/writer.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _

from care_portal.imports.columns import MAX_INT, clean_identifier, parse_boolean, parse_integer
from establishments.identifiers import compact, finess_error

from ..models import AuditKind, DirectoryAudit
from .columns import COLUMNS, FINESS_WIDTH, Column, ValueType

MAX_DOMAIN_LENGTH = 255
TOOLS = {DirectoryAudit.Tool.PINGCASTLE.value, DirectoryAudit.Tool.ORADAD.value}
# PingCastle computes these scores; ORADAD does not (its dump is analysed elsewhere).
PINGCASTLE_REQUIRED = {
    "score_global",
    "score_objets_obsoletes",
    "score_comptes_privilegies",
    "score_relations_approbation",
    "score_anomalies",
}
# DirectoryAudit fields only a PingCastle report fills.
REPORT_DEFAULTS: dict[str, Any] = {
    "engine_version": "",
    "maturity_from_rules": False,
    "rules_fingerprint": "",
}
# The count columns, worst first, and the index of each maturity level's severity.
_SEVERITY_FIELDS = ("findings_critical", "findings_high", "findings_medium", "findings_low")
_LEVEL_SEVERITY_INDEX = {1: 0, 2: 1, 3: 2, 4: 3, 5: 3}
_LEVEL_COLUMN = next(c for c in COLUMNS[AuditKind.DIRECTORY] if c.field == "maturity_level")
# The columns of a record's natural key (ParsedRow.key).
_KEY_TYPES = {ValueType.FINESS, ValueType.DATE, ValueType.TOOL, ValueType.DOMAIN}
_TEXT_TYPES = {ValueType.TOOL, ValueType.DOMAIN}


@dataclass(slots=True)
class ParsedRow:
    """A record, checked alone. `key` is its natural key in the file, (FINESS, tool,
    domain, ISO date) — tool and domain empty for a scan — or None when one of these
    is unreadable; `problems` are the French reasons the record is wrong."""

    line: int
    finess: str
    key: tuple[str, str, str, str] | None
    values: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    legal_entity_id: int | None = None
    # The triggered rules of a PingCastle report; None for a CSV or JSON record.
    rules: list[Any] | None = None


@lru_cache(maxsize=16_384)
def _finess(text: str) -> tuple[str, str | None]:
    """The FINESS number a cell holds and why it is invalid (None when valid): a file
    repeats the same few thousand numbers, checked once each (bounded cache)."""
    text, problem = clean_identifier(text, FINESS_WIDTH)
    if problem:
        return text, problem
    number = compact(text)
    error = finess_error(number) if number else None
    return number, error.rstrip(".") if error else None


def parse_date(text: str) -> date | None:
    """AAAA-MM-JJ or JJ/MM/AAAA; None when it is neither."""
    try:
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            return date.fromisoformat(text)
        day, month, year = text.split("/")
        if len(year) == 4 and len(month) <= 2 and len(day) <= 2:
            return date(int(year), int(month), int(day))
    except ValueError:
        return None
    return None


class RowParser:
    """Checks the records of one kind of file: `parse(line, values)`."""

    def __init__(self, kind: str, *, today: date, labels: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self.columns: tuple[Column, ...] = COLUMNS[kind]
        self.today = today
        self.labels = labels or {}
        self.is_ad = kind == AuditKind.DIRECTORY

    def label(self, column: Column) -> str:
        return self.labels.get(column.name, column.name)

    def parse(self, line: int, raw: Mapping[str, str]) -> ParsedRow:
        problems: list[str] = []
        values: dict[str, Any] = {}
        finess = ""
        tool = ""
        key_ok = True

        def problem(column: Column, message: str) -> None:
            problems.append(f"{self.label(column)} : {message}")

        tool_text = raw.get("outil", "").strip().lower() if self.is_ad else ""
        for column in self.columns:
            text = raw.get(column.name, "").strip()
            kind = column.type
            if "\x00" in text:
                # A JSON string may hold one ("\u0000"). PostgreSQL stores none: not in
                # the domain, not in an error message quoting the value (so none does).
                problem(column, _("caractère nul refusé"))
                if kind in _KEY_TYPES:
                    key_ok = False
                if column.field:
                    values[column.field] = "" if kind in _TEXT_TYPES else None
                continue
            if kind == ValueType.FINESS:
                number, error = _finess(text)
                if not number:
                    problem(column, _("valeur obligatoire manquante"))
                elif error:
                    problem(column, error)
                else:
                    finess = number
                if not finess:
                    key_ok = False
            elif kind == ValueType.DATE:
                day = parse_date(text) if text else None
                if not text:
                    problem(column, _("valeur obligatoire manquante"))
                elif day is None:
                    problem(
                        column,
                        _("date « %(value)s » illisible (AAAA-MM-JJ ou JJ/MM/AAAA attendu)")
                        % {"value": text},
                    )
                elif day > self.today:
                    problem(
                        column,
                        _("la date %(date)s est dans le futur")
                        % {"date": day.strftime("%d/%m/%Y")},
                    )
                    day = None
                if day is None:
                    key_ok = False
                values[column.field] = day
            elif kind == ValueType.TOOL:
                tool = tool_text
                if not tool:
                    problem(column, _("valeur obligatoire manquante"))
                elif tool not in TOOLS:
                    problem(
                        column,
                        _("outil « %(value)s » inconnu (pingcastle ou oradad)") % {"value": text},
                    )
                    tool = ""
                if not tool:
                    key_ok = False
                values[column.field] = tool
            elif kind == ValueType.DOMAIN:
                domain = text.lower()
                if not domain:
                    problem(column, _("valeur obligatoire manquante"))
                    key_ok = False
                elif len(domain) > MAX_DOMAIN_LENGTH or any(c.isspace() for c in domain):
                    problem(
                        column,
                        _("nom de domaine invalide (%(max)d caractères au plus, sans espace)")
                        % {"max": MAX_DOMAIN_LENGTH},
                    )
                    key_ok = False
                values[column.field] = domain
            elif kind == ValueType.BOOLEAN:
                flag, error = parse_boolean(text)
                if error or flag is None:
                    problem(column, error or _("valeur obligatoire manquante"))
                else:
                    values[column.field] = flag
            else:
                values[column.field] = self._number(column, text, tool_text, problem)
        if self.is_ad and not hasattr(raw, "rules"):
            # A CSV or JSON record's counts; a PingCastle report's follow its rules.
            problems.extend(self._level_contradictions(values))
            # Filled from a PingCastle report by the importer (importers/__init__.py).
            values.update(REPORT_DEFAULTS)
        key = (finess, tool, values.get("domain", ""), values_date(values)) if key_ok else None
        return ParsedRow(line=line, finess=finess, key=key, values=values, problems=problems)

    def _level_contradictions(self, values: dict[str, Any]) -> list[str]:
        """Counts of findings by severity that contradict the maturity level: a severity
        follows the level of its rule (1 critical, 2 high, 3 medium, 4 and 5 low), so a
        domain at level L has no finding worse than L's severity and, when it has
        findings, at least one of L's severity."""
        level = values.get("maturity_level")
        found = [values.get(field) for field in _SEVERITY_FIELDS]
        counts = [count for count in found if isinstance(count, int)]
        if level is None or len(counts) != len(found):
            return []
        at = _LEVEL_SEVERITY_INDEX[level]
        labels = {c.field: self.label(c) for c in self.columns if c.field in _SEVERITY_FIELDS}
        names = {"level": level, "level_label": self.label(_LEVEL_COLUMN)}
        for index, field_name in enumerate(_SEVERITY_FIELDS[:at]):
            if counts[index]:
                return [
                    _(
                        "%(column)s : %(count)d constat(s) de cette gravité contredisent le "
                        "niveau de maturité %(level)d (%(level_label)s) : la gravité d'un "
                        "constat suit le niveau de sa règle, un domaine au niveau %(level)d "
                        "n'a aucun constat plus grave"
                    )
                    % {**names, "column": labels[field_name], "count": counts[index]}
                ]
        if sum(counts) and not counts[at] and level <= 3:
            return [
                _(
                    "%(column)s : aucun constat de cette gravité alors que le niveau de "
                    "maturité est %(level)d (%(level_label)s) : un domaine à ce niveau a au "
                    "moins une règle de ce niveau"
                )
                % {**names, "column": labels[_SEVERITY_FIELDS[at]]}
            ]
        return []

    def _number(self, column: Column, text: str, tool: str, problem: Any) -> int | None:
        kind = column.type
        if not text:
            if kind == ValueType.COUNT:
                return 0
            if (
                kind == ValueType.SCORE
                and tool == "pingcastle"
                and column.name in (PINGCASTLE_REQUIRED)
            ):
                problem(column, _("valeur obligatoire pour un audit PingCastle"))
            return None
        number = parse_integer(text)
        if kind == ValueType.SCORE:
            if number is None or not 0 <= number <= 100:
                problem(
                    column,
                    _("score « %(value)s » invalide : entier de 0 à 100 attendu") % {"value": text},
                )
                return None
        elif kind == ValueType.LEVEL:
            if number is None or not 1 <= number <= 5:
                problem(
                    column,
                    _("niveau « %(value)s » invalide : entier de 1 à 5 attendu") % {"value": text},
                )
                return None
        elif number is None or number > MAX_INT:
            problem(
                column,
                _("« %(value)s » n'est pas un nombre entier positif ou nul") % {"value": text},
            )
            return 0
        elif number < 0:
            problem(column, _("nombre négatif (%(value)s) : 0 ou plus attendu") % {"value": text})
            return 0
        return number


def values_date(values: Mapping[str, Any]) -> str:
    day = values.get("audit_date") or values.get("scan_date")
    return day.isoformat() if day else ""
