"""The FINESS code table (establishments/data/finess_codes.csv, its source in its
header): legal-status codes of legal entities -> the portal's status group, category
codes of establishments -> whether they are établissements de santé. The imports
report a code missing from it; they never guess one."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .models import StatusGroup

CODES_FILE = Path(__file__).resolve().parent / "data" / "finess_codes.csv"


@dataclass(frozen=True)
class LegalStatus:
    code: str
    label: str
    status_group: str


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    health: bool


@dataclass(frozen=True)
class FinessCodes:
    statuses: dict[str, LegalStatus]
    categories: dict[str, Category]


def read_codes(path: Path) -> FinessCodes:
    """Read a code table: `#` lines are comments, then a `;` separated header."""
    statuses: dict[str, LegalStatus] = {}
    categories: dict[str, Category] = {}
    with path.open(encoding="utf-8") as handle:
        lines = (line for line in handle if line.strip() and not line.startswith("#"))
        for row in csv.DictReader(lines, delimiter=";"):
            kind, code, label = row["kind"].strip(), row["code"].strip(), row["label"].strip()
            if kind == "statut":
                group = row["status_group"].strip()
                if group not in StatusGroup.values:
                    raise ValueError(f"{path.name}: status group {group!r} of code {code}")
                statuses[code] = LegalStatus(code, label, group)
            elif kind == "categorie":
                health = row["health"].strip()
                if health not in ("0", "1"):
                    raise ValueError(f"{path.name}: health {health!r} of category {code}")
                categories[code] = Category(code, label, health == "1")
            else:
                raise ValueError(f"{path.name}: unknown kind {kind!r}")
    return FinessCodes(statuses, categories)


@cache
def finess_codes() -> FinessCodes:
    return read_codes(CODES_FILE)
