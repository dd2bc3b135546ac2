from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from . import directory
from .models import Department, Region, StatusGroup


class DirectoryFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Rechercher"),
        required=False,
        max_length=100,
        help_text=_("Nom ou numéro FINESS (de l'entité ou d'un de ses sites)"),
    )
    region = forms.ModelChoiceField(
        label=_("Région"),
        queryset=Region.objects.order_by("name"),
        to_field_name="code",
        required=False,
        empty_label=_("Toutes les régions"),
    )
    department = forms.ModelChoiceField(
        label=_("Département"),
        queryset=Department.objects.order_by("code"),
        to_field_name="code",
        required=False,
        empty_label=_("Tous les départements"),
    )
    status_group = forms.ChoiceField(
        label=_("Statut juridique"),
        choices=[("", _("Tous les statuts")), *StatusGroup.choices],
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One filter per column registered by the apps built on the directory.
        for column in directory.columns():
            self.fields[column.key] = forms.ChoiceField(
                label=column.label, choices=[("", _("Tous")), *column.choices()], required=False
            )

    @property
    def column_fields(self) -> list[forms.BoundField]:
        return [self[column.key] for column in directory.columns()]
