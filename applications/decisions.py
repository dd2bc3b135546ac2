"""The ministry's decisions: the one place that decides (docs/architecture.md).

`approve`, `reject`, `send_back` (return for complements), `reconsider` (an ineligible
application back to regional review), `assign` ("assign to me") and
`cancel_co_signature` act on one application; `approve_many` and `decide_many` act on
many and return a `Report` (one entry per application: done, pending co-signature, or
refused and why; each application in its own transaction, so that one refusal undoes
nothing of the others). Every status move goes through
`lifecycle.application_transition`, which writes the `Transition` (actor, comment) and
the audit event (with the amount).

The rules of an approval:
- the granted amount is above 0, at most the requested amount and at most the
  candidate's ceiling (the call's bracket for the staff of the covered entities, as
  rule E7 reads it; a call without brackets sets no ceiling) (`AmountRefused`);
- the envelope: the granted amounts of the call's applications in approved or later
  statuses, plus this one, never exceed `FundingCall.envelope`. It is checked with the
  call's row locked (`select_for_update`) in the transaction of the transition, so that
  concurrent approvals are serialised on the call and never exceed it
  (`EnvelopeExceeded`);
- four-eyes: above `FundingCall.second_approval_above`, a first approval is recorded as a
  pending `CoSignature` and the status does not change; it takes effect when a different
  ministry user approves the same amount. The same user approving again is refused, and
  so is a different amount while a co-signature waits (`CoSignatureRequired`): cancel
  the pending one first (`cancel_co_signature`);
- recusal: a user linked to the candidate or a covered entity decides nothing
  (`conflicts.ensure_no_conflict`, `ConflictOfInterest`).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from accounts import audit
from care_portal.errors import (
    AmountRefused,
    ApplicationError,
    CommentRequired,
    CoSignatureRequired,
    EnvelopeExceeded,
    TransitionConflict,
    TransitionForbidden,
    TransitionNotAllowed,
)

from .conflicts import ensure_no_conflict, in_conflict
from .eligibility import ceiling_for
from .lifecycle import (
    RULES,
    Actor,
    Status,
    actor_roles,
    application_transition,
    lock_status,
    rule_for,
)
from .models import Application, CeilingBracket, CoSignature, Coverage, FundingCall, Payment
from .querysets import per_outer_row

if TYPE_CHECKING:
    from accounts.models import User

    from .models import Transition

# The statuses whose granted amount is committed against the call's envelope.
COMMITTED_STATUSES = (
    Status.APPROVED.value,
    Status.OBJECTIVES_DECLARED.value,
    Status.OBJECTIVES_CHECKED.value,
    Status.OBJECTIVES_VALIDATED.value,
    Status.PAID.value,
)

# The statuses in which the ministry has a move to make: those it may assign to itself.
MINISTRY_STATUSES = frozenset(r.source for r in RULES if Actor.MINISTRY.value in r.actors)

# The admin's bulk actions (decide_many), and at most how many applications in one.
APPROVE, REJECT, SEND_BACK, RECONSIDER, ASSIGN = (
    "approve",
    "reject",
    "send_back",
    "reconsider",
    "assign",
)
ACTIONS = (APPROVE, REJECT, SEND_BACK, RECONSIDER, ASSIGN)
COMMENT_REQUIRED = frozenset({REJECT, SEND_BACK, RECONSIDER})
MAX_BULK = 500

ZERO = Decimal("0")
CENT = Decimal("0.01")


def euros(value: Decimal) -> str:
    """An amount as the French admin shows it: 1 234 567,00 €."""
    return number_format(value, decimal_pos=2, force_grouping=True) + " €"


# --- The envelope ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvelopeFigures:
    envelope: Decimal
    committed: Decimal  # granted in approved and later statuses
    paid: Decimal  # the sum of the recorded payments
    remaining: Decimal  # envelope - committed


def committed_sum(call_id: int) -> Decimal:
    total = Application.objects.filter(call_id=call_id, status__in=COMMITTED_STATUSES).aggregate(
        total=Sum("granted_amount")
    )["total"]
    return total or ZERO


def paid_sum(call_id: int) -> Decimal:
    total = Payment.objects.filter(application__call_id=call_id).aggregate(total=Sum("amount"))[
        "total"
    ]
    return total or ZERO


def envelope_figures(call: FundingCall) -> EnvelopeFigures:
    committed = committed_sum(call.pk)
    return EnvelopeFigures(
        envelope=call.envelope,
        committed=committed,
        paid=paid_sum(call.pk),
        remaining=call.envelope - committed,
    )


def with_envelope_figures(queryset: QuerySet[FundingCall]) -> QuerySet[FundingCall]:
    """Annotate each call with `committed`, `paid` and `remaining` (one query for a
    list: two subqueries)."""
    money: DecimalField = DecimalField(max_digits=14, decimal_places=2)
    committed = per_outer_row(
        Application.objects.filter(call=OuterRef("pk"), status__in=COMMITTED_STATUSES),
        "call",
        Sum("granted_amount"),
    )
    paid = per_outer_row(
        Payment.objects.filter(application__call=OuterRef("pk")),
        "application__call",
        Sum("amount"),
    )
    return queryset.annotate(
        committed=Coalesce(
            Subquery(committed, output_field=money), Value(ZERO), output_field=money
        ),
        paid=Coalesce(Subquery(paid, output_field=money), Value(ZERO), output_field=money),
    ).annotate(remaining=ExpressionWrapper(F("envelope") - F("committed"), output_field=money))


class Ledger:
    """The calls of a decision, locked until the end of the transaction
    (`select_for_update`, in id order, so that two batches never wait for each other in
    a circle), with their committed totals read once under the lock. Every approval
    takes this lock first: while it is held nobody else commits against these calls, so
    the approvals made under it only have to add to the totals read."""

    def __init__(self, call_ids: Iterable[int]) -> None:
        ids = sorted(set(call_ids))
        self.calls = {
            call.pk: call
            for call in FundingCall.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        }
        totals = dict(
            Application.objects.filter(call_id__in=ids, status__in=COMMITTED_STATUSES)
            .order_by()
            .values("call_id")
            .annotate(total=Sum("granted_amount"))
            .values_list("call_id", "total")
        )
        self.committed = {pk: totals.get(pk) or ZERO for pk in self.calls}

    def check(self, call_id: int, amount: Decimal) -> None:
        call, committed = self.calls[call_id], self.committed[call_id]
        if committed + amount > call.envelope:
            raise EnvelopeExceeded(
                _(
                    "L'enveloppe de l'appel %(call)s serait dépassée : %(committed)s déjà "
                    "engagés, %(amount)s demandés ici, pour une enveloppe de %(envelope)s "
                    "(reste %(remaining)s)."
                )
                % {
                    "call": call.code,
                    "committed": euros(committed),
                    "amount": euros(amount),
                    "envelope": euros(call.envelope),
                    "remaining": euros(max(ZERO, call.envelope - committed)),
                }
            )

    def add(self, call_id: int, amount: Decimal) -> None:
        self.committed[call_id] += amount


# --- What a decision needs to know of each application (read once for a batch) -----------


@dataclass
class Facts:
    """What the rules read of one application, besides its row: gathered in a fixed
    number of queries for a whole batch (`gather_facts`)."""

    conflict: bool = False
    pending: bool = False  # a co-signature waits
    staff: int = 0
    brackets: list[CeilingBracket] = field(default_factory=list)

    @property
    def ceiling(self) -> Decimal | None:
        return ceiling_for(self.brackets, self.staff)


def _decision_queryset(by: "User") -> QuerySet[Application]:
    staff = per_outer_row(
        Coverage.objects.filter(application=OuterRef("pk")),
        "application",
        Sum("legal_entity__staff_count"),
    )
    return in_conflict(
        Application.objects.select_related("call", "candidate__department"), by
    ).annotate(covered_staff=Subquery(staff), pending_amount=pending_co_signature_amount())


def pending_co_signature_amount() -> Subquery:
    """The amount of the co-signature waiting on each application (None: none waits)."""
    return Subquery(
        CoSignature.objects.filter(
            application=OuterRef("pk"), state=CoSignature.State.PENDING
        ).values("amount")[:1]
    )


def _ids(applications: Iterable[Application | int]) -> list[int]:
    """Ids in the given order, without duplicates."""
    if isinstance(applications, QuerySet):
        return list(dict.fromkeys(applications.values_list("pk", flat=True)))
    ids = [item if isinstance(item, int) else item.pk for item in applications]
    return list(dict.fromkeys(ids))


def gather_facts(applications: Iterable[Application | int], by: "User") -> list[Application]:
    """The applications (in the given order, duplicates dropped, unknown ids ignored)
    with their call and candidate, and `facts`: the user's conflict, the staff of the
    covered entities and the call's ceiling brackets. Four queries for any number."""
    ids = _ids(applications)
    loaded = {a.pk: a for a in _decision_queryset(by).filter(pk__in=ids)}
    brackets: dict[int, list[CeilingBracket]] = {}
    for bracket in CeilingBracket.objects.filter(
        call_id__in={a.call_id for a in loaded.values()}
    ).order_by("min_staff"):
        brackets.setdefault(bracket.call_id, []).append(bracket)
    result = []
    for pk in ids:
        if pk not in loaded:
            continue
        application = loaded[pk]
        staff = application.covered_staff  # type: ignore[attr-defined]
        if staff is None:  # no coverage: the candidate alone
            staff = application.candidate.staff_count or 0
        application.facts = Facts(  # type: ignore[attr-defined]
            conflict=bool(application.in_conflict),  # type: ignore[attr-defined]
            pending=application.pending_amount is not None,  # type: ignore[attr-defined]
            staff=int(staff),
            brackets=brackets.get(application.call_id, []),
        )
        result.append(application)
    return result


def _facts(application: Application, by: "User") -> Facts:
    gathered = gather_facts([application.pk], by)
    if not gathered:
        raise TransitionConflict(_("Cette candidature n'existe plus."))
    facts: Facts = gathered[0].facts  # type: ignore[attr-defined]
    return facts


def _ensure_no_conflict(application: Application, by: "User", facts: Facts | None) -> None:
    """For a batch, the conflicts were read with the applications (`in_conflict`): only
    those marked are asked again, to raise the one message of conflicts.py."""
    if facts is None or facts.conflict:
        ensure_no_conflict(by, application)


def _ensure_ministry(application: Application, by: "User", target: str) -> None:
    """The checks of application_transition, made before anything is written (a pending
    co-signature changes no status, so the engine is not called for it)."""
    if rule_for(application.status, target) is None:
        raise TransitionNotAllowed(
            _(
                "La candidature %(reference)s est à l'état « %(status)s » : elle n'attend pas "
                "de décision du ministère."
            )
            % {"reference": application.reference, "status": Status(application.status).label}
        )
    if Actor.MINISTRY.value not in actor_roles(by, application):
        raise TransitionForbidden(_("Vous n'avez pas le droit d'effectuer cette action."))


# --- Amounts ----------------------------------------------------------------------------


def parse_amount(value: object) -> Decimal:
    """A granted amount from a form or a caller: a Decimal with cents, else AmountRefused."""
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value if value is not None else "").strip().replace("\u202f", "")
        text = text.replace("\xa0", "").replace(" ", "").replace("€", "").replace(",", ".")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise AmountRefused(
                _("« %(value)s » n'est pas un montant.") % {"value": value}
            ) from None
    if not amount.is_finite():
        raise AmountRefused(_("« %(value)s » n'est pas un montant.") % {"value": value})
    return amount.quantize(CENT)


def _check_amount(application: Application, amount: Decimal, facts: Facts) -> None:
    values = {"reference": application.reference, "amount": euros(amount)}
    if amount <= ZERO:
        raise AmountRefused(
            _("Le montant accordé à %(reference)s doit être supérieur à 0 €.") % values
        )
    if amount > application.requested_amount:
        raise AmountRefused(
            _(
                "Le montant accordé à %(reference)s (%(amount)s) dépasse le montant demandé "
                "(%(requested)s)."
            )
            % {**values, "requested": euros(application.requested_amount)}
        )
    if not facts.brackets:
        return  # the call sets no ceiling
    ceiling = facts.ceiling
    staff = number_format(facts.staff, force_grouping=True)
    if ceiling is None:
        raise AmountRefused(
            _(
                "Aucun plafond de l'appel ne couvre un effectif de %(staff)s : le montant de "
                "%(reference)s ne peut pas être accordé."
            )
            % {**values, "staff": staff}
        )
    if amount > ceiling:
        raise AmountRefused(
            _(
                "Le montant accordé à %(reference)s (%(amount)s) dépasse le plafond de "
                "%(ceiling)s pour un effectif de %(staff)s."
            )
            % {**values, "ceiling": euros(ceiling), "staff": staff}
        )


def default_amount(application: Application) -> Decimal:
    """What the confirmation page proposes: the pending co-signature's amount, else the
    ARS proposal, else the requested amount."""
    pending = getattr(application, "pending_amount", None)
    if pending is not None:
        return Decimal(pending)
    if application.proposed_amount is not None:
        return application.proposed_amount
    return application.requested_amount


# --- One application --------------------------------------------------------------------


def approve(
    application: Application, *, by: "User", amount: object, comment: str = ""
) -> "Transition | CoSignature":
    """Grant `amount` to an application in national review. Returns the `Transition`
    when the approval takes effect, or the pending `CoSignature` when it waits for a
    second ministry user (four-eyes). Raises an ApplicationError subclass on refusal."""
    amount = parse_amount(amount)
    _ensure_ministry(application, by, Status.APPROVED)
    ensure_no_conflict(by, application)
    with transaction.atomic():
        ledger = Ledger([application.call_id])
        # Read under the lock: no co-signature can start meanwhile.
        facts = _facts(application, by)
        return _approve(
            application, by=by, amount=amount, comment=comment, facts=facts, ledger=ledger
        )


def _approve(
    application: Application,
    *,
    by: "User",
    amount: object,
    comment: str,
    facts: Facts,
    ledger: Ledger,
) -> "Transition | CoSignature":
    """In the caller's transaction, under the ledger's lock of the call, with the facts
    read under it."""
    amount = parse_amount(amount)
    comment = comment.strip()
    _ensure_ministry(application, by, Status.APPROVED)
    _ensure_no_conflict(application, by, facts)
    _check_amount(application, amount, facts)
    call = ledger.calls[application.call_id]
    pending = None
    if facts.pending:
        pending = (
            CoSignature.objects.select_for_update()
            .filter(application=application, state=CoSignature.State.PENDING)
            .first()
        )
    threshold = call.second_approval_above
    if pending is None and threshold is not None and amount > threshold:
        ledger.check(call.pk, amount)  # said now rather than at the co-signature
        return _first_signature(application, by=by, amount=amount, comment=comment)
    if pending is not None:
        _co_sign(pending, application, by=by, amount=amount)
        comment = comment or pending.comment
    ledger.check(call.pk, amount)
    record = application_transition(
        application=application, to=Status.APPROVED, by=by, comment=comment, amount=amount
    )
    ledger.add(call.pk, amount)
    return record


def _first_signature(
    application: Application, *, by: "User", amount: Decimal, comment: str
) -> CoSignature:
    if lock_status(application) != Status.NATIONAL_REVIEW:
        raise TransitionConflict(
            _(
                "La candidature a été modifiée entre-temps par une autre personne : "
                "rechargez la page pour voir son état actuel."
            )
        )
    signature = CoSignature.objects.create(
        application=application, requested_by=by, amount=amount, comment=comment
    )
    audit.record(
        audit.Action.DECISION,
        actor=by,
        obj=application,
        move="approve",
        step="first_signature",
        amount=str(amount),
    )
    return signature


def _co_sign(pending: CoSignature, application: Application, *, by: "User", amount: Decimal):
    if pending.requested_by_id == by.pk:
        raise CoSignatureRequired(
            _(
                "Vous avez déjà approuvé %(reference)s pour %(amount)s : l'attribution prend "
                "effet quand un autre agent du ministère l'approuve à son tour."
            )
            % {"reference": application.reference, "amount": euros(pending.amount)}
        )
    if pending.amount != amount:
        raise CoSignatureRequired(
            _(
                "%(reference)s attend une co-signature pour %(pending)s, non pour %(amount)s : "
                "approuvez le même montant, ou annulez la co-signature en attente avant de "
                "proposer un autre montant."
            )
            % {
                "reference": application.reference,
                "pending": euros(pending.amount),
                "amount": euros(amount),
            }
        )
    pending.state = CoSignature.State.SIGNED
    pending.signed_by = by
    pending.signed_at = timezone.now()
    pending.save(update_fields=["state", "signed_by", "signed_at", "updated_at"])


def _cancel_pending(application: Application) -> None:
    """A decision other than the approval ends any co-signature waiting on it."""
    CoSignature.objects.filter(application=application, state=CoSignature.State.PENDING).update(
        state=CoSignature.State.CANCELLED, updated_at=timezone.now()
    )


def _move(
    application: Application,
    *,
    by: "User",
    to: str,
    comment: str,
    facts: Facts | None,
    due_on: date | None = None,
) -> "Transition":
    """A decision other than an approval (the caller's transaction): leaving national
    review ends any co-signature waiting; a return carries its due date."""
    if to == Status.RETURNED and due_on is not None and due_on < timezone.localdate():
        raise CommentRequired(_("La date attendue pour les compléments est déjà passée."))
    _ensure_ministry(application, by, to)
    _ensure_no_conflict(application, by, facts)
    source = application.status
    record = application_transition(application=application, to=to, by=by, comment=comment)
    if source == Status.NATIONAL_REVIEW:
        _cancel_pending(application)
    if to == Status.RETURNED:
        Application.objects.filter(pk=application.pk).update(return_due_on=due_on)
        application.return_due_on = due_on
    return record


def reject(application: Application, *, by: "User", comment: str) -> "Transition":
    """Refuse an application in national review; the motivation is required and printed
    on the decision letter."""
    with transaction.atomic():
        return _move(application, by=by, to=Status.REJECTED, comment=comment, facts=None)


def send_back(
    application: Application, *, by: "User", comment: str, due_on: date | None = None
) -> "Transition":
    """Return an application in national review to its establishment for complements
    (the request is required; `due_on`, optional, is shown with it)."""
    with transaction.atomic():
        return _move(
            application, by=by, to=Status.RETURNED, comment=comment, facts=None, due_on=due_on
        )


def reconsider(application: Application, *, by: "User", comment: str) -> "Transition":
    """Send an application found ineligible back to regional review (the reason is
    required: why the ministry overrides the rules)."""
    with transaction.atomic():
        return _move(application, by=by, to=Status.REGIONAL_REVIEW, comment=comment, facts=None)


def assign(application: Application, *, by: "User") -> Application:
    """ "Assign to me": the ministry user in charge of an application awaiting the
    ministry (`Application.assigned_to`, the agent in charge at each stage)."""
    return _assign(application, by=by, facts=None)


def _assign(application: Application, *, by: "User", facts: Facts | None) -> Application:
    if Actor.MINISTRY.value not in actor_roles(by, application):
        raise TransitionForbidden(_("Vous n'avez pas le droit d'effectuer cette action."))
    _ensure_no_conflict(application, by, facts)
    now = timezone.now()
    updated = Application.objects.filter(pk=application.pk, status__in=MINISTRY_STATUSES).update(
        assigned_to=by, assigned_at=now
    )
    if not updated:
        raise TransitionNotAllowed(
            _(
                "La candidature %(reference)s n'attend pas d'action du ministère : elle ne "
                "peut pas vous être attribuée."
            )
            % {"reference": application.reference}
        )
    application.assigned_to, application.assigned_at = by, now
    return application


def cancel_co_signature(application: Application, *, by: "User") -> CoSignature:
    """Withdraw the approval waiting for a second signature (any ministry user free of
    conflict may, so that another amount can be proposed)."""
    if Actor.MINISTRY.value not in actor_roles(by, application):
        raise TransitionForbidden(_("Vous n'avez pas le droit d'effectuer cette action."))
    ensure_no_conflict(by, application)
    with transaction.atomic():
        Ledger([application.call_id])  # co-signatures start and end under the call's lock
        pending = (
            CoSignature.objects.select_for_update()
            .filter(application=application, state=CoSignature.State.PENDING)
            .first()
        )
        if pending is None:
            raise CoSignatureRequired(
                _("Aucune co-signature n'attend sur la candidature %(reference)s.")
                % {"reference": application.reference}
            )
        pending.state = CoSignature.State.CANCELLED
        pending.save(update_fields=["state", "updated_at"])
        audit.record(
            audit.Action.DECISION,
            actor=by,
            obj=application,
            move="approve",
            step="co_signature_cancelled",
            amount=str(pending.amount),
        )
    return pending


# --- Many applications: a report, never a silent partial success -----------------------


class Outcome:
    DONE = "done"
    PENDING = "pending"  # waits for a co-signature
    REFUSED = "refused"


@dataclass
class ReportEntry:
    application: Application | None
    ok: bool
    outcome: str
    message: str
    application_id: int = 0
    reference: str = ""

    def __post_init__(self) -> None:
        if self.application is not None:
            self.application_id = self.application.pk
            self.reference = self.application.reference

    def as_dict(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "reference": self.reference,
            "ok": self.ok,
            "outcome": self.outcome,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ReportEntry":
        return cls(
            application=None,
            ok=bool(data["ok"]),
            outcome=str(data["outcome"]),
            message=str(data["message"]),
            application_id=int(data["application_id"]),
            reference=str(data["reference"]),
        )


class Report(list[ReportEntry]):
    """One entry per application, in the order given."""

    def of(self, outcome: str) -> int:
        return sum(1 for entry in self if entry.outcome == outcome)

    @property
    def done(self) -> int:
        return self.of(Outcome.DONE)

    @property
    def pending(self) -> int:
        return self.of(Outcome.PENDING)

    @property
    def refused(self) -> int:
        return self.of(Outcome.REFUSED)


def _done_message(action: str, application: Application, result: object) -> tuple[str, str]:
    if isinstance(result, CoSignature):
        return Outcome.PENDING, _(
            "En attente de co-signature : %(amount)s, à approuver par un autre agent du ministère."
        ) % {"amount": euros(result.amount)}
    if action == APPROVE:
        return Outcome.DONE, _("Accordée : %(amount)s.") % {
            "amount": euros(application.granted_amount or ZERO)
        }
    if action == ASSIGN:
        return Outcome.DONE, _("Attribuée à vous.")
    return Outcome.DONE, str(Status(application.status).label)


Progress = Callable[[ReportEntry], None]


def decide_many(
    action: str,
    applications: Iterable[Application | int],
    *,
    by: "User",
    comment: str = "",
    amounts: Mapping[int, object] | None = None,
    due_on: date | None = None,
    progress: Progress | None = None,
) -> Report:
    """Take `action` (one of ACTIONS) on each application, each in its own transaction:
    a refusal is reported and undoes nothing of the others. `amounts` maps application
    ids to granted amounts (approve; missing: `default_amount`). `progress` is called
    after each application with its entry."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown decision action {action!r}")
    comment = comment.strip()
    if action in COMMENT_REQUIRED and not comment:
        raise CommentRequired(_("Un motif est obligatoire pour cette action."))
    ids = _ids(applications)
    if len(ids) > MAX_BULK:
        raise TransitionForbidden(
            _("Une action porte sur %(max)d candidatures au plus.") % {"max": MAX_BULK}
        )
    report = Report()
    with transaction.atomic():
        ledger = None
        if action == APPROVE:
            call_ids = Application.objects.filter(pk__in=ids).order_by().values_list("call_id")
            ledger = Ledger(call_id for (call_id,) in call_ids.distinct())
        gathered = gather_facts(ids, by)  # under the ledger's lock (co-signatures)
        found = {application.pk for application in gathered}
        for pk in ids:
            if pk not in found:
                entry = ReportEntry(
                    None, False, Outcome.REFUSED, _("Cette candidature n'existe plus.")
                )
                entry.application_id = pk
                report.append(entry)
        for application in gathered:
            entry = _decide_one(action, application, by, comment, amounts, due_on, ledger)
            report.append(entry)
            if progress is not None:
                progress(entry)
    return report


def _decide_one(
    action: str,
    application: Application,
    by: "User",
    comment: str,
    amounts: Mapping[int, object] | None,
    due_on: date | None,
    ledger: Ledger | None,
) -> ReportEntry:
    """One application of a batch, in its own savepoint: its refusal undoes only it."""
    facts: Facts = application.facts  # type: ignore[attr-defined]
    result: object
    try:
        with transaction.atomic():
            if action == APPROVE:
                assert ledger is not None
                amount = (amounts or {}).get(application.pk)
                if amount is None:
                    amount = default_amount(application)
                result = _approve(
                    application,
                    by=by,
                    amount=amount,
                    comment=comment,
                    facts=facts,
                    ledger=ledger,
                )
            elif action == ASSIGN:
                result = _assign(application, by=by, facts=facts)
            else:
                target = {
                    REJECT: Status.REJECTED,
                    SEND_BACK: Status.RETURNED,
                    RECONSIDER: Status.REGIONAL_REVIEW,
                }[action]
                result = _move(
                    application, by=by, to=target, comment=comment, facts=facts, due_on=due_on
                )
    except ApplicationError as refusal:
        return ReportEntry(application, False, Outcome.REFUSED, refusal.message)
    outcome, message = _done_message(action, application, result)
    return ReportEntry(application, True, outcome, message)


def approve_many(
    applications: Iterable[Application | int],
    *,
    by: "User",
    comment: str = "",
    amounts: Mapping[int, object] | None = None,
) -> Report:
    """Approve each application (the amount given in `amounts` by id, else the ARS
    proposal, else the requested amount): done, pending co-signature, or refused and
    why, per application."""
    return decide_many(APPROVE, applications, by=by, comment=comment, amounts=amounts)
