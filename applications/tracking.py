"""Tracking to payment, after approval (docs/architecture.md, "Application lifecycle").

The establishment declares its objectives reached, requirement by requirement, with the
evidence each objective lists for the declaration stage, before its call's deadline
(`declaration_save`, `declaration_add_evidence`, `declare_objectives`); the ARS accepts
each declaration or returns it with a reason (`check_objectives`); the ministry
validates or returns the whole (`validate_objectives`, `return_objectives`) and records
the payments (`record_payment`), in two tranches when the call pays an advance.

Every status move goes through `lifecycle.application_transition`; each write holds the
application's row (`lifecycle.lock_status`), so that a declaration never lands on an
application moved meanwhile and two payments never exceed the granted amount together.
Refusals raise `care_portal.errors.ApplicationError` subclasses with French messages.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any, cast

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts import audit
from care_portal.errors import (
    AmountRefused,
    ApplicationError,
    CommentRequired,
    TransitionForbidden,
    TransitionNotAllowed,
)

from .conflicts import ensure_no_conflict
from .evidence import check_application_quota, evidence_remove, inspect_upload, store_upload
from .lifecycle import Actor, Status, actor_roles, application_transition, lock_status
from .models import (
    Application,
    Evidence,
    FundingCall,
    ObjectiveDeclaration,
    Payment,
    Requirement,
    Transition,
)

if TYPE_CHECKING:
    from accounts.models import User

# After approval, in the order of the lifecycle.
TRACKING_STATUSES = (
    Status.APPROVED,
    Status.OBJECTIVES_DECLARED,
    Status.OBJECTIVES_CHECKED,
    Status.OBJECTIVES_VALIDATED,
    Status.PAID,
)
# Statuses in which the advance tranche may be paid: approved, objectives not yet validated.
ADVANCE_STATUSES = frozenset(
    {Status.APPROVED.value, Status.OBJECTIVES_DECLARED.value, Status.OBJECTIVES_CHECKED.value}
)
CHORUS_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{2,39}$")
CENT = Decimal("0.01")

Tranche = Payment.Tranche
DeclarationState = ObjectiveDeclaration.State


class ObjectivesIncomplete(ApplicationError):
    """The declaration lacks objectives or their evidence; `missing` lists them."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


class DeadlinePassed(ApplicationError):
    """The call's deadline for declaring the objectives reached has passed."""


# --- Reading: the objectives, their declarations and evidence --------------------------


def objective_requirements(call: FundingCall) -> QuerySet[Requirement]:
    return call.requirements.filter(kind=Requirement.Kind.OBJECTIVE).order_by(
        "position", "identifier"
    )


def evidence_required(requirement: Requirement) -> bool:
    """Whether the requirement lists evidence to file with the declaration."""
    return requirement.evidence_stage == Requirement.EvidenceStage.DECLARATION


@dataclass
class ObjectiveLine:
    """One objective of the call and where its declaration stands."""

    requirement: Requirement
    declaration: ObjectiveDeclaration | None
    files: list[Evidence] = field(default_factory=list)

    @property
    def evidence_required(self) -> bool:
        return evidence_required(self.requirement)

    @property
    def state(self) -> str:
        return self.declaration.state if self.declaration else ""

    @property
    def missing(self) -> str:
        """Why this objective is not declared yet (French), or ""."""
        declaration = self.declaration
        if declaration is None:
            return _("objectif non déclaré")
        if declaration.state == DeclarationState.RETURNED:
            return _("objectif renvoyé par l'ARS, à déclarer de nouveau")
        if self.evidence_required and not self.files:
            return _("pièce justificative manquante (%(evidence)s)") % {
                "evidence": self.requirement.evidence or _("voir l'annexe de l'appel")
            }
        return ""

    @property
    def editable(self) -> bool:
        return self.state != DeclarationState.ACCEPTED


def objective_lines(application: Application) -> list[ObjectiveLine]:
    """Every objective of the application's call with its declaration and files (three
    queries, whatever the number of objectives)."""
    requirements = list(objective_requirements(application.call))
    declarations = {
        d.requirement_id: d
        for d in ObjectiveDeclaration.objects.filter(application=application).select_related(
            "reviewed_by"
        )
    }
    files: dict[int, list[Evidence]] = {}
    for evidence in Evidence.objects.filter(
        application=application, declaration__isnull=False
    ).order_by("created_at"):
        files.setdefault(evidence.declaration_id, []).append(evidence)  # type: ignore[arg-type]
    lines = []
    for requirement in requirements:
        declaration = declarations.get(requirement.pk)
        lines.append(
            ObjectiveLine(
                requirement=requirement,
                declaration=declaration,
                files=files.get(declaration.pk, []) if declaration else [],
            )
        )
    return lines


def deadline_passed(call: FundingCall, today: date | None = None) -> bool:
    deadline = call.objectives_deadline
    return deadline is not None and (today or timezone.localdate()) > deadline


def can_declare(user: "User", application: Application) -> bool:
    """Whether the user may declare objectives on this application now."""
    return (
        application.status == Status.APPROVED
        and Actor.ESTABLISHMENT.value in actor_roles(user, application)
        and not deadline_passed(application.call)
    )


def can_check(user: "User", application: Application) -> bool:
    return Actor.REGIONAL.value in actor_roles(user, application)


# --- The establishment: declaring the objectives reached -------------------------------


def _require_role(application: Application, by: "User", role: Actor, message: str) -> None:
    if role.value not in actor_roles(by, application):
        raise TransitionForbidden(message)


def _require_status(application: Application, status: Status) -> None:
    if application.status != status:
        raise TransitionNotAllowed(
            _("La candidature %(reference)s est à l'état « %(status)s » : action impossible.")
            % {"reference": application.reference, "status": Status(application.status).label}
        )


def _require_declarable(application: Application, by: "User") -> None:
    """The establishment's checks, on the status read under the row lock."""
    _require_role(
        application,
        by,
        Actor.ESTABLISHMENT,
        _("Seuls les utilisateurs du candidat peuvent déclarer les objectifs."),
    )
    _require_status(application, Status.APPROVED)
    deadline = application.call.objectives_deadline
    if deadline_passed(application.call):
        raise DeadlinePassed(
            _(
                "La date limite de déclaration des objectifs de l'appel %(code)s était le "
                "%(deadline)s : la déclaration n'est plus possible. Contactez votre ARS."
            )
            % {"code": application.call.code, "deadline": formats.date_format(deadline or "")}
        )


def _objective(application: Application, requirement: Requirement) -> Requirement:
    if requirement.call_id != application.call_id or requirement.kind != Requirement.Kind.OBJECTIVE:
        raise ApplicationError(_("Cette exigence n'est pas un objectif de l'appel."))
    return requirement


def _open_declaration(
    application: Application, requirement: Requirement, by: "User"
) -> ObjectiveDeclaration:
    """The declaration of an objective, created or (re)opened as declared: an edit of a
    returned declaration declares it again. An accepted one is no longer changed."""
    declaration, created = ObjectiveDeclaration.objects.select_for_update().get_or_create(
        application=application, requirement=requirement, defaults={"declared_by": by}
    )
    if not created and declaration.state == DeclarationState.ACCEPTED:
        raise ApplicationError(
            _("L'objectif %(id)s a été accepté par l'ARS : il n'est plus modifiable.")
            % {"id": requirement.identifier}
        )
    declaration.state = DeclarationState.DECLARED
    declaration.declared_by = by
    return declaration


def declaration_save(
    *, application: Application, requirement: Requirement, by: "User", comment: str
) -> ObjectiveDeclaration:
    """Declare one objective reached, with the establishment's comment."""
    _objective(application, requirement)
    with transaction.atomic():
        lock_status(application)
        _require_declarable(application, by)
        declaration = _open_declaration(application, requirement, by)
        declaration.comment = comment.strip()
        declaration.save()
    return declaration


def declaration_add_evidence(
    *, application: Application, requirement: Requirement, by: "User", uploaded_file: Any
) -> Evidence:
    """A piece of evidence for one objective, through the upload checks of
    applications/evidence.py (type by content, active content, size, quota)."""
    _objective(application, requirement)
    _require_declarable(application, by)  # fail fast, before reading the file
    inspected = inspect_upload(uploaded_file, name=getattr(uploaded_file, "name", "") or "")
    stored_as = store_upload(uploaded_file, inspected)
    try:
        with transaction.atomic():
            lock_status(application)
            _require_declarable(application, by)
            check_application_quota(application, inspected.size, name=inspected.safe_name)
            declaration = _open_declaration(application, requirement, by)
            declaration.save()
            return Evidence.objects.create(
                application=application,
                declaration=declaration,
                uploaded_by=by,
                **inspected.evidence_fields(stored_as),
            )
    except BaseException:
        default_storage.delete(stored_as)  # nothing half-written
        raise


def declaration_delete_evidence(*, evidence: Evidence, by: "User") -> None:
    application = evidence.application
    with transaction.atomic():
        lock_status(application)
        _require_declarable(application, by)
        declaration = evidence.declaration
        if declaration is None:
            raise ApplicationError(_("Cette pièce n'appartient pas à une déclaration d'objectif."))
        _open_declaration(application, declaration.requirement, by).save()
        evidence_remove(evidence=evidence, by=by)


def missing_objectives(
    application: Application, lines: list[ObjectiveLine] | None = None
) -> list[str]:
    """What is missing before the objectives can be declared, one French line each
    (from `lines` when the caller has read them already)."""
    if lines is None:
        lines = objective_lines(application)
    return [
        f"{line.requirement.identifier} – {line.requirement.label} : {line.missing}"
        for line in lines
        if line.missing
    ]


def declare_objectives(application: Application, *, by: "User") -> Transition:
    """approved -> objectives_declared, once every objective is declared with the
    evidence its requirement lists for the declaration."""
    with transaction.atomic():
        lock_status(application)
        _require_declarable(application, by)
        if not objective_requirements(application.call).exists():
            raise ObjectivesIncomplete(
                _("L'appel ne compte aucun objectif à déclarer : contactez votre ARS."), []
            )
        missing = missing_objectives(application)
        if missing:
            raise ObjectivesIncomplete(
                _("Les objectifs ne peuvent pas encore être déclarés atteints : %(missing)s.")
                % {"missing": " ; ".join(missing)},
                missing,
            )
        return application_transition(application=application, to=Status.OBJECTIVES_DECLARED, by=by)


# --- The ARS: checking the declarations ---------------------------------------------------


@dataclass(frozen=True)
class ObjectiveCheck:
    """The ARS's decision on one declared objective."""

    accepted: bool
    reason: str = ""


def check_objectives(
    application: Application, *, by: "User", decisions: Mapping[int, ObjectiveCheck]
) -> Transition:
    """Accept or return each declared objective (`decisions` by requirement id): all
    accepted -> objectives_checked; any returned -> back to approved ("refuse_evidence"),
    the reasons as the transition's comment and on each returned declaration."""
    with transaction.atomic():
        lock_status(application)
        _require_role(
            application,
            by,
            Actor.REGIONAL,
            _("Seule l'ARS de la région du candidat vérifie les objectifs."),
        )
        ensure_no_conflict(by, application)
        _require_status(application, Status.OBJECTIVES_DECLARED)
        declarations = list(
            ObjectiveDeclaration.objects.filter(application=application)
            .select_related("requirement")
            .select_for_update(of=("self",))
        )
        now = timezone.now()
        returned: list[str] = []
        for declaration in declarations:
            decision = decisions.get(declaration.requirement_id)
            if decision is None:
                if declaration.state == DeclarationState.ACCEPTED:
                    continue  # accepted at an earlier check
                raise ApplicationError(
                    _("Indiquez si l'objectif %(id)s est accepté ou renvoyé.")
                    % {"id": declaration.requirement.identifier}
                )
            reason = decision.reason.strip()
            if not decision.accepted and not reason:
                raise CommentRequired(
                    _("Indiquez le motif du renvoi de l'objectif %(id)s.")
                    % {"id": declaration.requirement.identifier}
                )
            declaration.state = (
                DeclarationState.ACCEPTED if decision.accepted else DeclarationState.RETURNED
            )
            declaration.review_comment = "" if decision.accepted else reason
            declaration.reviewed_by = by
            declaration.reviewed_at = now
            declaration.save(
                update_fields=[
                    "state",
                    "review_comment",
                    "reviewed_by",
                    "reviewed_at",
                    "updated_at",
                ]
            )
            if not decision.accepted:
                returned.append(f"{declaration.requirement.identifier} : {reason}")
        if returned:
            return application_transition(
                application=application, to=Status.APPROVED, by=by, comment="\n".join(returned)
            )
        return application_transition(application=application, to=Status.OBJECTIVES_CHECKED, by=by)


# --- The ministry: validating, and paying --------------------------------------------------


def _require_ministry(application: Application, by: "User") -> None:
    _require_role(
        application,
        by,
        Actor.MINISTRY,
        _("Seul le ministère valide les objectifs et enregistre les paiements."),
    )
    ensure_no_conflict(by, application)


def validate_objectives(application: Application, *, by: "User") -> Transition:
    """objectives_checked -> objectives_validated."""
    with transaction.atomic():
        lock_status(application)
        _require_ministry(application, by)
        _require_status(application, Status.OBJECTIVES_CHECKED)
        return application_transition(
            application=application, to=Status.OBJECTIVES_VALIDATED, by=by
        )


def return_objectives(application: Application, *, by: "User", comment: str) -> Transition:
    """objectives_checked -> approved: the ministry refuses the evidence; every
    declaration is returned with the comment, to be declared again."""
    comment = comment.strip()
    with transaction.atomic():
        lock_status(application)
        _require_ministry(application, by)
        _require_status(application, Status.OBJECTIVES_CHECKED)
        if not comment:
            raise CommentRequired(_("Un motif est obligatoire pour cette action."))
        ObjectiveDeclaration.objects.filter(application=application).update(
            state=DeclarationState.RETURNED,
            review_comment=comment,
            reviewed_by=by,
            reviewed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        return application_transition(
            application=application, to=Status.APPROVED, by=by, comment=comment
        )


@dataclass(frozen=True)
class PaymentSummary:
    granted: Decimal
    paid: Decimal
    advance_cap: Decimal  # 0: the call pays in one go
    advance_paid: Decimal

    @property
    def remainder(self) -> Decimal:
        return max(self.granted - self.paid, Decimal("0"))

    @property
    def advance_remainder(self) -> Decimal:
        return max(min(self.advance_cap - self.advance_paid, self.remainder), Decimal("0"))


def advance_cap(call: FundingCall, granted: Decimal) -> Decimal:
    """The most the advance tranche may total: the call's rate of the granted amount."""
    return (granted * call.advance_rate / 100).quantize(CENT, rounding=ROUND_DOWN)


def payment_summary(application: Application) -> PaymentSummary:
    """Granted, paid and what remains, in one aggregate query."""
    totals = Payment.objects.filter(application=application).aggregate(
        paid=Sum("amount"), advance=Sum("amount", filter=Q(tranche=Tranche.ADVANCE))
    )
    granted = application.granted_amount or Decimal("0")
    return PaymentSummary(
        granted=granted,
        paid=totals["paid"] or Decimal("0"),
        advance_cap=advance_cap(application.call, granted),
        advance_paid=totals["advance"] or Decimal("0"),
    )


def _money(value: Decimal) -> str:
    return formats.number_format(value, 2, force_grouping=True)


def _check_payment(
    application: Application, summary: PaymentSummary, amount: Decimal, tranche: str
) -> None:
    if tranche == Tranche.ADVANCE:
        if summary.advance_cap <= 0:
            raise AmountRefused(
                _("L'appel %(code)s ne prévoit pas d'avance : un seul versement, le solde.")
                % {"code": application.call.code}
            )
        if application.status not in ADVANCE_STATUSES:
            raise AmountRefused(
                _(
                    "L'avance se verse entre l'accord et la validation des objectifs ; la "
                    "candidature est à l'état « %(status)s »."
                )
                % {"status": Status(application.status).label}
            )
        if amount > summary.advance_remainder:
            raise AmountRefused(
                _(
                    "L'avance ne peut dépasser %(cap)s € (%(rate)s %% du montant accordé) : "
                    "%(left)s € peuvent encore être versés à ce titre."
                )
                % {
                    "cap": _money(summary.advance_cap),
                    "rate": formats.number_format(application.call.advance_rate.normalize()),
                    "left": _money(summary.advance_remainder),
                }
            )
    elif tranche == Tranche.BALANCE:
        if application.status != Status.OBJECTIVES_VALIDATED:
            raise AmountRefused(
                _(
                    "Le solde se verse une fois les objectifs validés ; la candidature est à "
                    "l'état « %(status)s »."
                )
                % {"status": Status(application.status).label}
            )
    else:
        raise AmountRefused(_("Tranche de paiement inconnue."))
    if amount > summary.remainder:
        raise AmountRefused(
            _(
                "Le paiement de %(amount)s € dépasse le reste à verser : %(left)s € "
                "(accordé %(granted)s €, déjà versé %(paid)s €)."
            )
            % {
                "amount": _money(amount),
                "left": _money(summary.remainder),
                "granted": _money(summary.granted),
                "paid": _money(summary.paid),
            }
        )


def record_payment(
    application: Application,
    *,
    by: "User",
    amount: Decimal,
    paid_on: date,
    chorus_reference: str,
    tranche: str,
) -> Payment:
    """Record a payment (at most the granted remainder; the advance up to the call's
    rate once approved, the balance once the objectives are validated). Payments that
    reach the granted amount move a validated application to paid."""
    amount = Decimal(amount)
    if amount <= 0 or amount != amount.quantize(CENT):
        raise AmountRefused(_("Le montant payé doit être positif, en euros et centimes."))
    reference = (chorus_reference or "").strip()
    if not CHORUS_REFERENCE.match(reference):
        raise AmountRefused(
            _(
                "Indiquez la référence Chorus du paiement : 3 à 40 caractères, lettres, "
                "chiffres, espaces, points, tirets ou barres obliques."
            )
        )
    if paid_on > timezone.localdate():
        raise AmountRefused(_("La date de paiement ne peut pas être dans le futur."))
    with transaction.atomic():
        # The row lock serialises payments to one application: the remainder read
        # below is the one the payment is checked against.
        lock_status(application)
        application.granted_amount = (
            Application.objects.filter(pk=application.pk)
            .values_list("granted_amount", flat=True)
            .get()
        )
        _require_ministry(application, by)
        if application.status not in (*ADVANCE_STATUSES, Status.OBJECTIVES_VALIDATED.value):
            raise TransitionNotAllowed(
                _("La candidature %(reference)s est à l'état « %(status)s » : aucun paiement.")
                % {
                    "reference": application.reference,
                    "status": Status(application.status).label,
                }
            )
        summary = payment_summary(application)
        _check_payment(application, summary, amount, tranche)
        payment = Payment.objects.create(
            application=application,
            tranche=tranche,
            amount=amount,
            paid_on=paid_on,
            chorus_reference=reference,
            recorded_by=by,
        )
        audit.record(
            audit.Action.DECISION,
            actor=by,
            obj=application,
            move="record_payment",
            tranche=tranche,
            amount=str(amount),
            chorus_reference=reference,
        )
        total = summary.paid + amount
        if application.status == Status.OBJECTIVES_VALIDATED and total >= summary.granted:
            application_transition(application=application, to=Status.PAID, by=by, amount=total)
    return payment


# --- What waits at each step (the admin's list, the digests) --------------------------------


class Step:
    TO_DECLARE = "to_declare"
    DECLARED = "declared"
    TO_VALIDATE = "to_validate"
    ADVANCE_DUE = "advance_due"
    TO_PAY = "to_pay"
    PAID = "paid"
    DEADLINE_PASSED = "deadline_passed"


def advance_due() -> Q:
    """Approved, objectives not validated, in a call paying an advance, none paid yet."""
    advance = Payment.objects.filter(application=OuterRef("pk"), tranche=Tranche.ADVANCE)
    open_ = Q(status__in=ADVANCE_STATUSES, call__advance_rate__gt=0, granted_amount__gt=0)
    return cast(Q, open_ & ~Exists(advance))


def at_step(queryset: QuerySet[Application], step: str, today: date | None = None) -> Any:
    """The applications waiting at one step of the tracking."""
    today = today or timezone.localdate()
    filters = {
        Step.TO_DECLARE: Q(status=Status.APPROVED),
        Step.DECLARED: Q(status=Status.OBJECTIVES_DECLARED),
        Step.TO_VALIDATE: Q(status=Status.OBJECTIVES_CHECKED),
        Step.ADVANCE_DUE: advance_due(),
        Step.TO_PAY: Q(status=Status.OBJECTIVES_VALIDATED),
        Step.PAID: Q(status=Status.PAID),
        Step.DEADLINE_PASSED: Q(status=Status.APPROVED, call__objectives_deadline__lt=today),
    }
    return queryset.filter(filters[step])


# --- The applicant's stepper -------------------------------------------------------------------


@dataclass(frozen=True)
class TrackingStep:
    status: str
    label: str
    state: str  # "done", "current" or "todo"
    reached_at: datetime | None


def tracking_steps(
    application: Application, transitions: Iterable[Transition]
) -> list[TrackingStep]:
    """The five steps after approval, each done, current or to come, with the date it
    was last reached (from the application's transitions, already loaded)."""
    reached: dict[str, datetime] = {}
    for transition in transitions:
        reached[transition.to_status] = transition.created_at
    current = [s.value for s in TRACKING_STATUSES].index(application.status)
    return [
        TrackingStep(
            status=status.value,
            label=str(status.label),
            state="done" if index < current else "current" if index == current else "todo",
            reached_at=reached.get(status.value) if index <= current else None,
        )
        for index, status in enumerate(TRACKING_STATUSES)
    ]


def summary_of(application: Application, payments: Iterable[Payment]) -> PaymentSummary:
    """`payment_summary` from payments already loaded."""
    payments = list(payments)
    granted = application.granted_amount or Decimal("0")
    return PaymentSummary(
        granted=granted,
        paid=sum((p.amount for p in payments), Decimal("0")),
        advance_cap=advance_cap(application.call, granted),
        advance_paid=sum(
            (p.amount for p in payments if p.tranche == Tranche.ADVANCE), Decimal("0")
        ),
    )
