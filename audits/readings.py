"""Volet 1 results read in words a director understands.

PingCastle scores run 0–100 and LOWER is better; the global score is the highest of
the four category scores. ANSSI maturity levels run 1–5 and HIGHER is better; reaching
a level requires every checkpoint of the lower levels. The bands below are the
portal's plain reading of a score, not an official PingCastle or ANSSI scale.
"""

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import DirectoryAudit, DirectoryAuditRule
from .pingcastle_rules import severity

# Below this ANSSI level, reaching it is the priority (levels 1 and 2 are the
# checkpoints whose absence makes a compromise easy).
MATURITY_PRIORITY_LEVEL = 3
# An AD audit older than this is a picture of the past: renew it.
AD_AUDIT_RENEWAL_MONTHS = 12


@dataclass(frozen=True)
class ScoreReading:
    score: int
    band: str  # low, moderate, high, critical
    label: str  # "risque faible"...
    badge: str  # the DSFR badge modifier: success, new, warning, error
    sentence: str


@dataclass(frozen=True)
class CategoryReading:
    key: str
    label: str
    explanation: str
    reading: ScoreReading | None  # None: not measured (an ORADAD audit has no score)


@dataclass(frozen=True)
class MaturityReading:
    level: int
    sentence: str

    @property
    def below_priority(self) -> bool:
        return self.level < MATURITY_PRIORITY_LEVEL


@dataclass(frozen=True)
class RuleView:
    """A triggered PingCastle rule as shown: its severity follows its ANSSI level."""

    rule: DirectoryAuditRule
    severity: str  # critical, high, medium, low, or "" when the level is unknown
    label: str
    badge: str  # the DSFR badge modifier

    @property
    def informational(self) -> bool:
        return self.rule.points == 0


@dataclass(frozen=True)
class RuleGroup:
    category: str  # PingCastle's category (StaleObjects...)
    label: str
    rules: tuple[RuleView, ...]


@dataclass(frozen=True)
class TrendPoint:
    """One audit of a domain in its series, oldest first."""

    audit_date: date
    maturity_level: int | None
    global_score: int | None
    change: str  # "up", "down", "same" or "" (the level against the previous audit)


@dataclass(frozen=True)
class AuditReading:
    """One AD audit (the latest of a domain) with everything the page says about it."""

    audit: DirectoryAudit
    global_reading: ScoreReading | None
    categories: tuple[CategoryReading, ...]
    maturity: MaturityReading | None
    rule_groups: tuple[RuleGroup, ...] = ()  # rules worth points, by category
    informational: tuple[RuleView, ...] = ()  # rules worth 0 points
    trend: tuple[TrendPoint, ...] = ()

    @property
    def unknown_level_count(self) -> int:
        views = [view for group in self.rule_groups for view in group.rules]
        return sum(1 for view in [*views, *self.informational] if not view.severity)

    @property
    def rules_below_level(self) -> list[str]:
        """The rules the portal's table puts below the domain's level (from the report):
        PingCastle's version and the table disagree on them."""
        level = self.audit.maturity_level
        if level is None or self.audit.maturity_from_rules:
            return []
        views = [view for group in self.rule_groups for view in group.rules]
        return sorted(
            v.rule.risk_id
            for v in [*views, *self.informational]
            if v.rule.maturity_level is not None and v.rule.maturity_level < level
        )

    @property
    def level_unexplained(self) -> bool:
        """The domain's level (from the report) is lower than every rule level the table
        knows: rules of unknown level explain it."""
        level = self.audit.maturity_level
        if level is None or self.audit.maturity_from_rules:
            return False
        views = [view for group in self.rule_groups for view in group.rules]
        known = [
            v.rule.maturity_level
            for v in [*views, *self.informational]
            if v.rule.maturity_level is not None
        ]
        return bool(known or views or self.informational) and (not known or min(known) > level)

    @property
    def findings_total(self) -> int:
        a = self.audit
        return a.findings_critical + a.findings_high + a.findings_medium + a.findings_low


# (upper bound included, band, label, badge, sentence)
_SCORE_BANDS = (
    (
        20,
        "low",
        gettext_lazy("risque faible"),
        "success",
        gettext_lazy(
            "L'annuaire présente peu de faiblesses connues : maintenez ce niveau en le "
            "faisant auditer régulièrement."
        ),
    ),
    (
        50,
        "moderate",
        gettext_lazy("risque modéré"),
        "new",
        gettext_lazy(
            "Des faiblesses existent sans exposer immédiatement l'établissement : "
            "planifiez leur correction dans l'année."
        ),
    ),
    (
        75,
        "high",
        gettext_lazy("risque élevé"),
        "warning",
        gettext_lazy(
            "Des faiblesses importantes faciliteraient une attaque : engagez leur "
            "correction dans les prochains mois."
        ),
    ),
    (
        100,
        "critical",
        gettext_lazy("risque critique"),
        "error",
        gettext_lazy(
            "Un attaquant pourrait prendre rapidement le contrôle de tout le système "
            "d'information : la correction est urgente."
        ),
    ),
)

# The four PingCastle categories, in the order of its report.
CATEGORIES = (
    (
        "stale_objects_score",
        gettext_lazy("Objets obsolètes"),
        gettext_lazy(
            "Comptes et ordinateurs inactifs, systèmes qui ne sont plus maintenus : autant "
            "de portes oubliées."
        ),
    ),
    (
        "privileged_accounts_score",
        gettext_lazy("Comptes à privilèges"),
        gettext_lazy(
            "Comptes administrateurs trop nombreux ou mal protégés, qui donnent les clés "
            "de tout le système."
        ),
    ),
    (
        "trusts_score",
        gettext_lazy("Relations d'approbation"),
        gettext_lazy(
            "Liens avec d'autres domaines (autres établissements, prestataires) qui peuvent "
            "ouvrir une porte d'entrée."
        ),
    ),
    (
        "anomalies_score",
        gettext_lazy("Anomalies"),
        gettext_lazy(
            "Configurations dangereuses diverses : mots de passe, journalisation, réglages "
            "par défaut laissés en place."
        ),
    ),
)

_MATURITY_SENTENCES = {
    1: gettext_lazy(
        "Des faiblesses critiques exposent l'annuaire à une prise de contrôle rapide : des "
        "mesures immédiates s'imposent."
    ),
    2: gettext_lazy(
        "Les règles d'hygiène de base ne sont pas toutes appliquées : l'annuaire reste "
        "vulnérable à des attaques courantes."
    ),
    3: gettext_lazy(
        "Le socle de sécurité de base est en place : c'est le niveau minimal recommandé."
    ),
    4: gettext_lazy("Bon niveau de sécurité : l'annuaire est durci au-delà du socle de base."),
    5: gettext_lazy("État de l'art : l'annuaire suit l'ensemble des recommandations de l'ANSSI."),
}


# PingCastle's rule categories (the XML's Category), in the order of its report.
RULE_CATEGORIES = {
    "StaleObjects": gettext_lazy("Objets obsolètes"),
    "PrivilegedAccounts": gettext_lazy("Comptes à privilèges"),
    "Trusts": gettext_lazy("Relations d'approbation"),
    "Anomalies": gettext_lazy("Anomalies"),
}
_SEVERITY_DISPLAY = {
    "critical": (gettext_lazy("critique"), "error"),
    "high": (gettext_lazy("élevée"), "warning"),
    "medium": (gettext_lazy("moyenne"), "new"),
    "low": (gettext_lazy("faible"), "info"),
}


def rule_view(rule: DirectoryAuditRule) -> RuleView:
    level_severity = severity(rule.maturity_level) or ""
    if level_severity:
        label, badge = _SEVERITY_DISPLAY[level_severity]
        return RuleView(rule, level_severity, str(label), badge)
    return RuleView(rule, "", _("niveau inconnu"), "")


def _rule_order(view: RuleView) -> tuple[int, int, str]:
    level = view.rule.maturity_level
    return (level if level is not None else 9, -view.rule.points, view.rule.risk_id)


def rule_groups(rules: Sequence[DirectoryAuditRule]) -> tuple[RuleGroup, ...]:
    """The rules worth points, grouped by category (PingCastle's order, then any other),
    the worst level first."""
    by_category: dict[str, list[RuleView]] = {}
    for rule in rules:
        if rule.points:
            by_category.setdefault(rule.category, []).append(rule_view(rule))
    order = list(RULE_CATEGORIES)
    keys = sorted(by_category, key=lambda c: (order.index(c) if c in order else len(order), c))
    return tuple(
        RuleGroup(
            key,
            str(RULE_CATEGORIES.get(key, key or _("sans catégorie"))),
            tuple(sorted(by_category[key], key=_rule_order)),
        )
        for key in keys
    )


def informational_rules(rules: Sequence[DirectoryAuditRule]) -> tuple[RuleView, ...]:
    """The rules worth 0 points: information, shown apart (with their level)."""
    return tuple(sorted((rule_view(r) for r in rules if not r.points), key=_rule_order))


def trend(points: Sequence[tuple[date, int | None, int | None]]) -> tuple[TrendPoint, ...]:
    """A domain's audits (date, level, score), oldest first, with the level's change."""
    series = []
    previous: int | None = None
    for audit_date, level, score in sorted(points, key=lambda p: p[0]):
        change = ""
        if level is not None and previous is not None:
            change = "up" if level > previous else "down" if level < previous else "same"
        series.append(TrendPoint(audit_date, level, score, change))
        previous = level if level is not None else previous
    return tuple(series)


def score_reading(score: int | None) -> ScoreReading | None:
    """A PingCastle score (0–100, lower is better) read as a risk band."""
    if score is None:
        return None
    for upper, band, label, badge, sentence in _SCORE_BANDS:
        if score <= upper:
            return ScoreReading(score, band, str(label), badge, str(sentence))
    raise ValueError(f"A PingCastle score runs 0 to 100, not {score}.")


def maturity_reading(level: int | None) -> MaturityReading | None:
    """An ANSSI maturity level (1–5, 5 is best) explained."""
    if level is None:
        return None
    return MaturityReading(level, str(_MATURITY_SENTENCES[level]))


def audit_reading(
    audit: DirectoryAudit,
    *,
    rules: Sequence[DirectoryAuditRule] | None = None,
    series: Sequence[tuple[date, int | None, int | None]] = (),
) -> AuditReading:
    """`rules`: the audit's triggered rules (default: `audit.rules.all()`, prefetch it);
    `series`: (date, level, score) of every audit of its domain, for the trend."""
    listed = list(audit.rules.all()) if rules is None else list(rules)
    return AuditReading(
        audit=audit,
        global_reading=score_reading(audit.global_score),
        categories=tuple(
            CategoryReading(key, str(label), str(explanation), score_reading(getattr(audit, key)))
            for key, label, explanation in CATEGORIES
        ),
        maturity=maturity_reading(audit.maturity_level),
        rule_groups=rule_groups(listed),
        informational=informational_rules(listed),
        trend=trend(series),
    )


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the last day of the month when it does not exist)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def directory_next_steps(audits: Sequence[DirectoryAudit], today: date) -> list[str]:
    """What is left to do for the AD audit objective and for the domains audited, in
    words a director understands; the first item says whether the objective is met."""
    if not audits:
        return [
            _(
                "Faites réaliser un audit de votre annuaire Active Directory avec ORADAD ou "
                "PingCastle et transmettez les résultats à votre ARS."
            )
        ]
    latest = max(a.audit_date for a in audits)
    steps = [
        _("Objectif atteint : votre annuaire a été audité le %(date)s.")
        % {"date": latest.strftime("%d/%m/%Y")}
    ]
    renewal_limit = months_before(today, AD_AUDIT_RENEWAL_MONTHS)
    for audit in sorted(audits, key=lambda a: a.domain):
        names = {"domain": audit.domain, "date": audit.audit_date.strftime("%d/%m/%Y")}
        if audit.audit_date < renewal_limit:
            steps.append(
                _(
                    "Le dernier audit du domaine %(domain)s date du %(date)s, il y a plus de "
                    "12 mois : faites-le renouveler pour mesurer vos progrès."
                )
                % names
            )
        if audit.maturity_level is not None and audit.maturity_level < MATURITY_PRIORITY_LEVEL:
            steps.append(
                _(
                    "Le domaine %(domain)s est au niveau de maturité ANSSI %(level)d sur 5 : "
                    "la priorité est d'atteindre le niveau 3, en corrigeant d'abord les points "
                    "de contrôle des niveaux 1 et 2."
                )
                % {**names, "level": audit.maturity_level}
            )
        worst = _worst_category(audit)
        if worst and worst[1] > 50:
            steps.append(
                _(
                    "Dans le domaine %(domain)s, commencez par la catégorie « %(category)s » "
                    "(score %(score)d sur 100, le plus élevé)."
                )
                % {**names, "category": worst[0], "score": worst[1]}
            )
    return steps


def _worst_category(audit: DirectoryAudit) -> tuple[str, int] | None:
    scored = [
        (str(label), score)
        for key, label, _explanation in CATEGORIES
        if (score := getattr(audit, key)) is not None
    ]
    return max(scored, key=lambda item: item[1], default=None)
