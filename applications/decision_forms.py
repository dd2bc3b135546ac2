"""The confirmation form of the ministry's bulk actions in the admin: the reason where
the lifecycle table requires one, the due date of a return, and for an approval the
granted amount of each application (prefilled with the pending co-signature's amount,
else the ARS proposal, else the requested amount)."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .decisions import APPROVE, COMMENT_REQUIRED, SEND_BACK, default_amount
from .models import Application


class AmountField(forms.DecimalField):
    """Euros as people type them: "190 000,00", "190000.5", "190 000 €"."""

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if isinstance(value, str):
            for space in ("\u202f", "\xa0", " ", "€"):
                value = value.replace(space, "")
            value = value.replace(",", ".")
        return super().to_python(value)


class DecisionForm(forms.Form):
    comment = forms.CharField(
        label=_("Motif"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=10000,
        required=False,
    )
    due_on = forms.DateField(
        label=_("Compléments attendus pour le"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Facultatif : la date est rappelée à l'établissement."),
    )

    def __init__(
        self, *args: Any, action: str, applications: Sequence[Application], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.action = action
        self.applications = list(applications)
        comment = self.fields["comment"]
        if action in COMMENT_REQUIRED:
            comment.required = True
            comment.help_text = _("Obligatoire : il est communiqué à l'établissement.")
        elif action == APPROVE:
            comment.label = _("Observations")
            comment.help_text = _("Facultatif : elles figurent sur la lettre de décision.")
        else:
            del self.fields["comment"]
        if action != SEND_BACK:
            del self.fields["due_on"]
        if action == APPROVE:
            for application in self.applications:
                self.fields[self.amount_name(application)] = AmountField(
                    label=_("Montant accordé à %(reference)s (€)")
                    % {"reference": application.reference},
                    min_value=Decimal("0.01"),
                    max_digits=12,
                    decimal_places=2,
                    initial=default_amount(application),
                    widget=forms.TextInput(
                        attrs={"inputmode": "decimal", "size": 14, "class": "vTextField"}
                    ),
                )

    @staticmethod
    def amount_name(application: Application) -> str:
        return f"amount_{application.pk}"

    def rows(self) -> list[tuple[Application, forms.BoundField | None]]:
        """Each application with its amount field (approve) for the template's table."""
        return [
            (
                application,
                self[self.amount_name(application)] if self.action == APPROVE else None,
            )
            for application in self.applications
        ]

    def clean_due_on(self) -> date | None:
        due_on = self.cleaned_data.get("due_on")
        if due_on and due_on < timezone.localdate():
            raise forms.ValidationError(_("Choisissez une date à venir."))
        return due_on

    def amounts(self) -> dict[int, Decimal]:
        if self.action != APPROVE:
            return {}
        return {
            application.pk: self.cleaned_data[self.amount_name(application)]
            for application in self.applications
        }
