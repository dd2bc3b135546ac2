"""The ARS work queue: the applications of an agent's region(s) that wait for the ARS
or that it follows, in tabs, filtered, searched and sorted.

Data only, in a constant number of queries whatever the number of applications: the
tab counts in one aggregate, the page's rows in one query (the candidate, its
département, the eligibility result and the agent joined; the covered entities counted
and the date of entry into the current status read by subqueries; the conflict mark by
`conflicts.in_conflict`)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from establishments.identifiers import compact

from .conflicts import in_conflict
from .lifecycle import Status
from .models import Application, Coverage, Transition
from .querysets import per_outer_row

if TYPE_CHECKING:
    from accounts.models import User
    from establishments.models import Department


class Tab(models.TextChoices):
    TO_INSTRUCT = "to_instruct", _("À instruire")
    RETURNED = "returned", _("Renvoyées pour compléments")
    SENT = "sent", _("Envoyées au ministère")
    OBJECTIVES = "objectives", _("Objectifs à vérifier")


TAB_STATUS: dict[str, str] = {
    Tab.TO_INSTRUCT.value: Status.REGIONAL_REVIEW.value,
    Tab.RETURNED.value: Status.RETURNED.value,
    Tab.SENT.value: Status.NATIONAL_REVIEW.value,
    Tab.OBJECTIVES.value: Status.OBJECTIVES_DECLARED.value,
}


class Sort(models.TextChoices):
    SCORE = "score", _("Score de priorité (le plus élevé d'abord)")
    SUBMITTED = "submitted", _("Date de dépôt (la plus ancienne d'abord)")
    WAITING = "waiting", _("Attente (la plus longue d'abord)")


class Eligibility(models.TextChoices):
    ELIGIBLE = "eligible", _("Éligibles")
    INELIGIBLE = "ineligible", _("Inéligibles")
    PENDING = "pending", _("Non évaluées")


class Assignment(models.TextChoices):
    MINE = "me", _("Attribuées à moi")
    UNASSIGNED = "unassigned", _("Non attribuées")


@dataclass(frozen=True)
class Filters:
    """What the queue's GET form asks for (its cleaned data)."""

    tab: str = Tab.TO_INSTRUCT.value
    sort: str = Sort.SCORE.value
    q: str = ""
    call: Any = None  # a FundingCall
    department: "Department | None" = None
    status_group: str = ""
    eligibility: str = ""
    assigned: str = ""

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Filters":
        known = {name: data[name] for name in cls.__dataclass_fields__ if data.get(name)}
        filters = cls(**known)
        if filters.tab not in TAB_STATUS:
            filters = cls(**{**known, "tab": Tab.TO_INSTRUCT.value})
        return filters


def in_scope(user: "User") -> QuerySet[Application]:
    """The applications of the agent's region(s) (every region for the ministry)."""
    scope = user.scope
    if scope.national:
        return Application.objects.all()
    if not scope.region_ids:
        return Application.objects.none()
    return Application.objects.filter(candidate__department__region_id__in=scope.region_ids)


def _search(queryset: QuerySet[Application], text: str) -> QuerySet[Application]:
    """By reference, by the name of the candidate or of a covered entity, or by the
    FINESS number (the first digits are enough) of either."""
    text = text.strip()
    if not text:
        return queryset
    covered = Coverage.objects.filter(application=OuterRef("pk"))
    condition: Any = (
        Q(reference__icontains=text)
        | Q(candidate__name__icontains=text)
        | Exists(covered.filter(legal_entity__name__icontains=text))
    )
    number = compact(text)
    if len(number) >= 3 and number.isalnum():
        condition |= Q(candidate__finess__startswith=number) | Exists(
            covered.filter(legal_entity__finess__startswith=number)
        )
    return queryset.filter(condition)


def _filtered(user: "User", filters: Filters) -> QuerySet[Application]:
    """Every filter but the tab's."""
    queryset = _search(in_scope(user), filters.q)
    if filters.call is not None:
        queryset = queryset.filter(call=filters.call)
    if filters.department is not None:
        queryset = queryset.filter(candidate__department=filters.department)
    if filters.status_group:
        queryset = queryset.filter(candidate__status_group=filters.status_group)
    if filters.eligibility == Eligibility.ELIGIBLE:
        queryset = queryset.filter(eligibility__eligible=True)
    elif filters.eligibility == Eligibility.INELIGIBLE:
        queryset = queryset.filter(eligibility__eligible=False)
    elif filters.eligibility == Eligibility.PENDING:
        queryset = queryset.filter(eligibility__isnull=True)
    if filters.assigned == Assignment.MINE:
        queryset = queryset.filter(assigned_to=user)
    elif filters.assigned == Assignment.UNASSIGNED:
        queryset = queryset.filter(assigned_to__isnull=True)
    return queryset


def tab_counts(user: "User", filters: Filters) -> dict[str, int]:
    """How many applications each tab holds under the other filters: one query."""
    aggregates = {tab: Count("pk", filter=Q(status=status)) for tab, status in TAB_STATUS.items()}
    return _filtered(user, filters).aggregate(**aggregates)


ORDERINGS: dict[str, tuple[Any, ...]] = {
    Sort.SCORE.value: (F("eligibility__score").desc(nulls_last=True), "submitted_at", "id"),
    Sort.SUBMITTED.value: (F("submitted_at").asc(nulls_last=True), "id"),
    Sort.WAITING.value: (F("entered_at").asc(nulls_last=True), "id"),
}


def queue(user: "User", filters: Filters) -> QuerySet[Application]:
    """The rows of the current tab, with every column of the queue: one query per page
    (plus one for the conflict mark, whatever the number of rows)."""
    covered = per_outer_row(
        Coverage.objects.filter(application=OuterRef("pk")), "application", Count("pk")
    )
    entered = (
        Transition.objects.filter(application=OuterRef("pk"), to_status=OuterRef("status"))
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    queryset = (
        _filtered(user, filters)
        .filter(status=TAB_STATUS[filters.tab])
        .select_related("call", "candidate__department", "eligibility", "assigned_to")
        .annotate(
            covered_count=Coalesce(Subquery(covered, output_field=IntegerField()), 0),
            entered_at=Subquery(entered),
        )
    )
    return in_conflict(queryset, user).order_by(*ORDERINGS.get(filters.sort, ORDERINGS["score"]))


@dataclass
class Row:
    """One line of the queue: the application and what is computed from its columns."""

    application: Application
    failed_rules: list[dict[str, Any]] = field(default_factory=list)
    days_waiting: int | None = None


def rows(applications: Any, *, now: datetime | None = None) -> list[Row]:
    """The page's applications as rows (no query: the columns are loaded)."""
    now = now or timezone.now()
    result = []
    for application in applications:
        eligibility = getattr(application, "eligibility", None)
        failed = [
            rule
            for rule in (eligibility.rules if eligibility else [])
            if rule.get("blocking", True) and not rule.get("passed")
        ]
        since = application.entered_at or application.submitted_at
        days = (now - since).days if since else None
        result.append(Row(application, failed, days))
    return result


def departments(user: "User") -> QuerySet["Department"]:
    """The départements of the agent's region(s) (every one for the ministry)."""
    from establishments.models import Department

    scope = user.scope
    queryset = Department.objects.order_by("code")
    if scope.national:
        return queryset
    return queryset.filter(region_id__in=scope.region_ids)
