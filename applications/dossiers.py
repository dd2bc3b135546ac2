"""PDF dossiers and decision letters (docs/architecture.md, "PDF dossiers"): which
version is due, what a document shows (`gather_dossier_context`, in a fixed number of
queries), its HTML, the idempotent rendering by the workers (one row per version, an
advisory lock while rendering, retries), the ministry's relaunch and the sweeper's list
of documents due. `pdf.html_to_pdf` turns the HTML into the PDF."""

import hashlib
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.models import DirectoryAudit, ExposureScan
from audits.readings import AuditReading, audit_reading
from audits.selectors import rules_queryset
from audits.status import ScanPoint, Volet1Result, compute_volet1_status
from care_portal.errors import ApplicationError, TransitionForbidden
from care_portal.queue import enqueue, enqueue_on_commit, in_process

from . import pdf
from .eligibility import counted_audit_dates, factor_rows
from .lifecycle import Actor, Status, actor_roles, on_enter
from .models import Answer, Application, Coverage, Dossier, Evidence, Transition

if TYPE_CHECKING:
    from accounts.models import User

RENDER_TASK = "applications.render_dossier_task"
SCORE_TASK = "applications.score_application_task"  # scoring.py's (it imports this module)

logger = logging.getLogger(__name__)

# The decisions that call for a letter: the ministry's, at the end of national review.
DECISION_STATUSES = (Status.APPROVED.value, Status.REJECTED.value)


def submission_count(transitions: Sequence[Transition]) -> int:
    """How many times the application was submitted: the version of its dossier."""
    return sum(1 for t in transitions if t.to_status == Status.SUBMITTED)


def decision_transitions(transitions: Sequence[Transition]) -> list[Transition]:
    """The ministry's decisions (approval or rejection after national review), oldest
    first: the n-th is the subject of the decision letter of version n. A return of
    objectives to "approved" is not a new decision."""
    return [
        t
        for t in transitions
        if t.from_status == Status.NATIONAL_REVIEW and t.to_status in DECISION_STATUSES
    ]


# --- Gathering ----------------------------------------------------------------------------


@dataclass
class EntityVolet1:
    """One covered entity and its Volet 1 summary."""

    coverage: Coverage
    status: Volet1Result  # with only the AD audits the call counts
    audit_tool: str = ""
    audit_score: int | None = None
    audit_maturity: int | None = None
    scan_date: date | None = None
    scan_critical: int | None = None
    scan_high: int | None = None
    # The latest audit when every audit is older than the call's `volet1_valid_from`.
    outdated_audit_date: date | None = None
    valid_from: date | None = None
    # The latest audit of each AD domain, with its triggered rules by category.
    audits: list[AuditReading] = field(default_factory=list)

    @property
    def entity(self) -> Any:
        return self.coverage.legal_entity


@dataclass
class RequirementRow:
    answer: Answer
    files: list[Evidence] = field(default_factory=list)

    @property
    def requirement(self) -> Any:
        return self.answer.requirement


def _application(application: Application | int) -> Application:
    pk = application if isinstance(application, int) else application.pk
    return (
        Application.objects.select_related(
            "call", "candidate__department__region", "ght", "sworn_by", "eligibility"
        )
        .prefetch_related(
            Prefetch(
                "transitions",
                queryset=Transition.objects.select_related("actor").order_by("created_at", "id"),
            )
        )
        .get(pk=pk)
    )


def volet1_rows(
    coverages: list[Coverage], *, valid_from: date | None = None, with_rules: bool = False
) -> list[EntityVolet1]:
    """Volet 1 of every covered entity in two queries (audits, scans), four `with_rules`
    (the latest audit of each domain and its triggered rules, for the reviewers' page),
    whatever the number of audits, rules and scans. The
    status is computed from the same rows by `compute_volet1_status` (the one place of
    the rule), with only the audits the call counts (`valid_from`: its
    `volet1_valid_from`), as the eligibility rules do; older ones are "outdated"."""
    ids = [c.legal_entity_id for c in coverages]
    audit_dates: dict[int, list[date]] = {pk: [] for pk in ids}
    scans: dict[int, list[ScanPoint]] = {pk: [] for pk in ids}
    latest_audit: dict[int, tuple[str, int | None, int | None]] = {}
    latest_of_domain: dict[tuple[int, str], int] = {}
    for audit_id, entity_id, audit_date, tool, score, maturity, domain in (
        DirectoryAudit.objects.filter(legal_entity_id__in=ids)
        .order_by("legal_entity_id", "audit_date", "id")
        .values_list(
            "id",
            "legal_entity_id",
            "audit_date",
            "tool",
            "global_score",
            "maturity_level",
            "domain",
        )
    ):
        audit_dates[entity_id].append(audit_date)
        latest_audit[entity_id] = (tool, score, maturity)
        latest_of_domain[(entity_id, domain)] = audit_id
    readings: dict[int, list[AuditReading]] = defaultdict(list)
    if with_rules and latest_of_domain:
        for audit in (
            DirectoryAudit.objects.filter(id__in=list(latest_of_domain.values()))
            .order_by("legal_entity_id", "domain")
            .prefetch_related(Prefetch("rules", queryset=rules_queryset()))
        ):
            readings[audit.legal_entity_id].append(audit_reading(audit))
    latest_scan: dict[int, tuple[date, int, int]] = {}
    for entity_id, scan_date, met, critical, high in (
        ExposureScan.objects.filter(legal_entity_id__in=ids)
        .order_by("legal_entity_id", "scan_date", "id")
        .values_list(
            "legal_entity_id", "scan_date", "minimum_level_met", "vulns_critical", "vulns_high"
        )
    ):
        scans[entity_id].append(ScanPoint(scan_date, met))
        latest_scan[entity_id] = (scan_date, critical, high)
    tools = dict(DirectoryAudit.Tool.choices)
    rows = []
    for coverage in coverages:
        entity_id = coverage.legal_entity_id
        counted, outdated = counted_audit_dates(audit_dates[entity_id], valid_from)
        status = compute_volet1_status(ad_audit_dates=counted, scans=scans[entity_id])
        row = EntityVolet1(coverage, status, valid_from=valid_from)
        if outdated and not counted:
            row.outdated_audit_date = max(outdated)
        if entity_id in latest_audit:
            tool, row.audit_score, row.audit_maturity = latest_audit[entity_id]
            row.audit_tool = str(tools.get(tool, tool))
        if entity_id in latest_scan:
            row.scan_date, row.scan_critical, row.scan_high = latest_scan[entity_id]
        row.audits = readings.get(entity_id, [])
        rows.append(row)
    return rows


def _common(application: Application, *, kind: str, version: int | None) -> dict[str, Any]:
    transitions = list(application.transitions.all())
    if version is None:
        version = (
            submission_count(transitions)
            if kind == Dossier.Kind.DOSSIER
            else len(decision_transitions(transitions))
        )
    reference = application.reference
    return {
        "application": application,
        "call": application.call,
        "candidate": application.candidate,
        "kind": kind,
        "kind_label": Dossier.Kind(kind).label,
        "version": version,
        "reference": reference,
        "document_reference": f"{reference} · {Dossier.Kind(kind).label} · v{version}",
        "generated_at": timezone.now(),
        "transitions": transitions,
        "fonts": [
            {"url": pdf.static_url(path), "weight": weight, "style": style}
            for path, weight, style in pdf.FONTS
        ],
    }


def gather_dossier_context(
    application: Application | int, *, version: int | None = None
) -> dict[str, Any]:
    """Everything the dossier shows, in 8 queries whatever the number of covered
    entities, requirements, files and budget lines."""
    application = _application(application)
    context = _common(application, kind=Dossier.Kind.DOSSIER, version=version)
    coverages = list(
        Coverage.objects.filter(application=application)
        .select_related("legal_entity__department")
        .order_by("-legal_entity__is_ght_support", "legal_entity__name", "id")
    )
    answers = list(
        Answer.objects.filter(application=application)
        .select_related("requirement")
        .order_by("requirement__position", "requirement__identifier", "id")
    )
    files_by_answer: dict[int | None, list[Evidence]] = defaultdict(list)
    for evidence in Evidence.objects.filter(application=application).order_by("created_at", "id"):
        files_by_answer[evidence.answer_id].append(evidence)
    budget_lines = list(application.budget_lines.order_by("id"))
    result = getattr(application, "eligibility", None)
    submissions = [t for t in context["transitions"] if t.to_status == Status.SUBMITTED]
    context.update(
        {
            "coverages": coverages,
            "volet1": volet1_rows(coverages, valid_from=application.call.volet1_valid_from),
            "requirements": [RequirementRow(a, files_by_answer.get(a.pk, [])) for a in answers],
            "other_files": files_by_answer.get(None, []),
            "file_count": sum(len(files) for files in files_by_answer.values()),
            "budget_lines": budget_lines,
            "eligibility": result,
            "rules": list(result.rules) if result else [],
            "factors": factor_rows(result.factors) if result else [],
            "first_submitted_at": submissions[0].created_at if submissions else None,
            "submitted_at": (
                submissions[context["version"] - 1].created_at
                if 0 < context["version"] <= len(submissions)
                else application.submitted_at
            ),
        }
    )
    return context


def gather_decision_context(
    application: Application | int, *, version: int | None = None
) -> dict[str, Any]:
    """What a decision letter shows: the decision (the `version`-th one, the latest by
    default), the candidate, the covered entities and the objectives to reach."""
    application = _application(application)
    context = _common(application, kind=Dossier.Kind.DECISION, version=version)
    decisions = decision_transitions(context["transitions"])
    index = context["version"] - 1
    decision = decisions[index] if 0 <= index < len(decisions) else None
    if decision is None:
        raise ValueError(f"Application {application.pk} has no decision {context['version']}.")
    context.update(
        {
            "decision": decision,
            "approved": decision.to_status == Status.APPROVED,
            "coverages": list(
                Coverage.objects.filter(application=application)
                .select_related("legal_entity__department")
                .order_by("-legal_entity__is_ght_support", "legal_entity__name", "id")
            ),
            "objectives": list(
                application.call.requirements.filter(kind="objective").order_by(
                    "position", "identifier"
                )
            ),
        }
    )
    return context


# --- Rendering ----------------------------------------------------------------------------


def render_dossier_html(context: dict[str, Any]) -> str:
    template = (
        "applications/pdf/decision.html"
        if context.get("kind") == Dossier.Kind.DECISION
        else "applications/pdf/dossier.html"
    )
    return render_to_string(template, context)


def render_dossier(
    application: Application | int, *, kind: str = Dossier.Kind.DOSSIER, version: int | None = None
) -> bytes:
    """The PDF of an application's dossier or decision letter (synchronously)."""
    if kind == Dossier.Kind.DECISION:
        context = gather_decision_context(application, version=version)
    else:
        context = gather_dossier_context(application, version=version)
    return pdf.html_to_pdf(render_dossier_html(context))


def storage_name(application: Application, *, kind: str, version: int) -> str:
    """A server-generated name for a rendered PDF in private storage."""
    now = timezone.localtime()
    reference = re.sub(r"[^A-Za-z0-9-]+", "-", application.reference).strip("-") or "candidature"
    return f"dossiers/{now:%Y}/{now:%m}/{reference}-{kind}-v{version}-{uuid.uuid4().hex[:8]}.pdf"


# --- PDF dossiers and decision letters (workers, queue "pdf") --------------------------

# A rendering still "running" after this long was abandoned (the task's hard time
# limit is 300 s): the sweeper queues it again.
DOSSIER_STALE_AFTER = timedelta(seconds=600)
# Namespace of the PostgreSQL advisory locks taken while rendering a dossier.
DOSSIER_LOCK_NAMESPACE = 0x0D05


@contextmanager
def rendering_lock(dossier_id: int) -> Iterator[bool]:
    """Hold a PostgreSQL session advisory lock on a dossier while rendering it: a
    duplicate delivery sees it taken and leaves; a worker killed with -9 loses its
    connection, the server frees the lock, and the redelivered task renders. SQLite
    (the embedded default, tasks run in process) needs no lock."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [DOSSIER_LOCK_NAMESPACE, dossier_id])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [DOSSIER_LOCK_NAMESPACE, dossier_id]
                )


# A document waiting this long for a worker is stuck (no worker, a lost task): its
# application's users may relaunch it ("Relancer la génération").
DOSSIER_STUCK_AFTER = timedelta(minutes=5)

# The sweeper stops re-queuing a dossier that failed this many times; the ministry's
# "Relancer la génération" button still can.
DOSSIER_MAX_SWEPT_ATTEMPTS = 5


class DossierNotReady(Exception):
    """The dossier of a submission waits for its eligibility result (the scoring task
    runs on another queue): the task retries later."""


def dossier_version(application_id: int, kind: str) -> int:
    """The version due now: the number of submissions for a dossier, of decisions for
    a decision letter (0: nothing to render)."""
    transitions = Transition.objects.filter(application_id=application_id)
    if kind == Dossier.Kind.DECISION:
        return transitions.filter(
            from_status=Status.NATIONAL_REVIEW, to_status__in=DECISION_STATUSES
        ).count()
    return transitions.filter(to_status=Status.SUBMITTED).count()


def dossier_render(
    *, application_id: int, kind: str = Dossier.Kind.DOSSIER, version: int | None = None
) -> Dossier | None:
    """Render the dossier (or decision letter) of an application once per version.

    Idempotent: the row of (application, kind, version) is created once; a worker
    claims it by a conditional UPDATE (pending or failed → running), so a redelivered
    task finds it done and returns it, or running and leaves it. On an error the row is
    marked failed with the error and the error is raised again (the task retries).
    Returns None when there is nothing to render (no submission, no decision)."""
    kind = Dossier.Kind(kind).value
    application = Application.objects.filter(pk=application_id).first()
    if application is None:
        return None
    if version is None:
        version = dossier_version(application_id, kind)
    if version < 1:
        return None
    if kind == Dossier.Kind.DOSSIER and application.status == Status.SUBMITTED:
        # Not scored since this submission: the dossier must carry the new result.
        raise DossierNotReady(f"Application {application_id} is not scored yet.")
    dossier, _created = Dossier.objects.get_or_create(
        application=application, kind=kind, version=version
    )
    if dossier.status == Dossier.Status.DONE:
        return dossier
    with rendering_lock(dossier.pk) as acquired:
        if not acquired:
            return dossier  # a live worker is rendering it right now
        dossier.refresh_from_db()
        if dossier.status == Dossier.Status.DONE:
            return dossier  # rendered by the delivery that held the lock before us
        # Whatever the row says ("running" left by a killed worker included), we hold
        # the lock: this delivery renders it.
        Dossier.objects.filter(pk=dossier.pk).update(
            status=Dossier.Status.RUNNING,
            attempts=F("attempts") + 1,
            error="",
            updated_at=timezone.now(),
        )
        stored_as = None
        try:
            content = render_dossier(application, kind=kind, version=version)
            pages = pdf.page_count(content)
            stored_as = default_storage.save(
                storage_name(application, kind=kind, version=version), ContentFile(content)
            )
            Dossier.objects.filter(pk=dossier.pk).update(
                status=Dossier.Status.DONE,
                file=stored_as,
                sha256=hashlib.sha256(content).hexdigest(),
                pages=pages,
                size=len(content),
                generated_at=timezone.now(),
                error="",
                updated_at=timezone.now(),
            )
        except Exception as error:
            if stored_as:
                default_storage.delete(stored_as)
            Dossier.objects.filter(pk=dossier.pk).update(
                status=Dossier.Status.FAILED,
                error=f"{type(error).__name__}: {error}"[:4000],
                updated_at=timezone.now(),
            )
            raise
    dossier.refresh_from_db()
    return dossier


def dossier_retry(*, dossier: Dossier, by: "User") -> Dossier:
    """The ministry relaunches a failed rendering: the row goes back to pending and the
    task is queued after the commit."""
    if Actor.MINISTRY.value not in actor_roles(by, dossier.application):
        raise TransitionForbidden(_("Seul le ministère peut relancer la génération d'un PDF."))
    updated = Dossier.objects.filter(pk=dossier.pk, status=Dossier.Status.FAILED).update(
        status=Dossier.Status.PENDING, updated_at=timezone.now()
    )
    if not updated:
        raise ApplicationError(
            _("Ce PDF n'est pas en échec : sa génération est déjà en cours ou terminée.")
        )
    queue_dossier(dossier.application_id, dossier.kind, dossier.version)
    dossier.refresh_from_db()
    return dossier


def dossier_waiting_since(application_id: int, kind: str, dossier: Dossier | None) -> Any:
    """Since when a document has waited: its row's last change, or (no row yet) the
    submission or decision that made it due."""
    if dossier is not None:
        return dossier.updated_at
    transitions = Transition.objects.filter(application_id=application_id)
    if kind == Dossier.Kind.DECISION:
        transitions = transitions.filter(
            from_status=Status.NATIONAL_REVIEW, to_status__in=DECISION_STATUSES
        )
    else:
        transitions = transitions.filter(to_status=Status.SUBMITTED)
    latest = transitions.order_by("-created_at").values_list("created_at", flat=True).first()
    return latest or timezone.now()


def dossier_relaunch(*, application: Application, kind: str, by: "User") -> None:
    """The application's users (or the ministry) relaunch a document stuck waiting for
    a worker (`DOSSIER_STUCK_AFTER`): its rendering is queued again, or the scoring it
    waits for. Refused while it is done, failed (the ministry's retry) or recently
    queued."""
    if not {Actor.ESTABLISHMENT.value, Actor.MINISTRY.value} & actor_roles(by, application):
        raise TransitionForbidden(_("Vous ne pouvez pas relancer la génération de ce PDF."))
    kind = Dossier.Kind(kind).value
    version = dossier_version(application.pk, kind)
    if version < 1:
        raise ApplicationError(_("Aucun PDF n'est à générer pour cette candidature."))
    now = timezone.now()
    dossier = Dossier.objects.filter(application=application, kind=kind, version=version).first()
    if dossier is not None and dossier.status == Dossier.Status.DONE:
        raise ApplicationError(_("Ce PDF est déjà disponible."))
    if dossier is not None and dossier.status == Dossier.Status.FAILED:
        raise ApplicationError(
            _("La génération de ce PDF a échoué : le ministère en est informé et la relancera.")
        )
    if dossier_waiting_since(application.pk, kind, dossier) > now - DOSSIER_STUCK_AFTER:
        raise ApplicationError(
            _("Ce PDF est en préparation depuis peu : réessayez dans quelques minutes.")
        )
    if dossier is None:
        dossier, _created = Dossier.objects.get_or_create(
            application=application, kind=kind, version=version
        )
    Dossier.objects.filter(pk=dossier.pk).update(updated_at=now)
    if kind == Dossier.Kind.DOSSIER and application.status == Status.SUBMITTED:
        # The dossier waits for the eligibility result: the scoring renders it.
        enqueue_on_commit(SCORE_TASK, application.pk)
    else:
        queue_dossier(application.pk, kind, version)


def dossier_catch_up(application: Application) -> int:
    """Without workers (tasks run in process: the embedded default, where no scheduler
    runs the sweeper), render now this application's documents that are due and neither
    done nor failed, seeded ones included; returns how many were rendered. With
    workers, nothing: the sweeper and `dossier_relaunch` see to them."""
    if not in_process():
        return 0
    rendered = 0
    for kind in (Dossier.Kind.DOSSIER.value, Dossier.Kind.DECISION.value):
        version = dossier_version(application.pk, kind)
        if version < 1:
            continue
        settled = Dossier.objects.filter(
            application=application,
            kind=kind,
            version=version,
            status__in=(Dossier.Status.DONE, Dossier.Status.FAILED),
        )
        if settled.exists():
            continue
        try:
            dossier = dossier_render(application_id=application.pk, kind=kind, version=version)
        except DossierNotReady:
            continue  # scored first, when the submission's task runs
        except Exception:  # marked failed with its error: the page says so
            logger.exception(
                "Rendering %s %s of application %s failed", kind, version, application.pk
            )
            continue
        rendered += dossier is not None
    return rendered


def queue_dossier(application_id: int, kind: str, version: int | None = None) -> None:
    """Queue the rendering once the current transaction has committed."""
    enqueue_on_commit(RENDER_TASK, application_id, kind, version)


@on_enter(Status.APPROVED)
@on_enter(Status.REJECTED)
def _render_decision_letter(application_id: int) -> None:
    # Entering "approved" again (objectives returned) is no new decision: the task
    # finds the letter of the current decision done and renders nothing.
    enqueue(RENDER_TASK, application_id, Dossier.Kind.DECISION.value)


def dossiers_needing_work(*, older_than_seconds: int = 300) -> list[tuple[int, str]]:
    """(application id, kind) of the dossiers and decision letters due and not done:
    the current version missing, pending, failed (fewer than DOSSIER_MAX_SWEPT_ATTEMPTS
    times) or abandoned while running. Only those due for a while, so that normal
    queued work is not doubled; a dossier waiting for its score is left to the scoring
    sweep."""
    now = timezone.now()
    limit = now - timedelta(seconds=older_than_seconds)
    submissions = Transition.objects.filter(application=OuterRef("pk"), to_status=Status.SUBMITTED)
    decisions = Transition.objects.filter(
        application=OuterRef("pk"),
        from_status=Status.NATIONAL_REVIEW,
        to_status__in=DECISION_STATUSES,
    )
    settled = (
        Q(status=Dossier.Status.DONE)
        | Q(status=Dossier.Status.FAILED, attempts__gte=DOSSIER_MAX_SWEPT_ATTEMPTS)
        | Q(status=Dossier.Status.RUNNING, updated_at__gte=now - DOSSIER_STALE_AFTER)
        | Q(status=Dossier.Status.PENDING, updated_at__gte=limit)
    )

    def due(kind: str, transitions: QuerySet[Transition]) -> list[int]:
        count = Subquery(
            transitions.order_by().values("application").annotate(n=Count("id")).values("n")[:1],
            output_field=IntegerField(),
        )
        latest = Subquery(transitions.order_by("-created_at").values("created_at")[:1])
        queryset = (
            Application.objects.annotate(version=count, due_since=latest)
            .filter(version__gte=1, due_since__lte=limit)
            .exclude(
                Exists(
                    Dossier.objects.filter(
                        settled, application=OuterRef("pk"), kind=kind, version=OuterRef("version")
                    )
                )
            )
        )
        if kind == Dossier.Kind.DOSSIER:
            queryset = queryset.exclude(status=Status.SUBMITTED)
        return list(queryset.order_by("due_since", "pk").values_list("pk", flat=True)[:200])

    return [(pk, Dossier.Kind.DOSSIER.value) for pk in due(Dossier.Kind.DOSSIER, submissions)] + [
        (pk, Dossier.Kind.DECISION.value) for pk in due(Dossier.Kind.DECISION, decisions)
    ]
