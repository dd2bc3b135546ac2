"""The migrations that move existing rows: run on data, back and forth."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from applications.models import Application, Coverage

from ..factories import ApplicationFactory, FundingCallFactory, LegalEntityFactory

BEFORE = [("applications", "0005_tracking_digests")]
AFTER = [("applications", "0006_release_withdrawn_places")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_coverages_of_applications_already_withdrawn_are_released():
    if connection.vendor != "postgresql":
        pytest.skip("partial unique indexes are checked on PostgreSQL (CI runs it)")
    call = FundingCallFactory()
    gone, kept = LegalEntityFactory(), LegalEntityFactory()
    withdrawn = ApplicationFactory(call=call, candidate=gone, status="withdrawn")
    ineligible = ApplicationFactory(call=call, candidate=kept, status="ineligible")
    withdrawn_at = timezone.now() - timedelta(days=2)
    withdrawn.transitions.create(
        from_status="ineligible", to_status="withdrawn", created_at=withdrawn_at
    )
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old = migrate(BEFORE)
        OldCoverage = old.get_model("applications", "Coverage")
        for application, entity in ((withdrawn, gone), (ineligible, kept)):
            OldCoverage.objects.create(
                call_id=call.pk, application_id=application.pk, legal_entity_id=entity.pk
            )
        migrate(AFTER)
    finally:
        migrate(leaves)
    assert Coverage.objects.get(application=withdrawn).released_at == withdrawn_at
    assert Coverage.objects.get(application=ineligible).released_at is None
    # The place is free: a new application of the same candidate covers it again.
    again = Application.objects.create(call=call, candidate=gone, reference="D2-TEST-AGAIN")
    Coverage.objects.create(call=call, application=again, legal_entity=gone)
    assert Coverage.objects.held().filter(legal_entity=gone).get().application == again
