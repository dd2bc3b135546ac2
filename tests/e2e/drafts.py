"""What the browser tests of applications share: calls, ready drafts, the identity as typed,
the fieldset of a requirement."""

from decimal import Decimal

from applications.models import Answer, Application, BudgetLine, CeilingBracket, Coverage, Evidence

from ..factories import ApplicationFactory, FundingCallFactory, RequirementFactory

# The contacts of the identity section, and the label of each in its form.
CONTACTS = {
    "director_name": "Claire Dubois",
    "director_email": "direction@ch-villefranche.test",
    "rssi_name": "Karim Benali",
    "rssi_email": "rssi@ch-villefranche.test",
    "continuity_lead_name": "Sophie Laurent",
    "continuity_lead_email": "pca@ch-villefranche.test",
}
CONTACT_LABELS = {
    "director_name": "Nom du directeur ou de la directrice",
    "director_email": "Courriel de la direction",
    "rssi_name": "Nom du RSSI",
    "rssi_email": "Courriel du RSSI",
    "continuity_lead_name": "Nom du responsable du plan de continuité",
    "continuity_lead_email": "Courriel du responsable du plan de continuité",
}

# Requirements of the calls, as RequirementFactory's fields (the position is the call's).
CONTINUITY_PLAN = {
    "identifier": "D2.P1",
    "label": "Plan de continuité d'activité formalisé",
    "evidence": "Plan de continuité signé",
}
CRISIS_EXERCISE = {
    "identifier": "D2.O1",
    "kind": "objective",
    "label": "Exercice de crise cyber annuel",
    "evidence": "Compte rendu de l'exercice",
    "evidence_stage": "declaration",
}


def open_call(*requirements: dict, **fields):
    """An open call with these requirements, in this order, and one ceiling bracket of
    500 000 € for any staff."""
    call = FundingCallFactory(**fields)
    for position, requirement in enumerate(requirements, start=1):
        RequirementFactory(call=call, position=position, **requirement)
    CeilingBracket.objects.create(call=call, min_staff=0, ceiling=Decimal("500000.00"))
    return call


def fill_identity(page) -> None:
    """Types CONTACTS in the identity form, as a person does (the form is not sent)."""
    for field, label in CONTACT_LABELS.items():
        page.get_by_label(label).fill(CONTACTS[field])


def requirement_fieldset(page, identifier: str):
    """The fieldset of one requirement on the answers page (its legend starts with the
    requirement's identifier)."""
    return page.locator("#answers-form fieldset.fr-fieldset[id^='answer-']").filter(
        has=page.locator("legend", has_text=identifier)
    )


def complete_draft(call, candidate, user) -> Application:
    """A draft with every section complete, ready for the sworn statement."""
    application = ApplicationFactory(
        call=call,
        candidate=candidate,
        created_by=user,
        **CONTACTS,
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
