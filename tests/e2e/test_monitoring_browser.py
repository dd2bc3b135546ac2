"""The participation dashboards in Chromium: the national page (ministry) and a regional
page (ARS), each checked with axe; every area of the map is reached with the keyboard
and opens its page with Enter."""

import re

import pytest
from playwright.sync_api import expect

from ..monitoring.fixtures import build_monitoring_world
from .conftest import assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)

FOCUSED_AREA = """() => {
    const element = document.activeElement;
    return element && element.matches("a.monitoring-map__area")
        ? element.getAttribute("aria-label") : null;
}"""


def tab_through_map(page, limit: int = 80) -> list[str]:
    """Press Tab from the top of the page until the map is left; return the names of the
    map's areas that took the focus, in order."""
    page.locator("h1").click()
    reached: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        name = page.evaluate(FOCUSED_AREA)
        if name:
            reached.append(name)
        elif reached:
            break
    return reached


def tab_to_area(page, name: str) -> None:
    page.locator("h1").click()
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED_AREA) == name:
            return
    raise AssertionError(f"{name} was never focused")


def test_national_dashboard_in_the_browser(page, axe, ministry_user):
    build_monitoring_world()
    log_in(page, ministry_user.email)
    page.goto("/suivi/?appel=D2-MON")
    expect(page.get_by_role("heading", name="Suivi national de la participation")).to_be_visible()
    expect(page.get_by_role("heading", name="Taux de candidature par région")).to_be_visible()
    assert_accessible(axe, page)

    # The 18 regions, overseas insets included, one tab stop each.
    reached = tab_through_map(page)
    assert len(reached) == 18, reached
    assert "Auvergne-Rhône-Alpes : taux de candidature, 50,0\u00a0%" in reached
    assert any(name.startswith("Mayotte :") for name in reached)

    tab_to_area(page, "Auvergne-Rhône-Alpes : taux de candidature, 50,0\u00a0%")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/suivi/regions/84/"))
    expect(
        page.get_by_role("heading", name="Suivi de la participation : Auvergne-Rhône-Alpes")
    ).to_be_visible()

    # Another rate for the map, chosen in the form (kept in the URL).
    page.goto("/suivi/?appel=D2-MON")
    page.get_by_label("Taux représenté sur la carte").select_option("volet1_rate")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url(re.compile(r"carte=volet1_rate"))
    expect(
        page.get_by_role("heading", name="Taux de participation au Volet 1 par région")
    ).to_be_visible()
    assert_accessible(axe, page)


def test_regional_dashboard_in_the_browser(page, axe, ars_user):
    build_monitoring_world()
    log_in(page, ars_user.email)
    page.get_by_role("link", name="Suivi de la participation").first.click()
    page.wait_for_url(re.compile(r"/suivi/regions/84/"))
    page.get_by_label("Appel à financement").select_option("D2-MON")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url(re.compile(r"appel=D2-MON"))
    expect(page.get_by_role("heading", name="Taux de candidature par département")).to_be_visible()
    assert_accessible(axe, page)

    # The twelve départements of the region.
    reached = tab_through_map(page)
    assert len(reached) == 12, reached
    assert "Isère : taux de candidature, 0,0\u00a0%" in reached

    tab_to_area(page, "Isère : taux de candidature, 0,0\u00a0%")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/suivi/departements/38/"))
    expect(
        page.get_by_role("heading", name=re.compile("Suivi de la participation : Isère"))
    ).to_be_visible()
    assert_accessible(axe, page)

    # The list an ARS agent phones: eligible entities without an application.
    page.get_by_role("link", name=re.compile(r"Éligibles sans candidature \(2\)")).click()
    expect(page.get_by_role("heading", name="2 entités juridiques")).to_be_visible()
    expect(page.get_by_role("link", name="E8 EBNL Isère")).to_be_visible()
    assert_accessible(axe, page)
