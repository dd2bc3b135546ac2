"""Which role a user holds towards one application (for the transition table)."""

from typing import TYPE_CHECKING

from .lifecycle import Actor

if TYPE_CHECKING:
    from accounts.models import User

    from .models import Application


def actor_roles(user: "User | None", application: "Application") -> set[str]:
    """The roles of the lifecycle table this user holds for this application: the
    establishment role for the candidate's users, the regional role for the ARS of the
    candidate's region, the ministry role nationally; `None` is the system."""
    if user is None:
        return {Actor.SYSTEM.value}
    if not user.is_active:
        return set()
    scope = user.scope
    roles: set[str] = set()
    if application.candidate_id in scope.legal_entity_ids:
        roles.add(Actor.ESTABLISHMENT.value)
    if application.candidate.department.region_id in scope.region_ids:
        roles.add(Actor.REGIONAL.value)
    if scope.national:
        roles.add(Actor.MINISTRY.value)
    return roles
