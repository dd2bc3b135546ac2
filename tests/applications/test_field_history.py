"""Field history (django-simple-history) of applications, calls, evidence and roles: who
changed which field, when, read on the admin's history pages by the staff allowed to
open the object. The workflow's columns (status, amounts, opinion…) are not in it: each
move is a Transition row, written by lifecycle.py."""

from html import unescape

import pytest
from django.urls import NoReverseMatch, reverse

from accounts.models import Membership
from applications.drafting import application_start, application_update_identity
from applications.evidence import evidence_add, evidence_delete
from applications.lifecycle import Status, application_transition
from applications.models import Application, Evidence, FundingCall, Transition

from ..factories import (
    ApplicationFactory,
    FundingCallFactory,
    RequirementFactory,
    UserFactory,
)
from .test_applicant import IDENTITY
from .test_evidence_kept import pdf_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(hospital, hospital_user):
    call = FundingCallFactory(code="D2-HIST")
    RequirementFactory(call=call, identifier="D2.P1")
    return application_start(call=call, candidate=hospital, by=hospital_user)


def test_an_identity_change_on_the_portal_is_recorded_with_its_author(client, draft, hospital_user):
    client.force_login(hospital_user)
    response = client.post(
        reverse("applications:application-identity", args=[draft.public_id]),
        {**IDENTITY, "rssi_email": "rssi@ch-villefranche.test"},
    )
    assert response.status_code == 302
    latest, previous = draft.history.all()[:2]
    assert latest.history_user == hospital_user and latest.history_type == "~"
    changed = {change.field for change in latest.diff_against(previous).changes}
    assert "rssi_email" in changed and "status" not in changed
    assert latest.rssi_email == "rssi@ch-villefranche.test"


def test_status_moves_are_in_the_transitions_not_the_field_history(draft, hospital_user, ars_user):
    """lifecycle.py writes the status by a conditional UPDATE: no history row, and the
    historical model has no status column to go stale; the Transition row says who
    moved it, when and why."""
    historical = Application.history.model
    assert not {f.name for f in historical._meta.fields} & {"status", "granted_amount"}
    Application.objects.filter(pk=draft.pk).update(status=Status.REGIONAL_REVIEW)
    draft.refresh_from_db()
    rows = draft.history.count()
    application_transition(application=draft, to=Status.RETURNED, by=ars_user, comment="PCA ?")
    assert draft.history.count() == rows
    move = Transition.objects.get(application=draft, to_status=Status.RETURNED)
    assert move.actor == ars_user and move.comment == "PCA ?"


def test_evidence_history_upload_supersession_and_deletion(draft, hospital_user):
    answer = draft.answers.get()
    first = evidence_add(
        application=draft, answer=answer, uploaded_file=pdf_upload("v1.pdf"), by=hospital_user
    )
    second = evidence_add(
        application=draft,
        answer=answer,
        uploaded_file=pdf_upload("v2.pdf"),
        by=hospital_user,
        replaces=first,
    )
    second_pk = second.pk
    evidence_delete(evidence=second, by=hospital_user)
    rows = list(Evidence.history.filter(application_id=draft.pk).order_by("history_id"))
    assert [(r.original_name, r.history_type) for r in rows] == [
        ("v1.pdf", "+"),
        ("v2.pdf", "+"),
        ("v1.pdf", "~"),
        ("v2.pdf", "-"),
    ]
    assert {r.history_user for r in rows} == {hospital_user}
    assert rows[2].superseded_at is not None and rows[2].superseded_by_id == second_pk


def test_a_role_given_in_the_admin_is_recorded(client, hospital, hospital_user):
    admin_user = UserFactory(email="root@sante.gouv.test", is_staff=True, is_superuser=True)
    membership = Membership.objects.get(user=hospital_user)
    client.force_login(admin_user)
    url = reverse("admin:accounts_membership_change", args=[membership.pk])
    response = client.post(
        url,
        {"user": hospital_user.pk, "role": "ministry", "legal_entity": "", "region": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    latest = membership.history.first()
    assert latest.history_user == admin_user and latest.role == "ministry"

    page = client.get(reverse("admin:accounts_membership_history", args=[membership.pk]))
    content = unescape(page.content.decode())
    assert page.status_code == 200
    assert "Rôle" in content and "Ministère / ANS" in content and str(admin_user) in content


def test_the_ministry_reads_the_history_of_a_call_and_of_an_application(
    client, ministry_user, hospital, hospital_user
):
    call = FundingCallFactory(code="D2-HIST2", title="Ancien titre")
    client.force_login(ministry_user)
    call.title = "Nouveau titre"
    call._history_user = ministry_user
    call.save()
    page = client.get(reverse("admin:applications_fundingcall_history", args=[call.pk]))
    content = unescape(page.content.decode())
    assert page.status_code == 200
    table = content[content.index('id="field-history"') :]
    assert "Ancien titre → Nouveau titre" in table, table[:3000]
    assert str(ministry_user) in table
    assert isinstance(call, FundingCall)

    application = ApplicationFactory(
        candidate=hospital, status="regional_review", submitted_at=call.created_at
    )
    evidence_of = Evidence.objects.create(
        application=application,
        file="evidence/x.pdf",
        original_name="pca.pdf",
        content_type="application/pdf",
        size=1,
        sha256="b" * 64,
        uploaded_by=hospital_user,
    )
    page = client.get(reverse("admin:applications_application_history", args=[application.pk]))
    content = unescape(page.content.decode())
    assert page.status_code == 200
    assert "Historique des pièces justificatives" in content and evidence_of.original_name in (
        content
    )
    assert "style=" not in content  # the CSP allows no inline style


def test_a_draft_history_stays_hidden_from_the_ministry(client, draft, ministry_user):
    client.force_login(ministry_user)
    response = client.get(reverse("admin:applications_application_history", args=[draft.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_no_past_version_can_be_opened_or_saved_back(draft):
    with pytest.raises(NoReverseMatch):
        reverse(
            "admin:applications_application_simple_history",
            args=[draft.pk, draft.history.first().history_id],
        )


def test_identity_service_records_the_author_without_a_request(draft, hospital_user):
    """Outside a request (a shell, a task) the author is whoever the service names."""
    application_update_identity(application=draft, by=hospital_user, data=IDENTITY)
    latest = draft.history.first()
    assert latest.rssi_email == IDENTITY["rssi_email"] and latest.history_user == hospital_user
