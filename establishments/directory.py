"""Extension points of the directory pages.

Apps built on the directory (audits today, applications tomorrow) add a column with its
filter to the directory list, and a section to the legal entity page, by registering a
`DirectoryColumn` in their `AppConfig.ready()`. The directory never imports them: the
dependency points upwards only (docs/architecture.md, "Layers")."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from .models import LegalEntity

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class DirectoryColumn:
    """One column of the directory list, its filter, and a section of the entity page.

    - `key`: the filter's URL parameter and form field name;
    - `choices`: the filter's choices (an "all" choice is added in front);
    - `filter_queryset(qs, value)`: the list filtered on a chosen value;
    - `related`: `select_related` paths the list and the page need (no extra query);
    - `annotate(entity)`: sets what `cell_template` shows on an entity of the page;
    - `section_template` / `section_context(entity)`: the entity page's section.
    """

    key: str
    label: "StrOrPromise"
    cell_template: str
    choices: Callable[[], Sequence[tuple[str, Any]]]
    filter_queryset: Callable[[QuerySet[LegalEntity], str], QuerySet[LegalEntity]]
    annotate: Callable[[LegalEntity], None] = lambda entity: None
    related: tuple[str, ...] = ()
    section_template: str = ""
    section_context: Callable[[LegalEntity], dict[str, Any]] = field(default=lambda entity: {})


_columns: dict[str, DirectoryColumn] = {}


def register(column: DirectoryColumn) -> None:
    """Add a column (idempotent: registering the same key again replaces it)."""
    _columns[column.key] = column


def columns() -> list[DirectoryColumn]:
    return list(_columns.values())


def related_paths() -> list[str]:
    return [path for column in _columns.values() for path in column.related]


def apply_filters(qs: QuerySet[LegalEntity], filters: dict[str, Any]) -> QuerySet[LegalEntity]:
    for column in _columns.values():
        if value := filters.get(column.key):
            qs = column.filter_queryset(qs, value)
    return qs


def annotate(entities: Iterable[LegalEntity]) -> list[LegalEntity]:
    entities = list(entities)
    for column in _columns.values():
        for entity in entities:
            column.annotate(entity)
    return entities


def sections(request: HttpRequest, entity: LegalEntity) -> list[SafeString]:
    """The sections the registered columns add to the legal entity page, rendered."""
    return [
        render_to_string(
            column.section_template,
            {"entity": entity, **column.section_context(entity)},
            request=request,
        )
        for column in _columns.values()
        if column.section_template
    ]
