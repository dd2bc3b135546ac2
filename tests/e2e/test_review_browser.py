"""The review side of a submitted application, in Chromium: an ARS agent finds it in
"Candidatures", reads the whole eligibility explanation and downloads the PDF dossier;
the applicant sees only the summary; the ministry relaunches a failed rendering; an ARS
of another region is told the page does not exist. Each page visited is checked with axe."""

import re

import pytest
from django.template.defaultfilters import floatformat
from django.utils import translation
from playwright.sync_api import expect

from applications.dossiers import dossier_render
from applications.lifecycle import Status
from applications.models import Dossier
from applications.templatetags.applications_tags import RULE_LABELS
from establishments.models import Department

from ..applications.test_pdf import make_dossier_application
from ..factories import ApplicationFactory, LegalEntityFactory, make_finess
from .conftest import assert_accessible, expect_status, follow_menu_link, log_in

pytestmark = pytest.mark.django_db(transaction=True)

DETAIL_URL = re.compile(r"/candidatures/[0-9a-f-]{36}/(#.*)?$")


def french(value, digits: str = "2") -> str:
    """A number as the page shows it (`floatformat`, French separators)."""
    with translation.override("fr"):
        return str(floatformat(value, digits))


@pytest.fixture
def application(hospital):
    """A complete application of the hospital (Rhône, the ARS agent's region), submitted,
    scored and moved on to regional review, with its PDF dossier rendered."""
    application = make_dossier_application(hospital)
    dossier = dossier_render(application_id=application.pk)
    assert dossier is not None and dossier.status == Dossier.Status.DONE
    return application


@pytest.fixture
def dossier(application):
    return Dossier.objects.get(application=application, kind="dossier", version=1)


def check_download(page, application, dossier) -> None:
    """The dossier's link sends the PDF, under a name that says what it is."""
    section = page.locator("#dossiers")
    link = section.get_by_role(
        "link",
        name=re.compile(
            rf"^Dossier de candidature {re.escape(application.reference)}, version 1 "
            rf"PDF – {dossier.pages} pages"
        ),
    )
    expect(link).to_be_visible()
    with page.expect_download() as downloading:
        link.click()
    download = downloading.value
    assert download.failure() is None
    assert download.suggested_filename == f"{application.reference}-dossier-v1.pdf"
    with open(download.path(), "rb") as received:
        content = received.read()
    assert content.startswith(b"%PDF")
    assert len(content) == dossier.size


def test_ars_agent_reads_the_eligibility_and_downloads_the_dossier(
    page, axe, ars_user, application, dossier
):
    elsewhere = ApplicationFactory(
        candidate=LegalEntityFactory(
            name="Centre hospitalier de Morlaix",
            department=Department.objects.get(code="29"),
            finess=make_finess("29", 5),
        ),
        status="submitted",
        reference="D2-BRETAGNE-000001",
    )
    result = application.eligibility
    assert application.status == Status.REGIONAL_REVIEW and result.eligible

    # "Candidatures", from the main navigation: the application of the region only.
    log_in(page, ars_user.email)
    follow_menu_link(page, "Candidatures", "/candidatures/", exact=True)
    expect(page.get_by_role("heading", name="Candidatures", level=1)).to_be_visible()
    table = page.get_by_role("table", name="1 candidature")
    expect(table.locator("tbody tr")).to_have_count(1)
    row = table.locator("tbody tr").first
    expect(row).to_contain_text(application.candidate.name)
    expect(row).to_contain_text(str(Status.REGIONAL_REVIEW.label))
    expect(row).to_contain_text("Instruction par l'ARS")
    expect(page.get_by_role("link", name=elsewhere.reference)).to_have_count(0)
    expect(page.get_by_text("Centre hospitalier de Morlaix")).to_have_count(0)
    assert_accessible(axe, page)

    page.get_by_role("link", name=application.reference, exact=True).click()
    page.wait_for_url(DETAIL_URL)
    expect(
        page.get_by_role("heading", name=f"Candidature {application.reference}", level=1)
    ).to_be_visible()

    # The whole eligibility explanation: every rule with its detail...
    eligibility = page.locator("#eligibility")
    expect(eligibility.get_by_role("heading", name="Éligibilité", level=2)).to_be_visible()
    expect(eligibility.locator(".fr-badge").first).to_have_text("Éligible")
    expect(eligibility).to_contain_text(f"Score de priorité : {french(result.score)} / 100")
    expect(eligibility).to_contain_text(f"Règles version {result.rules_version}, évaluées le")
    rules = eligibility.get_by_role("table", name="Règles d'éligibilité")
    assert [rule["id"] for rule in result.rules] == [f"E{n}" for n in range(1, 8)]
    expect(rules.locator("tbody tr")).to_have_count(7)
    for index, rule in enumerate(result.rules):
        row = rules.locator("tbody tr").nth(index)
        expect(row.get_by_role("rowheader")).to_have_text(
            f"{rule['id']} – {RULE_LABELS[rule['id']]}"
        )
        expect(row.locator("td").nth(0)).to_contain_text(
            "Respectée" if rule["passed"] else "Non respectée"
        )
        expect(row.locator("td").nth(1)).to_have_text(rule["detail"])
    # ... and the priority score, factor by factor, with their points.
    factors = eligibility.get_by_role("table", name="Décomposition du score de priorité")
    assert result.factors
    expect(factors.locator("tbody tr")).to_have_count(len(result.factors))
    for index, factor in enumerate(result.factors):
        row = factors.locator("tbody tr").nth(index)
        expect(row.get_by_role("rowheader")).to_have_text(factor["label"])
        cells = row.locator("td")
        expect(cells.nth(0)).to_have_text(str(factor["weight"]))
        expect(cells.nth(1)).to_have_text(f"{round(float(factor['value']) * 100)} %")
        expect(cells.nth(2)).to_have_text(french(factor["points"]))
        expect(cells.nth(3)).to_have_text(factor["detail"])
    expect(factors.locator("tfoot")).to_contain_text(french(result.score))

    # The dossier block: the eligibility checked, version 1 available, downloadable.
    dossiers = page.locator("#dossiers")
    expect(dossiers.get_by_role("heading", name="Dossier PDF", level=2)).to_be_visible()
    expect(dossiers).to_contain_text("Éligibilité : vérifiée")
    expect(
        dossiers.get_by_role("heading", name="Dossier de candidature (version 1) Disponible")
    ).to_be_visible()
    expect(dossiers).to_contain_text(f"SHA-256 {dossier.sha256[:12]}…")
    assert_accessible(axe, page)
    check_download(page, application, dossier)


def test_applicant_sees_the_summary_and_downloads_the_dossier(
    page, axe, hospital_user, application, dossier
):
    assert application.eligibility.eligible
    log_in(page, hospital_user.email)
    page.goto(f"/candidatures/{application.public_id}/")
    expect(
        page.get_by_role("heading", name=f"Candidature {application.reference}", level=1)
    ).to_be_visible()

    # Only the outcome: neither the rules, nor the score, nor its factors.
    eligibility = page.locator("#eligibility")
    expect(eligibility.get_by_role("heading", name="Éligibilité", level=2)).to_be_visible()
    expect(eligibility.locator(".fr-badge")).to_have_text("Éligible")
    expect(eligibility.get_by_role("table")).to_have_count(0)
    expect(eligibility).not_to_contain_text("Score de priorité")
    expect(page.get_by_role("table", name="Décomposition du score de priorité")).to_have_count(0)
    expect(page.get_by_text("Points", exact=True)).to_have_count(0)
    for factor in application.eligibility.factors:
        expect(page.get_by_text(factor["detail"])).to_have_count(0)

    dossiers = page.locator("#dossiers")
    expect(
        dossiers.get_by_role("heading", name="Dossier de candidature (version 1) Disponible")
    ).to_be_visible()
    assert_accessible(axe, page)
    check_download(page, application, dossier)


def failed_dossier_seen_by(page, user, url: str):
    """The dossiers of the application at `url`, seen by `user` once logged in: its first
    version failed to render."""
    log_in(page, user.email)
    page.goto(url)
    dossiers = page.locator("#dossiers")
    expect(
        dossiers.get_by_role("heading", name="Dossier de candidature (version 1) En échec")
    ).to_be_visible()
    return dossiers


def test_ministry_relaunches_a_failed_rendering(
    page, axe, ars_user, ministry_user, application, dossier
):
    Dossier.objects.filter(pk=dossier.pk).update(
        status=Dossier.Status.FAILED, error="RuntimeError: WeasyPrint a échoué (essai)"
    )
    url = f"/candidatures/{application.public_id}/"

    # The ARS agent sees the failure, not the button (nor the technical error).
    dossiers = failed_dossier_seen_by(page, ars_user, url)
    expect(dossiers).to_contain_text("La génération du PDF a échoué.")
    expect(dossiers).to_contain_text("Le ministère en est informé et relancera la génération.")
    expect(page.get_by_role("button", name="Relancer la génération")).to_have_count(0)
    expect(dossiers).not_to_contain_text("RuntimeError")
    expect(dossiers.get_by_role("link")).to_have_count(0)

    # The ministry sees the error and relaunches the rendering.
    page.context.clear_cookies()
    dossiers = failed_dossier_seen_by(page, ministry_user, url)
    expect(dossiers).to_contain_text("RuntimeError: WeasyPrint a échoué (essai)")
    button = dossiers.get_by_role("button", name="Relancer la génération")
    expect(button).to_be_visible()
    assert_accessible(axe, page)

    with page.expect_request(lambda r: r.method == "POST" and "/relancer/" in r.url):
        button.click()
    page.wait_for_url(re.compile(r"/candidatures/[0-9a-f-]{36}/#dossiers$"))
    expect_status(page, "La génération du PDF « Dossier de candidature » (version 1) est relancée.")
    dossier.refresh_from_db()
    # Tasks run eagerly: the rendering may already be done when the page is drawn.
    assert dossier.status in (Dossier.Status.PENDING, Dossier.Status.DONE)
    status_label = str(Dossier.Status(dossier.status).label)
    expect(
        page.locator("#dossiers").get_by_role(
            "heading", name=f"Dossier de candidature (version 1) {status_label}"
        )
    ).to_be_visible()
    expect(page.get_by_role("button", name="Relancer la génération")).to_have_count(0)
    assert_accessible(axe, page)


def test_ars_of_another_region_gets_page_not_found(page, axe, other_region_ars_user, application):
    log_in(page, other_region_ars_user.email)
    response = page.goto(f"/candidatures/{application.public_id}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page non trouvée", level=1)).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Page non trouvée"))
    expect(page.get_by_text(application.reference)).to_have_count(0)
    expect(page.get_by_text(application.candidate.name)).to_have_count(0)
    assert_accessible(axe, page)
