from django.urls import path

from . import views

app_name = "applications"

urlpatterns = [
    path("", views.application_list, name="application-list"),
    path("commencer/", views.application_start, name="application-start"),
    path("<uuid:public_id>/", views.application_detail, name="application-detail"),
    path("<uuid:public_id>/identite/", views.application_identity, name="application-identity"),
    path("<uuid:public_id>/reponses/", views.application_answers, name="application-answers"),
    path("<uuid:public_id>/budget/", views.application_budget, name="application-budget"),
    path("<uuid:public_id>/depot/", views.application_submit, name="application-submit"),
    path("<uuid:public_id>/retirer/", views.application_withdraw, name="application-withdraw"),
    path("<uuid:public_id>/messages/", views.message_create, name="message-create"),
    path("<uuid:public_id>/pieces/ajouter/", views.evidence_upload, name="evidence-upload"),
    path(
        "<uuid:public_id>/pieces/<uuid:evidence_id>/",
        views.evidence_download,
        name="evidence-download",
    ),
    path(
        "<uuid:public_id>/pieces/<uuid:evidence_id>/supprimer/",
        views.evidence_delete,
        name="evidence-delete",
    ),
    path(
        "<uuid:public_id>/dossiers/<uuid:dossier_id>/",
        views.dossier_download,
        name="dossier-download",
    ),
    path(
        "<uuid:public_id>/dossiers/<uuid:dossier_id>/relancer/",
        views.dossier_retry,
        name="dossier-retry",
    ),
]
