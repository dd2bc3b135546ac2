"""Cross-cutting tasks: e-mail is sent by a worker from the outbox, after the
transaction that wrote it commits (care_portal/mail.py)."""

from celery import shared_task
from django.conf import settings

from .queue import RETRY_WHILE_UNREACHABLE


@shared_task(name="care_portal.send_email_task", **RETRY_WHILE_UNREACHABLE)
def send_email_task(
    email_id: int | None = None,
    subject: str = "",
    body: str = "",
    to: list[str] | None = None,
) -> bool:
    """Send the outbox's e-mail `email_id`. A message queued before the outbox existed
    (subject, body and recipients in its arguments) is sent as it is."""
    from .mail import send_now, send_outgoing_email

    if email_id is None:
        send_now(subject=subject, body=body, to=to or [])
        return True

    return send_outgoing_email(email_id)


@shared_task(name="care_portal.sweep_emails_task", acks_late=True)
def sweep_emails_task() -> int:
    """Queue again the e-mails still unsent (Redis was down when their transaction
    committed, or a worker died); delete those sent long ago."""
    from .mail import emails_needing_work, purge_sent_emails

    pending = emails_needing_work(older_than_seconds=settings.SWEEP_AFTER_SECONDS)
    for email_id in pending:
        send_email_task.delay(email_id)
    purge_sent_emails()
    return len(pending)
