from django import forms
from django.utils.translation import gettext_lazy as _

from audits.models import Volet1Level

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
    volet1 = forms.ChoiceField(
        label=_("Volet 1"),
        choices=[("", _("Tous")), *Volet1Level.choices],
        required=False,
    )
