from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from care_portal.forms import choice_filter_field, code_filter_field, search_field

from . import directory
from .models import Department, Region, StatusGroup


class DirectoryFilterForm(forms.Form):
    q = search_field(_("Nom ou numéro FINESS (de l'entité ou d'un de ses sites)"))
    region = code_filter_field(
        _("Région"), Region.objects.order_by("name"), _("Toutes les régions")
    )
    department = code_filter_field(
        _("Département"), Department.objects.order_by("code"), _("Tous les départements")
    )
    status_group = choice_filter_field(
        _("Statut juridique"), StatusGroup.choices, _("Tous les statuts")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One filter per column registered by the apps built on the directory.
        for column in directory.columns():
            self.fields[column.key] = choice_filter_field(column.label, column.choices(), _("Tous"))

    @property
    def column_fields(self) -> list[forms.BoundField]:
        return [self[column.key] for column in directory.columns()]
