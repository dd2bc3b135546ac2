"""The eligibility preview in Chromium: a hospital whose Volet 1 exposure objective is
not reached, with every section complete and D2.P1 answered "met", sees before
submitting that its file would be ineligible and why (at the answer, on each section,
in full on the submit page), must confirm to file it anyway, and is then told the real
outcome and what it can do. Each page visited is checked with axe."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from applications.lifecycle import Status
from applications.models import (
    Application,
    Transition,
)
from audits.models import DirectoryAudit, ExposureScan

from .conftest import assert_accessible, expect_status, log_in
from .drafts import complete_draft, open_call, requirement_fieldset

pytestmark = pytest.mark.django_db(transaction=True)

DETAIL_URL = re.compile(r"/candidatures/[0-9a-f-]{36}/(#.*)?$")
WOULD_BE_INELIGIBLE = "Avec les données actuelles, votre candidature serait jugée inéligible"
CONFIRM = "Je comprends que ma candidature sera jugée inéligible et je la dépose quand même."
SWORN = "Je certifie sur l'honneur l'exactitude des informations"


@pytest.fixture
def call(db):
    """An open D2 call: D2.P1 checked by the portal from the Volet 1 data, D2.P2 with
    its evidence due with the application, a ceiling well above the request."""
    volet1_audit = {
        "identifier": "D2.P1",
        "label": "Audit Volet 1 réalisé (annuaire AD et exposition)",
        "evidence": "Aucune pièce : vérifié par le portail à partir des résultats du Volet 1.",
        "evidence_stage": "none",
    }
    impact_analysis = {
        "identifier": "D2.P2",
        "label": "Analyse d'impact sur l'activité (BIA)",
        "evidence": "Rapport de BIA",
    }
    return open_call(
        volet1_audit,
        impact_analysis,
        code="D2-PREVIEW",
        title="Continuité et reprise d'activité (essai)",
    )


def test_the_eligibility_preview_appears_before_submitting_a_file_that_would_be_ineligible(
    page, axe, hospital_user, hospital, call
):
    # The AD audit is done; the last exposure scan misses the minimum level.
    DirectoryAudit.objects.create(
        legal_entity=hospital, audit_date=date(2025, 1, 10), tool="pingcastle",
        domain="ch.local", global_score=40, maturity_level=3,
    )  # fmt: skip
    ExposureScan.objects.create(
        legal_entity=hospital, scan_date=date(2025, 2, 1), minimum_level_met=False,
        vulns_critical=2, vulns_high=3,
    )  # fmt: skip
    application = complete_draft(call, hospital, hospital_user)
    log_in(page, hospital_user.email)

    # At the answer: D2.P1 "met" contradicts the Volet 1 data.
    page.goto(f"/candidatures/{application.public_id}/reponses/")
    p1 = requirement_fieldset(page, "D2.P1")
    flag = p1.locator("[id^='contradiction-']")
    expect(flag).to_contain_text("Votre réponse « Atteint » contredit les données du portail")
    expect(flag).to_contain_text("objectif d'exposition D1.O2.B non atteint")
    expect(flag.get_by_role("link", name=hospital.name)).to_have_attribute(
        "href", f"/volet1/{hospital.public_id}/"
    )
    p2 = requirement_fieldset(page, "D2.P2")
    expect(p2.locator("[id^='contradiction-']")).to_have_count(0)
    assert_accessible(axe, page)

    # On a section: a short summary, with the pages to visit.
    page.goto(f"/candidatures/{application.public_id}/budget/")
    summary = page.locator("#eligibility-preview")
    expect(summary.get_by_role("heading", name=WOULD_BE_INELIGIBLE)).to_be_visible()
    expect(summary.get_by_role("link", name=f"Volet 1 de {hospital.name}")).to_be_visible()
    assert_accessible(axe, page)
    summary.get_by_role("link", name="Le détail de chaque point est sur la page de dépôt").click()

    # On the submit page: every reason, with its link, and the confirmation box.
    page.wait_for_url(re.compile(r"/depot/#eligibility-preview$"))
    preview = page.locator("#eligibility-preview")
    expect(preview.get_by_role("heading", name=f"{WOULD_BE_INELIGIBLE} :")).to_be_visible()
    reason = preview.get_by_role("listitem").filter(has_text=f"Volet 1 de {hospital.name}")
    expect(reason).to_contain_text("Objectif d'exposition D1.O2.B non atteint.")
    expect(reason).to_contain_text("n'atteint pas le niveau minimal de sécurité")
    expect(page.get_by_role("heading", name="Toutes les sections sont complètes")).to_be_visible()
    confirm = page.get_by_label(CONFIRM)
    expect(confirm).not_to_be_checked()
    assert_accessible(axe, page)

    # Its link leads to the Volet 1 page of the entity, and back.
    reason.get_by_role("link", name=f"Volet 1 de {hospital.name}").click()
    page.wait_for_url(f"**/volet1/{hospital.public_id}/")
    expect(page.get_by_role("heading", name=f"Volet 1 : {hospital.name}", level=1)).to_be_visible()
    page.go_back()
    page.wait_for_url(re.compile(r"/depot/#eligibility-preview$"))

    # Sworn but not confirmed: refused, said at the box, nothing written.
    page.get_by_text(SWORN).click()
    page.get_by_role("button", name="Déposer la candidature").click()
    errors = page.get_by_role("alert").filter(
        has_text="La candidature n'a pas été déposée : corrigez les points suivants"
    )
    expect(errors).to_be_focused()
    expect(errors.get_by_role("link")).to_have_attribute(
        "href", re.compile(r"/depot/#id_accept_ineligible$")
    )
    expect(page).to_have_title(re.compile(r"^Erreur : "))
    expect(confirm).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, page)
    application.refresh_from_db()
    assert application.status == Status.DRAFT and not application.sworn_statement
    assert not Transition.objects.filter(application=application).exists()

    # Confirmed: filed, scored in process (the embedded default), and said so.
    expect(page.get_by_label(SWORN)).to_be_checked()
    page.get_by_text(CONFIRM).click()
    page.get_by_role("button", name="Déposer la candidature").click()
    page.wait_for_url(DETAIL_URL)
    expect_status(
        page,
        f"Votre candidature {application.reference} a été déposée, mais elle a "
        "été jugée inéligible",
    )
    expect(page.locator("main p .fr-badge").first).to_have_text(str(Status.INELIGIBLE.label))
    next_steps = page.locator("#ineligible-next")
    expect(next_steps.get_by_role("heading", name="Que pouvez-vous faire ?")).to_be_visible()
    next_steps.get_by_role("link", name="Demander un réexamen au ministère").click()
    expect(page).to_have_url(re.compile(r"#id_body$"))
    expect(page.get_by_label("Votre message")).to_be_visible()
    assert_accessible(axe, page)
    application.refresh_from_db()
    assert application.status == Status.INELIGIBLE


def test_an_ineligible_application_is_withdrawn_and_started_again(
    page, axe, hospital_user, hospital, call
):
    """No Volet 1 data: found ineligible. The applicant takes the second path the page
    offers: withdraw, then start a new application to the same call, its contacts
    carried over; both stay in "Mes candidatures"."""
    from applications.lifecycle import application_transition

    first = complete_draft(call, hospital, hospital_user)
    # Submitted: scored in process after the commit (the embedded default).
    application_transition(application=first, to=Status.SUBMITTED, by=hospital_user)
    first.refresh_from_db()
    assert first.status == Status.INELIGIBLE
    log_in(page, hospital_user.email)
    page.goto(f"/candidatures/{first.public_id}/")
    next_steps = page.locator("#ineligible-next")
    expect(next_steps.get_by_role("link", name="Demander un réexamen au ministère")).to_be_visible()
    expect(
        next_steps.get_by_role("heading", name="Retirer la candidature et recommencer")
    ).to_be_visible()
    assert_accessible(axe, page)
    next_steps.get_by_role("link", name="Retirer pour recommencer").click()
    page.wait_for_url(re.compile(r"/retirer/(#.*)?$"))
    expect(page.get_by_text("vous pourrez commencer une nouvelle candidature")).to_be_visible()
    assert_accessible(axe, page)
    page.get_by_label("Motif du retrait (facultatif)").fill("Volet 1 à mettre à jour.")
    page.get_by_role("button", name="Confirmer le retrait").click()
    page.wait_for_url(DETAIL_URL)
    expect_status(page, f"La candidature {first.reference} a été retirée.")
    restart = page.locator("#restart")
    expect(
        restart.get_by_role("heading", name="Recommencer une candidature à cet appel")
    ).to_be_visible()
    assert_accessible(axe, page)
    first.refresh_from_db()
    assert first.status == Status.WITHDRAWN
    assert first.coverages.get().released_at is not None  # released after the commit

    restart.get_by_role("button", name="Commencer une nouvelle candidature").click()
    page.wait_for_url(DETAIL_URL)
    second = Application.objects.exclude(pk=first.pk).get(call=call, candidate=hospital)
    assert page.url.split("#")[0].endswith(f"/candidatures/{second.public_id}/")
    assert second.status == Status.DRAFT and second.director_name == "Claire Dubois"
    page.goto(f"/candidatures/{second.public_id}/identite/")
    expect(page.get_by_label("Nom du directeur ou de la directrice")).to_have_value("Claire Dubois")
    page.goto("/candidatures/")
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=first.reference)).to_contain_text(str(Status.WITHDRAWN.label))
    expect(rows.filter(has_text=second.reference)).to_contain_text(str(Status.DRAFT.label))
    expect(page.get_by_role("link", name="Continuer ma candidature")).to_be_visible()
    assert_accessible(axe, page)
