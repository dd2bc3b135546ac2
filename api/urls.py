from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from . import views

app_name = "api"

router = SimpleRouter()
router.register("legal-entities", views.LegalEntityViewSet, basename="legal-entity")
router.register("applications", views.ApplicationViewSet, basename="application")

# The schema and its documentation are public (they describe, they show no data).
public: dict = {"authentication_classes": [], "permission_classes": [AllowAny]}

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(**public), name="schema"),
    path(
        "docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema", **public), name="docs"
    ),
    path("participation/", views.ParticipationView.as_view(), name="participation"),
    *router.urls,
]
