"""The Content Security Policy without 'unsafe-inline' styles, in Chromium: pages of the
portal, the API's documentation and the admin load without one CSP violation (a style
attribute or a <style> block in the markup, or one written by a script as markup, would
be refused and reported). Styles set by scripts through the DOM (element.style) are not
governed by style-src and stay allowed: the DSFR's scripts use them."""

import pytest
from playwright.sync_api import expect

from accounts.models import User
from applications.models import Application

from ..factories import ApplicationFactory, FundingCallFactory
from ..monitoring.fixtures import build_monitoring_world
from .conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

# Runs before any script of each page: records every violation the page reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(
        `${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`
    );
});
"""


@pytest.fixture
def csp_page(page):
    """The page, recording CSP violations (event and console) on every document."""
    page.context.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.csp_console = console
    return page


def violations(page) -> list[str]:
    page.wait_for_load_state("networkidle")
    return [*page.evaluate("window.__cspViolations"), *page.csp_console]


def visit(page, url: str) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    return violations(page)


def test_a_style_attribute_written_as_markup_is_reported(csp_page):
    """The detector works: markup with a style attribute is refused and reported."""
    assert visit(csp_page, "/accounts/login/") == []
    csp_page.evaluate(
        """document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>')"""
    )
    assert any("style-src" in line for line in violations(csp_page))


def test_establishment_pages_have_no_csp_violation(csp_page, hospital_user, hospital):
    call = FundingCallFactory()
    application: Application = ApplicationFactory(call=call, candidate=hospital)
    for url in (
        "/",
        "/accounts/login/",
        "/accounts/password-reset/",
        "/accessibilite/",
        "/api/v1/docs/",  # Swagger UI
    ):
        assert visit(csp_page, url) == [], url
    log_in(csp_page, hospital_user.email)
    base = f"/candidatures/{application.public_id}/"
    for url in (
        "/",
        "/candidatures/",
        base,
        f"{base}identite/",
        f"{base}reponses/",
        f"{base}budget/",
        f"{base}depot/",
        "/accounts/securite/",
        "/accounts/double-authentification/activer/",  # the QR code, as inline SVG
        "/accounts/api/",
        "/annuaire/",
    ):
        assert visit(csp_page, url) == [], url
    # A form with errors: the error summary's nonced script focuses it.
    csp_page.goto(f"{base}identite/")
    csp_page.locator("main form button[type=submit]").first.click()
    csp_page.wait_for_load_state()
    assert violations(csp_page) == []


def test_dashboards_and_admin_have_no_csp_violation(csp_page, ministry_user):
    build_monitoring_world()
    application = Application.objects.first()
    assert application is not None
    # Every admin page: the ministry agent is also a superuser here.
    User.objects.filter(pk=ministry_user.pk).update(is_superuser=True)
    log_in(csp_page, ministry_user.email)
    for url in (
        "/suivi/?appel=D2-MON",  # the map and its legend swatches
        "/suivi/regions/84/?appel=D2-MON",
        "/instruction/",
        "/admin/",
        "/admin/applications/application/",
        f"/admin/applications/application/{application.pk}/change/",
        f"/admin/applications/application/{application.pk}/history/",  # field history
        "/admin/accounts/user/",
        "/admin/applications/fundingcall/",
        "/admin/applications/fundingcall/add/",  # date widgets, written by the admin's JS
    ):
        assert visit(csp_page, url) == [], url
    # The admin's calendar pop-up, opened.
    csp_page.locator("a[id^=calendarlink]").first.click()
    expect(csp_page.locator(".calendarbox").first).to_be_visible()
    assert violations(csp_page) == []
