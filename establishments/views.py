from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from accounts.typing import AuthenticatedRequest

from . import directory, selectors
from .forms import DirectoryFilterForm

PAGE_SIZE = 50


@login_required
def legal_entity_list(request: AuthenticatedRequest) -> HttpResponse:
    form = DirectoryFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound:
        # An invalid field shows its error and is left out; the valid ones still apply
        # (cleaned_data keeps them whatever is_valid() says).
        form.is_valid()
        filters = form.cleaned_data
    entities = selectors.directory_entities(user=request.user, filters=filters)
    page = Paginator(entities, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = directory.annotate(selectors.with_site_counts(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "establishments/legal_entity_list.html",
        {
            "form": form,
            "page_obj": page,
            "query_string": query.urlencode(),
            "columns": directory.columns(),
        },
    )


@login_required
def legal_entity_detail(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    entity = selectors.get_legal_entity_for(request.user, public_id)
    context = {
        "entity": entity,
        "sections": directory.sections(request, entity),
        "sites": selectors.legal_entity_sites(legal_entity=entity),
        "ght_members": (
            selectors.ght_members(ght=entity.ght, user=request.user) if entity.ght else None
        ),
    }
    return render(request, "establishments/legal_entity_detail.html", context)
