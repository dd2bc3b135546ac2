"""Demo Volet 1 results: AD audits, exposure scans and statuses of the demo entities.

`seed_volet1()` gives the legal entities (all, or those `seed_demo` passes) the results
of a plausible programme: ~85% took part (GHT 100%, public outside a GHT 86%, EBNL 71%,
for-profit 88%, inactive none); nearly all had their AD audited (PingCastle, ORADAD for
some) from April 2024 to June 2025, most are scanned by SILENE about monthly from May
2024, meeting the minimum level more and more often (~80-85% meet D1.O2.B: two
successive compliant scans 45 to 60 days apart, see `audits.status`).

An entity's results come from its own `random.Random(f"{seed}-{finess}")`, with fixed
dates (no "today"); an entity that already has results is left alone (idempotent),
then every entity's `Volet1Status` is refreshed. Two entities have a fixed story: the
entity of etablissement@demo.test (AD done, only its last scan, eight days before the
seeding day, compliant: the page tells the next step) and the GHT support of
ght@demo.test (both objectives met). Demo rules: a scan meets the minimum level with no
critical and at most two high vulnerabilities; AD findings follow the maturity level.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Membership
from audits.models import DirectoryAudit, ExposureScan, Volet1Level, Volet1Status
from audits.services import volet1_status_refresh
from audits.status import ScanPoint, exposure_pair
from demo.common import STOP_WORDS, Writer, chunks
from demo.common import count as _n
from demo.common import share as _share
from establishments.models import LegalEntity, StatisticsGroup

AUDITS_START = date(2024, 4, 1)
FIRST_AUDITS_END = date(2025, 3, 31)  # first audits of a domain; re-audits until AUDITS_END
AUDITS_END = date(2025, 6, 30)
SCANS_START = date(2024, 5, 1)
SCANS_END = date(2025, 10, 15)  # fixed, so that the data do not depend on the day
BATCH_SIZE = 1000
# Share of participants per statistics group (DOMAIN.md, final candidates of D1).
PARTICIPATION = {"ght": 1.0, "public_outside_ght": 0.86, "private_non_profit": 0.71}
SHARE_AD_ONLY = 0.04  # participants with an AD audit and no exposure scan
SHARE_SCANS_ONLY = 0.05  # participants with exposure scans and no AD audit
SHARE_EXPOSURE_MET = 0.87  # participants with scans that meet D1.O2.B
SHARE_ORADAD = 0.22  # the others used PingCastle
SHARE_RE_AUDIT = 0.3  # domains audited again after remediation
MIN_SCANS, MAX_SCANS = 4, 18
MIN_SERVICES, MAX_SERVICES = 1, 40

# fmt: off
CATEGORY_FIELDS = ("stale_objects_score", "privileged_accounts_score", "trusts_score",
                   "anomalies_score")
FINDINGS = ("findings_critical", "findings_high", "findings_medium", "findings_low")
# How often each category is the worst one, hence the global score.
CATEGORY_WEIGHTS = (30, 36, 4, 30)

NEXT_STEP = "next_step"
BOTH_MET = "both"
FEATURED_ACCOUNTS = {"etablissement@demo.test": NEXT_STEP, "ght@demo.test": BOTH_MET}
FEATURED_LABELS = {
    NEXT_STEP: "dernier scan conforme, second scan conforme attendu 45 à 60 jours après",
    BOTH_MET: "audits AD de deux domaines, deux scans conformes à 45 à 60 jours d'intervalle",
}

# Abbreviations of names in AD domain names, longest first.
DOMAIN_PREFIXES = (
    ("assistance publique hopitaux", "ap-h"), ("centre hospitalier universitaire", "chu"),
    ("centre hospitalier intercommunal", "chi"), ("centre hospitalier specialise", "chs"),
    ("centre hospitalier", "ch"), ("etablissement public de sante mentale", "epsm"),
    ("centre de lutte contre le cancer", "clcc"), ("centre de reeducation fonctionnelle", "crf"),
    ("centre de soins de longue duree", "csld"), ("centre de readaptation", "crf"),
    ("clinique de soins de suite", "ssr"), ("clinique chirurgicale", "clinique"),
    ("centre medical", "cm"), ("hopital local", "hl"), ("hopital prive", "hp"),
    ("hopital mutualiste", "hm"), ("groupe hospitalier", "gh"),
)
# fmt: on
EXTRA_DOMAIN_PREFIXES = ("adm", "rec", "labo", "pacs", "old", "dmz")


@dataclass(frozen=True)
class DemoEntity:
    id: int
    finess: str
    name: str
    statistics_group: str
    active: bool
    big: bool  # CHU, GHT support or 1,000 staff and more: more AD domains, more services


@dataclass
class EntityResults:
    audits: list[dict[str, Any]] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Volet1DemoSummary:
    seed: int
    entities: int  # entities considered
    with_results: int  # of which with at least one AD audit or exposure scan
    skipped: int  # left alone: they already had Volet 1 results
    audits: int
    scans: int
    created_audits: int
    created_scans: int
    by_level: dict[str, int]
    featured: dict[str, str]  # demo account e-mail -> Volet 1 level of its entity


# --------------------------------------------------------------------------- draw


def entity_rng(seed: int, finess: str) -> random.Random:
    """The generator of one entity: its results depend on the seed and on it only."""
    return random.Random(f"{seed}-{finess}")  # noqa: S311 - demo data, not security


def plan_entity(
    seed: int, entity: DemoEntity, featured: str | None = None, today: date | None = None
) -> EntityResults:
    """The Volet 1 results of one entity (no database access). `today` dates the
    next-step story, whose point is what is due in the coming weeks."""
    rng = entity_rng(seed, entity.finess)
    participates = rng.random() < PARTICIPATION.get(entity.statistics_group, 0.88)
    profile = rng.random()
    domain = _main_domain(rng, entity.name)
    if featured == NEXT_STEP:
        return _next_step_story(domain, today or SCANS_END)
    if featured == BOTH_MET:
        return _both_met_story(domain)
    if not entity.active or not participates:
        return EntityResults()
    has_scans = profile >= SHARE_AD_ONLY
    has_audit = profile < 1 - SHARE_SCANS_ONLY
    results = EntityResults()
    if has_audit:
        results.audits = _audits(rng, entity, domain)
    if has_scans:
        results.scans = _scans(rng, entity, meets=rng.random() < SHARE_EXPOSURE_MET)
    return results


def _main_domain(rng: random.Random, name: str) -> str:
    words = slugify(name.replace("'", " ").replace("’", " ")).split("-")
    text = " ".join(words)
    head = ""
    for prefix, abbreviation in DOMAIN_PREFIXES:
        if text == prefix or text.startswith(prefix + " "):
            head, words = abbreviation, text[len(prefix) :].split()
            break
    rest = [w for w in words if w not in STOP_WORDS]
    label = "-".join([head, *rest] if head else rest)[:40].strip("-") or "etab"
    pattern = rng.choices(["{}.local", "{}.lan", "{}.intra", "ad.{}.fr"], [50, 15, 15, 20])[0]
    return pattern.format(label)


def _global_score(rng: random.Random) -> int:
    """PingCastle global score: many 30-80, a tail at 100, a few good ones below 20."""
    draw = rng.random()
    if draw < 0.12:
        return 100
    if draw < 0.20:
        return rng.randint(3, 19)
    return round(rng.triangular(20, 99, 55))


def _maturity(rng: random.Random, score: int) -> int:
    if score >= 80:
        weights = (85, 15, 0, 0, 0)
    elif score >= 40:
        weights = (45, 40, 15, 0, 0)
    elif score >= 20:
        weights = (15, 40, 35, 10, 0)
    else:
        weights = (0, 10, 40, 38, 12)
    return rng.choices((1, 2, 3, 4, 5), weights)[0]


def _findings(rng: random.Random, score: int, level: int) -> dict[str, int]:
    """Findings consistent with the maturity level (failed checkpoints of the lowest
    level missed) and growing with the score."""
    return {
        "findings_critical": rng.randint(1, 2 + score // 25) if level == 1 else 0,
        "findings_high": rng.randint(1, 3 + score // 15) if level <= 2 else 0,
        "findings_medium": rng.randint(1, 4 + score // 10) if level <= 3 else 0,
        "findings_low": rng.randint(1, 6 + score // 10) if level <= 4 else rng.randint(0, 3),
    }


def _audit_row(
    rng: random.Random, tool: str, domain: str, day: date, score: int, floor: int = 1
) -> dict[str, Any]:
    level = max(floor, _maturity(rng, score))
    row: dict[str, Any] = {
        "audit_date": day,
        "tool": tool,
        "domain": domain,
        "maturity_level": level,
        **_findings(rng, score, level),
    }
    if tool == DirectoryAudit.Tool.PINGCASTLE:
        worst = rng.choices(CATEGORY_FIELDS, CATEGORY_WEIGHTS)[0]
        for name in CATEGORY_FIELDS:
            if name == worst:
                row[name] = score
            elif name == "trusts_score" and rng.random() < 0.6:
                row[name] = 0  # no trust relationship
            else:
                row[name] = round(score * rng.uniform(0.1, 1.0))
        row["global_score"] = max(row[name] for name in CATEGORY_FIELDS)
    return row


def _audits(rng: random.Random, entity: DemoEntity, main: str) -> list[dict[str, Any]]:
    oradad = rng.random() < SHARE_ORADAD
    tool = DirectoryAudit.Tool.ORADAD if oradad else DirectoryAudit.Tool.PINGCASTLE
    count = rng.choices((1, 2, 3), (40, 40, 20) if entity.big else (80, 15, 5))[0]
    base = main.removeprefix("ad.")
    domains = [main] + [
        f"{prefix}.{base}" for prefix in rng.sample(EXTRA_DOMAIN_PREFIXES, count - 1)
    ]
    span = (FIRST_AUDITS_END - AUDITS_START).days
    first = AUDITS_START + timedelta(days=round(rng.triangular(0, span, span * 0.2)))
    rows = []
    for index, domain in enumerate(domains):
        day = min(first + timedelta(days=rng.randint(0, 21) if index else 0), AUDITS_END)
        score = _global_score(rng)
        row = _audit_row(rng, tool, domain, day, score)
        rows.append(row)
        done = 1
        while rng.random() < (SHARE_RE_AUDIT if done == 1 else 0.15):  # after remediation
            day += timedelta(days=rng.randint(60, 300))
            if day > AUDITS_END:
                break
            score = max(3, score - rng.randint(10, 45))
            row = _audit_row(rng, tool, domain, day, score, floor=row["maturity_level"])
            rows.append(row)
            done += 1
    return rows


def _interval(rng: random.Random) -> int:
    """Days between two scans: monthly, sometimes a skipped month, sometimes a gap."""
    draw = rng.random()
    if draw < 0.80:
        return rng.randint(28, 35)
    if draw < 0.92:
        return rng.randint(45, 60)
    return rng.randint(61, 110)


def _fit(intervals: list[int], flags: list[bool], last: date, keep: int = -1) -> int:
    """Drop the first scans (or shorten intervals) until the series starts after
    SCANS_START, keeping at least MIN_SCANS; returns the new index of interval `keep`."""
    room = (last - SCANS_START).days
    while sum(intervals) > room:
        if len(intervals) >= MIN_SCANS and keep != 0:
            intervals.pop(0)
            flags.pop(0)
            keep -= 1
        else:
            longest = max(
                (i for i in range(len(intervals)) if i != keep), key=intervals.__getitem__
            )
            intervals[longest] = 30
    return keep


def _dates(intervals: Sequence[int], last: date) -> list[date]:
    days = [last]
    for gap in reversed(intervals):
        days.append(days[-1] - timedelta(days=gap))
    return days[::-1]


def _pair(days: Sequence[date], flags: Sequence[bool]) -> tuple[date, date] | None:
    return exposure_pair(ScanPoint(d, f) for d, f in zip(days, flags, strict=True))


def _scans(rng: random.Random, entity: DemoEntity, *, meets: bool) -> list[dict[str, Any]]:
    count = round(rng.triangular(MIN_SCANS, MAX_SCANS, 8))
    if rng.random() < 0.8:  # still scanned lately
        last = SCANS_END - timedelta(days=rng.randint(0, 30))
    else:
        last = SCANS_END - timedelta(days=rng.randint(31, 200))
    intervals = [_interval(rng) for _ in range(count - 1)]
    flags = [False] * count
    _fit(intervals, flags, last)
    count = len(flags)

    # The minimum level is met more and more often from a turning point on.
    if meets:
        turn, before, after = int(count * rng.uniform(0, 0.6)), 0.25, 0.92
    else:
        turn, before, after = int(count * rng.uniform(0.4, 1.2)), 0.2, 0.7
    flags = [rng.random() < (after if i >= turn else before) for i in range(count)]
    days = _dates(intervals, last)
    if meets and _pair(days, flags) is None:
        # a skipped month between two compliant scans after the turning point
        keep = rng.randint(min(turn, count - 2), count - 2)
        intervals[keep] = rng.randint(45, 60)
        flags[keep] = flags[keep + 1] = True
        _fit(intervals, flags, last, keep)
        days = _dates(intervals, last)
    elif not meets:
        while (pair := _pair(days, flags)) is not None:
            flags[days.index(pair[1])] = False

    services = round(
        rng.triangular(8, MAX_SERVICES, 20) if entity.big else rng.triangular(1, 25, 5)
    )
    return [_scan_row(rng, day, met, services) for day, met in zip(days, flags, strict=True)]


def _scan_row(rng: random.Random, day: date, met: bool, services: int) -> dict[str, Any]:
    exposed = min(MAX_SERVICES, max(MIN_SERVICES, services + rng.randint(-2, 2)))
    if met:
        critical, high = 0, rng.choices((0, 1, 2), (60, 28, 12))[0]
    else:
        critical = rng.choices((0, 1, 2, 3, 4, 5, 6, 8), (20, 40, 22, 8, 4, 3, 2, 1))[0]
        high = rng.randint(3, 8) if critical == 0 else rng.randint(0, 5)
    return {
        "scan_date": day,
        "exposed_services": exposed,
        "vulns_critical": critical,
        "vulns_high": high,
        "vulns_medium": rng.randint(0, 2 + exposed // 4),
        "vulns_low": rng.randint(0, 3 + exposed // 3),
        "minimum_level_met": met,
    }


# --------------------------------------------------------------------------- featured


def _pingcastle(
    domain: str, day: date, scores: tuple[int, ...], level: int, *found: int
) -> dict[str, Any]:
    return {"audit_date": day, "tool": DirectoryAudit.Tool.PINGCASTLE, "domain": domain,
            "global_score": max(scores), "maturity_level": level,
            **dict(zip(CATEGORY_FIELDS, scores, strict=True)),
            **dict(zip(FINDINGS, found, strict=True))}  # fmt: skip


def _scans_of(series: Sequence[Any], medium: int, low: int) -> list[dict[str, Any]]:
    return [{"scan_date": day, "exposed_services": services, "vulns_critical": critical,
             "vulns_high": high, "vulns_medium": 2 + services // medium,
             "vulns_low": low + services // low,
             "minimum_level_met": critical == 0 and high <= 2}
            for day, services, critical, high in series]  # fmt: skip


def _next_step_story(domain: str, today: date) -> EntityResults:
    """AD audited (82, then 58 after remediation); twelve monthly scans, only the last
    one compliant, eight days before `today`: D1.O2.B needs one more compliant scan 45
    to 60 days after it, which the page announces with its dates."""
    last = today - timedelta(days=8)
    audits = [
        _pingcastle(domain, last - timedelta(476), (82, 70, 0, 64), 1, 2, 7, 12, 9),
        _pingcastle(domain, last - timedelta(210), (40, 58, 0, 45), 2, 0, 3, 9, 11),
    ]
    # fmt: off
    series = [  # (days before the last scan, exposed services, critical, high)
        (336, 14, 4, 5), (307, 14, 3, 5), (273, 13, 3, 4), (245, 13, 2, 4), (216, 12, 2, 4),
        (182, 12, 2, 3), (154, 11, 1, 3), (125, 11, 1, 3), (91, 10, 1, 4), (63, 10, 1, 3),
        (28, 9, 0, 4), (0, 9, 0, 1),
    ]
    # fmt: on
    return EntityResults(audits, _scans_of([(last - timedelta(d), *r) for d, *r in series], 4, 3))


def _both_met_story(domain: str) -> EntityResults:
    """Two domains audited, the main one twice; monthly scans compliant from February
    2025, with a 49-day interval (3 February - 24 March 2025) that meets D1.O2.B."""
    audits = [
        _pingcastle(domain, date(2024, 5, 14), (64, 51, 10, 38), 2, 0, 6, 14, 12),
        _pingcastle(f"adm.{domain.removeprefix('ad.')}", date(2024, 5, 16), (45, 45, 0, 30), 2,
                    0, 3, 8, 7),
        _pingcastle(domain, date(2025, 1, 21), (24, 31, 10, 18), 3, 0, 0, 6, 9),
    ]  # fmt: skip
    # fmt: off
    series = [  # (date, exposed services, critical, high)
        ((2024, 6, 3), 31, 3, 4), ((2024, 7, 2), 31, 3, 3), ((2024, 8, 5), 30, 2, 4),
        ((2024, 9, 3), 30, 2, 3), ((2024, 10, 1), 29, 1, 3), ((2024, 11, 4), 28, 1, 3),
        ((2024, 12, 3), 28, 1, 2), ((2025, 1, 6), 27, 0, 4), ((2025, 2, 3), 26, 0, 1),
        ((2025, 3, 24), 26, 0, 1), ((2025, 4, 22), 25, 0, 0), ((2025, 5, 20), 25, 0, 1),
        ((2025, 6, 24), 25, 0, 0), ((2025, 7, 22), 24, 0, 2), ((2025, 8, 26), 24, 0, 0),
        ((2025, 9, 30), 24, 0, 1),
    ]
    # fmt: on
    return EntityResults(audits, _scans_of([(date(*ymd), *r) for ymd, *r in series], 5, 4))


# --------------------------------------------------------------------------- write


def _entities(ids: Sequence[int] | None) -> list[DemoEntity]:
    fields = ("id", "finess", "name", "status_group", "ght_id", "is_ght_support", "active",
              "finess_category", "staff_count")  # fmt: skip
    query = LegalEntity.objects.values_list(*fields)
    rows = (
        list(query) if ids is None else [r for ch in chunks(ids) for r in query.filter(id__in=ch)]
    )
    return sorted(
        (DemoEntity(pk, finess, name, str(StatisticsGroup.of(status, ght_id is not None)), active,
                   bool(support or category == "101" or (staff or 0) >= 1000))
         for pk, finess, name, status, ght_id, support, active, category, staff in rows),
        key=lambda e: e.finess,
    )  # fmt: skip


def _with_results(ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(ids):
        found.update(
            DirectoryAudit.objects.filter(legal_entity_id__in=chunk).values_list(
                "legal_entity_id", flat=True
            )
        )
        found.update(
            ExposureScan.objects.filter(legal_entity_id__in=chunk).values_list(
                "legal_entity_id", flat=True
            )
        )
    return found


def featured_entities() -> dict[int, str]:
    """Entity id -> story, for the entities of the demo accounts (when they exist)."""
    rows = Membership.objects.filter(
        user__email__in=list(FEATURED_ACCOUNTS), role=Membership.Role.ESTABLISHMENT
    ).order_by("-id")
    return {
        pk: FEATURED_ACCOUNTS[email]
        for email, pk in rows.values_list("user__email", "legal_entity_id")
    }


def seed_volet1(*, seed: int, legal_entity_ids: Iterable[int] | None = None,
                stdout: Writer | None = None) -> Volet1DemoSummary:  # fmt: skip
    """Write demo Volet 1 results for these entities (all entities when None) and
    refresh their statuses; idempotent for a given seed."""
    entities = _entities(None if legal_entity_ids is None else sorted(set(legal_entity_ids)))
    ids = [e.id for e in entities]
    with transaction.atomic():
        featured = featured_entities()
        already = _with_results(ids)
        audits, scans = [], []
        for entity in entities:
            if entity.id not in already:
                results = plan_entity(seed, entity, featured.get(entity.id), timezone.localdate())
                audits += [DirectoryAudit(legal_entity_id=entity.id, **r) for r in results.audits]
                scans += [ExposureScan(legal_entity_id=entity.id, **r) for r in results.scans]
        before = (DirectoryAudit.objects.count(), ExposureScan.objects.count())
        DirectoryAudit.objects.bulk_create(audits, batch_size=BATCH_SIZE, ignore_conflicts=True)
        ExposureScan.objects.bulk_create(scans, batch_size=BATCH_SIZE, ignore_conflicts=True)
        created = (
            DirectoryAudit.objects.count() - before[0],
            ExposureScan.objects.count() - before[1],
        )
        volet1_status_refresh(legal_entity_ids=ids)
        by_level: Counter[str] = Counter()
        totals = [0, 0, 0]  # with results, audits, scans
        for chunk in chunks(ids):
            statuses = Volet1Status.objects.filter(legal_entity_id__in=chunk)
            by_level.update(dict(statuses.values_list("level").annotate(n=Count("pk")).order_by()))
            totals[0] += statuses.filter(
                Q(ad_audit_date__isnull=False) | Q(last_scan_date__isnull=False)
            ).count()
            totals[1] += DirectoryAudit.objects.filter(legal_entity_id__in=chunk).count()
            totals[2] += ExposureScan.objects.filter(legal_entity_id__in=chunk).count()
        mine = Volet1Status.objects.filter(legal_entity_id__in=[pk for pk in featured if pk in ids])
        levels = dict(mine.values_list("legal_entity_id", "level"))
    emails = {story: email for email, story in FEATURED_ACCOUNTS.items()}
    summary = Volet1DemoSummary(
        seed, len(entities), totals[0], len(already), totals[1], totals[2], created[0], created[1],
        {level: by_level.get(level, 0) for level in Volet1Level.values},
        {emails[featured[pk]]: level for pk, level in levels.items()},
    )  # fmt: skip
    if stdout is not None:
        stdout.write(
            f"Volet 1 (graine {seed}) : résultats de {_n(totals[0])} entités sur {_n(len(ids))}.\n"
        )
    return summary


def volet1_summary_lines(summary: Volet1DemoSummary) -> list[str]:
    """The French report of the Volet 1 part of the demo data."""
    total = summary.entities
    lines = [
        f"  Volet 1 : {_n(summary.with_results)} entités avec des résultats sur {_n(total)} "
        f"({_share(summary.with_results, total)} %), {_n(summary.audits)} audits AD "
        f"({_n(summary.created_audits)} créés), {_n(summary.scans)} scans d'exposition "
        f"({_n(summary.created_scans)} créés).",
    ]
    for level in (
        Volet1Level.BOTH,
        Volet1Level.AD_DONE,
        Volet1Level.EXPOSURE_MET,
        Volet1Level.NONE,
    ):
        label = Volet1Level(level).label + (
            " (dont les non-participants)" if level == "none" else ""
        )
        count = summary.by_level.get(level, 0)
        lines.append(f"  - {label} : {_n(count)} ({_share(count, total)} %)")
    if summary.skipped:
        lines.append(
            f"  {_n(summary.skipped)} entités avaient déjà des résultats Volet 1 (exécution "
            "précédente ou import) : laissées telles quelles."
        )
    for email, reached in sorted(summary.featured.items()):
        story = FEATURED_LABELS[FEATURED_ACCOUNTS[email]]
        lines.append(f"  {email} : {Volet1Level(reached).label} ({story}).")
    return lines
