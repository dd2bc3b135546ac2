"""The validity window of Volet 1 audits (FundingCall.volet1_valid_from): older audits
are outdated, shown as such to applicants and reviewers, and do not satisfy E5; and the
reviewers' page shows the PingCastle rules of the covered entities, by category, in a
number of queries that does not grow with the rules."""

from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.dossiers import volet1_rows
from applications.eligibility import evaluate, gather, preview, volet1_gaps
from applications.models import Coverage, FundingCall, Transition
from audits.models import DirectoryAudit, DirectoryAuditRule

from ..factories import ApplicationFactory, LegalEntityFactory
from .test_eligibility import call, make_application, rule  # noqa: F401 (fixture)

AUDIT_DAY = date(2025, 1, 10)  # the audit `volet1()` of test_eligibility records


def test_without_a_window_start_every_audit_counts(call):  # noqa: F811
    assert call.volet1_valid_from is None
    assert rule(evaluate(make_application(call)), "E5").passed


@pytest.mark.parametrize(
    ("valid_from", "passes"),
    [(AUDIT_DAY, True), (AUDIT_DAY - timedelta(days=1), True), (date(2025, 6, 1), False)],
)
def test_e5_counts_only_the_audits_from_the_window_start(call, valid_from, passes):  # noqa: F811
    call.volet1_valid_from = valid_from
    call.save()

    e5 = rule(evaluate(make_application(call)), "E5")

    assert e5.passed is passes
    if not passes:
        assert "audit AD obsolète" in e5.detail
        assert "10/01/2025" in e5.detail and "01/06/2025" in e5.detail


def test_an_outdated_audit_is_explained_to_the_applicant(call, client, hospital, hospital_user):  # noqa: F811
    call.volet1_valid_from = date(2025, 6, 1)
    call.opens_at -= timedelta(days=400)
    call.save()
    application = make_application(call, hospital, status="draft")
    Transition.objects.filter(application=application).delete()

    result = preview(application)

    (problem,) = [p for p in result.problems if p.rule == "E5"]
    assert "obsolète" in problem.reason
    assert "10/01/2025" in problem.reason and "01/06/2025" in problem.reason
    client.force_login(hospital_user)
    page = client.get(reverse("applications:application-submit", args=[application.public_id]))
    assert page.status_code == 200
    html = unescape(page.content.decode())
    assert "Audit de l'annuaire Active Directory obsolète" in html
    assert "à partir du 01/06/2025" in html


def test_a_newer_audit_of_the_entity_makes_it_count_again(call):  # noqa: F811
    call.volet1_valid_from = date(2025, 6, 1)
    call.save()
    application = make_application(call)
    DirectoryAudit.objects.create(
        legal_entity=application.candidate, audit_date=date(2025, 7, 1), tool="oradad",
        domain="nouveau.local",
    )  # fmt: skip

    assert rule(evaluate(application), "E5").passed


def test_the_window_start_is_editable_in_the_admin(admin_client, call):  # noqa: F811
    url = reverse("admin:applications_fundingcall_change", args=[call.pk])
    assert 'name="volet1_valid_from"' in admin_client.get(url).content.decode()
    assert FundingCall._meta.get_field("volet1_valid_from").null


# The reviewers' page ------------------------------------------------------------------------


@pytest.fixture
def reviewed(hospital):
    application = ApplicationFactory(
        candidate=hospital, status="regional_review", requested_amount=Decimal("100000")
    )
    Transition.objects.create(
        application=application, from_status="submitted", to_status="regional_review"
    )
    Coverage.objects.create(call=application.call, application=application, legal_entity=hospital)
    other = LegalEntityFactory(name="EHPAD couvert")
    Coverage.objects.create(call=application.call, application=application, legal_entity=other)
    old = DirectoryAudit.objects.create(
        legal_entity=hospital, audit_date=date(2023, 3, 1), tool="pingcastle",
        domain="ch.local", global_score=70, maturity_level=1,
    )  # fmt: skip
    DirectoryAuditRule.objects.create(
        audit=old, risk_id="P-AdminNum", category="PrivilegedAccounts", points=10,
        rationale="Trop d'administrateurs", maturity_level=1,
    )  # fmt: skip
    recent = DirectoryAudit.objects.create(
        legal_entity=other, audit_date=date(2025, 9, 1), tool="pingcastle",
        domain="ehpad.local", global_score=20, maturity_level=2,
    )  # fmt: skip
    DirectoryAuditRule.objects.create(
        audit=recent, risk_id="A-Krbtgt", category="Anomalies", points=20,
        rationale="Mot de passe krbtgt ancien", maturity_level=2,
    )  # fmt: skip
    DirectoryAuditRule.objects.create(
        audit=recent, risk_id="S-FunctionalLevel3", category="StaleObjects", points=0,
        maturity_level=3,
    )  # fmt: skip
    application.call.volet1_valid_from = date(2024, 1, 1)
    application.call.save()
    return application


def instruction_page(client, user, application):
    client.force_login(user)
    response = client.get(reverse("instruction:detail", args=[application.public_id]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_reviewers_see_outdated_audits_and_the_rules_by_category(client, reviewed, ars_user):
    html = instruction_page(client, ars_user, reviewed)

    table = html.split("Résultats du Volet 1 des entités couvertes", 1)[1]
    row = table.split("Centre hospitalier de Villefranche", 1)[1].split("</tr>", 1)[0]
    assert "obsolète" in row and "1 janvier 2024" in row
    assert "aucun audit" not in row
    assert "Règles PingCastle de Centre hospitalier de Villefranche" in html
    assert "Comptes à privilèges : règles du domaine ch.local" in html
    assert "Anomalies : règles du domaine ehpad.local" in html
    assert "Règles informatives (0 point) du domaine ehpad.local" in html
    assert "Trop d'administrateurs" in html


def test_rows_compute_the_status_with_the_counted_audits_only(reviewed):
    coverages = list(reviewed.coverages.select_related("legal_entity").order_by("id"))

    hospital_row, other_row = volet1_rows(coverages, valid_from=date(2024, 1, 1))

    assert not hospital_row.status.ad_audit_done
    assert hospital_row.outdated_audit_date == date(2023, 3, 1)
    assert other_row.status.ad_audit_done and other_row.outdated_audit_date is None
    assert volet1_rows(coverages)[0].status.ad_audit_done  # no window: it counts


def test_the_reviewers_page_queries_do_not_grow_with_the_rules(client, reviewed, ars_user):
    def count():
        client.force_login(ars_user)
        url = reverse("instruction:detail", args=[reviewed.public_id])
        client.get(url)  # warm the session
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    few = count()
    audit = DirectoryAudit.objects.get(domain="ehpad.local")
    DirectoryAuditRule.objects.bulk_create(
        DirectoryAuditRule(
            audit=audit,
            risk_id=f"S-Rule{i}",
            category="StaleObjects",
            points=i + 1,
            maturity_level=1 + i % 5,
        )
        for i in range(60)
    )

    assert count() == few


def test_a_contradicted_answer_names_the_outdated_audit(call):  # noqa: F811
    call.volet1_valid_from = date(2025, 6, 1)
    call.save()
    application = make_application(call)

    (gap,) = volet1_gaps(gather(application))

    assert gap.ad_missing and gap.outdated_audit_date == AUDIT_DAY
    assert "obsolète" in gap.summary and "01/06/2025" in gap.summary
    assert "aucun audit" not in gap.summary
