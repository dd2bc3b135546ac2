"""E-mails to the people concerned by a change of an application's status."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import Membership, User
from care_portal.mail import send_now

from .lifecycle import Status
from .models import Message, Transition

# Who hears of each arrival status: the applicant's users, the region's ARS agents.
APPLICANT_STATUSES = {
    Status.SUBMITTED,
    Status.INELIGIBLE,
    Status.REGIONAL_REVIEW,
    Status.RETURNED,
    Status.NATIONAL_REVIEW,
    Status.APPROVED,
    Status.REJECTED,
    Status.WITHDRAWN,
    Status.OBJECTIVES_CHECKED,
    Status.OBJECTIVES_VALIDATED,
    Status.PAID,
}
REGIONAL_STATUSES = {Status.REGIONAL_REVIEW, Status.WITHDRAWN, Status.OBJECTIVES_DECLARED}


def recipients(transition: Transition) -> list[str]:
    application = transition.application
    emails: set[str] = set()
    if transition.to_status in APPLICANT_STATUSES:
        emails |= set(
            User.objects.filter(
                is_active=True,
                memberships__role=Membership.Role.ESTABLISHMENT,
                memberships__legal_entity_id=application.candidate_id,
            ).values_list("email", flat=True)
        )
    if transition.to_status in REGIONAL_STATUSES:
        emails |= set(
            User.objects.filter(
                is_active=True,
                memberships__role=Membership.Role.REGIONAL,
                memberships__region_id=application.candidate.department.region_id,
            ).values_list("email", flat=True)
        )
    if transition.actor_id:
        emails.discard(transition.actor.email)  # type: ignore[union-attr]
    return sorted(emails)


def notify_transition(*, transition_id: int) -> int:
    """Send the French e-mail of one transition whose notification is pending; returns
    the number of recipients. Once: the flag is cleared in the transaction that sends,
    so a redelivery or the sweeper finds nothing to do (a failed sending leaves it set,
    for them)."""
    with transaction.atomic():
        transition = (
            Transition.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("application__call", "application__candidate__department", "actor")
            .filter(pk=transition_id, notification_pending=True)
            .first()
        )
        if transition is None:
            return 0  # notified already, or another worker is notifying it
        Transition.objects.filter(pk=transition.pk).update(notification_pending=False)
        return _send_transition(transition)


def _send_transition(transition: Transition) -> int:
    to = recipients(transition)
    if not to:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "transition": transition,
            "application": transition.application,
            "to_label": Status(transition.to_status).label,
            # The ministry's decision: its letter is rendered and downloadable.
            "is_decision": transition.from_status == Status.NATIONAL_REVIEW
            and transition.to_status in (Status.APPROVED, Status.REJECTED),
            "site_url": settings.SITE_URL,
            # Only its users hear of it: the page says what they can do.
            "is_ineligible": transition.to_status == Status.INELIGIBLE,
        }
        subject = render_to_string("applications/email/transition_subject.txt", context).strip()
        body = render_to_string("applications/email/transition_body.txt", context)
    send_now(subject=subject, body=body, to=to)
    return len(to)


def notify_message(*, message_id: int) -> int:
    """A new message in a thread: tell the other side (applicant users, or the ARS and,
    on an ineligible application, the ministry). Once, as `notify_transition`."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("application__candidate__department", "author")
            .filter(pk=message_id, notification_pending=True)
            .first()
        )
        if message is None:
            return 0  # notified already, or another worker is notifying it
        Message.objects.filter(pk=message.pk).update(notification_pending=False)
        return _send_message(message)


def _send_message(message: Message) -> int:
    application = message.application
    author_is_applicant = bool(
        message.author_id
        and Membership.objects.filter(
            user_id=message.author_id,
            role=Membership.Role.ESTABLISHMENT,
            legal_entity_id=application.candidate_id,
        ).exists()
    )
    if author_is_applicant:
        audience = Q(
            memberships__role=Membership.Role.REGIONAL,
            memberships__region_id=application.candidate.department.region_id,
        )
        if application.status == Status.INELIGIBLE:
            # Only the ministry may reconsider an ineligible application (lifecycle:
            # "reconsider"): the applicant's request reaches it too.
            audience |= Q(memberships__role=Membership.Role.MINISTRY)
    else:
        audience = Q(
            memberships__role=Membership.Role.ESTABLISHMENT,
            memberships__legal_entity_id=application.candidate_id,
        )
    to = sorted(
        set(
            User.objects.filter(audience, is_active=True)
            .exclude(pk=message.author_id or 0)
            .values_list("email", flat=True)
        )
    )
    if not to:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        context = {"message": message, "application": application, "site_url": settings.SITE_URL}
        subject = render_to_string("applications/email/message_subject.txt", context).strip()
        body = render_to_string("applications/email/message_body.txt", context)
    send_now(subject=subject, body=body, to=to)
    return len(to)


def notifications_needing_work(*, older_than_seconds: int) -> tuple[list[int], list[int]]:
    """The transitions and the messages whose notification is still pending after that
    long (their task was lost: Redis down at the commit, a worker killed)."""
    before = timezone.now() - timedelta(seconds=older_than_seconds)
    transitions = Transition.objects.filter(notification_pending=True, created_at__lt=before)
    messages = Message.objects.filter(notification_pending=True, created_at__lt=before)
    return (
        list(transitions.order_by("created_at").values_list("pk", flat=True)),
        list(messages.order_by("created_at").values_list("pk", flat=True)),
    )
