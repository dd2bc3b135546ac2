"""Scoped reads of applications: every list and page goes through `visible_to` (or,
for one application already loaded, its twin `is_visible_to`)."""

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from accounts.models import User


class ApplicationQuerySet(models.QuerySet):
    def visible_to(self, user: "User | Any") -> "ApplicationQuerySet":
        """Never submitted (a draft, or a draft withdrawn): only the candidate's own
        users. Otherwise: the candidate's and the covered entities' users, the ARS of
        the candidate's region, the ministry."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        scope = user.scope
        authors = models.Q(candidate_id__in=scope.legal_entity_ids)
        if scope.national:
            return self.filter(authors | models.Q(submitted_at__isnull=False))
        if scope.empty:
            return self.none()
        others = models.Q(candidate__department__region_id__in=scope.region_ids) | models.Q(
            coverages__legal_entity_id__in=scope.legal_entity_ids
        )
        ids = self.filter(authors | (others & models.Q(submitted_at__isnull=False))).values("id")
        return self.filter(id__in=ids)


def per_outer_row(
    queryset: models.QuerySet, group: str, aggregate: models.Aggregate
) -> models.QuerySet:
    """`aggregate` over `queryset` (filtered on an OuterRef) for each row of the outer
    query, as a one-column queryset to wrap in Subquery; `group` is the field naming
    the outer row (unordered: an ordering would split the group)."""
    return queryset.order_by().values(group).annotate(total=aggregate).values("total")


def is_visible_to(application: Any, user: "User | Any") -> bool:
    """`visible_to`'s rule for one application already loaded (its candidate's
    department joined), without its query: an application page reads its application by
    its public id with every join it shows, then checks it here (planning the self-join
    of `visible_to` beside those joins cost PostgreSQL more than all the page's other
    queries together). Only a user of a covered entity, not the candidate's, costs a
    query."""
    if not getattr(user, "is_authenticated", False):
        return False
    scope = user.scope
    if application.candidate_id in scope.legal_entity_ids:
        return True
    if application.submitted_at is None:
        return False
    if scope.national or application.candidate.department.region_id in scope.region_ids:
        return True
    return bool(scope.legal_entity_ids) and (
        application.coverages.filter(legal_entity_id__in=scope.legal_entity_ids).exists()
    )
