from django.urls import include, path

from . import views

# The dashboards, lists, exports and reports, under /suivi/ (namespace "monitoring").
dashboard_patterns = [
    path("", views.national, name="national"),
    path("regions/<str:code>/", views.region, name="region"),
    path("regions/<str:code>/rapport.pdf", views.region_report, name="region-report"),
    path("departements/<str:code>/", views.department, name="department"),
    path("entites/", views.entities, name="entities"),
    path("export/<slug:table>.<slug:fmt>", views.export, name="export"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("suivi/", include((dashboard_patterns, "monitoring"))),
]
