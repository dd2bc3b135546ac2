from django.urls import path

from . import tracking_views, views

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
    path("<uuid:public_id>/dossiers/etat/", views.dossier_status, name="dossier-status"),
    path("<uuid:public_id>/dossiers/relancer/", views.dossier_relaunch, name="dossier-relaunch"),
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
    # Tracking to payment (applications/tracking_views.py).
    path("<uuid:public_id>/objectifs/", tracking_views.objectives, name="objectives"),
    path(
        "<uuid:public_id>/objectifs/declarer/",
        tracking_views.objectives_declare,
        name="objectives-declare",
    ),
    path(
        "<uuid:public_id>/objectifs/verification/",
        tracking_views.objectives_check,
        name="objectives-check",
    ),
    path(
        "<uuid:public_id>/objectifs/<int:requirement_id>/",
        tracking_views.objective_save,
        name="objective-save",
    ),
    path(
        "<uuid:public_id>/objectifs/pieces/<uuid:evidence_id>/supprimer/",
        tracking_views.objective_evidence_delete,
        name="objective-evidence-delete",
    ),
]
