from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.typing import AuthenticatedRequest
from establishments.selectors import get_legal_entity_for

from . import selectors


@login_required
def volet1_detail(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    """The Volet 1 page of a legal entity: 404 outside the user's scope."""
    entity = get_legal_entity_for(request.user, public_id)
    overview = selectors.volet1_overview(legal_entity=entity, today=timezone.localdate())
    return render(request, "audits/volet1_detail.html", {"entity": entity, "overview": overview})
