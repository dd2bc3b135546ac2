"""Daily digests and reminders: what each role is told, nothing sent when there is
nothing to say, the user's opt-out, once a day, and a fixed number of queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.digests import build_digests, send_daily_digests
from applications.models import CoSignature, DigestSent, Transition
from care_portal.celery import app as celery_app

from ..factories import (
    ApplicationFactory,
    FundingCallFactory,
    LegalEntityFactory,
    MembershipFactory,
    UserFactory,
)

NOW = timezone.now


def entered(application, status, *, days_ago=0):
    """The application in `status`, entered `days_ago` days ago (its transition)."""
    Transition.objects.create(
        application=application,
        from_status="submitted",
        to_status=status,
        created_at=NOW() - timedelta(days=days_ago, minutes=1),
    )
    return application


def in_status(status, *, days_ago=0, candidate=None, call=None, **fields):
    application = ApplicationFactory(
        status=status,
        candidate=candidate or LegalEntityFactory(),
        call=call or FundingCallFactory(),
        **fields,
    )
    return entered(application, status, days_ago=days_ago)


def send(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return send_daily_digests(**kwargs)


def mail_to(user):
    found = [m for m in mail.outbox if m.to == [user.email]]
    assert len(found) <= 1
    return found[0] if found else None


@pytest.fixture
def regional_queue(db):
    return {
        "new": in_status("regional_review", days_ago=0),
        "old": in_status("regional_review", days_ago=20),
        "middle": in_status("regional_review", days_ago=5),
        "declared": in_status("objectives_declared", days_ago=2),
    }


def test_ars_digest_lists_new_waiting_and_objectives_to_check(
    regional_queue, ars_user, django_capture_on_commit_callbacks
):
    assert send(django_capture_on_commit_callbacks) == 1
    message = mail_to(ars_user)
    assert message.subject == "Portail CaRE : votre récapitulatif quotidien"
    body = message.body
    new_section = body.split("Nouvelles candidatures à instruire")[1].split("\n\n")[0]
    assert regional_queue["new"].reference in new_section
    assert regional_queue["old"].reference not in new_section
    waiting = body.split("depuis plus de 15 jours")[1].split("\n\n")[0]
    assert regional_queue["old"].reference in waiting
    assert regional_queue["middle"].reference not in waiting
    assert "en attente depuis 20 jours" in waiting
    to_check = body.split("Objectifs déclarés atteints, à vérifier")[1]
    assert reverse(
        "applications:objectives-check", args=[regional_queue["declared"].public_id]
    ) in (to_check)
    assert reverse("accounts:notifications") in body


def test_an_agent_of_another_region_with_nothing_to_do_gets_nothing(
    regional_queue, other_region_ars_user, django_capture_on_commit_callbacks
):
    send(django_capture_on_commit_callbacks)
    assert mail_to(other_region_ars_user) is None
    assert not DigestSent.objects.filter(user=other_region_ars_user).exists()


def test_ministry_digest_counts_what_waits_nationally(
    db, ministry_user, django_capture_on_commit_callbacks
):
    colleague = UserFactory(email="frank@sante.gouv.test", is_staff=True)
    MembershipFactory(user=colleague, role="ministry")
    in_status("national_review", days_ago=1)
    in_status("national_review", days_ago=30)
    pending = in_status("national_review", days_ago=2)
    CoSignature.objects.create(
        application=pending, requested_by=colleague, amount=Decimal("900000")
    )
    to_validate = in_status("objectives_checked", granted_amount=Decimal("1000"))
    to_pay = in_status("objectives_validated", granted_amount=Decimal("1000"))
    advance = in_status(
        "approved",
        granted_amount=Decimal("1000"),
        call=FundingCallFactory(advance_rate=Decimal("30")),
    )
    send(django_capture_on_commit_callbacks)
    body = mail_to(ministry_user).body
    assert "Candidatures en instruction nationale : 3 (dont 1 depuis plus de 15 jours)" in body
    assert "Co-signatures en attente d'un second agent : 1" in body
    assert f"{pending.reference}" in body and "900 000,00 € à co-signer" in body.replace(
        "\xa0", " "
    )
    assert f"Objectifs vérifiés par l'ARS, à valider : 1\n- {to_validate.reference}" in body
    payments = body.split("Paiements à enregistrer : 2")[1]
    assert to_pay.reference in payments and advance.reference in payments
    assert "/admin/applications/fundedapplication/?step=to_pay" in payments
    # The co-signature asked by the colleague is not theirs to give.
    colleague_body = mail_to(colleague).body
    assert "Co-signatures" not in colleague_body


def test_applicant_reminders_of_returned_files_and_the_objectives_deadline(
    hospital, hospital_user, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    late = in_status("returned", candidate=hospital, return_due_on=today - timedelta(days=1))
    soon = in_status("returned", candidate=hospital, return_due_on=today + timedelta(days=3))
    in_status("returned", candidate=hospital, return_due_on=today + timedelta(days=30))
    deadline = in_status(
        "approved",
        candidate=hospital,
        call=FundingCallFactory(objectives_deadline=today + timedelta(days=5)),
    )
    in_status(
        "approved",
        candidate=hospital,
        call=FundingCallFactory(objectives_deadline=today - timedelta(days=1)),
    )
    in_status("returned", return_due_on=today)  # another candidate's
    send(django_capture_on_commit_callbacks)
    message = mail_to(hospital_user)
    assert message.subject == "Portail CaRE : rappels d'échéance"
    body = message.body
    assert "Candidatures renvoyées pour compléments : 2" in body
    assert f"{late.reference}" in body and ": en retard)" in body
    assert f"{soon.reference}" in body
    assert "date limite proche : 1" in body
    assert reverse("applications:objectives", args=[deadline.public_id]) in body


def test_nothing_to_say_sends_nothing(
    db, ars_user, ministry_user, hospital_user, django_capture_on_commit_callbacks
):
    assert send(django_capture_on_commit_callbacks) == 0
    assert mail.outbox == []
    assert not DigestSent.objects.exists()


def test_opted_out_users_get_no_digest(
    regional_queue, ars_user, hospital, hospital_user, django_capture_on_commit_callbacks
):
    in_status("returned", candidate=hospital, return_due_on=timezone.localdate())
    ars_user.wants_work_digest = False
    ars_user.save()
    hospital_user.wants_reminders = False
    hospital_user.save()
    assert send(django_capture_on_commit_callbacks) == 0
    assert mail.outbox == []


def test_once_a_day_and_new_since_the_last_digest(
    regional_queue, ars_user, django_capture_on_commit_callbacks
):
    assert send(django_capture_on_commit_callbacks) == 1
    assert send(django_capture_on_commit_callbacks) == 0  # the same day
    assert len(mail.outbox) == 1
    sent = DigestSent.objects.get(user=ars_user)
    assert (sent.kind, sent.day) == ("work", timezone.localdate())

    mail.outbox.clear()
    tomorrow = NOW() + timedelta(days=1)
    arrived = in_status("regional_review", days_ago=0)
    # It arrived after the first digest, later today.
    arrived.transitions.update(created_at=NOW() + timedelta(hours=1))
    assert send(django_capture_on_commit_callbacks, now=tomorrow) == 1
    body = mail_to(ars_user).body
    new_section = body.split("Nouvelles candidatures à instruire")[1].split("\n\n")[0]
    assert arrived.reference in new_section
    assert regional_queue["new"].reference not in new_section  # told yesterday


def test_each_kind_is_a_separate_opt_out(
    regional_queue, hospital, django_capture_on_commit_callbacks
):
    """A user both ARS agent and establishment user gets both, each turned off alone."""
    user = UserFactory(email="double@example.test", wants_work_digest=False)
    MembershipFactory(user=user, role="regional", region=hospital.department.region)
    MembershipFactory(user=user, role="establishment", legal_entity=hospital)
    in_status("returned", candidate=hospital, return_due_on=timezone.localdate())
    send(django_capture_on_commit_callbacks)
    assert [m.subject for m in mail.outbox if m.to == [user.email]] == [
        "Portail CaRE : rappels d'échéance"
    ]


def test_digests_are_built_in_a_fixed_number_of_queries(db, ars_user, ministry_user, hospital_user):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert build_digests()
        return len(captured.captured_queries)

    in_status("regional_review")
    in_status("objectives_checked", granted_amount=Decimal("10"))
    few = queries()
    for n in range(15):
        in_status("regional_review", days_ago=n)
        in_status("objectives_validated", granted_amount=Decimal("10"))
        agent = UserFactory()
        MembershipFactory(user=agent, role="regional", region=ars_user.memberships.get().region)
    assert queries() == few


def test_the_daily_task_is_scheduled_and_sends(
    regional_queue, ars_user, settings, django_capture_on_commit_callbacks
):
    schedule = settings.CELERY_BEAT_SCHEDULE["send-daily-digests"]
    assert schedule["task"] == "applications.send_digests_task"
    with django_capture_on_commit_callbacks(execute=True):
        result = celery_app.tasks["applications.send_digests_task"].apply()
    # An EagerResult's value (`.get()` refuses when an earlier test of the same process
    # left a task marked as running in this thread).
    assert result.successful() and result.result == 1
    assert mail_to(ars_user) is not None


# --- The account's notifications page ---------------------------------------------------------


def test_notifications_page_turns_each_digest_off(client, ars_user):
    client.force_login(ars_user)
    security = client.get(reverse("accounts:security")).content.decode()
    assert reverse("accounts:notifications") in security
    page = client.get(reverse("accounts:notifications"))
    assert page.status_code == 200
    assert "Recevoir le récapitulatif quotidien" in page.content.decode()
    response = client.post(reverse("accounts:notifications"), {"wants_reminders": "on"})
    assert response.status_code == 302
    ars_user.refresh_from_db()
    assert (ars_user.wants_work_digest, ars_user.wants_reminders) == (False, True)


def test_notifications_page_needs_a_login(client):
    response = client.get(reverse("accounts:notifications"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
