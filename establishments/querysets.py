"""Scoped querysets: every read of the directory goes through `visible_to(user)`."""

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from accounts.models import Scope, User


def _scope(user: Any) -> "Scope":
    from accounts.models import Scope

    if not getattr(user, "is_authenticated", False):
        return Scope()
    return user.scope


def _related_model(qs: models.QuerySet, field: str) -> Any:
    """The model at the other end of `field`, found without importing `.models` (which
    imports this module)."""
    return qs.model._meta.get_field(field).related_model


class LegalEntityQuerySet(models.QuerySet):
    def visible_to(self, user: "User") -> "LegalEntityQuerySet":
        """Ministry: all; ARS: its region; establishment: its own entity and, for a
        GHT support establishment, the members of its GHT (it files for them)."""
        scope = _scope(user)
        if scope.national:
            return self.all()
        condition = models.Q(department__region_id__in=scope.region_ids) | models.Q(
            id__in=scope.legal_entity_ids
        )
        if scope.legal_entity_ids:
            support_ghts = self.model.objects.filter(
                id__in=scope.legal_entity_ids, is_ght_support=True
            ).values("ght_id")
            condition |= models.Q(ght_id__in=support_ghts)
        if scope.empty:
            return self.none()
        return self.filter(condition)


class SiteQuerySet(models.QuerySet):
    def visible_to(self, user: "User") -> "SiteQuerySet":
        scope = _scope(user)
        if scope.national:
            return self.all()
        if scope.empty:
            return self.none()
        entities = _related_model(self, "legal_entity").objects.visible_to(user)
        return self.filter(legal_entity__in=entities)


class GHTQuerySet(models.QuerySet):
    def visible_to(self, user: "User") -> "GHTQuerySet":
        """A GHT is visible to its region's ARS and to the users of its members."""
        scope = _scope(user)
        if scope.national:
            return self.all()
        if scope.empty:
            return self.none()
        member_ghts = (
            _related_model(self, "members")
            .objects.filter(id__in=scope.legal_entity_ids)
            .exclude(ght_id=None)
            .values("ght_id")
        )
        return self.filter(models.Q(region_id__in=scope.region_ids) | models.Q(id__in=member_ghts))
