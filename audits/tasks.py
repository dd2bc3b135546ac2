"""Background work of Volet 1: processing an uploaded import batch."""

from celery import shared_task
from django.conf import settings

from .models import AuditImport
from .services import audit_import_run, audit_imports_needing_work


@shared_task(name="audits.audit_import_task", acks_late=True)
def audit_import_task(batch_id: int) -> None:
    """Thin: the service claims the batch, so a re-delivered task does nothing."""
    batch = AuditImport.objects.filter(pk=batch_id).first()
    if batch is not None:
        audit_import_run(batch=batch)


@shared_task(name="audits.sweep_audit_imports_task", acks_late=True)
def sweep_audit_imports_task() -> int:
    """Re-queue import batches left pending or abandoned (the database is the truth)."""
    pending = audit_imports_needing_work(older_than_seconds=settings.SWEEP_AFTER_SECONDS)
    for batch_id in pending:
        audit_import_task.delay(batch_id)
    return len(pending)
