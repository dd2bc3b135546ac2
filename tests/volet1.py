"""Volet 1 results for the tests: an Active Directory audit and exposure scans, with
plausible figures that a test overrides where it matters."""

from datetime import date, timedelta
from html import unescape

from django.urls import reverse
from django.utils import timezone

from audits.models import DirectoryAudit, ExposureScan


def make_audit(entity, **fields) -> DirectoryAudit:
    """A PingCastle audit of a month ago: score 65 (high risk), maturity level 2."""
    values = {
        "audit_date": timezone.localdate() - timedelta(days=30),
        "tool": DirectoryAudit.Tool.PINGCASTLE,
        "domain": "ad.ch-villefranche.fr",
        "global_score": 65,
        "stale_objects_score": 40,
        "privileged_accounts_score": 65,
        "trusts_score": 0,
        "anomalies_score": 35,
        "maturity_level": 2,
        "findings_critical": 3,
        "findings_high": 7,
        "findings_medium": 12,
        "findings_low": 20,
        **fields,
    }
    return DirectoryAudit.objects.create(legal_entity=entity, **values)


def make_scan(entity, scan_date: date, met: bool = True, **fields) -> ExposureScan:
    """A scan that meets the minimum level, or misses it (critical and high vulnerabilities)."""
    values = {
        "exposed_services": 6,
        "vulns_critical": 0 if met else 2,
        "vulns_high": 1 if met else 4,
        "vulns_medium": 3,
        "vulns_low": 5,
        **fields,
    }
    return ExposureScan.objects.create(
        legal_entity=entity, scan_date=scan_date, minimum_level_met=met, **values
    )


def volet1_page(client, user, entity) -> str:
    """The Volet 1 page of `entity` as `user` sees it (it must be allowed to), entities
    unescaped."""
    client.force_login(user)
    response = client.get(reverse("audits:volet1-detail", args=[entity.public_id]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def findings(audit: DirectoryAudit) -> tuple[int, int, int, int]:
    """The counts of an audit's findings, the most severe first: critical, high, medium,
    low."""
    return (
        audit.findings_critical,
        audit.findings_high,
        audit.findings_medium,
        audit.findings_low,
    )
