"""Volet 1 in Chromium: an establishment user follows the home page's card to its Volet 1
page (status, chart and its table); an ARS agent filters the directory by Volet 1
status. Each page visited is checked with axe."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone, translation
from django.utils.formats import date_format
from playwright.sync_api import expect

from audits.models import Volet1Level, Volet1Status
from audits.services import volet1_status_refresh
from establishments.models import Department

from ..factories import LegalEntityFactory, make_finess
from ..volet1 import make_audit, make_scan
from .conftest import assert_accessible, follow_menu_link, log_in

pytestmark = pytest.mark.django_db(transaction=True)

CHART_TITLE = "Vulnérabilités critiques et élevées relevées par les scans d'exposition sur internet"
SCANS_TABLE = "Scans d'exposition sur internet, du plus ancien au plus récent"


def in_words(day: date) -> str:
    """A date as the pages write it: "3 mars 2025"."""
    with translation.override("fr"):
        return date_format(day, "j F Y")


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def volet1_done(hospital, today):
    """The hospital meets both objectives: one AD audit, and two compliant scans 50
    days apart after a failing one."""
    make_audit(hospital, audit_date=today - timedelta(days=40))
    make_scan(hospital, today - timedelta(days=110), met=False)
    first = make_scan(hospital, today - timedelta(days=80), met=True)
    second = make_scan(hospital, today - timedelta(days=30), met=True)
    volet1_status_refresh(legal_entity_ids=[hospital.id])
    assert Volet1Status.objects.get(legal_entity=hospital).level == Volet1Level.BOTH
    return first.scan_date, second.scan_date


def test_establishment_user_reads_its_volet1_page(
    page, axe, hospital_user, hospital, volet1_done, today
):
    first, second = volet1_done
    log_in(page, hospital_user.email)
    assert_accessible(axe, page)

    page.get_by_role("link", name=f"Volet 1 : {hospital.name}").click()
    page.wait_for_url(f"**/volet1/{hospital.public_id}/")
    expect(page.get_by_role("heading", name=f"Volet 1 : {hospital.name}", level=1)).to_be_visible()

    # Where the establishment stands, in words.
    status = page.locator("section[aria-labelledby='volet1-status-title']")
    expect(status.get_by_text(f"Réalisé le {in_words(today - timedelta(days=40))}")).to_be_visible()
    expect(
        status.get_by_text(f"Scans conformes du {in_words(first)} et du {in_words(second)}.")
    ).to_be_visible()
    expect(status.get_by_text("Objectif atteint", exact=True)).to_be_visible()
    expect(status.get_by_text("Non réalisé")).to_have_count(0)
    todo = page.locator("section[aria-labelledby='volet1-todo-title']")
    expect(todo.get_by_text("Objectif atteint.", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Domaine ad.ch-villefranche.fr")).to_be_visible()

    # The chart, an image with a text alternative, and the same figures as a table.
    chart = page.locator("svg[role=img]")
    expect(chart).to_be_visible()
    expect(page.get_by_role("img", name=CHART_TITLE)).to_be_visible()
    expect(chart.locator("desc")).to_contain_text("3 scans")
    expect(chart.locator("desc")).to_contain_text(
        f"L'objectif D1.O2.B est atteint par les scans du {in_words(first)} et du "
        f"{in_words(second)}, à 50 jours d'intervalle"
    )
    table = page.get_by_role("table", name=SCANS_TABLE)
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text((today - timedelta(days=110)).strftime("%d/%m/%Y"))
    expect(rows.nth(0).locator("td").last).to_have_text("non")
    expect(rows.filter(has_text="retenu pour D1.O2.B")).to_have_count(2)
    expect(rows.nth(2).locator("td").last).to_have_text("oui")
    assert_accessible(axe, page)


def test_ars_agent_filters_the_directory_by_volet1_status(
    page, axe, ars_user, hospital, volet1_done, today
):
    # Another entity of the region, with an AD audit only; a third with nothing.
    audited = LegalEntityFactory(
        name="Clinique du Beaujolais",
        department=Department.objects.get(code="69"),
        finess=make_finess("69", 7),
    )
    make_audit(audited, audit_date=today - timedelta(days=10), domain="ad.clinique-beaujolais.fr")
    volet1_status_refresh(legal_entity_ids=[audited.id])
    LegalEntityFactory(
        name="Centre hospitalier de Tarare",
        department=Department.objects.get(code="69"),
        finess=make_finess("69", 8),
    )

    log_in(page, ars_user.email)
    follow_menu_link(page, "Annuaire", "/annuaire/", exact=True)
    expect(page.get_by_role("heading", name="3 entités juridiques")).to_be_visible()

    results = page.get_by_role("table", name="Entités juridiques")
    for level, name in (
        (Volet1Level.BOTH, hospital.name),
        (Volet1Level.AD_DONE, "Clinique du Beaujolais"),
        (Volet1Level.NONE, "Centre hospitalier de Tarare"),
    ):
        page.get_by_label("Volet 1").select_option(level.value)
        page.get_by_role("button", name="Filtrer").click()
        page.wait_for_url(f"**/annuaire/?*volet1={level.value}*")
        expect(page.get_by_role("heading", name="1 entité juridique")).to_be_visible()
        expect(results.locator("tbody tr")).to_have_count(1)
        row = results.locator("tbody tr")
        expect(row.get_by_role("link", name=name)).to_be_visible()
        expect(row.locator(".fr-badge")).to_have_text(str(level.label))
        expect(page.get_by_label("Volet 1")).to_have_value(level.value)  # the filter is kept

    page.get_by_label("Volet 1").select_option(Volet1Level.EXPOSURE_MET.value)
    page.get_by_role("button", name="Filtrer").click()
    # (French puts zero in the singular; the page says "0 entités": accept either.)
    expect(
        page.get_by_role("heading", name=re.compile(r"^0 entités? juridiques?$"))
    ).to_be_visible()
    expect(
        page.get_by_text("Aucune entité juridique ne correspond à ces critères.")
    ).to_be_visible()

    page.get_by_label("Volet 1").select_option(Volet1Level.BOTH.value)
    page.get_by_role("button", name="Filtrer").click()
    expect(results.get_by_role("link", name=hospital.name)).to_be_visible()
    assert_accessible(axe, page)
