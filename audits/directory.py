"""The directory's Volet 1 column, filter and entity-page section, registered into
`establishments.directory` when the audits app is ready."""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from establishments.directory import DirectoryColumn
from establishments.models import LegalEntity

from .models import Volet1Level, Volet1Status


def volet1_status_of(entity: LegalEntity) -> Volet1Status | None:
    """The stored Volet 1 status of an entity loaded with `select_related("volet1")`
    (no query), or None when it has none yet."""
    try:
        return entity.volet1
    except Volet1Status.DoesNotExist:
        return None


def _filter(qs: QuerySet[LegalEntity], value: str) -> QuerySet[LegalEntity]:
    # An entity without a stored status has no audit nor scan: it counts as "none".
    condition = Q(volet1__level=value)
    if value == Volet1Level.NONE:
        condition |= Q(volet1__isnull=True)
    return qs.filter(condition)


def _annotate(entity: LegalEntity) -> None:
    """`volet1_level` (a `Volet1Level`, "none" without a stored status): no query."""
    status = volet1_status_of(entity)
    entity.volet1_level = Volet1Level(status.level if status else Volet1Level.NONE)  # type: ignore[attr-defined]


# volet1: the stored Volet 1 status (reverse one-to-one, LEFT JOIN): the column and its
# filter cost no query of their own.
VOLET1_COLUMN = DirectoryColumn(
    key="volet1",
    label=_("Volet 1"),
    cell_template="audits/directory_volet1_cell.html",
    choices=lambda: Volet1Level.choices,
    filter_queryset=_filter,
    annotate=_annotate,
    related=("volet1",),
    section_template="audits/directory_volet1_section.html",
    section_context=lambda entity: {"volet1": volet1_status_of(entity)},
)
