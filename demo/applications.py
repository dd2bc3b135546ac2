"""Demo applications to the D1 and D2 calls, played through the lifecycle engine.

`seed_applications(seed=…)` gives both calls (`demo.calls`) applications from the legal
entities in the database (`seed_demo` passes its own) with the rules of the services: a
GHT files through its support and covers its active members, a public GHT member never
files alone, an inactive entity never files, the amount is the total of the budget.

Each application is planned (statuses with a moment each, content, evidence, messages),
then played on the clock of `demo.engine.quiet()`: created at its first moment, moved
at each later one by the product's services with real actors (the candidate's user
submits, the ARS agent of its region is assigned, gives an opinion and instructs, the
ministry decides) and by the real scoring, whose outcome the path follows (found
ineligible where the plan goes on: the ministry reconsiders); the ministry records the
payments through the tracking service (`record_payment`): a paid application's add up
to its grant (in two tranches when a part was paid first), the last moving it to paid,
and a validated one may have a part paid, the rest due. Dossiers stay pending.
D1 (closed, 2024) holds the history of the Volet 1 participants, most paid; D2 (open)
about 60% of the candidates in every status, etablissement@'s entity a draft and
ght@'s GHT an application under regional review; a candidate whose AD audits are all
older than D2's `volet1_valid_from` misses E5 like one without both objectives (its
application shows them "obsolète"). A candidate already covered by the
call is left alone: a re-run creates nothing.
"""

import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any, NamedTuple

from django.contrib.auth.hashers import make_password
from django.db.models import prefetch_related_objects
from django.utils import timezone

from accounts.models import Membership, User
from applications import models as m
from applications.dossiers import dossier_version
from applications.drafting import application_reference, application_submit
from audits.models import Volet1Status
from demo import engine
from demo.calls import D2_CODE, PARIS, SPECS, Files, seed_calls
from demo.common import TEXTS, allocate, counting, rows_in, words
from establishments.models import LegalEntity, Region, StatusGroup

D, SUB, INEL, RR, RET, NR, APP, REJ, WD, DECL, CHK, VAL, PAID = engine.Status.values
DECLARED_OR_LATER = {DECL, CHK, VAL, PAID}
# Spread of the D2 applications (the call is current: most under instruction).
D2_WEIGHTS = dict(
    zip(engine.Status.values, (9, 14, 7, 20, 5, 14, 13, 3, 4, 4, 3, 2, 2), strict=True)
)
# Without both Volet 1 objectives (E5, required for D2) a candidate goes no further.
NO_VOLET1_STATUSES = (INEL, D, SUB, WD)
# Share of the entities that may file which file to D2, by Volet 1 level (GHT: 90%).
D2_PARTICIPATION = {"both": 0.70, "ad_done": 0.45, "exposure_met": 0.45}
D1_SHARES = {"D1.O1": Decimal("0.5"), "D1.O2.A": Decimal("0.2"), "D1.O2.B": Decimal("0.3")}
D1_END = date(2025, 12, 5)  # the D1 history stops there
BUDGET_WEIGHTS = {"consulting": 3.0, "hardware": 3.0, "software": 2.5, "staff": 2.0,
                  "training": 1.2, "other": 0.4}  # fmt: skip
WORDS = TEXTS["words"]
DEMO_EMAILS = {"establishment": "etablissement@demo.test", "ght": "ght@demo.test",
               "regional": "ars@demo.test", "ministry": "ministere@demo.test"}  # fmt: skip


class Candidate(NamedTuple):
    """A legal entity that may file, with what its application covers and its Volet 1
    results (a GHT: those of its support)."""

    id: int
    finess: str
    name: str
    region_id: int
    ght_id: int | None  # set for a GHT support only
    covered: tuple[int, ...]
    staff: int  # SAE staff of the covered entities
    level: str
    volet1_met: bool  # every covered entity met both Volet 1 objectives for D2 (E5)
    ad_audit_date: date | None
    second_scan_date: date | None
    last_scan_date: date | None


@dataclass
class Actors:
    """The users who act: per candidate, per region, the ministry, and the entities and
    region of the demo accounts."""

    establishment: dict[int, User]
    regional: dict[int, User]
    ministry: User
    demo: dict[str, int | None]

    def of(self, actors: frozenset[str], candidate: Candidate) -> User | None:
        if engine.Actor.ESTABLISHMENT in actors:
            return self.establishment[candidate.id]
        return (
            self.regional[candidate.region_id] if engine.Actor.REGIONAL in actors else self.ministry
        )


def _candidates(ids: Sequence[int] | None, valid_from: date | None) -> list[Candidate]:
    """The candidates among these entities (all when None), by FINESS: the active ones
    but the public members of a GHT (covered by their GHT's application). `valid_from`:
    D2's `volet1_valid_from` (an entity whose AD audits are all older misses E5)."""
    query = LegalEntity.objects.values_list("id", "finess", "name", "status_group", "ght_id",
                                            "is_ght_support", "active", "staff_count",
                                            "department__region_id")  # fmt: skip
    rows = list(query) if ids is None else list(rows_in(query, "id", ids))
    filers = [r for r in rows if r[6] and not (r[3] == StatusGroup.PUBLIC and r[4] and not r[5])]
    members: dict[int, list[tuple[int, int]]] = defaultdict(list)
    active = LegalEntity.objects.filter(active=True).values_list("ght_id", "id", "staff_count")
    ghts = sorted({r[4] for r in filers if r[5] and r[4]})
    for ght_id, pk, staff in rows_in(active, "ght_id", ghts):
        members[ght_id].append((pk, staff or 0))
    considered = sorted({r[0] for r in filers} | {x for ms in members.values() for x, _ in ms})
    volet1 = Volet1Status.objects.values_list(
        "legal_entity_id", "level", "ad_audit_date", "exposure_second_scan_date", "last_scan_date"
    )
    statuses = {pk: row for pk, *row in rows_in(volet1, "legal_entity_id", considered)}
    result = []
    for pk, finess, name, _, ght_id, support, _, staff, region_id in filers:
        mine = sorted(members[ght_id], key=lambda x: (x[0] != pk, x[0])) if support else []
        mine = mine or [(pk, staff or 0)]
        level, ad_date, second, last = statuses.get(pk, ("none", None, None, None))
        met = all(_both_counted(statuses.get(x), valid_from) for x, _ in mine)
        result.append(Candidate(pk, finess, name, region_id, ght_id if support else None,
                                tuple(x for x, _ in mine), sum(s for _, s in mine), level, met,
                                ad_date, second, last))  # fmt: skip
    return sorted(result, key=lambda x: x.finess)


def _both_counted(status: Sequence[Any] | None, valid_from: date | None) -> bool:
    """Both Volet 1 objectives met with an AD audit the call counts (its latest audit,
    `Volet1Status.ad_audit_date`, on or after `valid_from`)."""
    if status is None or status[0] != "both":
        return False
    return valid_from is None or status[1] >= valid_from


def _actors(candidates: Sequence[Candidate]) -> Actors:
    """The demo accounts where they fit; else an account (no usable password) for each
    candidate and each region, created with its membership when missing."""
    rows = Membership.objects.filter(user__email__in=list(DEMO_EMAILS.values()))
    demo = {e: pk or r for e, pk, r in rows.values_list("user__email", "legal_entity_id",
                                                         "region_id")}  # fmt: skip
    mine = {demo.get(DEMO_EMAILS[key]): DEMO_EMAILS[key] for key in ("establishment", "ght")}
    role = Membership.Role
    ars = demo.get(DEMO_EMAILS["regional"])
    specs = [  # e-mail, full name, role, legal entity, region
        (mine.get(x.id) or f"referent.{x.finess.lower()}@demo.test",
         f"Référent CaRE – {x.name}"[:150], role.ESTABLISHMENT, x.id, None) for x in candidates
    ] + [
        ("ars@demo.test" if r.pk == ars else f"ars.{r.code}@demo.test",
         f"Agent instructeur – {r.ars_name}"[:150], role.REGIONAL, None, r.pk)
        for r in Region.objects.all()
    ] + [(DEMO_EMAILS["ministry"], "Démo Ministère", role.MINISTRY, None, None)]  # fmt: skip
    wanted = [spec[0] for spec in specs]
    existing = set(rows_in(User.objects.values_list("email", flat=True), "email", wanted))
    unusable = make_password(None)  # generated actors never log in
    new = [User(email=e, full_name=name, password=unusable) for e, name, *_ in specs]
    User.objects.bulk_create([u for u in new if u.email not in existing], batch_size=500)
    users = {u.email: u for u in rows_in(User.objects, "email", wanted)}
    have = set(rows_in(Membership.objects.values_list("user_id", "role", "legal_entity_id",
                       "region_id"), "user_id", [u.pk for u in users.values()]))  # fmt: skip
    Membership.objects.bulk_create(
        [Membership(user=users[e], role=r, legal_entity_id=le, region_id=rg)
         for e, _, r, le, rg in specs if (users[e].pk, r, le, rg) not in have],
        batch_size=500)  # fmt: skip
    return Actors({le: users[e] for e, _, _, le, _ in specs if le},
                  {rg: users[e] for e, *_, rg in specs if rg}, users[DEMO_EMAILS["ministry"]],
                  {key: demo.get(email) for key, email in DEMO_EMAILS.items()})  # fmt: skip


# --------------------------------------------------------------------------- plan


@dataclass
class Planned:
    call: m.FundingCall
    candidate: Candidate
    rng: random.Random
    path: list[str] = field(default_factory=lambda: [D])
    moments: list[datetime] = field(default_factory=list)  # moments[0]: the creation
    comments: dict[str, str] = field(default_factory=dict)  # by action
    contacts: dict[str, str] = field(default_factory=dict)
    answers: dict[str, tuple[str, str]] = field(default_factory=dict)
    lines: list[tuple[str, str, Decimal]] = field(default_factory=list)
    granted: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    evidence: list[tuple[str, datetime]] = field(default_factory=list)  # identifier, when
    payments: list[tuple[Decimal, datetime]] = field(default_factory=list)  # amount, when
    messages: list[tuple[User | None, str, datetime]] = field(default_factory=list)

    @property
    def requested(self) -> Decimal:
        return sum((amount for _, _, amount in self.lines), Decimal("0"))

    def first(self, target: str) -> datetime | None:
        return next(
            (at for s, at in zip(self.path, self.moments, strict=True) if s == target), None
        )

    def budget(self, ceiling: Decimal, count: int, share: float, granted: float, paid: float
               ) -> None:  # fmt: skip
        """`count` lines of distinct categories, about `share` of the ceiling in all; the
        amounts granted and paid as these shares of the requested one."""
        rng, pool = self.rng, WORDS["budget"][self.call.domain]
        categories = rng.sample(sorted(pool), min(count, len(pool)))
        weights = [BUDGET_WEIGHTS[k] * rng.uniform(0.6, 1.4) for k in categories]
        for category, weight in zip(categories, weights, strict=True):
            amount = max(500, int(float(ceiling) * share * weight / sum(weights)) // 100 * 100)
            self.lines.append((category, rng.choice(pool[category]), Decimal(amount)))
        self.granted = Decimal(int(min(self.requested, ceiling) * Decimal(granted)) // 100 * 100)
        self.paid = Decimal(int(self.granted * Decimal(paid)))
        domain = "-".join(w for w in words(self.candidate.name) if len(w) > 3)[:40].strip("-")
        for role in ("director", "rssi", "continuity_lead"):
            first, last = rng.choice(WORDS["first_names"]), rng.choice(WORDS["last_names"])
            self.contacts[f"{role}_name"] = f"{first} {last}"
            local = ".".join(words(f"{first} {last}"))
            self.contacts[f"{role}_email"] = f"{local}@{domain or 'etab'}.test"

    def stamp(self, days: Sequence[date]) -> None:
        """Strictly increasing moments in office hours on these days; a system step comes
        a few minutes after the previous one."""
        for index, day in enumerate(days):
            at = datetime.combine(day, time(8), PARIS) + timedelta(minutes=self.rng.randint(0, 660))
            if self.moments and (
                _is_system(*self.path[index - 1 : index + 1]) or at <= self.moments[-1]
            ):
                at = self.moments[-1] + timedelta(minutes=self.rng.randint(2, 45))
            self.moments.append(at)

    def answer(self, requirement: m.Requirement, state: str, share: float = 0.4) -> None:
        pool = WORDS["answers"].get(requirement.identifier)
        comment = self.rng.choice(pool) if pool and state and self.rng.random() < share else ""
        self.answers[requirement.identifier] = (state, comment)

    def plan_payments(self, seed: int, limit: datetime) -> None:
        """The payments the ministry records (`tracking.record_payment`; the demo calls
        pay no advance: every tranche is a balance, after validation). A paid
        application's add up to its granted amount (the service moves it to paid at
        the last one): in two tranches when its plan pays a part first. A validated
        application whose plan pays a part has that part paid, the rest still due.
        Their own random draws: the rest of the plan is unchanged."""
        rng = random.Random(f"{seed}-{self.call.code}-{self.candidate.finess}-payments")  # noqa: S311
        if self.granted <= 0 or self.path[-1] not in (VAL, PAID):
            return
        partial = 0 < self.paid < self.granted
        validated = self.first(VAL) or self.moments[-1]
        if self.path[-1] == PAID:
            paid_at = self.moments[-1]
            if partial:
                self.payments.append((self.paid, _between(rng, validated, paid_at)))
            self.payments.append((self.granted - (self.paid if partial else 0), paid_at))
        elif partial and rng.random() < 0.5:
            end = min(limit, validated + timedelta(days=30))
            if validated < end:
                self.payments.append((self.paid, _between(rng, validated, end)))

    def declaration_evidence(self) -> None:
        """The files of the met objectives, uploaded before the first declaration."""
        if (declared := self.first(DECL)) is None:
            return
        before = max(at for at in self.moments if at < declared)
        for key, (state, _) in self.answers.items():
            if state == "met" and SPECS[key].evidence_stage == "declaration":
                self.evidence.append((key, _between(self.rng, before, declared)))


def _is_system(source: str, target: str) -> bool:
    rule = engine.rule_for(source, target)
    return rule is not None and rule.actors == {engine.Actor.SYSTEM}


def _between(rng: random.Random, low: datetime, high: datetime) -> datetime:
    """A moment strictly between `low` and `high`, in office hours when there is room."""
    for _ in range(6):
        day = timezone.localtime(low + (high - low) * rng.random(), PARIS).date()
        at = datetime.combine(day, time(8), PARIS) + timedelta(minutes=rng.randint(0, 660))
        if low < at < high:
            return at
    return low + (high - low) * rng.uniform(0.2, 0.8)


def _ceilings(call: m.FundingCall) -> Callable[[int], Decimal]:
    """The ceiling of the call for a staff count (its brackets read once)."""
    brackets = list(call.brackets.order_by("-min_staff").values_list("min_staff", "ceiling"))
    return lambda staff: next((c for low, c in brackets if staff >= low), brackets[-1][1])


def _d2_path(rng: random.Random, status: str, cand: Candidate, regional: bool) -> list[str]:
    """A path from draft to `status`, with the occasional detour (returned and
    resubmitted, found ineligible then reconsidered, evidence refused)."""
    returned = [RET] if regional and rng.random() < 0.7 else [NR, RET]  # by the ARS or the ministry
    review = [D, SUB, RR, *returned, SUB, RR] if rng.random() < 0.1 else [D, SUB, RR]
    if status in (D, INEL, RET):
        return {D: [D], INEL: [D, SUB, INEL], RET: [D, SUB, RR, *returned]}[status]
    if status == SUB:  # resubmitted after a return, for some (eligible) ones
        return [D, SUB, RR, *returned, SUB] if cand.volet1_met and rng.random() < 0.12 else [D, SUB]
    if status == WD:
        paths = [[D, WD], [D, SUB, WD], [D, SUB, RR, WD]]
        return rng.choices(paths, [40, 35, 25] if cand.volet1_met else [50, 50, 0])[0]
    if status == RR:
        return [D, SUB, INEL, RR] if rng.random() < 0.1 or not cand.volet1_met else review
    if status in (NR, REJ):
        return [*review, NR] if status == NR else [*review, NR, REJ]
    approved = [*review, NR, APP]
    if status == APP:
        return [*approved, DECL, APP] if rng.random() < 0.08 else approved
    declared = [*approved, DECL, APP, DECL] if rng.random() < 0.1 else [*approved, DECL]
    return declared + {DECL: [], CHK: [CHK], VAL: [CHK, VAL], PAID: [CHK, VAL, PAID]}[status]


def _plan_d2(seed: int, actors: Actors, call: m.FundingCall, requirements: list[m.Requirement],
             candidates: Sequence[Candidate], today: date) -> list[Planned]:  # fmt: skip
    opened = timezone.localtime(call.opens_at, PARIS).date()
    span = max(1, (today - opened).days)  # days the call has been open, today excluded
    limit = datetime.combine(today, time(0), PARIS)  # nothing happens today or later
    featured = (actors.demo["establishment"], actors.demo["ght"])
    plans: dict[int, Planned] = {}
    for cand in candidates:
        rng = random.Random(f"{seed}-{call.code}-{cand.finess}")  # noqa: S311 - demo data
        share = 0.9 if cand.ght_id else D2_PARTICIPATION.get(cand.level, 0.2)
        if rng.random() < share or cand.id in featured:
            plans[cand.id] = Planned(call, cand, rng)
    # The statuses: the quotas of D2_WEIGHTS, a candidate lacking a Volet 1
    # objective only in NO_VOLET1_STATUSES (E5), the demo accounts' ones fixed.
    bag, statuses = Counter(allocate(len(plans), D2_WEIGHTS, 1)), {}
    spread = random.Random(f"{seed}-{call.code}-statuses")  # noqa: S311 - demo data
    free = [p.candidate for p in plans.values() if p.candidate.id not in featured]
    spread.shuffle(free)
    fixed = [(pk, s) for pk, s in zip(featured, (D, RR), strict=True) if pk in plans]
    for pk, status in fixed + [(x.id, None) for x in free if not x.volet1_met]:
        status = status or next((s for s in NO_VOLET1_STATUSES if bag[s] > 0), INEL)
        statuses[pk] = status
        bag[status if bag[status] > 0 else max(bag, key=lambda k: (bag[k], k))] -= 1
    rest = sorted(bag.elements())
    spread.shuffle(rest)
    statuses.update(zip([x.id for x in free if x.volet1_met], rest, strict=True))
    ceiling_of = _ceilings(call)

    for plan in plans.values():
        cand, rng, status = plan.candidate, plan.rng, statuses[plan.candidate.id]
        ceiling = ceiling_of(cand.staff)
        if cand.id == actors.demo["establishment"]:  # a draft to be continued
            plan.moments = [_between(rng, limit - timedelta(days=3), limit - timedelta(days=2))]
            plan.budget(ceiling, 1, 0.3, 1, 1)
            plan.contacts["continuity_lead_name"] = plan.contacts["continuity_lead_email"] = ""
            first = {
                "D2.P1": ("met", ""),
                "D2.P2": ("met", WORDS["answers"]["D2.P2"][0]),
                "D2.P3": ("in_progress", "Note de désignation du RPCA à la signature."),
            }
            plan.answers = {r.identifier: first.get(r.identifier, ("", "")) for r in requirements}
            continue
        plan.path = _d2_path(rng, status, cand, actors.demo["regional"] == cand.region_id)
        over = (status == INEL and cand.volet1_met) or (status in (D, SUB) and rng.random() < 0.1)
        draft = plan.path in ([D], [D, WD])
        share = rng.uniform(1.05, 1.35) if over else rng.uniform(0.35, 0.97)
        factor, pay = (
            rng.choice([1, 1, 1, 0.9, 0.85]),
            1 if rng.random() < 0.7 else rng.uniform(0.9, 0.99),
        )
        plan.budget(ceiling, rng.randint(1, 3) if draft else rng.randint(2, 5), share, factor, pay)
        if over and plan.requested <= ceiling:
            category, text, amount = plan.lines[0]
            plan.lines[0] = (category, text, amount + ceiling - plan.requested + 1000)
        if draft:  # a draft: the first contact fields only
            keep = rng.randint(0, 6)
            plan.contacts = {
                k: v if n < keep else "" for n, (k, v) in enumerate(plan.contacts.items())
            }
        plan.comments = {action: rng.choice(texts) for action, texts in WORDS["comments"].items()}
        days = sorted(rng.randint(0, span - 1) for _ in plan.path)
        if status == SUB:
            days[-1] = max(days[-1], rng.randint(max(0, span - 8), span - 1))
        plan.stamp([opened + timedelta(days=d) for d in days])
        for req in requirements:
            if draft:
                weights = [60, 20, 20] if req.kind == "prerequisite" else [0, 50, 50]
                plan.answer(req, rng.choices(["met", "in_progress", ""], weights)[0])
            else:  # a submission needs every prerequisite met
                met = (
                    req.kind == "prerequisite" or status in DECLARED_OR_LATER or rng.random() < 0.15
                )
                plan.answer(req, "met" if met else "in_progress")
        if submitted := plan.first(SUB):
            for r in requirements:
                if plan.answers[r.identifier][0] == "met" and r.evidence_stage == "application":
                    plan.evidence.append((r.identifier, _between(rng, plan.moments[0], submitted)))
        plan.declaration_evidence()
        plan.plan_payments(seed, limit)
        _d2_messages(plan, actors, limit)
    return list(plans.values())


def _d2_messages(plan: Planned, actors: Actors, limit: datetime) -> None:
    """A few messages: the ARS agent in regional review, the ministry in national
    review, the establishment's reply before a resubmission."""
    rng, path, moments, cand = plan.rng, plan.path, plan.moments, plan.candidate

    def during(index: int) -> datetime:  # while the application is in path[index]
        end = moments[index + 1] if index + 1 < len(moments) else limit
        return _between(rng, moments[index], min(end, moments[index] + timedelta(days=2)))

    if RR in path and (rng.random() < 0.35 or cand.id == actors.demo["ght"]):
        body = rng.choice(WORDS["messages"]["regional"])
        plan.messages.append((actors.regional[cand.region_id], body, during(path.index(RR))))
    if NR in path and rng.random() < 0.15:
        body = rng.choice(WORDS["messages"]["ministry"])
        plan.messages.append((actors.ministry, body, during(path.index(NR))))
    for index, (source, target) in enumerate(pairwise(path)):
        if (source, target) == (RET, SUB):
            at = moments[index + 1] - timedelta(minutes=3)
            plan.messages.append((actors.establishment[cand.id], WORDS["messages"]["reply"][0], at))


def _plan_d1(seed: int, actors: Actors, call: m.FundingCall, requirements: list[m.Requirement],
             candidates: Sequence[Candidate], today: date) -> list[Planned]:  # fmt: skip
    """The D1 history: participants of Volet 1 filed in the 2024 window; most were paid
    once their objectives were met (dates after their audits and scans)."""
    opened, closed = (
        timezone.localtime(at, PARIS).date() for at in (call.opens_at, call.closes_at)
    )
    plans, ceiling_of = [], _ceilings(call)
    for cand in candidates:
        rng = random.Random(f"{seed}-{call.code}-{cand.finess}")  # noqa: S311 - demo data
        if cand.id in (actors.demo["establishment"], actors.demo["ght"]):
            outcome = "track"
        elif cand.ad_audit_date or cand.last_scan_date:
            if rng.random() >= 0.97:
                continue
            outcome = rng.choices(["track", REJ, WD], [97, 1.5, 1.5])[0]
        else:
            if rng.random() >= 0.12:
                continue
            outcome = rng.choices([D, WD, REJ], [30, 40, 30])[0]
        plan = Planned(call, cand, rng)
        met = {"D1.O1": cand.ad_audit_date, "D1.O2.A": cand.last_scan_date,
               "D1.O2.B": cand.second_scan_date}  # fmt: skip
        created = min(opened + timedelta(days=rng.randint(0, 26)), closed)
        submitted = min(created + timedelta(days=rng.randint(0, 5)), closed)
        national = closed + timedelta(days=rng.randint(10, 60))
        days = [created]
        if outcome == WD:
            plan.path, days = rng.choice([([D, WD], [created, submitted]), ([D, SUB, WD], [
                created, submitted, submitted + timedelta(days=rng.randint(3, 40))])])  # fmt: skip
        elif outcome != D:
            plan.path = [D, SUB, RR, NR, REJ if outcome == REJ else APP]
            days = [
                created,
                submitted,
                submitted,
                national,
                national + timedelta(days=rng.randint(10, 45)),
            ]
            reached = [d for d in (met["D1.O1"], met["D1.O2.B"]) if d] or [
                d for d in [met["D1.O2.A"]] if d
            ]
            if (
                outcome != REJ
                and reached
                and cand.id != actors.demo["establishment"]
                and (all(met.values()) or rng.random() < 0.8)
            ):
                day = max(
                    days[-1] + timedelta(days=7), max(reached) + timedelta(days=rng.randint(2, 20))
                )
                for target, gap in ((DECL, 0), (CHK, rng.randint(5, 25)), (VAL, rng.randint(5, 25)),
                                    (PAID, rng.randint(7, 30))):  # fmt: skip
                    day += timedelta(days=gap)
                    if day > min(D1_END, today - timedelta(days=1)):
                        break
                    plan.path.append(target)
                    days.append(day)
        share = float(sum((D1_SHARES[k] for k, ok in met.items() if ok), Decimal(0)))
        plan.budget(ceiling_of(cand.staff), rng.randint(2, 4), rng.uniform(0.45, 1.0), 1,
                    share * rng.uniform(0.9, 1.0))  # fmt: skip
        plan.comments = {"reject": rng.choice(WORDS["comments"]["reject_D1"]),
                         "withdraw": rng.choice(WORDS["comments"]["withdraw"])}  # fmt: skip
        plan.stamp(days)
        declared = plan.path[-1] in DECLARED_OR_LATER
        for req in requirements:
            state = "met" if declared and met.get(req.identifier) else "in_progress"
            plan.answer(
                req, rng.choice(["in_progress", ""]) if SUB not in plan.path else state, 0.25
            )
        plan.declaration_evidence()
        plan.plan_payments(seed, datetime.combine(min(D1_END, today), time(0), PARIS))
        if plan.path[-1] == PAID and (rng.random() < 0.1 or cand.id == actors.demo["ght"]):
            at = plan.moments[-1] + timedelta(minutes=20)
            plan.messages.append((actors.ministry, WORDS["messages"]["payment_D1"][0], at))
        plans.append(plan)
    return plans


# --------------------------------------------------------------------------- play


def _pending(call: m.FundingCall, plans: list[Planned]) -> list[Planned]:
    """The plans whose candidate has no application to the call yet and whose entities
    are not covered yet (a second run finds none)."""
    covered = m.Coverage.objects.filter(call=call).values_list("legal_entity_id", flat=True)
    entities = sorted({pk for p in plans for pk in p.candidate.covered})
    taken: set[Any] = set(rows_in(covered, "legal_entity_id", entities))
    candidates = m.Application.objects.filter(call=call).values_list("candidate_id", flat=True)
    taken.update(rows_in(candidates, "candidate_id", sorted({p.candidate.id for p in plans})))
    return [p for p in plans if not taken & {p.candidate.id, *p.candidate.covered}]


def _play(plan: Planned, actors: Actors, requirements: list[m.Requirement], files: Files,
          set_clock: Callable[[datetime], None]) -> None:  # fmt: skip
    """Write the application at its first moment, its evidence and messages at theirs,
    then move it along its path at the moment of each step."""
    cand, rng, path, moments = plan.candidate, plan.rng, plan.path, plan.moments
    set_clock(moments[0])
    app = m.Application.objects.create(
        call=plan.call, candidate_id=cand.id, ght_id=cand.ght_id, requested_amount=plan.requested,
        reference=f"tmp-{uuid.uuid4().hex}", created_by=actors.establishment[cand.id],
        **plan.contacts)  # fmt: skip
    app.reference = application_reference(plan.call, app.pk)
    m.Application.objects.filter(pk=app.pk).update(reference=app.reference)
    update = m.Application.objects.filter(pk=app.pk).update
    m.Coverage.objects.bulk_create(
        m.Coverage(call=plan.call, application=app, legal_entity_id=pk) for pk in cand.covered
    )
    answers = {r.identifier: m.Answer(application=app, requirement=r, state=plan.answers[
        r.identifier][0], comment=plan.answers[r.identifier][1]) for r in requirements}  # fmt: skip
    m.Answer.objects.bulk_create(answers.values())
    m.BudgetLine.objects.bulk_create(
        m.BudgetLine(application=app, category=k, description=d, amount=a) for k, d, a in plan.lines
    )
    for key, when in plan.evidence:
        set_clock(when)
        day = timezone.localtime(when, PARIS)
        own = [SPECS[key].title, cand.name, f"Version du {day:%d/%m/%Y}",
               f"Candidature {app.reference} – exigence {key}"]  # fmt: skip
        # A file the applicant may delete again is its own; the others share one.
        name, size, sha256 = (
            files.store(own) if path[-1] in engine.CAN_BECOME_EDITABLE else files.shared(key)
        )
        m.Evidence.objects.create(
            application=app, answer=answers[key], file=name, original_name=SPECS[key].document,
            content_type="application/pdf", size=size, sha256=sha256, uploaded_by=app.created_by,
        )  # fmt: skip
    for author, body, when in plan.messages:
        set_clock(when)
        m.Message.objects.create(application=app, author=author, body=body)
    prefetch_related_objects([app], "answers__requirement", "evidence", "budget_lines")  # submit
    index, agent = 1, actors.regional[cand.region_id]
    while index < len(path):
        source, target, at = app.status, path[index], moments[index]
        set_clock(at)
        rule = engine.rule_for(source, target)
        assert rule is not None, f"demo path breaks the lifecycle: {source} -> {target}"
        if _is_system(source, target):
            engine.application_score(application_id=app.pk)
            app.refresh_from_db(fields=["status", "updated_at"])
            if app.status != target and target == INEL:  # eligible after all
                if path[index + 1 : index + 2] != [RR]:
                    break
                index += 1
            elif app.status != target:  # ineligible: the ministry reconsiders
                end = moments[index + 1] if index + 1 < len(moments) else at + timedelta(hours=1)
                set_clock(_between(rng, at, end))
                comment = rng.choice(WORDS["comments"]["reconsider"])
                engine.application_transition(
                    application=app, to=RR, by=actors.ministry, comment=comment
                )
        elif target == SUB:  # the applicant's service: sworn statement, completeness checks;
            # a file the preview finds ineligible is filed anyway, as its path says
            application_submit(application=app, by=actors.establishment[cand.id], sworn=True,
                               accept_ineligible=True)  # fmt: skip
        else:
            if target == NR:  # the ARS agent's opinion, then the validation
                opinion = rng.choices(["favourable", "reserved", "unfavourable"], [80, 15, 5])[0]
                proposed = (
                    plan.granted * Decimal(0.8 if opinion != "favourable" else 1) // 100 * 100
                )
                m.RegionalReview.objects.create(
                    application=app, author=agent, opinion=opinion, proposed_amount=proposed,
                    motivation=rng.choice(WORDS["opinions"][opinion]))  # fmt: skip
                update(regional_opinion=opinion, proposed_amount=proposed)
            comment = plan.comments.get(rule.action) or WORDS["comments"].get(rule.action, [""])[0]
            if target == PAID:  # the payments, the last of which moves it to paid
                _pay(plan, app, actors.ministry, set_clock)
                assert app.status == PAID, f"{app.reference}: payments short of the grant"
            else:
                engine.application_transition(
                    application=app, to=target, by=actors.of(rule.actors, cand), comment=comment,
                    amount=plan.granted if target == APP else None,
                )  # fmt: skip
            if target == RET:  # complements expected within a fortnight
                update(return_due_on=at.date() + timedelta(15))
        kind = "dossier" if target == SUB else "decision" if source == NR and target != RET else ""
        if kind:  # the PDF to render, left pending
            m.Dossier.objects.create(application=app, kind=kind,
                                     version=dossier_version(app.pk, kind))  # fmt: skip
        if app.status == RR and (index + 1 < len(path) or rng.random() < 0.6):  # an agent in charge
            end = moments[index + 1] if index + 1 < len(moments) else at + timedelta(hours=2)
            update(assigned_to=agent, assigned_at=_between(rng, timezone.now(), end))
        index += 1
    if app.status == VAL:  # a part paid, the rest still due
        _pay(plan, app, actors.ministry, set_clock)


def _pay(plan: Planned, app: m.Application, ministry: User,
         set_clock: Callable[[datetime], None]) -> None:  # fmt: skip
    """The planned payments, each at its moment, through the product's tracking service
    (checks against the grant, the payment row, the audit trail, the move to paid)."""
    for number, (amount, when) in enumerate(plan.payments, 1):
        set_clock(when)
        engine.record_payment(
            app, by=ministry, amount=amount, paid_on=timezone.localtime(when, PARIS).date(),
            chorus_reference=f"DP-{app.reference}-{number}", tranche=engine.Tranche.BALANCE,
        )  # fmt: skip


def seed_applications(*, seed: int, legal_entity_ids: Iterable[int] | None = None,
                      now: datetime | None = None) -> Counter[Any]:  # fmt: skip
    """The demo calls, then applications of these entities (all when None) to them;
    idempotent for a given seed (a re-run only moves the D2 window). Returns the rows
    created per model and the number of evidence files stored."""
    now = now or timezone.now()
    ids = None if legal_entity_ids is None else sorted(set(legal_entity_ids))
    today, files, created = timezone.localtime(now, PARIS).date(), Files(), Counter[Any]()
    models = (m.FundingCall, m.Application, m.Transition, m.EligibilityResult, m.RegionalReview,
              m.Payment)  # fmt: skip
    try:
        with engine.quiet() as set_clock, counting(created, *models, m.Dossier, m.Evidence):
            calls = seed_calls(now=now)
            d2 = next(c for c in calls if c.code == D2_CODE)
            candidates = _candidates(ids, d2.volet1_valid_from)
            actors = _actors(candidates)
            for call, planner in zip(calls, (_plan_d1, _plan_d2), strict=True):
                requirements = list(call.requirements.order_by("position", "identifier"))
                plans = planner(seed, actors, call, requirements, candidates, today)
                for plan in _pending(call, plans):
                    _play(plan, actors, requirements, files, set_clock)
    except BaseException:
        files.discard()
        raise
    created["files"] = len(files.written)
    return created
