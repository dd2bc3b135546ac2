"""Writes of Volet 1 data."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from .models import Volet1Status
from .selectors import volet1_statuses

REFRESH_CHUNK = 2000
STATUS_FIELDS = [
    "level",
    "ad_audit_date",
    "exposure_first_scan_date",
    "exposure_second_scan_date",
    "last_scan_date",
    "updated_at",
]


def volet1_status_refresh(*, legal_entity_ids: Iterable[int]) -> int:
    """Recompute and store the Volet 1 status of these entities (idempotent); returns
    how many stored statuses changed. Call it in the transaction that changed their
    audits or scans."""
    ids = sorted(set(legal_entity_ids))
    changed = 0
    now = timezone.now()
    with transaction.atomic():
        for start in range(0, len(ids), REFRESH_CHUNK):
            chunk = ids[start : start + REFRESH_CHUNK]
            results = volet1_statuses(chunk)
            stored = {
                s.legal_entity_id: s for s in Volet1Status.objects.filter(legal_entity_id__in=chunk)
            }
            to_create, to_update = [], []
            for entity_id, result in results.items():
                values = {
                    "level": result.level,
                    "ad_audit_date": result.ad_audit_date,
                    "exposure_first_scan_date": (
                        result.exposure_scan_dates[0] if result.exposure_scan_dates else None
                    ),
                    "exposure_second_scan_date": (
                        result.exposure_scan_dates[1] if result.exposure_scan_dates else None
                    ),
                    "last_scan_date": result.last_scan_date,
                }
                current = stored.get(entity_id)
                if current is None:
                    to_create.append(Volet1Status(legal_entity_id=entity_id, **values))
                elif any(getattr(current, k) != v for k, v in values.items()):
                    for key, value in values.items():
                        setattr(current, key, value)
                    current.updated_at = now
                    to_update.append(current)
            Volet1Status.objects.bulk_create(to_create)
            Volet1Status.objects.bulk_update(to_update, STATUS_FIELDS, batch_size=500)
            changed += len(to_create) + len(to_update)
    return changed
