"""Demo data of the portal: a plausible, deterministic directory and one account per role.

`seed_demo()` builds, from `random.Random(seed)` only, a plan of GHTs, legal entities
(EJ) and sites (ET) spread over the 18 regions roughly like the real directory
(FINESS: ~2,000 legal entities, ~4,000 sites, ~135 GHTs of ~6 entities), then writes it with
`bulk_create(ignore_conflicts=True)`: a second run with the same seed creates nothing,
and rows already in the database (real imports, other tests) are left alone.

FINESS numbers are the département prefix, six digits and the check digit; EJ numbers
use 000500-399999 and ET numbers 600000-999999 of a counter per prefix, so an EJ and an
ET never collide (overseas départements share the "97" prefix, hence one counter per
prefix rather than per département). SIREN are Luhn-valid, SIRET are the SIREN plus a
NIC whose last digit makes the 14 digits Luhn-valid.

The Volet 1 results of the demo entities (AD audits, exposure scans, statuses) come
from `demo.volet1.seed_volet1`, then the funding calls and the applications of the demo
entities (the closed D1 call with its history, the open D2 call with applications in
every state) from `demo.applications.seed_applications`, both called at the end of
`seed_demo()`.

The demo accounts (password `settings.DEMO_PASSWORD`) are never created in production.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from stdnum import luhn

from accounts.models import Membership, User
from demo.applications import (
    ApplicationsDemoSummary,
    applications_summary_lines,
    seed_applications,
)
from demo.common import TEXTS, Writer, chunks, share
from demo.common import count as _n
from demo.volet1 import Volet1DemoSummary, seed_volet1, volet1_summary_lines
from establishments.identifiers import finess_with_check_digit, format_finess
from establishments.models import GHT, Department, LegalEntity, Region, Site, StatusGroup
from establishments.reference import finess_prefix_for_department

DEFAULT_SEED = 2025
DEFAULT_LEGAL_ENTITIES = 2000
MIN_LEGAL_ENTITIES = 10
MAX_LEGAL_ENTITIES = 60_000
BATCH_SIZE = 500
# fmt: off
# Share of legal entities per region (not official: orders of magnitude of the FINESS
# sanitary directory; IDF ~15%, ARA ~12%, overseas small, Corse ~1%).
REGION_WEIGHTS: dict[str, float] = {
    "11": 15.0, "84": 12.0, "75": 9.5, "76": 9.5, "93": 8.5, "32": 8.0, "44": 8.0,
    "52": 5.0, "53": 4.5, "28": 4.5, "27": 4.5, "24": 3.5, "94": 1.0, "04": 1.3,
    "01": 0.9, "02": 0.8, "03": 0.5, "06": 0.3,
}
# Share of public entities per region (orders of magnitude of FINESS: more private
# clinics in Île-de-France and the south, more public hospitals in the west and east).
PUBLIC_SHARE: dict[str, float] = {
    "11": 0.33, "93": 0.32, "76": 0.36, "94": 0.4, "84": 0.43, "75": 0.45, "32": 0.45,
    "44": 0.5, "52": 0.5, "24": 0.5, "28": 0.52, "27": 0.55, "53": 0.55, "01": 0.4,
    "02": 0.5, "03": 0.6, "04": 0.4, "06": 0.8,
}
# GHTs per region, close to the real map (135 in all).
GHT_WEIGHTS: dict[str, float] = {
    "11": 15, "84": 15, "75": 12, "76": 14, "93": 6, "32": 14, "44": 12, "52": 6,
    "53": 8, "28": 11, "27": 7, "24": 6, "94": 2, "04": 1, "01": 1, "02": 1, "03": 1, "06": 1,
}
GHTS_AT_DEFAULT = 135
GHT_MAX_MEMBERS = 10

# Shares of the legal status groups, as in FINESS (health establishments: ~45% public,
# ~22% private non-profit, ~33% for-profit): ~850 public entities in ~135 GHTs (a
# support and ~5 members each), a few public ones outside.
SHARE_IN_GHT = 0.425  # supports and members
SHARE_PUBLIC_OUTSIDE_GHT = 0.025
SHARE_NON_PROFIT = 0.22  # the for-profit share is the rest
SHARE_INACTIVE = 0.03

# Départements weighing more in the draw of an entity's place (big cities).
BIG_DEPARTMENTS = {
    "75": 4, "13": 4, "69": 4, "59": 4, "33": 3, "31": 3, "06": 3, "92": 3, "93": 3,
    "94": 3, "67": 2, "44": 2, "34": 2, "38": 2, "62": 2, "76": 2, "35": 2, "57": 2,
}
# Départements of a CHU (regional capitals and other university cities): the support
# of their first GHT is the CHU, FINESS category 101.
CHU_DEPARTMENTS = {
    "75", "45", "37", "21", "25", "76", "14", "59", "80", "67", "54", "51", "44", "49",
    "35", "29", "33", "86", "87", "31", "34", "30", "69", "38", "42", "63", "13", "06",
    "971", "972", "973", "974",
}
# Names (demo/texts.toml): CHUs and cancer centres by département, towns, saints…
WORDS = TEXTS["directory"]
CHU_NAMES, CLCC_NAMES = WORDS["chu_names"], WORDS["clcc_names"]
TOWNS, TOWN_SUFFIXES, SAINTS = WORDS["towns"], WORDS["town_suffixes"], WORDS["saints"]
DESCRIPTORS, FOUNDATIONS = WORDS["descriptors"], WORDS["foundations"]
CHU_SITE_NAMES = WORDS["chu_site_names"]
# (low, high) per category: SAE staff of a legal entity, beds of a main site.
STAFF = {
    "101": (5000, 15000), "355": (300, 1500), "106": (80, 300), "292": (300, 1200),
    "131": (600, 3000), "109": (60, 400), "122": (60, 450), "128": (50, 400),
    "129": (50, 250), "362": (50, 200), "365": (80, 600),
}
SUPPORT_STAFF = (800, 3000)
BEDS = {
    "101": (600, 1800), "355": (150, 700), "106": (30, 120), "292": (80, 400),
    "131": (100, 300), "109": (40, 150), "122": (50, 200), "128": (40, 180),
    "129": (30, 120), "362": (30, 120), "365": (80, 350),
}
ANNEX_BEDS = (20, 250)
# fmt: on

ROLE_LABELS = {
    "establishment": "Établissement",
    "regional": "ARS (région)",
    "ministry": "Ministère / ANS",
    "superuser": "Administrateur du programme",
}


class DemoSeedRefused(RuntimeError):
    """Raised when demo data (public password) would be written in production."""


# --------------------------------------------------------------------------- plan


@dataclass
class PlannedSite:
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
        if self.status_group == StatusGroup.PUBLIC:
            return "ght" if self.ght else "public_outside_ght"
        return self.status_group


@dataclass
class PlannedGHT:
    code: str
    name: str
    region: str
    department: str
    support: PlannedEntity | None = None
    members: list[PlannedEntity] = field(default_factory=list)


@dataclass
class Plan:
    ghts: list[PlannedGHT]
    entities: list[PlannedEntity]

    @property
    def sites(self) -> list[PlannedSite]:
        return [site for entity in self.entities for site in entity.sites]


@dataclass(frozen=True)
class DeptInfo:
    code: str
    name: str
    region: str
    chef_lieu: str


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    role: str
    scope: str
    created: bool


@dataclass
class DemoSummary:
    seed: int
    legal_entities: int
    sites: int
    ghts: int
    regions: int
    created_legal_entities: int
    created_sites: int
    created_ghts: int
    created_users: int
    created_memberships: int
    skipped_legal_entities: int
    by_group: dict[str, int]
    accounts: list[DemoAccount]
    volet1: Volet1DemoSummary | None = None
    applications: ApplicationsDemoSummary | None = None


def allocate(total: int, weights: dict[str, float], minimum: int = 0) -> dict[str, int]:
    """Split `total` over keys proportionally to weights (largest remainder), giving
    each key at least `minimum` when the total allows it. Deterministic."""
    keys = sorted(weights)
    if not keys or total <= 0:
        return dict.fromkeys(keys, 0)
    if minimum and total < minimum * len(keys):
        minimum = 0
    weight_sum = sum(weights[k] for k in keys) or 1.0
    quotas = {k: total * weights[k] / weight_sum for k in keys}
    result = {k: max(minimum, int(quotas[k])) for k in keys}
    remainder = {k: quotas[k] - result[k] for k in keys}
    left = total - sum(result.values())
    while left > 0:  # the largest remainders get one more
        key = max(keys, key=lambda k: (remainder[k], k))
        result[key] += 1
        remainder[key] -= 1
        left -= 1
    while left < 0:  # the minimum overshot: the smallest remainders above it give one back
        key = min((k for k in keys if result[k] > minimum), key=lambda k: (remainder[k], k))
        result[key] -= 1
        remainder[key] += 1
        left += 1
    return result


def de(place: str) -> str:
    """French "de" before a place name: du Mans, des Essarts, d'Annecy, de Lyon."""
    if place.startswith("Le "):
        return "du " + place[3:]
    if place.startswith("Les "):
        return "des " + place[4:]
    if place[:1] in "AEIOUYÉÈÊÂÎÔŒ":
        return "d'" + place
    return "de " + place


class _Planner:
    """Everything random lives here, drawn in a fixed order from one Random(seed)."""

    def __init__(self, seed: int, departments: Sequence[DeptInfo]) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not security
        self.departments = sorted(departments, key=lambda d: d.code)
        self.by_region: dict[str, list[DeptInfo]] = defaultdict(list)
        for dept in self.departments:
            self.by_region[dept.region].append(dept)
        self.regions = sorted(self.by_region)
        self.ej_counter: dict[str, int] = defaultdict(lambda: 500)
        self.et_counter: dict[str, int] = defaultdict(lambda: 600000)
        self.sirens: set[str] = set()
        self.names: dict[str, set[str]] = defaultdict(set)
        self.clcc_used: set[str] = set()

    # identifiers ---------------------------------------------------------------
    def _finess(self, dept: str, counters: dict[str, int], high: int) -> str:
        prefix = finess_prefix_for_department(dept)
        counters[prefix] += self.rng.randint(1, 6)
        if counters[prefix] > high:
            raise ValueError(f"FINESS number space of prefix {prefix} exhausted")
        return finess_with_check_digit(f"{prefix}{counters[prefix]:06d}")

    def finess_ej(self, dept: str) -> str:
        return self._finess(dept, self.ej_counter, 399_999)

    def finess_et(self, dept: str) -> str:
        return self._finess(dept, self.et_counter, 999_999)

    def siren(self, status_group: str) -> str:
        while True:
            if status_group == StatusGroup.PUBLIC:
                head = "26" + f"{self.rng.randint(0, 999_999):06d}"
            elif status_group == StatusGroup.PRIVATE_NON_PROFIT:
                head = (
                    self.rng.choice(["77", "78", "30", "31"])
                    + f"{self.rng.randint(0, 999_999):06d}"
                )
            else:
                head = f"{self.rng.randint(30_000_000, 89_999_999):08d}"
            number = head + luhn.calc_check_digit(head)
            if number not in self.sirens and number != "356000000":  # La Poste's exception
                self.sirens.add(number)
                return number

    @staticmethod
    def siret(siren: str, nic_head: int) -> str:
        base = f"{siren}{nic_head:04d}"
        return base + luhn.calc_check_digit(base)

    # places and names ----------------------------------------------------------
    def pick_department(self, region: str) -> DeptInfo:
        depts = self.by_region[region]
        weights = [BIG_DEPARTMENTS.get(d.code, 1) for d in depts]
        return self.rng.choices(depts, weights=weights)[0]

    def town(self, dept: DeptInfo, chef_lieu_share: float = 0.35) -> str:
        if self.rng.random() < chef_lieu_share:
            return dept.chef_lieu
        return self.rng.choice(TOWNS) + self.rng.choice(TOWN_SUFFIXES)

    def unique_name(self, dept: DeptInfo, make: Callable[[], str]) -> str:
        """Draw names from `make()` until one is new in the département."""
        used = self.names[dept.code]
        name = make()
        for _ in range(8):
            if name not in used:
                break
            name = make()
        else:
            base, n = name, 2
            while name in used:
                name, n = f"{base} ({n})", n + 1
        used.add(name)
        return name

    def staff(self, category: str, bounds: tuple[int, int] | None = None) -> int:
        low, high = bounds or STAFF.get(category, (50, 600))
        value = self.rng.triangular(low, high, low + (high - low) * 0.25)
        step = 10 if value >= 1000 else 1
        return max(low, int(value) // step * step)

    def beds(self, bounds: tuple[int, int]) -> int:
        low, high = bounds
        return int(self.rng.triangular(low, high, low + (high - low) * 0.3))

    # entities ------------------------------------------------------------------
    def public_entity(
        self, dept: DeptInfo, *, support: bool, chu: bool, first_in_dept: bool
    ) -> PlannedEntity:
        if chu:
            category = "101"
            name = (
                CHU_NAMES.get(dept.code) or f"Centre hospitalier universitaire {de(dept.chef_lieu)}"
            )
            self.names[dept.code].add(name)
            staff = self.staff(category)
        elif support:
            category = "355"
            share = 1.0 if first_in_dept else 0.0
            name = self.unique_name(
                dept, lambda: f"Centre hospitalier {de(self.town(dept, share))}"
            )
            staff = self.staff(category, SUPPORT_STAFF)
        else:
            category = self.rng.choices(["355", "106", "292"], weights=[55, 30, 15])[0]
            templates = {
                "355": ["Centre hospitalier {}", "Centre hospitalier intercommunal {}"],
                "106": ["Hôpital local {}"],
                "292": [
                    "Centre hospitalier spécialisé {}",
                    "Établissement public de santé mentale {}",
                ],
            }[category]
            name = self.unique_name(
                dept, lambda: self.rng.choice(templates).format(de(self.town(dept, 0.2)))
            )
            staff = self.staff(category)
        return self._entity(dept, StatusGroup.PUBLIC, category, name, staff)

    def non_profit_entity(self, dept: DeptInfo) -> PlannedEntity:
        if dept.code in CLCC_NAMES and dept.code not in self.clcc_used and self.rng.random() < 0.4:
            self.clcc_used.add(dept.code)
            name = f"Centre de lutte contre le cancer {CLCC_NAMES[dept.code]}"
            self.names[dept.code].add(name)
            return self._entity(
                dept, StatusGroup.PRIVATE_NON_PROFIT, "131", name, self.staff("131")
            )
        rng, town = self.rng, self.town
        # fmt: off
        kinds: dict[str, tuple[int, list[str], Callable[[], str]]] = {  # weight, categories, name
            "crf": (35, ["109"], lambda: f"Centre de rééducation fonctionnelle {de(town(dept))}"),
            "mutualiste": (12, ["365"], lambda: f"Hôpital mutualiste {de(town(dept, 0.6))}"),
            "fondation": (20, ["365", "129", "109"], lambda: self.foundation(dept)),
            "medical": (12, ["129"], lambda: f"Centre médical {rng.choice(SAINTS)}"),
            "sld": (6, ["362"], lambda: f"Centre de soins de longue durée {de(town(dept))}"),
            "hopital": (15, ["365"], lambda: f"{rng.choice(['Hôpital', 'Groupe hospitalier'])} "
                                             f"{rng.choice(SAINTS)}"),
        }
        # fmt: on
        category, name = self._draw(dept, kinds)
        staff = self.staff(category, (150, 900) if category == "365" else None)
        return self._entity(dept, StatusGroup.PRIVATE_NON_PROFIT, category, name, staff)

    def foundation(self, dept: DeptInfo) -> str:
        base = f"Fondation {self.rng.choice(FOUNDATIONS)}"
        return base if self.rng.random() < 0.3 else f"{base} {de(self.town(dept))}"

    def for_profit_entity(self, dept: DeptInfo) -> PlannedEntity:
        rng, town = self.rng, self.town
        # fmt: off
        kinds: dict[str, tuple[int, list[str], Callable[[], str]]] = {
            "saint": (24, ["365", "365", "122", "128"], lambda: f"Clinique {rng.choice(SAINTS)}"),
            "descr": (22, ["365", "122", "128", "129"],
                      lambda: f"Clinique {rng.choice(DESCRIPTORS)}"),
            "hp": (10, ["365"], lambda: f"Hôpital privé {de(town(dept, 0.5))}"),
            "poly": (12, ["365", "122"], lambda: f"Polyclinique {de(town(dept, 0.4))}"),
            "chir": (8, ["128"],
                     lambda: f"Clinique chirurgicale {rng.choice(DESCRIPTORS + SAINTS)}"),
            "ssr": (16, ["109"], lambda: rng.choice([
                f"Clinique de soins de suite {rng.choice(DESCRIPTORS)}",
                f"Centre de réadaptation {de(town(dept))}"])),
            "med": (8, ["129"], lambda: f"Centre médical {rng.choice(DESCRIPTORS)}"),
        }
        # fmt: on
        category, name = self._draw(dept, kinds)
        staff = self.staff(category, (50, 600))
        return self._entity(dept, StatusGroup.PRIVATE_FOR_PROFIT, category, name, staff)

    def _draw(
        self, dept: DeptInfo, kinds: dict[str, tuple[int, list[str], Callable[[], str]]]
    ) -> tuple[str, str]:
        """Draw a kind of establishment, then its category, then a new name."""
        keys = list(kinds)
        kind = self.rng.choices(keys, weights=[kinds[k][0] for k in keys])[0]
        _, categories, make = kinds[kind]
        category = self.rng.choice(categories)
        return category, self.unique_name(dept, make)

    def _entity(
        self, dept: DeptInfo, status_group: str, category: str, name: str, staff: int
    ) -> PlannedEntity:
        return PlannedEntity(
            finess=self.finess_ej(dept.code),
            siren=self.siren(status_group),
            name=name,
            status_group=str(status_group),
            category=category,
            department=dept.code,
            staff_count=staff,
        )

    # sites ---------------------------------------------------------------------
    def site_count(self, entity: PlannedEntity) -> int:
        c = entity.category
        if c == "101":
            return self.rng.randint(3, 6)
        if entity.is_ght_support:
            return self.rng.randint(2, 6)
        if c == "355":
            return self.rng.randint(2, 4)
        if c in {"292", "131"}:
            return self.rng.randint(1, 4)
        if c == "106":
            return self.rng.choice([1, 1, 2])
        if entity.status_group == StatusGroup.PRIVATE_NON_PROFIT:
            return self.rng.choices([1, 2, 3, 4, 5], weights=[42, 30, 16, 8, 4])[0]
        return self.rng.choices([1, 2, 3, 4], weights=[56, 27, 11, 6])[0]

    def add_sites(self, entity: PlannedEntity, dept: DeptInfo) -> None:
        count = self.site_count(entity)
        nic = self.rng.randint(1, 30)
        region_depts = self.by_region[dept.region]
        for index in range(count):
            if index == 0:
                site_dept, name, category = dept, entity.name, entity.category
                beds = self.beds(BEDS.get(entity.category, (40, 200)))
            else:
                site_dept = dept
                if self.rng.random() < 0.15 and len(region_depts) > 1:
                    site_dept = self.rng.choice(region_depts)
                if entity.category == "101":
                    label = CHU_SITE_NAMES[(index - 1) % len(CHU_SITE_NAMES)]
                else:
                    label = f"site {de(self.town(site_dept, 0.1))}"
                name = f"{entity.name} – {label}"
                if entity.status_group == StatusGroup.PUBLIC:
                    category = self.rng.choices([entity.category, "362"], weights=[75, 25])[0]
                else:
                    category = self.rng.choices([entity.category, "109"], weights=[70, 30])[0]
                beds = self.beds(ANNEX_BEDS)
            entity.sites.append(
                PlannedSite(
                    finess=self.finess_et(site_dept.code),
                    siret=self.siret(entity.siren, nic + index),
                    name=name,
                    category=category,
                    department=site_dept.code,
                    beds=beds,
                )
            )

    # the whole directory ---------------------------------------------------------
    def plan(self, legal_entities: int) -> Plan:
        n = legal_entities
        rng = self.rng
        region_weights = {r: REGION_WEIGHTS.get(r, 1.0) for r in self.regions}
        ght_weights = {r: float(GHT_WEIGHTS.get(r, 1)) for r in self.regions}

        n_ghts = max(1, round(GHTS_AT_DEFAULT * n / DEFAULT_LEGAL_ENTITIES))
        n_public = round(SHARE_PUBLIC_OUTSIDE_GHT * n)
        n_non_profit = round(SHARE_NON_PROFIT * n)

        # GHTs per region; the demo region (84) always has one.
        ghts_per_region = allocate(n_ghts, ght_weights, minimum=1)
        demo_region = "84" if "84" in ghts_per_region else self.regions[0]
        if ghts_per_region[demo_region] == 0:
            donor = max(ghts_per_region, key=lambda r: (ghts_per_region[r], r))
            ghts_per_region[donor] -= 1
            ghts_per_region[demo_region] += 1

        ghts: list[PlannedGHT] = []
        for region in self.regions:
            count = ghts_per_region[region]
            depts = self.by_region[region]
            # The first GHTs go to distinct départements, the biggest first; then drawn.
            ordered = sorted(depts, key=lambda d: (-BIG_DEPARTMENTS.get(d.code, 1), d.code))
            capital = [d for d in ordered if d.code in CHU_DEPARTMENTS]
            ordered = capital + [d for d in ordered if d not in capital]
            homes = ordered[:count] + [
                self.pick_department(region) for _ in range(count - len(ordered))
            ]
            per_dept = Counter(d.code for d in homes)
            numbering: Counter[str] = Counter()
            for index, dept in enumerate(homes, start=1):
                numbering[dept.code] += 1
                name = f"GHT {dept.name}"
                if per_dept[dept.code] > 1:
                    name += f" {numbering[dept.code]}"
                ghts.append(PlannedGHT(f"GHT-{region}-{index:02d}", name, region, dept.code))

        # Public entities in GHTs per region, as the region's size and public share ask
        # for; one member for each GHT, the others drawn among its GHTs not yet full.
        targets = allocate(n, region_weights, minimum=1 if n >= 4 * len(self.regions) else 0)
        in_ght = allocate(
            round(SHARE_IN_GHT * n),
            {
                r: targets[r] * PUBLIC_SHARE.get(r, 0.45) * bool(ghts_per_region[r])
                for r in self.regions
            },
        )
        members_of: Counter[str] = Counter()
        for region in self.regions:
            mine = [g for g in ghts if g.region == region]
            members_of.update(g.code for g in mine)
            for _ in range(in_ght[region] - 2 * len(mine)):
                open_ghts = [g for g in mine if members_of[g.code] < GHT_MAX_MEMBERS] or mine
                members_of[rng.choice(open_ghts).code] += 1

        by_code = {d.code: d for d in self.departments}
        entities: list[PlannedEntity] = []
        seen_chu: set[str] = set()
        seen_home: set[str] = set()
        for ght in ghts:
            home = by_code[ght.department]
            chu = home.code in CHU_DEPARTMENTS and home.code not in seen_chu
            seen_chu.add(home.code)
            support = self.public_entity(
                home, support=True, chu=chu, first_in_dept=home.code not in seen_home
            )
            seen_home.add(home.code)
            support.ght, support.is_ght_support = ght.code, True
            ght.support = support
            entities.append(support)
            for _ in range(members_of[ght.code]):
                dept = home if rng.random() < 0.6 else self.pick_department(ght.region)
                member = self.public_entity(dept, support=False, chu=False, first_in_dept=False)
                member.ght = ght.code
                ght.members.append(member)
                entities.append(member)

        # The others: each region gets what its weight asks for, minus its GHT entities.
        public = Counter(by_code[e.department].region for e in entities)
        rest = n - len(entities)
        n_for_profit = rest - n_public - n_non_profit
        if n_for_profit < 0:
            raise ValueError(f"too few legal entities ({n}) for a plausible directory")
        rest_weights: dict[str, float] = {r: max(targets[r] - public[r], 0) for r in self.regions}
        if not any(rest_weights.values()):
            rest_weights = region_weights
        rest_per_region = allocate(rest, rest_weights)
        slots = [r for r in self.regions for _ in range(rest_per_region[r])]
        # The first one: an active EBNL of the demo region, for etablissement@demo.test.
        slots.remove(demo_region if demo_region in slots else max(slots, key=slots.count))
        slots.insert(0, demo_region)
        statuses = (
            [StatusGroup.PUBLIC] * n_public
            + [StatusGroup.PRIVATE_NON_PROFIT] * n_non_profit
            + [StatusGroup.PRIVATE_FOR_PROFIT] * n_for_profit
        )
        rng.shuffle(statuses)
        statuses.insert(0, statuses.pop(statuses.index(StatusGroup.PRIVATE_NON_PROFIT)))
        others: list[PlannedEntity] = []
        for region, status in zip(slots, statuses, strict=True):
            dept = self.pick_department(region)
            if status == StatusGroup.PUBLIC:
                entity = self.public_entity(dept, support=False, chu=False, first_in_dept=False)
            elif status == StatusGroup.PRIVATE_NON_PROFIT:
                entity = self.non_profit_entity(dept)
            else:
                entity = self.for_profit_entity(dept)
            others.append(entity)
        inactive = min(len(others) - 1, round(SHARE_INACTIVE * n))
        for index in rng.sample(range(1, len(others)), inactive):
            others[index].active = False
        entities.extend(others)

        for entity in entities:
            self.add_sites(entity, by_code[entity.department])
        return Plan(ghts=ghts, entities=entities)


def build_plan(seed: int, legal_entities: int, departments: Sequence[DeptInfo]) -> Plan:
    """The demo directory for a seed, with no database access (pure function)."""
    if legal_entities < MIN_LEGAL_ENTITIES or legal_entities > MAX_LEGAL_ENTITIES:
        raise ValueError(
            f"legal_entities must be between {MIN_LEGAL_ENTITIES} and {MAX_LEGAL_ENTITIES}"
        )
    return _Planner(seed, departments).plan(legal_entities)


# --------------------------------------------------------------------------- write


def _lookup(model: Any, key: str, values: Sequence[str], *fields: str) -> dict[str, tuple]:
    rows = (
        model.objects.filter(**{f"{key}__in": ch}).values_list(key, *fields)
        for ch in chunks(values)
    )
    return {row[0]: row[1:] for chunk in rows for row in chunk}


def seed_demo(*, seed: int = DEFAULT_SEED, legal_entities: int = DEFAULT_LEGAL_ENTITIES,
              stdout: Writer | None = None) -> DemoSummary:  # fmt: skip
    """Write the demo directory, accounts, Volet 1 results and applications; idempotent
    for a given seed."""
    if getattr(settings, "CARE_ENVIRONMENT", "") == "prod":
        raise DemoSeedRefused(
            "Refus : pas de données ni de comptes de démonstration en production "
            "(demo data and accounts are never created when CARE_ENVIRONMENT=prod)."
        )
    rows = list(Department.objects.order_by("code").values_list(
        "id", "code", "name", "region__code", "chef_lieu", "region_id"))  # fmt: skip
    if not rows:
        raise RuntimeError("No département in the database: run `manage.py migrate` first.")
    dept_ids, region_ids = {r[1]: r[0] for r in rows}, {r[3]: r[5] for r in rows}
    departments = [
        DeptInfo(code, name, region, chef or name) for _, code, name, region, chef, _ in rows
    ]
    plan = build_plan(seed, legal_entities, departments)
    if stdout is not None:
        stdout.write(f"Plan (graine {seed}) : {len(plan.entities)} entités juridiques, "
                     f"{len(plan.sites)} sites, {len(plan.ghts)} GHT.\n")  # fmt: skip
    models = (GHT, LegalEntity, Site)
    with transaction.atomic():
        before = [m._default_manager.count() for m in models]
        new_ghts = [
            GHT(code=g.code, name=g.name, region_id=region_ids[g.region]) for g in plan.ghts
        ]
        GHT.objects.bulk_create(new_ghts, batch_size=BATCH_SIZE, ignore_conflicts=True)
        ghts = _lookup(GHT, "code", [g.code for g in plan.ghts], "id", "name")
        ght_id = {e.finess: ghts[e.ght][0] if e.ght else None for e in plan.entities}
        LegalEntity.objects.bulk_create(
            [LegalEntity(finess=e.finess, siren=e.siren, name=e.name, status_group=e.status_group,
                         finess_category=e.category, department_id=dept_ids[e.department],
                         ght_id=ght_id[e.finess], is_ght_support=e.is_ght_support,
                         staff_count=e.staff_count, active=e.active) for e in plan.entities],
            batch_size=BATCH_SIZE, ignore_conflicts=True,
        )  # fmt: skip
        # A FINESS already in the database for another entity (other name, other GHT
        # place) is not ours: no site is attached to it, no demo account points at it.
        existing = _lookup(LegalEntity, "finess", [e.finess for e in plan.entities], "id", "name",
                           "ght_id", "is_ght_support")  # fmt: skip
        entity_ids = {
            e.finess: existing[e.finess][0] for e in plan.entities if e.finess in existing
            and existing[e.finess][1:] == (e.name, ght_id[e.finess], e.is_ght_support)
        }  # fmt: skip
        Site.objects.bulk_create(
            [Site(finess=s.finess, siret=s.siret, legal_entity_id=entity_ids[e.finess], name=s.name,
                  category=s.category, department_id=dept_ids[s.department], beds=s.beds)
             for e in plan.entities if e.finess in entity_ids for s in e.sites],
            batch_size=BATCH_SIZE, ignore_conflicts=True,
        )  # fmt: skip
        created = [m._default_manager.count() - n for m, n in zip(models, before, strict=True)]
        regions = {d.code: d.region for d in departments}
        accounts, users, memberships = _seed_accounts(plan, entity_ids, region_ids, ghts, regions)
        # Volet 1 of our entities after the accounts (the demo entities have their
        # stories), then the calls and applications (D1's history follows Volet 1).
        volet1 = seed_volet1(seed=seed, legal_entity_ids=entity_ids.values(), stdout=stdout)
        applications = seed_applications(
            seed=seed, legal_entity_ids=entity_ids.values(), stdout=stdout
        )
    groups = Counter(e.statistics_group for e in plan.entities)
    return DemoSummary(
        seed, len(plan.entities), len(plan.sites), len(plan.ghts),
        len({regions[e.department] for e in plan.entities}), created[1], created[2], created[0],
        users, memberships, len(plan.entities) - len(entity_ids),
        {k: groups.get(k, 0) for k in GROUP_LABELS}, accounts, volet1, applications,
    )  # fmt: skip


def _pick_demo_entities(plan: Plan, entity_ids: dict[str, int], dept_regions: dict[str, str]
                        ) -> tuple[PlannedGHT, PlannedEntity, PlannedEntity]:  # fmt: skip
    """A GHT with a support and an active member, and an active entity filing for itself
    (EBNL, public outside a GHT, then private; a hospital first), Auvergne-Rhône-Alpes
    first: (ght, its support, the entity)."""
    ghts = [g for g in plan.ghts if g.support and g.support.finess in entity_ids
            and any(m.finess in entity_ids and m.active for m in g.members)]  # fmt: skip
    own = [e for e in plan.entities
           if e.finess in entity_ids and e.active and e.statistics_group != "ght"]  # fmt: skip
    if not ghts or not own:
        raise RuntimeError("No GHT with a support and a member, or no entity outside a GHT.")
    ght = min(ghts, key=lambda g: g.region != "84")  # stable: first in plan order

    def rank(e: PlannedEntity) -> tuple[bool, int, int]:
        group, category = DEMO_ENTITY_GROUPS, DEMO_ENTITY_CATEGORIES
        return (dept_regions.get(e.department) != "84",
                group.index(e.statistics_group) if e.statistics_group in group else 3,
                category.index(e.category) if e.category in category else 9)  # fmt: skip

    assert ght.support is not None
    return ght, ght.support, min(own, key=rank)


def _seed_accounts(plan: Plan, entity_ids: dict[str, int], region_ids: dict[str, int],
                   ghts: dict[str, tuple], dept_regions: dict[str, str]
                   ) -> tuple[list[DemoAccount], int, int]:  # fmt: skip
    """The five demo accounts (password `settings.DEMO_PASSWORD`), each with its one
    scope; a re-run restores their flags and password."""
    password = settings.DEMO_PASSWORD
    ght, support, member = _pick_demo_entities(plan, entity_ids, dept_regions)
    # ars@demo.test instructs the region of etablissement@demo.test's entity.
    region = Region.objects.get(id=region_ids[dept_regions[member.department]])
    group = GROUP_LABELS.get(member.statistics_group, member.statistics_group)
    hashed = make_password(password)  # hashed once for the five accounts
    E, R, M = Membership.Role.ESTABLISHMENT, Membership.Role.REGIONAL, Membership.Role.MINISTRY
    specs: list[tuple[Any, ...]] = [  # e-mail, name, staff, superuser, membership, role, scope
        ("etablissement@demo.test", "Démo Établissement", False, False,
         {"role": E, "legal_entity_id": entity_ids[member.finess]}, "establishment",
         f"{member.name} (FINESS EJ {format_finess(member.finess)}), {group}"),
        ("ght@demo.test", "Démo Support de GHT", False, False,
         {"role": E, "legal_entity_id": entity_ids[support.finess]}, "establishment",
         f"{support.name} (FINESS EJ {format_finess(support.finess)}), "
         f"support du {ghts.get(ght.code, (0, ght.name))[1]}"),
        ("ars@demo.test", "Démo ARS", False, False, {"role": R, "region_id": region.id},
         "regional", f"Région {region.name} ({region.ars_name})"),
        ("ministere@demo.test", "Démo Ministère", True, False, {"role": M}, "ministry",
         "National, accès à l'administration"),
        ("admin@demo.test", "Démo Administrateur", True, True, None, "superuser",
         "National, superutilisateur"),
    ]  # fmt: skip
    accounts: list[DemoAccount] = []
    created_users = created_memberships = 0
    for email, full_name, staff, superuser, scope, role, label in specs:
        wanted = {"is_staff": staff, "is_superuser": superuser, "is_active": True}
        user, created = User.objects.get_or_create(
            email=email, defaults={"full_name": full_name, "password": hashed, **wanted}
        )
        created_users += created
        changed = [key for key, value in wanted.items() if getattr(user, key) != value]
        for key in changed:
            setattr(user, key, wanted[key])
        if not user.check_password(password):
            user.password = hashed
            changed.append("password")
        if changed:
            user.save(update_fields=changed)
        if scope is not None:
            membership, m_created = Membership.objects.get_or_create(user=user, **scope)
            created_memberships += m_created
            # One scope per demo account: one an earlier seed picked is removed.
            user.memberships.exclude(pk=membership.pk).delete()
        accounts.append(DemoAccount(email, password, ROLE_LABELS[role], label, created))
    return accounts, created_users, created_memberships


# --------------------------------------------------------------------------- report

GROUP_LABELS = {
    "ght": "GHT (support et membres)",
    "public_outside_ght": "public hors GHT",
    "private_non_profit": "privé à but non lucratif (EBNL)",
    "private_for_profit": "privé à but lucratif",
}
# Kinds of entity for etablissement@demo.test, best first: an entity that files for
# itself (never a public member of a GHT), a hospital if possible.
DEMO_ENTITY_GROUPS = ("private_non_profit", "public_outside_ght", "private_for_profit")
DEMO_ENTITY_CATEGORIES = ("365", "131", "355", "122", "128")


def summary_lines(summary: DemoSummary) -> list[str]:
    """The French report printed by the command: counts, then the accounts table."""
    lines = [
        f"Données de démonstration (graine {summary.seed}) :",
        f"  {_n(summary.legal_entities)} entités juridiques "
        f"({_n(summary.created_legal_entities)} créées), "
        f"{_n(summary.sites)} sites ({_n(summary.created_sites)} créés), "
        f"{_n(summary.ghts)} GHT ({_n(summary.created_ghts)} créés), {summary.regions} régions.",
    ]
    if summary.skipped_legal_entities:
        lines.append(
            f"  {_n(summary.skipped_legal_entities)} entités du plan ignorées : leur numéro "
            "FINESS est déjà pris par une autre entité (données existantes)."
        )
    for key, label in GROUP_LABELS.items():
        count = summary.by_group.get(key, 0)
        lines.append(f"  - {label} : {_n(count)} ({share(count, summary.legal_entities)} %)")
    lines.append(
        f"  Comptes : {summary.created_users} créés, "
        f"rattachements : {summary.created_memberships} créés."
    )
    if summary.volet1 is not None:
        lines.extend(volet1_summary_lines(summary.volet1))
    if summary.applications is not None:
        lines.extend(applications_summary_lines(summary.applications))
    lines += ["", "Comptes de démonstration :"]
    header = ("E-mail", "Mot de passe", "Rôle", "Périmètre")
    rows = [(a.email, a.password, a.role, a.scope) for a in summary.accounts]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    rule = (*("-" * w for w in widths), "-" * len(header[3]))
    for row in [header, rule, *rows]:
        lines.append(
            "  "
            + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3]))
            + "  "
            + row[3]
        )
    return lines
