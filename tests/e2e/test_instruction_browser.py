"""ARS instruction in Chromium: the agent opens the queue from the main navigation,
filters it by département (the filter lands in the URL), opens an application, takes
it, gives an opinion (an amount too large first: the error is at the field) and sends
it to the ministry. axe checks each page: no serious or critical violation."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from applications.lifecycle import Status
from applications.models import Application, RegionalReview

from ..applications.test_pdf import make_dossier_application
from ..applications.test_worklist import make
from .conftest import assert_accessible, expect_status, follow_menu_link, log_in

pytestmark = pytest.mark.django_db(transaction=True)

INSTRUCTION_URL = re.compile(r"/instruction/[0-9a-f-]{36}/(#.*)?$")


@pytest.fixture
def application(hospital):
    """The hospital's complete application (Rhône), scored eligible: in regional review."""
    application = make_dossier_application(hospital)
    assert application.status == Status.REGIONAL_REVIEW
    return application


@pytest.fixture
def ain_application(db):
    return make(
        department="01",
        name="Centre hospitalier de Bourg-en-Bresse",
        score="1",
    )


def test_ars_agent_filters_the_queue_and_opens_an_application(
    page, axe, ars_user, application, ain_application
):
    elsewhere = make(department="29", name="Centre hospitalier de Morlaix")
    log_in(page, ars_user.email)
    follow_menu_link(page, "File d'instruction", "/instruction/")
    expect(page.get_by_role("heading", name="File d'instruction", level=1)).to_be_visible()
    tabs = page.get_by_role("navigation", name="Étapes de la file")
    expect(tabs.get_by_role("link", name="À instruire (2)")).to_have_attribute(
        "aria-current", "page"
    )
    table = page.get_by_role("table", name="File d'instruction : À instruire")
    expect(table.locator("tbody tr")).to_have_count(2)
    # Sorted by score: the hospital's complete application first.
    expect(table.locator("tbody tr").first).to_contain_text(application.reference)
    expect(page.get_by_text(elsewhere.candidate.name)).to_have_count(0)
    assert_accessible(axe, page)

    # Filter by département: the filter lives in the URL.
    page.get_by_label("Département").select_option(value="01")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url(re.compile(r"department=01"))
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Centre hospitalier de Bourg-en-Bresse")
    expect(table).not_to_contain_text(application.reference)
    expect(tabs.get_by_role("link", name="À instruire (1)")).to_be_visible()
    assert_accessible(axe, page)

    # Shared as a link, the same filtered queue; then back to all and open one.
    page.goto(page.url)
    expect(table.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Réinitialiser").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    table.get_by_role("link", name=application.reference, exact=True).click()
    page.wait_for_url(INSTRUCTION_URL)
    expect(
        page.get_by_role("heading", name=f"Candidature {application.reference}", level=1)
    ).to_be_visible()
    expect(page.get_by_role("table", name="Règles d'éligibilité")).to_be_visible()
    volet1 = page.get_by_role("table", name="Résultats du Volet 1 des entités couvertes")
    expect(volet1.locator("tbody tr")).to_have_count(application.coverages.count())
    assert_accessible(axe, page)


def test_ars_agent_gives_an_opinion_and_sends_to_the_ministry(page, axe, ars_user, application):
    log_in(page, ars_user.email)
    page.goto(f"/instruction/{application.public_id}/")
    page.get_by_role("button", name="Je prends cette candidature").click()
    expect_status(page, "Vous instruisez désormais la candidature")
    expect(page.locator("#assignment")).to_contain_text(ars_user.full_name)

    form = page.locator("#opinion form")
    form.get_by_text("Favorable", exact=True).click()
    form.get_by_label("Motivation de l'avis").fill("Plan de continuité complet et testé.")
    form.get_by_label("Montant proposé (€)").fill("300000")
    form.get_by_role("button", name="Envoyer l'avis au ministère").click()

    # Above the requested amount: the error at the field, the summary focused.
    summary = page.get_by_role("alert").filter(has_text="Le formulaire contient 1 erreur")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    amount = page.locator("#opinion form").get_by_label("Montant proposé (€)")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_opinion-proposed_amount_error")).to_contain_text(
        "dépasse le montant demandé"
    )
    assert_accessible(axe, page)
    assert Application.objects.get(pk=application.pk).status == Status.REGIONAL_REVIEW

    form = page.locator("#opinion form")
    amount.fill("200000")
    expect(form.get_by_label("Motivation de l'avis")).to_have_value(
        "Plan de continuité complet et testé."
    )
    form.get_by_role("button", name="Envoyer l'avis au ministère").click()
    expect_status(page, "est envoyée au ministère")
    expect(page.locator("main .fr-badge").first).to_have_text("Instruction nationale")
    expect(page.locator("#decision")).to_contain_text("Avis Favorable de")
    expect(page.get_by_role("button", name="Envoyer l'avis au ministère")).to_have_count(0)
    assert_accessible(axe, page)

    stored = Application.objects.get(pk=application.pk)
    assert stored.status == Status.NATIONAL_REVIEW
    assert stored.proposed_amount == Decimal("200000")
    review = RegionalReview.objects.get(application=application)
    assert (review.opinion, review.author) == ("favourable", ars_user)


def test_ars_of_another_region_gets_page_not_found(page, other_region_ars_user, application):
    log_in(page, other_region_ars_user.email)
    response = page.goto(f"/instruction/{application.public_id}/")
    assert response is not None and response.status == 404
    expect(page.get_by_text(application.candidate.name)).to_have_count(0)
