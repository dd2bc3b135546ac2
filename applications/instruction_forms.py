"""Forms of the ARS instruction pages: the queue's filters (GET, so that a filtered
queue is a URL one can share) and the instruction acts (POST). They parse and validate
input; writes go through `applications.instruction`."""

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from care_portal.forms import choice_filter_field, code_filter_field, search_field
from establishments.models import StatusGroup

from .models import FundingCall, Opinion
from .worklist import Assignment, Eligibility, Filters, Sort, Tab, departments

if TYPE_CHECKING:
    from accounts.models import User

    from .models import Application


def _money(amount: Decimal) -> str:
    return formats.number_format(amount, 2, use_l10n=True, force_grouping=True)


class QueueFilterForm(forms.Form):
    tab = forms.ChoiceField(choices=Tab.choices, required=False, widget=forms.HiddenInput)
    q = search_field(_("Référence, nom ou numéro FINESS (du candidat ou d'une entité couverte)"))
    call = code_filter_field(
        _("Appel"), FundingCall.objects.order_by("-opens_at"), _("Tous les appels")
    )
    department = code_filter_field(_("Département"), None, _("Tous les départements"))
    status_group = choice_filter_field(
        _("Statut juridique"), StatusGroup.choices, _("Tous les statuts")
    )
    eligibility = choice_filter_field(_("Éligibilité"), Eligibility.choices, _("Toutes"))
    assigned = choice_filter_field(_("Attribution"), Assignment.choices, _("Toutes"))
    sort = forms.ChoiceField(label=_("Trier par"), choices=Sort.choices, required=False)

    def __init__(self, *args: Any, user: "User", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments(user)  # type: ignore[attr-defined]

    def filters(self) -> Filters:
        """The valid fields' values; an invalid one shows its error and is left out."""
        if not self.is_bound:
            return Filters()
        self.is_valid()
        return Filters.from_data(self.cleaned_data)


def _pick_field(
    label: Any, *, empty_label: Any, required: Any, invalid_choice: Any
) -> forms.ModelChoiceField:
    """A choice, by public id, among the rows the form is given (the queryset is set in
    its __init__); `required` and `invalid_choice` are its error messages."""
    return forms.ModelChoiceField(
        label=label,
        queryset=None,
        to_field_name="public_id",
        empty_label=empty_label,
        error_messages={"required": required, "invalid_choice": invalid_choice},
    )


class AssignForm(forms.Form):
    """Reassignment to a colleague of the same ARS (the choices: `instruction.colleagues`)."""

    agent = _pick_field(
        _("Attribuer à"),
        empty_label=_("Choisir un agent"),
        required=_("Choisissez l'agent à qui attribuer la candidature."),
        invalid_choice=_("Cet agent n'appartient pas à l'ARS de la région du candidat."),
    )

    def __init__(self, *args: Any, agents: list["User"], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "reassign")
        super().__init__(*args, **kwargs)
        from accounts.models import User

        field = self.fields["agent"]
        field.queryset = User.objects.filter(pk__in=[a.pk for a in agents])  # type: ignore[attr-defined]
        field.label_from_instance = lambda user: f"{user.get_full_name()} ({user.email})"  # type: ignore[attr-defined]


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Nouvelle note"),
        help_text=_("Visible des seuls agents (ARS et ministère), jamais de l'établissement."),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Écrivez la note avant de l'enregistrer.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "note")
        super().__init__(*args, **kwargs)


class OpinionForm(forms.Form):
    opinion = forms.ChoiceField(
        label=_("Avis de l'ARS"),
        choices=Opinion.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choisissez un avis : favorable, défavorable ou réservé.")},
    )
    motivation = forms.CharField(
        label=_("Motivation de l'avis"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": _("La motivation de l'avis est obligatoire.")},
    )
    proposed_amount = forms.DecimalField(
        label=_("Montant proposé (€)"),
        max_digits=12,
        decimal_places=2,
        localize=True,
        error_messages={
            "required": _("Indiquez le montant proposé."),
            "invalid": _("Indiquez un montant en euros, par exemple 120000 ou 120000,50."),
            "max_digits": _("Ce montant est trop grand."),
            "max_decimal_places": _("Indiquez au plus 2 chiffres après la virgule."),
            "max_whole_digits": _("Ce montant est trop grand."),
        },
    )

    def __init__(self, *args: Any, application: "Application", **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "opinion")
        super().__init__(*args, **kwargs)
        field = self.fields["proposed_amount"]
        field.help_text = _("Supérieur à 0 € et au plus le montant demandé (%(requested)s €).") % {
            "requested": _money(application.requested_amount)
        }
        self.requested = application.requested_amount
        if not self.is_bound:
            self.initial.setdefault("proposed_amount", application.requested_amount)

    def clean_proposed_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["proposed_amount"]
        if amount <= 0:
            raise forms.ValidationError(_("Le montant proposé doit être supérieur à 0 €."))
        if amount > self.requested:
            raise forms.ValidationError(
                _("Le montant proposé dépasse le montant demandé (%(requested)s €).")
                % {"requested": _money(self.requested)}
            )
        return amount


class ReturnForm(forms.Form):
    request = forms.CharField(
        label=_("Compléments demandés"),
        help_text=_("Ce texte est envoyé à l'établissement et affiché en tête de sa candidature."),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": _("Indiquez les compléments demandés à l'établissement.")},
    )
    due_on = forms.DateField(
        label=_("Compléments attendus pour le"),
        help_text=_("Une date postérieure à aujourd'hui."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        error_messages={
            "required": _("Indiquez la date attendue des compléments."),
            "invalid": _("Indiquez une date valide, par exemple 31/12/2026."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "return")
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("due_on", timezone.localdate() + timedelta(days=15))

    def clean_due_on(self) -> date:
        due_on: date = self.cleaned_data["due_on"]
        if due_on <= timezone.localdate():
            raise forms.ValidationError(
                _("La date attendue des compléments doit être postérieure à aujourd'hui.")
            )
        return due_on


class RecuseForm(forms.Form):
    legal_entity = _pick_field(
        _("Entité avec laquelle vous êtes en conflit"),
        empty_label=_("Choisir une entité"),
        required=_("Choisissez l'entité avec laquelle vous êtes en conflit."),
        invalid_choice=_("Choisissez le candidat ou une entité couverte par la candidature."),
    )
    reason = forms.CharField(
        label=_("Motif du déport"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Indiquez le motif du conflit d'intérêts.")},
    )

    def __init__(self, *args: Any, entities: list[Any], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "recuse")
        super().__init__(*args, **kwargs)
        from establishments.models import LegalEntity

        self.fields["legal_entity"].queryset = LegalEntity.objects.filter(  # type: ignore[attr-defined]
            pk__in=[e.pk for e in entities]
        ).order_by("name")
