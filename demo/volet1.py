"""Demo Volet 1 results: AD audits, exposure scans and statuses of the demo entities.

~85% of the entities took part (GHT 100%, public outside a GHT 86%, EBNL 71%, for-profit
88%, inactive none): nearly all had their AD audited (PingCastle, ORADAD for some) from
April 2024 to June 2025; most are scanned by SILENE about monthly from May 2024, meeting
the minimum level (no critical, at most two high vulnerabilities) more and more often:
~80-85% meet D1.O2.B (two compliant scans 45 to 60 days apart, `audits.status`). A
PingCastle audit lists its triggered rules (`DirectoryAuditRule`, from the shipped table
audits/data/pingcastle_rules.csv): its maturity level is its worst rule's, its findings
are its rules counted by severity, the points of a category's rules add up to its score
(an ORADAD audit has none: they are PingCastle's). Each entity draws from its own
`random.Random(f"{seed}-{finess}")` (its rules from `f"{seed}-{finess}-rules"`) with
fixed dates; one with results is left alone. Two have a fixed story:
etablissement@demo.test's (AD done, only its last scan, eight days before the seeding
day, compliant: the page tells the next step) and ght@demo.test's support (both
objectives met).
"""

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from audits.models import DirectoryAudit, DirectoryAuditRule, ExposureScan
from audits.pingcastle_rules import SEVERITIES, rule_levels, severity
from audits.services import volet1_status_refresh
from audits.status import ScanPoint, exposure_pair
from demo.common import STOP_WORDS, counting, rows_in, words
from establishments.models import LegalEntity, StatisticsGroup

AUDITS_START, FIRST_AUDITS_END, AUDITS_END = date(2024, 4, 1), date(2025, 3, 31), date(2025, 6, 30)
SCANS_START, SCANS_END = date(2024, 5, 1), date(2025, 10, 15)  # fixed: no "today"
PARTICIPATION = {"ght": 1.0, "public_outside_ght": 0.86, "private_non_profit": 0.71}
SHARE_AD_ONLY, SHARE_SCANS_ONLY = 0.04, 0.05  # participants with one kind of results only
SHARE_EXPOSURE_MET = 0.87  # participants with scans that meet D1.O2.B
MIN_SCANS, MAX_SCANS, MAX_SERVICES = 4, 18, 40
CATEGORIES = ("stale_objects_score", "privileged_accounts_score", "trusts_score",
              "anomalies_score")  # fmt: skip
CATEGORY_WEIGHTS = (30, 36, 4, 30)  # how often each category is the worst, hence the score
FINDINGS = ("findings_critical", "findings_high", "findings_medium", "findings_low")
MATURITY = ((80, (85, 15, 0, 0, 0)), (40, (45, 40, 15, 0, 0)), (20, (15, 40, 35, 10, 0)),
            (0, (0, 10, 40, 38, 12)))  # (global score from, weights of levels 1-5)  # fmt: skip
# The category of a PingCastle rule by the letter its RiskId starts with, and its score.
RULE_CATEGORIES = {
    "S": ("StaleObjects", "stale_objects_score"),
    "P": ("PrivilegedAccounts", "privileged_accounts_score"),
    "T": ("Trusts", "trusts_score"),
    "A": ("Anomalies", "anomalies_score"),
}
RULE_COUNTS = {1: (2, 25), 2: (3, 15), 3: (4, 10)}  # up to base + score // step rules
SHARE_INFORMATIONAL = 0.12  # triggered rules worth 0 points
STORIES = {"etablissement@demo.test": "next_step", "ght@demo.test": "both"}
# Abbreviations of names in AD domain names, longest first.
DOMAIN_PREFIXES = (
    ("assistance publique hopitaux", "ap-h"), ("centre hospitalier universitaire", "chu"),
    ("centre hospitalier intercommunal", "chi"), ("centre hospitalier specialise", "chs"),
    ("centre hospitalier", "ch"), ("etablissement public de sante mentale", "epsm"),
    ("centre de lutte contre le cancer", "clcc"), ("centre de reeducation fonctionnelle", "crf"),
    ("centre de soins de longue duree", "csld"), ("centre de readaptation", "crf"),
    ("clinique de soins de suite", "ssr"), ("centre medical", "cm"), ("hopital local", "hl"),
    ("hopital prive", "hp"), ("hopital mutualiste", "hm"), ("groupe hospitalier", "gh"),
)  # fmt: skip


class Entity(NamedTuple):
    id: int
    finess: str
    name: str
    group: str  # statistics group
    active: bool
    big: bool  # CHU, GHT support or 1,000 staff and more: more AD domains, more services


Results = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # audits, scans


def plan_entity(seed: int, entity: Entity, story: str | None, today: date) -> Results:
    """The Volet 1 results of one entity (no database access). `today` dates the
    next-step story, whose point is what is due in the coming weeks."""
    rng = random.Random(f"{seed}-{entity.finess}")  # noqa: S311 - demo data
    participates = rng.random() < PARTICIPATION.get(entity.group, 0.88)
    profile, domain = rng.random(), _domain(rng, entity.name)
    if story:
        audits, scans = (_next_step_story(domain, today) if story == "next_step"
                         else _both_story(domain))  # fmt: skip
    elif not entity.active or not participates:
        return [], []
    else:
        audits = _audits(rng, entity, domain) if profile < 1 - SHARE_SCANS_ONLY else []
        meets = rng.random() < SHARE_EXPOSURE_MET
        scans = _scans(rng, entity, meets) if profile >= SHARE_AD_ONLY else []
    # The rules draw from a generator of their own: the other results stay as they were.
    rules_rng = random.Random(f"{seed}-{entity.finess}-rules")  # noqa: S311 - demo data
    for row in audits:
        if row["tool"] == DirectoryAudit.Tool.PINGCASTLE:
            _add_rules(rules_rng, row)
    return audits, scans


@lru_cache(maxsize=1)
def _levels() -> dict[int, list[str]]:
    """The shipped table's rules by ANSSI level, in a fixed order."""
    by_level: dict[int, list[str]] = defaultdict(list)
    for risk_id, level in sorted(rule_levels().items()):
        by_level[level].append(risk_id)
    return by_level


def _add_rules(rng: random.Random, row: dict[str, Any]) -> None:
    """The triggered rules of a PingCastle audit, from the shipped table, as a report of
    its level shows them: one rule or more at each level from the domain's to 3 (and at
    its own when 4 or 5), more with a higher score, none below the domain's level; some
    level 4-5 rules; a rule in each category with a score when the table has one at the
    domain's level or above. Each category's score is shared out among its rules' points
    (a category at 0 has informational rules only); the findings counted by severity are
    those of the rules, as an import computes them."""
    level, score, by_level = row["maturity_level"], row["global_score"], _levels()
    chosen: list[str] = []
    for n, (base, step) in RULE_COUNTS.items():
        if level <= n:
            chosen += rng.sample(
                by_level[n], min(len(by_level[n]), rng.randint(1, base + score // step))
            )
    if level >= 4:
        chosen.append(rng.choice(by_level[level]))
    low = [r for n in (4, 5) if n >= level for r in by_level[n] if r not in chosen]
    chosen += rng.sample(low, rng.choices((0, 1, 2), (50, 35, 15))[0] if low else 0)
    for letter, (_, field) in RULE_CATEGORIES.items():  # a category's score has its rules
        if row[field] and not any(r[0] == letter for r in chosen):
            fits = [r for n in range(level, 6) for r in by_level[n] if r[0] == letter]
            chosen += [rng.choice(fits)] if fits else []
    by_category: dict[str, list[str]] = defaultdict(list)
    for risk_id in chosen:
        by_category[risk_id[0]].append(risk_id)
    rules: list[dict[str, Any]] = []
    levels = rule_levels()
    for letter, risk_ids in sorted(by_category.items()):
        category, field = RULE_CATEGORIES[letter]
        total = row[field]
        paying = [r for r in risk_ids if rng.random() >= SHARE_INFORMATIONAL] if total else []
        paying = (paying or risk_ids[:1]) if total else []
        cuts = sorted(rng.sample(range(1, total), min(len(paying), total) - 1)) if total else []
        # paying[i] gets the i-th share; beyond the score's points, the rest get 0
        points = dict(zip(paying, (b - a for a, b in pairwise([0, *cuts, total])), strict=False))
        rules += [{"risk_id": r, "category": category, "points": points.get(r, 0),
                   "maturity_level": levels[r],
                   "rationale": f"{r} : constat de démonstration ({row['domain']})"}
                  for r in risk_ids]  # fmt: skip
    found = Counter(severity(rule["maturity_level"]) for rule in rules)
    row.update({name: found[key] for name, key in zip(FINDINGS, SEVERITIES, strict=True)})
    row["rules"] = rules


def _domain(rng: random.Random, name: str) -> str:
    text, head = " ".join(words(name)), ""
    for prefix, abbreviation in DOMAIN_PREFIXES:
        if text == prefix or text.startswith(prefix + " "):
            head, text = abbreviation, text[len(prefix) :]
            break
    label = "-".join([head, *(w for w in text.split() if w not in STOP_WORDS)]).strip("-")
    pattern = rng.choices(["{}.local", "{}.lan", "{}.intra", "ad.{}.fr"], [50, 15, 15, 20])[0]
    return pattern.format(label[:40].strip("-") or "etab")


def _global_score(rng: random.Random) -> int:
    """PingCastle global score: many 30-80, a tail at 100, a few good ones below 20."""
    draw = rng.random()
    return 100 if draw < 0.12 else rng.randint(3, 19) if draw < 0.2 else round(
        rng.triangular(20, 99, 55))  # fmt: skip


def _audit_row(rng: random.Random, tool: str, domain: str, day: date, score: int,
               floor: int = 1) -> dict[str, Any]:  # fmt: skip
    """An audit whose findings follow its maturity level (checkpoints of the lowest
    level missed) and grow with the score."""
    weights = next(w for low, w in MATURITY if score >= low)
    level = max(floor, rng.choices((1, 2, 3, 4, 5), weights)[0])
    row: dict[str, Any] = {"audit_date": day, "tool": tool, "domain": domain,
                           "maturity_level": level}  # fmt: skip
    for n, (name, base, step) in enumerate(zip(FINDINGS, (2, 3, 4, 6), (25, 15, 10, 10),
                                               strict=True), start=1):  # fmt: skip
        row[name] = rng.randint(1, base + score // step) if level <= n else 0
    row["findings_low"] = row["findings_low"] or rng.randint(0, 3)
    if tool == DirectoryAudit.Tool.PINGCASTLE:
        worst = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        for name in CATEGORIES:
            no_trust = name == "trusts_score" and rng.random() < 0.6
            row[name] = score if name == worst else 0 if no_trust else round(
                score * rng.uniform(0.1, 1.0))  # fmt: skip
        row["global_score"] = max(row[name] for name in CATEGORIES)
    return row


def _audits(rng: random.Random, entity: Entity, main: str) -> list[dict[str, Any]]:
    tool = DirectoryAudit.Tool.ORADAD if rng.random() < 0.22 else DirectoryAudit.Tool.PINGCASTLE
    count = rng.choices((1, 2, 3), (40, 40, 20) if entity.big else (80, 15, 5))[0]
    extra = rng.sample(("adm", "rec", "labo", "pacs", "old", "dmz"), count - 1)
    span = (FIRST_AUDITS_END - AUDITS_START).days
    first = AUDITS_START + timedelta(days=round(rng.triangular(0, span, span * 0.2)))
    rows = []
    for index, domain in enumerate([main, *(f"{p}.{main.removeprefix('ad.')}" for p in extra)]):
        day, score = first + timedelta(days=rng.randint(0, 21) if index else 0), _global_score(rng)
        rows.append(_audit_row(rng, tool, domain, day, score))
        for chance in (0.3, 0.15, 0.15, 0.15):  # audited again after remediation
            day += timedelta(days=rng.randint(60, 300))
            if rng.random() >= chance or day > AUDITS_END:
                break
            score = max(3, score - rng.randint(10, 45))
            rows.append(_audit_row(rng, tool, domain, day, score, rows[-1]["maturity_level"]))
    return rows


def _scans(rng: random.Random, entity: Entity, meets: bool) -> list[dict[str, Any]]:
    """Monthly-ish scans (a skipped month sometimes, a gap rarely) ending lately for
    most, compliant more and more often from a turning point on."""
    count = round(rng.triangular(MIN_SCANS, MAX_SCANS, 8))
    recent = rng.random() < 0.8
    last = SCANS_END - timedelta(days=rng.randint(0, 30) if recent else rng.randint(31, 200))
    gaps = [rng.choices([rng.randint(28, 35), rng.randint(45, 60), rng.randint(61, 110)],
                        [80, 12, 8])[0] for _ in range(count - 1)]  # fmt: skip
    turn = int(count * (rng.uniform(0, 0.6) if meets else rng.uniform(0.4, 1.2)))
    before, after = (0.25, 0.92) if meets else (0.2, 0.7)
    flags = [rng.random() < (after if i >= turn else before) for i in range(count)]
    if meets:  # a compliant pair among the last four scans (never dropped below)
        keep = rng.randint(max(min(turn, count - 2), count - 4), count - 2)
        gaps[keep], flags[keep], flags[keep + 1] = rng.randint(45, 60), True, True
    days = [last]
    for gap in reversed(gaps):
        days.insert(0, days[0] - timedelta(days=gap))
    flags = [f for d, f in zip(days, flags, strict=True) if d >= SCANS_START]
    days = [d for d in days if d >= SCANS_START]
    while not meets and (pair := exposure_pair(map(ScanPoint, days, flags))) is not None:
        flags[days.index(pair[1])] = False
    services = round(
        rng.triangular(8, MAX_SERVICES, 20) if entity.big else rng.triangular(1, 25, 5)
    )
    rows = []
    for day, met in zip(days, flags, strict=True):
        critical = (
            0 if met else rng.choices((0, 1, 2, 3, 4, 5, 6, 8), (20, 40, 22, 8, 4, 3, 2, 1))[0]
        )
        high = rng.choices((0, 1, 2), (60, 28, 12))[0] if met else rng.randint(
            3 if critical == 0 else 0, 8 if critical == 0 else 5)  # fmt: skip
        rows.append(_scan(day, min(MAX_SERVICES, max(1, services + rng.randint(-2, 2))), critical,
                          high, rng.randint(0, 2), rng.randint(0, 3)))  # fmt: skip
    return rows


def _scan(day: date, services: int, critical: int, high: int, medium: int, low: int
          ) -> dict[str, Any]:  # fmt: skip
    return {"scan_date": day, "exposed_services": services, "vulns_critical": critical,
            "vulns_high": high, "vulns_medium": medium + services // 4,
            "vulns_low": low + services // 3,
            "minimum_level_met": critical == 0 and high <= 2}  # fmt: skip


def _pingcastle(domain: str, day: date, scores: tuple[int, ...], *found: int) -> dict[str, Any]:
    return {"audit_date": day, "tool": DirectoryAudit.Tool.PINGCASTLE, "domain": domain,
            "global_score": max(scores), "maturity_level": found[0],
            **dict(zip(CATEGORIES, scores, strict=True)),
            **dict(zip(FINDINGS, found[1:], strict=True))}  # fmt: skip


def _next_step_story(domain: str, today: date) -> Results:
    """AD audited (82, then 58 after remediation); twelve monthly scans, only the last
    one compliant, eight days before `today`: D1.O2.B needs one more compliant scan 45
    to 60 days after it, which the page announces with its dates."""
    last = today - timedelta(days=8)
    audits = [
        _pingcastle(domain, last - timedelta(476), (82, 70, 0, 64), 1, 2, 7, 12, 9),
        _pingcastle(domain, last - timedelta(210), (40, 58, 0, 45), 2, 0, 3, 9, 11),
    ]
    # (days before the last scan, exposed services, critical, high)
    series = ((336, 14, 4, 5), (307, 14, 3, 5), (273, 13, 3, 4), (245, 13, 2, 4), (216, 12, 2, 4),
              (182, 12, 2, 3), (154, 11, 1, 3), (125, 11, 1, 3), (91, 10, 1, 4), (63, 10, 1, 3),
              (28, 9, 0, 4), (0, 9, 0, 1))  # fmt: skip
    return audits, [_scan(last - timedelta(d), n, c, h, 2, 3) for d, n, c, h in series]


def _both_story(domain: str) -> Results:
    """Two domains audited, the main one twice; monthly scans compliant from February
    2025, with a 49-day interval (3 February - 24 March 2025) that meets D1.O2.B."""
    audits = [
        _pingcastle(domain, date(2024, 5, 14), (64, 51, 10, 38), 2, 0, 6, 14, 12),
        _pingcastle(f"adm.{domain.removeprefix('ad.')}", date(2024, 5, 16), (45, 45, 0, 30), 2,
                    0, 3, 8, 7),
        _pingcastle(domain, date(2025, 1, 21), (24, 31, 10, 18), 3, 0, 0, 6, 9),
    ]  # fmt: skip
    series = (((2024, 6, 3), 31, 3, 4), ((2024, 7, 2), 31, 3, 3), ((2024, 8, 5), 30, 2, 4),
              ((2024, 9, 3), 30, 2, 3), ((2024, 10, 1), 29, 1, 3), ((2024, 11, 4), 28, 1, 3),
              ((2024, 12, 3), 28, 1, 2), ((2025, 1, 6), 27, 0, 4), ((2025, 2, 3), 26, 0, 1),
              ((2025, 3, 24), 26, 0, 1), ((2025, 4, 22), 25, 0, 0), ((2025, 5, 20), 25, 0, 1),
              ((2025, 6, 24), 25, 0, 0), ((2025, 7, 22), 24, 0, 2), ((2025, 8, 26), 24, 0, 0),
              ((2025, 9, 30), 24, 0, 1))  # (date, exposed services, critical, high)  # fmt: skip
    return audits, [_scan(date(*ymd), n, c, h, 1, 3) for ymd, n, c, h in series]


def seed_volet1(*, seed: int, legal_entity_ids: Iterable[int] | None = None) -> Counter[Any]:
    """Write demo Volet 1 results for these entities (all entities when None) and
    refresh their statuses; idempotent for a given seed. Returns the rows created per
    model and how many entities were skipped (they had results)."""
    fields = ("id", "finess", "name", "status_group", "ght_id", "is_ght_support", "active",
              "finess_category", "staff_count")  # fmt: skip
    query = LegalEntity.objects.values_list(*fields).order_by("finess")
    ids = None if legal_entity_ids is None else sorted(set(legal_entity_ids))
    entities = sorted(
        (Entity(pk, finess, name, StatisticsGroup.of(status, ght is not None), active,
                bool(support or category == "101" or (staff or 0) >= 1000))
         for pk, finess, name, status, ght, support, active, category, staff in
         (query if ids is None else rows_in(query, "id", ids))),
        key=lambda e: e.finess)  # fmt: skip
    ids = [e.id for e in entities]
    stories = dict(Membership.objects.filter(user__email__in=list(STORIES), role="establishment")
                   .values_list("legal_entity_id", "user__email"))  # fmt: skip
    created: Counter[Any] = Counter()
    with transaction.atomic(), counting(created, DirectoryAudit, ExposureScan, DirectoryAuditRule):
        done = {*rows_in(DirectoryAudit.objects.values_list("legal_entity_id", flat=True),
                         "legal_entity_id", ids),
                *rows_in(ExposureScan.objects.values_list("legal_entity_id", flat=True),
                         "legal_entity_id", ids)}  # fmt: skip
        audits, scans, rules = [], [], {}
        for e in entities:
            if e.id not in done:
                mine = plan_entity(
                    seed, e, STORIES.get(stories.get(e.id, "")), timezone.localdate()
                )
                for row in mine[0]:
                    key = (e.id, row["tool"], row["domain"], row["audit_date"])
                    rules[key] = row.pop("rules", [])
                    audits.append(DirectoryAudit(legal_entity_id=e.id, **row))
                scans += [ExposureScan(legal_entity_id=e.id, **row) for row in mine[1]]
        DirectoryAudit.objects.bulk_create(audits, batch_size=1000, ignore_conflicts=True)
        ExposureScan.objects.bulk_create(scans, batch_size=1000, ignore_conflicts=True)
        # ignore_conflicts returns no primary keys: the audits written are found again.
        written = DirectoryAudit.objects.values_list("id", "legal_entity_id", "tool", "domain",
                                                     "audit_date")  # fmt: skip
        DirectoryAuditRule.objects.bulk_create(
            [DirectoryAuditRule(audit_id=pk, **rule) for pk, *key in
             rows_in(written, "legal_entity_id", sorted({e for e, *_ in rules}))
             for rule in rules.get(tuple(key), [])], batch_size=2000)  # fmt: skip
        volet1_status_refresh(legal_entity_ids=ids)
    created["volet1_skipped"] = len(done)
    return created
