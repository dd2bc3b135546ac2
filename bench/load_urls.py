"""The load benchmark's URLconf: the portal's, plus its two baselines for a page
(bench/load_views.py): `/__bench__/baseline/<page path>`, the bare view fetching the
page's rows with the page's own SELECT statements and rendering its template, and
`/__bench__/render/<page path>`, the template rendered with rows kept in memory."""

from django.urls import path

from care_portal.urls import handler404, handler500
from care_portal.urls import urlpatterns as portal_urlpatterns

from . import load_views

urlpatterns = [
    path("__bench__/baseline/<path:page>", load_views.baseline, name="bench-baseline"),
    path("__bench__/render/<path:page>", load_views.render_only, name="bench-render"),
    *portal_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
