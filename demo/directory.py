"""Demo data of the portal: a plausible, deterministic directory and one account per role.

`seed_demo()` plans GHTs, legal entities (EJ) and sites (ET) from `random.Random(seed)`,
shaped like the real directory (FINESS: ~2,000 legal entities, ~4,000 sites, ~135 GHTs of
~6 public entities, public and private shares per region) with valid identifiers (FINESS
with the département prefix and check digit, EJ numbers 000500-399999 and ET numbers
600000-999999 of a counter per prefix; Luhn-valid SIREN and SIRET), writes it with
`bulk_create(ignore_conflicts=True)` (a re-run creates nothing, existing rows stay), then
the demo accounts (password `settings.DEMO_PASSWORD`, never in production), the Volet 1
results (`demo.volet1`) and the calls and applications (`demo.applications`).
"""

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from stdnum import luhn

from accounts.models import Membership, User
from applications.models import Application, FundingCall, Status
from audits.models import Volet1Level, Volet1Status
from demo.applications import seed_applications
from demo.common import TEXTS, allocate, counting, rows_in, share
from demo.common import count as _n
from demo.volet1 import seed_volet1
from establishments.identifiers import finess_with_check_digit, format_finess
from establishments.models import GHT, Department, LegalEntity, Region, Site, StatisticsGroup
from establishments.reference import finess_prefix_for_department

DEFAULT_SEED, DEFAULT_LEGAL_ENTITIES, MIN_LEGAL_ENTITIES, MAX_LEGAL_ENTITIES = (
    2025,
    2000,
    10,
    60_000,
)
# Per region (orders of magnitude of FINESS, not official): % of the legal entities
# (IDF ~15%, ARA ~12%, Corse ~1%), share of public ones (more private clinics in
# Île-de-France and the south), GHTs (the real map: 135 in all).
REGIONS = {
    "11": (15.0, 0.33, 15), "84": (12.0, 0.43, 15), "75": (9.5, 0.45, 12), "76": (9.5, 0.36, 14),
    "93": (8.5, 0.32, 6), "32": (8.0, 0.45, 14), "44": (8.0, 0.5, 12), "52": (5.0, 0.5, 6),
    "53": (4.5, 0.55, 8), "28": (4.5, 0.52, 11), "27": (4.5, 0.55, 7), "24": (3.5, 0.5, 6),
    "94": (1.0, 0.4, 2), "04": (1.3, 0.4, 1), "01": (0.9, 0.4, 1), "02": (0.8, 0.5, 1),
    "03": (0.5, 0.6, 1), "06": (0.3, 0.8, 1),
}  # fmt: skip
GHTS_AT_DEFAULT, GHT_MAX_MEMBERS, DEMO_REGION = 135, 10, "84"
# Shares as in FINESS (~45% public, ~22% private non-profit, ~33% for-profit): ~850
# public entities in ~135 GHTs (a support and ~5 members each), a few public ones outside.
SHARE_IN_GHT, SHARE_PUBLIC_OUTSIDE_GHT, SHARE_NON_PROFIT, SHARE_INACTIVE = 0.425, 0.025, 0.22, 0.03
# Départements weighing more in the draw of an entity's place (big cities).
BIG_DEPARTMENTS = {
    "75": 4, "13": 4, "69": 4, "59": 4, "33": 3, "31": 3, "06": 3, "92": 3, "93": 3,
    "94": 3, "67": 2, "44": 2, "34": 2, "38": 2, "62": 2, "76": 2, "35": 2, "57": 2,
}  # fmt: skip
# Départements of a CHU: the support of their first GHT is the CHU (FINESS category 101).
CHU_DEPARTMENTS = {
    "75", "45", "37", "21", "25", "76", "14", "59", "80", "67", "54", "51", "44", "49", "35",
    "29", "33", "86", "87", "31", "34", "30", "69", "38", "42", "63", "13", "06", "971", "972",
    "973", "974",
}  # fmt: skip
# Per FINESS category: SAE staff of the legal entity, beds of its main site, its sites.
CATEGORIES = {
    "101": ((5000, 15000), (600, 1800), (3, 6)), "355": ((300, 1500), (150, 700), (2, 4)),
    "106": ((80, 300), (30, 120), (1, 2)), "292": ((300, 1200), (80, 400), (1, 4)),
    "131": ((600, 3000), (100, 300), (1, 4)), "109": ((60, 400), (40, 150), (1, 3)),
    "122": ((60, 450), (50, 200), (1, 3)), "128": ((50, 400), (40, 180), (1, 3)),
    "129": ((50, 250), (30, 120), (1, 3)), "362": ((50, 200), (30, 120), (1, 2)),
    "365": ((80, 600), (80, 350), (1, 4)),
}  # fmt: skip
SUPPORT = ((800, 3000), (150, 700), (2, 6))  # a GHT support that is no CHU
WORDS = TEXTS["directory"]
CHU_NAMES, CLCC_NAMES = (dict(x.split(" ", 1) for x in WORDS[k]) for k in ("chu_names", "clcc"))
PUBLIC, NON_PROFIT, FOR_PROFIT = "public", "private_non_profit", "private_for_profit"


class DemoSeedRefused(RuntimeError):
    """Raised when demo data (public password) would be written in production."""


class DeptInfo(NamedTuple):
    code: str
    name: str
    region: str
    chef_lieu: str


class PlannedSite(NamedTuple):
    finess: str
    siret: str
    name: str
    category: str
    department: str
    beds: int


@dataclass
class PlannedEntity:
    finess: str
    siren: str
    name: str
    status_group: str
    category: str
    department: str
    staff_count: int
    ght: str | None = None
    is_ght_support: bool = False
    active: bool = True
    sites: list[PlannedSite] = field(default_factory=list)

    @property
    def statistics_group(self) -> str:
        return StatisticsGroup.of(self.status_group, self.ght is not None).value


@dataclass
class PlannedGHT:
    code: str
    name: str
    region: str
    department: str
    support: PlannedEntity | None = None
    members: list[PlannedEntity] = field(default_factory=list)


class Plan(NamedTuple):
    ghts: list[PlannedGHT]
    entities: list[PlannedEntity]

    @property
    def sites(self) -> list[PlannedSite]:
        return [site for entity in self.entities for site in entity.sites]


def skewed(rng: random.Random, bounds: tuple[int, int], mode: float = 0.3) -> int:
    """A draw between the bounds, most often near the low end."""
    low, high = bounds
    return int(rng.triangular(low, high, low + (high - low) * mode))


def de(place: str) -> str:
    """French "de" before a place name: du Mans, des Essarts, d'Annecy, de Lyon."""
    for article, contracted in (("Le ", "du "), ("Les ", "des ")):
        if place.startswith(article):
            return contracted + place[len(article) :]
    return ("d'" if place[:1] in "AEIOUYÉÈÊÂÎÔŒ" else "de ") + place


class _Planner:
    """Everything random lives here, drawn in a fixed order from one Random(seed)."""

    def __init__(self, seed: int, departments: Sequence[DeptInfo]) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not security
        self.by_region: dict[str, list[DeptInfo]] = defaultdict(list)
        for dept in sorted(departments):
            self.by_region[dept.region].append(dept)
        self.regions = sorted(self.by_region)
        self.counters: Counter[tuple[str, bool]] = Counter()  # (prefix, site?) -> last number
        self.sirens: set[str] = set()
        self.names: dict[str, set[str]] = defaultdict(set)
        self.clcc = dict(CLCC_NAMES)  # the cancer centres not planned yet

    def finess(self, dept: str, site: bool) -> str:
        prefix = finess_prefix_for_department(dept)
        start, high = (600_000, 999_999) if site else (500, 399_999)
        self.counters[prefix, site] = max(self.counters[prefix, site], start)
        self.counters[prefix, site] += self.rng.randint(1, 6)
        if self.counters[prefix, site] > high:
            raise ValueError(f"FINESS number space of prefix {prefix} exhausted")
        return finess_with_check_digit(f"{prefix}{self.counters[prefix, site]:06d}")

    def siren(self, status_group: str) -> str:
        rng = self.rng
        while True:
            head = {PUBLIC: "26", NON_PROFIT: rng.choice(["77", "78", "30", "31"])}.get(
                status_group, f"{rng.randint(30, 89)}"
            ) + f"{rng.randint(0, 999_999):06d}"
            number = head + luhn.calc_check_digit(head)
            if number not in self.sirens and number != "356000000":  # La Poste's exception
                self.sirens.add(number)
                return number

    def pick_department(self, region: str) -> DeptInfo:
        depts = self.by_region[region]
        return self.rng.choices(depts, [BIG_DEPARTMENTS.get(d.code, 1) for d in depts])[0]

    def town(self, dept: DeptInfo, chef_lieu_share: float = 0.3) -> str:
        if self.rng.random() < chef_lieu_share:
            return dept.chef_lieu
        return self.rng.choice(WORDS["towns"]) + self.rng.choice(WORDS["town_suffixes"])

    def unique_name(self, dept: DeptInfo, make: Callable[[], str]) -> str:
        """Draw names from `make()` until one is new in the département."""
        used, name = self.names[dept.code], make()
        for _ in range(8):
            if name not in used:
                break
            name = make()
        base, n = name, 2
        while name in used:
            name, n = f"{base} ({n})", n + 1
        used.add(name)
        return name

    def entity(self, dept: DeptInfo, group: str, support: str = "") -> PlannedEntity:
        """A new legal entity; `support` of a GHT: "chu", "first" (the first one of its
        département, named after the chef-lieu) or "other"."""
        rng, make = self.rng, None
        if support == "chu":
            category = "101"
            name = f"Centre hospitalier universitaire {de(dept.chef_lieu)}"
            name = CHU_NAMES.get(dept.code, name)
        elif support:
            category, chef_lieu = "355", 1.0 if support == "first" else 0.0
            make = lambda: f"Centre hospitalier {de(self.town(dept, chef_lieu))}"  # noqa: E731
        elif group == NON_PROFIT and self.clcc.get(dept.code) and rng.random() < 0.4:
            category, name = "131", f"Centre de lutte contre le cancer {self.clcc.pop(dept.code)}"
        else:
            kinds = WORDS["kinds"][group]
            _, categories, pattern = rng.choices(kinds, [k[0] for k in kinds])[0]
            category = rng.choice(categories.split())
            make = lambda: pattern.format(  # noqa: E731
                town=de(self.town(dept)), saint=rng.choice(WORDS["saints"]),
                descriptor=rng.choice(WORDS["descriptors"]),
                foundation=rng.choice(WORDS["foundations"]))  # fmt: skip
        name = self.unique_name(dept, make) if make else name
        self.names[dept.code].add(name)
        bounds = (SUPPORT if support in ("first", "other") else CATEGORIES[category])[0]
        staff = skewed(rng, bounds, 0.25)
        staff = max(bounds[0], staff // 10 * 10 if staff >= 1000 else staff)
        return PlannedEntity(self.finess(dept.code, site=False), self.siren(group), name, group,
                             category, dept.code, staff)  # fmt: skip

    def add_sites(self, entity: PlannedEntity, dept: DeptInfo) -> None:
        """The main site (the entity's name and category) and annexes."""
        rng, region_depts = self.rng, self.by_region[dept.region]
        ranges = SUPPORT if entity.is_ght_support and entity.category != "101" else None
        (_, beds, (low, high)) = ranges or CATEGORIES[entity.category]
        nic = rng.randint(1, 30)
        for index in range(int(rng.triangular(low, high + 1, low))):
            site_dept, name, category = dept, entity.name, entity.category
            if index:
                if rng.random() < 0.15:
                    site_dept = rng.choice(region_depts)
                label = (WORDS["chu_site_names"][(index - 1) % 9] if entity.category == "101"
                         else f"site {de(self.town(site_dept, 0.1))}")  # fmt: skip
                name, beds = f"{entity.name} – {label}", (20, 250)
                annex = "362" if entity.status_group == PUBLIC else "109"
                category = rng.choices([entity.category, annex], weights=[72, 28])[0]
            base = f"{entity.siren}{nic + index:04d}"
            siret = base + luhn.calc_check_digit(base)
            finess = self.finess(site_dept.code, site=True)
            entity.sites.append(PlannedSite(finess, siret, name, category, site_dept.code,
                                            skewed(rng, beds)))  # fmt: skip

    def plan(self, n: int) -> Plan:
        rng, regions = self.rng, self.regions
        # GHTs per region, at least one each and in the demo region.
        n_ghts = max(1, round(GHTS_AT_DEFAULT * n / DEFAULT_LEGAL_ENTITIES))
        ghts_per_region = allocate(n_ghts, {r: REGIONS.get(r, (1, 0.45, 1))[2] for r in regions}, 1)
        demo_region = DEMO_REGION if DEMO_REGION in ghts_per_region else regions[0]
        if ghts_per_region[demo_region] == 0:
            ghts_per_region[max(ghts_per_region, key=lambda r: (ghts_per_region[r], r))] -= 1
            ghts_per_region[demo_region] += 1
        ghts: list[PlannedGHT] = []
        for region in regions:
            count = ghts_per_region[region]
            # The first GHTs go to distinct départements, CHUs and big ones first; then drawn.
            ordered = sorted(self.by_region[region], key=lambda d: (d.code not in CHU_DEPARTMENTS,
                             -BIG_DEPARTMENTS.get(d.code, 1), d.code))  # fmt: skip
            homes = ordered[:count] + [
                self.pick_department(region) for _ in range(count - len(ordered))
            ]
            per_dept, numbering = Counter(d.code for d in homes), Counter[str]()
            for index, dept in enumerate(homes, start=1):
                numbering[dept.code] += 1
                suffix = f" {numbering[dept.code]}" if per_dept[dept.code] > 1 else ""
                ghts.append(PlannedGHT(f"GHT-{region}-{index:02d}", f"GHT {dept.name}{suffix}",
                                       region, dept.code))  # fmt: skip

        # Public entities in GHTs per region, as the region's size and public share ask;
        # one member for each GHT, the others drawn among its GHTs not yet full.
        region_weights = {r: REGIONS.get(r, (1.0, 0.45, 1))[0] for r in regions}
        targets = allocate(n, region_weights, 1 if n >= 4 * len(regions) else 0)
        in_ght = allocate(round(SHARE_IN_GHT * n), {
            r: targets[r] * REGIONS.get(r, (1, 0.45))[1] * bool(ghts_per_region[r]) for r in regions
        })  # fmt: skip
        members_of: Counter[str] = Counter()
        for region in regions:
            mine = [g for g in ghts if g.region == region]
            members_of.update(g.code for g in mine)
            for _ in range(in_ght[region] - 2 * len(mine)):
                open_ghts = [g for g in mine if members_of[g.code] < GHT_MAX_MEMBERS] or mine
                members_of[rng.choice(open_ghts).code] += 1

        by_code = {d.code: d for depts in self.by_region.values() for d in depts}
        entities: list[PlannedEntity] = []
        seen: set[str] = set()  # départements with a GHT support already
        for ght in ghts:
            home = by_code[ght.department]
            role = (
                "other" if home.code in seen else "chu" if home.code in CHU_DEPARTMENTS else "first"
            )
            seen.add(home.code)
            ght.support = self.entity(home, PUBLIC, role)
            ght.support.ght, ght.support.is_ght_support = ght.code, True
            for _ in range(members_of[ght.code]):
                dept = home if rng.random() < 0.6 else self.pick_department(ght.region)
                ght.members.append(self.entity(dept, PUBLIC))
                ght.members[-1].ght = ght.code
            entities += [ght.support, *ght.members]

        # The others: each region gets what its weight asks for, minus its GHT entities.
        public = Counter(by_code[e.department].region for e in entities)
        n_public, n_non_profit = round(SHARE_PUBLIC_OUTSIDE_GHT * n), round(SHARE_NON_PROFIT * n)
        n_for_profit = n - len(entities) - n_public - n_non_profit
        if n_for_profit < 0:
            raise ValueError(f"too few legal entities ({n}) for a plausible directory")
        rest = {r: max(targets[r] - public[r], 0) for r in regions}
        rest_per_region = allocate(
            n - len(entities), rest if any(rest.values()) else region_weights
        )
        slots = [r for r in regions for _ in range(rest_per_region[r])]
        # The first one: an active EBNL of the demo region, for etablissement@demo.test.
        slots.remove(demo_region if demo_region in slots else max(slots, key=slots.count))
        statuses = [PUBLIC] * n_public + [NON_PROFIT] * n_non_profit + [FOR_PROFIT] * n_for_profit
        rng.shuffle(statuses)
        statuses.remove(NON_PROFIT)
        others = [self.entity(self.pick_department(region), group) for region, group in
                  zip([demo_region, *slots], [NON_PROFIT, *statuses], strict=True)]  # fmt: skip
        for index in rng.sample(
            range(1, len(others)), min(len(others) - 1, round(SHARE_INACTIVE * n))
        ):
            others[index].active = False
        entities.extend(others)
        for entity in entities:
            self.add_sites(entity, by_code[entity.department])
        return Plan(ghts, entities)


def build_plan(seed: int, legal_entities: int, departments: Sequence[DeptInfo]) -> Plan:
    """The demo directory for a seed, with no database access (pure function)."""
    if not MIN_LEGAL_ENTITIES <= legal_entities <= MAX_LEGAL_ENTITIES:
        raise ValueError(f"--legal-entities : de {MIN_LEGAL_ENTITIES} à {MAX_LEGAL_ENTITIES}.")
    return _Planner(seed, departments).plan(legal_entities)


@dataclass
class DemoSummary:
    seed: int
    plan: Plan
    entity_ids: list[int]  # the planned entities written (or found) in the database
    created: Counter[Any]  # rows created per model; "skipped": entities of another
    accounts: list[tuple[str, str, str]]  # e-mail, role, scope


def seed_demo(*, seed: int = DEFAULT_SEED, legal_entities: int = DEFAULT_LEGAL_ENTITIES
              ) -> DemoSummary:  # fmt: skip
    """Write the demo directory, accounts, Volet 1 results and applications; idempotent
    for a given seed."""
    if getattr(settings, "CARE_ENVIRONMENT", "") == "prod":
        raise DemoSeedRefused("Refus : pas de données de démonstration en production.")
    rows = list(Department.objects.order_by("code").values_list(
        "id", "code", "name", "region__code", "chef_lieu", "region_id"))  # fmt: skip
    if not rows:
        raise RuntimeError("No département in the database: run `manage.py migrate` first.")
    dept_ids, region_ids = {r[1]: r[0] for r in rows}, {r[3]: r[5] for r in rows}
    departments = [DeptInfo(c, n, r, ch or n) for _, c, n, r, ch, _ in rows]
    plan = build_plan(seed, legal_entities, departments)
    created: Counter[Any] = Counter()
    with transaction.atomic(), counting(created, GHT, LegalEntity, Site, User, Membership):
        GHT.objects.bulk_create([GHT(code=g.code, name=g.name, region_id=region_ids[g.region])
                                 for g in plan.ghts], ignore_conflicts=True)  # fmt: skip
        codes = [g.code for g in plan.ghts]
        ghts = dict(rows_in(GHT.objects.values_list("code", "id"), "code", codes))
        LegalEntity.objects.bulk_create(
            [LegalEntity(finess=e.finess, siren=e.siren, name=e.name, status_group=e.status_group,
                         finess_category=e.category, department_id=dept_ids[e.department],
                         ght_id=ghts.get(e.ght or ""), is_ght_support=e.is_ght_support,
                         staff_count=e.staff_count, active=e.active) for e in plan.entities],
            batch_size=500, ignore_conflicts=True,
        )  # fmt: skip
        # A FINESS already in the database for another entity is not ours: no site is
        # attached to it, no demo account points at it.
        query = LegalEntity.objects.values_list("finess", "id", "name", "ght_id", "is_ght_support")
        found = {f: r for f, *r in rows_in(query, "finess", [e.finess for e in plan.entities])}
        ids = {e.finess: found[e.finess][0] for e in plan.entities if found.get(e.finess, [0])[1:]
               == [e.name, ghts.get(e.ght or ""), e.is_ght_support]}  # fmt: skip
        Site.objects.bulk_create(
            [Site(finess=s.finess, siret=s.siret, legal_entity_id=ids[e.finess], name=s.name,
                  category=s.category, department_id=dept_ids[s.department], beds=s.beds)
             for e in plan.entities if e.finess in ids for s in e.sites],
            batch_size=500, ignore_conflicts=True,
        )  # fmt: skip
        accounts = _seed_accounts(plan, ids, {d[1]: d[3] for d in rows})
        created["skipped"] = len(plan.entities) - len(ids)
        # Volet 1 after the accounts (their entities have stories), then the applications.
        created.update(seed_volet1(seed=seed, legal_entity_ids=ids.values()))
        created.update(seed_applications(seed=seed, legal_entity_ids=ids.values()))
    return DemoSummary(seed, plan, sorted(ids.values()), created, accounts)


def _seed_accounts(plan: Plan, ids: dict[str, int], dept_regions: dict[str, str]
                   ) -> list[tuple[str, str, str]]:  # fmt: skip
    """The five demo accounts (password `settings.DEMO_PASSWORD`), each with one scope; a
    re-run restores their flags and password. ght@ is the support of a GHT with an active
    member, etablissement@ an entity filing for itself (an EBNL, a hospital first), both
    in the demo region when possible; ars@ instructs etablissement@'s region."""
    ghts = [g for g in plan.ghts if g.support and g.support.finess in ids
            and any(m.finess in ids and m.active for m in g.members)]  # fmt: skip
    own = [e for e in plan.entities if e.finess in ids and e.active and e.statistics_group != "ght"]
    if not ghts or not own:
        raise RuntimeError("No GHT with a support and a member, or no entity outside a GHT.")
    ght = min(ghts, key=lambda g: g.region != DEMO_REGION)
    support = ght.support
    groups, categories = (NON_PROFIT, "public_outside_ght", FOR_PROFIT), ("365", "131", "355")
    entity = min(own, key=lambda e: (
        dept_regions[e.department] != DEMO_REGION, groups.index(e.statistics_group),
        categories.index(e.category) if e.category in categories else 9))  # fmt: skip
    assert support is not None
    region = Region.objects.get(code=dept_regions[entity.department])
    E, R, M = Membership.Role.ESTABLISHMENT, Membership.Role.REGIONAL, Membership.Role.MINISTRY
    label = lambda e: f"{e.name} (FINESS EJ {format_finess(e.finess)})"  # noqa: E731
    specs: list[tuple[Any, ...]] = [  # e-mail, name, staff, superuser, scope, role, label
        ("etablissement@demo.test", "Démo Établissement", False, False,
         {"role": E, "legal_entity_id": ids[entity.finess]}, "Établissement",
         f"{label(entity)}, {StatisticsGroup(entity.statistics_group).label}"),
        ("ght@demo.test", "Démo Support de GHT", False, False,
         {"role": E, "legal_entity_id": ids[support.finess]}, "Établissement",
         f"{label(support)}, support du {ght.name}"),
        ("ars@demo.test", "Démo ARS", False, False, {"role": R, "region_id": region.id},
         "ARS (région)", f"Région {region.name} ({region.ars_name})"),
        ("ministere@demo.test", "Démo Ministère", True, False, {"role": M}, "Ministère / ANS",
         "National, accès à l'administration"),
        ("admin@demo.test", "Démo Administrateur", True, True, None, "Administrateur du programme",
         "National, superutilisateur"),
    ]  # fmt: skip
    password, hashed = settings.DEMO_PASSWORD, make_password(settings.DEMO_PASSWORD)
    for email, full_name, staff, superuser, scope, _, _ in specs:
        wanted = {"is_staff": staff, "is_superuser": superuser, "is_active": True}
        defaults = {"full_name": full_name, "password": hashed, **wanted}
        user, _ = User.objects.get_or_create(email=email, defaults=defaults)
        changed = [key for key, value in wanted.items() if getattr(user, key) != value]
        for key in changed:
            setattr(user, key, wanted[key])
        if not user.check_password(password):
            user.password = hashed
            changed.append("password")
        if changed:
            user.save(update_fields=changed)
        if scope is not None:  # one scope per demo account: one an earlier seed picked goes
            membership, _ = Membership.objects.get_or_create(user=user, **scope)
            user.memberships.exclude(pk=membership.pk).delete()
    return [(email, role, scope) for email, *_, role, scope in specs]


def summary_lines(summary: DemoSummary) -> list[str]:
    """The French report printed by the command: what is there, what was created, then
    the accounts table."""
    plan, ids, created = summary.plan, summary.entity_ids, summary.created
    total = len(plan.entities)
    groups = Counter(e.statistics_group for e in plan.entities)
    lines = [f"Données de démonstration (graine {summary.seed}) : {_n(total)} entités juridiques, "
             f"{_n(len(plan.sites))} sites, {len(plan.ghts)} GHT."]  # fmt: skip
    lines += [f"  - {label} : {_n(groups[value])} ({share(groups[value], total)} %)"
              for value, label in StatisticsGroup.choices]  # fmt: skip
    if created["skipped"]:
        lines.append(f"  {_n(created['skipped'])} entités du plan ignorées : leur numéro FINESS "
                     "est déjà pris par une autre entité (données existantes).")  # fmt: skip
    levels = Counter(rows_in(Volet1Status.objects.values_list("level", flat=True),
                             "legal_entity_id", ids))  # fmt: skip
    lines.append("  Volet 1 : " + ", ".join(
        f"{label} {_n(levels[value])} ({share(levels[value], total)} %)"
        for value, label in reversed(Volet1Level.choices)) + ".")  # fmt: skip
    for call in FundingCall.objects.filter(code__in=["D1-2024", "D2-2025"]).order_by("code"):
        statuses = Counter(rows_in(call.applications.values_list("status", flat=True),
                                   "candidate_id", ids))  # fmt: skip
        spread = ", ".join(
            f"{Status(s).label} {_n(n)}" for s in Status.values if (n := statuses[s])
        )
        lines.append(f"  Appel {call.code} ({'ouvert' if call.is_open() else 'clos'}) : "
                     f"{_n(statuses.total())} candidatures : {spread}.")  # fmt: skip
    made = [
        f"{_n(n)} {k._meta.verbose_name_plural}" for k, n in created.items() if hasattr(k, "_meta")
    ]
    lines.append(f"  Créés : {', '.join(made)} ; {_n(created['files'])} fichiers de pièces.")
    for email, _, _ in summary.accounts[:2]:
        entity = LegalEntity.objects.filter(memberships__user__email=email).first()
        status = Volet1Status.objects.filter(legal_entity=entity).first()
        apps = Application.objects.filter(candidate=entity).order_by("reference")
        mine = ", ".join(f"{a.reference} ({a.get_status_display()})" for a in apps)
        lines.append(f"  {email} : {status.get_level_display() if status else '-'} ; {mine}.")
    lines += ["", f"Comptes de démonstration (mot de passe {settings.DEMO_PASSWORD}) :"]
    width = max(len(a[0]) for a in summary.accounts)
    lines += [
        f"  {email.ljust(width)}  {role} : {scope}" for email, role, scope in summary.accounts
    ]
    return lines
