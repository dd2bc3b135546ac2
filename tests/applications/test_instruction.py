"""Regional instruction: each service's rules (role, region, conflict, status, amounts,
dates), the pages' scope (another region: 404; establishment users: 404/403; the
ministry reads), private notes, the return's due date shown to the applicant, and the
full path from a scored application to national review through the pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import AuditEvent, Membership
from applications import instruction
from applications.conflicts import conflict_declare
from applications.dossiers import dossier_render
from applications.lifecycle import Status
from applications.models import (
    Application,
    ConflictDeclaration,
    Coverage,
    Dossier,
    InstructionNote,
    Message,
    RegionalReview,
    Transition,
)
from care_portal.errors import (
    AmountRefused,
    ApplicationError,
    CommentRequired,
    ConflictOfInterest,
    TransitionForbidden,
    TransitionNotAllowed,
)

from ..factories import ApplicationFactory, LegalEntityFactory, MembershipFactory, regional_agent
from .test_pdf import make_dossier_application

TOMORROW = timezone.localdate() + timedelta(days=1)


@pytest.fixture
def application(hospital):
    """An application of the hospital (Rhône, region 84) in regional review, covering a
    second entity."""
    application = ApplicationFactory(
        candidate=hospital, status="regional_review", requested_amount=Decimal("100000")
    )
    Transition.objects.create(
        application=application, from_status="submitted", to_status="regional_review"
    )
    Coverage.objects.create(call=application.call, application=application, legal_entity=hospital)
    Coverage.objects.create(
        call=application.call,
        application=application,
        legal_entity=LegalEntityFactory(name="EHPAD couvert"),
    )
    return application


@pytest.fixture
def colleague(db):
    return regional_agent("84", email="gaston@ars-ara.test", full_name="Gaston Lagaffe")


def url(name, application):
    return reverse(f"instruction:{name}", args=[application.public_id])


def reload(application):
    return Application.objects.get(pk=application.pk)


def opinion(application, user, **overrides):
    kwargs = {
        "by": user,
        "opinion": "favourable",
        "motivation": "Projet solide, PCRA complet.",
        "proposed_amount": Decimal("80000"),
        **overrides,
    }
    return instruction.validate_regional(application, **kwargs)


# --- take and reassign ----------------------------------------------------------------------


def test_an_agent_takes_an_application(application, ars_user):
    instruction.take(application, by=ars_user)
    stored = reload(application)
    assert stored.assigned_to == ars_user
    assert stored.assigned_at is not None
    assert stored.status == "regional_review"
    event = AuditEvent.objects.get(object_id=str(application.public_id), details__move="take")
    assert event.actor == ars_user


@pytest.mark.parametrize("persona", ["other_region_ars_user", "ministry_user", "hospital_user"])
def test_only_the_regions_agents_take(request, application, persona):
    with pytest.raises(TransitionForbidden):
        instruction.take(application, by=request.getfixturevalue(persona))
    assert reload(application).assigned_to is None


def test_an_application_is_not_taken_outside_instruction(application, ars_user):
    Application.objects.filter(pk=application.pk).update(status="approved")
    application.refresh_from_db()
    with pytest.raises(TransitionNotAllowed, match="ne peut pas être prise en charge"):
        instruction.take(application, by=ars_user)


def test_reassign_to_a_colleague_of_the_same_ars(application, ars_user, colleague):
    instruction.take(application, by=ars_user)
    instruction.reassign(application, by=ars_user, to=colleague)
    assert reload(application).assigned_to == colleague
    assert AuditEvent.objects.filter(details__move="reassign", details__to=colleague.email).exists()


@pytest.mark.parametrize("persona", ["other_region_ars_user", "ministry_user", "hospital_user"])
def test_reassign_only_to_a_colleague(request, application, ars_user, persona):
    other = request.getfixturevalue(persona)
    with pytest.raises(TransitionForbidden, match="n'est pas un agent de l'ARS"):
        instruction.reassign(application, by=ars_user, to=other)
    assert reload(application).assigned_to is None


def test_reassign_refuses_an_inactive_or_conflicted_colleague(application, ars_user, colleague):
    conflict_declare(user=colleague, legal_entity_id=application.candidate_id, reason="Conjoint")
    with pytest.raises(ConflictOfInterest, match="conflit d'intérêts"):
        instruction.reassign(application, by=ars_user, to=colleague)
    colleague.is_active = False
    colleague.save()
    with pytest.raises(TransitionForbidden):
        instruction.reassign(application, by=ars_user, to=colleague)


def test_colleagues_are_the_active_agents_of_the_region(
    application, ars_user, colleague, other_region_ars_user, ministry_user
):
    assert set(instruction.colleagues(application)) == {ars_user, colleague}


# --- notes -------------------------------------------------------------------------------------


def test_notes_are_written_by_agents_only(application, ars_user, other_region_ars_user):
    note = instruction.add_note(application, by=ars_user, body="  À voir avec la DSI.  ")
    assert note.body == "À voir avec la DSI." and note.author == ars_user
    with pytest.raises(CommentRequired):
        instruction.add_note(application, by=ars_user, body="   ")
    with pytest.raises(TransitionForbidden):
        instruction.add_note(application, by=other_region_ars_user, body="Intrus")
    assert InstructionNote.objects.count() == 1


# --- the opinion, sent to the ministry ---------------------------------------------------------


def test_the_opinion_sends_the_application_to_the_ministry(application, ars_user):
    review = opinion(application, ars_user, opinion="reserved")
    stored = reload(application)
    assert stored.status == "national_review"
    assert stored.regional_opinion == "reserved"
    assert stored.proposed_amount == Decimal("80000")
    assert review.author == ars_user and review.motivation == "Projet solide, PCRA complet."
    transition = stored.transitions.latest("created_at", "id")
    assert (transition.from_status, transition.to_status, transition.actor) == (
        "regional_review",
        "national_review",
        ars_user,
    )


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"opinion": "enthousiaste"}, ApplicationError, "Choisissez un avis"),
        ({"motivation": "   "}, CommentRequired, "motivation"),
        ({"proposed_amount": None}, AmountRefused, "supérieur à 0"),
        ({"proposed_amount": Decimal("0")}, AmountRefused, "supérieur à 0"),
        ({"proposed_amount": Decimal("-5")}, AmountRefused, "supérieur à 0"),
        ({"proposed_amount": Decimal("100000.01")}, AmountRefused, "dépasse le montant demandé"),
    ],
)
def test_each_rule_of_the_opinion(application, ars_user, overrides, error, message):
    with pytest.raises(error, match=message):
        opinion(application, ars_user, **overrides)
    stored = reload(application)
    assert stored.status == "regional_review" and stored.regional_opinion == ""
    assert not RegionalReview.objects.exists()


def test_the_requested_amount_itself_may_be_proposed(application, ars_user):
    opinion(application, ars_user, proposed_amount=Decimal("100000"))
    assert reload(application).proposed_amount == Decimal("100000")


def test_the_opinion_is_one_transaction(application, ars_user, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disque plein")

    monkeypatch.setattr(RegionalReview.objects, "create", broken)
    with pytest.raises(RuntimeError):
        opinion(application, ars_user)
    stored = reload(application)
    assert stored.status == "regional_review"
    assert stored.transitions.count() == 1


def test_no_opinion_outside_regional_review(application, ars_user):
    opinion(application, ars_user)
    with pytest.raises(TransitionNotAllowed, match="Instruction nationale"):
        opinion(application, ars_user)
    assert RegionalReview.objects.count() == 1


@pytest.mark.parametrize("persona", ["other_region_ars_user", "ministry_user", "hospital_user"])
def test_only_the_regions_agents_give_an_opinion(request, application, persona):
    with pytest.raises(TransitionForbidden):
        opinion(application, request.getfixturevalue(persona))
    assert reload(application).status == "regional_review"


# --- the return for complements -------------------------------------------------------------


def test_a_return_carries_the_request_and_the_due_date(application, ars_user):
    instruction.return_regional(
        application, by=ars_user, request="Joignez le PRA signé.", due_on=TOMORROW
    )
    stored = reload(application)
    assert stored.status == "returned"
    assert stored.return_due_on == TOMORROW
    message = Message.objects.get(application=application)
    assert message.is_return_request and message.body == "Joignez le PRA signé."


@pytest.mark.parametrize("days", [0, -1])
def test_the_due_date_must_be_in_the_future(application, ars_user, days):
    due_on = timezone.localdate() + timedelta(days=days)
    with pytest.raises(ApplicationError, match="postérieure à aujourd'hui"):
        instruction.return_regional(application, by=ars_user, request="PRA", due_on=due_on)
    with pytest.raises(ApplicationError, match="postérieure à aujourd'hui"):
        instruction.return_regional(application, by=ars_user, request="PRA", due_on=None)
    assert reload(application).status == "regional_review"


def test_a_return_needs_a_request(application, ars_user):
    with pytest.raises(CommentRequired):
        instruction.return_regional(application, by=ars_user, request="  ", due_on=TOMORROW)
    assert not Message.objects.exists()


# --- conflicts of interest ------------------------------------------------------------------


def test_conflict_blocks_every_instruction_act(application, ars_user):
    covered = application.coverages.get(legal_entity__name="EHPAD couvert").legal_entity
    conflict_declare(user=ars_user, legal_entity_id=covered.pk, reason="Ancienne directrice")
    acts = [
        lambda: instruction.take(application, by=ars_user),
        lambda: instruction.add_note(application, by=ars_user, body="Note"),
        lambda: opinion(application, ars_user),
        lambda: instruction.return_regional(
            application, by=ars_user, request="PRA", due_on=TOMORROW
        ),
    ]
    for act in acts:
        with pytest.raises(ConflictOfInterest):
            act()
    assert reload(application).status == "regional_review"


def test_a_member_of_the_candidate_cannot_instruct(application, ars_user):
    MembershipFactory(
        user=ars_user, role=Membership.Role.ESTABLISHMENT, legal_entity=application.candidate
    )
    assert not instruction.can_instruct(ars_user, application)
    with pytest.raises(ConflictOfInterest):
        instruction.take(application, by=ars_user)


def test_recusal_records_the_declaration_and_releases_the_application(application, ars_user):
    instruction.take(application, by=ars_user)
    declaration = instruction.recuse(
        application, by=ars_user, legal_entity_id=application.candidate_id, reason="Mon conjoint"
    )
    assert declaration.user == ars_user and declaration.reason == "Mon conjoint"
    assert reload(application).assigned_to is None
    assert not instruction.can_instruct(ars_user, application)
    with pytest.raises(ConflictOfInterest):
        instruction.take(application, by=ars_user)


def test_recusal_is_for_an_entity_of_the_application_with_a_reason(application, ars_user):
    stranger = LegalEntityFactory(name="Sans rapport")
    with pytest.raises(ApplicationError, match="entité couverte"):
        instruction.recuse(
            application, by=ars_user, legal_entity_id=stranger.pk, reason="Sans rapport"
        )
    with pytest.raises(ConflictOfInterest, match="motif"):
        instruction.recuse(
            application, by=ars_user, legal_entity_id=application.candidate_id, reason=" "
        )
    assert not ConflictDeclaration.objects.exists()


# --- the pages: scope ----------------------------------------------------------------------


def test_the_regions_agent_and_the_ministry_read_the_page(
    client, application, ars_user, ministry_user
):
    client.force_login(ars_user)
    html = client.get(url("detail", application)).content.decode()
    assert "Envoyer l'avis au ministère" in html
    assert "Je prends cette candidature" in html

    client.force_login(ministry_user)
    response = client.get(url("detail", application))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Candidature {application.reference}" in html
    assert "Envoyer l'avis au ministère" not in html
    assert "Je prends cette candidature" not in html


@pytest.mark.parametrize(
    "persona", ["other_region_ars_user", "hospital_user", "other_hospital_user"]
)
def test_the_page_is_404_outside_the_region(client, request, application, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url("detail", application)).status_code == 404


ACTS = {
    "take": {},
    "reassign": {"reassign-agent": ""},
    "note": {"note-body": "Note"},
    "opinion": {
        "opinion-opinion": "favourable",
        "opinion-motivation": "Bien",
        "opinion-proposed_amount": "1000",
    },
    "return": {"return-request": "PRA", "return-due_on": TOMORROW.isoformat()},
    "recuse": {"recuse-reason": "Conjoint"},
    "message": {"body": "Bonjour"},
}


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize(
    ("persona", "status"),
    [("other_region_ars_user", 404), ("hospital_user", 404), ("ministry_user", 403)],
)
def test_acts_are_for_the_regions_agents_only(client, request, application, act, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.post(url(act, application), ACTS[act]).status_code == status
    stored = reload(application)
    assert stored.status == "regional_review" and stored.assigned_to is None
    assert not InstructionNote.objects.exists() and not Message.objects.exists()
    assert not ConflictDeclaration.objects.exists()


@pytest.mark.parametrize("act", ACTS)
def test_acts_refuse_get(client, application, ars_user, act):
    client.force_login(ars_user)
    assert client.get(url(act, application)).status_code == 405


# --- the pages: acts -------------------------------------------------------------------------


def test_take_and_reassign_through_the_page(client, application, ars_user, colleague):
    client.force_login(ars_user)
    response = client.post(url("take", application), follow=True)
    assert "Vous instruisez désormais la candidature" in response.content.decode()
    assert reload(application).assigned_to == ars_user

    response = client.post(
        url("reassign", application), {"reassign-agent": str(colleague.public_id)}, follow=True
    )
    assert "Candidature attribuée à Gaston Lagaffe" in response.content.decode()
    assert reload(application).assigned_to == colleague


def test_reassign_to_an_outsider_is_an_error_at_the_field(
    client, application, ars_user, other_region_ars_user
):
    client.force_login(ars_user)
    response = client.post(
        url("reassign", application), {"reassign-agent": str(other_region_ars_user.public_id)}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_reassign-agent_error"' in html
    assert "Cet agent n&#x27;appartient pas à l&#x27;ARS de la région du candidat." in html


def test_notes_are_private(client, application, ars_user, hospital_user, ministry_user):
    client.force_login(ars_user)
    response = client.post(url("note", application), {"note-body": "Dossier fragile côté PRA."})
    assert response.status_code == 302
    assert "Dossier fragile côté PRA." in client.get(url("detail", application)).content.decode()
    client.force_login(ministry_user)
    assert "Dossier fragile côté PRA." in client.get(url("detail", application)).content.decode()

    # The applicant's pages never show it, before and after a return.
    applicant_url = reverse("applications:application-detail", args=[application.public_id])
    client.force_login(hospital_user)
    assert "Dossier fragile" not in client.get(applicant_url).content.decode()
    instruction.return_regional(application, by=ars_user, request="PRA signé", due_on=TOMORROW)
    for name in ("application-detail", "application-answers", "application-budget"):
        page = client.get(reverse(f"applications:{name}", args=[application.public_id]))
        assert page.status_code == 200
        assert "Dossier fragile" not in page.content.decode()


def test_an_empty_note_is_an_error_at_the_field(client, application, ars_user):
    client.force_login(ars_user)
    response = client.post(url("note", application), {"note-body": "  "})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_note-body_error"' in html
    assert "Écrivez la note avant de l&#x27;enregistrer." in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"opinion-proposed_amount": "150000"}, "proposed_amount", "dépasse le montant demandé"),
        ({"opinion-proposed_amount": "0"}, "proposed_amount", "supérieur à 0"),
        ({"opinion-proposed_amount": "beaucoup"}, "proposed_amount", "Indiquez un montant"),
        ({"opinion-motivation": ""}, "motivation", "La motivation de l&#x27;avis est obligatoire"),
        ({"opinion-opinion": "ravi"}, "opinion", "Sélectionnez un choix valide"),
    ],
)
def test_opinion_errors_are_shown_at_the_field(client, application, ars_user, data, field, message):
    client.force_login(ars_user)
    posted = {
        "opinion-opinion": "favourable",
        "opinion-motivation": "Bien",
        "opinion-proposed_amount": "50000",
        **data,
    }
    response = client.post(url("opinion", application), posted)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_opinion-{field}_error' in html or f'id="id_opinion-{field}_0' in html
    assert message in html
    assert 'id="error-summary"' in html
    assert reload(application).status == "regional_review"


def test_a_french_amount_with_a_comma_is_accepted(client, application, ars_user):
    client.force_login(ars_user)
    response = client.post(
        url("opinion", application),
        {
            "opinion-opinion": "unfavourable",
            "opinion-motivation": "Budget surévalué.",
            "opinion-proposed_amount": "42000,50",
        },
    )
    assert response.status_code == 302
    assert reload(application).proposed_amount == Decimal("42000.50")


def test_a_past_due_date_is_an_error_at_the_field(client, application, ars_user):
    client.force_login(ars_user)
    response = client.post(
        url("return", application),
        {"return-request": "PRA", "return-due_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_return-due_on_error"' in html
    assert "postérieure à aujourd&#x27;hui" in html
    assert reload(application).status == "regional_review"


def test_the_return_due_date_is_shown_to_the_applicant(
    client, application, ars_user, hospital_user
):
    due_on = timezone.localdate() + timedelta(days=20)
    client.force_login(ars_user)
    response = client.post(
        url("return", application),
        {"return-request": "Joignez le PRA signé.", "return-due_on": due_on.isoformat()},
    )
    assert response.status_code == 302
    assert reload(application).status == "returned"

    client.force_login(hospital_user)
    html = client.get(
        reverse("applications:application-detail", args=[application.public_id])
    ).content.decode()
    with translation.override("fr"):
        shown = date_filter(due_on, "j F Y")
    assert "Joignez le PRA signé." in html
    assert f"Compléments attendus au plus tard le {shown}." in html
    assert html.index("Compléments demandés") < html.index("Joignez le PRA signé.")


def test_recusal_through_the_page_blocks_the_acts(client, application, ars_user):
    client.force_login(ars_user)
    response = client.post(
        url("recuse", application),
        {"recuse-legal_entity": str(application.candidate.public_id), "recuse-reason": "Conjoint"},
        follow=True,
    )
    html = response.content.decode()
    assert "Votre déport est enregistré" in html
    assert "Conflit d'intérêts" in html
    assert "Envoyer l'avis au ministère" not in html
    assert "Je prends cette candidature" not in html

    response = client.post(url("opinion", application), ACTS["opinion"], follow=True)
    assert "vous ne pouvez ni l&#x27;instruire ni la décider" in response.content.decode()
    assert reload(application).status == "regional_review"
    # The queue marks it.
    queue = client.get("/instruction/").content.decode()
    assert application.reference in queue and "Conflit d'intérêts" in queue


def test_recusal_needs_a_reason_at_the_field(client, application, ars_user):
    client.force_login(ars_user)
    response = client.post(
        url("recuse", application),
        {"recuse-legal_entity": str(application.candidate.public_id), "recuse-reason": ""},
    )
    assert response.status_code == 400
    assert 'id="id_recuse-reason_error"' in response.content.decode()
    assert not ConflictDeclaration.objects.exists()


def test_an_agent_writes_to_the_applicant(client, application, ars_user):
    client.force_login(ars_user)
    response = client.post(url("message", application), {"body": "Pouvez-vous préciser ?"})
    assert response.status_code == 302
    message = Message.objects.get()
    assert response["Location"].endswith(f"#message-{message.public_id}")
    assert message.author == ars_user and not message.is_return_request
    empty = client.post(url("message", application), {"body": ""})
    assert empty.status_code == 400
    assert "Écrivez votre message avant de l&#x27;envoyer." in empty.content.decode()


def test_the_page_runs_a_bounded_number_of_queries(
    client, application, ars_user, django_assert_max_num_queries
):
    for index in range(5):
        instruction.add_note(application, by=ars_user, body=f"Note {index}")
    client.force_login(ars_user)
    with django_assert_max_num_queries(40):
        assert client.get(url("detail", application)).status_code == 200


# --- the full path through the pages --------------------------------------------------------


def test_full_path_from_scoring_to_the_ministry_through_the_pages(client, hospital, ars_user):
    application = make_dossier_application(hospital)
    assert application.status == Status.REGIONAL_REVIEW  # scored eligible
    dossier = dossier_render(application_id=application.pk)
    assert dossier is not None and dossier.status == Dossier.Status.DONE

    client.force_login(ars_user)
    queue = client.get("/instruction/").content.decode()
    assert url("detail", application) in queue

    page = client.get(url("detail", application))
    html = page.content.decode()
    assert (
        reverse("applications:dossier-download", args=[application.public_id, dossier.public_id])
        in html
    )
    assert "Règles d'éligibilité" in html  # the breakdown
    assert "Volet 1 des entités couvertes" in html
    for coverage in application.coverages.select_related("legal_entity"):
        assert coverage.legal_entity.name in html
    assert "Rédaction des PCRA" in html  # the budget
    assert "piece-0.pdf" in html  # the evidence

    assert client.post(url("take", application)).status_code == 302
    response = client.post(
        url("opinion", application),
        {
            "opinion-opinion": "favourable",
            "opinion-motivation": "Dossier complet, PCRA testés.",
            "opinion-proposed_amount": "200000",
        },
        follow=True,
    )
    assert "est envoyée au ministère" in response.content.decode()
    stored = reload(application)
    assert stored.status == Status.NATIONAL_REVIEW
    assert stored.assigned_to == ars_user
    assert stored.regional_opinion == "favourable"
    assert stored.proposed_amount == Decimal("200000")
    review = RegionalReview.objects.get(application=application)
    assert review.motivation == "Dossier complet, PCRA testés."
    sent = client.get("/instruction/", {"tab": "sent"}).content.decode()
    assert application.reference in sent
