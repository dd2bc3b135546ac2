"""The lifecycle engine: the table, who may take each move, races, the log."""

import threading

import pytest
from django.core import mail
from django.db import connection

from accounts.models import AuditEvent
from applications.lifecycle import RULES, TRANSITIONS, Actor, Status, application_transition
from applications.models import Application, Transition
from care_portal.errors import (
    ApplicationError,
    CommentRequired,
    TransitionConflict,
    TransitionForbidden,
    TransitionNotAllowed,
)

from ..factories import ApplicationFactory

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
    record = application.transitions.create(from_status="submitted", to_status="regional_review")
    mail.outbox.clear()
    assert notify_transition(transition_id=record.pk) == 1
    subject = mail.outbox[0].subject
    assert "Instruction par l'ARS" in subject
    assert "&#x27;" not in subject
    assert "\n" not in subject
