"""Queue an e-mail, sent by a worker (`care_portal.send_email_task`) once the current
transaction has committed."""

from .queue import enqueue_on_commit


def enqueue_email(*, subject: str, body: str, to: list[str]) -> None:
    """Queue an e-mail once the current transaction (if any) has committed."""
    enqueue_on_commit("care_portal.send_email_task", subject=subject, body=body, to=to)
