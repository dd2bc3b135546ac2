"""The API's endpoints: read-only, each scoped exactly as the portal's pages (the same
`visible_to` querysets, through the same selectors), a fixed number of queries per
page, every request by a token recorded in the audit trail."""

from collections import defaultdict
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import audit
from applications.models import Application, Coverage
from applications.selectors import applications_for_list
from establishments.models import LegalEntity, StatisticsGroup, StatusGroup
from establishments.selectors import directory_entities
from monitoring import selectors

from .serializers import (
    PARAMETER_ERRORS_SCHEMA,
    ApplicationFilters,
    ApplicationSerializer,
    ErrorSerializer,
    LegalEntityFilters,
    LegalEntitySerializer,
    ParticipationParameters,
    ParticipationSerializer,
)

PAGINATION_PARAMETERS = ("page", "page_size")

ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description=_("Pas de jeton, ou un jeton inutilisable.")),
    429: OpenApiResponse(ErrorSerializer, description=_("Trop de requêtes pour ce jeton.")),
}
LIST_ERRORS = {
    **ERRORS,
    400: OpenApiResponse(PARAMETER_ERRORS_SCHEMA, description=_("Un paramètre est invalide.")),
    404: OpenApiResponse(ErrorSerializer, description=_("Page inexistante.")),
}
DETAIL_ERRORS = {
    **ERRORS,
    404: OpenApiResponse(
        ErrorSerializer, description=_("Introuvable, ou hors de votre périmètre.")
    ),
}


def validated_parameters(
    request: Request, serializer_class: Any, also: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The query parameters, validated by `serializer_class` (a 400 naming the wrong
    ones); `also`: parameters read elsewhere (pagination)."""
    params = request.query_params
    serializer = serializer_class(data=params.dict())
    # A misspelt parameter would silently be ignored: name it instead.
    known = {*serializer.fields, *also}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValidationError(
            {
                name: [
                    _("Paramètre inconnu. Attendus : %(known)s.")
                    % {"known": ", ".join(sorted(known))}
                ]
                for name in unknown
            }
        )
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class AuditedMixin:
    """Each request by a token written to the audit trail, once authenticated,
    permitted and not throttled."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        audit.record(
            audit.Action.API_READ,
            request=request._request,
            actor=request.user,
            path=request.path,
            query=request.GET.urlencode()[:500],
            token=getattr(request.auth, "prefix", ""),
        )


class AuditedReadOnlyViewSet(AuditedMixin, viewsets.ReadOnlyModelViewSet):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[^/]+"

    def query_filters(self, serializer_class: Any) -> dict[str, Any]:
        """The query parameters of a list, validated (a 400 naming the wrong ones)."""
        if self.action != "list":
            return {}
        return validated_parameters(self.request, serializer_class, PAGINATION_PARAMETERS)


def _read_only_schema(
    *,
    summary: Any,
    description: Any,
    filters: Any,
    serializer: Any,
    detail_summary: Any,
) -> Any:
    """The OpenAPI description of an AuditedReadOnlyViewSet: its list (filters, page
    of `serializer`) and its detail."""
    return extend_schema_view(
        list=extend_schema(
            summary=summary,
            description=description,
            parameters=[filters],
            responses={200: serializer(many=True), **LIST_ERRORS},
        ),
        retrieve=extend_schema(
            summary=detail_summary, responses={200: serializer, **DETAIL_ERRORS}
        ),
    )


def _statistics_group(qs: QuerySet[LegalEntity], group: str) -> QuerySet[LegalEntity]:
    if group == StatisticsGroup.GHT:
        return qs.filter(status_group=StatusGroup.PUBLIC, ght__isnull=False)
    if group == StatisticsGroup.PUBLIC_OUTSIDE_GHT:
        return qs.filter(status_group=StatusGroup.PUBLIC, ght__isnull=True)
    return qs.filter(status_group=group)


@_read_only_schema(
    summary=_("Les entités juridiques que vous pouvez voir, avec leur statut Volet 1 et Volet 2"),
    description=_(
        "Comme l'annuaire du portail : le ministère voit toutes les entités, une ARS "
        "celles de sa région, un établissement la sienne (et les membres de son GHT "
        "pour un établissement support)."
    ),
    filters=LegalEntityFilters,
    serializer=LegalEntitySerializer,
    detail_summary=_("Une entité juridique"),
)
class LegalEntityViewSet(AuditedReadOnlyViewSet):
    """The directory's entities (`LegalEntity.objects.visible_to`): the ministry all,
    an ARS its region, an establishment its own (and its GHT's members for a support
    establishment)."""

    serializer_class = LegalEntitySerializer
    queryset = LegalEntity.objects.none()  # the schema's model; get_queryset scopes

    def get_queryset(self) -> QuerySet[LegalEntity]:
        filters = self.query_filters(LegalEntityFilters)
        # The directory's own list (scope, joins, order, the Volet 1 column's filter).
        qs = directory_entities(
            user=self.request.user,
            filters={"volet1": filters.get("volet1")},
        )
        if region := filters.get("region"):
            qs = qs.filter(department__region__code=region)
        if department := filters.get("department"):
            qs = qs.filter(department__code=department)
        if group := filters.get("statistics_group"):
            qs = _statistics_group(qs, group)
        call = filters.get("call")
        # "Applied" and "eligible" as the dashboards count them (monitoring.selectors):
        # `applied=true&eligible=true&call=…` lists the entities behind their figure.
        applied = filters.get("applied")
        if applied is not None:
            condition = selectors.applied_entities(call)
            qs = qs.filter(condition) if applied else qs.exclude(condition)
        eligible = filters.get("eligible")
        if eligible is not None and call is not None:  # the filters require the call
            ids = selectors.eligible_entities(call).values("pk")
            qs = qs.filter(pk__in=ids) if eligible else qs.exclude(pk__in=ids)
        return qs

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        instance: Any = args[0] if args else None
        entities = list(instance) if kwargs.get("many") else [instance] if instance else []
        context = self.get_serializer_context()
        context["volet2"] = self._volet2([e.pk for e in entities]) if entities else {}
        return self.get_serializer_class()(*args, context=context, **kwargs)

    def _volet2(self, entity_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The applications the user may see that cover (or are filed by) these
        entities, by entity: two queries for a page."""
        visible = Application.objects.visible_to(self.request.user)
        fields = ("public_id", "reference", "status", "call__code", "candidate_id")
        rows: list[tuple[int, tuple[Any, ...]]] = [
            (entity_id, rest)
            for entity_id, *rest in Coverage.objects.filter(
                legal_entity_id__in=entity_ids, application__in=visible
            )
            .order_by("application__call__code", "application_id")
            .values_list("legal_entity_id", *(f"application__{f}" for f in fields))
        ]
        rows += [
            (row[4], row)
            for row in visible.filter(candidate_id__in=entity_ids)
            .order_by("call__code", "id")
            .values_list(*fields)
        ]
        by_entity: dict[int, dict[Any, dict[str, Any]]] = defaultdict(dict)
        for entity_id, (public_id, reference, status, call, candidate_id) in rows:
            by_entity[entity_id][public_id] = {
                "call": call,
                "application": public_id,
                "reference": reference,
                "status": status,
                "candidate": candidate_id == entity_id,
            }
        return {
            entity_id: sorted(entries.values(), key=lambda e: (e["call"], e["reference"]))
            for entity_id, entries in by_entity.items()
        }


@_read_only_schema(
    summary=_("Les candidatures que vous pouvez voir"),
    description=_(
        "Comme la page « Mes candidatures » : un établissement voit les siennes "
        "(brouillons compris) et celles qui le couvrent, une ARS les candidatures "
        "déposées de sa région, le ministère toutes les candidatures déposées."
    ),
    filters=ApplicationFilters,
    serializer=ApplicationSerializer,
    detail_summary=_("Une candidature"),
)
class ApplicationViewSet(AuditedReadOnlyViewSet):
    """`Application.objects.visible_to`, as "Mes candidatures" lists them: an
    establishment its own (drafts included) and those covering it, an ARS the
    submitted ones of its region, the ministry every submitted one."""

    serializer_class = ApplicationSerializer
    queryset = Application.objects.none()

    def get_queryset(self) -> QuerySet[Application]:
        filters = self.query_filters(ApplicationFilters)
        qs = (
            applications_for_list(self.request.user)
            .select_related("candidate__department__region", "eligibility")
            .prefetch_related("coverages__legal_entity")
        )
        if call := filters.get("call"):
            qs = qs.filter(call=call)
        if status := filters.get("status"):
            qs = qs.filter(status=status)
        if region := filters.get("region"):
            qs = qs.filter(candidate__department__region__code=region)
        if department := filters.get("department"):
            qs = qs.filter(candidate__department__code=department)
        return qs


class MonitorsParticipation(BasePermission):
    """The participation figures are for those who have a dashboard: the ministry (the
    nation) and the ARS agents (their regions); establishment tokens are refused."""

    message = _("Les chiffres de participation sont réservés aux agents des ARS et du ministère.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return selectors.visibility(request.user).any


@extend_schema(
    summary=_("Les chiffres de participation d'un lieu pour un appel"),
    description=_(
        "Les chiffres des tableaux de bord de suivi (mêmes définitions, mêmes calculs) "
        "pour la France entière, une région ou un département, avec leur répartition "
        "par groupe statistique et par département. Le ministère voit tous les lieux, "
        "une ARS sa région et ses départements (un autre lieu : 404) ; un jeton "
        "d'établissement est refusé (403). Un taux dont le dénominateur est nul vaut "
        "null."
    ),
    parameters=[ParticipationParameters],
    responses={
        200: ParticipationSerializer,
        400: OpenApiResponse(PARAMETER_ERRORS_SCHEMA, description=_("Un paramètre est invalide.")),
        403: OpenApiResponse(
            ErrorSerializer, description=_("Réservé aux agents des ARS et du ministère.")
        ),
        404: OpenApiResponse(ErrorSerializer, description=_("Lieu hors de votre périmètre.")),
        **ERRORS,
    },
)
class ParticipationView(AuditedMixin, APIView):
    """`monitoring.selectors.place_figures` for the place `place_for` resolves (404
    outside the token's scope): four queries for the figures, whatever the data."""

    permission_classes = [IsAuthenticated, MonitorsParticipation]

    def get(self, request: Request) -> Response:
        params = validated_parameters(request, ParticipationParameters)
        where = selectors.territory()
        place = selectors.place_for(
            request.user, scope=params["scope"], code=params.get("code"), where=where
        )
        figures = selectors.place_figures(place=place, call=params["call"], where=where)
        return Response(ParticipationSerializer(figures).data)
