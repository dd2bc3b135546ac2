"""The legal entities behind a figure, above all "eligible but not applied" (the list
an ARS agent phones): the rows of `selectors.eligible_entities` for a place and a call,
narrowed by the same conditions that count the figures (a list never disagrees with its
figure), with their Volet 1 status, the application covering them and their contacts.

One query for a page of rows, one for its count, two for the contacts (the portal users
of each entity, its filed applications), whatever the number of rows."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    F,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from applications.drafting import IDENTITY_FIELDS
from applications.models import Application, FundingCall
from audits.models import Volet1Level
from establishments.identifiers import compact
from establishments.models import LegalEntity

from .selectors import (
    APPLIED,
    APPROVED,
    AUDITED,
    FOUND_ELIGIBLE,
    OBJECTIVES_MET,
    PAID,
    Place,
    eligible_entities,
)


class EntityList:
    """The lists, by the slug their URL carries."""

    NOT_APPLIED = "sans-candidature"
    ELIGIBLE = "eligibles"
    NO_VOLET1 = "sans-volet1"
    VOLET1_MET = "volet1-atteint"
    APPLIED = "candidates"
    FOUND_ELIGIBLE = "jugees-eligibles"
    APPROVED = "accordees"
    PAID = "payees"

    CHOICES = (
        (NOT_APPLIED, _("Éligibles sans candidature")),
        (ELIGIBLE, _("Toutes les entités éligibles")),
        (NO_VOLET1, _("Éligibles sans audit Volet 1")),
        (VOLET1_MET, _("Éligibles ayant atteint les objectifs du Volet 1")),
        (APPLIED, _("Éligibles couvertes par une candidature")),
        (FOUND_ELIGIBLE, _("Candidature jugée éligible")),
        (APPROVED, _("Candidature accordée")),
        (PAID, _("Candidature payée")),
    )


# Each list: a flag annotated on the rows (the figure's condition) and the value kept.
LIST_FLAGS: dict[str, tuple[str, bool] | None] = {
    EntityList.ELIGIBLE: None,
    EntityList.NOT_APPLIED: ("is_applied", False),
    EntityList.APPLIED: ("is_applied", True),
    EntityList.NO_VOLET1: ("is_audited", False),
    EntityList.VOLET1_MET: ("has_met_volet1", True),
    EntityList.FOUND_ELIGIBLE: ("is_found_eligible", True),
    EntityList.APPROVED: ("is_approved", True),
    EntityList.PAID: ("is_paid", True),
}
FLAG_CONDITIONS: dict[str, Q] = {
    "is_applied": APPLIED,
    "is_audited": AUDITED,
    "has_met_volet1": OBJECTIVES_MET,
    "is_found_eligible": FOUND_ELIGIBLE,
    "is_approved": APPROVED,
    "is_paid": PAID,
}
NO_VOLET1_STATUS = "none"


@dataclass(frozen=True)
class EntityFilters:
    """What the list's GET form asks for (its cleaned data)."""

    kind: str = EntityList.NOT_APPLIED
    group: str = ""
    volet1: str = ""  # a Volet1Level value
    q: str = ""


def _flag(condition: Q) -> Case:
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def _filed(path: str) -> Any:
    """A field of the covering application, when it has been filed (a draft is its
    authors' only: Application.objects.visible_to)."""
    return Case(
        When(cov__application__submitted_at__isnull=False, then=F(f"cov__application__{path}"))
    )


def entity_rows(call: FundingCall, place: Place, filters: EntityFilters) -> QuerySet[LegalEntity]:
    """The rows of a list, in département and name order, with every column."""
    queryset = (
        eligible_entities(call, place)
        .annotate(**{name: _flag(condition) for name, condition in FLAG_CONDITIONS.items()})
        .annotate(
            app_public_id=_filed("public_id"),
            app_reference=_filed("reference"),
            app_status=_filed("status"),
            app_director_name=_filed("director_name"),
            app_director_email=_filed("director_email"),
            app_rssi_name=_filed("rssi_name"),
            app_rssi_email=_filed("rssi_email"),
            app_continuity_name=_filed("continuity_lead_name"),
            app_continuity_email=_filed("continuity_lead_email"),
        )
        .select_related("department", "volet1", "ght")
    )
    flag = LIST_FLAGS.get(filters.kind)
    if flag is not None:
        queryset = queryset.filter(**{flag[0]: flag[1]})
    if filters.group:
        queryset = queryset.filter(Q(stat_group=filters.group))
    if filters.volet1 == NO_VOLET1_STATUS:
        queryset = queryset.filter(Q(volet1__isnull=True) | Q(volet1__level=Volet1Level.NONE))
    elif filters.volet1:
        queryset = queryset.filter(volet1__level=filters.volet1)
    if text := filters.q.strip():
        condition = Q(name__icontains=text)
        number = compact(text)
        if len(number) >= 3 and number.isalnum():
            condition |= Q(finess__startswith=number)
        queryset = queryset.filter(condition)
    return queryset.order_by("department__code", "name", "id")


def with_contacts(queryset: QuerySet[LegalEntity]) -> QuerySet[LegalEntity]:
    """The portal users of each entity and its filed applications (for their contacts),
    in two queries for any number of rows."""
    return queryset.prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.filter(
                role=Membership.Role.ESTABLISHMENT, user__is_active=True
            )
            .select_related("user")
            .order_by("user__email"),
            to_attr="portal_memberships",
        ),
        Prefetch(
            "applications",
            queryset=Application.objects.filter(submitted_at__isnull=False)
            .only(
                "id",
                "candidate_id",
                "submitted_at",
                *IDENTITY_FIELDS,  # the contacts the list shows
            )
            .order_by("-submitted_at"),
            to_attr="filed_applications",
        ),
    )


class ContactKind:
    USER = "user"
    DIRECTOR = "director"
    RSSI = "rssi"
    CONTINUITY = "continuity"

    LABELS = {
        USER: _("Compte du portail"),
        DIRECTOR: _("Direction"),
        RSSI: _("RSSI"),
        CONTINUITY: _("Responsable du plan de continuité"),
    }


@dataclass(frozen=True)
class Contact:
    kind: str
    name: str
    email: str

    @property
    def kind_label(self) -> str:
        return str(ContactKind.LABELS[self.kind])


def contacts(entity: LegalEntity) -> list[Contact]:
    """Who to call: the entity's portal users, then the contacts of the application
    covering it in this call, else of its latest filed application (any call); each
    address once. Reads what `entity_rows` and `with_contacts` loaded: no query."""
    found: list[Contact] = []
    seen: set[str] = set()

    def add(kind: str, name: str | None, email: str | None) -> None:
        key = (email or "").lower()
        if not key or key in seen:
            return
        seen.add(key)
        found.append(Contact(kind, name or "", email or ""))

    for membership in getattr(entity, "portal_memberships", []):
        add(ContactKind.USER, membership.user.full_name, membership.user.email)
    source: Any = None
    if getattr(entity, "app_reference", None):
        source = {
            ContactKind.DIRECTOR: (entity.app_director_name, entity.app_director_email),  # type: ignore[attr-defined]
            ContactKind.RSSI: (entity.app_rssi_name, entity.app_rssi_email),  # type: ignore[attr-defined]
            ContactKind.CONTINUITY: (
                entity.app_continuity_name,  # type: ignore[attr-defined]
                entity.app_continuity_email,  # type: ignore[attr-defined]
            ),
        }
    else:
        filed = getattr(entity, "filed_applications", [])
        if filed:
            latest = filed[0]
            source = {
                ContactKind.DIRECTOR: (latest.director_name, latest.director_email),
                ContactKind.RSSI: (latest.rssi_name, latest.rssi_email),
                ContactKind.CONTINUITY: (latest.continuity_lead_name, latest.continuity_lead_email),
            }
    for kind, (name, email) in (source or {}).items():
        add(kind, name, email)
    return found


@dataclass(frozen=True)
class EntityRow:
    entity: LegalEntity
    contacts: list[Contact]

    @property
    def volet1_level(self) -> str:
        status = getattr(self.entity, "volet1", None)
        return status.level if status is not None else Volet1Level.NONE.value


def rows(entities: Iterable[LegalEntity]) -> list[EntityRow]:
    return list(rows_iter(entities))


def rows_iter(entities: Iterable[LegalEntity]) -> Iterator[EntityRow]:
    """Rows one at a time (exports: the queryset is read in chunks)."""
    for entity in entities:
        yield EntityRow(entity, contacts(entity))


def release(entity: LegalEntity) -> None:
    """Drop what a row loaded with its entity: the related rows (its Volet 1 status,
    département, GHT) and the prefetched lists (portal users, applications). Those point
    back at the entity, and such reference cycles are freed only by the garbage
    collector's rare full passes, so that an export would grow with its rows until one
    runs; released, each chunk of rows is freed as soon as it has been written."""
    entity._state.fields_cache.clear()
    entity.__dict__.pop("_prefetched_objects_cache", None)
    for name in ("portal_memberships", "filed_applications"):
        entity.__dict__.pop(name, None)


def rows_streamed(entities: Iterable[LegalEntity]) -> Iterator[EntityRow]:
    """Rows one at a time for the exports (the queryset read in chunks), each entity
    released once the row after it is asked for: its row has been written by then."""
    for entity in entities:
        yield EntityRow(entity, contacts(entity))
        release(entity)
