"""A person logs in, browses the directory and opens a legal entity, in Chromium."""

import pytest
from playwright.sync_api import expect

from establishments.models import Department

from ..factories import LegalEntityFactory, SiteFactory, make_finess
from .conftest import assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_ars_agent_logs_in_filters_and_opens_an_entity(page, axe, ars_user, hospital):
    SiteFactory(legal_entity=hospital, name="Hôpital Nord-Ouest")
    LegalEntityFactory(
        name="Clinique de l'Ouest",
        department=Department.objects.get(code="29"),
        finess=make_finess("29", 4),
    )
    page.goto("/")
    assert_accessible(axe, page)
    page.goto("/accounts/login/")
    assert_accessible(axe, page)

    log_in(page, ars_user.email)
    expect(page.get_by_role("heading", name="Bonjour Charlie")).to_be_visible()
    assert_accessible(axe, page)

    page.get_by_role("link", name="Annuaire", exact=True).click()
    page.wait_for_url("**/annuaire/")
    expect(page.get_by_role("heading", name="1 entité juridique")).to_be_visible()
    assert "Clinique de l'Ouest" not in page.content()  # another region
    assert_accessible(axe, page)

    page.get_by_label("Département").select_option("69")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**department=*")  # the filtered list, not the one it replaces
    page.get_by_role("link", name=hospital.name).click()
    expect(page.get_by_role("heading", name=hospital.name, level=1)).to_be_visible()
    expect(page.get_by_text("Hôpital Nord-Ouest")).to_be_visible()
    assert_accessible(axe, page)


def test_wrong_password_is_announced_in_french(page, hospital_user):
    page.goto("/accounts/login/")
    page.get_by_label("Adresse électronique").fill(hospital_user.email)
    page.get_by_label("Mot de passe").fill("mauvais")
    page.locator("main").get_by_role("button", name="Se connecter").click()
    # expect() waits for the answer (is_visible() would read the page at once).
    expect(page.get_by_role("alert").filter(has_text="mot de passe incorrect")).to_be_visible()


def test_language_switch_turns_the_interface_to_english(page, db):
    page.goto("/accounts/login/")
    switch = page.locator("header form[action*='i18n']").first
    switch.locator("select").select_option("en")
    switch.get_by_role("button").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.locator("main").get_by_role("button", name="Log in")).to_be_visible()
