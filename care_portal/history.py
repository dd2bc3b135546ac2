"""Field history in the admin (django-simple-history): who changed which field, when.

`FieldHistoryAdmin` replaces a model admin's "Historique" page by the list of its
historical rows, each with its author and the fields it changed (old → new). It keeps
the admin's scoping: an object the user may not open in the admin (a draft, for the
ministry) sends the history page back to the index as the change page does. It adds no
URL: the package's page of one past version, which could also save that version back
over the current one, is not exposed (settings.SIMPLE_HISTORY_REVERT_DISABLED too).
"""

from typing import Any

from django.contrib.admin.utils import unquote
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from simple_history.admin import SimpleHistoryAdmin

from .admin_display import FrenchNumbersAdmin


class FieldHistoryAdmin(SimpleHistoryAdmin, FrenchNumbersAdmin):
    object_history_template = "admin/field_history.html"
    object_history_list_template = "admin/field_history_list.html"
    history_list_per_page = 50

    def get_urls(self) -> list[URLPattern]:
        return [
            url
            for url in super().get_urls()
            if not (isinstance(url, URLPattern) and (url.name or "").endswith("_simple_history"))
        ]

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        context = {**self.history_extra_context(request, obj), **(extra_context or {})}
        response: HttpResponse = super().history_view(request, object_id, context)
        return response

    def history_extra_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """More for the history page of `obj` (ApplicationAdmin: its files' history)."""
        return {}
