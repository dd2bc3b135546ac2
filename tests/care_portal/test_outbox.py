"""The e-mail outbox (care_portal/mail.py): an e-mail is written in the transaction that
decides it, sent once, its body cleared; a lost or failed sending is found again."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from care_portal.mail import (
    MAX_ATTEMPTS,
    SENT_KEPT_DAYS,
    emails_needing_work,
    enqueue_email,
    purge_sent_emails,
    send_outgoing_email,
)
from care_portal.models import OutgoingEmail
from care_portal.tasks import sweep_emails_task

from ..mailers import REFUSING_BACKEND

pytestmark = pytest.mark.django_db

EMAIL = {"subject": "Réinitialisation", "body": "Lien : https://x/abc/", "to": ["a@b.test"]}


def age(email: OutgoingEmail, seconds: int) -> None:
    OutgoingEmail.objects.filter(pk=email.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_an_email_is_written_then_sent_after_the_commit_and_its_body_cleared(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        email = enqueue_email(**EMAIL)
        row = OutgoingEmail.objects.get(pk=email.pk)
        assert row.sent_at is None and row.body == EMAIL["body"]
        assert mail.outbox == []
    assert [(m.subject, m.body, m.to) for m in mail.outbox] == [
        (EMAIL["subject"], EMAIL["body"], EMAIL["to"])
    ]
    row.refresh_from_db()
    assert row.sent_at is not None
    assert row.body == ""  # a reset link does not outlive its sending


def test_a_rolled_back_transaction_sends_nothing(django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                enqueue_email(**EMAIL)
                raise RuntimeError("the request fails after deciding the e-mail")
        except RuntimeError:
            pass
    assert callbacks == [] and mail.outbox == []
    assert not OutgoingEmail.objects.exists()


def test_an_email_is_sent_once_whatever_the_redeliveries():
    email = enqueue_email(**EMAIL)  # its task is never run here (no commit)
    assert send_outgoing_email(email.pk) is True
    assert send_outgoing_email(email.pk) is False  # a redelivery, or the sweeper
    assert len(mail.outbox) == 1


def test_the_sweeper_queues_again_only_what_waited_and_is_unsent(settings):
    settings.SWEEP_AFTER_SECONDS = 300
    lost = enqueue_email(**EMAIL)
    age(lost, 600)
    recent = enqueue_email(**{**EMAIL, "subject": "Récent"})
    sent = enqueue_email(**{**EMAIL, "subject": "Envoyé"})
    age(sent, 600)
    send_outgoing_email(sent.pk)
    mail.outbox.clear()
    assert emails_needing_work(older_than_seconds=300) == [lost.pk]
    assert sweep_emails_task() == 1  # eager: sent in process
    assert [m.subject for m in mail.outbox] == [EMAIL["subject"]]
    assert OutgoingEmail.objects.get(pk=recent.pk).sent_at is None


def test_a_refused_email_keeps_its_error_and_stays_to_send(settings):
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    email = enqueue_email(**EMAIL)
    with pytest.raises(ConnectionRefusedError):
        send_outgoing_email(email.pk)
    email.refresh_from_db()
    assert email.sent_at is None and email.body == EMAIL["body"]
    assert email.attempts == 1
    assert email.last_error == (
        "ConnectionRefusedError: le serveur de messagerie refuse la connexion"
    )
    age(email, 600)
    assert emails_needing_work(older_than_seconds=300) == [email.pk]
    # Refused too often: left for an operator, no longer queued every few minutes.
    OutgoingEmail.objects.filter(pk=email.pk).update(attempts=MAX_ATTEMPTS)
    assert emails_needing_work(older_than_seconds=300) == []


def test_sent_emails_are_deleted_after_their_keeping_time():
    old = enqueue_email(**EMAIL)
    kept = enqueue_email(**EMAIL)
    unsent = enqueue_email(**EMAIL)
    OutgoingEmail.objects.filter(pk=unsent.pk).update(
        created_at=timezone.now() - timedelta(days=SENT_KEPT_DAYS + 5)
    )
    OutgoingEmail.objects.filter(pk=old.pk).update(
        sent_at=timezone.now() - timedelta(days=SENT_KEPT_DAYS + 1)
    )
    OutgoingEmail.objects.filter(pk=kept.pk).update(
        sent_at=timezone.now() - timedelta(days=SENT_KEPT_DAYS - 1)
    )
    assert purge_sent_emails() == 1
    assert set(OutgoingEmail.objects.values_list("pk", flat=True)) == {kept.pk, unsent.pk}


@pytest.mark.parametrize(
    "name",
    [
        "care_portal.send_email_task",
        "applications.notify_transition_task",
        "applications.notify_message_task",
    ],
)
def test_the_mail_tasks_retry_while_the_mail_server_or_the_database_is_unreachable(name):
    from django.db import OperationalError

    from care_portal.queue import task

    mail_task = task(name)
    assert mail_task.acks_late and mail_task.max_retries == 5
    retried = tuple(mail_task.autoretry_for)
    assert issubclass(ConnectionRefusedError, retried)  # the mail server
    assert issubclass(OperationalError, retried)  # the database
