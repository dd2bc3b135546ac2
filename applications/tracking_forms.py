"""The forms of tracking to payment: an objective declared (comment and a file), the
ARS's check of each declared objective, the ministry's return and payment."""

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .evidence import ALLOWED_FORMATS_LABEL
from .models import Payment

DECISIONS = [("accept", _("Accepter")), ("return", _("Renvoyer"))]


class DeclarationForm(forms.Form):
    """One objective declared reached: what was done and, optionally, a file (the
    upload's limits as its help text)."""

    comment = forms.CharField(
        label=_("Ce qui a été réalisé"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    file = forms.FileField(
        label=_("Ajouter une pièce justificative"),
        required=False,
        error_messages={"empty": _("Le fichier envoyé est vide.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "Taille maximale : %(size)s par fichier. Formats acceptés : %(formats)s."
        ) % {
            "size": filesizeformat(settings.EVIDENCE_MAX_FILE_SIZE),
            "formats": ALLOWED_FORMATS_LABEL,
        }


class CheckForm(forms.Form):
    """The ARS's decision on one declared objective; prefix `objective-<requirement id>`."""

    decision = forms.ChoiceField(
        label=_("Décision"),
        choices=DECISIONS,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choisissez d'accepter ou de renvoyer cet objectif.")},
    )
    reason = forms.CharField(
        label=_("Motif du renvoi"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "return" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Indiquez le motif du renvoi."))
        return data


class ReturnObjectivesForm(forms.Form):
    comment = forms.CharField(
        label=_("Motif du renvoi à l'établissement"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Un motif est obligatoire pour renvoyer les objectifs.")},
    )


class PaymentForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Montant (€)"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"required": _("Indiquez le montant payé.")},
    )
    paid_on = forms.DateField(
        label=_("Date de paiement"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("Indiquez la date de paiement."),
            "invalid": _("Indiquez une date valide (jj/mm/aaaa)."),
        },
    )
    chorus_reference = forms.CharField(
        label=_("Référence Chorus"),
        max_length=40,
        error_messages={"required": _("Indiquez la référence Chorus du paiement.")},
    )
    tranche = forms.ChoiceField(label=_("Tranche"), choices=Payment.Tranche.choices)
