"""The ANSSI maturity level of each PingCastle rule, from the table shipped in
audits/data/pingcastle_rules.csv (its header comment gives the source and version),
and what a level means for a triggered rule.

ANSSI levels run 1 (worst) to 5 (best); a domain's level is the lowest level among its
triggered rules (5 when none triggers). A rule's severity follows its level, so that a
level-1 domain always shows its critical rules: 1 -> critical, 2 -> high, 3 -> medium,
4 and 5 -> low. A rule the table does not know has no level ("niveau inconnu") and no
severity."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

TABLE_PATH = Path(__file__).resolve().parent / "data" / "pingcastle_rules.csv"

SEVERITIES = ("critical", "high", "medium", "low")
LEVEL_SEVERITY = {1: "critical", 2: "high", 3: "medium", 4: "low", 5: "low"}
# The best level: a domain where no rule triggers.
BEST_LEVEL = 5


@lru_cache(maxsize=1)
def rule_levels() -> dict[str, int]:
    """RiskId -> maturity level, read once from the shipped table."""
    levels: dict[str, int] = {}
    with TABLE_PATH.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            level = int(row["maturity_level"])
            if not 1 <= level <= BEST_LEVEL:
                raise ValueError(f"{TABLE_PATH.name}: level {level} of {row['risk_id']}")
            levels[row["risk_id"].strip()] = level
    return levels


def table_level(risk_id: str) -> int | None:
    return rule_levels().get(risk_id)


def severity(level: int | None) -> str | None:
    """The severity of a rule at this level, None when the level is unknown."""
    return LEVEL_SEVERITY.get(level) if level is not None else None


def domain_level(levels: Iterable[int | None]) -> int | None:
    """A domain's level from its triggered rules' levels: the lowest known one; 5 when
    no rule triggered; None when every triggered rule's level is unknown."""
    listed = list(levels)
    known = [level for level in listed if level is not None]
    if known:
        return min(known)
    return None if listed else BEST_LEVEL
