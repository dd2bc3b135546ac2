"""Background work that loses nothing, with a real Celery worker on Redis (CI runs
these; they need REDIS_URL and PostgreSQL)."""

import os
import signal

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from applications.lifecycle import application_transition
from applications.models import (
    Application,
    Dossier,
    EligibilityResult,
    RescoringBatch,
    Transition,
)
from applications.tasks import render_dossier_task, score_application_task, sweep_unfinished_task

from ..factories import ApplicationFactory
from ..worker import broker_unreachable, celery_worker, pool_children, wait_for
from .test_pdf import make_dossier_application

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def draft_ready_to_submit(hospital):
    """A complete application of `hospital`, back to draft so that the test submits it."""
    application = make_dossier_application(hospital, score=False)
    Transition.objects.filter(application=application).delete()
    Application.objects.filter(pk=application.pk).update(status="draft", submitted_at=None)
    application.refresh_from_db()
    return application


def submit(application, user):
    with transaction.atomic():  # the tasks go to Redis when this commits
        application_transition(application=application, to="submitted", by=user)


def dossier_done(application) -> bool:
    return Dossier.objects.filter(application=application, kind="dossier", status="done").exists()


def scored(application) -> bool:
    return EligibilityResult.objects.filter(application=application).exists()


def test_a_real_worker_scores_and_renders_a_submitted_application(
    celery_broker, hospital, hospital_user
):
    application = draft_ready_to_submit(hospital)
    with celery_worker(queues="default,pdf"):
        submit(application, hospital_user)
        assert wait_for(lambda: scored(application) and dossier_done(application), timeout=120)
    application.refresh_from_db()
    assert application.status in {"regional_review", "ineligible"}
    dossier = Dossier.objects.get(application=application)
    assert dossier.version == 1 and dossier.pages >= 2
    assert dossier.file.read(5) == b"%PDF-"


def test_a_worker_killed_while_rendering_loses_nothing(celery_broker, hospital):
    application = make_dossier_application(hospital)  # submitted and scored
    env = {"CARE_TEST_RENDER_DELAY": "6"}
    with celery_worker(queues="pdf", app_module="tests.slow_celery", extra_env=env) as worker:
        render_dossier_task.delay(application.pk)
        assert wait_for(
            lambda: Dossier.objects.filter(application=application, status="running").exists(),
            timeout=60,
        )
        children = pool_children(worker)
        assert children, "the worker has no pool process"
        for pid in children:
            os.kill(pid, signal.SIGKILL)  # in the middle of the rendering
        assert wait_for(lambda: dossier_done(application), timeout=120)
    rows = Dossier.objects.filter(application=application, kind="dossier")
    assert rows.count() == 1
    assert rows.get().attempts == 2  # the killed attempt, then the redelivered one


def test_submission_survives_an_unreachable_broker_and_the_sweeper_finishes(
    celery_broker, hospital, hospital_user, settings
):
    application = draft_ready_to_submit(hospital)
    with broker_unreachable(celery_broker):
        submit(application, hospital_user)  # must not raise
    application.refresh_from_db()
    assert application.status == "submitted"  # committed, its work not queued
    assert redis.Redis.from_url(settings.REDIS_URL).llen("default") == 0
    assert not scored(application) and not dossier_done(application)

    # Later, Redis is back: the sweeper finds the work from the database.
    Application.objects.filter(pk=application.pk).update(
        submitted_at=timezone.now() - timezone.timedelta(minutes=30)
    )
    Transition.objects.filter(application=application).update(
        created_at=timezone.now() - timezone.timedelta(minutes=30)
    )
    with celery_worker(queues="default,pdf"):
        sweep_unfinished_task.delay()
        assert wait_for(lambda: scored(application), timeout=90)
        sweep_unfinished_task.delay()  # the dossier, now that the score exists
        assert wait_for(lambda: dossier_done(application), timeout=120)
    application.refresh_from_db()
    assert application.status in {"regional_review", "ineligible"}


def test_a_notification_decided_while_redis_is_down_is_sent_by_the_sweeper(
    celery_broker, hospital, hospital_user, ars_user, tmp_path
):
    application = ApplicationFactory(candidate=hospital, status="regional_review")
    with broker_unreachable(celery_broker), transaction.atomic():
        record = application_transition(
            application=application, to="returned", by=ars_user, comment="Ajoutez le PCA."
        )
    Transition.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=30)
    )
    assert Transition.objects.get(pk=record.pk).notification_pending
    with celery_worker(queues="default", extra_env={"CARE_TEST_EMAIL_DIR": str(tmp_path)}):
        sweep_unfinished_task.delay()
        assert wait_for(lambda: any(tmp_path.iterdir()), timeout=90)
        assert wait_for(
            lambda: not Transition.objects.get(pk=record.pk).notification_pending, timeout=30
        )
    (sent,) = tmp_path.iterdir()
    content = sent.read_text()
    assert hospital_user.email in content and "Ajoutez le PCA." in content


def test_a_rescoring_whose_messages_were_lost_is_finished_by_the_sweeper(celery_broker, hospital):
    from applications.scoring import rescore_call, rescoring_progress

    application = make_dossier_application(hospital, score=False)
    with broker_unreachable(celery_broker):
        run, queued = rescore_call(call=application.call)  # must not raise
    assert queued == 1 and rescoring_progress(run) == 0
    RescoringBatch.objects.filter(run=run).update(
        created_at=timezone.now() - timezone.timedelta(minutes=30)
    )
    with celery_worker(queues="default"):
        sweep_unfinished_task.delay()
        assert wait_for(lambda: rescoring_progress(run) == 1, timeout=90)
    assert scored(application)


def test_the_same_tasks_delivered_twice_leave_one_deliverys_result(
    celery_broker, hospital, private_media
):
    application = make_dossier_application(hospital, score=False)
    with celery_worker(queues="default,pdf"):
        for _ in range(2):
            score_application_task.delay(application.pk)
        assert wait_for(lambda: scored(application), timeout=60)
        for _ in range(2):
            render_dossier_task.delay(application.pk)
        assert wait_for(lambda: dossier_done(application), timeout=120)
        # Let the second deliveries finish too.
        wait_for(lambda: False, timeout=3)
    assert EligibilityResult.objects.filter(application=application).count() == 1
    moves = Transition.objects.filter(application=application, from_status="submitted")
    assert moves.count() == 1
    assert Dossier.objects.filter(application=application).count() == 1
    stored = list((private_media / "dossiers").rglob("*.pdf"))
    assert len(stored) == 1, stored


def test_bulk_rescoring_through_workers_shows_progress(celery_broker, hospital):
    from io import StringIO

    from django.core.management import call_command

    application = make_dossier_application(hospital, score=False)
    out = StringIO()
    with celery_worker(queues="default"):
        call_command(
            "score_applications", "--call", application.call.code, "--timeout", "60", stdout=out
        )
    assert scored(application), out.getvalue()
    assert "1/1" in out.getvalue() and "recalculées" in out.getvalue()
