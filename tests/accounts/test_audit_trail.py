"""The append-only audit trail: what it records, that the database refuses to change
it, and its read-only admin with a formula-safe CSV export."""

import csv
import io

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, transaction
from django.urls import reverse

from accounts.admin import spreadsheet_safe
from accounts.audit import record
from accounts.models import AuditEvent, Membership

from ..factories import UserFactory
from .test_security import LOGIN_URL, PASSWORD, fail

Action = AuditEvent.Action


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_login_and_logout_are_recorded_with_actor_and_address(client, hospital_user):
    client.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
    client.post(reverse("accounts:logout"))
    login, logout = AuditEvent.objects.order_by("id")
    assert (login.action, logout.action) == (Action.LOGIN, Action.LOGOUT)
    assert login.actor == hospital_user and login.actor_email == "alice@hopital-a.test"
    assert login.ip_address == "127.0.0.1"


def test_failures_and_the_lockout_are_recorded_with_the_address_tried(client, hospital_user):
    fail(client, "Alice@Hopital-A.test", 5)
    client.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
    # The five failures, and the attempt refused while locked (right password or not).
    assert actions().count(Action.LOGIN_FAILED) == 6
    assert Action.LOCKOUT in actions()
    assert Action.LOGIN not in actions()
    failure = AuditEvent.objects.filter(action=Action.LOGIN_FAILED).first()
    assert failure.actor is None and failure.actor_email == "alice@hopital-a.test"


def test_logging_out_everywhere_is_recorded(client, hospital_user):
    client.force_login(hospital_user)
    client.post(reverse("accounts:security"))
    assert AuditEvent.objects.filter(action=Action.LOGOUT_EVERYWHERE, actor=hospital_user).exists()


def test_admin_changes_are_recorded(ministry_user, hospital_user):
    membership = Membership.objects.get(user=hospital_user)
    LogEntry.objects.create(
        user=ministry_user,
        content_type=ContentType.objects.get_for_model(Membership),
        object_id=str(membership.pk),
        object_repr=str(membership),
        action_flag=CHANGE,
        change_message='[{"changed": {"fields": ["Rôle"]}}]',
    )
    event = AuditEvent.objects.get(action=Action.ADMIN_CHANGE)
    assert event.actor == ministry_user
    assert event.object_type == "accounts.Membership" and event.object_id == str(membership.pk)
    assert "Rôle" in event.details["change"]


def test_the_database_refuses_to_change_or_delete_an_event(db, is_postgresql):
    if not is_postgresql:
        pytest.skip("the append-only trigger is PostgreSQL's")
    event = record(Action.EXPORT, actor_email="eve@sante.gouv.test", export="test")
    for change in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(actor_email="someone@else.test"),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            change()
    event.refresh_from_db()
    assert event.actor_email == "eve@sante.gouv.test"


@pytest.fixture
def superuser(db):
    return UserFactory(email="root@sante.gouv.test", is_staff=True, is_superuser=True)


def test_the_admin_shows_the_trail_read_only(client, superuser):
    record(Action.EXPORT, actor_email="eve@sante.gouv.test", export="test")
    client.force_login(superuser)
    changelist = reverse("admin:accounts_auditevent_changelist")
    assert client.get(changelist).status_code == 200
    assert client.get(changelist + "?action__exact=export").status_code == 200
    assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    event = AuditEvent.objects.get(action=Action.EXPORT)
    page = client.get(reverse("admin:accounts_auditevent_change", args=[event.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = client.post(
        reverse("admin:accounts_auditevent_delete", args=[event.pk]), {"post": "yes"}
    )
    assert response.status_code == 403


def test_the_csv_export_cannot_run_formulas(client, superuser):
    record(Action.LOGIN_FAILED, actor_email="=cmd|' /C calc'!A0")
    client.force_login(superuser)
    response = client.post(
        reverse("admin:accounts_auditevent_changelist"),
        {
            "action": "export_csv",
            "_selected_action": AuditEvent.objects.values_list("pk", flat=True),
        },
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "date"
    assert rows[1][2] == "'=cmd|' /C calc'!A0"
    assert AuditEvent.objects.filter(action=Action.EXPORT).exists()  # the export itself


@pytest.mark.parametrize(
    ("value", "safe"),
    [("=1+1", "'=1+1"), ("+33 1", "'+33 1"), ("-2", "'-2"), ("@SUM", "'@SUM"), ("ok", "ok")],
)
def test_spreadsheet_safe(value, safe):
    assert spreadsheet_safe(value) == safe
