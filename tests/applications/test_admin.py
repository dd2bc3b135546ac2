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


def admin_form_data(page) -> dict[str, object]:
    """What the admin change form posts back as it was shown: its editable fields and
    the management forms of its inlines."""
    form = page.context["adminform"].form
    data: dict[str, object] = {name: form[name].value() or "" for name in form.fields}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update(
            {management.add_prefix(name): management[name].value() for name in management.fields}
        )
        for inline_form in formset.forms:
            for name in inline_form.fields:
                value = inline_form[name].value()
                if value is not None:
                    data[inline_form.add_prefix(name)] = value
    return data


def test_an_admin_save_keeps_a_status_changed_meanwhile(
    client, ministry_user, ars_user, hospital, monkeypatch
):
    """The admin reads the application, a transition commits, then the admin writes:
    only the contacts edited in the form are written, never the old status."""
    from applications.admin import ApplicationAdmin
    from applications.lifecycle import application_transition
    from applications.models import Application

    application = ApplicationFactory(candidate=hospital, status="regional_review")
    client.force_login(ministry_user)
    url = reverse("admin:applications_application_change", args=[application.pk])
    page = client.get(url)
    assert page.status_code == 200
    read = ApplicationAdmin.get_object

    def read_then_moved_meanwhile(self, request, object_id, from_field=None):
        obj = read(self, request, object_id, from_field)
        if request.method == "POST":  # the ARS moves it between the admin's read and write
            application_transition(
                application=Application.objects.get(pk=obj.pk), to="national_review", by=ars_user
            )
        return obj

    monkeypatch.setattr(ApplicationAdmin, "get_object", read_then_moved_meanwhile)
    data = admin_form_data(page)
    data["rssi_email"] = "nouveau-rssi@ch.test"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    application.refresh_from_db()
    assert application.rssi_email == "nouveau-rssi@ch.test"
    assert application.status == "national_review"
    # Saving the form unchanged writes nothing.
    before = application.updated_at
    monkeypatch.setattr(ApplicationAdmin, "get_object", read)
    assert client.post(url, admin_form_data(client.get(url))).status_code == 302
    application.refresh_from_db()
    assert application.updated_at == before
