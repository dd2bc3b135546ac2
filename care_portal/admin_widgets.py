"""Admin autocomplete widgets that survive a posted value which is not a key.

Django's AutocompleteSelect looks the selected values up in the database to render them
(`optgroups`). When a form comes back with an error and its value is not a valid key of
the target model (":" or "abc" for an integer key, posted by hand or by a fuzzer), that
lookup raises ValueError and the admin page answers 500 instead of showing "Sélectionnez
un choix valide". These widgets drop such values before the lookup: the field's own
validation has already refused them with its message. Found by tests/property/.
"""

from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin.widgets import (
    AutocompleteMixin,
    AutocompleteSelect,
    AutocompleteSelectMultiple,
)
from django.core.exceptions import ValidationError
from django.db.models import Field


def _valid_keys(widget: AutocompleteMixin, values: Sequence[str]) -> list[str]:
    remote = widget.field.remote_field
    target: Field = remote.model._meta.get_field(remote.field_name or "pk")
    valid = []
    for value in values:
        try:
            target.to_python(value)
        except (ValidationError, ValueError, TypeError):
            continue
        valid.append(value)
    return valid


class SafeAutocompleteSelect(AutocompleteSelect):
    def optgroups(self, name: str, value: Sequence[str], attr: Any = None) -> Any:
        return super().optgroups(name, _valid_keys(self, value), attr)


class SafeAutocompleteSelectMultiple(AutocompleteSelectMultiple):
    def optgroups(self, name: str, value: Sequence[str], attr: Any = None) -> Any:
        return super().optgroups(name, _valid_keys(self, value), attr)


class SafeAutocompleteMixin:
    """For ModelAdmin and inlines: their `autocomplete_fields` use the widgets above."""

    admin_site: admin.AdminSite

    def _autocompleted(self, db_field: Any, request: Any, kwargs: dict[str, Any]) -> bool:
        fields = self.get_autocomplete_fields(request)  # type: ignore[attr-defined]
        return "widget" not in kwargs and db_field.name in fields

    def formfield_for_foreignkey(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        if self._autocompleted(db_field, request, kwargs):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        if self._autocompleted(db_field, request, kwargs):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
