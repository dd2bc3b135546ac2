"""A real Celery worker takes tasks from Redis (CI runs this; it needs REDIS_URL)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from care_portal.mail import enqueue_email
from care_portal.models import OutgoingEmail
from care_portal.tasks import sweep_emails_task

from ..worker import broker_unreachable, celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

EMAIL = {"subject": "Portail CaRE : essai", "body": "Bonjour", "to": ["alice@hopital-a.test"]}


def sent(email: OutgoingEmail) -> bool:
    return OutgoingEmail.objects.filter(pk=email.pk, sent_at__isnull=False).exists()


def test_a_real_worker_sends_an_email_taken_from_redis(celery_broker, tmp_path):
    with celery_worker(extra_env={"CARE_TEST_EMAIL_DIR": str(tmp_path)}):
        with transaction.atomic():
            email = enqueue_email(**EMAIL)
        assert wait_for(lambda: sent(email), timeout=60)
    content = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "alice@hopital-a.test" in content
    assert OutgoingEmail.objects.get(pk=email.pk).body == ""
    assert settings.REDIS_URL.startswith("redis://")


def test_an_email_decided_while_redis_is_down_is_sent_by_the_sweeper(celery_broker, tmp_path):
    with broker_unreachable(celery_broker), transaction.atomic():
        email = enqueue_email(**EMAIL)  # must not raise: the commit stands
    assert not sent(email)
    OutgoingEmail.objects.filter(pk=email.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.SWEEP_AFTER_SECONDS + 60)
    )
    with celery_worker(extra_env={"CARE_TEST_EMAIL_DIR": str(tmp_path)}):
        sweep_emails_task.delay()
        assert wait_for(lambda: sent(email), timeout=60)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and "alice@hopital-a.test" in files[0].read_text()
