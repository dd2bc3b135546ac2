"""A ministry bulk approval in the admin, in Chromium: select applications, choose
"Accorder un financement", confirm with the amounts (prefilled with the ARS proposal),
read the report (done, pending co-signature, refused and why). The confirmation and
report pages are checked with axe, whole (the admin's breadcrumbs are underlined by
templates/admin/base_site.html: white on light blue, they failed `link-in-text-block`)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from applications.models import Application, CoSignature

from ..factories import ApplicationFactory, FundingCallFactory
from .conftest import assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)

K = Decimal("1000")


def test_ministry_approves_a_batch_and_reads_the_report(page, axe, ministry_user):
    call = FundingCallFactory(envelope=1000 * K, second_approval_above=300 * K)
    proposed = ApplicationFactory(
        call=call,
        status="national_review",
        reference="D2-BULK-0001",
        requested_amount=250 * K,
        proposed_amount=200 * K,
    )
    large = ApplicationFactory(
        call=call, status="national_review", reference="D2-BULK-0002", requested_amount=400 * K
    )
    too_much = ApplicationFactory(
        call=call, status="national_review", reference="D2-BULK-0003", requested_amount=90 * K
    )
    log_in(page, ministry_user.email)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/admin/applications/application/?q=D2-BULK")
    # At 1280 px the key columns are in view, not past the list's scrolled edge.
    edge = page.locator("#changelist .results").bounding_box()
    assert edge is not None
    for column in ("status", "requested_amount", "proposed_amount", "granted_amount"):
        box = page.locator(f"#result_list th.column-{column}").bounding_box()
        assert box is not None and box["x"] + box["width"] <= edge["x"] + edge["width"], column
    expect(page.locator("#result_list td.field-requested_amount").first).to_contain_text(
        re.compile(r"^\d{2,3}\s000,00$")
    )
    for application in (proposed, large, too_much):
        page.get_by_role("row", name=re.compile(application.reference)).get_by_role(
            "checkbox"
        ).check()
    page.locator("select[name=action]").select_option(label="Accorder un financement…")
    page.get_by_role("button", name="Envoyer").click()

    # The confirmation page: every application, an amount each, prefilled.
    expect(page.get_by_role("heading", level=1)).to_have_text("Accorder un financement")
    table = page.get_by_role("table", name="Candidatures concernées")
    for application in (proposed, large, too_much):
        expect(table.get_by_role("link", name=application.reference)).to_be_visible()
    amount = page.get_by_label(f"Montant accordé à {proposed.reference} (€)")
    expect(amount).to_have_value("200000.00")
    page.get_by_label(f"Montant accordé à {large.reference} (€)").fill("350000")
    page.get_by_label(f"Montant accordé à {too_much.reference} (€)").fill("95 000")
    page.get_by_label("Observations").fill("Comité du 12 juin")
    assert_accessible(axe, page)
    page.get_by_role("button", name=re.compile("^Confirmer")).click()

    # The report: one line per application.
    report = page.get_by_role("table", name="Compte rendu, candidature par candidature")
    expect(report).to_be_visible()
    rows = {
        application.reference: report.get_by_role("row", name=re.compile(application.reference))
        for application in (proposed, large, too_much)
    }
    expect(rows[proposed.reference]).to_contain_text("Effectuée")
    expect(rows[large.reference]).to_contain_text("En attente de co-signature")
    expect(rows[too_much.reference]).to_contain_text("Non effectuée")
    expect(rows[too_much.reference]).to_contain_text("dépasse le montant demandé")
    expect(page.locator("#decision-summary")).to_contain_text("1 candidature traitée")
    assert_accessible(axe, page)

    proposed.refresh_from_db()
    assert (proposed.status, proposed.granted_amount) == ("approved", 200 * K)
    assert Application.objects.get(pk=large.pk).status == "national_review"
    assert CoSignature.objects.get(application=large).state == "pending"
