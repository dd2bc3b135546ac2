"""Tracking to payment in Chromium: the establishment declares its objectives with a
file, the ARS accepts them; the tracking panel follows. Each page is checked with axe."""

import re

import pytest
from playwright.sync_api import expect

from applications.models import Application

# Fixtures of the service tests: a call with two objectives, an application approved to it.
from ..applications.test_tracking import approved, call, objective  # noqa: F401
from .conftest import assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_objectives_declared_then_checked_in_the_browser(
    page,
    axe,
    tmp_path,
    approved,  # noqa: F811
    hospital_user,
    ars_user,
):
    report = tmp_path / "compte-rendu.txt"
    report.write_text("Compte rendu de l'exercice de crise\n", encoding="utf-8")
    o1, o2 = objective(approved.call, "D2.O1"), objective(approved.call, "D2.O2")

    log_in(page, hospital_user.email)
    page.goto(f"/candidatures/{approved.public_id}/")
    expect(page.get_by_role("heading", name="Suivi jusqu'au paiement")).to_be_visible()
    assert_accessible(axe, page)
    page.get_by_role("link", name="Déclarer les objectifs atteints").click()
    expect(page.get_by_role("heading", name=re.compile("D2.O1"))).to_be_visible()
    assert_accessible(axe, page)

    first = page.locator(f"#objective-{o1.pk}")
    first.get_by_label("Ce qui a été réalisé").fill("Exercice de crise mené le 3 mars")
    first.get_by_label("Ajouter une pièce justificative").set_input_files(str(report))
    first.get_by_role("button", name="Enregistrer cet objectif").click()
    expect(page.get_by_text("Objectif D2.O1 déclaré atteint.")).to_be_visible()
    second = page.locator(f"#objective-{o2.pk}")
    second.get_by_label("Ce qui a été réalisé").fill("Fait")
    second.get_by_role("button", name="Enregistrer cet objectif").click()
    page.locator("main").get_by_role("button", name="Déclarer les objectifs atteints").click()
    expect(page.get_by_text("Objectifs déclarés atteints : l'ARS va les vérifier.")).to_be_visible()
    assert Application.objects.get(pk=approved.pk).status == "objectives_declared"

    page.context.clear_cookies()
    log_in(page, ars_user.email)
    page.goto(f"/candidatures/{approved.public_id}/objectifs/verification/")
    expect(page.get_by_role("link", name=re.compile("compte-rendu.txt"))).to_be_visible()
    assert_accessible(axe, page)
    for requirement in (o1, o2):
        # A DSFR radio is drawn by its label, which takes the click.
        page.locator(f"label[for='id_objective-{requirement.pk}-decision_0']").click()
    page.get_by_role("button", name="Enregistrer la vérification").click()
    expect(page.get_by_text("Objectifs acceptés : transmis au ministère.")).to_be_visible()
    assert Application.objects.get(pk=approved.pk).status == "objectives_checked"
    expect(page.get_by_text("Étape 3 sur 5")).to_be_visible()
    assert_accessible(axe, page)
