from django.urls import include, path

from . import tracking_views, views

app_name = "applications"

# The pages of one application, under its public id.
application_patterns = [
    path("", views.application_detail, name="application-detail"),
    path("identite/", views.application_identity, name="application-identity"),
    path("reponses/", views.application_answers, name="application-answers"),
    path("budget/", views.application_budget, name="application-budget"),
    path("depot/", views.application_submit, name="application-submit"),
    path("retirer/", views.application_withdraw, name="application-withdraw"),
    path("messages/", views.message_create, name="message-create"),
    path("pieces/ajouter/", views.evidence_upload, name="evidence-upload"),
    path("pieces/<uuid:evidence_id>/", views.evidence_download, name="evidence-download"),
    path("pieces/<uuid:evidence_id>/supprimer/", views.evidence_delete, name="evidence-delete"),
    path("dossiers/etat/", views.dossier_status, name="dossier-status"),
    path("dossiers/relancer/", views.dossier_relaunch, name="dossier-relaunch"),
    path("dossiers/<uuid:dossier_id>/", views.dossier_download, name="dossier-download"),
    path("dossiers/<uuid:dossier_id>/relancer/", views.dossier_retry, name="dossier-retry"),
    # Tracking to payment (applications/tracking_views.py).
    path("objectifs/", tracking_views.objectives, name="objectives"),
    path("objectifs/declarer/", tracking_views.objectives_declare, name="objectives-declare"),
    path("objectifs/verification/", tracking_views.objectives_check, name="objectives-check"),
    path("objectifs/<int:requirement_id>/", tracking_views.objective_save, name="objective-save"),
    path(
        "objectifs/pieces/<uuid:evidence_id>/supprimer/",
        tracking_views.objective_evidence_delete,
        name="objective-evidence-delete",
    ),
]

urlpatterns = [
    path("", views.application_list, name="application-list"),
    path("commencer/", views.application_start, name="application-start"),
    path("<uuid:public_id>/", include(application_patterns)),
]
