"""Composite reads of applications, each with its joins declared here: a page runs the
same number of queries whatever the number of requirements, files or messages."""

from dataclasses import dataclass, field
from uuid import UUID

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import Http404
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts.models import User
from establishments.models import LegalEntity

from .models import (
    Answer,
    Application,
    Coverage,
    Evidence,
    FundingCall,
    Message,
    Transition,
)
from .roles import actor_roles
from .services import candidate_problem
from .transitions import EDITABLE_STATUSES, Actor, Status, rule_for

# What every application page shows of the application itself, and what
# `actor_roles` reads (candidate.department.region_id): joined, never lazily loaded.
APPLICATION_JOINS = ("call", "candidate__department__region", "ght", "sworn_by")


def get_application_for(user: User, public_id: UUID) -> Application:
    """The one access helper of an application page: 404 outside
    `Application.objects.visible_to(user)` (a draft only for its candidate's users)."""
    try:
        return (
            Application.objects.visible_to(user)
            .select_related(*APPLICATION_JOINS)
            .get(public_id=public_id)
        )
    except Application.DoesNotExist:
        raise Http404 from None


def get_evidence_for(user: User, application_public_id: UUID, evidence_public_id: UUID) -> Evidence:
    """A piece of evidence of an application the user may see, else 404."""
    application = get_application_for(user, application_public_id)
    try:
        evidence = application.evidence.select_related("answer__requirement").get(
            public_id=evidence_public_id
        )
    except Evidence.DoesNotExist:
        raise Http404 from None
    evidence.application = application  # already loaded, with its joins
    return evidence


def _answers_queryset() -> QuerySet[Answer]:
    return Answer.objects.select_related("requirement").order_by(
        "requirement__position", "requirement__identifier", "id"
    )


def with_answers(application: Application) -> Application:
    """Load the answers (with their requirement and files) and the application's files:
    what the answers page and `application_issues` read, in three queries."""
    return _prefetch(
        application,
        Prefetch("answers", queryset=_answers_queryset().prefetch_related("evidence")),
        "evidence",
        "budget_lines",
    )


def with_everything(application: Application) -> Application:
    """Load every section, the history and the thread: what the overview and the
    read-only view show (and `application_issues` reads), in a constant number of
    queries."""
    return _prefetch(
        application,
        Prefetch("answers", queryset=_answers_queryset().prefetch_related("evidence")),
        "evidence",
        "budget_lines",
        Prefetch(
            "coverages",
            queryset=Coverage.objects.select_related("legal_entity__department").order_by(
                "-legal_entity__is_ght_support", "legal_entity__name"
            ),
        ),
        Prefetch("transitions", queryset=Transition.objects.select_related("actor")),
        Prefetch("messages", queryset=Message.objects.select_related("author")),
    )


def with_messages(application: Application) -> Application:
    """Load the thread (for the return request shown on the section pages)."""
    return _prefetch(
        application, Prefetch("messages", queryset=Message.objects.select_related("author"))
    )


def _prefetch(application: Application, *lookups: str | Prefetch) -> Application:
    prefetch_related_objects([application], *lookups)
    return application


def return_request(application: Application) -> Message | None:
    """The reviewer's latest request for complements (from prefetched messages)."""
    requests = [m for m in application.messages.all() if m.is_return_request]
    return requests[-1] if requests else None


def can_edit(user: User, application: Application) -> bool:
    """Whether the user may change the application's content now."""
    return application.status in EDITABLE_STATUSES and Actor.ESTABLISHMENT.value in actor_roles(
        user, application
    )


def can_withdraw(user: User, application: Application) -> bool:
    rule = rule_for(application.status, Status.WITHDRAWN.value)
    return rule is not None and bool(rule.actors & actor_roles(user, application))


def can_post_message(user: User, application: Application) -> bool:
    """The thread opens at submission, to the candidate's users and its instructors
    (the users of covered entities read it)."""
    roles = actor_roles(user, application) - {Actor.SYSTEM.value}
    return application.status != Status.DRAFT and bool(roles)


def when(moment: object) -> str:
    """A date and time in words, in the portal's time zone: "31 octobre 2025 à 23:59"."""
    local = timezone.localtime(moment)  # type: ignore[arg-type]
    return _("%(date)s à %(time)s") % {
        "date": formats.date_format(local, "DATE_FORMAT"),
        "time": formats.time_format(local, "TIME_FORMAT"),
    }


def next_step(application: Application) -> str:
    """What happens next, in words, for lists and the application page."""
    status = application.status
    if status == Status.DRAFT:
        if not application.call.is_open():
            return _("Appel clos : la candidature n'a pas été déposée")
        return _("Compléter et déposer avant le %(deadline)s") % {
            "deadline": when(application.call.closes_at)
        }
    steps = {
        Status.SUBMITTED: _("Vérification de l'éligibilité en cours"),
        Status.INELIGIBLE: _("Aucune action attendue : candidature jugée inéligible"),
        Status.REGIONAL_REVIEW: _("Instruction par l'ARS"),
        Status.RETURNED: _("Apporter les compléments demandés"),
        Status.NATIONAL_REVIEW: _("Instruction nationale"),
        Status.APPROVED: _("Déclarer l'atteinte des objectifs"),
        Status.REJECTED: _("Aucune action attendue : candidature refusée"),
        Status.WITHDRAWN: _("Aucune action attendue : candidature retirée"),
        Status.OBJECTIVES_DECLARED: _("Vérification des objectifs par l'ARS"),
        Status.OBJECTIVES_CHECKED: _("Validation nationale des objectifs"),
        Status.OBJECTIVES_VALIDATED: _("Paiement en cours"),
        Status.PAID: _("Aucune action attendue : financement versé"),
    }
    return str(steps.get(Status(status), ""))


def applications_for_list(user: User) -> QuerySet[Application]:
    """The applications a user sees in "Mes candidatures" (their own drafts included;
    others' drafts never), newest first."""
    return (
        Application.objects.visible_to(user)
        .select_related("call", "candidate")
        .order_by("-created_at", "-id")
    )


@dataclass
class CallEntry:
    """One of the user's legal entities facing one open call."""

    entity: LegalEntity
    application: Application | None = None  # its own application to the call
    covered_by: Application | None = None  # another's application covering it (GHT)
    problem: str | None = None  # why it cannot file (French)


@dataclass
class OpenCall:
    call: FundingCall
    entries: list[CallEntry] = field(default_factory=list)


def open_calls_for(user: User) -> list[OpenCall]:
    """Open calls (opens_at ≤ now < closes_at) and, for each of the user's legal
    entities, its application, the application covering it, or why it cannot file."""
    entity_ids = user.scope.legal_entity_ids
    now = timezone.now()
    calls = list(FundingCall.objects.filter(opens_at__lte=now, closes_at__gt=now))
    if not calls or not entity_ids:
        return [OpenCall(call) for call in calls]
    entities = list(
        LegalEntity.objects.filter(id__in=entity_ids).select_related("ght").order_by("name")
    )
    own = {
        (a.call_id, a.candidate_id): a
        for a in Application.objects.filter(call__in=calls, candidate_id__in=entity_ids)
    }
    covering = {
        (c.call_id, c.legal_entity_id): c.application
        for c in Coverage.objects.filter(
            call__in=calls, legal_entity_id__in=entity_ids
        ).select_related("application__candidate")
    }
    result = []
    for call in calls:
        entries = []
        for entity in entities:
            entry = CallEntry(entity)
            entry.application = own.get((call.id, entity.id))
            entry.covered_by = covering.get((call.id, entity.id))
            if entry.application is None and entry.covered_by is None:
                entry.problem = candidate_problem(call=call, candidate=entity)
            entries.append(entry)
        result.append(OpenCall(call, entries))
    return result
