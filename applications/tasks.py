from celery import shared_task


@shared_task(name="applications.notify_transition_task", acks_late=True)
def notify_transition_task(transition_id: int) -> None:
    from .notifications import notify_transition

    notify_transition(transition_id=transition_id)


@shared_task(name="applications.notify_message_task", acks_late=True)
def notify_message_task(message_id: int) -> None:
    from .notifications import notify_message

    notify_message(message_id=message_id)
