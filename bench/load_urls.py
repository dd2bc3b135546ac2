"""The load benchmark's URLconf: the portal's, plus `/__bench__/baseline/<page path>`,
the bare view rendering a page's template with its rows fetched once in advance."""

from django.urls import path

from care_portal.urls import handler404, handler500
from care_portal.urls import urlpatterns as portal_urlpatterns

from . import load_views

urlpatterns = [
    path("__bench__/baseline/<path:page>", load_views.baseline, name="bench-baseline"),
    *portal_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
