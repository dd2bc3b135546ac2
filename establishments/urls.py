from django.urls import path

from . import views

app_name = "establishments"

urlpatterns = [
    path("", views.legal_entity_list, name="legalentity-list"),
    path("<uuid:public_id>/", views.legal_entity_detail, name="legalentity-detail"),
]
