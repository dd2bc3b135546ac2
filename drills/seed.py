"""Minimal data for the drills, written with the models (the test factories need
factory_boy and pytest's fixtures): funding calls, legal entities of the Rhône, users
that can log in, complete drafts to submit over HTTP, and for the killed-worker drill a
whole call of applications already submitted."""

import hashlib
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, User
from applications.models import (
    Answer,
    Application,
    BudgetLine,
    Coverage,
    Dossier,
    EligibilityResult,
    FundingCall,
    Requirement,
    Transition,
)
from establishments.identifiers import finess_with_check_digit
from establishments.models import Department, LegalEntity, StatusGroup

PASSWORD = "drills-care-2025!"  # noqa: S105 - throwaway accounts of a throwaway database
# Results written before the drill by older rules: a rescoring must replace every one.
STALE_RULES_VERSION = "drill-old"
ALL_GROUPS = ["ght", "public_outside_ght", "private_non_profit", "private_for_profit"]
IDENTITY = {
    "director_name": "Claire Directrice",
    "director_email": "direction@ch-drill.test",
    "rssi_name": "Rémi RSSI",
    "rssi_email": "rssi@ch-drill.test",
    "continuity_lead_name": "Paule PCA",
    "continuity_lead_email": "pca@ch-drill.test",
}
REQUESTED = Decimal("200000")


@dataclass
class Draft:
    """A complete draft, ready to be submitted by its user."""

    id: int
    public_id: str
    reference: str
    answer_id: int  # the answer of the first prerequisite: where evidence goes


@dataclass
class Applicant:
    email: str
    drafts: list[Draft] = field(default_factory=list)


class Seeder:
    def __init__(self) -> None:
        self.password_hash = make_password(PASSWORD)  # Argon2, once for every user
        self.department = Department.objects.get(code="69")
        self.serial = itertools.count(1)
        self.ministry = self.user("ministere@drills.test", role=Membership.Role.MINISTRY)

    # --- Calls, entities, users -----------------------------------------------------------

    def call(
        self, code: str, *, envelope: Decimal, evidence_at_application: bool = False
    ) -> FundingCall:
        """An open call: two prerequisites and an objective; no Volet 1 required (E5)
        so that the drills' entities need no audit; no ceiling, no co-signature."""
        now = timezone.now()
        call = FundingCall.objects.create(
            code=code,
            domain="D2",
            title=f"Exercice de panne {code}",
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=30),
            envelope=envelope,
            eligible_groups=ALL_GROUPS,
            parameters={"volet1_required": False},
        )
        stage = Requirement.EvidenceStage
        Requirement.objects.bulk_create(
            [
                Requirement(
                    call=call,
                    identifier="D2.P1",
                    kind="prerequisite",
                    label="Plan de continuité et de reprise d'activité validé",
                    evidence="PCRA signé",
                    evidence_stage=stage.APPLICATION if evidence_at_application else stage.NONE,
                    position=1,
                ),
                Requirement(
                    call=call,
                    identifier="D2.P2",
                    kind="prerequisite",
                    label="Sauvegardes hors ligne testées",
                    evidence_stage=stage.NONE,
                    position=2,
                ),
                Requirement(
                    call=call,
                    identifier="D2.O1",
                    kind="objective",
                    label="Exercice de crise cyber annuel",
                    evidence_stage=stage.DECLARATION,
                    position=3,
                ),
            ]
        )
        return call

    def entities(self, count: int, department: Department | None = None) -> list[LegalEntity]:
        """`count` public legal entities of `department` (the Rhône by default)."""
        department = department or self.department
        prefix = department.code[:2] if department.code[:2].isdigit() else "20"
        numbers = [next(self.serial) for _ in range(count)]
        return LegalEntity.objects.bulk_create(
            LegalEntity(
                finess=finess_with_check_digit(f"{prefix}{500000 + n:06d}"),
                name=f"Centre hospitalier d'exercice {n}",
                status_group=StatusGroup.PUBLIC,
                finess_category="355",
                department=department,
                staff_count=300 + (n * 37) % 2700,
            )
            for n in numbers
        )

    def user(
        self,
        email: str,
        *,
        role: str = Membership.Role.ESTABLISHMENT,
        entities: list[LegalEntity] | None = None,
    ) -> User:
        user = User.objects.create(email=email, full_name=email.split("@")[0])
        User.objects.filter(pk=user.pk).update(password=self.password_hash)
        if role == Membership.Role.ESTABLISHMENT:
            Membership.objects.bulk_create(
                Membership(user=user, role=role, legal_entity=e) for e in entities or []
            )
        else:
            Membership.objects.create(user=user, role=role)
        return user

    # --- Drafts submitted over HTTP -------------------------------------------------------

    def applicants(self, call: FundingCall, *, users: int, drafts_each: int) -> list[Applicant]:
        """`users` establishment users, each with `drafts_each` legal entities and a
        complete draft for each (identity, answers met, a budget line)."""
        result = []
        requirements = list(call.requirements.order_by("position"))
        for u in range(users):
            entities = self.entities(drafts_each)
            email = f"{call.code.lower()}-{u + 1}@drills.test"
            user = self.user(email, entities=entities)
            applicant = Applicant(email)
            for entity in entities:
                application = Application.objects.create(
                    call=call,
                    candidate=entity,
                    reference=f"tmp-{uuid.uuid4().hex}",
                    created_by=user,
                    requested_amount=REQUESTED,
                    **IDENTITY,
                )
                application.reference = f"{call.code}-{application.pk:06d}"
                application.save(update_fields=["reference"])
                Coverage.objects.create(call=call, application=application, legal_entity=entity)
                answers = Answer.objects.bulk_create(
                    Answer(
                        application=application,
                        requirement=r,
                        state="met",
                        comment="Fait et validé par la direction.",
                    )
                    for r in requirements
                )
                BudgetLine.objects.create(
                    application=application,
                    category="consulting",
                    description="Rédaction et test du PCRA",
                    amount=REQUESTED,
                )
                applicant.drafts.append(
                    Draft(
                        application.pk,
                        str(application.public_id),
                        application.reference,
                        answers[0].pk,
                    )
                )
            result.append(applicant)
        return result

    # --- A whole call already submitted (the killed-worker drill) -------------------------

    # In one transaction: the portal's workers are running, and their sweeper would
    # otherwise find the scored applications before their dossiers are written, render
    # those itself and make the seeding's own rows collide with its version 1.
    @transaction.atomic
    def submitted_call(
        self,
        call: FundingCall,
        *,
        count: int,
        fresh: int,
        status: str = "regional_review",
        amount: Decimal = REQUESTED,
        entities: list[LegalEntity] | None = None,
    ) -> tuple[list[int], list[int]]:
        """`count` applications of `call` (by `entities`, else new ones of the Rhône):
        the first `fresh` just submitted (not scored yet, no dossier), the others already
        moved on to `status` with a result of older rules and their dossier. Returns
        (every id, the fresh ids)."""
        now = timezone.now()
        entities = entities[:count] if entities is not None else self.entities(count)
        start = Application.objects.filter(call=call).count()  # references go on from there
        applications = Application.objects.bulk_create(
            Application(
                call=call,
                candidate=entity,
                reference=f"{call.code}-{start + i + 1:06d}",
                status="submitted" if i < fresh else status,
                submitted_at=now - timedelta(hours=1),
                sworn_statement=True,
                sworn_at=now - timedelta(hours=1),
                requested_amount=amount,
                proposed_amount=amount if status == "national_review" else None,
                **IDENTITY,
            )
            for i, entity in enumerate(entities)
        )
        requirements = list(call.requirements.order_by("position"))
        Coverage.objects.bulk_create(
            Coverage(call=call, application=a, legal_entity_id=a.candidate_id) for a in applications
        )
        Answer.objects.bulk_create(
            Answer(application=a, requirement=r, state="met", comment="Fait.")
            for a in applications
            for r in requirements
        )
        BudgetLine.objects.bulk_create(
            BudgetLine(application=a, category="consulting", description="PCRA", amount=amount)
            for a in applications
        )
        path = {
            "regional_review": ["submitted", "regional_review"],
            "national_review": ["submitted", "regional_review", "national_review"],
        }[status]
        transitions = []
        for i, a in enumerate(applications):
            steps = ["draft", *(path[:1] if i < fresh else path)]
            for n, (source, target) in enumerate(itertools.pairwise(steps)):
                when = now - timedelta(hours=1) + timedelta(minutes=n)
                transitions.append(
                    Transition(application=a, from_status=source, to_status=target, created_at=when)
                )
        Transition.objects.bulk_create(transitions)
        done = applications[fresh:]
        EligibilityResult.objects.bulk_create(
            EligibilityResult(
                application=a,
                rules_version=STALE_RULES_VERSION,
                eligible=True,
                score=Decimal("50"),
                rules=[],
                factors=[],
                computed_at=now - timedelta(hours=1),
            )
            for a in done
        )
        if done:
            self.rendered_dossiers(done)
        return [a.pk for a in applications], [a.pk for a in applications[:fresh]]

    def rendered_dossiers(self, applications: list[Application]) -> None:
        """Their version-1 dossier, done: the first rendered for real, the others a copy
        of its PDF each (one file per dossier, as the workers store them)."""
        from applications import pdf
        from applications.dossiers import render_dossier

        content = render_dossier(applications[0].pk)
        digest = hashlib.sha256(content).hexdigest()
        pages = pdf.page_count(content)
        now = timezone.now()
        rows = []
        for a in applications:
            name = default_storage.save(
                f"dossiers/drills/{a.reference}-dossier-v1-{uuid.uuid4().hex[:8]}.pdf",
                ContentFile(content),
            )
            rows.append(
                Dossier(
                    application=a,
                    kind="dossier",
                    version=1,
                    status="done",
                    file=name,
                    sha256=digest,
                    pages=pages,
                    size=len(content),
                    generated_at=now,
                    attempts=1,
                )
            )
        Dossier.objects.bulk_create(rows)
