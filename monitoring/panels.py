"""What a dashboard shows, built from `selectors.Dashboard`: the key figures, the map,
the charts and their tables, the links to the lists. Shared by the pages and the PDF
report, so that both always show the same figures. No query: URLs are reversed, the
figures are already read."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from . import charts, maps
from .drilldown import EntityList
from .forms import RATE_CHOICES
from .selectors import DEPARTEMENT, NATION, REGION, Dashboard, Place
from .tables import (
    COUNT,
    FUNNEL_LABELS,
    Cell,
    Table,
    breakdown_table,
    funnel_table,
    key_figures_table,
    rate_display,
    status_table,
    weeks_table,
)

RATE_LABELS = dict(RATE_CHOICES)


def place_query(place: Place) -> dict[str, str]:
    """The GET parameters that name a place in the lists and exports."""
    if place.scope == REGION and place.code:
        return {"region": place.code}
    if place.scope == DEPARTEMENT and place.code:
        return {"departement": place.code}
    return {}


def dashboard_url(scope: str, code: str | None, call_code: str | None = None) -> str:
    if scope == REGION:
        url = reverse("monitoring:region", args=[code])
    elif scope == DEPARTEMENT:
        url = reverse("monitoring:department", args=[code])
    else:
        url = reverse("monitoring:national")
    return url + ("?" + urlencode({"appel": call_code}) if call_code else "")


def list_url(place: Place, call_code: str | None, kind: str, **extra: str) -> str:
    query = {**place_query(place), "liste": kind, **extra}
    if call_code:
        query["appel"] = call_code
    return reverse("monitoring:entities") + "?" + urlencode(query)


def export_url(place: Place, call_code: str | None, table: str, fmt: str, **extra: str) -> str:
    query = {**place_query(place), **extra}
    if call_code:
        query["appel"] = call_code
    url = reverse("monitoring:export", kwargs={"table": table, "fmt": fmt})
    return url + ("?" + urlencode(query) if query else "")


def report_url(place: Place, call_code: str | None) -> str:
    url = reverse("monitoring:region-report", args=[place.code])
    return url + ("?" + urlencode({"appel": call_code}) if call_code else "")


@dataclass(frozen=True)
class KeyFigure:
    value: str
    label: str
    detail: str = ""


@dataclass(frozen=True)
class ListLink:
    kind: str
    label: str
    count: int
    url: str


def key_figures(board: Dashboard) -> list[KeyFigure]:
    p = board.participation

    def count(value: int) -> str:
        return Cell(value, COUNT).display

    def amount(value: Any) -> str:
        return Cell(value, "amount").display

    def of_envelope(share: float | None) -> str:
        return _("%(share)s de l'enveloppe") % {"share": rate_display(share)}

    median = (
        Cell(p.median_days_to_decision, "days").display
        if p.median_days_to_decision is not None
        else "—"
    )
    return [
        KeyFigure(count(p.eligible), _("entités éligibles")),
        KeyFigure(
            rate_display(p.volet1_rate),
            _("participation au Volet 1"),
            _("%(n)s entités auditées") % {"n": count(p.volet1_audited)},
        ),
        KeyFigure(
            rate_display(p.application_rate),
            _("taux de candidature"),
            _("%(n)s entités candidates") % {"n": count(p.applied)},
        ),
        KeyFigure(count(p.applications), _("candidatures déposées")),
        KeyFigure(
            rate_display(p.eligibility_rate),
            _("taux d'éligibilité"),
            _("%(n)s candidatures évaluées") % {"n": count(p.applications_scored)},
        ),
        KeyFigure(
            count(p.applications_approved),
            _("candidatures accordées"),
            _("taux d'accord : %(rate)s") % {"rate": rate_display(p.approval_rate)},
        ),
        KeyFigure(
            amount(p.amount_requested),
            _("demandés"),
            of_envelope(p.requested_share_of_envelope),
        ),
        KeyFigure(
            amount(p.amount_granted), _("accordés"), of_envelope(p.granted_share_of_envelope)
        ),
        KeyFigure(amount(p.amount_paid), _("payés"), of_envelope(p.paid_share_of_envelope)),
        KeyFigure(
            median,
            _("jours : délai médian de décision"),
            _("sur %(n)s candidatures décidées") % {"n": count(p.decisions)},
        ),
    ]


def list_links(board: Dashboard) -> list[ListLink]:
    p = board.participation
    code = board.call.code if board.call else None
    counts = {
        EntityList.NOT_APPLIED: p.eligible - p.applied,
        EntityList.ELIGIBLE: p.eligible,
        EntityList.NO_VOLET1: p.eligible - p.volet1_audited,
        EntityList.VOLET1_MET: p.volet1_objectives_met,
        EntityList.APPLIED: p.applied,
        EntityList.FOUND_ELIGIBLE: p.found_eligible,
        EntityList.APPROVED: p.approved,
        EntityList.PAID: p.paid,
    }
    return [
        ListLink(kind, str(label), counts[kind], list_url(board.place, code, kind))
        for kind, label in EntityList.CHOICES
    ]


def legend_labels() -> list[str]:
    return [
        _("moins de 20 %"),
        _("de 20 à moins de 40 %"),
        _("de 40 à moins de 60 %"),
        _("de 60 à moins de 80 %"),
        _("80 % et plus"),
    ]


def participation_map(
    board: Dashboard, rate: str, urls: dict[str, str]
) -> maps.ChoroplethMap | None:
    """`urls`: each area's dashboard by its code (the area table's links)."""
    place = board.place
    code = board.call.code if board.call else None
    label = RATE_LABELS.get(rate, rate)
    level = DEPARTEMENT if place.scope == REGION else REGION

    def describe(name: str, display: str) -> str:
        return _("%(name)s : %(rate)s, %(value)s") % {
            "name": name,
            "rate": str(label).lower(),
            "value": display if display != "—" else _("sans objet"),
        }

    values = maps.area_values(
        board.by_area,
        rate_of=lambda figures: getattr(figures, rate),
        display_of=rate_display,
        url_of=lambda key: urls.get(key) or dashboard_url(level, key, code),
        describe=describe,
    )
    no_value = _("sans objet (aucun dénominateur)")
    if place.scope == NATION:
        return maps.national_map(values, legend_labels(), no_value)
    if place.scope == REGION and place.code:
        return maps.regional_map(place.code, values, legend_labels(), no_value)
    return None


def group_chart(board: Dashboard) -> charts.BarChart:
    return charts.bar_chart(
        [
            (row.label, row.figures.application_rate, rate_display(row.figures.application_rate))
            for row in board.by_group
        ],
        maximum=1,
    )


def funnel_chart(board: Dashboard) -> charts.BarChart:
    return charts.bar_chart(
        [
            (
                str(FUNNEL_LABELS[step.key]),
                step.count,
                Cell(step.count, COUNT).display
                + (f" ({rate_display(step.share)})" if step.share is not None else ""),
            )
            for step in board.funnel
        ]
    )


def series_chart(board: Dashboard) -> charts.LineChart | None:
    if not board.weeks:
        return None
    return charts.line_chart(
        [w.start for w in board.weeks],
        [
            (_("Premiers dépôts"), [w.submissions for w in board.weeks]),
            (_("Décisions"), [w.decisions for w in board.weeks]),
            (_("Paiements"), [w.payments for w in board.weeks]),
        ],
    )


@dataclass(frozen=True)
class Panels:
    """Everything a dashboard page or report draws."""

    key_figures: list[KeyFigure]
    key_table: Table
    map: maps.ChoroplethMap | None
    rate: str
    rate_label: str
    area_table: Table | None
    group_table: Table
    group_chart: charts.BarChart
    status_table: Table
    weeks_table: Table
    series_chart: charts.LineChart | None
    funnel_table: Table
    funnel_chart: charts.BarChart
    lists: list[ListLink]


def panels(board: Dashboard, rate: str) -> Panels:
    place = board.place
    code = board.call.code if board.call else None
    area_table = None
    area_urls: dict[str, str] = {}
    if place.area_level:
        level = place.area_level
        area_urls = {row.key: dashboard_url(level, row.key, code) for row in board.by_area}
        area_table = breakdown_table(
            "territoires",
            _("Par région") if level == REGION else _("Par département"),
            _("Région") if level == REGION else _("Département"),
            board.by_area,
            area_urls,
        )
    return Panels(
        key_figures=key_figures(board),
        key_table=key_figures_table(board),
        map=participation_map(board, rate, area_urls) if place.area_level else None,
        rate=rate,
        rate_label=str(RATE_LABELS.get(rate, rate)),
        area_table=area_table,
        group_table=breakdown_table(
            "groupes", _("Par groupe statistique"), _("Groupe"), board.by_group
        ),
        group_chart=group_chart(board),
        status_table=status_table(board.participation),
        weeks_table=weeks_table(board.weeks),
        series_chart=series_chart(board),
        funnel_table=funnel_table(board.funnel),
        funnel_chart=funnel_chart(board),
        lists=list_links(board),
    )


EXPORT_TABLES = ("chiffres", "territoires", "groupes", "statuts", "semaines", "entonnoir")


def table_for_export(result: Panels, slug: str) -> Table | None:
    return {
        "chiffres": result.key_table,
        "territoires": result.area_table,
        "groupes": result.group_table,
        "statuts": result.status_table,
        "semaines": result.weeks_table,
        "entonnoir": result.funnel_table,
    }.get(slug)
