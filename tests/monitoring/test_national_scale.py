"""The national dashboard at scale: the bench fixture of issue 11 (bench/national.py),
built small here, gives the same number of queries at 50 and at 1,000 legal entities
with their applications, scans, payments and transitions (the bench prints the count
at 1,000 and at 50,000); and the fixture is what it says it is."""

import gc

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
    client.get(url)  # the session's touch (once a minute) out of the count
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_national_dashboard_runs_the_same_queries_at_50_and_1000_entities(client, ministry_user):
    client.force_login(ministry_user)
    small = build_national(entities=50, applications=100, scans=200, tag="S")
    at_50, _page = _dashboard_queries(client, small.main_call.code)

    large = build_national(entities=1000, applications=2000, scans=4000, tag="L", seed=7)
    at_1000, page = _dashboard_queries(client, large.main_call.code)

    assert at_1000 == at_50
    # Session, user and memberships, territory, calls, then the dashboard's six.
    assert at_50 == 11
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


def test_a_streamed_export_leaves_no_garbage_behind(client, ministry_user):
    """A row of an export is freed once written, not at the garbage collector's next full
    pass (its related rows point back at it): the garbage an export leaves does not grow
    with its rows, so neither does its memory (bench: export_memory)."""
    client.force_login(ministry_user)

    def export() -> tuple[int, int]:
        url = "/suivi/export/entites.csv?appel=G1-D1-2025&region=84&liste=eligibles"
        client.get(url)  # the session's touch, imports
        gc.collect()
        gc.disable()
        try:
            response = client.get(url)
            lines = sum(chunk.count(b"\r\n") for chunk in response.streaming_content)
            return lines - 1, gc.collect()
        finally:
            gc.enable()

    # Volet 1 statuses, applications and their contacts: each row loads related rows.
    build_national(
        entities=100, applications=200, scans=400, tag="G1", region="84", all_eligible=True
    )
    small_rows, small_garbage = export()
    build_national(
        entities=900, applications=1800, scans=3600, tag="G2", region="84", all_eligible=True
    )
    large_rows, large_garbage = export()
    assert (small_rows, large_rows) == (100, 1000)
    assert large_garbage <= small_garbage + 100, (small_garbage, large_garbage)
