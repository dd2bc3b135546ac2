"""Data the benchmarks need, built directly rather than through the test factories."""

import hashlib
from datetime import date, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

from applications.models import (
    Answer,
    Application,
    BudgetLine,
    CeilingBracket,
    Coverage,
    Evidence,
    FundingCall,
    Requirement,
    Transition,
)
from audits.models import DirectoryAudit, ExposureScan
from establishments.identifiers import finess_with_check_digit
from establishments.models import GHT, Department, LegalEntity, Region, StatusGroup

LOREM = (
    "Le plan de continuité couvre le service des urgences, la pharmacie et le laboratoire ; "
    "il a été testé lors d'un exercice de crise cyber avec la cellule de crise de "
    "l'établissement et les partenaires du territoire. "
)


def typical_application(serial: int = 0, *, requirements: int = 20, files: int = 20) -> Application:
    """A GHT's application covering 7 entities, with 20 requirements answered at
    length, 20 evidence files and a budget: a dossier of about 8 pages."""
    department = Department.objects.get(code="69")
    now = timezone.now()
    call = FundingCall.objects.create(
        code=f"BENCH-{serial}",
        domain="D2",
        title="Appel de mesure : continuité et reprise d'activité",
        opens_at=now - timedelta(days=30),
        closes_at=now + timedelta(days=30),
        envelope=Decimal("45000000"),
        eligible_groups=["ght", "public_outside_ght", "private_non_profit", "private_for_profit"],
    )
    CeilingBracket.objects.create(call=call, min_staff=0, ceiling=Decimal("900000"))
    for i in range(requirements):
        Requirement.objects.create(
            call=call,
            identifier=f"D2.{'P' if i < 5 else 'O'}{i}",
            kind="prerequisite" if i < 5 else "objective",
            label=f"Exigence {i} : plan de continuité et de reprise d'activité du processus {i}",
            target="Plan rédigé, validé par la direction et testé une fois par an.",
            evidence="PCRA signé, compte rendu de test",
            evidence_stage="application" if i < 5 else "declaration",
            position=i,
        )
    ght = GHT.objects.create(
        code=f"GHT-BENCH-{serial}",
        name=f"GHT de mesure {serial}",
        region=Region.objects.get(code="84"),
    )
    entities = [
        LegalEntity.objects.create(
            finess=finess_with_check_digit(f"69{800000 + serial * 10 + i:06d}"),
            name=f"Centre hospitalier de mesure {serial}-{i}",
            status_group=StatusGroup.PUBLIC,
            finess_category="355",
            department=department,
            ght=ght,
            is_ght_support=i == 0,
            staff_count=900,
        )
        for i in range(7)
    ]
    for entity in entities:
        DirectoryAudit.objects.create(
            legal_entity=entity, audit_date=date(2025, 3, 1), tool="pingcastle",
            domain=f"e{entity.pk}.local", global_score=55, stale_objects_score=40,
            privileged_accounts_score=55, trusts_score=0, anomalies_score=35, maturity_level=2,
        )  # fmt: skip
        for offset in (0, 50):
            ExposureScan.objects.create(
                legal_entity=entity, scan_date=date(2025, 4, 1) + timedelta(days=offset),
                minimum_level_met=True, vulns_high=1,
            )  # fmt: skip
    application = Application.objects.create(
        call=call, candidate=entities[0], ght=ght, reference=f"BENCH-{serial:06d}",
        status="submitted", submitted_at=now - timedelta(hours=1),
        requested_amount=Decimal("600000"), director_name="Claire Directrice",
        director_email="direction@ch.test", rssi_name="Rémi RSSI", rssi_email="rssi@ch.test",
        continuity_lead_name="Paule PCA", continuity_lead_email="pca@ch.test",
        sworn_statement=True, sworn_at=now - timedelta(hours=1),
    )  # fmt: skip
    for entity in entities:
        Coverage.objects.create(call=call, application=application, legal_entity=entity)
    answers = [
        Answer.objects.create(
            application=application, requirement=r, state="met", comment=LOREM * 3
        )
        for r in call.requirements.all()
    ]
    for i in range(files):
        content = f"pièce {i}".encode()
        Evidence.objects.create(
            application=application, answer=answers[i % len(answers)],
            file=ContentFile(content, name="piece.pdf"),
            original_name=f"piece-justificative-{i}.pdf",
            content_type="application/pdf", size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        )  # fmt: skip
    for category, amount in (
        ("consulting", "300000"),
        ("hardware", "200000"),
        ("training", "100000"),
    ):
        BudgetLine.objects.create(
            application=application, category=category, description=f"Poste {category}",
            amount=Decimal(amount),
        )  # fmt: skip
    Transition.objects.create(
        application=application, from_status="draft", to_status="submitted",
        created_at=now - timedelta(hours=1),
    )  # fmt: skip
    return application


def national_review_batch(call: FundingCall, serial: int, count: int) -> list[Application]:
    """`count` applications of `call` awaiting the ministry's decision, each by its own
    legal entity (Rhône), with an ARS proposal: what a bulk approval decides."""
    department = Department.objects.get(code="69")
    now = timezone.now()
    entities = LegalEntity.objects.bulk_create(
        LegalEntity(
            finess=finess_with_check_digit(f"69{300000 + serial * 1000 + i:06d}"),
            name=f"Centre hospitalier à décider {serial}-{i}",
            status_group=StatusGroup.PUBLIC,
            finess_category="355",
            department=department,
            staff_count=400 + i % 900,
        )
        for i in range(count)
    )
    return Application.objects.bulk_create(
        Application(
            call=call,
            candidate=entity,
            reference=f"DECIDE-{serial}-{i:04d}",
            status="national_review",
            submitted_at=now - timedelta(days=20),
            requested_amount=Decimal("250000"),
            proposed_amount=Decimal("200000"),
        )
        for i, entity in enumerate(entities)
    )
