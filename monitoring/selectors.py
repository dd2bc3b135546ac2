"""Participation statistics for a place (the nation, a region, a département) and a
funding call, in a constant number of queries whatever the number of legal entities
and applications (docs/architecture.md, "monitoring").

Every additive figure comes from three grouped aggregates, one row per (département,
statistics group) cell: the eligible legal entities with their Volet 1 status and the
application covering them (`_entity_cells`), the applications by status
(`_application_cells`) and the payments (`_payment_cells`). The place's figures and
every breakdown (by statistics group, by region, by département) are sums of those
cells, so that they always add up. The median time to a decision is not additive: one
more query computes it for the place, each group and each area at once (GROUPING
SETS on PostgreSQL). The weekly series take two queries.

Units. Entity figures count legal entities (EJ) located in the place (by their
département); a GHT's application covers each of its members. Application figures
count applications whose candidate is located in the place. Data only: the wording of
each figure ("Taux de candidature = …") is in the templates
(`monitoring/_definitions.html`).

Scoping: `visibility(user)` says which places a user may see (the ministry and
superusers: all; an ARS agent: their region(s) and their départements; establishment
users: none); `place_for(user, scope=…, code=…)` resolves a place or raises Http404.
"""

import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FilteredRelation,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncWeek
from django.http import Http404
from django.utils import timezone

from applications.eligibility import call_parameters
from applications.lifecycle import Status
from applications.models import Application, Coverage, FundingCall, Payment, Transition
from establishments.models import Department, LegalEntity, StatisticsGroup, StatusGroup

if TYPE_CHECKING:
    from accounts.models import User

NATION, REGION, DEPARTEMENT = "nation", "region", "departement"
SCOPES = (NATION, REGION, DEPARTEMENT)

GROUPS: tuple[str, ...] = tuple(g.value for g in StatisticsGroup)
ZERO = Decimal("0")

# Filed and not withdrawn: the entity "applied" (a draft is nobody's business but its
# authors', Application.objects.visible_to; a withdrawn application is no longer one).
APPLIED_STATUSES = tuple(s.value for s in Status if s not in (Status.DRAFT, Status.WITHDRAWN))
# Granted and committed against the envelope (applications.decisions.COMMITTED_STATUSES).
APPROVED_STATUSES = (
    Status.APPROVED.value,
    Status.OBJECTIVES_DECLARED.value,
    Status.OBJECTIVES_CHECKED.value,
    Status.OBJECTIVES_VALIDATED.value,
    Status.PAID.value,
)
DECIDED_STATUSES = (*APPROVED_STATUSES, Status.REJECTED.value)
# The ministry's decision: the first move out of national review to approved or rejected.
DECISION_TARGETS = (Status.APPROVED.value, Status.REJECTED.value)


# --- Places and who may see them ------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    id: int
    code: str
    name: str
    region_code: str = ""  # a département's region


@dataclass(frozen=True)
class Territory:
    """The regions and départements, read once (one query)."""

    regions: dict[str, Area]
    departments: dict[str, Area]

    def departments_of(self, region_code: str) -> list[Area]:
        return sorted(
            (d for d in self.departments.values() if d.region_code == region_code),
            key=lambda d: d.code,
        )

    @property
    def department_by_id(self) -> dict[int, Area]:
        return {d.id: d for d in self.departments.values()}


def territory() -> Territory:
    regions: dict[str, Area] = {}
    departments: dict[str, Area] = {}
    # Tuples, not model instances: every dashboard request reads the hundred départements.
    rows = Department.objects.order_by("code").values_list(
        "id", "code", "name", "region_id", "region__code", "region__name"
    )
    for department_id, code, name, region_id, region_code, region_name in rows:
        regions.setdefault(region_code, Area(region_id, region_code, region_name))
        departments[code] = Area(department_id, code, name, region_code)
    return Territory(dict(sorted(regions.items())), departments)


@dataclass(frozen=True)
class Place:
    """Where figures are computed: the nation, a region or a département."""

    scope: str
    code: str | None
    name: str
    department_ids: frozenset[int] | None  # None: every département (the nation)
    region_code: str | None = None  # the region itself, or a département's region
    region_name: str | None = None

    @property
    def area_level(self) -> str | None:
        """The areas the place breaks down into (its map's): regions of the nation,
        départements of a region; a département has none."""
        return {NATION: REGION, REGION: DEPARTEMENT}.get(self.scope)

    @property
    def slug(self) -> str:
        """For file names: "nation", "region-84", "departement-69"."""
        return self.scope if self.code is None else f"{self.scope}-{self.code}"


def resolve_place(scope: str, code: str | None, where: Territory | None = None) -> Place | None:
    """The place named by a scope and a code (region or département code), or None."""
    where = where or territory()
    if scope == NATION:
        return Place(NATION, None, "France", None)
    if scope == REGION and code in where.regions:
        region = where.regions[code]
        ids = frozenset(d.id for d in where.departments_of(region.code))
        return Place(REGION, region.code, region.name, ids, region.code, region.name)
    if scope == DEPARTEMENT and code in where.departments:
        department = where.departments[code]
        region = where.regions[department.region_code]
        return Place(
            DEPARTEMENT,
            department.code,
            department.name,
            frozenset({department.id}),
            region.code,
            region.name,
        )
    return None


@dataclass(frozen=True)
class Visibility:
    """The places a user may see: every one (ministry, superuser), their region(s) and
    the départements in them (ARS agent), or none (establishment users, anyone else)."""

    national: bool = False
    region_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def any(self) -> bool:
        return self.national or bool(self.region_ids)

    def allows(self, place: Place, where: Territory) -> bool:
        if self.national:
            return True
        if place.scope == NATION or place.region_code is None:
            return False
        region = where.regions.get(place.region_code)
        return region is not None and region.id in self.region_ids

    def regions(self, where: Territory) -> list[Area]:
        """The regions the user may open, by name."""
        found = [r for r in where.regions.values() if self.national or r.id in self.region_ids]
        return sorted(found, key=lambda r: r.name)


def visibility(user: "User | Any") -> Visibility:
    if not getattr(user, "is_authenticated", False):
        return Visibility()
    scope = user.scope
    return Visibility(national=scope.national, region_ids=frozenset(scope.region_ids))


def place_for(
    user: "User | Any", *, scope: str, code: str | None, where: Territory | None = None
) -> Place:
    """The one access helper of the monitoring pages, exports and API: the place if
    it exists and the user may see it, else Http404 (never a hint that it exists)."""
    where = where or territory()
    place = resolve_place(scope, code, where)
    if place is None or not visibility(user).allows(place, where):
        raise Http404
    return place


# --- Calls -----------------------------------------------------------------------------------


def calls() -> list[FundingCall]:
    """Every call, the latest first."""
    return list(FundingCall.objects.order_by("-opens_at", "code"))


def default_call(options: Iterable[FundingCall]) -> FundingCall | None:
    """The call open now, else the latest."""
    options = list(options)
    now = timezone.now()
    return next((c for c in options if c.is_open(now)), options[0] if options else None)


# --- The figures -----------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return part / whole if whole else None


@dataclass(frozen=True)
class Figures:
    """The figures of one place, or one row of a breakdown, for one call."""

    # Legal entities (EJ) of the place.
    eligible: int = 0
    volet1_audited: int = 0
    volet1_objectives_met: int = 0
    applied: int = 0
    scored: int = 0
    found_eligible: int = 0
    approved: int = 0
    paid: int = 0
    # Applications whose candidate is in the place.
    applications: int = 0
    by_status: Mapping[str, int] = field(default_factory=dict)
    applications_scored: int = 0
    applications_eligible: int = 0
    amount_requested: Decimal = ZERO
    amount_granted: Decimal = ZERO
    amount_paid: Decimal = ZERO
    payments: int = 0
    # Not additive: set by the median query.
    decisions: int = 0
    median_days_to_decision: float | None = None

    def __add__(self, other: "Figures") -> "Figures":
        values: dict[str, Any] = {}
        for f in fields(Figures):
            if f.name == "median_days_to_decision":
                continue
            if f.name == "by_status":
                merged: dict[str, int] = defaultdict(int)
                for source in (self.by_status, other.by_status):
                    for status, n in source.items():
                        merged[status] += n
                values[f.name] = dict(merged)
            else:
                values[f.name] = getattr(self, f.name) + getattr(other, f.name)
        return Figures(**values)

    @classmethod
    def sum(cls, items: Iterable["Figures"]) -> "Figures":
        """The sum of many, as `+` would give it, in one pass: a national dashboard adds
        up a few hundred cells several times (the load benchmark, bench/load.py)."""
        values: dict[str, Any] = {name: getattr(_NO_FIGURES, name) for name in _ADDITIVE}
        by_status: dict[str, int] = defaultdict(int)
        for item in items:
            own = item.__dict__
            for name in _ADDITIVE:
                values[name] += own[name]
            for status, n in item.by_status.items():
                by_status[status] += n
        return cls(by_status=dict(by_status), **values)

    def status_count(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def applications_approved(self) -> int:
        return sum(self.status_count(s) for s in APPROVED_STATUSES)

    @property
    def applications_decided(self) -> int:
        return sum(self.status_count(s) for s in DECIDED_STATUSES)

    # Rates: a share between 0 and 1, or None when the denominator is zero.
    @property
    def volet1_rate(self) -> float | None:
        return _rate(self.volet1_audited, self.eligible)

    @property
    def volet1_objectives_rate(self) -> float | None:
        return _rate(self.volet1_objectives_met, self.eligible)

    @property
    def application_rate(self) -> float | None:
        return _rate(self.applied, self.eligible)

    @property
    def eligibility_rate(self) -> float | None:
        return _rate(self.applications_eligible, self.applications_scored)

    @property
    def approval_rate(self) -> float | None:
        return _rate(self.applications_approved, self.applications_decided)

    @property
    def paid_share(self) -> float | None:
        """Paid over granted."""
        return float(self.amount_paid / self.amount_granted) if self.amount_granted else None


RATES = (
    "application_rate",
    "volet1_rate",
    "volet1_objectives_rate",
    "eligibility_rate",
    "approval_rate",
)


@dataclass(frozen=True)
class Participation(Figures):
    """A place's figures for a call, with the call's envelope (national: a region's
    figures are compared with the whole envelope)."""

    scope: str = NATION
    code: str | None = None
    name: str = ""
    call_code: str = ""
    envelope: Decimal = ZERO

    @property
    def granted_share_of_envelope(self) -> float | None:
        return float(self.amount_granted / self.envelope) if self.envelope else None

    @property
    def requested_share_of_envelope(self) -> float | None:
        return float(self.amount_requested / self.envelope) if self.envelope else None

    @property
    def paid_share_of_envelope(self) -> float | None:
        return float(self.amount_paid / self.envelope) if self.envelope else None


def _participation(place: Place, call: FundingCall | None, figures: Figures) -> Participation:
    values = {f.name: getattr(figures, f.name) for f in fields(Figures)}
    return Participation(
        **values,
        scope=place.scope,
        code=place.code,
        name=place.name,
        call_code=call.code if call else "",
        envelope=call.envelope if call else ZERO,
    )


# --- The SQL: eligible entities, applications, payments ----------------------------------------


def statistics_group(prefix: str = "") -> Case:
    """The statistics group of a legal entity (`StatisticsGroup.of`) as SQL; `prefix`
    reaches it through a relation ("candidate__")."""
    public = Q(**{f"{prefix}status_group": StatusGroup.PUBLIC})
    return Case(
        When(public & Q(**{f"{prefix}ght__isnull": False}), then=Value(StatisticsGroup.GHT.value)),
        When(public, then=Value(StatisticsGroup.PUBLIC_OUTSIDE_GHT.value)),
        default=F(f"{prefix}status_group"),
        output_field=CharField(),
    )


def in_statistics_groups(groups: Iterable[str], prefix: str = "") -> Q:
    """The legal entities whose statistics group (`statistics_group`) is one of these,
    as plain conditions on the columns rather than on the CASE: the same rows, but
    PostgreSQL can estimate them (on the CASE it guessed 60 rows of 3,000 and planned
    the national dashboard's joins as nested loops: 14 ms instead of 5)."""
    wanted = set(groups)
    derived = {StatisticsGroup.GHT.value, StatisticsGroup.PUBLIC_OUTSIDE_GHT.value}
    public = Q(**{f"{prefix}status_group": StatusGroup.PUBLIC})
    # The other groups are the status group itself (never "public": it is split).
    condition = Q(
        **{f"{prefix}status_group__in": sorted(wanted - derived - {StatusGroup.PUBLIC.value})}
    )
    if StatisticsGroup.GHT.value in wanted:
        condition |= public & Q(**{f"{prefix}ght__isnull": False})
    if StatisticsGroup.PUBLIC_OUTSIDE_GHT.value in wanted:
        condition |= public & Q(**{f"{prefix}ght__isnull": True})
    return condition


def eligible_entities(call: FundingCall, place: Place | None = None) -> QuerySet[LegalEntity]:
    """The denominator: the active établissements de santé (the FINESS categories of
    rule E1 for the call) in a statistics group the call admits, located in the place;
    annotated with `stat_group` and joined (`cov`) to the application covering each in
    this call (an entity is covered once per call at most)."""
    queryset = LegalEntity.objects.filter(
        in_statistics_groups(call.eligible_groups or []),
        active=True,
        finess_category__in=call_parameters(call)["health_categories"],
    ).annotate(
        stat_group=statistics_group(),
        cov=FilteredRelation("coverages", condition=Q(coverages__call=call)),
    )
    if place is not None and place.department_ids is not None:
        queryset = queryset.filter(department_id__in=place.department_ids)
    return queryset


def applied_application(prefix: str = "") -> Q:
    """The one definition of an application that makes the legal entities it covers
    "applied" (the dashboards' figures and lists, the API's `applied` filter): filed
    and not withdrawn (`APPLIED_STATUSES`). `prefix` reaches the application through a
    relation ("cov__application__")."""
    return Q(**{f"{prefix}status__in": APPLIED_STATUSES})


def applied_entities(call: FundingCall | None = None) -> Exists:
    """A condition on legal entities: covered (`Coverage`: a GHT's application covers
    each of its members) by an application that counts as applied, in the call (in
    any call when None). The same definition as the `applied` figure."""
    coverages = Coverage.objects.filter(
        applied_application("application__"), legal_entity=OuterRef("pk")
    )
    if call is not None:
        coverages = coverages.filter(call=call)
    return Exists(coverages)


# The entity figures as conditions on `eligible_entities` rows.
AUDITED = Q(volet1__ad_audit_date__isnull=False) | Q(volet1__last_scan_date__isnull=False)
OBJECTIVES_MET = Q(volet1__level="both")
APPLIED = applied_application("cov__application__")
SCORED = APPLIED & Q(cov__application__eligibility__isnull=False)
FOUND_ELIGIBLE = APPLIED & Q(cov__application__eligibility__eligible=True)
APPROVED = Q(cov__application__status__in=APPROVED_STATUSES)
PAID = Q(cov__application__status=Status.PAID.value)

ENTITY_CONDITIONS: dict[str, Q | None] = {
    "eligible": None,
    "volet1_audited": AUDITED,
    "volet1_objectives_met": OBJECTIVES_MET,
    "applied": APPLIED,
    "scored": SCORED,
    "found_eligible": FOUND_ELIGIBLE,
    "approved": APPROVED,
    "paid": PAID,
}

Cell = tuple[int, str]  # (département id, statistics group)
ENTITY_CELL = ("department_id", "stat_group")


def _entity_cells(call: FundingCall, place: Place) -> dict[Cell, dict[str, Any]]:
    aggregates = {
        name: Count("pk", filter=condition) if condition is not None else Count("pk")
        for name, condition in ENTITY_CONDITIONS.items()
    }
    rows = eligible_entities(call, place).order_by().values(*ENTITY_CELL).annotate(**aggregates)
    return {
        (row["department_id"], row["stat_group"]): {name: row[name] for name in aggregates}
        for row in rows
    }


def applications_in(call: FundingCall, place: Place | None = None) -> QuerySet[Application]:
    """The applications of the call filed at least once (a draft is its authors' only),
    whose candidate is in the place."""
    queryset = Application.objects.filter(call=call, submitted_at__isnull=False)
    if place is not None and place.department_ids is not None:
        queryset = queryset.filter(candidate__department_id__in=place.department_ids)
    return queryset


def _application_cells(call: FundingCall, place: Place) -> dict[Cell, dict[str, Any]]:
    rows = (
        applications_in(call, place)
        .annotate(stat_group=statistics_group("candidate__"))
        .order_by()
        .values("candidate__department_id", "stat_group", "status")
        .annotate(
            n=Count("pk"),
            scored=Count("pk", filter=Q(eligibility__isnull=False)),
            eligible=Count("pk", filter=Q(eligibility__eligible=True)),
            requested=Sum("requested_amount"),
            granted=Sum("granted_amount"),
        )
    )
    cells: dict[Cell, dict[str, Any]] = defaultdict(
        lambda: {
            "applications": 0,
            "by_status": defaultdict(int),
            "applications_scored": 0,
            "applications_eligible": 0,
            "amount_requested": ZERO,
            "amount_granted": ZERO,
        }
    )
    for row in rows:
        cell = cells[(row["candidate__department_id"], row["stat_group"])]
        status = row["status"]
        cell["applications"] += row["n"]
        cell["by_status"][status] += row["n"]
        cell["applications_scored"] += row["scored"]
        cell["applications_eligible"] += row["eligible"]
        if status in APPLIED_STATUSES:
            cell["amount_requested"] += row["requested"] or ZERO
        if status in APPROVED_STATUSES:
            cell["amount_granted"] += row["granted"] or ZERO
    return cells


def _payment_cells(call: FundingCall, place: Place) -> dict[Cell, dict[str, Any]]:
    queryset = Payment.objects.filter(application__call=call)
    if place.department_ids is not None:
        queryset = queryset.filter(application__candidate__department_id__in=place.department_ids)
    rows = (
        queryset.annotate(stat_group=statistics_group("application__candidate__"))
        .order_by()
        .values("application__candidate__department_id", "stat_group")
        .annotate(amount=Sum("amount"), n=Count("pk"))
    )
    return {
        (row["application__candidate__department_id"], row["stat_group"]): {
            "amount_paid": row["amount"] or ZERO,
            "payments": row["n"],
        }
        for row in rows
    }


_NO_FIGURES = Figures()
# What `+` adds up field by field (by_status is merged; the median is not additive).
_ADDITIVE = tuple(
    f.name for f in fields(Figures) if f.name not in {"by_status", "median_days_to_decision"}
)


@dataclass(frozen=True)
class Cube:
    """The additive figures of a place, one Figures per (département id, group)."""

    cells: dict[Cell, Figures]

    def total(self, keep: Callable[[Cell], bool] | None = None) -> Figures:
        return Figures.sum(
            figures for cell, figures in self.cells.items() if keep is None or keep(cell)
        )

    def rollup(self, key: Callable[[Cell], Hashable]) -> dict[Hashable, Figures]:
        groups: dict[Hashable, list[Figures]] = defaultdict(list)
        for cell, figures in self.cells.items():
            groups[key(cell)].append(figures)
        return {group: Figures.sum(members) for group, members in groups.items()}


def cube(call: FundingCall, place: Place) -> Cube:
    """The three grouped aggregates of a place (three queries)."""
    parts = (
        _entity_cells(call, place),
        _application_cells(call, place),
        _payment_cells(call, place),
    )
    keys = set().union(*parts)
    cells = {}
    for key in keys:
        values: dict[str, Any] = {}
        for part in parts:
            values.update(part.get(key, {}))
        if "by_status" in values:
            values["by_status"] = dict(values["by_status"])
        cells[key] = Figures(**values)
    return Cube(cells)


# --- The median time from submission to decision ------------------------------------------------


@dataclass(frozen=True)
class Medians:
    """Decided applications and the median days from first submission to decision, for
    the place, each statistics group and each area (region or département code)."""

    total: tuple[int, float | None] = (0, None)
    by_group: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    by_area: dict[str, tuple[int, float | None]] = field(default_factory=dict)


_MEDIAN_SQL = """
WITH moves AS (
    SELECT t.application_id,
           MIN(t.created_at) FILTER (WHERE t.to_status = %(submitted)s) AS submitted,
           MIN(t.created_at) FILTER (
               WHERE t.from_status = %(national)s AND t.to_status IN %(targets)s
           ) AS decided
      FROM {transition} t
      JOIN {application} a ON a.id = t.application_id
     WHERE a.call_id = %(call)s AND a.submitted_at IS NOT NULL
     GROUP BY t.application_id
)
SELECT GROUPING(k.grp), GROUPING(k.area), k.grp, k.area, COUNT(*),
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY EXTRACT(EPOCH FROM (m.decided - m.submitted)) / 86400.0
       )
  FROM moves m
  JOIN {application} a ON a.id = m.application_id
  JOIN {entity} e ON e.id = a.candidate_id
  JOIN {department} d ON d.id = e.department_id
  JOIN {region} r ON r.id = d.region_id
  CROSS JOIN LATERAL (
      SELECT CASE WHEN e.status_group = %(public)s AND e.ght_id IS NOT NULL THEN %(ght)s
                  WHEN e.status_group = %(public)s THEN %(outside)s
                  ELSE e.status_group END AS grp,
             CASE WHEN %(by_region)s THEN r.code ELSE d.code END AS area
  ) k
 WHERE m.decided IS NOT NULL AND m.submitted IS NOT NULL {place_filter}
 GROUP BY GROUPING SETS ((), (k.grp), (k.area))
"""


def _median_parameters(call: FundingCall, place: Place, by_region: bool) -> dict[str, Any]:
    return {
        "submitted": Status.SUBMITTED.value,
        "national": Status.NATIONAL_REVIEW.value,
        "targets": DECISION_TARGETS,
        "call": call.pk,
        "public": StatusGroup.PUBLIC.value,
        "ght": StatisticsGroup.GHT.value,
        "outside": StatisticsGroup.PUBLIC_OUTSIDE_GHT.value,
        "by_region": by_region,
        "departments": sorted(place.department_ids or ()),
    }


def _medians_postgresql(call: FundingCall, place: Place, by_region: bool) -> Medians:
    from establishments.models import Region

    sql = _MEDIAN_SQL.format(
        transition=Transition._meta.db_table,
        application=Application._meta.db_table,
        entity=LegalEntity._meta.db_table,
        department=Department._meta.db_table,
        region=Region._meta.db_table,
        place_filter=(
            "AND e.department_id = ANY(%(departments)s)" if place.department_ids is not None else ""
        ),
    )
    medians = Medians()
    with connection.cursor() as cursor:
        cursor.execute(sql, _median_parameters(call, place, by_region))
        for no_group, no_area, group, area, n, median in cursor.fetchall():
            value = (n, float(median) if median is not None else None)
            if no_group and no_area:
                medians = Medians(value, medians.by_group, medians.by_area)
            elif not no_group:
                medians.by_group[group] = value
            else:
                medians.by_area[area] = value
    return medians


def _medians_python(call: FundingCall, place: Place, by_region: bool) -> Medians:
    """The same figures on any database: one row per decided application."""
    moves = Q(transitions__to_status=Status.SUBMITTED.value)
    decisions = Q(
        transitions__from_status=Status.NATIONAL_REVIEW.value,
        transitions__to_status__in=DECISION_TARGETS,
    )
    area = "candidate__department__region__code" if by_region else "candidate__department__code"
    rows = (
        applications_in(call, place)
        .annotate(
            stat_group=statistics_group("candidate__"),
            first_submitted=Min("transitions__created_at", filter=moves),
            first_decided=Min("transitions__created_at", filter=decisions),
        )
        .filter(first_submitted__isnull=False, first_decided__isnull=False)
        .values_list("stat_group", area, "first_submitted", "first_decided")
    )
    total: list[float] = []
    by_group: dict[str, list[float]] = defaultdict(list)
    by_area: dict[str, list[float]] = defaultdict(list)
    for group, area_code, submitted, decided in rows:
        days = (decided - submitted).total_seconds() / 86400
        total.append(days)
        by_group[group].append(days)
        by_area[area_code].append(days)

    def summary(values: list[float]) -> tuple[int, float | None]:
        return (len(values), statistics.median(values) if values else None)

    return Medians(
        summary(total),
        {k: summary(v) for k, v in by_group.items()},
        {k: summary(v) for k, v in by_area.items()},
    )


def medians(
    call: FundingCall,
    place: Place,
    *,
    area_level: str | None = None,
    use_sql: bool | None = None,
) -> Medians:
    """One query: percentile_cont on PostgreSQL, else the durations read and sorted. The
    areas are regions or départements (`area_level`, by default the place's own)."""
    if use_sql is None:
        use_sql = connection.vendor == "postgresql"
    by_region = (area_level or place.area_level) == REGION
    if use_sql:
        return _medians_postgresql(call, place, by_region)
    return _medians_python(call, place, by_region)


def _with_median(figures: Figures, value: tuple[int, float | None] | None) -> Figures:
    n, median = value or (0, None)
    values = {f.name: getattr(figures, f.name) for f in fields(Figures)}
    values.update(decisions=n, median_days_to_decision=median)
    return Figures(**values)


# --- Breakdowns, series, funnel -----------------------------------------------------------------

BY_GROUP, BY_REGION, BY_DEPARTEMENT = "group", REGION, DEPARTEMENT


@dataclass(frozen=True)
class BreakdownRow:
    key: str  # a statistics group, a region code or a département code
    label: str
    figures: Figures


def _group_rows(data: Cube, found: Medians) -> list[BreakdownRow]:
    by_group = data.rollup(lambda cell: cell[1])
    return [
        BreakdownRow(
            group.value,
            str(group.label),
            _with_median(by_group.get(group.value, Figures()), found.by_group.get(group.value)),
        )
        for group in StatisticsGroup
    ]


def _area_rows(
    data: Cube, found: Medians, place: Place, where: Territory, level: str | None = None
) -> list[BreakdownRow]:
    """Every area of the place, those without any figure included (a zero is a figure):
    the regions or the départements of the nation, the départements of a region."""
    level = level or place.area_level
    departments = where.department_by_id
    if level == REGION and place.scope == NATION:
        areas = list(where.regions.values())
        by_area = data.rollup(lambda cell: departments[cell[0]].region_code)
    elif level == DEPARTEMENT and place.scope in (NATION, REGION):
        areas = (
            list(where.departments.values())
            if place.scope == NATION
            else where.departments_of(place.code or "")
        )
        by_area = data.rollup(lambda cell: departments[cell[0]].code)
    else:
        return []
    return [
        BreakdownRow(
            area.code,
            area.name,
            _with_median(by_area.get(area.code, Figures()), found.by_area.get(area.code)),
        )
        for area in areas
    ]


@dataclass(frozen=True)
class Week:
    start: date  # the Monday
    submissions: int = 0
    decisions: int = 0
    payments: int = 0
    amount_paid: Decimal = ZERO


def _week(value: date | datetime) -> date:
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.date()
    return value


def weekly_series(call: FundingCall, place: Place) -> list[Week]:
    """Each week from the first to the last with an event: first submissions,
    decisions of the ministry (approved or rejected), payments (two queries)."""
    transitions = Transition.objects.filter(application__call=call)
    payments = Payment.objects.filter(application__call=call)
    if place.department_ids is not None:
        transitions = transitions.filter(
            application__candidate__department_id__in=place.department_ids
        )
        payments = payments.filter(application__candidate__department_id__in=place.department_ids)

    def per_week(queryset: QuerySet[Any], date_field: str, **sums: Any) -> dict[date, Any]:
        rows = (
            queryset.annotate(week=TruncWeek(date_field))
            .order_by()
            .values("week")
            .annotate(n=Count("pk"), **sums)
        )
        return {_week(row["week"]): row for row in rows}

    first_submission = Q(from_status=Status.DRAFT.value, to_status=Status.SUBMITTED.value)
    decision = Q(from_status=Status.NATIONAL_REVIEW.value, to_status__in=DECISION_TARGETS)
    # Both kinds of move in one query: a week is listed when it has one or the other.
    moves = per_week(
        transitions.filter(first_submission | decision),
        "created_at",
        submissions=Count("pk", filter=first_submission),
        decisions=Count("pk", filter=decision),
    )
    paid = per_week(payments, "paid_on", amount=Sum("amount"))
    weeks = set(moves) | set(paid)
    if not weeks:
        return []
    result = []
    day, last = min(weeks), max(weeks)
    while day <= last:
        result.append(
            Week(
                start=day,
                submissions=moves.get(day, {}).get("submissions", 0),
                decisions=moves.get(day, {}).get("decisions", 0),
                payments=paid.get(day, {}).get("n", 0),
                amount_paid=paid.get(day, {}).get("amount") or ZERO,
            )
        )
        day += timedelta(days=7)
    return result


FUNNEL_STEPS = ("eligible", "applied", "found_eligible", "approved", "paid")


@dataclass(frozen=True)
class FunnelStep:
    key: str  # a field of Figures
    count: int
    share: float | None  # of the eligible entities


def funnel_of(figures: Figures) -> list[FunnelStep]:
    """Eligible → applied → found eligible by the scoring → approved → paid (entities)."""
    return [
        FunnelStep(key, getattr(figures, key), _rate(getattr(figures, key), figures.eligible))
        for key in FUNNEL_STEPS
    ]


# --- Everything a page shows, and the public functions ----------------------------------------


@dataclass(frozen=True)
class Dashboard:
    place: Place
    call: FundingCall | None
    participation: Participation
    by_group: list[BreakdownRow]
    by_area: list[BreakdownRow]  # regions of the nation, départements of a region
    weeks: list[Week]
    funnel: list[FunnelStep]


def dashboard(*, place: Place, call: FundingCall | None, where: Territory) -> Dashboard:
    """A place's figures, breakdowns, series and funnel: six queries."""
    if call is None:
        empty = _participation(place, None, Figures())
        return Dashboard(place, None, empty, [], [], [], funnel_of(empty))
    data = cube(call, place)
    found = medians(call, place)
    total = _with_median(data.total(), found.total)
    return Dashboard(
        place=place,
        call=call,
        participation=_participation(place, call, total),
        by_group=_group_rows(data, found),
        by_area=_area_rows(data, found, place, where),
        weeks=weekly_series(call, place),
        funnel=funnel_of(total),
    )


def _place(scope: str, code: str | None) -> tuple[Place, Territory]:
    where = territory()
    place = resolve_place(scope, code, where)
    if place is None:
        raise Http404
    return place, where


@dataclass(frozen=True)
class PlaceFigures:
    """A place's figures for a call, with their breakdowns by statistics group and by
    département (the départements of the nation or of a region; none for a
    département), each row with its median."""

    participation: Participation
    by_group: list[BreakdownRow]
    by_department: list[BreakdownRow]


def place_figures(*, place: Place, call: FundingCall, where: Territory) -> PlaceFigures:
    """The figures of a place already resolved (and checked: `place_for`) and their two
    breakdowns, from one cube and one median query: four queries."""
    data = cube(call, place)
    found = medians(call, place, area_level=DEPARTEMENT)
    total = _with_median(data.total(), found.total)
    return PlaceFigures(
        participation=_participation(place, call, total),
        by_group=_group_rows(data, found),
        by_department=_area_rows(data, found, place, where, DEPARTEMENT),
    )


def participation(*, scope: str, code: str | None, call: FundingCall) -> Participation:
    """The figures of the nation, a region (code: its INSEE code) or a département
    (code: its code) for a call. Check the user's right first (`place_for`)."""
    place, _where = _place(scope, code)
    data = cube(call, place)
    return _participation(place, call, _with_median(data.total(), medians(call, place).total))


def breakdown(*, scope: str, code: str | None, call: FundingCall, by: str) -> list[BreakdownRow]:
    """The place's figures by statistics group (`by="group"`), or by its areas: the
    nation by "region" or "departement", a region by "departement"."""
    place, where = _place(scope, code)
    allowed = {NATION: (REGION, DEPARTEMENT), REGION: (DEPARTEMENT,)}.get(place.scope, ())
    if by != BY_GROUP and by not in allowed:
        raise ValueError(f"a {place.scope} does not break down by {by}")
    data = cube(call, place)
    found = medians(call, place, area_level=by if by != BY_GROUP else None)
    if by == BY_GROUP:
        return _group_rows(data, found)
    return _area_rows(data, found, place, where, by)


def series(*, scope: str, code: str | None, call: FundingCall) -> list[Week]:
    place, _where = _place(scope, code)
    return weekly_series(call, place)


def funnel(*, scope: str, code: str | None, call: FundingCall) -> list[FunnelStep]:
    place, _where = _place(scope, code)
    return funnel_of(cube(call, place).total())
