"""Amounts typed the French way (or the English way) are read; others are refused."""

from decimal import Decimal

import pytest
from django import forms

from care_portal.forms import AmountField, parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 500,50", "12500.50"),
        ("12\u00a0500,50", "12500.50"),
        ("12\u202f500,50 €", "12500.50"),
        ("12 500 €", "12500"),
        ("12500.50", "12500.50"),
        ("12.500,50", "12500.50"),
        ("1.250.000", "1250000"),
        ("45000000,00", "45000000.00"),
        ("300 EUR", "300"),
        (" 7 ", "7"),
    ],
)
def test_amounts_written_in_every_usual_way_are_read(text, expected):
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["douze", "12,5,0", "1e6", "12 500,50 $", "--3", "€"])
def test_what_is_not_an_amount_is_refused(text):
    with pytest.raises(ValueError):
        parse_amount(text)


class _AmountForm(forms.Form):
    amount = AmountField(min_value=Decimal("0"))


def test_the_field_says_what_an_amount_looks_like():
    form = _AmountForm(data={"amount": "douze mille"})
    assert not form.is_valid()
    assert form.errors["amount"] == ["Saisissez un montant en euros, par exemple 12 500,50."]
    assert _AmountForm(data={"amount": "12 500,50 €"}).is_valid()


def test_an_amount_is_shown_with_french_separators():
    html = str(_AmountForm(initial={"amount": Decimal("45000000")})["amount"])
    assert 'value="45\u00a0000\u00a0000,00"' in html
    assert 'inputmode="decimal"' in html
