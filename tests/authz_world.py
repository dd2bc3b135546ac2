"""The small world of the authorisation matrix (tests/test_authorization_matrix.py):
hospital A in region X and hospital B in region Y, each with a GHT, a draft and a
submitted application (answer, evidence file, rendered dossier, message), Volet 1
audits, scans and status; an audit import batch; one object of every other model the
admin shows; and the eight personas who request every URL."""

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
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
from applications.models import (
    Answer,
    Application,
    Dossier,
    Evidence,
    FundingCall,
    Message,
    Transition,
)
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


@dataclass
class World:
    a: Side
    b: Side
    users: dict[str, User]
    # The object the admin's change, delete and history pages are opened with, by model
    # label ("app_label.model_name").
    admin_objects: dict[str, Any] = field(default_factory=dict)


def _file(content: bytes, name: str) -> ContentFile:
    return ContentFile(content, name=name)


def _evidence(application: Application, answer: Answer, author: User) -> Evidence:
    content = f"pièce de {application.reference}".encode()
    return Evidence.objects.create(
        application=application,
        answer=answer,
        file=_file(content, "piece.pdf"),
        original_name="piece.pdf",
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=author,
    )


def _side(
    *,
    calls: tuple[FundingCall, FundingCall],
    department: str,
    finess: int,
    ght_code: str,
    tag: str,
    author: User,
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
    draft = ApplicationFactory(call=calls[0], candidate=entity, ght=ght, status="draft")
    submitted = ApplicationFactory(
        call=calls[1],
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
        _evidence(application, answers[application.pk], author)
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
    return Side(
        region, entity, ght, site, draft, submitted, evidence, draft_evidence, dossier, audit, scan
    )


def build_world() -> World:
    """Every object the matrix opens; call inside a transaction the module rolls back."""
    users = {
        ESTABLISHMENT_A: UserFactory(email="etab-a@matrix.test"),
        ESTABLISHMENT_B: UserFactory(email="etab-b@matrix.test"),
        ARS_X: UserFactory(email="ars-x@matrix.test"),
        ARS_Y: UserFactory(email="ars-y@matrix.test"),
        MINISTRY: UserFactory(email="ministere@matrix.test", is_staff=True),
        STAFF_NO_MEMBERSHIP: UserFactory(email="staff@matrix.test", is_staff=True),
        SUPERUSER: UserFactory(email="root@matrix.test", is_staff=True, is_superuser=True),
    }
    # One application per call and candidate: the draft and the submitted one answer
    # two calls.
    calls = (FundingCallFactory(code="D2-MATRIX-1"), FundingCallFactory(code="D2-MATRIX-2"))
    for call in calls:
        RequirementFactory(call=call, identifier="D2.P1")
    a, b = (
        _side(
            calls=calls,
            department=department,
            finess=finess,
            ght_code=f"GHT-MX-{tag}",
            tag=tag,
            author=users[persona],
        )
        for department, finess, tag, persona in (
            ("69", 710, "A", ESTABLISHMENT_A),
            ("29", 720, "B", ESTABLISHMENT_B),
        )
    )
    role = Membership.Role
    MembershipFactory(user=users[ESTABLISHMENT_A], role=role.ESTABLISHMENT, legal_entity=a.entity)
    MembershipFactory(user=users[ESTABLISHMENT_B], role=role.ESTABLISHMENT, legal_entity=b.entity)
    MembershipFactory(user=users[ARS_X], role=role.REGIONAL, region=a.region)
    MembershipFactory(user=users[ARS_Y], role=role.REGIONAL, region=b.region)
    MembershipFactory(user=users[MINISTRY], role=role.MINISTRY)

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
        "applications.fundingcall": calls[1],
        "applications.application": a.submitted,
    }
    return World(a=a, b=b, users=users, admin_objects=admin_objects)
