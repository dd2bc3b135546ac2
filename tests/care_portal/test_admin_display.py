"""The admin's number columns are grouped in thousands the French way."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils.formats import number_format

from applications.models import Application
from care_portal.admin_display import FrenchNumbersAdmin, french_number
from tests.factories import ApplicationFactory

pytestmark = pytest.mark.django_db


def grouped(value: Decimal) -> str:
    return number_format(value, decimal_pos=2, force_grouping=True)


def test_french_number_groups_numbers_and_leaves_the_rest():
    assert french_number(Decimal("45000000"), 2) == grouped(Decimal("45000000"))
    assert french_number(Decimal("45000000"), 2)[:2] == "45"
    assert french_number(Decimal("45000000"), 2)[2] in "\xa0\u202f "
    assert french_number(Decimal("45000000"), 2).endswith(",00")
    assert french_number(None) is None
    assert french_number(True) is True
    assert french_number("130005036") == "130005036"  # FINESS numbers are text


def test_every_project_admin_groups_its_numbers():
    project = {"accounts", "establishments", "audits", "applications"}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in project and model._meta.model_name != "user":
            assert isinstance(model_admin, FrenchNumbersAdmin), model._meta.label


def test_application_changelist_shows_grouped_amounts(admin_client):
    ApplicationFactory(status="submitted", requested_amount=Decimal("99400.00"))
    page = admin_client.get(reverse("admin:applications_application_changelist"))
    text = page.content.decode()
    assert page.status_code == 200
    assert grouped(Decimal("99400.00")) in text
    assert "99400,00" not in text
    # The column keeps its label, sorting and CSS class.
    assert "column-requested_amount" in text
    assert '<a href="?o=' in text.split("column-requested_amount")[1][:60]  # sortable


def test_funded_changelist_shows_the_paid_total_grouped(admin_client):
    application = ApplicationFactory(status="approved", granted_amount=Decimal("254900.00"))
    assert Application.objects.filter(pk=application.pk).exists()
    page = admin_client.get(reverse("admin:applications_fundedapplication_changelist"))
    text = page.content.decode()
    assert grouped(Decimal("254900.00")) in text
    assert "254900,00" not in text
    assert grouped(Decimal("0")) in text  # nothing paid yet: 0,00 in the "Versé" column
