"""An establishment user files an application in Chromium: every section, the evidence,
the sworn statement and the submission; a draft's withdrawal; the identity form by
keyboard alone. Each page visited is checked with axe."""

import hashlib
import re
from decimal import Decimal

import pikepdf
import pytest
from celery.app.task import Task
from kombu.exceptions import OperationalError as KombuOperationalError
from playwright.sync_api import expect

from applications.drafting import application_start
from applications.lifecycle import Status
from applications.models import (
    Answer,
    Application,
    BudgetLine,
    Evidence,
    Transition,
)

from ..applications.test_eligibility import volet1
from ..factories import ApplicationFactory
from .conftest import assert_accessible, expect_status, follow_menu_link, log_in
from .drafts import (
    CONTINUITY_PLAN,
    CRISIS_EXERCISE,
    complete_draft,
    fill_identity,
    open_call,
    requirement_fieldset,
)

pytestmark = pytest.mark.django_db(transaction=True)

SUBMITTED = str(Status.SUBMITTED.label)  # « Déposée »
WITHDRAWN = str(Status.WITHDRAWN.label)  # « Retirée »
DRAFT = str(Status.DRAFT.label)  # « Brouillon »
# A redirect without a fragment keeps the fragment of the URL it answers (the answers
# page is often at #answer-<id>): URLs are matched with any fragment.
DETAIL_URL = re.compile(r"/candidatures/[0-9a-f-]{36}/(#.*)?$")


@pytest.fixture
def call(db):
    """An open D2 call: two prerequisites whose evidence is due with the application,
    one objective whose evidence is due at the declaration, and one ceiling bracket."""
    backups = {
        "identifier": "D2.P2",
        "label": "Sauvegardes hors ligne testées",
        "evidence": "Procès-verbal du dernier test de restauration",
    }
    return open_call(
        CONTINUITY_PLAN,
        backups,
        CRISIS_EXERCISE,
        code="D2-E2E",
        title="Continuité et reprise d'activité (essai)",
    )


@pytest.fixture
def broker_without_worker(monkeypatch):
    """Tasks are queued and left there, as with a broker whose worker has not run yet.

    The suite runs tasks eagerly, inside the request that queues them: the submission
    would then be scored (and moved on) before its page is shown. Record what is
    queued instead: [(task name, args)]."""
    queued: list[tuple[str, tuple]] = []

    def apply_async(task, args=None, kwargs=None, **options):
        queued.append((task.name, tuple(args or ())))

    monkeypatch.setattr(Task, "apply_async", apply_async)
    return queued


@pytest.fixture
def broker_down(monkeypatch):
    """Every publication fails, as when Redis cannot be reached."""

    def apply_async(task, args=None, kwargs=None, **options):
        raise KombuOperationalError("Error 111 connecting to localhost:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", apply_async)


def small_pdf(tmp_path, name: str):
    path = tmp_path / name
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(path)
    return path


def test_establishment_user_files_an_application(
    page, axe, hospital_user, hospital, call, tmp_path, broker_without_worker
):
    volet1(hospital)  # Volet 1 reached: the file will be eligible
    # Log in and reach "Mes candidatures" through the main navigation.
    log_in(page, hospital_user.email)
    follow_menu_link(page, "Mes candidatures", "/candidatures/")
    expect(page.get_by_role("heading", name="Mes candidatures", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name=call.title)).to_be_visible()
    expect(page.get_by_text("Votre établissement n'a encore aucune candidature.")).to_be_visible()
    assert_accessible(axe, page)

    # Start the draft: the overview lists what is missing, as warnings.
    page.get_by_role("button", name=f"Commencer ma candidature pour {hospital.name}").click()
    page.wait_for_url(DETAIL_URL)
    application = Application.objects.get(call=call, candidate=hospital)
    reference = application.reference
    expect(page.get_by_role("heading", name=f"Candidature {reference}", level=1)).to_be_visible()
    expect_status(page, f"Candidature {reference} ouverte")
    expect(page.locator("main .fr-badge").filter(has_text=DRAFT).first).to_be_visible()
    warnings = page.locator("#warnings")
    # 6 identity fields, 3 unanswered requirements, no budget line.
    expect(
        warnings.get_by_role("heading", name="10 points à compléter avant le dépôt")
    ).to_be_visible()
    expect(
        warnings.get_by_role("link", name="Identité et contacts : Renseignez le nom du RSSI.")
    ).to_be_visible()
    expect(
        warnings.get_by_role("link", name="Réponses aux exigences : Répondez à l'exigence D2.P1.")
    ).to_be_visible()
    expect(
        warnings.get_by_role(
            "link", name="Budget prévisionnel : Ajoutez au moins une ligne budgétaire."
        )
    ).to_be_visible()
    assert_accessible(axe, page)

    # 1. Identity and contacts.
    page.get_by_role("link", name="Compléter la candidature").click()
    expect(page.get_by_role("heading", name="Identité et contacts Étape 1 sur 4")).to_be_visible()
    assert_accessible(axe, page)
    fill_identity(page)
    page.get_by_role("button", name="Enregistrer et continuer").click()

    # 2. Answers: each requirement met, then saved (the page asks to save the answers
    # before sending files, since a file upload reloads the page).
    page.wait_for_url(re.compile(r"/reponses/(#.*)?$"))
    expect_status(page, "Section enregistrée.")
    expect(page.get_by_role("heading", name="Réponses aux exigences Étape 2 sur 4")).to_be_visible()
    assert_accessible(axe, page)
    for identifier in ("D2.P1", "D2.P2", "D2.O1"):
        fieldset = requirement_fieldset(page, identifier)
        # DSFR draws the radio in its label, over the input: a person clicks the label.
        fieldset.get_by_text("Atteint", exact=True).click()
        expect(fieldset.get_by_role("radio", name="Atteint", exact=True)).to_be_checked()
    page.get_by_role("button", name="Enregistrer et continuer").click()
    page.wait_for_url(re.compile(r"/budget/(#.*)?$"))

    # Back on the overview, the missing evidence is pointed at; its link leads to the
    # requirement on the answers page.
    page.get_by_role("link", name="Retour au récapitulatif").click()
    page.wait_for_url(DETAIL_URL)
    expect(page.locator("#warnings").get_by_role("heading")).to_have_text(
        "3 points à compléter avant le dépôt"
    )
    page.locator("#warnings").get_by_role(
        "link", name="Réponses aux exigences : Joignez les pièces demandées pour D2.P1"
    ).click()
    page.wait_for_url(re.compile(r"/reponses/#answer-\d+$"))
    sent = {}  # requirement identifier -> SHA-256 of the file sent
    for identifier in ("D2.P1", "D2.P2"):
        fieldset = requirement_fieldset(page, identifier)
        expect(fieldset.get_by_role("radio", name="Atteint", exact=True)).to_be_checked()
        pdf_path = small_pdf(tmp_path, f"preuve-{identifier}.pdf")
        sent[identifier] = hashlib.sha256(pdf_path.read_bytes()).hexdigest()
        fieldset.get_by_label(f"Ajouter une pièce pour {identifier}").set_input_files(pdf_path)
        fieldset.get_by_role("button", name=f"Envoyer la pièce pour {identifier}").click()
        page.wait_for_url(re.compile(r"/reponses/#answer-\d+$"))
        expect_status(page, f"Pièce « preuve-{identifier}.pdf » ajoutée pour {identifier}.")
        expect(
            requirement_fieldset(page, identifier).get_by_role(
                "link", name=re.compile(rf"^preuve-{re.escape(identifier)}\.pdf")
            )
        ).to_be_visible()
    expect(page.locator("#warnings")).to_have_count(0)  # nothing left in this section
    assert_accessible(axe, page)

    # 3. Budget: two lines.
    page.get_by_role("button", name="Enregistrer et continuer").click()
    page.wait_for_url(re.compile(r"/budget/(#.*)?$"))
    expect(page.get_by_role("heading", name="Budget prévisionnel Étape 3 sur 4")).to_be_visible()
    assert_accessible(axe, page)
    page.get_by_label("Catégorie (ligne 1)").select_option(label="Matériel (sauvegardes, stockage)")
    page.get_by_label("Description (ligne 1)").fill("Baie de sauvegarde hors ligne")
    page.get_by_label("Montant HT (€) (ligne 1)").fill("120000")
    page.get_by_label("Catégorie (ligne 2)").select_option(label="Formation et exercices de crise")
    page.get_by_label("Description (ligne 2)").fill("Exercice de crise cyber")
    page.get_by_label("Montant HT (€) (ligne 2)").fill("8500,50")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    # 4. The sworn statement: submitting without it is refused, and said so.
    page.wait_for_url(re.compile(r"/depot/(#.*)?$"))
    expect(page.get_by_role("heading", name="Toutes les sections sont complètes")).to_be_visible()
    expect(
        page.get_by_text("Avec les données actuelles, votre candidature serait jugée éligible.")
    ).to_be_visible()
    expect(
        page.get_by_label("Je comprends que ma candidature sera jugée inéligible")
    ).to_have_count(0)
    expect(page.get_by_text("Montant demandé : 128")).to_contain_text("500,50 € HT")
    page.get_by_role("button", name="Déposer la candidature").click()
    summary = page.get_by_role("alert").filter(
        has_text="La candidature n'a pas été déposée : corrigez les points suivants"
    )
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link")).to_have_text(
        "Déclaration sur l'honneur et dépôt : La déclaration sur l'honneur est obligatoire."
    )
    expect(summary).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Erreur : "))
    sworn = page.get_by_label("Je certifie sur l'honneur l'exactitude des informations")
    expect(sworn).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, page)
    assert Application.objects.get(pk=application.pk).status == Status.DRAFT

    page.get_by_text("Je certifie sur l'honneur l'exactitude des informations").click()
    expect(sworn).to_be_checked()
    page.get_by_role("button", name="Déposer la candidature").click()

    # The read-only view: status, the statement, the history.
    page.wait_for_url(DETAIL_URL)
    expect_status(page, f"Votre candidature {reference} a été déposée")
    expect(page.locator("main p .fr-badge").first).to_have_text(SUBMITTED)
    expect(page.locator("main p", has_text="Prochaine étape :")).to_contain_text(
        "Vérification de l'éligibilité en cours"
    )
    expect(page.get_by_role("heading", name="Identité et contacts", level=2)).to_be_visible()
    expect(page.get_by_text("Karim Benali")).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"certifiée sur l'honneur par Alice Martin le"))
    ).to_be_visible()
    history = page.get_by_role("table", name="Changements d'état de la candidature")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history.locator("tbody tr")).to_contain_text(DRAFT)
    expect(history.locator("tbody tr")).to_contain_text(f"vers {SUBMITTED}")
    expect(history.locator("tbody tr")).to_contain_text("Alice Martin")
    expect(page.get_by_role("link", name="Compléter la candidature")).to_have_count(0)
    assert_accessible(axe, page)

    # The database agrees.
    application.refresh_from_db()
    assert application.status == Status.SUBMITTED
    assert application.submitted_at is not None
    assert application.sworn_statement and application.sworn_by == hospital_user
    assert application.rssi_name == "Karim Benali"
    assert application.requested_amount == Decimal("128500.50")
    assert sorted(application.budget_lines.values_list("category", "amount")) == [
        ("hardware", Decimal("120000.00")),
        ("training", Decimal("8500.50")),
    ]
    assert set(application.answers.values_list("state", flat=True)) == {Answer.State.MET}
    transitions = Transition.objects.filter(application=application)
    assert [(t.from_status, t.to_status, t.actor) for t in transitions] == [
        (Status.DRAFT, Status.SUBMITTED, hospital_user)
    ]
    evidence = Evidence.objects.filter(application=application).select_related(
        "answer__requirement"
    )
    assert {e.answer.requirement.identifier: e.sha256 for e in evidence} == sent
    for item in evidence:
        assert item.content_type == "application/pdf"
        assert item.uploaded_by == hospital_user
        with item.file.open("rb") as stored:  # in private storage, as sent
            assert hashlib.sha256(stored.read()).hexdigest() == item.sha256
    # The eligibility scoring is queued once for the worker.
    assert (
        broker_without_worker.count(("applications.score_application_task", (application.pk,))) == 1
    )


def test_establishment_user_withdraws_a_draft(page, axe, hospital_user, hospital, call):
    application = ApplicationFactory(call=call, candidate=hospital, reference="D2-E2E-000042")
    log_in(page, hospital_user.email)
    page.goto(f"/candidatures/{application.public_id}/")
    page.get_by_role("link", name="Retirer la candidature").click()
    page.wait_for_url(re.compile(r"/retirer/(#.*)?$"))
    expect(
        page.get_by_role("heading", name="Retirer la candidature D2-E2E-000042", level=1)
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Ce retrait est définitif")).to_be_visible()
    assert_accessible(axe, page)

    # Cancelling changes nothing.
    page.get_by_role("link", name="Annuler").click()
    page.wait_for_url(DETAIL_URL)
    application.refresh_from_db()
    assert application.status == Status.DRAFT

    page.get_by_role("link", name="Retirer la candidature").click()
    page.get_by_label("Motif du retrait (facultatif)").fill("Projet reporté à l'an prochain.")
    page.get_by_role("button", name="Confirmer le retrait").click()
    page.wait_for_url(DETAIL_URL)
    expect_status(page, "La candidature D2-E2E-000042 a été retirée.")
    expect(page.locator("main p .fr-badge").first).to_have_text(WITHDRAWN)
    expect(page.get_by_role("link", name="Retirer la candidature")).to_have_count(0)
    history = page.get_by_role("table", name="Changements d'état de la candidature")
    expect(history.locator("tbody tr")).to_contain_text(f"vers {WITHDRAWN}")
    expect(history.locator("tbody tr")).to_contain_text("Projet reporté à l'an prochain.")
    assert_accessible(axe, page)

    application.refresh_from_db()
    assert application.status == Status.WITHDRAWN
    assert application.submitted_at is None
    assert list(
        Transition.objects.filter(application=application).values_list(
            "from_status", "to_status", "actor", "comment"
        )
    ) == [(Status.DRAFT, Status.WITHDRAWN, hospital_user.pk, "Projet reporté à l'an prochain.")]


def focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def tab_to(page, element_id: str, *, limit: int = 60) -> int:
    """Press Tab until the element with this id has the focus; the number of presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if focused_id(page) == element_id:
            return presses
    raise AssertionError(f"#{element_id} never got the focus in {limit} presses of Tab")


def test_identity_form_by_keyboard_alone(page, axe, hospital_user, hospital, call):
    application = ApplicationFactory(call=call, candidate=hospital)
    log_in(page, hospital_user.email)
    page.goto(f"/candidatures/{application.public_id}/identite/")

    # From the top of the page, the skip link comes first; Tab then reaches the fields,
    # in the order of the form.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Contenu")).to_be_focused()
    tab_to(page, "id_director_name")
    page.keyboard.type("Claire Dubois")
    page.keyboard.press("Tab")
    assert focused_id(page) == "id_director_email"
    page.keyboard.type("pas-un-courriel")
    for field, text in (
        ("id_rssi_name", "Karim Benali"),
        ("id_rssi_email", "rssi@ch-villefranche.test"),
        ("id_continuity_lead_name", "Sophie Laurent"),
        ("id_continuity_lead_email", "pca@ch-villefranche.test"),
    ):
        page.keyboard.press("Tab")
        assert focused_id(page) == field
        page.keyboard.type(text)
    page.keyboard.press("Enter")  # implicit submission from the last field

    # The invalid address is refused: the error summary takes the focus and its link
    # leads to the field.
    summary = page.get_by_role("alert").filter(has_text="Le formulaire contient 1 erreur")
    expect(summary).to_be_focused()
    assert_accessible(axe, page)
    page.keyboard.press("Tab")
    expect(summary.get_by_role("link")).to_be_focused()
    expect(summary.get_by_role("link")).to_contain_text("Courriel de la direction")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Courriel de la direction")).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("direction@ch-villefranche.test")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/reponses/(#.*)?$"))
    expect_status(page, "Section enregistrée.")
    application.refresh_from_db()
    assert (application.director_name, application.director_email) == (
        "Claire Dubois",
        "direction@ch-villefranche.test",
    )
    assert application.rssi_email == "rssi@ch-villefranche.test"
    assert application.continuity_lead_name == "Sophie Laurent"


def test_error_summary_takes_the_focus_after_a_warning_link(page, hospital_user, hospital, call):
    application = ApplicationFactory(call=call, candidate=hospital)
    log_in(page, hospital_user.email)
    page.goto(f"/candidatures/{application.public_id}/")
    page.locator("#warnings").get_by_role(
        "link", name="Identité et contacts : Renseignez le courriel de la direction."
    ).click()
    page.wait_for_url(re.compile(r"/identite/#id_director_email$"))
    expect(page.get_by_label("Courriel de la direction")).to_be_focused()
    page.keyboard.type("pas-un-courriel")
    page.keyboard.press("Enter")

    summary = page.get_by_role("alert").filter(has_text="Le formulaire contient 1 erreur")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused(timeout=1_000)


def test_submission_survives_a_broker_outage(page, hospital_user, hospital, call, broker_down):
    application = complete_draft(call, hospital, hospital_user)
    log_in(page, hospital_user.email)
    page.goto(f"/candidatures/{application.public_id}/depot/")
    expect(page.get_by_role("heading", name="Toutes les sections sont complètes")).to_be_visible()
    page.get_by_text("Je certifie sur l'honneur l'exactitude des informations").click()
    # No Volet 1 data: the file would be ineligible, and is filed anyway.
    page.get_by_text("Je comprends que ma candidature sera jugée inéligible").click()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Déposer la candidature").click()
    application.refresh_from_db()
    assert application.status == Status.SUBMITTED  # committed, whatever the broker
    assert posted.value.status == 302, f"the submission answered {posted.value.status}"
    page.wait_for_url(DETAIL_URL)
    # The applicant is told so; the sweeper queues the scoring again later.
    expect_status(page, f"Votre candidature {application.reference} a été déposée")
    expect(page.locator("main p .fr-badge").first).to_have_text(SUBMITTED)


def test_a_budget_line_is_removed_and_amounts_typed_the_french_way(
    page, axe, hospital_user, hospital, call
):
    """The remove box is seen and labelled; "12 500,50 €" is an amount."""
    application = ApplicationFactory(call=call, candidate=hospital)
    BudgetLine.objects.create(
        application=application, category="other", description="Ligne en trop", amount=900
    )
    log_in(page, hospital_user.email)
    page.goto(f"/candidatures/{application.public_id}/budget/")
    remove = page.get_by_label("Supprimer la ligne 1")
    expect(page.locator("label", has_text="Supprimer").first).to_be_visible()
    assert_accessible(axe, page)
    page.locator("label", has=page.get_by_text("Supprimer")).first.click()
    expect(remove).to_be_checked()
    page.get_by_label("Catégorie (ligne 2)").select_option(label="Formation et exercices de crise")
    page.get_by_label("Description (ligne 2)").fill("Exercice de crise cyber")
    page.get_by_label("Montant HT (€) (ligne 2)").fill("12 500,50 €")
    page.get_by_role("button", name="Enregistrer et continuer").click()
    page.wait_for_url(re.compile(r"/depot/(#.*)?$"))
    assert list(application.budget_lines.values_list("description", "amount")) == [
        ("Exercice de crise cyber", Decimal("12500.50"))
    ]


def test_typed_answers_survive_an_upload_taken_or_refused(
    page, axe, hospital_user, hospital, call, tmp_path
):
    """The text typed in a requirement and not saved is kept when a file is sent, the
    file being taken or refused, and the refused file's message sits at its field."""
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    log_in(page, hospital_user.email)
    page.goto(f"/candidatures/{application.public_id}/reponses/")
    first, second = requirement_fieldset(page, "D2.P1"), requirement_fieldset(page, "D2.P2")
    first.get_by_role("textbox", name=re.compile("Commentaire")).fill(
        "PCA signé par le directeur en mars"
    )
    second.get_by_role("textbox", name=re.compile("Commentaire")).fill(
        "Restauration testée le 3 juin"
    )

    # A refused file (not a PDF): the message at its field, the typed text still there.
    bad = tmp_path / "script.pdf"
    bad.write_bytes(b"#!/bin/sh\necho pas un PDF\n")
    first.get_by_label("Ajouter une pièce pour D2.P1").set_input_files(bad)
    first.get_by_role("button", name="Envoyer la pièce pour D2.P1").click()
    first = requirement_fieldset(page, "D2.P1")
    expect(first.locator(".fr-error-text")).to_be_visible()
    expect(first.get_by_role("textbox", name=re.compile("Commentaire"))).to_have_value(
        "PCA signé par le directeur en mars"
    )
    expect(
        requirement_fieldset(page, "D2.P2").get_by_role("textbox", name=re.compile("Commentaire"))
    ).to_have_value("Restauration testée le 3 juin")
    assert_accessible(axe, page)

    # Saving from the page of the refusal works and keeps everything.
    requirement_fieldset(page, "D2.P2").get_by_role("textbox", name=re.compile("Commentaire")).fill(
        "Restauration testée le 4 juin"
    )
    # A taken file: the typed text is saved with it.
    pdf = small_pdf(tmp_path, "pca.pdf")
    first = requirement_fieldset(page, "D2.P1")
    first.get_by_label("Ajouter une pièce pour D2.P1").set_input_files(pdf)
    first.get_by_role("button", name="Envoyer la pièce pour D2.P1").click()
    page.wait_for_url(re.compile(r"/reponses/#answer-\d+$"))
    expect_status(page, "Pièce « pca.pdf » ajoutée")
    expect(
        requirement_fieldset(page, "D2.P2").get_by_role("textbox", name=re.compile("Commentaire"))
    ).to_have_value("Restauration testée le 4 juin")
    comments = dict(
        Answer.objects.filter(application=application).values_list(
            "requirement__identifier", "comment"
        )
    )
    assert comments["D2.P1"] == "PCA signé par le directeur en mars"
    assert comments["D2.P2"] == "Restauration testée le 4 juin"
    assert Evidence.objects.filter(application=application, original_name="pca.pdf").count() == 1
