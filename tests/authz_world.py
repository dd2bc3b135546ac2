"""The small world of the authorisation matrix (tests/test_authorization_matrix.py):
hospital A in region X and hospital B in region Y, each with a GHT, a draft and a
submitted application (answer, evidence file, rendered dossier, message), an
application at each step of the reviewers' half (in instruction by the ARS with a
private note; in national review with the ARS opinion and an approval waiting for its
co-signature; approved with an objective declared, its file and the advance paid; its
objectives declared, to check), an ARS colleague who recused themselves from the
hospital, Volet 1 audits, scans and status; an audit import batch; a bulk decision of
the ministry and its report; one object of every other model the admin shows; and the
eight personas who request every URL.

Statuses are written as rows (test data), not walked through the lifecycle."""

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from dsfr.models import DsfrConfig

from accounts import audit
from accounts.models import Membership, User
from applications import decision_jobs, decisions
from applications.models import (
    Answer,
    Application,
    ConflictDeclaration,
    CoSignature,
    Dossier,
    Evidence,
    FundingCall,
    InstructionNote,
    Message,
    ObjectiveDeclaration,
    Opinion,
    Payment,
    RegionalReview,
    Requirement,
    Transition,
)
from applications.tracking import objective_requirements
from audits.models import AuditImport, DirectoryAudit, ExposureScan, Volet1Status
from audits.services import volet1_status_refresh
from establishments.models import GHT, Department, LegalEntity, Region, Site

from .factories import (
    ApplicationFactory,
    FundingCallFactory,
    GHTFactory,
    LegalEntityFactory,
    MembershipFactory,
    RequirementFactory,
    SiteFactory,
    UserFactory,
    make_finess,
)

ANONYMOUS = "anonymous"
ESTABLISHMENT_A = "establishment_a"
ESTABLISHMENT_B = "establishment_b"
ARS_X = "ars_x"
ARS_Y = "ars_y"
MINISTRY = "ministry"
STAFF_NO_MEMBERSHIP = "staff_no_membership"
SUPERUSER = "superuser"
PERSONAS = (
    ANONYMOUS,
    ESTABLISHMENT_A,
    ESTABLISHMENT_B,
    ARS_X,
    ARS_Y,
    MINISTRY,
    STAFF_NO_MEMBERSHIP,
    SUPERUSER,
)
# Agents must give a second factor when CARE_TWO_FACTOR_REQUIRED is on
# (accounts.security.is_agent: staff, national or regional).
AGENTS = (ARS_X, ARS_Y, MINISTRY, STAFF_NO_MEMBERSHIP, SUPERUSER)


@dataclass
class Side:
    """What belongs to one hospital (A in region X, or B in region Y)."""

    region: Region
    entity: LegalEntity
    ght: GHT
    site: Site
    draft: Application
    submitted: Application
    evidence: Evidence
    draft_evidence: Evidence
    dossier: Dossier
    audit: DirectoryAudit
    scan: ExposureScan
    # The reviewers' half: an application at each step it has pages for.
    review: Application  # regional_review: the ARS instructs it
    national: Application  # national_review: the ministry decides it
    approved: Application  # approved: the establishment declares its objectives
    declared: Application  # objectives_declared: the ARS checks them
    objective: Requirement  # an objective of the approved one's call, not declared yet
    objective_evidence: Evidence  # the file of the approved one's declared objective
    note: InstructionNote
    regional_review: RegionalReview
    co_signature: CoSignature
    payment: Payment
    # An agent of the same ARS, recused from the hospital.
    conflict: ConflictDeclaration


@dataclass
class Calls:
    """One call per application of a hospital (one application per call and candidate)."""

    draft: FundingCall
    submitted: FundingCall
    review: FundingCall
    national: FundingCall
    approved: FundingCall
    declared: FundingCall


@dataclass
class World:
    a: Side
    b: Side
    users: dict[str, User]
    # The object the admin's change, delete and history pages are opened with, by model
    # label ("app_label.model_name").
    admin_objects: dict[str, Any] = field(default_factory=dict)
    # The ministry's bulk decision (kept in the cache, not in the database).
    decision_job: str = ""


def _file(content: bytes, name: str) -> ContentFile:
    return ContentFile(content, name=name)


def _evidence(
    application: Application,
    author: User,
    *,
    answer: Answer | None = None,
    declaration: ObjectiveDeclaration | None = None,
) -> Evidence:
    content = f"pièce de {application.reference}".encode()
    return Evidence.objects.create(
        application=application,
        answer=answer,
        declaration=declaration,
        file=_file(content, "piece.pdf"),
        original_name="piece.pdf",
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=author,
    )


def _calls() -> Calls:
    codes = ("draft", "submitted", "review", "national", "approved", "declared")
    calls = {
        name: FundingCallFactory(code=f"D2-MATRIX-{n}") for n, name in enumerate(codes, start=1)
    }
    for call in calls.values():
        RequirementFactory(call=call, identifier="D2.P1")
    # Approvals above 100 000 € wait for a co-signature.
    calls["national"].second_approval_above = Decimal("100000")
    calls["national"].save(update_fields=["second_approval_above"])
    # The tracked applications' calls: two objectives (the first with a file to declare),
    # a deadline to come and an advance of 30 %.
    for name in ("approved", "declared"):
        call = calls[name]
        call.objectives_deadline = date.today() + timedelta(days=60)
        call.advance_rate = Decimal("30")
        call.save(update_fields=["objectives_deadline", "advance_rate"])
        for position, stage in enumerate(("declaration", "none"), start=1):
            RequirementFactory(
                call=call,
                identifier=f"D2.O{position}",
                kind=Requirement.Kind.OBJECTIVE,
                evidence_stage=stage,
                position=10 + position,
            )
    return Calls(**calls)


def _reviewed(
    *, call: FundingCall, entity: LegalEntity, ght: GHT, status: str, **fields: Any
) -> Application:
    """An application past its submission, at `status` (its history in one row)."""
    application = ApplicationFactory(
        call=call,
        candidate=entity,
        ght=ght,
        status=status,
        sworn_statement=True,
        sworn_at=timezone.now() - timedelta(days=20),
        director_name="Claire Directrice",
        director_email="direction@ch.test",
        requested_amount=Decimal("250000"),
        **fields,
    )
    Transition.objects.create(application=application, from_status="submitted", to_status=status)
    return application


def _declare(application: Application, requirement: Requirement, by: User) -> ObjectiveDeclaration:
    return ObjectiveDeclaration.objects.create(
        application=application, requirement=requirement, declared_by=by, comment="Fait"
    )


def _side(
    *,
    calls: Calls,
    department: str,
    finess: int,
    ght_code: str,
    tag: str,
    author: User,
    agent: User,
    ministry: User,
) -> Side:
    dept = Department.objects.get(code=department)
    region = dept.region
    ght = GHTFactory(code=ght_code, name=f"GHT {tag}", region=region)
    entity = LegalEntityFactory(
        name=f"Centre hospitalier {tag}",
        department=dept,
        finess=make_finess(department, finess),
        ght=ght,
    )
    site = SiteFactory(
        legal_entity=entity, department=dept, finess=make_finess(department, finess + 500)
    )
    draft = ApplicationFactory(call=calls.draft, candidate=entity, ght=ght, status="draft")
    submitted = ApplicationFactory(
        call=calls.submitted,
        candidate=entity,
        ght=ght,
        status="submitted",
        sworn_statement=True,
        sworn_at=timezone.now() - timedelta(days=3),
        director_name="Claire Directrice",
        director_email="direction@ch.test",
    )
    answers = {}
    for application in (draft, submitted):
        for requirement in application.call.requirements.all():
            answers[application.pk] = Answer.objects.create(
                application=application, requirement=requirement, state="met"
            )
    Transition.objects.create(application=submitted, from_status="draft", to_status="submitted")
    Message.objects.create(application=submitted, author=author, body=f"Question de {tag}")
    evidence, draft_evidence = (
        _evidence(application, author, answer=answers[application.pk])
        for application in (submitted, draft)
    )
    pdf = b"%PDF-1.4\n% dossier de test\n%%EOF\n"
    dossier = Dossier.objects.create(
        application=submitted,
        kind="dossier",
        version=1,
        status="done",
        file=_file(pdf, "dossier.pdf"),
        sha256=hashlib.sha256(pdf).hexdigest(),
        pages=1,
        size=len(pdf),
        generated_at=timezone.now(),
    )
    audit = DirectoryAudit.objects.create(
        legal_entity=entity,
        audit_date=date.today() - timedelta(days=30),
        tool="pingcastle",
        domain=f"{tag.lower()}.local",
        global_score=40,
        maturity_level=3,
    )
    scan = ExposureScan.objects.create(
        legal_entity=entity,
        scan_date=date.today() - timedelta(days=20),
        exposed_services=3,
        minimum_level_met=True,
    )
    volet1_status_refresh(legal_entity_ids=[entity.pk])

    # The reviewers' half. A colleague of the ARS, recused from the hospital, holds the
    # application in instruction (the side's agent may take it).
    colleague = UserFactory(email=f"ars-collegue-{tag.lower()}@matrix.test")
    MembershipFactory(user=colleague, role=Membership.Role.REGIONAL, region=region)
    conflict = ConflictDeclaration.objects.create(
        user=colleague, legal_entity=entity, reason="Ancien directeur de l'établissement"
    )
    review = _reviewed(
        call=calls.review,
        entity=entity,
        ght=ght,
        status="regional_review",
        assigned_to=colleague,
        assigned_at=timezone.now() - timedelta(days=2),
    )
    note = InstructionNote.objects.create(
        application=review, author=agent, body=f"Relancer {tag} sur le PCA"
    )
    opinion = {"regional_opinion": Opinion.FAVOURABLE, "proposed_amount": Decimal("200000")}
    national = _reviewed(
        call=calls.national, entity=entity, ght=ght, status="national_review", **opinion
    )
    regional_review = RegionalReview.objects.create(
        application=national,
        author=agent,
        opinion=Opinion.FAVOURABLE,
        motivation="Dossier solide",
        proposed_amount=Decimal("200000"),
    )
    co_signature = CoSignature.objects.create(
        application=national, requested_by=ministry, amount=Decimal("200000")
    )
    granted = {"granted_amount": Decimal("200000"), **opinion}
    approved = _reviewed(call=calls.approved, entity=entity, ght=ght, status="approved", **granted)
    first, objective = objective_requirements(calls.approved)
    objective_evidence = _evidence(approved, author, declaration=_declare(approved, first, author))
    payment = Payment.objects.create(
        application=approved,
        tranche=Payment.Tranche.ADVANCE,
        amount=Decimal("60000"),
        paid_on=date.today() - timedelta(days=1),
        chorus_reference=f"CHORUS-MX-{tag}",
        recorded_by=ministry,
    )
    declared = _reviewed(
        call=calls.declared, entity=entity, ght=ght, status="objectives_declared", **granted
    )
    for requirement in objective_requirements(calls.declared):
        declaration = _declare(declared, requirement, author)
        if requirement.evidence_stage == Requirement.EvidenceStage.DECLARATION:
            _evidence(declared, author, declaration=declaration)
    return Side(
        region,
        entity,
        ght,
        site,
        draft,
        submitted,
        evidence,
        draft_evidence,
        dossier,
        audit,
        scan,
        review=review,
        national=national,
        approved=approved,
        declared=declared,
        objective=objective,
        objective_evidence=objective_evidence,
        note=note,
        regional_review=regional_review,
        co_signature=co_signature,
        payment=payment,
        conflict=conflict,
    )


def build_world() -> World:
    """Every object the matrix opens; call inside a transaction the module rolls back
    (and delete `World.decision_job` from the cache after)."""
    users = {
        ESTABLISHMENT_A: UserFactory(email="etab-a@matrix.test"),
        ESTABLISHMENT_B: UserFactory(email="etab-b@matrix.test"),
        ARS_X: UserFactory(email="ars-x@matrix.test"),
        ARS_Y: UserFactory(email="ars-y@matrix.test"),
        MINISTRY: UserFactory(email="ministere@matrix.test", is_staff=True),
        STAFF_NO_MEMBERSHIP: UserFactory(email="staff@matrix.test", is_staff=True),
        SUPERUSER: UserFactory(email="root@matrix.test", is_staff=True, is_superuser=True),
    }
    calls = _calls()
    a, b = (
        _side(
            calls=calls,
            department=department,
            finess=finess,
            ght_code=f"GHT-MX-{tag}",
            tag=tag,
            author=users[persona],
            agent=users[agent],
            ministry=users[MINISTRY],
        )
        for department, finess, tag, persona, agent in (
            ("69", 710, "A", ESTABLISHMENT_A, ARS_X),
            ("29", 720, "B", ESTABLISHMENT_B, ARS_Y),
        )
    )
    role = Membership.Role
    MembershipFactory(user=users[ESTABLISHMENT_A], role=role.ESTABLISHMENT, legal_entity=a.entity)
    MembershipFactory(user=users[ESTABLISHMENT_B], role=role.ESTABLISHMENT, legal_entity=b.entity)
    MembershipFactory(user=users[ARS_X], role=role.REGIONAL, region=a.region)
    MembershipFactory(user=users[ARS_Y], role=role.REGIONAL, region=b.region)
    MembershipFactory(user=users[MINISTRY], role=role.MINISTRY)
    # The ministry takes A's application in national review: the report of that bulk
    # decision is its own.
    job = decision_jobs.decision_job_start(
        action=decisions.ASSIGN, application_ids=[a.national.pk], by=users[MINISTRY]
    )

    csv = b"finess_ej;date_scan\n"
    batch = AuditImport.objects.create(
        kind="exposure",
        file_format="csv",
        file=_file(csv, "scans.csv"),
        original_filename="scans.csv",
        file_size=len(csv),
        created_by=users[SUPERUSER],
        status="succeeded",
    )
    # Second factors of an establishment user (the agents have none: the two-factor
    # pass expects them to be sent to enrol).
    holder = users[ESTABLISHMENT_A]
    totp = TOTPDevice.objects.create(user=holder, name="application", confirmed=True)
    static = StaticDevice.objects.create(user=holder, name="recovery", confirmed=True)
    failure = {"ip_address": "192.0.2.1", "user_agent": "matrix", "username": "x@matrix.test"}
    admin_objects: dict[str, Any] = {
        "auth.group": Group.objects.create(name="Matrice"),
        "axes.accessattempt": AccessAttempt.objects.create(failures_since_start=1, **failure),
        "axes.accesslog": AccessLog.objects.create(**failure),
        "axes.accessfailurelog": AccessFailureLog.objects.create(**failure),
        "otp_totp.totpdevice": totp,
        "otp_static.staticdevice": static,
        "dsfr.dsfrconfig": DsfrConfig.objects.first() or DsfrConfig.objects.create(),
        "accounts.user": users[ESTABLISHMENT_A],
        "accounts.membership": Membership.objects.get(user=users[ESTABLISHMENT_A]),
        "accounts.auditevent": audit.record(audit.Action.LOGIN, actor=users[ESTABLISHMENT_A]),
        "establishments.region": a.region,
        "establishments.department": a.entity.department,
        "establishments.ght": a.ght,
        "establishments.legalentity": a.entity,
        "establishments.site": a.site,
        "audits.directoryaudit": a.audit,
        "audits.exposurescan": a.scan,
        "audits.auditimport": batch,
        "audits.volet1status": Volet1Status.objects.get(legal_entity=a.entity),
        "applications.fundingcall": calls.submitted,
        "applications.application": a.submitted,
        "applications.cosignature": a.co_signature,
        "applications.conflictdeclaration": a.conflict,
        "applications.fundedapplication": a.approved,
        "applications.payment": a.payment,
    }
    return World(a=a, b=b, users=users, admin_objects=admin_objects, decision_job=job)
