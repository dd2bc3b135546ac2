"""The applicant pages: who opens what, each section saved, submission once, evidence
files through scoped views, and a constant number of queries per page."""

import io
from datetime import timedelta
from decimal import Decimal
from html import unescape as html_unescape
from pathlib import Path

import pikepdf
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from applications.drafting import application_start, application_submit
from applications.lifecycle import application_transition
from applications.models import (
    Answer,
    Application,
    CeilingBracket,
    Evidence,
    Message,
    Transition,
)
from applications.scoring import application_score

from ..factories import (
    ApplicationFactory,
    FundingCallFactory,
    GHTFactory,
    LegalEntityFactory,
    MembershipFactory,
    RequirementFactory,
    UserFactory,
    make_finess,
)
from .test_applicant import IDENTITY, fill, filled_and_submitted, plan_and_objective_call
from .test_eligibility import volet1

OBJECT_PAGES = (
    "application-detail",
    "application-identity",
    "application-answers",
    "application-budget",
    "application-submit",
    "application-withdraw",
)
OUTSIDERS = ("other_hospital_user", "other_region_ars_user", "user_without_membership")


@pytest.fixture
def call(db):
    return plan_and_objective_call(
        code="D2-2025",
        title="Continuité et reprise d'activité 2025",
        prerequisite={
            "label": "Disposer d'un plan de continuité",
            "target": "Un PCRA par service critique",
        },
    )


@pytest.fixture
def draft(call, hospital, hospital_user):
    return application_start(call=call, candidate=hospital, by=hospital_user)


@pytest.fixture
def submitted(draft, hospital_user):
    return filled_and_submitted(draft, hospital_user)


def url(name, application, *args):
    return reverse(f"applications:{name}", args=[application.public_id, *args])


def evidence_of(application):
    return Evidence.objects.filter(application=application).first()


def small_pdf() -> bytes:
    buffer = io.BytesIO()
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.save(buffer)
    return buffer.getvalue()


def add_evidence(application, answer, user, name="preuve.pdf"):
    return Evidence.objects.create(
        application=application,
        answer=answer,
        file=ContentFile(b"%PDF-1.4 test", name=name),
        original_name=name,
        content_type="application/pdf",
        size=13,
        sha256="a" * 64,
        uploaded_by=user,
    )


# --- Who opens what ----------------------------------------------------------------------


def test_every_page_renders_for_the_candidates_user_on_a_draft(client, draft, hospital_user):
    client.force_login(hospital_user)
    assert client.get(reverse("applications:application-list")).status_code == 200
    for name in OBJECT_PAGES:
        response = client.get(url(name, draft))
        assert response.status_code == 200, name
    assert client.get(url("application-detail", draft)).templates[0].name == (
        "applications/application_overview.html"
    )


@pytest.mark.parametrize("persona", [*OUTSIDERS, "ars_user", "ministry_user"])
def test_a_draft_is_404_for_everyone_but_the_candidates_users(client, request, draft, persona):
    evidence = add_evidence(draft, draft.answers.first(), None)
    client.force_login(request.getfixturevalue(persona))
    for name in OBJECT_PAGES:
        assert client.get(url(name, draft)).status_code == 404, name
    assert client.get(url("evidence-download", draft, evidence.public_id)).status_code == 404
    posts = {
        url("message-create", draft): {"body": "Intrus"},
        url("evidence-upload", draft): {"answer": evidence.answer_id},
        url("evidence-delete", draft, evidence.public_id): {},
        url("application-withdraw", draft): {},
        url("application-submit", draft): {"sworn": "on", "accept_ineligible": "on"},
        url("application-identity", draft): IDENTITY,
    }
    for target, data in posts.items():
        assert client.post(target, data).status_code == 404, target
    assert Evidence.objects.filter(pk=evidence.pk).exists()
    draft.refresh_from_db()
    assert draft.status == "draft" and not draft.director_name


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_a_submitted_application_stays_404_for_outsiders(client, request, submitted, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url("application-detail", submitted)).status_code == 404
    evidence = evidence_of(submitted)
    assert client.get(url("evidence-download", submitted, evidence.public_id)).status_code == 404
    listed = client.get(reverse("applications:application-list")).context["rows"]
    assert listed == []


@pytest.mark.parametrize("persona", ["ars_user", "ministry_user"])
def test_instructors_see_the_read_only_view_after_submission(client, request, submitted, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(url("application-detail", submitted))
    assert response.status_code == 200
    assert response.templates[0].name == "applications/application_detail.html"
    content = response.content.decode()
    assert "Claire Directrice" in content and "Rédaction du PCA" in content
    assert "Retirer la candidature" not in content
    # Editing pages send them back to the read-only view.
    response = client.get(url("application-identity", submitted))
    assert response.status_code == 302 and response["Location"] == url(
        "application-detail", submitted
    )
    rows = client.get(reverse("applications:application-list")).context["rows"]
    assert rows == [submitted]


def test_unknown_application_is_404(client, hospital_user):
    client.force_login(hospital_user)
    assert client.get("/candidatures/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_pages_require_login(client, draft):
    response = client.get(url("application-detail", draft))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_post_only_views_refuse_get(client, draft, hospital_user):
    evidence = add_evidence(draft, draft.answers.first(), hospital_user)
    client.force_login(hospital_user)
    for target in (
        reverse("applications:application-start"),
        url("message-create", draft),
        url("evidence-upload", draft),
        url("evidence-delete", draft, evidence.public_id),
    ):
        assert client.get(target).status_code == 405, target


# --- "Mes candidatures" and starting a draft ---------------------------------------------


def test_my_applications_lists_the_open_call_with_a_start_button(
    client, call, hospital, hospital_user
):
    FundingCallFactory(
        code="D1-2024",
        title="Appel clos",
        opens_at=timezone.now() - timedelta(days=90),
        closes_at=timezone.now() - timedelta(days=30),
    )
    client.force_login(hospital_user)
    response = client.get(reverse("applications:application-list"))
    content = response.content.decode()
    assert "Appels ouverts" in content
    assert "Continuité et reprise d&#x27;activité 2025" in content
    assert "Appel clos" not in content
    assert "Commencer ma candidature" in content
    assert f'value="{hospital.public_id}"' in content

    response = client.post(
        reverse("applications:application-start"),
        {"call": call.public_id, "candidate": hospital.public_id},
    )
    application = Application.objects.get(call=call, candidate=hospital)
    assert response.status_code == 302
    assert response["Location"] == url("application-detail", application)
    assert application.status == "draft" and application.answers.count() == 2
    # The list now shows it, with its next step, and a link to continue.
    response = client.get(reverse("applications:application-list"))
    content = response.content.decode()
    assert "Continuer ma candidature" in content and "Commencer ma candidature" not in content
    assert response.context["rows"] == [application]
    assert "Compléter et déposer avant le" in content


def test_start_refuses_an_entity_of_another_establishment(
    client, call, hospital_user, other_hospital
):
    client.force_login(hospital_user)
    response = client.post(
        reverse("applications:application-start"),
        {"call": call.public_id, "candidate": other_hospital.public_id},
    )
    assert response.status_code == 404
    assert not Application.objects.exists()


def test_a_ght_member_sees_why_it_cannot_file_alone(client, call):
    ght = GHTFactory(name="GHT Rhône Nord")
    LegalEntityFactory(ght=ght, is_ght_support=True, name="CH support de Villefranche")
    member = LegalEntityFactory(ght=ght, name="CH membre de Tarare")
    user = UserFactory()
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=member)
    client.force_login(user)
    content = client.get(reverse("applications:application-list")).content.decode()
    assert "CH support de Villefranche" in content
    assert "Commencer ma candidature" not in content
    # A forged POST gets the same reason, as a message, and creates nothing.
    response = client.post(
        reverse("applications:application-start"),
        {"call": call.public_id, "candidate": member.public_id},
        follow=True,
    )
    assert "CH support de Villefranche" in response.content.decode()
    assert not Application.objects.exists()


# --- Sections ------------------------------------------------------------------------------


def test_identity_saves_even_incomplete_and_goes_to_the_next_section(client, draft, hospital_user):
    client.force_login(hospital_user)
    response = client.post(
        url("application-identity", draft),
        {"director_name": "Claire Directrice", "director_email": "direction@ch.test"},
    )
    assert response.status_code == 302
    assert response["Location"] == url("application-answers", draft)
    draft.refresh_from_db()
    assert draft.director_name == "Claire Directrice" and draft.rssi_name == ""
    # What is missing is a warning on the page, linked to its field, not an error.
    content = client.get(url("application-identity", draft)).content.decode()
    assert "points à compléter avant le dépôt" in content
    assert "#id_rssi_name" in content
    assert 'role="alert"' not in content


def test_identity_rejects_an_invalid_email_at_the_field(client, draft, hospital_user):
    client.force_login(hospital_user)
    response = client.post(
        url("application-identity", draft),
        {"director_name": "Claire", "rssi_email": "pas-un-courriel"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="error-summary"' in content and 'href="#id_rssi_email"' in content
    assert 'aria-invalid="true"' in content
    draft.refresh_from_db()
    assert draft.director_name == ""  # nothing half-saved


def test_answers_are_saved_per_requirement(client, draft, hospital_user):
    client.force_login(hospital_user)
    answers = {a.requirement.identifier: a for a in draft.answers.select_related("requirement")}
    p1, o1 = answers["D2.P1"], answers["D2.O1"]
    page = client.get(url("application-answers", draft)).content.decode()
    assert "D2.P1 – Disposer d&#x27;un plan de continuité" in page
    assert "Un PCRA par service critique" in page
    assert f'id="answer-{p1.requirement_id}"' in page
    response = client.post(
        url("application-answers", draft),
        {
            f"answer-{p1.requirement_id}-state": "met",
            f"answer-{p1.requirement_id}-comment": "PCRA signé en mars",
            f"answer-{o1.requirement_id}-state": "in_progress",
            f"answer-{o1.requirement_id}-comment": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == url("application-budget", draft)
    p1.refresh_from_db()
    o1.refresh_from_db()
    assert (p1.state, p1.comment) == ("met", "PCRA signé en mars")
    assert o1.state == "in_progress"


def test_an_unknown_answer_state_is_an_error_at_the_field(client, draft, hospital_user):
    client.force_login(hospital_user)
    answer = draft.answers.first()
    response = client.post(
        url("application-answers", draft), {f"answer-{answer.requirement_id}-state": "maybe"}
    )
    assert response.status_code == 200
    assert f'href="#id_answer-{answer.requirement_id}-state_0"' in response.content.decode()
    answer.refresh_from_db()
    assert answer.state == ""


def budget_post(rows, initial=0):
    data = {
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": str(initial),
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{i}-{key}"] = value
    return data


def test_budget_lines_are_saved_with_their_total(client, draft, hospital_user):
    client.force_login(hospital_user)
    response = client.get(url("application-budget", draft))
    assert len(response.context["formset"].forms) == 3  # three empty rows
    rows = [
        {"category": "consulting", "description": "Rédaction du PCA", "amount": "40000"},
        {"category": "hardware", "description": "Sauvegarde hors ligne", "amount": "25000,50"},
        {"category": "", "description": "", "amount": ""},  # an empty extra row
    ]
    response = client.post(url("application-budget", draft), budget_post(rows))
    assert response.status_code == 302
    assert response["Location"] == url("application-submit", draft)
    draft.refresh_from_db()
    assert str(draft.requested_amount) == "65000.50"
    assert draft.budget_lines.count() == 2
    page = client.get(url("application-budget", draft))
    assert len(page.context["formset"].forms) == 5  # the two lines and three empty rows
    assert "65 000,50" in page.content.decode().replace("\xa0", " ").replace("\u202f", " ")

    # Deleting a line.
    rows = [
        {"category": "consulting", "description": "Rédaction du PCA", "amount": "40000"},
        {
            "category": "hardware",
            "description": "Sauvegarde hors ligne",
            "amount": "25000.50",
            "DELETE": "on",
        },
    ]
    client.post(url("application-budget", draft), budget_post(rows, initial=2))
    draft.refresh_from_db()
    assert str(draft.requested_amount) == "40000.00"


def test_a_negative_or_incomplete_budget_line_is_an_error(client, draft, hospital_user):
    client.force_login(hospital_user)
    rows = [
        {"category": "consulting", "description": "Conseil", "amount": "-5"},
        {"category": "", "description": "Sans catégorie", "amount": "10"},
    ]
    response = client.post(url("application-budget", draft), budget_post(rows))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'href="#id_lines-0-amount"' in content and 'href="#id_lines-1-category"' in content
    assert not draft.budget_lines.exists()


def test_a_budget_total_too_large_for_the_requested_amount_is_an_error(
    client, draft, hospital_user
):
    """Each line fits in 12 digits, their total does not: an error on the page, not a
    numeric overflow (a 500 on PostgreSQL) when the total is stored."""
    client.force_login(hospital_user)
    rows = [
        {"category": "consulting", "description": "Conseil", "amount": "9999999999,99"},
        {"category": "hardware", "description": "Matériel", "amount": "9999999999,99"},
    ]
    response = client.post(url("application-budget", draft), budget_post(rows))
    assert response.status_code == 200
    content = response.content.decode().replace("\xa0", " ").replace("\u202f", " ")
    assert 'id="error-summary"' in content and 'href="#budget-lines"' in content
    assert "dépasse le montant maximal d&#x27;une demande (9 999 999 999,99 €)" in content
    draft.refresh_from_db()
    assert draft.requested_amount == 0 and not draft.budget_lines.exists()
    # The largest total that fits is accepted.
    rows[1]["amount"] = "0"
    assert client.post(url("application-budget", draft), budget_post(rows)).status_code == 302
    draft.refresh_from_db()
    assert str(draft.requested_amount) == "9999999999.99"


def test_more_than_200_budget_lines_are_refused_with_a_message(client, draft, hospital_user):
    client.force_login(hospital_user)
    rows = [
        {"category": "other", "description": f"Dépense {i}", "amount": "10"} for i in range(250)
    ]
    response = client.post(url("application-budget", draft), budget_post(rows))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'href="#budget-lines"' in content
    assert "Un budget compte au plus 200 lignes" in content
    draft.refresh_from_db()
    assert draft.requested_amount == 0 and not draft.budget_lines.exists()
    # 200 lines are accepted, and the page then shows no more than them.
    assert client.post(url("application-budget", draft), budget_post(rows[:200])).status_code == 302
    assert draft.budget_lines.count() == 200
    page = client.get(url("application-budget", draft))
    assert len(page.context["formset"].forms) == 200


def test_a_post_claiming_thousands_of_budget_lines_builds_no_more_than_200(
    client, draft, hospital_user
):
    """Found by the property tests: a small post saying TOTAL_FORMS=5000 used to build and
    re-render 1,200 rows (2.3 MB, seconds of work); the formset now stops at 200."""
    client.force_login(hospital_user)
    response = client.post(
        url("application-budget", draft), {"lines-TOTAL_FORMS": "5000", "lines-INITIAL_FORMS": "0"}
    )
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 200
    assert "Un budget compte au plus 200 lignes" in response.content.decode()
    assert len(response.content) < 800_000


def test_the_budget_page_shows_the_stored_requested_amount(client, draft, hospital_user):
    """The total shown is `requested_amount`, the one value written with the lines (and
    read by eligibility and the PDF), not a sum made again by the page."""
    client.force_login(hospital_user)
    rows = [{"category": "consulting", "description": "Conseil", "amount": "40000"}]
    client.post(url("application-budget", draft), budget_post(rows))
    Application.objects.filter(pk=draft.pk).update(requested_amount="41000")
    content = client.get(url("application-budget", draft)).content.decode()
    total = content.split('id="budget-total">', 1)[1].split("</td>", 1)[0]
    assert total.replace("\u202f", " ").replace("\xa0", " ") == "41 000,00&nbsp;€"


def test_an_email_longer_than_its_column_is_an_error_at_the_field(client, draft, hospital_user):
    """A 311-character address is valid for the e-mail format but longer than the
    column (254): an error at the field, not a 500 (PostgreSQL refuses the value)."""
    from applications.forms import IdentityForm

    address = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".fr"
    assert len(address) == 311
    client.force_login(hospital_user)
    response = client.post(
        url("application-identity", draft), {"director_name": "Claire", "director_email": address}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="error-summary"' in content and 'href="#id_director_email"' in content
    assert "au plus 254 caractères" in content
    draft.refresh_from_db()
    assert draft.director_name == "" and draft.director_email == ""
    # The lengths are the model's, and nothing is required while drafting.
    for name, field in IdentityForm().fields.items():
        assert field.max_length == Application._meta.get_field(name).max_length, name
        assert not field.required, name


def test_an_empty_or_partial_answers_post_keeps_the_other_answers(client, draft, hospital_user):
    """A requirement whose controls are not in the post keeps its answer and comment: a
    missing key is not "cleared"."""
    client.force_login(hospital_user)
    answers = {a.requirement.identifier: a for a in draft.answers.select_related("requirement")}
    p1, o1 = answers["D2.P1"], answers["D2.O1"]
    Answer.objects.filter(pk=p1.pk).update(state="met", comment="PCRA signé en mars")
    Answer.objects.filter(pk=o1.pk).update(state="in_progress", comment="Tests en juin")

    def stored(answer):
        answer.refresh_from_db()
        return answer.state, answer.comment

    response = client.post(url("application-answers", draft), {})
    assert response.status_code == 302
    assert stored(p1) == ("met", "PCRA signé en mars")
    assert stored(o1) == ("in_progress", "Tests en juin")
    # Only O1 posted (its radio unchecked, its comment emptied): only O1 changes.
    response = client.post(
        url("application-answers", draft), {f"answer-{o1.requirement_id}-comment": ""}
    )
    assert response.status_code == 302
    assert stored(p1) == ("met", "PCRA signé en mars")
    assert stored(o1) == ("", "")
    # An error on a posted requirement re-renders every requirement, the others as saved.
    response = client.post(
        url("application-answers", draft), {f"answer-{o1.requirement_id}-state": "maybe"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert f'href="#id_answer-{o1.requirement_id}-state_0"' in content
    assert f'id="answer-{p1.requirement_id}"' in content and "PCRA signé en mars" in content


# --- Submission --------------------------------------------------------------------------


def test_submitting_an_incomplete_application_shows_the_error_summary(client, draft, hospital_user):
    client.force_login(hospital_user)
    page = client.get(url("application-submit", draft)).content.decode()
    assert "Avant de déposer, corrigez les points suivants" in page
    assert url("application-identity", draft) + "#id_director_name" in page
    response = client.post(
        url("application-submit", draft), {"sworn": "on", "accept_ineligible": "on"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="error-summary"' in content and 'role="alert"' in content
    assert "a pas été déposée : corrigez les points suivants" in content
    assert url("application-budget", draft) + "#id_lines-0-category" in content
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not Transition.objects.exists()


def test_submitting_without_the_sworn_statement_points_to_the_checkbox(
    client, draft, hospital_user
):
    fill(draft, hospital_user)
    client.force_login(hospital_user)
    response = client.post(url("application-submit", draft), {})
    content = response.content.decode()
    assert response.status_code == 200
    assert "#id_sworn" in content and "La déclaration sur l&#x27;honneur est obligatoire" in content
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_complete_application_is_submitted_once(client, draft, hospital_user):
    fill(draft, hospital_user)
    client.force_login(hospital_user)
    response = client.post(
        url("application-submit", draft), {"sworn": "on", "accept_ineligible": "on"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("application-detail", draft)
    draft.refresh_from_db()
    assert draft.status == "submitted" and draft.sworn_by == hospital_user
    # A replayed POST (double click, back button) redirects with an information.
    response = client.post(
        url("application-submit", draft), {"sworn": "on", "accept_ineligible": "on"}, follow=True
    )
    assert response.redirect_chain == [(url("application-detail", draft), 302)]
    assert "a déjà été déposée" in response.content.decode()
    assert Transition.objects.filter(application=draft).count() == 1
    # The history shows the submission.
    assert "Brouillon" in response.content.decode() and "Déposée" in response.content.decode()


# --- The eligibility preview and the outcome after submission ------------------------------


def make_eligible(application):
    """Volet 1 reached by the candidate and a ceiling above the requested amount."""
    volet1(application.candidate)
    CeilingBracket.objects.create(call=application.call, min_staff=0, ceiling=Decimal("900000"))


def test_the_submit_page_previews_an_ineligible_file_and_asks_for_a_confirmation(
    client, draft, hospital, hospital_user
):
    fill(draft, hospital_user)  # complete, but no Volet 1 data and no ceiling
    client.force_login(hospital_user)
    page = client.get(url("application-submit", draft)).content.decode()
    assert "Avec les données actuelles, votre candidature serait jugée inéligible :" in page
    volet1_url = reverse("audits:volet1-detail", args=[hospital.public_id])
    assert f'<a href="{volet1_url}">Volet 1 de {hospital.name}</a>' in page
    assert f'<a href="{url("application-budget", draft)}">Budget prévisionnel</a>' in page
    assert "Je comprends que ma candidature sera jugée inéligible" in page
    # Sworn but not confirmed: refused at the box, nothing written.
    response = client.post(url("application-submit", draft), {"sworn": "on"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "#id_accept_ineligible" in content
    assert 'id="id_accept_ineligible"' in content and 'aria-invalid="true"' in content
    draft.refresh_from_db()
    assert draft.status == "draft" and not draft.sworn_statement
    assert not Transition.objects.filter(application=draft).exists()
    response = client.post(
        url("application-submit", draft), {"sworn": "on", "accept_ineligible": "on"}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "submitted"


def test_an_eligible_file_is_said_so_and_needs_no_confirmation(client, draft, hospital_user):
    fill(draft, hospital_user)
    make_eligible(draft)
    client.force_login(hospital_user)
    page = client.get(url("application-submit", draft)).content.decode()
    assert "Avec les données actuelles, votre candidature serait jugée éligible." in page
    assert "id_accept_ineligible" not in page
    response = client.post(url("application-submit", draft), {"sworn": "on"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "submitted"


@pytest.mark.parametrize(
    "page",
    ["application-detail", "application-identity", "application-answers", "application-budget"],
)
def test_each_section_summarises_the_preview(client, draft, hospital, hospital_user, page):
    fill(draft, hospital_user)
    client.force_login(hospital_user)
    content = client.get(url(page, draft)).content.decode()
    assert "Avec les données actuelles, votre candidature serait jugée inéligible" in content
    assert reverse("audits:volet1-detail", args=[hospital.public_id]) in content
    assert url("application-submit", draft) + "#eligibility-preview" in content
    make_eligible(draft)
    content = client.get(url(page, draft)).content.decode()
    assert "Avec les données actuelles, votre candidature serait jugée éligible." in content


def test_a_met_answer_the_volet1_data_contradicts_is_flagged_at_the_answer(
    client, draft, hospital, hospital_user
):
    fill(draft, hospital_user)  # D2.P1 "met"; the hospital has no Volet 1 data
    p1 = draft.answers.get(requirement__identifier="D2.P1")
    o1 = draft.answers.get(requirement__identifier="D2.O1")
    client.force_login(hospital_user)
    content = client.get(url("application-answers", draft)).content.decode()
    assert f'id="contradiction-{p1.requirement_id}"' in content
    assert f'id="contradiction-{o1.requirement_id}"' not in content
    assert "contredit les données du portail" in content
    fieldset = content.split(f'id="answer-{p1.requirement_id}"', 1)[1].split("</fieldset>")[0]
    assert (
        "contradiction-" in fieldset
        and "aucun audit de l&#x27;annuaire Active Directory" in fieldset
    )
    volet1(hospital)
    content = client.get(url("application-answers", draft)).content.decode()
    assert "contradiction-" not in content


@pytest.mark.django_db(transaction=True)  # commits for real: the scoring runs in the request
@pytest.mark.parametrize(
    ("eligible", "status", "banner"),
    [
        (False, "ineligible", "a été déposée, mais elle a été jugée inéligible"),
        (True, "regional_review", "a été déposée et jugée éligible"),
    ],
)
def test_the_banner_after_submission_tells_the_outcome_when_known(
    client, draft, hospital_user, eligible, status, banner
):
    fill(draft, hospital_user)
    if eligible:
        make_eligible(draft)
    client.force_login(hospital_user)
    response = client.post(
        url("application-submit", draft), {"sworn": "on", "accept_ineligible": "on"}, follow=True
    )
    draft.refresh_from_db()
    assert draft.status == status
    content = response.content.decode()
    assert f"Votre candidature {draft.reference} {banner}" in content
    assert "La vérification de son éligibilité est en cours" not in content


def test_the_banner_says_scoring_is_running_when_a_worker_has_it(client, draft, hospital_user):
    fill(draft, hospital_user)
    client.force_login(hospital_user)
    response = client.post(
        url("application-submit", draft), {"sworn": "on", "accept_ineligible": "on"}, follow=True
    )
    draft.refresh_from_db()
    assert draft.status == "submitted"  # the scoring task has not run yet
    content = response.content.decode()
    assert "La vérification de son éligibilité est en cours" in content
    assert "jugée éligible" not in content and "jugée inéligible" not in content


def test_an_ineligible_application_says_what_its_users_can_do(
    client, submitted, hospital_user, ars_user, ministry_user
):
    application_score(application_id=submitted.pk)  # no Volet 1 data, no ceiling
    submitted.refresh_from_db()
    assert submitted.status == "ineligible"
    client.force_login(hospital_user)
    content = client.get(url("application-detail", submitted)).content.decode()
    assert "Candidature inéligible" in content and "Volet 1 incomplet" in content
    assert "Que pouvez-vous faire ?" in content
    callout = content.split('id="ineligible-next"', 1)[1].split("</div>", 1)[0]
    # Both paths, each with its link: a message to the ministry, or withdraw and restart.
    assert "demandez au ministère de réexaminer votre candidature" in callout
    assert 'href="#id_body"' in callout and 'id="id_body"' in content  # the message form
    assert "Retirer la candidature et recommencer" in callout
    assert f'href="{url("application-withdraw", submitted)}"' in callout
    assert "réexamen possible à la demande, ou retrait puis nouvelle candidature" in content
    for instructor in (ars_user, ministry_user):
        client.force_login(instructor)
        assert (
            "Que pouvez-vous faire ?"
            not in client.get(url("application-detail", submitted)).content.decode()
        )


def test_withdrawal_asks_for_confirmation_then_withdraws(client, submitted, hospital_user):
    client.force_login(hospital_user)
    detail = client.get(url("application-detail", submitted)).content.decode()
    assert url("application-withdraw", submitted) in detail
    page = client.get(url("application-withdraw", submitted))
    assert page.status_code == 200 and "définitif" in page.content.decode()
    response = client.post(url("application-withdraw", submitted), {"comment": "Projet reporté"})
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == "withdrawn"
    transition = Transition.objects.get(application=submitted, to_status="withdrawn")
    assert transition.comment == "Projet reporté" and transition.actor == hospital_user
    # No second withdrawal; the link is gone.
    response = client.get(url("application-withdraw", submitted))
    assert response.status_code == 302
    detail = client.get(url("application-detail", submitted)).content.decode()
    assert url("application-withdraw", submitted) not in detail


def test_instructors_cannot_withdraw(client, submitted, ars_user):
    client.force_login(ars_user)
    response = client.post(url("application-withdraw", submitted), {}, follow=True)
    assert "Vous ne pouvez pas retirer cette candidature" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


# --- Messages and the return for complements -----------------------------------------------


def test_a_message_appears_in_the_thread(client, submitted, hospital_user, ars_user):
    client.force_login(hospital_user)
    response = client.post(
        url("message-create", submitted), {"body": "Une question sur D2.P1"}, follow=True
    )
    assert "Une question sur D2.P1" in response.content.decode()
    message = Message.objects.get(application=submitted)
    assert message.author == hospital_user
    client.force_login(ars_user)
    assert (
        "Une question sur D2.P1"
        in client.get(url("application-detail", submitted)).content.decode()
    )
    # An empty message is an error at the field, not a 500.
    response = client.post(url("message-create", submitted), {"body": ""})
    assert response.status_code == 400
    assert 'href="#id_body"' in response.content.decode()


def test_messages_cannot_be_posted_on_a_draft(client, draft, hospital_user):
    client.force_login(hospital_user)
    response = client.post(url("message-create", draft), {"body": "Trop tôt"}, follow=True)
    assert "Les échanges s&#x27;ouvrent au dépôt" in response.content.decode()
    assert not Message.objects.exists()


def test_a_returned_application_shows_the_request_and_is_resubmitted(
    client, submitted, hospital_user, ars_user
):
    application_transition(application=submitted, to="regional_review", by=None)
    application_transition(
        application=submitted, to="returned", by=ars_user, comment="Joignez le PRA signé."
    )
    client.force_login(hospital_user)
    response = client.get(url("application-detail", submitted))
    assert response.templates[0].name == "applications/application_overview.html"
    content = response.content.decode()
    assert content.index("Joignez le PRA signé.") < content.index("Sections de la candidature")
    assert "Compléments demandés" in content
    assert (
        "Joignez le PRA signé."
        in client.get(url("application-answers", submitted)).content.decode()
    )
    response = client.post(
        url("application-submit", submitted), {"sworn": "on", "accept_ineligible": "on"}
    )
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


# --- Evidence files --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["hospital_user", "ars_user", "ministry_user"])
def test_insiders_download_evidence_as_an_attachment(client, request, submitted, persona):
    evidence = evidence_of(submitted)
    client.force_login(request.getfixturevalue(persona))
    response = client.get(url("evidence-download", submitted, evidence.public_id))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert "pca.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"%PDF-1.4"
    download = AuditEvent.objects.get(action=AuditEvent.Action.DOWNLOAD)
    assert download.actor == request.getfixturevalue(persona)
    assert (download.object_id, download.details["file"]) == (str(submitted.public_id), "pca.pdf")


def test_evidence_of_another_application_is_404(client, submitted, call, hospital_user):
    other = Application.objects.create(call=call, candidate=LegalEntityFactory(), reference="X-2")
    foreign = add_evidence(other, None, None)
    client.force_login(hospital_user)
    assert client.get(url("evidence-download", submitted, foreign.public_id)).status_code == 404


def test_upload_stores_a_valid_pdf(client, draft, hospital_user):
    answer = draft.answers.get(requirement__identifier="D2.P1")
    client.force_login(hospital_user)
    upload = SimpleUploadedFile("plan de continuité.pdf", small_pdf(), "application/pdf")
    response = client.post(url("evidence-upload", draft), {"answer": answer.pk, "file": upload})
    assert response.status_code == 302
    assert (
        response["Location"]
        == url("application-answers", draft) + f"#answer-{answer.requirement_id}"
    )
    evidence = Evidence.objects.get(answer=answer)
    assert evidence.original_name == "plan de continuité.pdf"
    assert evidence.content_type == "application/pdf" and len(evidence.sha256) == 64
    assert evidence.file.name.startswith("evidence/") and "continuit" not in evidence.file.name
    page = client.get(url("application-answers", draft)).content.decode()
    assert "plan de continuité.pdf" in page
    assert url("evidence-download", draft, evidence.public_id) in page
    assert evidence.sha256[:12] in page


def test_upload_refuses_an_executable_renamed_pdf_at_its_field(client, draft, hospital_user):
    answer = draft.answers.get(requirement__identifier="D2.P1")
    client.force_login(hospital_user)
    fake = SimpleUploadedFile("rapport.pdf", b"MZ\x90\x00" + b"\x00" * 200, "application/pdf")
    response = client.post(url("evidence-upload", draft), {"answer": answer.pk, "file": fake})
    assert response.status_code == 400
    content = response.content.decode()
    assert "Le fichier « rapport.pdf » est refusé" in content
    assert "ne correspond pas à un fichier PDF" in content
    assert f'id="upload-{answer.pk}-error"' in content
    assert f'href="#upload-{answer.pk}"' in content  # in the error summary
    assert not Evidence.objects.exists()


def test_upload_on_a_full_disk_says_so_and_keeps_nothing(
    client, draft, hospital_user, private_media, monkeypatch
):
    """The disk fills up while the file is written: the part written is removed, no row
    is created, the user reads why at the field (507, not a 500) and may send it again."""
    import errno

    from django.core.files.storage import FileSystemStorage

    written = []

    def fills_up(self, name, content):
        path = self.path(name)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"%PDF-1.4 half of it")  # what fitted before the disk was full
        written.append(path)
        raise OSError(errno.ENOSPC, "No space left on device")

    answer = draft.answers.get(requirement__identifier="D2.P1")
    client.force_login(hospital_user)
    upload = SimpleUploadedFile("pca.pdf", small_pdf(), "application/pdf")
    with monkeypatch.context() as patched:
        patched.setattr(FileSystemStorage, "_save", fills_up)
        response = client.post(url("evidence-upload", draft), {"answer": answer.pk, "file": upload})
    assert response.status_code == 507
    content = html_unescape(response.content.decode())
    assert (
        "Le fichier « pca.pdf » n'a pas été enregistré : l'espace de stockage des pièces du "
        "portail est momentanément plein. Rien n'a été conservé" in content
    )
    assert f'id="upload-{answer.pk}-error"' in content
    assert not Evidence.objects.exists()
    assert written and not Path(written[0]).exists()  # the partial file is gone
    assert not [p for p in private_media.rglob("*") if p.is_file()]

    # Space is back: the same file is taken.
    upload = SimpleUploadedFile("pca.pdf", small_pdf(), "application/pdf")
    response = client.post(url("evidence-upload", draft), {"answer": answer.pk, "file": upload})
    assert response.status_code == 302 and Evidence.objects.count() == 1


def test_upload_without_a_file_is_an_error_not_a_500(client, draft, hospital_user):
    answer = draft.answers.first()
    client.force_login(hospital_user)
    response = client.post(url("evidence-upload", draft), {"answer": answer.pk})
    assert response.status_code == 400
    assert "Choisissez un fichier" in response.content.decode()


def test_evidence_is_deleted_by_the_candidates_user(client, draft, hospital_user):
    answer = draft.answers.first()
    evidence = add_evidence(draft, answer, hospital_user, name="ancien.pdf")
    client.force_login(hospital_user)
    response = client.post(url("evidence-delete", draft, evidence.public_id))
    assert response.status_code == 302
    assert not Evidence.objects.filter(pk=evidence.pk).exists()


def test_evidence_of_a_submitted_application_cannot_be_changed(client, submitted, hospital_user):
    evidence = evidence_of(submitted)
    client.force_login(hospital_user)
    client.post(url("evidence-delete", submitted, evidence.public_id))
    upload = SimpleUploadedFile("plus.pdf", small_pdf(), "application/pdf")
    client.post(url("evidence-upload", submitted), {"answer": evidence.answer_id, "file": upload})
    assert list(Evidence.objects.filter(application=submitted)) == [evidence]


# --- A constant number of queries --------------------------------------------------------------


def make_draft(user, entity, requirements: int, files: int) -> Application:
    call = FundingCallFactory()
    RequirementFactory.create_batch(requirements, call=call)
    application = application_start(call=call, candidate=entity, by=user)
    answers = list(Answer.objects.filter(application=application))
    for i in range(files):
        add_evidence(application, answers[i % len(answers)], user, name=f"piece-{i}.pdf")
    return application


def count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


@pytest.mark.parametrize("page", ["application-answers", "application-detail"])
def test_form_pages_run_a_constant_number_of_queries(
    client, django_assert_num_queries, hospital_user, page
):
    small_entity = LegalEntityFactory()
    large_entity = LegalEntityFactory()
    for entity in (small_entity, large_entity):
        MembershipFactory(
            user=hospital_user, role=Membership.Role.ESTABLISHMENT, legal_entity=entity
        )
    small = make_draft(hospital_user, small_entity, requirements=3, files=0)
    large = make_draft(hospital_user, large_entity, requirements=30, files=20)
    client.force_login(hospital_user)
    expected = count_queries(client, url(page, small))
    with django_assert_num_queries(expected):
        assert client.get(url(page, large)).status_code == 200


def test_the_read_only_view_runs_a_constant_number_of_queries(
    client, django_assert_num_queries, hospital_user, ars_user
):
    entities = LegalEntityFactory.create_batch(2)
    for entity in entities:
        MembershipFactory(
            user=hospital_user, role=Membership.Role.ESTABLISHMENT, legal_entity=entity
        )
    applications = []
    for entity, (requirements, files) in zip(entities, ((3, 0), (30, 20)), strict=True):
        application = make_draft(hospital_user, entity, requirements=requirements, files=0)
        application.status = "submitted"
        application.submitted_at = timezone.now()
        application.save(update_fields=["status", "submitted_at"])
        answers = list(application.answers.all())
        for i in range(files):
            add_evidence(application, answers[i % len(answers)], hospital_user, name=f"p{i}.pdf")
            Message.objects.create(application=application, author=ars_user, body=f"Message {i}")
            Transition.objects.create(
                application=application,
                from_status="draft",
                to_status="submitted",
                actor=hospital_user,
            )
        applications.append(application)
    client.force_login(ars_user)
    expected = count_queries(client, url("application-detail", applications[0]))
    with django_assert_num_queries(expected):
        assert client.get(url("application-detail", applications[1])).status_code == 200


def test_a_covered_member_reads_its_ghts_application_without_writing(client, call):
    ght = GHTFactory()
    support = LegalEntityFactory(ght=ght, is_ght_support=True)
    member = LegalEntityFactory(ght=ght, name="CH membre de Tarare")
    support_user, member_user = UserFactory(), UserFactory()
    MembershipFactory(user=support_user, role=Membership.Role.ESTABLISHMENT, legal_entity=support)
    MembershipFactory(user=member_user, role=Membership.Role.ESTABLISHMENT, legal_entity=member)
    application = application_start(call=call, candidate=support, by=support_user)
    client.force_login(member_user)
    assert client.get(url("application-detail", application)).status_code == 404  # a draft
    fill(application, support_user)
    application_submit(application=application, by=support_user, sworn=True, accept_ineligible=True)
    response = client.get(url("application-detail", application))
    assert response.status_code == 200
    content = response.content.decode()
    assert "CH membre de Tarare" in content
    assert f"Candidature du {ght.name}, déposée par son établissement support" in content
    assert url("message-create", application) not in content
    assert url("application-withdraw", application) not in content
    listing = client.get(reverse("applications:application-list")).content.decode()
    assert "Couverte par la candidature" in listing


def test_the_reviewers_list_runs_the_same_queries_for_5_and_60_applications(
    client, ministry_user, django_assert_num_queries
):
    from establishments.models import Department

    call = FundingCallFactory(code="D2-LIST")
    department = Department.objects.get(code="29")

    def add(count: int, offset: int) -> None:
        for i in range(count):
            entity = LegalEntityFactory(
                department=department, finess=make_finess("29", 4000 + offset + i)
            )
            ApplicationFactory(call=call, candidate=entity, status="regional_review")

    client.force_login(ministry_user)
    add(5, 0)
    list_url = reverse("applications:application-list")
    client.get(list_url)  # warm the session
    small = count_queries(client, list_url)
    add(55, 100)
    with django_assert_num_queries(small):
        response = client.get(list_url)
    assert response.status_code == 200


# --- Withdraw an ineligible application and start again ----------------------------------


def found_ineligible(application):
    application_score(application_id=application.pk)  # no Volet 1 data, no ceiling
    application.refresh_from_db()
    assert application.status == "ineligible"
    return application


def test_an_ineligible_application_is_withdrawn_then_started_again(
    client, call, submitted, hospital, hospital_user, django_capture_on_commit_callbacks
):
    first = found_ineligible(submitted)
    client.force_login(hospital_user)
    page = client.get(url("application-withdraw", first)).content.decode()
    assert "définitif" in page and "vous pourrez commencer une nouvelle candidature" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("application-withdraw", first), {"comment": "Volet 1 à mettre à jour"}, follow=True
        )
    first.refresh_from_db()
    assert first.status == "withdrawn" and first.coverages.get().released_at is not None
    content = response.content.decode()
    assert f"La candidature {first.reference} a été retirée." in content
    # Its page offers a new application to the same call.
    restart = content.split('id="restart"', 1)[1].split("</div>", 1)[0]
    assert "Recommencer une candidature à cet appel" in restart
    assert f'action="{reverse("applications:application-start")}"' in restart
    assert f'value="{call.public_id}"' in restart and f'value="{hospital.public_id}"' in restart
    # "Mes candidatures": the open call offers a new start beside the withdrawn one,
    # which stays in the list.
    listing = client.get(reverse("applications:application-list"))
    text = listing.content.decode()
    assert f"Candidature précédente {first.reference} retirée" in text
    assert "Commencer ma candidature" in text
    assert listing.context["rows"] == [first] and "Retirée" in text

    response = client.post(
        reverse("applications:application-start"),
        {"call": call.public_id, "candidate": hospital.public_id},
    )
    second = Application.objects.exclude(pk=first.pk).get(call=call, candidate=hospital)
    assert response.status_code == 302
    assert response["Location"] == url("application-detail", second)
    assert second.status == "draft" and second.reference != first.reference
    assert {field: getattr(second, field) for field in IDENTITY} == IDENTITY  # prefilled
    identity = client.get(url("application-identity", second)).content.decode()
    assert 'value="Claire Directrice"' in identity
    # The list shows both, the draft to continue; the withdrawn page points to the new one.
    listing = client.get(reverse("applications:application-list"))
    text = listing.content.decode()
    assert "Continuer ma candidature" in text and "Commencer ma candidature" not in text
    assert listing.context["rows"] == [second, first]
    detail = client.get(url("application-detail", first)).content.decode()
    assert f"Voir la candidature {second.reference}" in detail
    assert url("application-detail", second) in detail
    assert 'action="' + reverse("applications:application-start") not in detail


def test_starting_again_while_an_application_holds_the_place_says_why(
    client, call, submitted, hospital, hospital_user
):
    found_ineligible(submitted)
    client.force_login(hospital_user)
    response = client.post(
        reverse("applications:application-start"),
        {"call": call.public_id, "candidate": hospital.public_id},
        follow=True,
    )
    content = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("applications:application-list")
    assert f"a déjà une candidature à cet appel : {submitted.reference}" in content
    assert "Une seule candidature par appel est possible" in content
    assert Application.objects.filter(call=call, candidate=hospital).count() == 1


def test_instructors_cannot_withdraw_an_ineligible_application(
    client, submitted, ars_user, ministry_user
):
    found_ineligible(submitted)
    for user in (ars_user, ministry_user):
        client.force_login(user)
        detail = client.get(url("application-detail", submitted)).content.decode()
        assert url("application-withdraw", submitted) not in detail
        response = client.post(url("application-withdraw", submitted), {}, follow=True)
        assert "Vous ne pouvez pas retirer cette candidature" in response.content.decode()
        submitted.refresh_from_db()
        assert submitted.status == "ineligible"


def test_once_the_call_is_closed_only_the_reconsideration_is_offered(
    client, call, submitted, hospital_user, django_capture_on_commit_callbacks
):
    found_ineligible(submitted)
    call.opens_at = timezone.now() - timedelta(days=90)
    call.closes_at = timezone.now() - timedelta(days=1)
    call.save(update_fields=["opens_at", "closes_at"])
    client.force_login(hospital_user)
    content = client.get(url("application-detail", submitted)).content.decode()
    callout = content.split('id="ineligible-next"', 1)[1].split("</div>", 1)[0]
    assert 'href="#id_body"' in callout and "recommencer" not in callout
    page = client.get(url("application-withdraw", submitted)).content.decode()
    assert "appel est clos : aucune nouvelle candidature" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("application-withdraw", submitted), {"comment": ""})
    submitted.refresh_from_db()
    assert submitted.status == "withdrawn"
    detail = client.get(url("application-detail", submitted)).content.decode()
    assert 'id="restart"' not in detail


def test_my_applications_runs_the_same_queries_for_1_and_6_withdrawn_applications(
    client, call, hospital, hospital_user, django_assert_num_queries
):
    def withdraw(count):
        for _ in range(count):
            ApplicationFactory(call=call, candidate=hospital, status="withdrawn")

    withdraw(1)
    client.force_login(hospital_user)
    list_url = reverse("applications:application-list")
    expected = count_queries(client, list_url)
    withdraw(5)
    with django_assert_num_queries(expected):
        response = client.get(list_url)
    assert len(response.context["rows"]) == 6
    assert response.content.decode().count("Candidature précédente") == 1  # the latest one


def test_the_admin_downloads_evidence_through_the_portals_checks(client, submitted, ministry_user):
    """The application's admin page links each file to the portal's download view: the
    same scope check, the same entry in the audit trail."""
    evidence = add_evidence(submitted, submitted.answers.first(), None, name="pcra-signé.pdf")
    client.force_login(ministry_user)
    change = reverse("admin:applications_application_change", args=[submitted.pk])
    page = client.get(change)
    link = url("evidence-download", submitted, evidence.public_id)
    assert page.status_code == 200
    assert f'href="{link}"' in page.content.decode()
    assert "pcra-signé.pdf" in html_unescape(page.content.decode())
    download = client.get(link)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.DOWNLOAD, actor=ministry_user, object_id=str(submitted.public_id)
    ).exists()


def test_the_answers_typed_are_saved_with_an_upload_taken_or_refused(client, draft, hospital_user):
    """The answers page posts its whole form with the file: what was typed is saved
    first, whether the file is then taken or refused; the refused page's form saves to
    the answers page, not to the upload URL."""
    first = draft.answers.get(requirement__identifier="D2.P1")
    second = draft.answers.get(requirement__identifier="D2.O1")
    client.force_login(hospital_user)
    typed = {
        f"answer-{first.requirement_id}-comment": "PCA signé en mars",
        f"answer-{first.requirement_id}-state": "met",
        f"answer-{second.requirement_id}-comment": "Exercice prévu en juin",
    }
    fake = SimpleUploadedFile("rapport.pdf", b"MZ\x90\x00" + b"\x00" * 200, "application/pdf")
    refused = client.post(
        url("evidence-upload", draft), {**typed, "upload": first.pk, f"file-{first.pk}": fake}
    )
    assert refused.status_code == 400
    page = refused.content.decode()
    assert f'id="upload-{first.pk}-error"' in page
    assert f'action="{url("application-answers", draft)}"' in page
    assert "PCA signé en mars" in page and "Exercice prévu en juin" in page
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.comment, second.comment) == (
        "met",
        "PCA signé en mars",
        "Exercice prévu en juin",
    )
    assert not Evidence.objects.exists()

    typed[f"answer-{second.requirement_id}-comment"] = "Exercice fait le 4 juin"
    pdf = SimpleUploadedFile("pca.pdf", small_pdf(), "application/pdf")
    taken = client.post(
        url("evidence-upload", draft), {**typed, "upload": first.pk, f"file-{first.pk}": pdf}
    )
    assert taken.status_code == 302
    second.refresh_from_db()
    assert second.comment == "Exercice fait le 4 juin"
    assert Evidence.objects.get(answer=first).original_name == "pca.pdf"


def test_the_application_page_joins_its_eligibility_result(
    client, hospital_user, django_assert_num_queries
):
    """The eligibility result comes with the application (one join), not in a query of
    its own: the load benchmark (bench/load.py) counts every query of this page."""
    from applications.models import EligibilityResult

    entity = LegalEntityFactory()
    MembershipFactory(user=hospital_user, role=Membership.Role.ESTABLISHMENT, legal_entity=entity)
    application = make_draft(hospital_user, entity, requirements=3, files=0)
    application.status = "submitted"
    application.submitted_at = timezone.now()
    application.save(update_fields=["status", "submitted_at"])
    client.force_login(hospital_user)
    without = count_queries(client, url("application-detail", application))
    EligibilityResult.objects.create(
        application=application, rules_version="v1", eligible=True, score=Decimal("70"),
        rules=[], factors=[], computed_at=timezone.now(),
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url("application-detail", application))
    assert response.status_code == 200
    assert len(queries) == without
    own = 'SELECT "applications_eligibilityresult"'
    alone = [q["sql"] for q in queries if q["sql"].startswith(own)]
    assert alone == []
    assert any("applications_eligibilityresult" in q["sql"] for q in queries)


def test_the_read_only_view_reads_the_files_once(client, hospital_user):
    """Once submitted, the page lists each answer's files (one query) and not, besides,
    every file of the application, which only the draft's warnings need."""
    entity = LegalEntityFactory()
    MembershipFactory(user=hospital_user, role=Membership.Role.ESTABLISHMENT, legal_entity=entity)
    application = make_draft(hospital_user, entity, requirements=3, files=0)
    answer = application.answers.first()
    add_evidence(application, answer, hospital_user, name="pcra-signe.pdf")
    client.force_login(hospital_user)
    with CaptureQueriesContext(connection) as draft_queries:
        assert client.get(url("application-detail", application)).status_code == 200
    application.status = "submitted"
    application.submitted_at = timezone.now()
    application.save(update_fields=["status", "submitted_at"])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url("application-detail", application))
    assert response.status_code == 200
    assert "pcra-signe.pdf" in response.content.decode()

    def on_files(captured):
        return [q for q in captured if 'FROM "applications_evidence"' in q["sql"]]

    assert len(on_files(draft_queries)) == 2  # the answers' files and the warnings' list
    assert len(on_files(queries)) == 1
