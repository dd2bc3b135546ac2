"""Composite reads for the application pages, each with its joins declared here: a page
runs the same number of queries whatever the number of requirements, files or
messages. Data only: the words the pages show are the templates' and
`templatetags/applications_tags.py`'s."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from establishments.models import LegalEntity

from .dossiers import DOSSIER_STUCK_AFTER, decision_transitions, submission_count
from .drafting import candidate_problem
from .eligibility import factor_rows
from .lifecycle import EDITABLE_STATUSES, Actor, Status, actor_roles, rule_for
from .models import (
    Answer,
    Application,
    BudgetLine,
    Coverage,
    Dossier,
    EligibilityResult,
    Evidence,
    FundingCall,
    Message,
    Transition,
)
from .querysets import is_visible_to

# What every application page shows of the application itself, and what
# `actor_roles` reads (candidate.department.region_id): joined, never lazily loaded.
# The eligibility result too: one row at most, so a join saves the overview and the
# instruction page a query of their own (`with_everything` then finds it loaded).
# Not the GHT: most applications have none (`application.ght` is then None without a
# query), and each join more costs PostgreSQL's planner more than that query costs a
# GHT's application (about 1.5 ms of planning per page for this eighth relation).
APPLICATION_JOINS = ("call", "candidate__department__region", "sworn_by", "eligibility")


def get_application_for(user: User, public_id: UUID) -> Application:
    """The one access helper of an application page: 404 outside
    `Application.objects.visible_to(user)` (a draft only for its candidate's users),
    checked on the application read with its joins (`querysets.is_visible_to`: the
    same rule, without the self-join that made this query the page's costliest)."""
    try:
        application = Application.objects.select_related(*APPLICATION_JOINS).get(
            public_id=public_id
        )
    except Application.DoesNotExist:
        raise Http404 from None
    if not is_visible_to(application, user):
        raise Http404
    return application


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


def _budget_lines() -> Prefetch:
    """One application's budget lines in their model's order (application, id) without
    the join to the application that ordering by it costs."""
    return Prefetch("budget_lines", queryset=BudgetLine.objects.order_by("id"))


def with_answers(application: Application) -> Application:
    """Load the answers (with their requirement and files) and the application's files:
    what the answers page and `application_issues` read, in three queries."""
    return _prefetch(
        application,
        Prefetch("answers", queryset=_answers_queryset().prefetch_related("evidence")),
        "evidence",
        _budget_lines(),
    )


def with_everything(application: Application, *, all_evidence: bool = True) -> Application:
    """Load every section, the history and the thread: what the overview and the
    read-only view show (and `application_issues` reads), in a constant number of
    queries. `all_evidence=False` leaves out the application's list of every file, which
    only `application_issues` reads (each answer's files are loaded either way): the
    read-only view saves a query."""
    return _prefetch(
        application,
        Prefetch("answers", queryset=_answers_queryset().prefetch_related("evidence")),
        *(["evidence"] if all_evidence else []),
        _budget_lines(),
        Prefetch(
            "coverages",
            queryset=Coverage.objects.select_related("legal_entity__department").order_by(
                "-legal_entity__is_ght_support", "legal_entity__name"
            ),
        ),
        Prefetch("transitions", queryset=Transition.objects.select_related("actor")),
        Prefetch("messages", queryset=Message.objects.select_related("author")),
        "eligibility",
        Prefetch("dossiers", queryset=Dossier.objects.order_by("kind", "-version")),
    )


def with_dossiers(application: Application) -> Application:
    """Load what the documents' part of the page reads: the history (the versions due),
    the dossiers and the eligibility result."""
    return _prefetch(
        application,
        Prefetch("transitions", queryset=Transition.objects.select_related("actor")),
        "eligibility",
        Prefetch("dossiers", queryset=Dossier.objects.order_by("kind", "-version")),
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


def can_ask_reconsideration(user: User, application: Application) -> bool:
    """An ineligible application's users may ask the ministry, who alone may
    reconsider it (lifecycle: "reconsider"), in a message."""
    return application.status == Status.INELIGIBLE and Actor.ESTABLISHMENT.value in actor_roles(
        user, application
    )


def can_withdraw_and_restart(user: User, application: Application) -> bool:
    """An ineligible application's users may also withdraw it and, the call still open,
    start a new one once their data is fixed (lifecycle: "withdraw")."""
    return (
        application.status == Status.INELIGIBLE
        and can_withdraw(user, application)
        and application.call.is_open()
    )


@dataclass(frozen=True)
class Restart:
    """After a withdrawal, for the candidate's users: the application that took its
    place in the call, or whether a new one may be started."""

    newer: Application | None = None
    possible: bool = False


def restart_after_withdrawal(user: User, application: Application) -> Restart:
    """For a withdrawn application's page: its successor in the call, or whether its
    candidate may start a new application to the call now (`drafting.application_start`
    checks it again)."""
    if application.status != Status.WITHDRAWN or Actor.ESTABLISHMENT.value not in actor_roles(
        user, application
    ):
        return Restart()
    newer = (
        Application.objects.filter(
            call_id=application.call_id, candidate_id=application.candidate_id
        )
        .exclude(status=Status.WITHDRAWN)
        .first()
    )
    if newer is not None:
        return Restart(newer=newer)
    return Restart(
        possible=candidate_problem(call=application.call, candidate=application.candidate) is None
    )


def can_post_message(user: User, application: Application) -> bool:
    """The thread opens at submission, to the candidate's users and its instructors
    (the users of covered entities read it)."""
    roles = actor_roles(user, application) - {Actor.SYSTEM.value}
    return application.status != Status.DRAFT and bool(roles)


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
    withdrawn: Application | None = None  # its latest withdrawn application to the call


@dataclass
class OpenCall:
    call: FundingCall
    entries: list[CallEntry] = field(default_factory=list)


def open_calls_for(user: User) -> list[OpenCall]:
    """Open calls (opens_at ≤ now < closes_at) and, for each of the user's legal
    entities, its application, the application covering it, or why it cannot file.
    A withdrawn application no longer holds the entity's place: it is shown beside the
    button that starts a new one."""
    entity_ids = user.scope.legal_entity_ids
    now = timezone.now()
    calls = list(FundingCall.objects.filter(opens_at__lte=now, closes_at__gt=now))
    if not calls or not entity_ids:
        return [OpenCall(call) for call in calls]
    entities = list(
        LegalEntity.objects.filter(id__in=entity_ids).select_related("ght").order_by("name")
    )
    own: dict[tuple[int, int], Application] = {}
    withdrawn: dict[tuple[int, int], Application] = {}
    for a in Application.objects.filter(call__in=calls, candidate_id__in=entity_ids).order_by(
        "created_at", "id"
    ):  # the latest withdrawn one last
        (withdrawn if a.status == Status.WITHDRAWN else own)[(a.call_id, a.candidate_id)] = a
    covering = {
        (c.call_id, c.legal_entity_id): c.application
        for c in Coverage.objects.held()
        .filter(call__in=calls, legal_entity_id__in=entity_ids)
        .select_related("application__candidate")
    }
    result = []
    for call in calls:
        entries = []
        for entity in entities:
            key = (call.id, entity.id)
            entry = CallEntry(entity, withdrawn=withdrawn.get(key))
            entry.application = own.get(key)
            entry.covered_by = covering.get(key)
            if entry.application is None and entry.covered_by is None:
                entry.problem = candidate_problem(call=call, candidate=entity)
            entries.append(entry)
        result.append(OpenCall(call, entries))
    return result


# --- Eligibility explained, and the rendered PDFs ---------------------------------------


@dataclass(frozen=True)
class EligibilityExplanation:
    """What a user is shown of the eligibility result: the whole explanation (every
    rule, the score and its factors) for the instructors, only what failed (or
    "eligible") for the candidate's users."""

    result: EligibilityResult | None
    pending: bool  # submitted, the scoring task has not run yet
    full: bool
    rules: list[dict[str, Any]]
    factors: list[dict[str, Any]]
    failed: list[dict[str, Any]]


def eligibility_explanation(user: User, application: Application) -> EligibilityExplanation:
    """From the prefetched result (`with_everything`)."""
    result: EligibilityResult | None = getattr(application, "eligibility", None)
    full = bool({Actor.REGIONAL.value, Actor.MINISTRY.value} & actor_roles(user, application))
    rules = list(result.rules) if result else []
    return EligibilityExplanation(
        result=result,
        pending=result is None and application.status == Status.SUBMITTED,
        full=full,
        rules=rules if full else [],
        factors=factor_rows(result.factors) if result and full else [],
        failed=[r for r in rules if r.get("blocking", True) and not r.get("passed")],
    )


@dataclass(frozen=True)
class DossierLine:
    """The current version of one kind of PDF (the dossier of the latest submission, the
    letter of the latest decision) and the earlier versions still downloadable."""

    kind: str
    version: int
    dossier: Dossier | None  # None: not yet picked up by a worker
    older: list[Dossier]
    due_since: datetime | None = None  # the submission or decision that made it due

    @property
    def status(self) -> str:
        return self.dossier.status if self.dossier else Dossier.Status.PENDING.value

    @property
    def waiting(self) -> bool:
        """Still to be rendered (the page polls until it is not)."""
        return self.status in (Dossier.Status.PENDING, Dossier.Status.RUNNING)

    @property
    def stuck(self) -> bool:
        """Waiting for a worker longer than `DOSSIER_STUCK_AFTER`: it may be relaunched."""
        since = self.dossier.updated_at if self.dossier else self.due_since
        return self.waiting and since is not None and since < timezone.now() - DOSSIER_STUCK_AFTER


def dossier_lines(application: Application) -> list[DossierLine]:
    """From the prefetched transitions and dossiers (`with_everything`)."""
    transitions = list(application.transitions.all())
    dossiers = list(application.dossiers.all())
    decisions = decision_transitions(transitions)
    submissions = [t for t in transitions if t.to_status == Status.SUBMITTED]
    expected = {
        Dossier.Kind.DOSSIER.value: submission_count(transitions),
        Dossier.Kind.DECISION.value: len(decisions),
    }
    due_since = {
        Dossier.Kind.DOSSIER.value: max((t.created_at for t in submissions), default=None),
        Dossier.Kind.DECISION.value: max((t.created_at for t in decisions), default=None),
    }
    lines = []
    for kind, version in expected.items():
        if not version:
            continue
        of_kind = sorted((d for d in dossiers if d.kind == kind), key=lambda d: -d.version)
        lines.append(
            DossierLine(
                kind=kind,
                version=version,
                dossier=next((d for d in of_kind if d.version == version), None),
                older=[
                    d for d in of_kind if d.version < version and d.status == Dossier.Status.DONE
                ],
                due_since=due_since[kind],
            )
        )
    return lines


def can_relaunch_dossier(user: User, application: Application) -> bool:
    """A document stuck waiting for a worker may be relaunched by the application's
    users and the ministry (`dossiers.dossier_relaunch`)."""
    return bool({Actor.ESTABLISHMENT.value, Actor.MINISTRY.value} & actor_roles(user, application))


def dossiers_polling(application: Application, lines: list[DossierLine]) -> bool:
    """Whether the application page should follow its documents' state by itself: one
    is still to be rendered, or the submission is still being scored."""
    return application.status == Status.SUBMITTED or any(line.waiting for line in lines)


def can_retry_dossier(user: User, application: Application) -> bool:
    """Relaunching a failed rendering is the ministry's (it operates the workers)."""
    return Actor.MINISTRY.value in actor_roles(user, application)


def get_dossier_for(user: User, application_public_id: UUID, dossier_public_id: UUID) -> Dossier:
    """A rendered PDF of an application the user may see, else 404."""
    application = get_application_for(user, application_public_id)
    try:
        dossier = application.dossiers.get(public_id=dossier_public_id)
    except Dossier.DoesNotExist:
        raise Http404 from None
    dossier.application = application  # already loaded, with its joins
    return dossier
