"""The national-scale fixture of issue 11 (50,000 legal entities, 100,000 applications,
200,000 exposure scans) and the benchmarks that read it: `dashboard_national` and
`export_memory` (registered in bench/benchmarks.py).

The fixture is written with PostgreSQL's COPY (psycopg2 `copy_expert`), ids reserved
from each table's sequence, so that it builds in seconds rather than minutes. Its
distribution imitates the country: départements weighted (the large ones heavier, the
overseas ones lighter), the three legal statuses with public entities grouped in GHTs
per region, a tenth of entities outside the health categories or closed, four calls at
different stages (a finished Domain 1 call mostly paid, a Domain 2 call in its decision
phase, a Domain 1 call under review, a Domain 2 call open for filing), every status of
the lifecycle with its transitions, eligibility results, coverages and payments
(advance at approval, balance when paid), exposure scans spread unevenly and the Volet 1
statuses that follow from them.

`build_national` is also what tests/monitoring/test_national_scale.py builds at small
sizes: the query count it asserts is the one this bench prints at 1,000 and 50,000."""

import io
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction

from applications.lifecycle import Status
from applications.models import (
    Application,
    Coverage,
    EligibilityResult,
    FundingCall,
    Payment,
    Transition,
)
from audits.models import ExposureScan, Volet1Level, Volet1Status
from establishments.identifiers import finess_with_check_digit
from establishments.models import GHT, Department, LegalEntity, StatusGroup
from establishments.reference import FINESS_CATEGORIES

Result = dict[str, Any]

# The large départements weigh more, the overseas ones less (entities per département).
HEAVY = {"75": 4, "13": 3, "69": 3, "59": 3, "92": 2, "93": 2, "94": 2, "33": 2, "31": 2}
HEAVY |= {"06": 2, "44": 2, "67": 2, "34": 2, "38": 2, "62": 2, "76": 2, "57": 2, "35": 2}
OVERSEAS_WEIGHT = 0.5
HEALTH_CATEGORIES = sorted(FINESS_CATEGORIES)
OTHER_CATEGORY = "460"  # not an établissement de santé (rule E1)
GHT_SIZE = 25  # public members of a GHT, about

S = Status
# Each call's stage: (code, domain, opens, closes, admitted groups, statuses with weights).
ALL_GROUPS = ["ght", "public_outside_ght", "private_non_profit", "private_for_profit"]
CALLS: list[tuple[str, str, date, date, list[str], dict[str, int]]] = [
    (
        "D1-2025", "D1", date(2025, 1, 15), date(2025, 4, 30), ALL_GROUPS,
        {S.DRAFT: 3, S.WITHDRAWN: 3, S.INELIGIBLE: 8, S.REJECTED: 12, S.APPROVED: 5,
         S.OBJECTIVES_DECLARED: 5, S.OBJECTIVES_CHECKED: 5, S.OBJECTIVES_VALIDATED: 7,
         S.PAID: 52},
    ),
    (
        "D2-2025", "D2", date(2025, 6, 1), date(2025, 10, 31), ALL_GROUPS[:3],
        {S.DRAFT: 5, S.SUBMITTED: 2, S.INELIGIBLE: 8, S.REGIONAL_REVIEW: 6, S.RETURNED: 3,
         S.NATIONAL_REVIEW: 8, S.APPROVED: 20, S.REJECTED: 12, S.WITHDRAWN: 3,
         S.OBJECTIVES_DECLARED: 8, S.OBJECTIVES_CHECKED: 5, S.OBJECTIVES_VALIDATED: 5,
         S.PAID: 15},
    ),
    (
        "D1-2026", "D1", date(2026, 2, 1), date(2026, 5, 31), ALL_GROUPS,
        {S.DRAFT: 6, S.SUBMITTED: 4, S.INELIGIBLE: 7, S.REGIONAL_REVIEW: 15, S.RETURNED: 5,
         S.NATIONAL_REVIEW: 20, S.APPROVED: 25, S.REJECTED: 10, S.WITHDRAWN: 3,
         S.OBJECTIVES_DECLARED: 5},
    ),
    (
        "D2-2026", "D2", date(2026, 11, 1), date(2027, 2, 28), ALL_GROUPS[:3],
        {S.DRAFT: 35, S.SUBMITTED: 30, S.INELIGIBLE: 5, S.REGIONAL_REVIEW: 25, S.RETURNED: 5},
    ),
]  # fmt: skip
MAIN_CALL = "D2-2025"  # the one in its decision phase: every figure has something

# The path of each status through the lifecycle after the first submission.
PAST_APPROVAL = [S.OBJECTIVES_DECLARED, S.OBJECTIVES_CHECKED, S.OBJECTIVES_VALIDATED, S.PAID]
APPROVED_OR_LATER = {S.APPROVED.value, *(s.value for s in PAST_APPROVAL)}
NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)


# --- COPY --------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _reserve_ids(model: type[models.Model], count: int) -> int:
    """The first of `count` ids taken from the table's sequence (the rows are copied
    with their ids, so that the next tables can refer to them)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            "nextval(pg_get_serial_sequence(%s, 'id')) + %s)",
            [table, table, max(count - 1, 0)],
        )
        last = cursor.fetchone()[0]
    return int(last) - max(count - 1, 0)


def copy_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY the rows (values in `columns` order, the model's database columns) into the
    model's table; created_at / updated_at and public_id are added when the model has
    them. Returns the number of rows."""
    names = {f.column for f in model._meta.concrete_fields}
    stamped = "created_at" in names and "created_at" not in columns
    public = "public_id" in names
    all_columns = list(columns) + (["created_at", "updated_at"] if stamped else [])
    all_columns += ["public_id"] if public else []
    # Columns the rows leave out that cannot be NULL take their model default (a field
    # added to a model later does not break the fixture).
    defaults = [
        f
        for f in model._meta.concrete_fields
        if f.column not in all_columns
        and not f.null
        and not f.primary_key
        and not (f.has_default() and callable(f.default))
        and f.get_default() is not None
    ]
    now = _text(NOW)
    suffix = "\t" + now + "\t" + now if stamped else ""
    suffix_defaults = "".join("\t" + _text(f.get_default()) for f in defaults)
    buffer = io.StringIO()
    count = 0
    for row in rows:
        line = "\t".join(_text(v) for v in row) + suffix
        if public:
            line += "\t" + str(uuid.uuid4())
        line += suffix_defaults
        buffer.write(line + "\n")
        count += 1
    buffer.seek(0)
    all_columns += [f.column for f in defaults]
    sql = 'COPY "{}" ({}) FROM STDIN'.format(
        model._meta.db_table, ", ".join(f'"{c}"' for c in all_columns)
    )
    with connection.cursor() as cursor:
        cursor.copy_expert(sql, buffer)
    return count


# --- The fixture --------------------------------------------------------------------------------


@dataclass
class NationalFixture:
    calls: dict[str, FundingCall]
    counts: dict[str, int]
    seconds: float
    ids: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> id range

    @property
    def main_call(self) -> FundingCall:
        return next(c for code, c in self.calls.items() if code.endswith(MAIN_CALL))


def _weighted(rng: random.Random, weights: Mapping[Any, float], count: int) -> list[Any]:
    return rng.choices(list(weights), weights=list(weights.values()), k=count)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def build_national(
    *,
    entities: int = 50_000,
    applications: int = 100_000,
    scans: int = 200_000,
    seed: int = 2026,
    tag: str = "NAT",
    region: str | None = None,
    all_eligible: bool = False,
) -> NationalFixture:
    """Build the fixture (see the module's docstring): `tag` prefixes the call codes and
    references (two fixtures may live side by side), `region` keeps every entity in the
    départements of one region, `all_eligible` makes every entity an active
    établissement de santé (for the exports: every row of the list is one of them)."""
    if applications > entities * len(CALLS):
        raise ValueError("at most one application per entity and call")
    start = time.perf_counter()
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    ids: dict[str, tuple[int, int]] = {}
    with transaction.atomic():
        departments = list(Department.objects.select_related("region").order_by("code"))
        if region is not None:
            departments = [d for d in departments if d.region.code == region]
        weights = {
            d: HEAVY.get(d.code, OVERSEAS_WEIGHT if d.code.startswith("97") else 1)
            for d in departments
        }

        # Legal entities: département, legal status, category, GHT.
        entity_departments = _weighted(rng, weights, entities)
        statuses = _weighted(
            rng,
            {StatusGroup.PUBLIC: 35, StatusGroup.PRIVATE_NON_PROFIT: 25,
             StatusGroup.PRIVATE_FOR_PROFIT: 40},
            entities,
        )  # fmt: skip
        in_ght = [s == StatusGroup.PUBLIC and rng.random() < 0.6 for s in statuses]
        members: dict[int, list[int]] = defaultdict(list)  # region id -> entity indexes
        for n, department in enumerate(entity_departments):
            if in_ght[n]:
                members[department.region_id].append(n)
        ght_rows = []
        ght_of: dict[int, int] = {}
        support: set[int] = set()
        ght_first = _reserve_ids(GHT, sum(-(-len(m) // GHT_SIZE) for m in members.values()))
        ght_id = ght_first
        for region_id, indexes in sorted(members.items()):
            for chunk in range(0, len(indexes), GHT_SIZE):
                group = indexes[chunk : chunk + GHT_SIZE]
                ght_rows.append((ght_id, f"{tag}-GHT-{ght_id}", f"GHT {tag} {ght_id}", region_id))
                ght_of.update((n, ght_id) for n in group)
                support.add(group[0])
                ght_id += 1
        counts["ghts"] = copy_rows(GHT, ["id", "code", "name", "region_id"], ght_rows)
        ids["ght"] = (ght_first, ght_id - 1)

        entity_first = _reserve_ids(LegalEntity, entities)
        # FINESS from the ids (unique in the table), above the numbers tests and demos use.
        entity_rows = []
        staff = []
        for n in range(entities):
            department = entity_departments[n]
            eligible = all_eligible or rng.random() < 0.9
            active = all_eligible or rng.random() < 0.97
            staff.append(int(rng.lognormvariate(6, 1)) + 20)
            entity_rows.append(
                (
                    entity_first + n,
                    finess_with_check_digit(
                        f"{department.code[:2]}{600_000 + (entity_first + n) % 400_000:06d}"
                    ),
                    "",
                    f"{'Centre hospitalier' if statuses[n] == StatusGroup.PUBLIC else 'Clinique'}"
                    f" {tag} {n:05d} ({department.name})",
                    statuses[n].value,
                    rng.choice(HEALTH_CATEGORIES) if eligible else OTHER_CATEGORY,
                    department.id,
                    ght_of.get(n),
                    n in support,
                    staff[n],
                    active,
                )
            )
        counts["legal_entities"] = copy_rows(
            LegalEntity,
            ["id", "finess", "siren", "name", "status_group", "finess_category",
             "department_id", "ght_id", "is_ght_support", "staff_count", "active"],
            entity_rows,
        )  # fmt: skip
        ids["legal_entity"] = (entity_first, entity_first + entities - 1)

        # Calls (four rows: the ORM).
        calls = {}
        for code, domain, opens, closes, groups, _statuses in CALLS:
            calls[code] = FundingCall.objects.create(
                code=f"{tag}-{code}", domain=domain, title=f"Appel de mesure {code}",
                opens_at=_at(opens, 9), closes_at=_at(closes, 18), envelope=Decimal("250000000"),
                eligible_groups=groups, advance_rate=Decimal("30"),
                objectives_deadline=closes + timedelta(days=365),
            )  # fmt: skip

        # Applications: which (entity, call) pairs apply, more often where admitted.
        group_of = [
            ("ght" if in_ght[n] else "public_outside_ght")
            if statuses[n] == StatusGroup.PUBLIC
            else statuses[n].value
            for n in range(entities)
        ]
        pairs = sorted(
            (rng.random() * (1 if group_of[n] in CALLS[c][4] else 6), n, c)
            for n in range(entities)
            for c in range(len(CALLS))
        )[:applications]
        pairs.sort(key=lambda p: (p[2], p[1]))
        app_first = _reserve_ids(Application, applications)
        app_rows, coverage_rows, transition_rows, result_rows, payment_rows = [], [], [], [], []
        recorder = _recorder()
        for index, (_key, n, c) in enumerate(pairs):
            code, _domain, opens, closes, _groups, phase = CALLS[c]
            call = calls[code]
            status = _weighted(rng, phase, 1)[0]
            app_id = app_first + index
            entity_id = entity_first + n
            requested = Decimal(min(900_000, 20_000 + staff[n] * 150)).quantize(Decimal("1000"))
            filed = status != S.DRAFT and not (status == S.WITHDRAWN and rng.random() < 0.3)
            last_day = min(closes, NOW.date() - timedelta(days=2))
            submitted = (
                _at(opens + timedelta(days=rng.randrange(max(1, (last_day - opens).days))))
                if filed
                else None
            )
            moves = _moves(status, submitted, rng) if submitted else []
            granted = (
                (requested * Decimal("0.8")).quantize(Decimal("1"))
                if status in APPROVED_OR_LATER
                else None
            )
            paid = Decimal("0")
            if granted is not None:
                decided = next(when for src, dst, when in moves if dst == S.APPROVED)
                advance = (granted * Decimal("0.3")).quantize(Decimal("1"))
                tranches = [("advance", advance, decided + timedelta(days=15))]
                if status == S.PAID:
                    tranches.append(("balance", granted - advance, moves[-1][2]))
                for tranche, amount, when in tranches:
                    payment_rows.append(
                        (app_id, tranche, amount, min(when, NOW).date(),
                         f"CHORUS-{app_id}-{tranche[0]}", recorder)
                    )  # fmt: skip
                    paid += amount
            app_rows.append(
                (app_id, call.id, entity_id, f"{tag}-{code}-{n:06d}", status.value,
                 f"Direction {n}" if filed else "", f"direction{n}@ej.test" if filed else "",
                 f"RSSI {n}" if filed else "", f"rssi{n}@ej.test" if filed else "", "", "",
                 filed, submitted, submitted, requested, granted, paid if granted else None,
                 "", (granted * Decimal("1.0")) if granted else None)
            )  # fmt: skip
            released = moves[-1][2] if status == S.WITHDRAWN and moves else None
            if status == S.WITHDRAWN and not moves:
                released = _at(opens + timedelta(days=20))
            coverage_rows.append((call.id, app_id, entity_id, released))
            for src, dst, when in moves:
                transition_rows.append((app_id, src.value, dst.value, "", when))
            if submitted and status not in (S.SUBMITTED, S.WITHDRAWN):
                result_rows.append(
                    (app_id, "2025.1", status != S.INELIGIBLE,
                     Decimal(rng.randrange(2000, 9800)) / 100, "[]", "[]",
                     submitted + timedelta(hours=1))
                )  # fmt: skip
        counts["applications"] = copy_rows(
            Application,
            ["id", "call_id", "candidate_id", "reference", "status", "director_name",
             "director_email", "rssi_name", "rssi_email", "continuity_lead_name",
             "continuity_lead_email", "sworn_statement", "sworn_at", "submitted_at",
             "requested_amount", "granted_amount", "paid_amount", "regional_opinion",
             "proposed_amount"],
            app_rows,
        )  # fmt: skip
        ids["application"] = (app_first, app_first + applications - 1)
        counts["coverages"] = copy_rows(
            Coverage, ["call_id", "application_id", "legal_entity_id", "released_at"], coverage_rows
        )
        counts["transitions"] = copy_rows(
            Transition,
            ["application_id", "from_status", "to_status", "comment", "created_at"],
            transition_rows,
        )
        counts["eligibility_results"] = copy_rows(
            EligibilityResult,
            ["application_id", "rules_version", "eligible", "score", "rules", "factors",
             "computed_at"],
            result_rows,
        )  # fmt: skip
        counts["payments"] = copy_rows(
            Payment,
            ["application_id", "tranche", "amount", "paid_on", "chorus_reference",
             "recorded_by_id"],
            payment_rows,
        )  # fmt: skip

        # Exposure scans, unevenly: a third of the entities has none.
        scanned = [n for n in range(entities) if rng.random() < 0.67] or [0]
        per_entity: dict[int, int] = defaultdict(int)
        for n in rng.choices(scanned, k=scans):
            per_entity[n] += 1
        scan_rows = []
        volet1_rows = []
        first_scan = date(2024, 1, 8)
        for n in range(entities):
            count = per_entity.get(n, 0)
            offset = rng.randrange(28)
            dates = [first_scan + timedelta(days=offset + 30 * k) for k in range(count)]
            met = [rng.random() < 0.55 for _ in dates]
            for day, ok in zip(dates, met, strict=True):
                scan_rows.append(
                    (entity_first + n, day, rng.randrange(40), rng.randrange(3) if not ok else 0,
                     rng.randrange(6), rng.randrange(10), rng.randrange(20), ok)
                )  # fmt: skip
            audited = rng.random() < 0.45
            met_dates = [d for d, ok in zip(dates, met, strict=True) if ok]
            exposure = len(met_dates) >= 2
            if not dates and not audited and rng.random() < 0.5:
                continue  # no Volet 1 row at all
            level = (
                Volet1Level.BOTH if audited and exposure
                else Volet1Level.AD_DONE if audited
                else Volet1Level.EXPOSURE_MET if exposure
                else Volet1Level.NONE
            )  # fmt: skip
            volet1_rows.append(
                (entity_first + n, level.value,
                 first_scan + timedelta(days=rng.randrange(700)) if audited else None,
                 met_dates[-2] if exposure else None, met_dates[-1] if exposure else None,
                 dates[-1] if dates else None)
            )  # fmt: skip
        counts["exposure_scans"] = copy_rows(
            ExposureScan,
            ["legal_entity_id", "scan_date", "exposed_services", "vulns_critical",
             "vulns_high", "vulns_medium", "vulns_low", "minimum_level_met"],
            scan_rows,
        )  # fmt: skip
        counts["volet1_statuses"] = copy_rows(
            Volet1Status,
            ["legal_entity_id", "level", "ad_audit_date", "exposure_first_scan_date",
             "exposure_second_scan_date", "last_scan_date"],
            volet1_rows,
        )  # fmt: skip
    with connection.cursor() as cursor:  # what autovacuum would do after such a load
        for model in (LegalEntity, Application, Coverage, Transition, EligibilityResult,
                      Payment, ExposureScan, Volet1Status, GHT):  # fmt: skip
            cursor.execute(f'ANALYZE "{model._meta.db_table}"')
    return NationalFixture(
        calls={f"{tag}-{code}": c for code, c in calls.items()},
        counts=counts,
        seconds=time.perf_counter() - start,
        ids=ids,
    )


def _recorder() -> int:
    from accounts.models import User

    user, _ = User.objects.get_or_create(
        email="bench-paiements@sante.gouv.test", defaults={"is_staff": True}
    )
    return user.pk


def _moves(
    status: Status, submitted: datetime, rng: random.Random
) -> list[tuple[Status, Status, datetime]]:
    """The transitions that lead from the first submission to `status`."""
    moves = [(S.DRAFT, S.SUBMITTED, submitted)]
    when = submitted

    def step(src: Status, dst: Status, days: int) -> None:
        nonlocal when
        when = min(when + timedelta(days=rng.randrange(1, days + 1), hours=rng.randrange(8)), NOW)
        moves.append((src, dst, when))

    if status == S.SUBMITTED:
        return moves
    if status == S.INELIGIBLE:
        step(S.SUBMITTED, S.INELIGIBLE, 2)
        return moves
    if status == S.WITHDRAWN:
        step(S.SUBMITTED, S.WITHDRAWN, 30)
        return moves
    step(S.SUBMITTED, S.REGIONAL_REVIEW, 3)
    if status == S.REGIONAL_REVIEW:
        return moves
    if status == S.RETURNED:
        step(S.REGIONAL_REVIEW, S.RETURNED, 20)
        return moves
    step(S.REGIONAL_REVIEW, S.NATIONAL_REVIEW, 40)
    if status == S.NATIONAL_REVIEW:
        return moves
    if status == S.REJECTED:
        step(S.NATIONAL_REVIEW, S.REJECTED, 40)
        return moves
    step(S.NATIONAL_REVIEW, S.APPROVED, 40)
    previous = S.APPROVED
    for later in PAST_APPROVAL:
        if status == previous:
            break
        step(previous, later, 60)
        previous = later
    return moves


def clear_national(fixture: NationalFixture) -> None:
    """Delete what `build_national` wrote (by its calls and id ranges), in plain SQL: the
    ORM's cascade would read every row first."""
    calls = [c.pk for c in fixture.calls.values()]
    entities = list(fixture.ids["legal_entity"])
    table = Application._meta.db_table
    # Table names from the models, values as parameters.
    by_application = f"application_id IN (SELECT id FROM {table} WHERE call_id = ANY(%s))"  # noqa: S608
    statements: list[tuple[type[models.Model], str, list[Any]]] = [
        (Payment, by_application, [calls]),
        (Transition, by_application, [calls]),
        (EligibilityResult, by_application, [calls]),
        (Coverage, "call_id = ANY(%s)", [calls]),
        (Application, "call_id = ANY(%s)", [calls]),
        (FundingCall, "id = ANY(%s)", [calls]),
        (ExposureScan, "legal_entity_id BETWEEN %s AND %s", entities),
        (Volet1Status, "legal_entity_id BETWEEN %s AND %s", entities),
        (LegalEntity, "id BETWEEN %s AND %s", entities),
        (GHT, "id BETWEEN %s AND %s", list(fixture.ids["ght"])),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for model, where, params in statements:
            cursor.execute(f'DELETE FROM "{model._meta.db_table}" WHERE {where}', params)  # noqa: S608


def _best_of(repeat: int, func: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        begin = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - begin)
    return best


# --- dashboard_national ------------------------------------------------------------------------

_GROUP_SQL = """CASE WHEN e.status_group = %(public)s AND e.ght_id IS NOT NULL THEN %(ght)s
                     WHEN e.status_group = %(public)s THEN %(outside)s
                     ELSE e.status_group END"""

# The same figures as `monitoring.selectors.dashboard` for the nation, as a hand would write
# them: one aggregate per table family, the median and the weekly series.
HAND_SQL = {
    "entities": """
SELECT e.department_id, {group} AS grp, COUNT(*),
       COUNT(*) FILTER (WHERE v.ad_audit_date IS NOT NULL OR v.last_scan_date IS NOT NULL),
       COUNT(*) FILTER (WHERE v.level = 'both'),
       COUNT(*) FILTER (WHERE a.status = ANY(%(applied)s)),
       COUNT(*) FILTER (WHERE a.status = ANY(%(applied)s) AND r.id IS NOT NULL),
       COUNT(*) FILTER (WHERE a.status = ANY(%(applied)s) AND r.eligible),
       COUNT(*) FILTER (WHERE a.status = ANY(%(approved)s)),
       COUNT(*) FILTER (WHERE a.status = 'paid')
  FROM {entity} e
  LEFT JOIN {volet1} v ON v.legal_entity_id = e.id
  LEFT JOIN {coverage} c ON c.legal_entity_id = e.id AND c.call_id = %(call)s
  LEFT JOIN {application} a ON a.id = c.application_id
  LEFT JOIN {result} r ON r.application_id = a.id
 WHERE e.active AND e.finess_category = ANY(%(categories)s) AND {group} = ANY(%(groups)s)
 GROUP BY 1, 2""",
    "applications": """
SELECT e.department_id, {group} AS grp, a.status, COUNT(*), COUNT(r.id),
       COUNT(*) FILTER (WHERE r.eligible), SUM(a.requested_amount), SUM(a.granted_amount)
  FROM {application} a
  JOIN {entity} e ON e.id = a.candidate_id
  LEFT JOIN {result} r ON r.application_id = a.id
 WHERE a.call_id = %(call)s AND a.submitted_at IS NOT NULL
 GROUP BY 1, 2, 3""",
    "payments": """
SELECT e.department_id, {group} AS grp, SUM(p.amount), COUNT(*)
  FROM {payment} p
  JOIN {application} a ON a.id = p.application_id
  JOIN {entity} e ON e.id = a.candidate_id
 WHERE a.call_id = %(call)s
 GROUP BY 1, 2""",
    "medians": """
WITH firsts AS (
    SELECT t.application_id,
           MIN(t.created_at) FILTER (WHERE t.to_status = 'submitted') AS submitted,
           MIN(t.created_at) FILTER (
               WHERE t.from_status = 'national_review' AND t.to_status IN ('approved', 'rejected')
           ) AS decided
      FROM {transition} t
      JOIN {application} a ON a.id = t.application_id
     WHERE a.call_id = %(call)s AND a.submitted_at IS NOT NULL
     GROUP BY 1
)
SELECT GROUPING(grp), GROUPING(r.code), grp, r.code, COUNT(*),
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY EXTRACT(EPOCH FROM (f.decided - f.submitted)) / 86400.0)
  FROM firsts f
  JOIN {application} a ON a.id = f.application_id
  JOIN {entity} e ON e.id = a.candidate_id
  JOIN {department} d ON d.id = e.department_id
  JOIN {region} r ON r.id = d.region_id
  CROSS JOIN LATERAL (SELECT {group} AS grp) g
 WHERE f.decided IS NOT NULL AND f.submitted IS NOT NULL
 GROUP BY GROUPING SETS ((), (grp), (r.code))""",
    "weeks_transitions": """
SELECT date_trunc('week', t.created_at AT TIME ZONE %(tz)s),
       COUNT(*) FILTER (WHERE t.from_status = 'draft' AND t.to_status = 'submitted'),
       COUNT(*) FILTER (WHERE t.from_status = 'national_review')
  FROM {transition} t
  JOIN {application} a ON a.id = t.application_id
 WHERE a.call_id = %(call)s
   AND ((t.from_status = 'draft' AND t.to_status = 'submitted')
        OR (t.from_status = 'national_review' AND t.to_status IN ('approved', 'rejected')))
 GROUP BY 1""",
    "weeks_payments": """
SELECT date_trunc('week', p.paid_on), COUNT(*), SUM(p.amount)
  FROM {payment} p
  JOIN {application} a ON a.id = p.application_id
 WHERE a.call_id = %(call)s
 GROUP BY 1""",
}


def hand_written_dashboard(call: FundingCall) -> dict[str, list[tuple[Any, ...]]]:
    """The baseline: the national figures of `call` in hand-written SQL (six queries)."""
    from django.conf import settings

    from applications.eligibility import call_parameters
    from establishments.models import Region
    from monitoring.selectors import APPLIED_STATUSES, APPROVED_STATUSES

    tables = {
        "entity": LegalEntity,
        "volet1": Volet1Status,
        "coverage": Coverage,
        "application": Application,
        "result": EligibilityResult,
        "payment": Payment,
        "transition": Transition,
        "department": Department,
        "region": Region,
    }
    names = {key: f'"{model._meta.db_table}"' for key, model in tables.items()}
    params: dict[str, Any] = {
        "call": call.pk,
        "public": "public",
        "ght": "ght",
        "outside": "public_outside_ght",
        "applied": list(APPLIED_STATUSES),
        "approved": list(APPROVED_STATUSES),
        "categories": list(call_parameters(call)["health_categories"]),
        "groups": list(call.eligible_groups),
        "tz": settings.TIME_ZONE,
    }
    found = {}
    with connection.cursor() as cursor:
        for key, sql in HAND_SQL.items():
            # `group` is itself parameterised: format it in first, then the tables.
            cursor.execute(sql.format(group=_GROUP_SQL, **names), params)
            found[key] = cursor.fetchall()
    return found


def _ministry_client() -> tuple[Any, Any]:
    from django.test import Client

    from accounts.models import Membership, User

    user = User.objects.create_user("bench-national@sante.gouv.test", "bench-password-123")
    Membership.objects.create(user=user, role=Membership.Role.MINISTRY)
    client = Client()
    client.force_login(user)
    return client, user


def _page_queries(client: Any, call: FundingCall) -> int:
    """The page's queries, right after a first request: the session is touched once a
    minute (accounts.security.SessionExpiryMiddleware), which a fixture build outlasts."""
    from django.test.utils import CaptureQueriesContext

    client.get("/suivi/", {"appel": call.code})
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/suivi/", {"appel": call.code})
    assert response.status_code == 200, response.status_code
    return len(queries)


def dashboard_national() -> Result:
    """The national dashboard of the call in its decision phase over the national
    fixture (50,000 legal entities, 100,000 applications, 200,000 scans: built with COPY,
    its time printed), as `monitoring.selectors.dashboard` builds it, against the same
    figures in hand-written aggregate SQL in the same run: ratio = SQL time / dashboard
    time (at least 0.33: the dashboard takes at most 3x). The page's queries are counted
    at 1,000 and at 50,000 legal entities (the same), and the whole page timed."""
    from monitoring import selectors

    client, user = _ministry_client()
    small = build_national(entities=1000, applications=2000, scans=4000, tag="Q")
    queries_small = _page_queries(client, small.main_call)
    clear_national(small)

    fixture = build_national()
    print(
        "national fixture built in {:.1f} s: {}".format(
            fixture.seconds, ", ".join(f"{k}={v}" for k, v in fixture.counts.items())
        ),
        flush=True,
    )
    call = fixture.main_call
    queries_large = _page_queries(client, call)
    print(f"national dashboard queries: {queries_small} at 1,000, {queries_large} at 50,000")

    where = selectors.territory()
    place = selectors.resolve_place(selectors.NATION, None, where)
    assert place is not None
    board = selectors.dashboard(place=place, call=call, where=where)
    hand = hand_written_dashboard(call)
    # Both sides agree on the figures they compute.
    figures = board.participation
    assert figures.eligible == sum(r[2] for r in hand["entities"])
    assert figures.applied == sum(r[5] for r in hand["entities"])
    assert figures.paid == sum(r[9] for r in hand["entities"])
    assert figures.applications == sum(r[3] for r in hand["applications"])
    assert figures.amount_paid == sum(r[2] for r in hand["payments"])
    total_median = next(r for r in hand["medians"] if r[0] and r[1])
    assert figures.decisions == total_median[4]
    assert sum(w.submissions for w in board.weeks) == sum(r[1] for r in hand["weeks_transitions"])

    repeat = 7
    ours = _best_of(repeat, lambda: selectors.dashboard(place=place, call=call, where=where))
    base = _best_of(repeat, lambda: hand_written_dashboard(call))
    page = _best_of(3, lambda: client.get("/suivi/", {"appel": call.code}))
    clear_national(fixture)
    user.delete()
    return {
        "name": "dashboard_national",
        "ratio": round(base / ours, 3),
        "raw": {
            "fixture_build_s": round(fixture.seconds, 1),
            "legal_entities": fixture.counts["legal_entities"],
            "applications": fixture.counts["applications"],
            "exposure_scans": fixture.counts["exposure_scans"],
            "call_applications": figures.applications,
            "selectors_ms": round(ours * 1000, 1),
            "hand_sql_ms": round(base * 1000, 1),
            "page_ms": round(page * 1000, 1),
            "queries_at_1000": queries_small,
            "queries_at_50000": queries_large,
        },
    }


# --- export_memory -----------------------------------------------------------------------------


def _export_peak(client: Any, call: FundingCall, region: str) -> tuple[int, int, float]:
    """(rows, peak traced bytes, seconds) of a region's CSV export of every eligible
    entity, read chunk by chunk as a client would (never held whole)."""
    import tracemalloc

    tracemalloc.start()
    tracemalloc.reset_peak()
    begin = time.perf_counter()
    response = client.get(
        "/suivi/export/entites.csv", {"appel": call.code, "region": region, "liste": "eligibles"}
    )
    assert response.status_code == 200 and response.streaming, response.status_code
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\r\n")
    seconds = time.perf_counter() - begin
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return lines - 1, peak, seconds


def export_memory() -> Result:
    """A region's CSV export of its eligible legal entities (`/suivi/export/entites.csv`,
    streamed, with contacts) at 5,000 and at 50,000 rows (the national fixture's
    proportions, every entity in Île-de-France): ratio = peak traced memory at 50,000 / at
    5,000 while the response is consumed (at most 1.5: memory does not grow with rows).
    Other benchmarks may have left legal entities in the region (the national FINESS
    extract's import covers every région): the export lists them too, and the rows are
    checked against the fixture's entities plus those."""
    from monitoring import selectors

    client, user = _ministry_client()
    region = "11"
    place = selectors.resolve_place(selectors.REGION, region)
    assert place is not None
    peaks: dict[int, tuple[int, float]] = {}
    for entities in (5_000, 50_000):
        fixture = build_national(
            entities=entities, applications=2 * entities, scans=4 * entities,
            tag=f"X{entities}", region=region, all_eligible=True,
        )  # fmt: skip
        call = fixture.calls[f"X{entities}-D1-2025"]  # admits every group
        others = (
            selectors.eligible_entities(call, place)
            .exclude(pk__range=fixture.ids["legal_entity"])
            .count()
        )
        if not peaks:
            _export_peak(client, call, region)  # warm: imports, templates, translations
        rows, peak, seconds = _export_peak(client, call, region)
        assert rows == entities + others, (rows, entities, others)
        peaks[entities] = (peak, seconds)
        print(
            f"export of {rows} rows ({others} of other benchmarks): peak {peak / 1e6:.2f} MB, "
            f"{seconds:.1f} s",
            flush=True,
        )
        clear_national(fixture)
    user.delete()
    (small, small_s), (large, large_s) = peaks[5_000], peaks[50_000]
    return {
        "name": "export_memory",
        "ratio": round(large / small, 3),
        "raw": {
            "peak_mb_5000": round(small / 1e6, 2),
            "peak_mb_50000": round(large / 1e6, 2),
            "seconds_5000": round(small_s, 1),
            "seconds_50000": round(large_s, 1),
        },
    }
