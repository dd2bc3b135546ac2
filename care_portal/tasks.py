"""Cross-cutting tasks: e-mail is sent by a worker, after the transaction commits
(queued by `care_portal.mail.enqueue_email`)."""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage


@shared_task(
    name="care_portal.send_email_task",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_email_task(subject: str, body: str, to: list[str]) -> None:
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to).send()
