"""The lifecycle engine: the table, who may take each move, races, the log."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from applications.drafting import message_post
from applications.lifecycle import RULES, TRANSITIONS, Actor, Status, application_transition
from applications.models import Application, Message, Transition
from applications.notifications import notifications_needing_work, notify_message, notify_transition
from care_portal.errors import (
    ApplicationError,
    CommentRequired,
    TransitionConflict,
    TransitionForbidden,
    TransitionNotAllowed,
)

from ..factories import ApplicationFactory
from ..mailers import REFUSING_BACKEND

PERSONA_OF_ACTOR = {
    Actor.ESTABLISHMENT: "hospital_user",
    Actor.REGIONAL: "ars_user",
    Actor.MINISTRY: "ministry_user",
}
OUTSIDERS = ["other_hospital_user", "other_region_ars_user"]


def test_table_names_exactly_the_design_states():
    assert set(TRANSITIONS) == {
        "draft", "submitted", "ineligible", "regional_review", "returned", "national_review",
        "approved", "rejected", "withdrawn", "objectives_declared", "objectives_checked",
        "objectives_validated", "paid",
    }  # fmt: skip
    assert TRANSITIONS["draft"] == {"submitted", "withdrawn"}
    assert TRANSITIONS["national_review"] == {"approved", "rejected", "returned"}
    assert TRANSITIONS["paid"] == set()


def _actor_user(request, actor):
    if actor == Actor.SYSTEM:
        return None
    return request.getfixturevalue(PERSONA_OF_ACTOR[actor])


def _kwargs(rule):
    return {
        "comment": "Motif de test" if rule.requires_comment else "",
        "amount": 100000 if rule.target in ("approved", "paid") else None,
    }


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.source}->{r.target}")
def test_each_allowed_transition_moves_and_logs(db, request, hospital, rule):
    application = ApplicationFactory(candidate=hospital, status=rule.source)
    actor = sorted(rule.actors)[0]
    user = _actor_user(request, actor)
    record = application_transition(
        application=application, to=rule.target, by=user, **_kwargs(rule)
    )
    application.refresh_from_db()
    assert application.status == rule.target
    assert (record.from_status, record.to_status, record.actor) == (rule.source, rule.target, user)
    assert Transition.objects.filter(application=application).count() == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.TRANSITION)
    assert (event.actor, event.object_id) == (user, str(application.public_id))
    assert (event.details["source"], event.details["target"]) == (rule.source, rule.target)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.source}->{r.target}")
def test_each_transition_is_refused_to_the_other_roles_and_to_outsiders(
    db, request, hospital, rule
):
    application = ApplicationFactory(candidate=hospital, status=rule.source)
    others = [PERSONA_OF_ACTOR[a] for a in PERSONA_OF_ACTOR if a.value not in rule.actors]
    for persona in others + OUTSIDERS:
        user = request.getfixturevalue(persona)
        with pytest.raises(TransitionForbidden):
            application_transition(
                application=application, to=rule.target, by=user, **_kwargs(rule)
            )
    if Actor.SYSTEM.value not in rule.actors:
        with pytest.raises(TransitionForbidden):
            application_transition(
                application=application, to=rule.target, by=None, **_kwargs(rule)
            )
    application.refresh_from_db()
    assert application.status == rule.source
    assert not Transition.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TRANSITION).exists()


@pytest.mark.parametrize("source", [s.value for s in Status])
def test_moves_absent_from_the_table_are_refused(db, ministry_user, hospital, source):
    application = ApplicationFactory(candidate=hospital, status=source)
    for target in set(TRANSITIONS) - TRANSITIONS[source] - {source}:
        with pytest.raises(TransitionNotAllowed) as excinfo:
            application_transition(application=application, to=target, by=ministry_user)
        assert isinstance(excinfo.value, ApplicationError)
        assert "ne peut pas passer" in excinfo.value.message


def test_a_return_needs_a_reason(db, ars_user, hospital):
    application = ApplicationFactory(candidate=hospital, status="regional_review")
    with pytest.raises(CommentRequired):
        application_transition(application=application, to="returned", by=ars_user, comment="  ")


def test_a_stale_copy_loses_cleanly(db, hospital_user, hospital):
    application = ApplicationFactory(candidate=hospital, status="draft")
    stale = Application.objects.get(pk=application.pk)
    application_transition(application=application, to="submitted", by=hospital_user)
    with pytest.raises(TransitionConflict) as excinfo:
        # The stale copy still believes the application is a draft.
        application_transition(application=stale, to="withdrawn", by=hospital_user)
    assert "modifiée entre-temps" in excinfo.value.message
    assert Transition.objects.filter(application=application).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_transitions_exactly_one_wins(hospital_user, ars_user, hospital):
    if connection.vendor != "postgresql":
        pytest.skip("row locking races need PostgreSQL (CI runs them)")
    application = ApplicationFactory(candidate=hospital, status="regional_review")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(to: str, user) -> None:
        from django.db import connections

        copy = Application.objects.select_related("candidate__department").get(pk=application.pk)
        barrier.wait()
        try:
            application_transition(application=copy, to=to, by=user, comment="Pièces manquantes")
            outcomes.append(to)
        except TransitionConflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=attempt, args=("national_review", ars_user)),
        threading.Thread(target=attempt, args=("withdrawn", hospital_user)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("conflict") == 1
    application.refresh_from_db()
    assert application.status in {"national_review", "withdrawn"}
    assert Transition.objects.filter(application=application).count() == 1


def test_notification_is_sent_after_commit_only(
    db, hospital_user, ars_user, hospital, django_capture_on_commit_callbacks
):
    application = ApplicationFactory(candidate=hospital, status="regional_review")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        application_transition(
            application=application, to="returned", by=ars_user, comment="Ajoutez le PCA."
        )
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [hospital_user.email]
    assert application.reference in message.subject
    assert "Ajoutez le PCA." in message.body


def test_a_transitions_notification_is_sent_once_and_a_failure_leaves_it_due(
    db, hospital_user, ars_user, hospital, settings, django_capture_on_commit_callbacks
):
    application = ApplicationFactory(candidate=hospital, status="regional_review")
    with django_capture_on_commit_callbacks(execute=False):
        record = application_transition(
            application=application, to="returned", by=ars_user, comment="Ajoutez le PCA."
        )
    record.refresh_from_db()
    assert record.notification_pending  # written with the transition itself
    old = timezone.now() - timedelta(minutes=30)
    Transition.objects.filter(pk=record.pk).update(created_at=old)
    assert notifications_needing_work(older_than_seconds=300) == ([record.pk], [])

    settings.EMAIL_BACKEND = REFUSING_BACKEND
    with pytest.raises(ConnectionRefusedError):
        notify_transition(transition_id=record.pk)
    record.refresh_from_db()
    assert record.notification_pending  # still due: the task retries, then the sweeper

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notify_transition(transition_id=record.pk) == 1
    assert notify_transition(transition_id=record.pk) == 0  # a redelivery sends nothing
    assert [m.to for m in mail.outbox] == [[hospital_user.email]]
    record.refresh_from_db()
    assert not record.notification_pending
    assert notifications_needing_work(older_than_seconds=300) == ([], [])


def test_a_messages_notification_is_due_until_sent_once(db, hospital_user, ars_user, hospital):
    application = ApplicationFactory(candidate=hospital, status="regional_review")
    message = message_post(application=application, by=ars_user, body="Une précision ?")
    assert Message.objects.get(pk=message.pk).notification_pending
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=30))
    assert notifications_needing_work(older_than_seconds=300) == ([], [message.pk])
    assert notify_message(message_id=message.pk) == 1
    assert notify_message(message_id=message.pk) == 0
    assert [m.to for m in mail.outbox] == [[hospital_user.email]]
    assert notifications_needing_work(older_than_seconds=300) == ([], [])


def test_history_names_automatic_moves_only_for_the_system(db, hospital):
    application = ApplicationFactory(candidate=hospital, status="submitted")
    scored = Transition(application=application, from_status="submitted", to_status="ineligible")
    unknown = Transition(application=application, from_status="draft", to_status="submitted")
    assert scored.is_automatic
    assert not unknown.is_automatic


def test_mail_subjects_are_plain_text(db, hospital_user, hospital):
    """A status with an apostrophe reads as such in the subject, not as an HTML entity."""
    from applications.notifications import notify_transition

    application = ApplicationFactory(candidate=hospital, status="regional_review")
    record = application.transitions.create(
        from_status="submitted", to_status="regional_review", notification_pending=True
    )
    mail.outbox.clear()
    assert notify_transition(transition_id=record.pk) == 1
    subject = mail.outbox[0].subject
    assert "Instruction par l'ARS" in subject
    assert "&#x27;" not in subject
    assert "\n" not in subject


# --- Withdrawing an ineligible application, and the places it held ---------------------


def test_an_ineligible_application_is_withdrawn_by_its_users_only(
    db, hospital, hospital_user, ars_user, ministry_user, other_hospital_user
):
    application = ApplicationFactory(candidate=hospital, status="ineligible")
    assert "withdrawn" in TRANSITIONS["ineligible"]
    for user in (ars_user, ministry_user, other_hospital_user, None):
        with pytest.raises(TransitionForbidden):
            application_transition(application=application, to="withdrawn", by=user)
    application.refresh_from_db()
    assert application.status == "ineligible" and not application.transitions.exists()
    record = application_transition(
        application=application, to="withdrawn", by=hospital_user, comment="Données à corriger"
    )
    application.refresh_from_db()
    assert application.status == "withdrawn"
    assert (record.from_status, record.actor, record.comment) == (
        "ineligible",
        hospital_user,
        "Données à corriger",
    )


def test_entering_withdrawn_releases_the_coverages_after_the_commit(
    db, hospital, hospital_user, django_capture_on_commit_callbacks
):
    from applications.drafting import coverage_release
    from applications.models import Coverage

    from ..factories import LegalEntityFactory

    application = ApplicationFactory(candidate=hospital, status="ineligible")
    member = LegalEntityFactory()
    for entity in (hospital, member):
        Coverage.objects.create(call=application.call, application=application, legal_entity=entity)
    other = ApplicationFactory(call=application.call, status="ineligible")
    kept = Coverage.objects.create(call=other.call, application=other, legal_entity=other.candidate)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        application_transition(application=application, to="withdrawn", by=hospital_user)
    # Not before the commit: the hook runs after it.
    assert not Coverage.objects.filter(released_at__isnull=False).exists()
    assert Coverage.objects.held().filter(application=application).count() == 0  # withdrawn
    for callback in callbacks:
        callback()
    released = Coverage.objects.filter(application=application)
    assert released.count() == 2 and all(c.released_at for c in released)
    kept.refresh_from_db()
    assert kept.released_at is None
    first = {c.pk: c.released_at for c in released}
    coverage_release(application.pk)  # idempotent: a replay changes nothing
    assert {c.pk: c.released_at for c in Coverage.objects.filter(application=application)} == first
    # An application not withdrawn is never released by the hook.
    coverage_release(other.pk)
    kept.refresh_from_db()
    assert kept.released_at is None


def test_the_ineligible_mail_says_what_the_applicant_can_do(
    db, hospital_user, hospital, django_capture_on_commit_callbacks
):
    application = ApplicationFactory(candidate=hospital, status="submitted")
    with django_capture_on_commit_callbacks(execute=True):
        application_transition(
            application=application, to="ineligible", by=None, comment="E2 : Volet 1 incomplet"
        )
    [message] = [m for m in mail.outbox if m.to == [hospital_user.email]]
    assert "demander un réexamen au ministère" in message.body
    assert "retirer la candidature et en commencer une nouvelle" in message.body
    assert f"/candidatures/{application.public_id}/#ineligible-next" in message.body
