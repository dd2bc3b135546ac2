"""Applications ready for the browser tests' last steps."""

from decimal import Decimal

from applications.models import Answer, Application, BudgetLine, Coverage, Evidence

from ..factories import ApplicationFactory


def complete_draft(call, candidate, user) -> Application:
    """A draft with every section complete, ready for the sworn statement."""
    application = ApplicationFactory(
        call=call,
        candidate=candidate,
        created_by=user,
        director_name="Claire Dubois",
        director_email="direction@ch-villefranche.test",
        rssi_name="Karim Benali",
        rssi_email="rssi@ch-villefranche.test",
        continuity_lead_name="Sophie Laurent",
        continuity_lead_email="pca@ch-villefranche.test",
        requested_amount=Decimal("120000.00"),
    )
    Coverage.objects.create(call=call, application=application, legal_entity=candidate)
    for requirement in call.requirements.all():
        answer = Answer.objects.create(
            application=application, requirement=requirement, state=Answer.State.MET
        )
        if requirement.evidence_stage == "application":
            Evidence.objects.create(
                application=application,
                answer=answer,
                file=f"evidence/{requirement.identifier}.pdf",
                original_name=f"{requirement.identifier}.pdf",
                content_type="application/pdf",
                size=1024,
                sha256="0" * 64,
                uploaded_by=user,
            )
    BudgetLine.objects.create(
        application=application,
        category="hardware",
        description="Baie de sauvegarde hors ligne",
        amount=Decimal("120000.00"),
    )
    return application
