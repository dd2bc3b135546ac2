"""care_portal.queue: a task queued by its registered name, without importing its
module, runs as `.delay()` would (in process under CELERY_TASK_ALWAYS_EAGER)."""

import pytest
from celery.exceptions import NotRegistered
from django.core import mail

from care_portal.mail import enqueue_email
from care_portal.queue import enqueue, enqueue_on_commit, task

EMAIL = {"subject": "Portail CaRE : essai", "body": "Bonjour", "to": ["alice@hopital-a.test"]}


@pytest.fixture
def eager():
    from care_portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_a_task_is_found_by_its_registered_name():
    assert task("applications.score_application_task").name == (
        "applications.score_application_task"
    )
    with pytest.raises(NotRegistered):
        task("applications.no_such_task")


def test_enqueue_runs_the_task_in_process_when_eager(eager):
    # A message queued before the outbox existed carries the e-mail itself.
    enqueue("care_portal.send_email_task", **EMAIL)
    assert [m.to for m in mail.outbox] == [EMAIL["to"]]


@pytest.mark.django_db
def test_enqueue_on_commit_waits_for_the_commit(eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_on_commit("care_portal.send_email_task", **EMAIL)
        enqueue_email(**EMAIL)
        assert mail.outbox == []  # nothing before the commit
    assert len(callbacks) == 2
    assert len(mail.outbox) == 2
