"""Demo Volet 1 results: realistic spreads, deterministic, idempotent, demo stories."""

from collections import Counter, defaultdict
from datetime import date, timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from accounts.models import User
from audits.models import (
    DirectoryAudit,
    DirectoryAuditRule,
    ExposureScan,
    Volet1Level,
    Volet1Status,
)
from audits.pingcastle_rules import domain_level, rule_levels, severity
from audits.status import ScanPoint, exposure_next_step, exposure_pair
from demo.directory import DEFAULT_SEED, seed_demo
from demo.volet1 import (
    AUDITS_END,
    AUDITS_START,
    SCANS_END,
    SCANS_START,
    seed_volet1,
)
from establishments.models import LegalEntity

from ..factories import LegalEntityFactory
from ..volet1 import findings, volet1_page
from .conftest import SIZE, run

CATEGORIES = (
    "stale_objects_score",
    "privileged_accounts_score",
    "trusts_score",
    "anomalies_score",
)


def snapshot() -> tuple[list[tuple], list[tuple], list[tuple]]:
    audits = sorted(
        DirectoryAudit.objects.values_list(
            "legal_entity__finess",
            "tool",
            "domain",
            "audit_date",
            "global_score",
            *CATEGORIES,
            "maturity_level",
            "findings_critical",
            "findings_high",
            "findings_medium",
            "findings_low",
        ),
        key=repr,
    )
    scans = sorted(
        ExposureScan.objects.values_list(
            "legal_entity__finess",
            "scan_date",
            "exposed_services",
            "vulns_critical",
            "vulns_high",
            "vulns_medium",
            "vulns_low",
            "minimum_level_met",
        )
    )
    statuses = sorted(
        Volet1Status.objects.values_list(
            "legal_entity__finess",
            "level",
            "ad_audit_date",
            "exposure_first_scan_date",
            "exposure_second_scan_date",
            "last_scan_date",
        ),
        key=repr,
    )
    rules = sorted(
        DirectoryAuditRule.objects.values_list(
            "audit__legal_entity__finess",
            "audit__domain",
            "audit__audit_date",
            "risk_id",
            "category",
            "points",
            "maturity_level",
            "rationale",
        ),
        key=repr,
    )
    return audits, scans, statuses, rules


def entity_of(email: str) -> LegalEntity:
    return LegalEntity.objects.get(memberships__user__email=email)


def points(entity: LegalEntity) -> list[ScanPoint]:
    return [
        ScanPoint(d, met)
        for d, met in entity.exposure_scans.order_by("scan_date").values_list(
            "scan_date", "minimum_level_met"
        )
    ]


@pytest.mark.django_db
def test_about_85_percent_of_the_entities_have_results_with_every_level():
    output = run("--legal-entities", str(SIZE))

    entities = list(LegalEntity.objects.all())
    with_audit = set(DirectoryAudit.objects.values_list("legal_entity_id", flat=True))
    with_scans = set(ExposureScan.objects.values_list("legal_entity_id", flat=True))
    participants = with_audit | with_scans
    assert 0.75 <= len(participants) / len(entities) <= 0.95
    # per group: every GHT entity, no inactive one
    assert all(e.pk in participants for e in entities if e.statistics_group == "ght" and e.active)
    assert not [e for e in entities if not e.active and e.pk in participants]

    # one status row per entity, 'none' for those without results; every level occurs
    statuses = dict(Volet1Status.objects.values_list("legal_entity_id", "level"))
    assert set(statuses) == {e.pk for e in entities}
    assert set(statuses.values()) == set(Volet1Level.values)
    met = [pk for pk in participants if statuses[pk] in ("both", "exposure_met")]
    assert 0.75 <= len(met) / len(participants) <= 0.90  # D1.O2.B
    assert 0.90 <= len(with_audit) / len(participants) < 1  # ~95% have an AD audit
    assert with_scans - with_audit and with_audit - with_scans  # a few of only one kind

    assert "Volet 1 :" in output
    assert "Les deux objectifs atteints" in output
    assert "etablissement@demo.test : Audit AD réalisé" in output


@pytest.mark.django_db
def test_entities_not_seeded_or_with_results_are_left_alone():
    hospital = LegalEntityFactory(name="Centre hospitalier de Villefranche")
    imported = LegalEntityFactory(name="Clinique importée")
    ExposureScan.objects.create(
        legal_entity=imported, scan_date=date(2025, 1, 6), minimum_level_met=False
    )

    seed_demo(legal_entities=60)  # only the demo entities get results
    assert not hospital.directory_audits.exists() and not hospital.exposure_scans.exists()
    assert not Volet1Status.objects.filter(legal_entity=hospital).exists()

    summary = seed_volet1(seed=DEFAULT_SEED)  # all entities: the imported one is kept
    assert imported.exposure_scans.count() == 1 and not imported.directory_audits.exists()
    assert summary["volet1_skipped"] >= 1
    assert Volet1Status.objects.filter(legal_entity=hospital).exists()


def test_ad_audits_are_plausible(seeded):
    audits = list(DirectoryAudit.objects.all())
    tools = Counter(a.tool for a in audits)
    assert tools["pingcastle"] > tools["oradad"] > 0
    moving = entity_of("etablissement@demo.test").pk  # its story follows the seeding day
    for audit in audits:
        if audit.legal_entity_id != moving:
            assert AUDITS_START <= audit.audit_date <= AUDITS_END
        assert audit.maturity_level is not None and 1 <= audit.maturity_level <= 5
        scores = [getattr(audit, name) for name in CATEGORIES]
        if audit.tool == "pingcastle":
            assert all(s is not None and 0 <= s <= 100 for s in scores)
            assert audit.global_score == max(scores)
        else:  # ORADAD: a maturity level, no PingCastle score
            assert audit.global_score is None and scores == [None] * 4
        # findings follow the maturity level: level n means a checkpoint of level n missed
        level = audit.maturity_level
        assert (audit.findings_critical > 0) == (level == 1)
        assert (audit.findings_high > 0) == (level <= 2)
        assert (audit.findings_medium > 0) == (level <= 3)

    per_entity = defaultdict(set)
    for audit in audits:
        per_entity[audit.legal_entity_id].add(audit.domain)
    domains = Counter(len(d) for d in per_entity.values())
    assert set(domains) <= {1, 2, 3} and domains[1] > domains[2] + domains[3]

    scores = [a.global_score for a in audits if a.global_score is not None]
    assert sum(30 <= s <= 80 for s in scores) / len(scores) >= 0.4  # many 30-80
    assert any(s == 100 for s in scores) and any(s < 20 for s in scores)
    levels = Counter(a.maturity_level for a in audits)
    assert levels[1] + levels[2] + levels[3] > 4 * (levels[4] + levels[5]) > 0


def test_pingcastle_audits_have_the_triggered_rules_of_their_level(seeded):
    table = rule_levels()
    categories = {"S": "StaleObjects", "P": "PrivilegedAccounts", "T": "Trusts", "A": "Anomalies"}
    scores = dict(zip(categories.values(), CATEGORIES, strict=True))
    audits = list(DirectoryAudit.objects.prefetch_related("rules"))
    informational, by_score = 0, defaultdict(list)
    for audit in audits:
        rules = list(audit.rules.all())
        if audit.tool == "oradad":  # PingCastle rules come from PingCastle reports only
            assert rules == []
            continue
        assert rules, audit
        levels = [rule.maturity_level for rule in rules]
        # the domain's level is its worst rule's, as an import computes it
        assert domain_level(levels) == min(levels) == audit.maturity_level, audit
        severities = Counter(severity(level) for level in levels)
        assert findings(audit) == tuple(
            severities[s] for s in ("critical", "high", "medium", "low")
        )
        assert len({rule.risk_id for rule in rules}) == len(rules)
        points = Counter()
        for rule in rules:
            assert rule.maturity_level == table[rule.risk_id]  # the shipped table's level
            assert rule.category == categories[rule.risk_id[0]] and rule.rationale
            points[rule.category] += rule.points
            informational += rule.points == 0
        # the points of a category's rules make its score
        for category, total in points.items():
            assert total == getattr(audit, scores[category]), audit
        # a category with a score has rules, when the table has one at the audit's level
        for letter, category in categories.items():
            fits = any(r[0] == letter and n >= audit.maturity_level for r, n in table.items())
            if getattr(audit, scores[category]) and fits:
                assert category in points, (audit, category)
        by_score[audit.global_score >= 60].append(len(rules))
    total = DirectoryAuditRule.objects.count()
    assert 0.05 < informational / total < 0.3
    mean = {high: sum(counts) / len(counts) for high, counts in by_score.items()}
    assert mean[True] > mean[False]  # a worse score, more rules

    story = entity_of("etablissement@demo.test").directory_audits.order_by("-audit_date")[0]
    assert {rule.maturity_level for rule in story.rules.all()} >= {2, 3}
    assert min(rule.maturity_level for rule in story.rules.all()) == 2


def test_the_volet1_page_of_a_demo_entity_lists_its_rules(seeded, client):
    entity = entity_of("etablissement@demo.test")
    latest = entity.directory_audits.order_by("-audit_date")[0]
    html = volet1_page(client, User.objects.get(email="etablissement@demo.test"), entity)
    assert "Niveau 2 sur 5" in html
    for rule in latest.rules.all():
        assert rule.risk_id in html


def test_exposure_scans_are_monthly_ish_and_improve(seeded):
    today = date.today()
    per_entity = defaultdict(list)
    moving = entity_of("etablissement@demo.test").pk  # its story follows the seeding day
    for scan in ExposureScan.objects.order_by("scan_date"):
        assert scan.scan_date <= today
        if scan.legal_entity_id != moving:
            assert SCANS_START <= scan.scan_date <= min(today, SCANS_END)
        assert 1 <= scan.exposed_services <= 40
        assert scan.minimum_level_met == (scan.vulns_critical == 0 and scan.vulns_high <= 2)
        per_entity[scan.legal_entity_id].append(scan)
    assert DirectoryAudit.objects.filter(audit_date__gt=today).count() == 0

    total = sum(len(s) for s in per_entity.values())
    assert 4 * len(per_entity) <= total <= 18 * len(per_entity)
    criticals = Counter(s.vulns_critical for scans in per_entity.values() for s in scans)
    assert (criticals[0] + criticals[1] + criticals[2]) / total > 0.85  # skewed
    improving = 0
    for scans in per_entity.values():
        assert 4 <= len(scans) <= 18
        gaps = [(b.scan_date - a.scan_date).days for a, b in pairwise(scans)]
        assert min(gaps) >= 28
        half = len(scans) // 2
        early = sum(s.minimum_level_met for s in scans[:half]) / half
        late = sum(s.minimum_level_met for s in scans[half:]) / (len(scans) - half)
        improving += late >= early
    assert improving / len(per_entity) > 0.7


def test_the_demo_accounts_entities_tell_their_story(seeded):
    member = entity_of("etablissement@demo.test")
    assert member.volet1.level == Volet1Level.AD_DONE
    latest = member.directory_audits.order_by("-audit_date").first()
    assert latest.global_score == 58 and latest.maturity_level == 2
    scans = points(member)
    assert exposure_pair(scans) is None
    assert scans[-1].minimum_level_met and not scans[-2].minimum_level_met
    # What the page says today: the next compliant scan is due in the coming weeks.
    today = timezone.localdate()
    assert scans[-1].scan_date == today - timedelta(days=8)
    next_step = exposure_next_step(scans, today)
    start = (scans[-1].scan_date + timedelta(days=45)).strftime("%d/%m/%Y")
    end = (scans[-1].scan_date + timedelta(days=60)).strftime("%d/%m/%Y")
    assert f"un second scan conforme entre le {start} et le {end}" in next_step
    assert (today - latest.audit_date).days < 365  # the page does not ask to renew it

    support = entity_of("ght@demo.test")
    assert support.volet1.level == Volet1Level.BOTH
    first, second = exposure_pair(points(support))
    assert 45 <= (second - first).days <= 60
    assert support.directory_audits.values("domain").distinct().count() == 2


def test_results_depend_on_the_seed_and_the_entity_only(seeded):
    first = snapshot()

    ExposureScan.objects.all().delete()
    DirectoryAudit.objects.all().delete()
    Volet1Status.objects.all().delete()
    summary = seed_volet1(seed=DEFAULT_SEED)
    assert snapshot() == first
    assert summary[DirectoryAudit] == len(first[0]) and summary[ExposureScan] == len(first[1])
    assert summary[DirectoryAuditRule] == len(first[3]) > len(first[0])

    # one entity alone gets the same rows as among all the others
    some = list(LegalEntity.objects.order_by("-finess").values_list("id", "finess")[:25])
    ExposureScan.objects.all().delete()
    DirectoryAudit.objects.all().delete()
    seed_volet1(seed=DEFAULT_SEED, legal_entity_ids=[pk for pk, _ in some])
    finess = {f for _, f in some}
    assert snapshot()[0] == [row for row in first[0] if row[0] in finess]
    assert snapshot()[1] == [row for row in first[1] if row[0] in finess]
    assert snapshot()[3] == [row for row in first[3] if row[0] in finess]

    # another seed, other results
    ExposureScan.objects.all().delete()
    DirectoryAudit.objects.all().delete()
    seed_volet1(seed=DEFAULT_SEED + 1)
    assert snapshot()[1] != first[1] and snapshot()[3] != first[3]


def test_second_run_creates_nothing(seeded):
    before = snapshot()

    summary = seed_demo(legal_entities=SIZE)

    assert snapshot() == before
    assert summary.created[DirectoryAudit] == summary.created[ExposureScan] == 0
    assert summary.created[DirectoryAuditRule] == 0
    assert summary.created["volet1_skipped"] == len({row[0] for row in before[0] + before[1]})
