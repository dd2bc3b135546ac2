"""The admin of calls and applications: calls are configured there; an application's
status is never editable there."""

from django.urls import reverse

from ..factories import ApplicationFactory, FundingCallFactory, RequirementFactory


def test_ministry_configures_a_call_with_its_requirements(client, ministry_user):
    call = FundingCallFactory(code="D2-ADMIN")
    RequirementFactory(call=call, identifier="D2.P1")
    client.force_login(ministry_user)
    response = client.get(reverse("admin:applications_fundingcall_change", args=[call.pk]))
    assert response.status_code == 200
    assert "D2.P1" in response.content.decode()
    assert client.get(reverse("admin:applications_fundingcall_changelist")).status_code == 200


def test_application_status_is_read_only_in_the_admin(client, ministry_user, hospital):
    application = ApplicationFactory(candidate=hospital, status="regional_review")
    client.force_login(ministry_user)
    url = reverse("admin:applications_application_change", args=[application.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()
    assert (
        client.get(
            reverse("admin:applications_application_changelist"), {"q": hospital.name}
        ).status_code
        == 200
    )
    assert client.get(reverse("admin:applications_application_add")).status_code == 403


def test_establishment_users_have_no_admin(client, hospital_user):
    client.force_login(hospital_user)
    response = client.get(reverse("admin:applications_application_changelist"))
    assert response.status_code == 302


def test_the_admin_edits_nothing_of_an_application(client, ministry_user, hospital):
    """The whole application is read-only in the admin: what the applicant wrote is
    never edited there, and the status changes only through the actions."""
    application = ApplicationFactory(
        candidate=hospital, status="regional_review", rssi_email="rssi@ch.test"
    )
    client.force_login(ministry_user)
    url = reverse("admin:applications_application_change", args=[application.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="rssi_email"' not in page.content.decode()
    assert client.post(url, {"rssi_email": "nouveau-rssi@ch.test"}).status_code == 403
    application.refresh_from_db()
    assert (application.rssi_email, application.status) == ("rssi@ch.test", "regional_review")
