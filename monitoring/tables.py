"""The tables of the monitoring pages, as data: the same `Table` is drawn on the page
(`monitoring/_table.html`), written in the PDF report and exported as CSV or XLSX, so
that a chart, its table and its export always show the same figures.

Each cell has a kind that says how to show it (a count, a rate, an amount in euros,
days, a date, text) and how to export it (rates as percentages, amounts in euros)."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.lifecycle import Status
from audits.models import Volet1Level
from establishments.models import StatisticsGroup

from .drilldown import EntityRow
from .selectors import BreakdownRow, Dashboard, Figures, FunnelStep, Week

TEXT, COUNT, RATE, AMOUNT, DAYS, DATE = "text", "count", "rate", "amount", "days", "date"
NBSP = "\u00a0"


def _rounded(value: float | Decimal, step: str) -> Decimal:
    """Half up, as people round (62,45 % is 62,5 %)."""
    return Decimal(str(value)).quantize(Decimal(step), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Cell:
    value: Any
    kind: str = TEXT
    url: str = ""

    @property
    def missing(self) -> bool:
        return self.value is None or self.value == ""

    @property
    def display(self) -> str:
        """The value as the page shows it (French or English formats)."""
        value = self.value
        if value is None:
            return ""
        if self.kind == COUNT:
            return formats.number_format(value, force_grouping=True)
        # Django's number_format cuts decimals off: round first (2/3 is 66,7 %).
        if self.kind == RATE:
            return formats.number_format(_rounded(value * 100, "0.1"), 1) + NBSP + "%"
        if self.kind == AMOUNT:
            return formats.number_format(_rounded(value, "1"), 0, force_grouping=True) + NBSP + "€"
        if self.kind == DAYS:
            return formats.number_format(_rounded(value, "0.1"), 1)
        if self.kind == DATE:
            return formats.date_format(value, "SHORT_DATE_FORMAT")
        return str(value)

    @property
    def export_value(self) -> Any:
        """The value as exports write it: rates in percent, one decimal."""
        value = self.value
        if value is None:
            return None
        if self.kind == RATE:
            return float(_rounded(value * 100, "0.1"))
        if self.kind == DAYS:
            return float(_rounded(value, "0.1"))
        return value

    @property
    def numeric(self) -> bool:
        return self.kind in (COUNT, RATE, AMOUNT, DAYS)


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT

    @property
    def numeric(self) -> bool:
        return self.kind in (COUNT, RATE, AMOUNT, DAYS)


@dataclass
class Table:
    slug: str  # the export's name
    title: str  # the caption
    columns: Sequence[Column]
    rows: Iterable[Sequence[Cell]] = field(default_factory=list)

    def __iter__(self) -> Iterator[Sequence[Cell]]:
        return iter(self.rows)


def rate_display(rate: float | None) -> str:
    return Cell(rate, RATE).display if rate is not None else "—"


# --- The dashboard's tables ------------------------------------------------------------------

FIGURE_COLUMNS: tuple[tuple[str, Any, str], ...] = (
    ("eligible", gettext_lazy("Entités éligibles"), COUNT),
    ("volet1_audited", gettext_lazy("Entités auditées (Volet 1)"), COUNT),
    ("volet1_rate", gettext_lazy("Taux de participation au Volet 1"), RATE),
    ("volet1_objectives_rate", gettext_lazy("Taux d'atteinte des objectifs du Volet 1"), RATE),
    ("applied", gettext_lazy("Entités candidates"), COUNT),
    ("application_rate", gettext_lazy("Taux de candidature"), RATE),
    ("applications", gettext_lazy("Candidatures déposées"), COUNT),
    ("eligibility_rate", gettext_lazy("Taux d'éligibilité"), RATE),
    ("applications_approved", gettext_lazy("Candidatures accordées"), COUNT),
    ("approval_rate", gettext_lazy("Taux d'accord"), RATE),
    ("amount_requested", gettext_lazy("Montant demandé (€)"), AMOUNT),
    ("amount_granted", gettext_lazy("Montant accordé (€)"), AMOUNT),
    ("amount_paid", gettext_lazy("Montant payé (€)"), AMOUNT),
    ("median_days_to_decision", gettext_lazy("Délai médian de décision (jours)"), DAYS),
)


def _figure_cells(figures: Figures) -> list[Cell]:
    return [Cell(getattr(figures, key), kind) for key, _label, kind in FIGURE_COLUMNS]


def breakdown_table(
    slug: str,
    title: str,
    first: str,
    rows: Sequence[BreakdownRow],
    urls: dict[str, str] | None = None,
) -> Table:
    urls = urls or {}
    columns = [Column(first), *[Column(str(label), kind) for _k, label, kind in FIGURE_COLUMNS]]
    return Table(
        slug=slug,
        title=title,
        columns=columns,
        rows=[[Cell(r.label, url=urls.get(r.key, "")), *_figure_cells(r.figures)] for r in rows],
    )


def key_figures_table(board: Dashboard) -> Table:
    p = board.participation
    rows = [[Cell(str(label)), Cell(getattr(p, key), kind)] for key, label, kind in FIGURE_COLUMNS]
    rows.extend(
        [
            [Cell(_("Enveloppe nationale de l'appel (€)")), Cell(p.envelope, AMOUNT)],
            [Cell(_("Part de l'enveloppe accordée")), Cell(p.granted_share_of_envelope, RATE)],
            [Cell(_("Part de l'enveloppe payée")), Cell(p.paid_share_of_envelope, RATE)],
            [Cell(_("Candidatures décidées")), Cell(p.applications_decided, COUNT)],
        ]
    )
    return Table(
        slug="chiffres",
        title=_("Chiffres clés"),
        columns=[Column(_("Indicateur")), Column(_("Valeur"), COUNT)],
        rows=rows,
    )


def status_table(figures: Figures) -> Table:
    return Table(
        slug="statuts",
        title=_("Candidatures par état"),
        columns=[Column(_("État")), Column(_("Candidatures"), COUNT)],
        rows=[
            [Cell(str(status.label)), Cell(figures.status_count(status.value), COUNT)]
            for status in Status
            if status != Status.DRAFT
        ],
    )


def weeks_table(weeks: Sequence[Week]) -> Table:
    return Table(
        slug="semaines",
        title=_("Dépôts, décisions et paiements par semaine"),
        columns=[
            Column(_("Semaine du")),
            Column(_("Premiers dépôts"), COUNT),
            Column(_("Décisions"), COUNT),
            Column(_("Paiements"), COUNT),
            Column(_("Montant payé (€)"), AMOUNT),
        ],
        rows=[
            [
                Cell(w.start, DATE),
                Cell(w.submissions, COUNT),
                Cell(w.decisions, COUNT),
                Cell(w.payments, COUNT),
                Cell(w.amount_paid, AMOUNT),
            ]
            for w in weeks
        ],
    )


FUNNEL_LABELS = {
    "eligible": gettext_lazy("Entités éligibles"),
    "applied": gettext_lazy("Couvertes par une candidature déposée"),
    "found_eligible": gettext_lazy("Candidature jugée éligible"),
    "approved": gettext_lazy("Candidature accordée"),
    "paid": gettext_lazy("Candidature payée"),
}


def funnel_table(steps: Sequence[FunnelStep]) -> Table:
    return Table(
        slug="entonnoir",
        title=_("De l'éligibilité au paiement (entités juridiques)"),
        columns=[
            Column(_("Étape")),
            Column(_("Entités"), COUNT),
            Column(_("Part des entités éligibles"), RATE),
        ],
        rows=[
            [Cell(str(FUNNEL_LABELS[s.key])), Cell(s.count, COUNT), Cell(s.share, RATE)]
            for s in steps
        ],
    )


# --- The drill-down list ---------------------------------------------------------------------

GROUP_LABELS = dict(StatisticsGroup.choices)
VOLET1_LABELS = dict(Volet1Level.choices)
STATUS_LABELS = dict(Status.choices)


def entity_columns() -> list[Column]:
    return [
        Column(_("Entité juridique")),
        Column(_("FINESS EJ")),
        Column(_("Département")),
        Column(_("Groupe statistique")),
        Column(_("Statut Volet 1")),
        Column(_("Candidature")),
        Column(_("État de la candidature")),
        Column(_("Contacts")),
    ]


def entity_cells(row: EntityRow) -> list[Cell]:
    entity: Any = row.entity
    contacts = " ; ".join(
        f"{c.name} <{c.email}> ({c.kind_label})" if c.name else f"{c.email} ({c.kind_label})"
        for c in row.contacts
    )
    return [
        Cell(entity.name),
        Cell(entity.finess),
        Cell(f"{entity.department.code} – {entity.department.name}"),
        Cell(str(GROUP_LABELS.get(entity.stat_group, entity.stat_group))),
        Cell(str(VOLET1_LABELS.get(row.volet1_level, row.volet1_level))),
        Cell(entity.app_reference or ""),
        Cell(str(STATUS_LABELS.get(entity.app_status, "")) if entity.app_status else ""),
        Cell(contacts),
    ]
