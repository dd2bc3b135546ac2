"""The home page: what each user follows, from the top layer that sees every app."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from applications import worklist
from establishments.models import LegalEntity


def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {}
    if request.user.is_authenticated:
        scope = request.user.scope
        context["own_entities"] = (
            LegalEntity.objects.filter(id__in=scope.legal_entity_ids)
            .select_related("department__region", "ght")
            .order_by("name")
        )
        context["regions"] = (
            request.user.memberships.filter(region__isnull=False)
            .select_related("region")
            .values_list("region__name", flat=True)
        )
        context["is_national"] = scope.national
        if scope.region_ids:
            context["to_instruct"] = worklist.tab_counts(request.user, worklist.Filters())[
                worklist.Tab.TO_INSTRUCT.value
            ]
    return render(request, "home.html", context)
