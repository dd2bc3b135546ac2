"""A real Celery worker takes an import batch from Redis and processes it (CI runs
this; it needs REDIS_URL and PostgreSQL)."""

import io

import pytest
from django.db import transaction

from audits.models import AuditImport, ExposureScan, Volet1Level, Volet1Status
from audits.services import audit_import_create

from ..worker import celery_worker, wait_for
from .conftest import csv_bytes
from .test_import_csv_json import EXPOSURE_HEADER, scan

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_processes_an_import_batch_from_redis(celery_broker, hospital):
    rows = [scan(hospital.finess, "2025-01-13"), scan(hospital.finess, "2025-03-03")]
    with transaction.atomic():
        batch = audit_import_create(
            kind="exposure",
            uploaded_file=io.BytesIO(csv_bytes(EXPOSURE_HEADER, rows)),
            filename="scans.csv",
        )
    # Committed and sent to Redis, not run in this process.
    batch.refresh_from_db()
    assert batch.status == AuditImport.Status.PENDING

    with celery_worker(queues="default"):
        finished = wait_for(lambda: AuditImport.objects.get(pk=batch.pk).finished, timeout=60)

    batch.refresh_from_db()
    assert finished, batch.status
    assert batch.status == AuditImport.Status.SUCCEEDED, (batch.message, batch.errors)
    assert (batch.created_count, batch.rows_processed) == (2, 2)
    assert ExposureScan.objects.filter(legal_entity=hospital, import_batch=batch).count() == 2
    assert Volet1Status.objects.get(legal_entity=hospital).level == Volet1Level.EXPOSURE_MET
