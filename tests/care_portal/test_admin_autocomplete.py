"""A posted value that is not a key, in an admin autocomplete field, gives the form's
"Sélectionnez un choix valide" message and not a 500 (found by tests/property/)."""

import pytest
from django.contrib import admin
from django.urls import reverse

from care_portal.admin_widgets import SafeAutocompleteMixin


def _admins_with_autocomplete():
    for model, model_admin in admin.site._registry.items():
        if model_admin.autocomplete_fields:
            yield model, model_admin
        for inline in model_admin.inlines:
            if inline.autocomplete_fields:
                yield inline.model, inline


def test_every_admin_with_autocomplete_fields_uses_the_safe_widgets():
    found = list(_admins_with_autocomplete())
    assert found
    for model, model_admin in found:
        assert isinstance(model_admin, SafeAutocompleteMixin) or issubclass(
            model_admin, SafeAutocompleteMixin
        ), model


@pytest.mark.parametrize(
    "model_admin",
    [
        model_admin
        for _model, model_admin in _admins_with_autocomplete()
        if not isinstance(model_admin, type)
    ],
    ids=lambda model_admin: model_admin.opts.label,
)
@pytest.mark.parametrize("bad_key", [":", "abc", "1.5", "\u00e9"])
def test_an_add_page_with_a_bad_key_shows_the_form_again(
    client, ministry_user, model_admin, bad_key
):
    ministry_user.is_superuser = True
    ministry_user.save()
    client.force_login(ministry_user)
    opts = model_admin.opts
    data = {name: bad_key for name in model_admin.autocomplete_fields}
    response = client.post(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"), data)
    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in response.content.decode()


def test_the_audit_import_upload_with_a_bad_legal_entity_shows_the_form_again(
    client, ministry_user
):
    client.force_login(ministry_user)
    response = client.post(
        reverse("admin:audits_auditimport_add"),
        {"kind": "ad", "legal_entity": ":", "file": ""},
    )
    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in response.content.decode()
