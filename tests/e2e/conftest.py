"""Browser tests: Playwright drives the system Chromium against a live server."""

import os
import shutil

import pytest
from django.conf import settings
from playwright.sync_api import expect

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls
# are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if settings.CARE_REQUIRE_SERVICES:
            pytest.fail(f"Chromium is required for browser tests ({CHROMIUM} is missing)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(axe, page) -> None:
    """No serious or critical axe violation on the page (WCAG 2.1 A and AA rules)."""
    # Every node of every violation, but only one node of the other result types: the
    # result crosses from the browser much faster (28 kB instead of 450 kB on a table).
    options = {"runOnly": WCAG_21_AA, "resultTypes": ["violations"]}
    results = axe.run(page, options=options)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()


def log_in(page, email: str, password: str = "correct-horse-battery") -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.locator("main").get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/")


def follow_menu_link(page, name: str, path: str, *, exact: bool = False) -> None:
    """Follows the link `name` of the main navigation, and waits for its page at `path`."""
    menu = page.get_by_role("navigation", name="Menu principal")
    menu.get_by_role("link", name=name, exact=exact).click()
    page.wait_for_url(f"**{path}")


def expect_status(page, text: str) -> None:
    """The page shows a status message (role "status") that contains `text`."""
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()
