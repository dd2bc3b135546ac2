"""The admin's number columns in French: thousands grouped ("45 000 000,00"), as the
portal's pages show them, whatever USE_THOUSAND_SEPARATOR says (it stays off: it
would also group years and identifiers in templates)."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest
from django.utils.formats import number_format

NUMBER_FIELDS = (models.DecimalField, models.IntegerField, models.FloatField)


def french_number(value: Any, decimal_pos: int | None = None) -> Any:
    """A number grouped in thousands the French way; anything else unchanged (None
    stays None, so that the admin shows its empty value)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    return number_format(value, decimal_pos=decimal_pos, force_grouping=True)


class FrenchNumbersAdmin(admin.ModelAdmin):
    """A ModelAdmin whose list columns on number fields (without choices) are grouped in
    thousands. The first column, the links and the editable columns keep Django's own
    rendering; a column's label, sorting and CSS class are unchanged."""

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        columns = list(super().get_list_display(request))
        kept = {*(self.list_display_links or ()), *self.list_editable}
        return [
            columns[0],
            *(
                self._grouped(column) if isinstance(column, str) and column not in kept else column
                for column in columns[1:]
            ),
        ]

    def _grouped(self, name: str) -> str | Callable[..., Any]:
        """The column for `name`, made once per admin: Django finds the sortable columns
        by identity (`get_sortable_by` asks for the list display again)."""
        made: dict[str, str | Callable[..., Any]] = self.__dict__.setdefault("_columns", {})
        if name not in made:
            made[name] = self._make_column(name)
        return made[name]

    def _make_column(self, name: str) -> str | Callable[..., Any]:
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:  # an admin method or attribute: left as it is
            return name
        if not isinstance(field, NUMBER_FIELDS) or field.choices:
            return name
        places = field.decimal_places if isinstance(field, models.DecimalField) else None

        def column(obj: models.Model) -> Any:
            return french_number(getattr(obj, name), places)

        column.__name__ = name  # the column keeps its CSS class (column-<name>)
        column.short_description = field.verbose_name  # type: ignore[attr-defined]
        column.admin_order_field = name  # type: ignore[attr-defined]
        return column


class ReadOnlyAdmin(FrenchNumbersAdmin):
    """A list and its records shown, never added, changed or deleted from the admin
    (records written elsewhere: the audit trail, computed statuses, signatures)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
