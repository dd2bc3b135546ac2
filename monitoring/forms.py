"""The GET forms of the monitoring pages: the call, the map's rate, the list filters.
An invalid value shows its error at its field and is left out (the page still shows)."""

from typing import Any, cast

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from applications.models import FundingCall
from audits.models import Volet1Level
from care_portal.forms import choice_filter_field, search_field
from establishments.models import StatisticsGroup

from .drilldown import NO_VOLET1_STATUS, EntityFilters, EntityList

RATE_CHOICES = (
    ("application_rate", _("Taux de candidature")),
    ("volet1_rate", _("Taux de participation au Volet 1")),
    ("volet1_objectives_rate", _("Taux d'atteinte des objectifs du Volet 1")),
    ("eligibility_rate", _("Taux d'éligibilité")),
    ("approval_rate", _("Taux d'accord")),
)
DEFAULT_RATE = "application_rate"


def with_defaults(data: QueryDict, **defaults: str | None) -> QueryDict:
    """The GET data with each missing field set to its default, so that the form shows
    what the page uses (the call open now, the map's first rate…)."""
    data = data.copy()
    for name, value in defaults.items():
        if value and not data.get(name):
            data[name] = value
    return data


def choice(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


class CallForm(forms.Form):
    appel = forms.ChoiceField(label=_("Appel à financement"), required=False)

    def __init__(self, *args: Any, calls: list[FundingCall], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = {c.code: c for c in calls}
        choice(self, "appel").choices = [(c.code, f"{c.code} – {c.title}") for c in calls]

    def chosen(self, default: FundingCall | None) -> FundingCall | None:
        """The call asked for, else `default` (an unknown code shows its error)."""
        if not self.is_bound:
            return default
        self.is_valid()
        return self.calls.get(self.cleaned_data.get("appel") or "", default)


class DashboardForm(CallForm):
    carte = forms.ChoiceField(
        label=_("Taux représenté sur la carte"), choices=RATE_CHOICES, required=False
    )

    def rate(self) -> str:
        if not self.is_bound:
            return DEFAULT_RATE
        self.is_valid()
        return str(self.cleaned_data.get("carte") or DEFAULT_RATE)


class EntityFilterForm(CallForm):
    """The place comes from `region` and `departement` (checked by `place_for`: outside
    the user's scope, the page is not found); the other fields narrow the list."""

    region = forms.ChoiceField(label=_("Région"), required=False)
    departement = forms.ChoiceField(label=_("Département"), required=False)
    liste = forms.ChoiceField(label=_("Liste"), choices=EntityList.CHOICES, required=False)
    groupe = choice_filter_field(
        _("Groupe statistique"), StatisticsGroup.choices, _("Tous les groupes")
    )
    volet1 = choice_filter_field(
        _("Statut Volet 1"),
        [
            (NO_VOLET1_STATUS, _("Aucun objectif atteint (ou aucun audit)")),
            *[(c, label) for c, label in Volet1Level.choices if c != Volet1Level.NONE],
        ],
        _("Tous les statuts"),
    )
    q = search_field(_("Nom ou début du numéro FINESS de l'entité juridique"))

    def __init__(
        self,
        *args: Any,
        regions: list[tuple[str, str]],
        departments: list[tuple[str, str]],
        national: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        everyone = [("", _("Toute la France"))] if national else []
        choice(self, "region").choices = [*everyone, *regions]
        choice(self, "departement").choices = [("", _("Tous les départements")), *departments]

    def filters(self) -> EntityFilters:
        if not self.is_bound:
            return EntityFilters()
        # An invalid field shows its error and is left out; the valid ones still apply.
        self.is_valid()
        data = self.cleaned_data
        return EntityFilters(
            kind=data.get("liste") or EntityList.NOT_APPLIED,
            group=data.get("groupe") or "",
            volet1=data.get("volet1") or "",
            q=data.get("q") or "",
        )
