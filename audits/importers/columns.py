"""The columns of the Volet 1 import files, as data: the CSV header names (the
model field each one fills is their English alias), the JSON keys (the same names),
and how each one is checked.

docs/import-audits.md and the admin upload page print these specifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from care_portal.imports.columns import Column as BaseColumn

from ..models import AuditKind

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

FINESS_WIDTH = 9


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
class Column(BaseColumn):
    """One column. `required`: the CSV header must name it (the JSON key may always
    be left out, which reads as an empty value)."""

    field: str = ""  # model field, or "" for the legal entity's FINESS
    type: str = ""
    pingcastle_element: str = ""  # where a PingCastle XML report holds this value


def _column(
    name: str,
    field: str,
    value_type: str,
    in_header: bool,
    description: StrOrPromise,
    example: str,
    pingcastle_element: str = "",
) -> Column:
    return Column(
        name=name,
        required=in_header,
        description=description,
        example=example,
        aliases=(field,) if field else (),
        width=FINESS_WIDTH if value_type == ValueType.FINESS else 0,
        field=field,
        type=value_type,
        pingcastle_element=pingcastle_element,
    )


AD_COLUMNS: tuple[Column, ...] = (
    _column(
        "finess_ej",
        "",
        ValueType.FINESS,
        True,
        _("Numéro FINESS de l'entité juridique (EJ) auditée, présente dans l'annuaire."),
        "420005043",
    ),
    _column(
        "date_audit",
        "audit_date",
        ValueType.DATE,
        True,
        _("Date de l'audit : AAAA-MM-JJ ou JJ/MM/AAAA, pas dans le futur."),
        "2025-03-14",
        "GenerationDate",
    ),
    _column(
        "outil",
        "tool",
        ValueType.TOOL,
        True,
        _("Outil d'audit : pingcastle ou oradad."),
        "pingcastle",
    ),
    _column(
        "domaine",
        "domain",
        ValueType.DOMAIN,
        True,
        _("Nom DNS du domaine Active Directory audité (enregistré en minuscules)."),
        "ch-exemple.local",
        "DomainFQDN",
    ),
    _column(
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
    _column(
        "score_objets_obsoletes",
        "stale_objects_score",
        ValueType.SCORE,
        False,
        _("Score « objets obsolètes », de 0 à 100 ; obligatoire pour pingcastle."),
        "30",
        "StaleObjectsScore",
    ),
    _column(
        "score_comptes_privilegies",
        "privileged_accounts_score",
        ValueType.SCORE,
        False,
        _("Score « comptes à privilèges », de 0 à 100 ; obligatoire pour pingcastle."),
        "45",
        "PrivilegiedGroupScore",
    ),
    _column(
        "score_relations_approbation",
        "trusts_score",
        ValueType.SCORE,
        False,
        _("Score « relations d'approbation », de 0 à 100 ; obligatoire pour pingcastle."),
        "0",
        "TrustScore",
    ),
    _column(
        "score_anomalies",
        "anomalies_score",
        ValueType.SCORE,
        False,
        _("Score « anomalies », de 0 à 100 ; obligatoire pour pingcastle."),
        "40",
        "AnomalyScore",
    ),
    _column(
        "niveau_maturite",
        "maturity_level",
        ValueType.LEVEL,
        False,
        _("Niveau de maturité ANSSI, de 1 à 5 (5 est le meilleur) ; vide si inconnu."),
        "2",
        "MaturityLevel",
    ),
    _column(
        "constats_critiques",
        "findings_critical",
        ValueType.COUNT,
        False,
        _("Nombre de constats critiques : entier positif ou nul, 0 si vide."),
        "1",
    ),
    _column(
        "constats_eleves",
        "findings_high",
        ValueType.COUNT,
        False,
        _("Nombre de constats de gravité élevée, 0 si vide."),
        "4",
    ),
    _column(
        "constats_moyens",
        "findings_medium",
        ValueType.COUNT,
        False,
        _("Nombre de constats de gravité moyenne, 0 si vide."),
        "7",
    ),
    _column(
        "constats_faibles",
        "findings_low",
        ValueType.COUNT,
        False,
        _("Nombre de constats de gravité faible, 0 si vide."),
        "12",
    ),
)

EXPOSURE_COLUMNS: tuple[Column, ...] = (
    _column(
        "finess_ej",
        "",
        ValueType.FINESS,
        True,
        _("Numéro FINESS de l'entité juridique (EJ) scannée, présente dans l'annuaire."),
        "420005043",
    ),
    _column(
        "date_scan",
        "scan_date",
        ValueType.DATE,
        True,
        _("Date du scan : AAAA-MM-JJ ou JJ/MM/AAAA, pas dans le futur."),
        "2025-02-03",
    ),
    _column(
        "services_exposes",
        "exposed_services",
        ValueType.COUNT,
        False,
        _("Nombre de services exposés sur internet, 0 si vide."),
        "14",
    ),
    _column(
        "vulns_critiques",
        "vulns_critical",
        ValueType.COUNT,
        False,
        _("Nombre de vulnérabilités critiques, 0 si vide."),
        "0",
    ),
    _column(
        "vulns_elevees",
        "vulns_high",
        ValueType.COUNT,
        False,
        _("Nombre de vulnérabilités élevées, 0 si vide."),
        "1",
    ),
    _column(
        "vulns_moyennes",
        "vulns_medium",
        ValueType.COUNT,
        False,
        _("Nombre de vulnérabilités moyennes, 0 si vide."),
        "3",
    ),
    _column(
        "vulns_faibles",
        "vulns_low",
        ValueType.COUNT,
        False,
        _("Nombre de vulnérabilités faibles, 0 si vide."),
        "6",
    ),
    _column(
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
