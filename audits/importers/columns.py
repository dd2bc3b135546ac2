"""The columns of the Volet 1 import files, as data: the CSV header names, the JSON
keys (the same names), the model field each one fills, and how it is checked.

docs/import-audits.md and the admin upload page print these specifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from ..models import AuditKind

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class ValueType:
    """How a column's text is read and checked (audits/importers/rows.py)."""

    FINESS = "finess"
    DATE = "date"
    TOOL = "tool"
    DOMAIN = "domain"
    SCORE = "score"  # PingCastle score, 0-100
    LEVEL = "level"  # ANSSI maturity level, 1-5
    COUNT = "count"  # integer >= 0, empty means 0
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class Column:
    """One column. `in_header`: the CSV header must name it (the JSON key may always
    be left out, which reads as an empty value)."""

    name: str
    field: str  # model field, or "" for the legal entity's FINESS
    type: str
    in_header: bool
    description: StrOrPromise
    example: str
    pingcastle_element: str = ""  # where a PingCastle XML report holds this value


AD_COLUMNS: tuple[Column, ...] = (
    Column(
        "finess_ej",
        "",
        ValueType.FINESS,
        True,
        _("Numéro FINESS de l'entité juridique (EJ) auditée, présente dans l'annuaire."),
        "420005043",
    ),
    Column(
        "date_audit",
        "audit_date",
        ValueType.DATE,
        True,
        _("Date de l'audit : AAAA-MM-JJ ou JJ/MM/AAAA, pas dans le futur."),
        "2025-03-14",
        "GenerationDate",
    ),
    Column(
        "outil",
        "tool",
        ValueType.TOOL,
        True,
        _("Outil d'audit : pingcastle ou oradad."),
        "pingcastle",
    ),
    Column(
        "domaine",
        "domain",
        ValueType.DOMAIN,
        True,
        _("Nom DNS du domaine Active Directory audité (enregistré en minuscules)."),
        "ch-exemple.local",
        "DomainFQDN",
    ),
    Column(
        "score_global",
        "global_score",
        ValueType.SCORE,
        True,
        _(
            "Score global PingCastle, de 0 à 100 (plus bas est meilleur). Obligatoire pour "
            "pingcastle, facultatif pour oradad."
        ),
        "45",
        "GlobalScore",
    ),
    Column(
        "score_objets_obsoletes",
        "stale_objects_score",
        ValueType.SCORE,
        False,
        _("Score « objets obsolètes », de 0 à 100 ; obligatoire pour pingcastle."),
        "30",
        "StaleObjectsScore",
    ),
    Column(
        "score_comptes_privilegies",
        "privileged_accounts_score",
        ValueType.SCORE,
        False,
        _("Score « comptes à privilèges », de 0 à 100 ; obligatoire pour pingcastle."),
        "45",
        "PrivilegiedGroupScore",
    ),
    Column(
        "score_relations_approbation",
        "trusts_score",
        ValueType.SCORE,
        False,
        _("Score « relations d'approbation », de 0 à 100 ; obligatoire pour pingcastle."),
        "0",
        "TrustScore",
    ),
    Column(
        "score_anomalies",
        "anomalies_score",
        ValueType.SCORE,
        False,
        _("Score « anomalies », de 0 à 100 ; obligatoire pour pingcastle."),
        "40",
        "AnomalyScore",
    ),
    Column(
        "niveau_maturite",
        "maturity_level",
        ValueType.LEVEL,
        False,
        _("Niveau de maturité ANSSI, de 1 à 5 (5 est le meilleur) ; vide si inconnu."),
        "2",
        "MaturityLevel",
    ),
    Column(
        "constats_critiques",
        "findings_critical",
        ValueType.COUNT,
        False,
        _("Nombre de constats critiques : entier positif ou nul, 0 si vide."),
        "1",
    ),
    Column(
        "constats_eleves",
        "findings_high",
        ValueType.COUNT,
        False,
        _("Nombre de constats de gravité élevée, 0 si vide."),
        "4",
    ),
    Column(
        "constats_moyens",
        "findings_medium",
        ValueType.COUNT,
        False,
        _("Nombre de constats de gravité moyenne, 0 si vide."),
        "7",
    ),
    Column(
        "constats_faibles",
        "findings_low",
        ValueType.COUNT,
        False,
        _("Nombre de constats de gravité faible, 0 si vide."),
        "12",
    ),
)

EXPOSURE_COLUMNS: tuple[Column, ...] = (
    Column(
        "finess_ej",
        "",
        ValueType.FINESS,
        True,
        _("Numéro FINESS de l'entité juridique (EJ) scannée, présente dans l'annuaire."),
        "420005043",
    ),
    Column(
        "date_scan",
        "scan_date",
        ValueType.DATE,
        True,
        _("Date du scan : AAAA-MM-JJ ou JJ/MM/AAAA, pas dans le futur."),
        "2025-02-03",
    ),
    Column(
        "services_exposes",
        "exposed_services",
        ValueType.COUNT,
        False,
        _("Nombre de services exposés sur internet, 0 si vide."),
        "14",
    ),
    Column(
        "vulns_critiques",
        "vulns_critical",
        ValueType.COUNT,
        False,
        _("Nombre de vulnérabilités critiques, 0 si vide."),
        "0",
    ),
    Column(
        "vulns_elevees",
        "vulns_high",
        ValueType.COUNT,
        False,
        _("Nombre de vulnérabilités élevées, 0 si vide."),
        "1",
    ),
    Column(
        "vulns_moyennes",
        "vulns_medium",
        ValueType.COUNT,
        False,
        _("Nombre de vulnérabilités moyennes, 0 si vide."),
        "3",
    ),
    Column(
        "vulns_faibles",
        "vulns_low",
        ValueType.COUNT,
        False,
        _("Nombre de vulnérabilités faibles, 0 si vide."),
        "6",
    ),
    Column(
        "niveau_minimal_atteint",
        "minimum_level_met",
        ValueType.BOOLEAN,
        True,
        _(
            "Le scan atteint-il le niveau minimal de sécurité de l'exposition (D1.O2.B) : "
            "oui, non, 1, 0, true ou false."
        ),
        "oui",
    ),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    AuditKind.DIRECTORY: AD_COLUMNS,
    AuditKind.EXPOSURE: EXPOSURE_COLUMNS,
}

# The key of the array in the JSON object form: {"audits": [...]} or {"scans": [...]}.
JSON_ARRAY_KEYS: dict[str, str] = {
    AuditKind.DIRECTORY: "audits",
    AuditKind.EXPOSURE: "scans",
}
