"""Form fields shared by every app."""

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

# Spaces people and spreadsheets put in amounts: plain, non-breaking, narrow non-breaking,
# thin. The euro sign and "EUR" may follow the figure.
_NOISE = re.compile(r"[\s\u00a0\u202f\u2009]|€|eur(os?)?$", re.IGNORECASE)
_SHAPE = re.compile(r"^-?\d+(\.\d+)?$")


def parse_amount(text: str) -> Decimal:
    """Read an amount written the French way or the English way: "12 500,50",
    "12 500 €", "12500.50", "12.500,50". Raises ValueError when it is not one."""
    value = _NOISE.sub("", text.strip())
    if "," in value:
        # The comma is the decimal mark: dots, if any, group thousands.
        value = value.replace(".", "").replace(",", ".", 1)
    elif value.count(".") > 1:
        value = value.replace(".", "")  # "1.250.000": dots grouping thousands
    if not _SHAPE.match(value):
        raise ValueError(text)
    try:
        return Decimal(value)
    except InvalidOperation as error:  # pragma: no cover - the pattern guards it
        raise ValueError(text) from error


class AmountInput(forms.TextInput):
    """A text input for amounts, shown with French separators ("12 500,50")."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, Decimal | int | float):
            return number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)
        return super().format_value(value)


class AmountField(forms.DecimalField):
    """A euro amount: accepts "12 500,50", "12 500 €", "12500.50"; two decimals."""

    widget = AmountInput
    default_error_messages = {
        "invalid": _("Saisissez un montant en euros, par exemple 12 500,50."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        try:
            return parse_amount(str(value))
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


# The filters of a list page (GET forms): every field is optional, an empty one filters nothing.


def search_field(help_text: Any) -> forms.CharField:
    """The free-text search of a list; `help_text` says what it looks in."""
    return forms.CharField(
        label=_("Rechercher"), required=False, max_length=100, help_text=help_text
    )


def code_filter_field(label: Any, queryset: Any, empty_label: Any) -> forms.ModelChoiceField:
    """A filter on a reference (a call, a region, a département), by its code in the URL."""
    return forms.ModelChoiceField(
        label=label,
        queryset=queryset,
        to_field_name="code",
        required=False,
        empty_label=empty_label,
    )


def choice_filter_field(label: Any, choices: Any, empty_label: Any) -> forms.ChoiceField:
    """A filter among `choices`, first of which the empty one (`empty_label`: "all")."""
    return forms.ChoiceField(label=label, choices=[("", empty_label), *choices], required=False)
