"""Conflicts of interest: who may neither instruct nor decide an application.

A user is in conflict with an application when they are a member (any membership)
of its candidate or of one of its covered legal entities, or when they declared a
conflict with one of them (`ConflictDeclaration`). Instruction (ARS pages) and
decisions (the ministry) both ask here."""

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from care_portal.errors import ConflictOfInterest

from .models import Application, ConflictDeclaration, Coverage

if TYPE_CHECKING:
    from accounts.models import User


def _linked_entity_ids(user: "User") -> QuerySet:
    """Ids of the legal entities the user belongs to or declared a conflict with."""
    # No ORDER BY inside a UNION (the models' default ordering): SQLite refuses it.
    declared = ConflictDeclaration.objects.filter(user=user).order_by().values("legal_entity_id")
    members = (
        user.memberships.filter(legal_entity__isnull=False).order_by().values("legal_entity_id")
    )
    return declared.union(members)


def in_conflict(queryset: QuerySet[Application], user: "User") -> QuerySet[Application]:
    """Annotate each application with `in_conflict` for this user (one subquery, for
    lists: the queue marks such applications)."""
    linked = list(_linked_entity_ids(user).values_list("legal_entity_id", flat=True))
    covered = Coverage.objects.filter(application=OuterRef("pk"), legal_entity_id__in=linked)
    return queryset.annotate(in_conflict=Q(candidate_id__in=linked) | Exists(covered))


def has_conflict(user: "User", application: Application) -> bool:
    linked = set(_linked_entity_ids(user).values_list("legal_entity_id", flat=True))
    if not linked:
        return False
    if application.candidate_id in linked:
        return True
    return Coverage.objects.filter(application=application, legal_entity_id__in=linked).exists()


def ensure_no_conflict(user: "User", application: Application) -> None:
    if has_conflict(user, application):
        raise ConflictOfInterest(
            _(
                "Vous êtes lié(e) au candidat ou à une entité couverte par la candidature "
                "%(reference)s : vous ne pouvez ni l'instruire ni la décider."
            )
            % {"reference": application.reference}
        )


def conflict_declare(*, user: "User", legal_entity_id: int, reason: str) -> ConflictDeclaration:
    """ "I recuse myself": recorded once per (user, entity); the reason is required."""
    reason = reason.strip()
    if not reason:
        raise ConflictOfInterest(_("Indiquez le motif du conflit d'intérêts."))
    declaration, _created = ConflictDeclaration.objects.update_or_create(
        user=user, legal_entity_id=legal_entity_id, defaults={"reason": reason}
    )
    return declaration
