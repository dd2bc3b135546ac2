"""E-mail through an outbox: `enqueue_email` writes the e-mail in the current
transaction and queues its sending (`care_portal.send_email_task`) once that
transaction has committed. Redis down at the commit, or a worker killed before it sent
it, only delays it: the sweeper (`care_portal.sweep_emails_task`) queues again what is
still unsent after SWEEP_AFTER_SECONDS. Sending is at least once: a worker killed
between the mail server's answer and its commit sends it again."""

from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import OutgoingEmail
from .queue import enqueue_on_commit

# An e-mail the mail server refused this many times is left for an operator (its
# error is kept): the sweeper stops queueing it.
MAX_ATTEMPTS = 20
# Sent e-mails are kept (without their body) this long, then deleted by the sweeper.
SENT_KEPT_DAYS = 30


def send_now(*, subject: str, body: str, to: list[str]) -> None:
    """Send an e-mail at once, from the portal's address (workers only: a request
    queues it with `enqueue_email`)."""
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to).send()


def enqueue_email(*, subject: str, body: str, to: list[str]) -> OutgoingEmail:
    """Write the e-mail to the outbox; it is sent once the current transaction (if any)
    has committed."""
    email = OutgoingEmail.objects.create(subject=subject, body=body, to=list(to))
    enqueue_on_commit("care_portal.send_email_task", email.pk)
    return email


def send_outgoing_email(email_id: int) -> bool:
    """Send one e-mail of the outbox unless it is sent already or another worker is
    sending it; whether this call sent it. A failure is counted on the row and raised
    (the task retries it)."""
    try:
        with transaction.atomic():
            email = (
                OutgoingEmail.objects.select_for_update(skip_locked=True)
                .filter(pk=email_id, sent_at__isnull=True)
                .first()
            )
            if email is None:
                return False
            send_now(subject=email.subject, body=email.body, to=email.to)
            email.sent_at = timezone.now()
            email.body = ""  # a reset link must not outlive its sending
            email.save(update_fields=["sent_at", "body"])
    except Exception as error:
        OutgoingEmail.objects.filter(pk=email_id, sent_at__isnull=True).update(
            attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    return True


def emails_needing_work(*, older_than_seconds: int) -> list[int]:
    """The e-mails still unsent after that long, which have not failed too often."""
    before = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        OutgoingEmail.objects.filter(
            sent_at__isnull=True, created_at__lt=before, attempts__lt=MAX_ATTEMPTS
        )
        .order_by("created_at")
        .values_list("pk", flat=True)
    )


def purge_sent_emails() -> int:
    """Delete the e-mails sent more than SENT_KEPT_DAYS ago; how many."""
    before = timezone.now() - timedelta(days=SENT_KEPT_DAYS)
    deleted, _ = OutgoingEmail.objects.filter(sent_at__lt=before).delete()
    return deleted
