"""The national dashboard at scale: the bench fixture of issue 11 (bench/national.py),
built small here, gives the same number of queries at 50 and at 1,000 legal entities
with their applications, scans, payments and transitions (the bench prints the count
at 1,000 and at 50,000); and the fixture is what it says it is."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application, Payment, Transition
from audits.models import ExposureScan, Volet1Status
from bench.national import build_national, clear_national
from establishments.identifiers import finess_error
from establishments.models import LegalEntity

pytestmark = pytest.mark.django_db

NATIONAL = "/suivi/"


def _dashboard_queries(client, call_code: str) -> tuple[int, str]:
    url = f"{NATIONAL}?appel={call_code}"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_national_dashboard_runs_the_same_queries_at_50_and_1000_entities(client, ministry_user):
    client.force_login(ministry_user)
    small = build_national(entities=50, applications=100, scans=200, tag="S")
    client.get(f"{NATIONAL}?appel={small.main_call.code}")  # the session's first request
    at_50, _page = _dashboard_queries(client, small.main_call.code)

    large = build_national(entities=1000, applications=2000, scans=4000, tag="L", seed=7)
    at_1000, page = _dashboard_queries(client, large.main_call.code)

    assert at_1000 == at_50
    # Session, user and memberships, territory, calls, then the dashboard's seven.
    assert at_50 == 12
    assert large.main_call.code in page


def test_the_fixture_has_every_stage_of_the_lifecycle(db):
    fixture = build_national(entities=400, applications=800, scans=1600, tag="F")
    assert fixture.counts["legal_entities"] == 400
    entities = LegalEntity.objects.filter(pk__range=fixture.ids["legal_entity"])
    assert not [f for f in entities.values_list("finess", flat=True) if finess_error(f)]
    assert Application.objects.filter(call__in=fixture.calls.values()).count() == 800
    assert ExposureScan.objects.count() == 1600
    statuses = set(
        Application.objects.filter(call=fixture.main_call).values_list("status", flat=True)
    )
    assert {"draft", "national_review", "approved", "rejected", "paid"} <= statuses
    # Paid applications have an advance and a balance that add up to the granted amount.
    paid = Application.objects.filter(call=fixture.main_call, status="paid").first()
    assert paid is not None
    amounts = sorted(Payment.objects.filter(application=paid).values_list("tranche", "amount"))
    assert [t for t, _ in amounts] == ["advance", "balance"]
    assert sum(a for _, a in amounts) == paid.granted_amount == paid.paid_amount
    # Decisions have their transition (the median reads them), levels of Volet 1 vary.
    assert Transition.objects.filter(
        application__call=fixture.main_call, from_status="national_review", to_status="approved"
    ).exists()
    assert Volet1Status.objects.values("level").distinct().count() == 4
    # One application per entity and call; the regions all have entities.
    assert LegalEntity.objects.values("department__region").distinct().count() >= 13

    clear_national(fixture)
    assert not Application.objects.filter(call__code__startswith="F-").exists()
    assert not ExposureScan.objects.exists()
    assert not LegalEntity.objects.filter(pk__range=fixture.ids["legal_entity"]).exists()
