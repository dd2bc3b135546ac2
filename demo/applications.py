"""Demo applications to the D1 and D2 calls, moved through the lifecycle engine.

`seed_applications(seed=…)` gives both calls (`demo.calls`) applications from the legal
entities already in the database (`seed_demo` passes its own), with the rules of the
services: a GHT's application is filed by its support and covers every active member,
a public member of a GHT never files alone, an inactive entity never files, an entity
is covered once per call, every requirement has an answer, the requested amount is the
total of the budget lines.

Each application is created in its initial status (draft) with its content, then
moved along a planned path by the engine (`demo.engine`): the candidate's user submits
and withdraws, the ARS agent of its region instructs, the ministry decides, and the
system's moves (submitted → regional review or ineligible) are the real scoring
(`application_score`), whose outcome the path follows (an application the rules find
ineligible where the plan wanted it instructed is reconsidered by the ministry). The
engine stamps `now`: the rows it wrote (transitions, return requests, eligibility
results, submission dates) are then back-dated in bulk to the planned moments. Every
acting user is a real account with the right membership: the demo accounts where they
fit, else one generated account (no usable password) per candidate and per region.
Dossiers are created as pending rows (no PDF is rendered during the seed).

- D1: the entities with Volet 1 results filed in the 2024 window; most reached `paid`
  or `objectives_validated` once their objectives were met (after their audits and
  scans); a few non-participants filed and withdrew, were refused or never submitted.
- D2: about 60% of the entities that may file, spread over every status, dates in the
  30 days the call has been open (never today). etablissement@demo.test's entity has a
  partly filled draft, ght@demo.test's GHT an application under regional review.

Draws come from `random.Random(f"{seed}-{call}-{finess}")` per candidate plus one per
call for the spread of the D2 statuses. References are `<call code>-S<FINESS>`, a
pattern the service never produces. A candidate that already has an application to the
call, or one of whose entities is already covered, is left alone: a re-run creates
nothing.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import models
from django.utils import timezone

from accounts.models import Membership, User
from applications.models import (
    Answer,
    Application,
    BudgetLine,
    Coverage,
    Dossier,
    EligibilityResult,
    Evidence,
    FundingCall,
    Message,
    Requirement,
    Transition,
)
from audits.models import Volet1Level, Volet1Status
from demo import calls as c
from demo.common import Writer, chunks, rows_in
from demo.common import count as _n
from demo.common import share as _share
from demo.engine import (
    EDITABLE_STATUSES,
    TRANSITIONS,
    Actor,
    Status,
    application_score,
    application_transition,
    quiet,
    rule_for,
)
from establishments.models import LegalEntity, Region, StatusGroup

BATCH_SIZE = 500
S = Status
D, SUB, INEL, RR, RET, NR, APP, REJ, WD = (
    S.DRAFT.value,
    S.SUBMITTED.value,
    S.INELIGIBLE.value,
    S.REGIONAL_REVIEW.value,
    S.RETURNED.value,
    S.NATIONAL_REVIEW.value,
    S.APPROVED.value,
    S.REJECTED.value,
    S.WITHDRAWN.value,
)
DECL, CHK, VAL, PAID = (
    S.OBJECTIVES_DECLARED.value,
    S.OBJECTIVES_CHECKED.value,
    S.OBJECTIVES_VALIDATED.value,
    S.PAID.value,
)
DECLARED_OR_LATER = {DECL, CHK, VAL, PAID}
# Spread of the D2 applications (the call is current: most under instruction).
D2_STATUS_WEIGHTS: dict[str, float] = {
    D: 9,
    SUB: 14,
    INEL: 7,
    RR: 20,
    RET: 5,
    NR: 14,
    APP: 13,
    REJ: 3,
    WD: 4,
    DECL: 4,
    CHK: 3,
    VAL: 2,
    PAID: 2,
}
# Without both Volet 1 objectives (E5, required for D2) a candidate goes no further.
NO_VOLET1_STATUSES = (INEL, D, SUB, WD)
# Share of the entities that may file which file to D2, by Volet 1 level.
D2_PARTICIPATION: dict[str, float] = {"both": 0.70, "ad_done": 0.45, "exposure_met": 0.45}
D2_GHT_PARTICIPATION = 0.9
D1_SHARES = {"D1.O1": Decimal("0.5"), "D1.O2.A": Decimal("0.2"), "D1.O2.B": Decimal("0.3")}
# Relative weight of a budget category in a total.
Brackets = list[tuple[int, int | None, Decimal]]  # (min staff, max staff, ceiling)
CATEGORY_WEIGHTS = {
    "consulting": 3.0,
    "hardware": 3.0,
    "software": 2.5,
    "staff": 2.0,
    "training": 1.2,
    "other": 0.4,
}


def _reachable_editable() -> frozenset[str]:
    """Statuses from which `draft` or `returned` can still be reached: evidence of an
    application in any other status is never deleted again, so it may share files."""
    result = set(EDITABLE_STATUSES)
    while grown := {
        s for s, targets in TRANSITIONS.items() if s not in result and targets & result
    }:
        result |= grown
    return frozenset(result)


CAN_BECOME_EDITABLE = _reachable_editable()


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Candidate:
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
    volet1_met: bool  # every covered entity met both Volet 1 objectives (E5)
    ad_audit_date: date | None
    second_scan_date: date | None
    last_scan_date: date | None


@dataclass
class Actors:
    """The users who act: per candidate, per region, the ministry."""

    establishment: dict[int, User]
    regional: dict[int, User]
    ministry: User
    demo_entity: int | None  # etablissement@demo.test's
    ght_support: int | None  # ght@demo.test's
    ars_region: int | None  # ars@demo.test's

    def of(self, actors: frozenset[str], candidate: Candidate) -> User | None:
        if Actor.ESTABLISHMENT in actors:
            return self.establishment[candidate.id]
        if Actor.REGIONAL in actors:
            return self.regional[candidate.region_id]
        return self.ministry if Actor.MINISTRY in actors else None


def _candidates(ids: Sequence[int] | None) -> list[Candidate]:
    """The candidates among these entities (all when None), by FINESS: the active ones
    but the public members of a GHT (covered by their GHT's application)."""
    query = LegalEntity.objects.values_list("id", "finess", "name", "status_group", "ght_id",
                                            "is_ght_support", "active", "staff_count",
                                            "department__region_id")  # fmt: skip
    rows = list(query) if ids is None else list(rows_in(query, "id", ids))
    filers = [r for r in rows if r[6] and not (r[3] == StatusGroup.PUBLIC and r[4] and not r[5])]
    members: dict[int, list[tuple[int, int]]] = defaultdict(list)
    active = LegalEntity.objects.filter(active=True).values_list("ght_id", "id", "staff_count")
    for ght_id, pk, staff in rows_in(
        active, "ght_id", sorted({r[4] for r in filers if r[5] and r[4]})
    ):
        members[ght_id].append((pk, staff or 0))
    considered = sorted({r[0] for r in filers} | {m[0] for ms in members.values() for m in ms})
    volet1 = Volet1Status.objects.values_list(
        "legal_entity_id", "level", "ad_audit_date", "exposure_second_scan_date", "last_scan_date"
    )
    statuses = {pk: tuple(row) for pk, *row in rows_in(volet1, "legal_entity_id", considered)}
    result = []
    for pk, finess, name, _, ght_id, support, _, staff, region_id in filers:
        mine = sorted(members[ght_id], key=lambda m: (m[0] != pk, m[0])) if support else []
        covers = tuple(m[0] for m in mine) or (pk,)
        level, ad_date, second, last = statuses.get(pk, (Volet1Level.NONE, None, None, None))
        met = all(statuses.get(m, ("none",))[0] == Volet1Level.BOTH for m in covers)
        total = sum(m[1] for m in mine) if mine else staff or 0
        ght = ght_id if support else None
        result.append(Candidate(pk, finess, name, region_id, ght, covers, total, level, met,
                                ad_date, second, last))  # fmt: skip
    return sorted(result, key=lambda x: x.finess)


def _actors(candidates: Sequence[Candidate]) -> Actors:
    """The demo accounts where they fit; else an account (no usable password) for each
    candidate and each region, created with its membership when missing."""
    emails = c.DEMO_EMAILS
    rows = Membership.objects.filter(user__email__in=list(emails.values()))
    demo = {
        e: pk or r for e, pk, r in rows.values_list("user__email", "legal_entity_id", "region_id")
    }
    mine = {demo.get(emails[key]): emails[key] for key in ("establishment", "ght")}
    role = Membership.Role
    specs = [  # e-mail, full name, role, legal entity, region
        (mine.get(x.id) or f"referent.{x.finess.lower()}@demo.test",
         f"Référent CaRE – {x.name}"[:150], role.ESTABLISHMENT, x.id, None) for x in candidates
    ] + [
        (emails["regional"] if r.pk == demo.get(emails["regional"]) else f"ars.{r.code}@demo.test",
         f"Agent instructeur – {r.ars_name}"[:150], role.REGIONAL, None, r.pk)
        for r in Region.objects.all()
    ] + [(emails["ministry"], "Démo Ministère", role.MINISTRY, None, None)]  # fmt: skip
    wanted = [spec[0] for spec in specs]
    existing = set(rows_in(User.objects.values_list("email", flat=True), "email", wanted))
    unusable = make_password(None)  # generated actors never log in
    new_users = [
        User(email=e, full_name=name, password=unusable)
        for e, name, *_ in specs
        if e not in existing
    ]
    User.objects.bulk_create(new_users, batch_size=BATCH_SIZE)
    users = {u.email: u for u in rows_in(User.objects, "email", wanted)}
    have = set(rows_in(Membership.objects.values_list("user_id", "role", "legal_entity_id",
                       "region_id"), "user_id", [u.pk for u in users.values()]))  # fmt: skip
    Membership.objects.bulk_create(
        [Membership(user=users[e], role=r, legal_entity_id=le, region_id=rg)
         for e, _, r, le, rg in specs if (users[e].pk, r, le, rg) not in have],
        batch_size=BATCH_SIZE,
    )  # fmt: skip
    return Actors(
        {le: users[e] for e, _, _, le, _ in specs if le},
        {rg: users[e] for e, *_, rg in specs if rg},
        users[emails["ministry"]], demo.get(emails["establishment"]), demo.get(emails["ght"]),
        demo.get(emails["regional"]),
    )  # fmt: skip


# --------------------------------------------------------------------------- plan


@dataclass
class Planned:
    call: FundingCall
    candidate: Candidate
    rng: random.Random
    path: list[str] = field(default_factory=lambda: [D])
    moments: list[datetime] = field(default_factory=list)  # moments[0]: the creation
    comments: dict[str, str] = field(default_factory=dict)  # by action
    contacts: dict[str, str] = field(default_factory=dict)
    answers: dict[str, tuple[str, str]] = field(default_factory=dict)
    lines: list[tuple[str, str, Decimal]] = field(default_factory=list)
    granted: Decimal | None = None
    paid: Decimal | None = None
    evidence: list[tuple[str, datetime]] = field(default_factory=list)  # identifier, when
    messages: list[tuple[User | None, str, datetime]] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return f"{self.call.code}-S{self.candidate.finess}"

    @property
    def requested(self) -> Decimal:
        return sum((amount for _, _, amount in self.lines), Decimal("0"))

    def first(self, target: str) -> datetime | None:
        return next(
            (at for s, at in zip(self.path, self.moments, strict=True) if s == target), None
        )


def _rng(seed: int, code: str, finess: str) -> random.Random:
    return random.Random(f"{seed}-{code}-{finess}")  # noqa: S311 - demo data, not security


def _quotas(total: int, weights: dict[str, float]) -> Counter[str]:
    """`total` split by weight (largest remainder), each key at least once if it can."""
    minimum = 1 if total >= len(weights) else 0
    raw = {k: total * w / sum(weights.values()) for k, w in weights.items()}
    result = Counter({k: max(minimum, int(v)) for k, v in raw.items()})
    while sum(result.values()) < total:
        result[max(raw, key=lambda k: (raw[k] - result[k], weights[k]))] += 1
    while sum(result.values()) > total:
        result[max((k for k in raw if result[k] > minimum), key=lambda k: result[k] - raw[k])] -= 1
    return result


def _spread(
    rng: random.Random, participants: list[Candidate], forced: dict[int, str]
) -> dict[int, str]:
    """Status of each D2 participant: the quotas of D2_STATUS_WEIGHTS, a candidate
    lacking a Volet 1 objective only in NO_VOLET1_STATUSES (E5)."""
    bag = _quotas(len(participants), D2_STATUS_WEIGHTS)
    result: dict[int, str] = {}

    def take(pk: int, status: str) -> None:
        result[pk] = status
        bag[status if bag[status] > 0 else max(bag, key=lambda k: (bag[k], k))] -= 1

    for cand in participants:
        if cand.id in forced:
            take(cand.id, forced[cand.id])
    free = [x for x in participants if x.id not in forced]
    restricted, free = [x for x in free if not x.volet1_met], [x for x in free if x.volet1_met]
    rng.shuffle(restricted)
    rng.shuffle(free)
    for cand in restricted:
        take(cand.id, next((s for s in NO_VOLET1_STATUSES if bag[s] > 0), INEL))
    rest = sorted(bag.elements())
    rng.shuffle(rest)
    result.update({x.id: s for x, s in zip(free, rest, strict=True)})
    return result


def _ceiling(brackets: Brackets, staff: int) -> Decimal:
    for low, high, ceiling in brackets:
        if staff >= low and (high is None or staff <= high):
            return ceiling
    return brackets[-1][2] if brackets else Decimal("100000")


def _budget(plan: Planned, domain: str, ceiling: Decimal, count: int, share: float) -> None:
    """`count` lines of distinct categories, about `share` of the ceiling in all."""
    rng, pool = plan.rng, c.BUDGET_POOLS[domain]
    categories = rng.sample(sorted(pool), min(count, len(pool)))
    weights = [CATEGORY_WEIGHTS.get(k, 1.0) * rng.uniform(0.6, 1.4) for k in categories]
    for category, weight in zip(categories, weights, strict=True):
        amount = max(500, int(float(ceiling) * share * weight / sum(weights)) // 100 * 100)
        plan.lines.append((category, rng.choice(pool[category]), Decimal(amount)))


def _stamp(plan: Planned, days: Sequence[date]) -> None:
    """Strictly increasing moments in office hours on these days; a system step comes a
    few minutes after the previous one."""
    rng, moments = plan.rng, plan.moments
    for index, day in enumerate(days):
        system = index and _is_system(plan.path[index - 1], plan.path[index])
        at = datetime.combine(day, time(8, 0), c.PARIS) + timedelta(minutes=rng.randint(0, 660))
        if moments and (system or at <= moments[-1]):
            at = moments[-1] + timedelta(minutes=rng.randint(2, 45))
        moments.append(at)


def _between(rng: random.Random, low: datetime, high: datetime) -> datetime:
    """A moment strictly between `low` and `high`, in office hours when there is room."""
    for _ in range(6):
        day = timezone.localtime(low + (high - low) * rng.random(), c.PARIS).date()
        at = datetime.combine(day, time(8, 0), c.PARIS) + timedelta(minutes=rng.randint(0, 660))
        if low < at < high:
            return at
    return low + (high - low) * rng.uniform(0.2, 0.8)


def _contacts(plan: Planned, *, complete: bool) -> None:
    keep = 6 if complete else plan.rng.randint(0, 6)  # a draft: the first fields only
    for index, role in enumerate(("director", "rssi", "continuity_lead")):
        person, email = c.person(plan.rng, c.mail_domain(plan.candidate.name))
        plan.contacts[f"{role}_name"] = person if 2 * index < keep else ""
        plan.contacts[f"{role}_email"] = email if 2 * index + 1 < keep else ""


def _is_system(source: str, target: str) -> bool:
    rule = rule_for(source, target)
    return rule is not None and rule.actors == frozenset({Actor.SYSTEM.value})


def _answer(plan: Planned, identifier: str, state: str, share: float = 0.4) -> None:
    pool = c.ANSWER_COMMENTS.get(identifier)
    comment = plan.rng.choice(pool) if pool and state and plan.rng.random() < share else ""
    plan.answers[identifier] = (state, comment)


def _declaration_evidence(plan: Planned) -> None:
    """The files of the met objectives, uploaded before the first declaration."""
    declared = plan.first(DECL)
    if declared is None:
        return
    before = max(at for at in plan.moments if at < declared)
    for identifier, (state, _) in plan.answers.items():
        spec = c.SPECS.get(identifier)
        if state == "met" and spec and spec.evidence_stage == c.AT_DECLARATION:
            plan.evidence.append((identifier, _between(plan.rng, before, declared)))


# --------------------------------------------------------------------------- D2


def _d2_path(rng: random.Random, status: str, cand: Candidate, regional: bool) -> list[str]:
    """A path from draft to `status`, with the occasional detour (returned and
    resubmitted, found ineligible then reconsidered, evidence refused)."""

    def returned() -> list[str]:  # by the ARS of the region, or by the ministry
        return [RET] if regional and rng.random() < 0.7 else [NR, RET]

    def review(loop: bool) -> list[str]:
        return [D, SUB, RR, *returned(), SUB, RR] if loop else [D, SUB, RR]

    if status in (D, INEL):
        return [D] if status == D else [D, SUB, INEL]
    if status == SUB:  # resubmitted after a return, for some (eligible) ones
        return (
            [D, SUB, RR, *returned(), SUB] if cand.volet1_met and rng.random() < 0.12 else [D, SUB]
        )
    if status == WD:
        if not cand.volet1_met:
            return rng.choice([[D, WD], [D, SUB, WD]])
        return rng.choices([[D, WD], [D, SUB, WD], [D, SUB, RR, WD]], [40, 35, 25])[0]
    if status == RR:
        draw = rng.random()
        return [D, SUB, INEL, RR] if draw < 0.1 or not cand.volet1_met else review(draw > 0.9)
    if status == RET:
        return [D, SUB, RR, *returned()]
    national = [*review(rng.random() < 0.1), NR]
    if status in (NR, REJ):
        return national if status == NR else [*national, REJ]
    approved = [*national, APP]
    if status == APP:
        return [*approved, DECL, APP] if rng.random() < 0.08 else approved
    declared = [*approved, DECL, APP, DECL] if rng.random() < 0.1 else [*approved, DECL]
    return declared + {DECL: [], CHK: [CHK], VAL: [CHK, VAL], PAID: [CHK, VAL, PAID]}[status]


def _plan_d2(
    seed: int,
    actors: Actors,
    call: FundingCall,
    requirements: list[Requirement],
    brackets: Brackets,
    candidates: Sequence[Candidate],
    today: date,
) -> list[Planned]:
    opened = timezone.localtime(call.opens_at, c.PARIS).date()
    span = max(1, (today - opened).days)  # days the call has been open, today excluded
    limit = datetime.combine(today, time(0, 0), c.PARIS)  # nothing happens today or later
    featured = (actors.demo_entity, actors.ght_support)
    plans = {}
    for cand in candidates:
        plan = Planned(call, cand, _rng(seed, call.code, cand.finess))
        share = D2_GHT_PARTICIPATION if cand.ght_id else D2_PARTICIPATION.get(cand.level, 0.2)
        if plan.rng.random() < share or cand.id in featured:
            plans[cand.id] = plan
    forced = {pk: s for pk, s in zip(featured, (D, RR), strict=True) if pk in plans}
    statuses = _spread(
        random.Random(f"{seed}-{call.code}-statuses"),  # noqa: S311
        [p.candidate for p in plans.values()],
        forced,
    )
    for plan in plans.values():
        cand, rng, status = plan.candidate, plan.rng, statuses[plan.candidate.id]
        if cand.id == actors.demo_entity:  # a draft to be continued
            plan.moments = [_between(rng, limit - timedelta(days=3), limit - timedelta(days=2))]
            _contacts(plan, complete=True)
            plan.contacts["continuity_lead_name"] = plan.contacts["continuity_lead_email"] = ""
            first = {
                "D2.P1": ("met", ""),
                "D2.P2": ("met", c.ANSWER_COMMENTS["D2.P2"][0]),
                "D2.P3": ("in_progress", "Note de désignation du RPCA à la signature."),
            }
            plan.answers = {r.identifier: first.get(r.identifier, ("", "")) for r in requirements}
            plan.lines = [("consulting", c.BUDGET_POOLS["D2"]["consulting"][0], Decimal("48000"))]
            continue
        plan.path = _d2_path(rng, status, cand, actors.ars_region == cand.region_id)
        ceiling = _ceiling(brackets, cand.staff)
        over = (status == INEL and cand.volet1_met) or (status in (D, SUB) and rng.random() < 0.1)
        draft = plan.path in ([D], [D, WD])
        share = rng.uniform(1.05, 1.35) if over else rng.uniform(0.35, 0.97)
        _budget(plan, "D2", ceiling, rng.randint(1, 3) if draft else rng.randint(2, 5), share)
        if over and plan.requested <= ceiling:
            category, text, amount = plan.lines[0]
            plan.lines[0] = (category, text, amount + ceiling - plan.requested + 1000)
        _contacts(plan, complete=not draft)
        factor = rng.choice([Decimal(1), Decimal(1), Decimal(1), Decimal("0.9"), Decimal("0.85")])
        plan.granted = Decimal(int(min(plan.requested, ceiling) * factor) // 100 * 100)
        pay = Decimal(1) if rng.random() < 0.7 else Decimal(str(rng.uniform(0.9, 0.99)))
        plan.paid = Decimal(int(plan.granted * pay))
        plan.comments = {action: rng.choice(texts) for action, texts in c.COMMENTS.items()}
        days = sorted(rng.randint(0, span - 1) for _ in plan.path)
        if status == SUB:
            days[-1] = max(days[-1], rng.randint(max(0, span - 8), span - 1))
        _stamp(plan, [opened + timedelta(days=d) for d in days])
        declared = status in DECLARED_OR_LATER
        for req in requirements:
            if draft:
                weights = [60, 20, 20] if req.kind == c.PRE else [0, 50, 50]
                state = rng.choices(["met", "in_progress", ""], weights)[0]
            else:  # a submission needs every prerequisite met
                met = req.kind == c.PRE or declared or rng.random() < 0.15
                state = "met" if met else "in_progress"
            _answer(plan, req.identifier, state)
        submitted = plan.first(SUB)
        for req in requirements:
            met = plan.answers[req.identifier][0] == "met"
            if submitted and met and req.evidence_stage == c.AT_APPLICATION:
                plan.evidence.append((req.identifier, _between(rng, plan.moments[0], submitted)))
        _declaration_evidence(plan)
        _d2_messages(plan, actors, limit)
    return list(plans.values())


def _d2_messages(plan: Planned, actors: Actors, limit: datetime) -> None:
    """A few messages: the ARS agent in regional review, the ministry in national
    review, the establishment's reply before a resubmission."""
    rng, path, moments, cand = plan.rng, plan.path, plan.moments, plan.candidate

    def during(index: int) -> datetime:  # while the application is in path[index]
        after = moments[index]
        end = (
            moments[index + 1]
            if index + 1 < len(moments)
            else min(limit, after + timedelta(days=2))
        )
        return _between(rng, after, end)

    if RR in path and (rng.random() < 0.35 or cand.id == actors.ght_support):
        body = rng.choice(c.MESSAGES["regional"])
        plan.messages.append((actors.regional[cand.region_id], body, during(path.index(RR))))
    if NR in path and rng.random() < 0.15:
        body = rng.choice(c.MESSAGES["ministry"])
        plan.messages.append((actors.ministry, body, during(path.index(NR))))
    for index, (source, target) in enumerate(pairwise(path)):
        if (source, target) == (RET, SUB):
            at = moments[index + 1] - timedelta(minutes=3)
            plan.messages.append((actors.establishment[cand.id], c.MESSAGES["reply"][0], at))


# --------------------------------------------------------------------------- D1


def _plan_d1(
    seed: int,
    actors: Actors,
    call: FundingCall,
    requirements: list[Requirement],
    brackets: Brackets,
    candidates: Sequence[Candidate],
    today: date,
) -> list[Planned]:
    """The D1 history: participants of Volet 1 filed in the 2024 window; most were paid
    once their objectives were met (dates after their audits and scans)."""
    opened = timezone.localtime(call.opens_at, c.PARIS).date()
    closed = timezone.localtime(call.closes_at, c.PARIS).date()
    plans = []
    for cand in candidates:
        rng = _rng(seed, call.code, cand.finess)
        featured = cand.id in (actors.demo_entity, actors.ght_support)
        has_volet1 = cand.ad_audit_date is not None or cand.last_scan_date is not None
        if featured:
            outcome = "track"
        elif has_volet1:
            if rng.random() >= 0.97:
                continue
            outcome = rng.choices(["track", REJ, WD], [97, 1.5, 1.5])[0]
        else:
            if rng.random() >= 0.12:
                continue
            outcome = rng.choices([D, WD, REJ], [30, 40, 30])[0]
        plan = Planned(call, cand, rng)
        met = {
            "D1.O1": cand.ad_audit_date is not None,
            "D1.O2.A": cand.last_scan_date is not None,
            "D1.O2.B": cand.second_scan_date is not None,
        }
        created = min(opened + timedelta(days=rng.randint(0, 26)), closed)
        submitted = min(created + timedelta(days=rng.randint(0, 5)), closed)
        national = closed + timedelta(days=rng.randint(10, 60))
        days = [created]
        if outcome == WD:
            plan.path, days = (
                ([D, WD], [created, submitted])
                if rng.random() < 0.5
                else (
                    [D, SUB, WD],
                    [created, submitted, submitted + timedelta(days=rng.randint(3, 40))],
                )
            )
        elif outcome != D:
            plan.path = [D, SUB, RR, NR, REJ if outcome == REJ else APP]
            days = [
                created,
                submitted,
                submitted,
                national,
                national + timedelta(days=rng.randint(10, 45)),
            ]
            reached = [
                d
                for d, ok in (
                    (cand.ad_audit_date, met["D1.O1"]),
                    (cand.second_scan_date, met["D1.O2.B"]),
                )
                if ok and d
            ] or [d for d in [cand.last_scan_date] if d]
            if (
                outcome != REJ
                and reached
                and cand.id != actors.demo_entity
                and (all(met.values()) or rng.random() < 0.8)
            ):
                day = max(
                    days[-1] + timedelta(days=7), max(reached) + timedelta(days=rng.randint(2, 20))
                )
                for target, gap in (
                    (DECL, 0),
                    (CHK, rng.randint(5, 25)),
                    (VAL, rng.randint(5, 25)),
                    (PAID, rng.randint(7, 30)),
                ):
                    day += timedelta(days=gap)
                    if day > c.D1_END:
                        break
                    plan.path.append(target)
                    days.append(day)
        ceiling = _ceiling(brackets, cand.staff)
        _budget(plan, "D1", ceiling, rng.randint(2, 4), rng.uniform(0.45, 1.0))
        _contacts(plan, complete=plan.path not in ([D], [D, WD]))
        plan.granted = Decimal(int(min(plan.requested, ceiling)) // 100 * 100)
        share = sum((D1_SHARES[k] for k, ok in met.items() if ok), Decimal(0))
        plan.paid = Decimal(int(plan.granted * share * Decimal(str(rng.uniform(0.9, 1.0)))))
        plan.comments = {
            "reject": rng.choice(c.COMMENTS["reject_D1"]),
            "withdraw": rng.choice(c.COMMENTS["withdraw"]),
        }
        _stamp(plan, days)
        declared = plan.path[-1] in DECLARED_OR_LATER
        for req in requirements:
            state = "met" if declared and met.get(req.identifier) else "in_progress"
            _answer(
                plan,
                req.identifier,
                rng.choice(["in_progress", ""]) if SUB not in plan.path else state,
                0.25,
            )
        _declaration_evidence(plan)
        if plan.path[-1] == PAID and (rng.random() < 0.1 or cand.id == actors.ght_support):
            at = plan.moments[-1] + timedelta(minutes=20)
            plan.messages.append((actors.ministry, c.MESSAGES["payment_D1"][0], at))
        plans.append(plan)
    return plans


# --------------------------------------------------------------------------- write


@contextmanager
def _explicit_timestamps(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let bulk_create write the `created_at`/`updated_at` given (the dates of the demo
    history) instead of now: auto_now(_add) off on these models meanwhile."""
    saved = []
    for model in model_classes:
        for name in ("created_at", "updated_at"):
            field_: Any = model._meta.get_field(name)
            saved.append((field_, field_.auto_now, field_.auto_now_add))
            field_.auto_now = field_.auto_now_add = False
    try:
        yield
    finally:
        for field_, auto_now, auto_now_add in saved:
            field_.auto_now, field_.auto_now_add = auto_now, auto_now_add


def _pending(call: FundingCall, plans: list[Planned]) -> list[Planned]:
    """The plans whose candidate has no application to the call yet and whose entities
    are not covered yet (a second run finds none)."""
    covered = Coverage.objects.filter(call=call).values_list("legal_entity_id", flat=True)
    taken: set[Any] = set(
        rows_in(
            covered, "legal_entity_id", sorted({pk for p in plans for pk in p.candidate.covered})
        )
    )
    references = Application.objects.values_list("reference", flat=True)
    taken.update(rows_in(references, "reference", [p.reference for p in plans]))
    return [p for p in plans if not taken & {p.candidate.id, p.reference, *p.candidate.covered}]


def _write(plans: list[Planned], requirements: dict[int, list[Requirement]], actors: Actors,
           files: c.Files) -> list[Application]:  # fmt: skip
    """The applications in their initial status with their content, in bulk."""
    entities = LegalEntity.objects.select_related("department").in_bulk(
        [p.candidate.id for p in plans]
    )
    applications = [
        Application(call=p.call, candidate=entities[p.candidate.id], ght_id=p.candidate.ght_id,
                    reference=p.reference, requested_amount=p.requested, created_at=p.moments[0],
                    updated_at=p.moments[0], created_by=actors.establishment[p.candidate.id],
                    **p.contacts)
        for p in plans
    ]  # fmt: skip
    rows: dict[type[models.Model], list[Any]] = defaultdict(list)
    with _explicit_timestamps(Application, Coverage, Answer, BudgetLine, Evidence, Message):
        Application.objects.bulk_create(applications, batch_size=BATCH_SIZE)
        for plan, app in zip(plans, applications, strict=True):
            at = {"application": app, "created_at": plan.moments[0], "updated_at": plan.moments[0]}
            rows[Coverage] += [
                Coverage(call=plan.call, legal_entity_id=pk, **at) for pk in plan.candidate.covered
            ]
            rows[Answer] += [Answer(requirement=r, state=plan.answers[r.identifier][0],
                                    comment=plan.answers[r.identifier][1], **at)
                             for r in requirements[plan.call.pk]]  # fmt: skip
            rows[BudgetLine] += [
                BudgetLine(category=k, description=d, amount=a, **at) for k, d, a in plan.lines
            ]
            rows[Message] += [
                Message(application=app, author=who, body=body, created_at=when, updated_at=when)
                for who, body, when in plan.messages
            ]
        for model in (Coverage, Answer, BudgetLine, Message):
            model._default_manager.bulk_create(rows[model], batch_size=BATCH_SIZE)
        answer_of = {(a.application_id, a.requirement.identifier): a for a in rows[Answer]}
        for plan, app in zip(plans, applications, strict=True):
            for identifier, when in plan.evidence:
                spec = c.SPECS[identifier]
                day = timezone.localtime(when, c.PARIS)
                version = [spec.title, plan.candidate.name, f"Version du {day:%d/%m/%Y}",
                           f"Candidature {plan.reference} – exigence {identifier}"]  # fmt: skip
                # A file the applicant may delete again is its own; the others share one.
                own = plan.path[-1] in CAN_BECOME_EDITABLE
                stored = files.store([*version, *c.FICTION]) if own else files.shared(identifier)
                rows[Evidence].append(
                    Evidence(
                        application=app,
                        answer=answer_of[(app.pk, identifier)],
                        file=stored.name,
                        original_name=spec.document,
                        content_type="application/pdf",
                        size=stored.size,
                        sha256=stored.sha256,
                        uploaded_by=app.created_by,
                        created_at=when,
                        updated_at=when,
                    )
                )
        Evidence.objects.bulk_create(rows[Evidence], batch_size=BATCH_SIZE)
    return applications


def _replay(plan: Planned, app: Application, actors: Actors) -> list[datetime]:
    """Move the application along its path with the engine; returns the moment of each
    transition it took. The scoring decides between regional review and ineligible: an
    application found ineligible where the path goes on is reconsidered by the ministry,
    one found eligible where the path wanted it ineligible stays in regional review."""
    taken: list[datetime] = []
    path, moments = plan.path, plan.moments
    index = 1
    while index < len(path):
        target, at = path[index], moments[index]
        if _is_system(app.status, target):
            application_score(application_id=app.pk)
            app.refresh_from_db(fields=["status", "updated_at"])
            taken.append(at)
            if app.status != target and target == INEL:  # eligible after all
                if path[index + 1 : index + 2] != [RR]:
                    break
                index += 1
            elif app.status != target:  # ineligible: the ministry reconsiders
                end = moments[index + 1] if index + 1 < len(moments) else at + timedelta(days=3)
                when = _between(plan.rng, at, end)
                application_transition(
                    application=app,
                    to=RR,
                    by=actors.ministry,
                    comment=plan.rng.choice(c.COMMENTS["reconsider"]),
                )
                taken.append(when)
        else:
            rule = rule_for(app.status, target)
            assert rule is not None, f"demo path breaks the lifecycle: {app.status} -> {target}"
            amount = plan.granted if target == APP and app.status == NR else None
            record = application_transition(
                application=app,
                to=target,
                by=actors.of(rule.actors, plan.candidate),
                comment=plan.comments.get(rule.action, "") or c.COMMENTS.get(rule.action, [""])[0],
                amount=plan.paid if target == PAID else amount,
            )
            taken.append(at)
            if target == SUB:  # the scoring reads the first submission date (E4)
                Transition.objects.filter(pk=record.pk).update(created_at=at)
        index += 1
    return taken


def _backdate(
    applications: Sequence[Application], taken: dict[int, list[datetime]]
) -> Counter[str]:
    """Date what the engine stamped `now` at the planned moments: transitions, return
    requests, eligibility results, submissions; then the pending dossiers."""
    ids = [a.pk for a in applications]
    transitions: dict[int, list[Transition]] = defaultdict(list)
    for t in rows_in(Transition.objects.order_by("id"), "application_id", ids):
        transitions[t.application_id].append(t)
    returns: dict[int, list[datetime]] = defaultdict(list)
    scored: dict[int, datetime] = {}
    updates, dossiers = [], []
    for app in applications:
        chain = transitions[app.pk]
        for t, at in zip(chain, taken[app.pk], strict=True):
            t.created_at = at
            if t.to_status == RET:
                returns[app.pk].append(at)
            if _is_system(t.from_status, t.to_status):
                scored.setdefault(app.pk, at)
        submissions = [t for t in chain if t.to_status == SUB]
        decisions = [t for t in chain if t.from_status == NR and t.to_status in (APP, REJ)]
        last = submissions[-1].created_at if submissions else None
        updated = chain[-1].created_at if chain else app.created_at
        updates.append(Application(pk=app.pk, updated_at=updated, submitted_at=last, sworn_at=last,
                                   sworn_statement=last is not None,
                                   sworn_by=app.created_by if last else None))  # fmt: skip
        for kind, done in ((Dossier.Kind.DOSSIER, submissions), (Dossier.Kind.DECISION, decisions)):
            dossiers += [Dossier(application_id=app.pk, kind=kind, version=n,
                                 created_at=t.created_at, updated_at=t.created_at)
                         for n, t in enumerate(done, start=1)]  # fmt: skip
    rows = [t for chain in transitions.values() for t in chain]
    Transition.objects.bulk_update(rows, ["created_at"], batch_size=BATCH_SIZE)
    sworn = ["updated_at", "submitted_at", "sworn_statement", "sworn_at", "sworn_by"]
    Application.objects.bulk_update(updates, sworn, batch_size=BATCH_SIZE)
    messages = list(
        rows_in(
            Message.objects.filter(is_return_request=True).order_by("id"), "application_id", ids
        )
    )
    for m in messages:
        m.created_at = m.updated_at = returns[m.application_id].pop(0)
    Message.objects.bulk_update(messages, ["created_at", "updated_at"], batch_size=BATCH_SIZE)
    results = list(rows_in(EligibilityResult.objects, "application_id", list(scored)))
    for r in results:
        r.computed_at = r.created_at = r.updated_at = scored[r.application_id]
    dates = ["computed_at", "created_at", "updated_at"]
    EligibilityResult.objects.bulk_update(results, dates, batch_size=BATCH_SIZE)
    with _explicit_timestamps(Dossier):
        Dossier.objects.bulk_create(dossiers, batch_size=BATCH_SIZE)
    return Counter(transitions=len(rows), eligibility_results=len(results), dossiers=len(dossiers),
                   eligible_results=sum(r.eligible for r in results))  # fmt: skip


# --------------------------------------------------------------------------- entry point


@dataclass
class CallDemoSummary:
    code: str
    is_open: bool
    closes_at: datetime
    candidates: int  # entities that may file (a GHT counts once, by its support)
    applications: int  # applications of these candidates to the call
    created: int
    by_status: dict[str, int]


@dataclass
class ApplicationsDemoSummary:
    seed: int
    created_calls: int
    calls: list[CallDemoSummary]
    created: Counter[str]
    stored_files: int
    featured: dict[str, str]  # demo account e-mail -> "reference (status)" per call


def seed_applications(
    *,
    seed: int,
    legal_entity_ids: Iterable[int] | None = None,
    now: datetime | None = None,
    stdout: Writer | None = None,
) -> ApplicationsDemoSummary:
    """The demo calls, then applications of these entities (all when None) to them;
    idempotent for a given seed (a re-run only moves the D2 window)."""
    now = now or timezone.now()
    ids = None if legal_entity_ids is None else sorted(set(legal_entity_ids))
    files = c.Files()
    created: Counter[str] = Counter()
    try:
        with quiet():
            d1, d2, created_calls = c.seed_calls(now=now)
            candidates = _candidates(ids)
            actors = _actors(candidates)
            today = timezone.localtime(now, c.PARIS).date()
            requirements = {call.pk: list(call.requirements.order_by("position", "identifier"))
                            for call in (d1, d2)}  # fmt: skip
            summaries = []
            for call, plan in ((d1, _plan_d1), (d2, _plan_d2)):
                brackets = [(b.min_staff, b.max_staff, b.ceiling) for b in call.brackets.all()]
                plans = plan(seed, actors, call, requirements[call.pk], brackets, candidates, today)
                pending = _pending(call, plans)
                applications = _write(pending, requirements, actors, files)
                taken = {
                    a.pk: _replay(p, a, actors) for p, a in zip(pending, applications, strict=True)
                }
                created += _backdate(applications, taken)
                created["applications"] += len(applications)
                by_status: Counter[str] = Counter()
                for chunk in chunks([x.id for x in candidates]):
                    rows = call.applications.filter(candidate_id__in=chunk).values_list("status")
                    by_status.update(dict(rows.annotate(n=models.Count("pk")).order_by()))
                summaries.append(
                    CallDemoSummary(
                        call.code,
                        call.is_open(now),
                        call.closes_at,
                        len(candidates),
                        by_status.total(),
                        len(applications),
                        {s: by_status[s] for s in Status.values},
                    )
                )
            featured = {}
            for key, pk in (("establishment", actors.demo_entity), ("ght", actors.ght_support)):
                rows = Application.objects.filter(candidate_id=pk, call__in=[d1, d2])
                featured[c.DEMO_EMAILS[key]] = " ; ".join(
                    f"{a.reference} ({Status(a.status).label})"
                    for a in rows.order_by("call__opens_at")
                )
    except BaseException:
        files.discard()
        raise
    if stdout is not None:
        counts = ", ".join(f"{s.code} {_n(s.applications)}" for s in summaries)
        stdout.write(f"Candidatures (graine {seed}) : {counts}.\n")
    featured = {k: v for k, v in featured.items() if v}
    return ApplicationsDemoSummary(
        seed, created_calls, summaries, created, len(files.written), featured
    )


def applications_summary_lines(summary: ApplicationsDemoSummary) -> list[str]:
    """The French report of the calls and applications of the demo data."""
    lines = []
    for call in summary.calls:
        closes = timezone.localtime(call.closes_at, c.PARIS)
        state = f"ouvert jusqu'au {closes:%d/%m/%Y à %H:%M}" if call.is_open else "clos le"
        state += "" if call.is_open else f" {closes:%d/%m/%Y}"
        lines.append(
            f"  Appel {call.code} ({state}) : {_n(call.applications)} candidatures "
            f"({_n(call.created)} créées) pour {_n(call.candidates)} candidats possibles "
            f"({_share(call.applications, call.candidates)} %)."
        )
        parts = [f"{Status(s).label} {_n(n)}" for s, n in call.by_status.items() if n]
        lines.append("  - " + ", ".join(parts) + ".")
    created = summary.created
    lines.append(
        f"  Créés par le moteur des candidatures : {_n(created['transitions'])} changements "
        f"d'état, {_n(created['eligibility_results'])} résultats d'éligibilité "
        f"({_n(created['eligible_results'])} éligibles), {_n(created['dossiers'])} dossiers PDF "
        f"en attente ; {_n(summary.stored_files)} fichiers de pièces écrits."
    )
    lines += [f"  {email} : {apps}." for email, apps in sorted(summary.featured.items())]
    return lines
