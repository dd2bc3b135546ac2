"""Reads of Volet 1 results."""

from typing import Any

from django.db.models import QuerySet

from establishments.models import LegalEntity

from .models import DirectoryAudit, ExposureScan
from .status import ScanPoint, Volet1Result, compute_volet1_status


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


def latest_directory_audit(legal_entity: LegalEntity) -> DirectoryAudit | None:
    return legal_entity.directory_audits.order_by("-audit_date", "domain").first()


def exposure_scans(legal_entity: LegalEntity) -> QuerySet[ExposureScan]:
    return legal_entity.exposure_scans.order_by("scan_date")
