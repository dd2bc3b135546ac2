"""Reads of Volet 1 results."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import F, OuterRef, Prefetch, QuerySet, Subquery

from establishments.models import LegalEntity

from .charts import ChartScan, ExposureChart, exposure_chart
from .models import DirectoryAudit, DirectoryAuditRule, ExposureScan
from .readings import AuditReading, audit_reading, directory_next_steps
from .status import ScanPoint, Volet1Result, compute_volet1_status, exposure_next_step


def volet1_status(legal_entity: LegalEntity | int) -> Volet1Result:
    """The Volet 1 status of one legal entity, computed from its audits and scans.

    The result has `ad_audit_done`, `exposure_objective_met`, `level` and the dates
    that justify them (`ad_audit_date`, `exposure_scan_dates`, `last_scan_date`)."""
    entity_id = legal_entity if isinstance(legal_entity, int) else legal_entity.pk
    return volet1_statuses([entity_id])[entity_id]


def volet1_statuses(legal_entity_ids: list[int]) -> dict[int, Volet1Result]:
    """Statuses of many entities in two queries."""
    audit_dates: dict[int, list[Any]] = {pk: [] for pk in legal_entity_ids}
    scans: dict[int, list[ScanPoint]] = {pk: [] for pk in legal_entity_ids}
    for entity_id, audit_date in DirectoryAudit.objects.filter(
        legal_entity_id__in=legal_entity_ids
    ).values_list("legal_entity_id", "audit_date"):
        audit_dates[entity_id].append(audit_date)
    for entity_id, scan_date, met in ExposureScan.objects.filter(
        legal_entity_id__in=legal_entity_ids
    ).values_list("legal_entity_id", "scan_date", "minimum_level_met"):
        scans[entity_id].append(ScanPoint(scan_date, met))
    return {
        pk: compute_volet1_status(ad_audit_dates=audit_dates[pk], scans=scans[pk])
        for pk in legal_entity_ids
    }


def exposure_scans(legal_entity: LegalEntity) -> QuerySet[ExposureScan]:
    return legal_entity.exposure_scans.order_by("scan_date")


def latest_directory_audits(legal_entity: LegalEntity) -> list[DirectoryAudit]:
    """The latest audit of each AD domain of the entity, by domain, in one query (an
    entity may run several domains; each is audited on its own)."""
    latest_of_domain = (
        DirectoryAudit.objects.filter(legal_entity=legal_entity, domain=OuterRef("domain"))
        .order_by("-audit_date", "-id")
        .values("id")[:1]
    )
    return list(
        legal_entity.directory_audits.annotate(latest_id=Subquery(latest_of_domain))
        .filter(id=F("latest_id"))
        .order_by("domain")
        .prefetch_related(Prefetch("rules", queryset=rules_queryset()))
    )


def rules_queryset() -> QuerySet[DirectoryAuditRule]:
    """The triggered rules to prefetch with audits: one query for all of them."""
    return DirectoryAuditRule.objects.order_by("category", "maturity_level", "-points", "risk_id")


SeriesPoint = tuple[date, int | None, int | None]


def domain_series(legal_entity: LegalEntity) -> dict[str, list[SeriesPoint]]:
    """(date, maturity level, global score) of every audit of each domain of the
    entity, in one query: the trend of a monthly series of reports."""
    series: dict[str, list[SeriesPoint]] = {}
    for domain, audit_date, level, score in legal_entity.directory_audits.order_by(
        "domain", "audit_date", "id"
    ).values_list("domain", "audit_date", "maturity_level", "global_score"):
        series.setdefault(domain, []).append((audit_date, level, score))
    return series


@dataclass(frozen=True)
class ScanRow:
    scan: ExposureScan
    in_pair: bool  # one of the two scans that meet D1.O2.B


@dataclass(frozen=True)
class Volet1Overview:
    """Everything the Volet 1 page of an entity shows."""

    status: Volet1Result
    directory_audits: list[AuditReading]
    scan_rows: list[ScanRow]  # oldest first
    chart: ExposureChart
    directory_next_steps: list[str]
    exposure_next_step: str

    @property
    def last_scan(self) -> ExposureScan | None:
        return self.scan_rows[-1].scan if self.scan_rows else None


def volet1_overview(*, legal_entity: LegalEntity, today: date) -> Volet1Overview:
    """The Volet 1 page of an entity in four queries (latest audits, their rules, the
    audits' series, scans), whatever the number of audits, rules and scans. The status
    is computed from the same rows (`compute_volet1_status`, the one place of the rule),
    so the page never disagrees with itself."""
    audits = latest_directory_audits(legal_entity)
    series = domain_series(legal_entity) if audits else {}
    scans = list(exposure_scans(legal_entity))
    points = [ScanPoint(s.scan_date, s.minimum_level_met) for s in scans]
    status = compute_volet1_status(ad_audit_dates=[a.audit_date for a in audits], scans=points)
    pair = status.exposure_scan_dates
    chart = exposure_chart(
        [
            ChartScan(
                scan_date=s.scan_date,
                critical=s.vulns_critical,
                high=s.vulns_high,
                medium=s.vulns_medium,
                low=s.vulns_low,
                minimum_level_met=s.minimum_level_met,
            )
            for s in scans
        ],
        pair=pair,
    )
    return Volet1Overview(
        status=status,
        directory_audits=[audit_reading(a, series=series.get(a.domain, ())) for a in audits],
        scan_rows=[ScanRow(s, s.scan_date in (pair or ())) for s in scans],
        chart=chart,
        directory_next_steps=directory_next_steps(audits, today),
        exposure_next_step=exposure_next_step(points, today),
    )
