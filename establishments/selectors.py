"""Composite reads of the directory, each with its joins declared here."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.models import User

from . import directory
from .identifiers import compact
from .models import GHT, LegalEntity, Site


def directory_entities(*, user: User, filters: dict[str, Any]) -> QuerySet[LegalEntity]:
    """Legal entities the user may see, filtered, with what the list shows."""
    # The registered columns join what they show (select_related): no query of their own.
    qs = LegalEntity.objects.visible_to(user).select_related(
        "department__region", "ght", *directory.related_paths()
    )
    if query := (filters.get("q") or "").strip():
        condition: Q = Q(name__icontains=query)
        number = compact(query)
        if len(number) >= 3 and number.isalnum():
            site_match = Site.objects.filter(legal_entity=OuterRef("pk"), finess__startswith=number)
            condition |= Q(finess__startswith=number) | Q(Exists(site_match))
        qs = qs.filter(condition)
    if region := filters.get("region"):
        qs = qs.filter(department__region=region)
    if department := filters.get("department"):
        qs = qs.filter(department=department)
    if status_group := filters.get("status_group"):
        qs = qs.filter(status_group=status_group)
    return directory.apply_filters(qs, filters).order_by("name", "id")


def with_site_counts(entities: Iterable[LegalEntity]) -> list[LegalEntity]:
    """Set `site_count` on one page of entities with one query (counting in the list
    query itself would group every matching row, not just the page)."""
    entities = list(entities)
    counts = dict(
        Site.objects.filter(legal_entity__in=entities)
        .values("legal_entity")
        .annotate(n=Count("id"))
        .values_list("legal_entity", "n")
    )
    for entity in entities:
        entity.site_count = counts.get(entity.id, 0)  # type: ignore[attr-defined]
    return entities


def get_legal_entity_for(user: User, public_id: UUID) -> LegalEntity:
    """The one access helper of a legal entity page: 404 outside the user's scope."""
    try:
        return (
            LegalEntity.objects.visible_to(user)
            .select_related("department__region", "ght__region", *directory.related_paths())
            .get(public_id=public_id)
        )
    except LegalEntity.DoesNotExist:
        raise Http404 from None


def legal_entity_sites(*, legal_entity: LegalEntity) -> QuerySet[Site]:
    return legal_entity.sites.select_related("department").order_by("name")


def ght_members(*, ght: GHT, user: User) -> list[tuple[LegalEntity, bool]]:
    """Members of a GHT (support first), each with whether the user may open it."""
    visible = set(LegalEntity.objects.visible_to(user).filter(ght=ght).values_list("id", flat=True))
    members = ght.members.select_related("department").order_by("-is_ght_support", "name")
    return [(member, member.id in visible) for member in members]
