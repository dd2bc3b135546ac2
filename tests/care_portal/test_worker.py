"""A real Celery worker takes tasks from Redis (CI runs this; it needs REDIS_URL)."""

import pytest
from django.conf import settings

from care_portal.tasks import send_email_task

from ..worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_sends_an_email_taken_from_redis(celery_broker, tmp_path):
    with celery_worker(extra_env={"CARE_TEST_EMAIL_DIR": str(tmp_path)}):
        result = send_email_task.delay(
            subject="Portail CaRE : essai", body="Bonjour", to=["alice@hopital-a.test"]
        )
        assert result.id
        assert wait_for(lambda: any(tmp_path.iterdir()), timeout=60)
    content = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "alice@hopital-a.test" in content
    assert settings.REDIS_URL.startswith("redis://")
