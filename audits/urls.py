from django.urls import path

from . import views

app_name = "audits"

urlpatterns = [
    path("<uuid:public_id>/", views.volet1_detail, name="volet1-detail"),
]
