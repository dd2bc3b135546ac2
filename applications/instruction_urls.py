from django.urls import include, path

from . import instruction_views as views

app_name = "instruction"

# The instruction acts on one application, under its public id.
application_patterns = [
    path("", views.detail, name="detail"),
    path("prendre/", views.take, name="take"),
    path("attribuer/", views.reassign, name="reassign"),
    path("notes/", views.note, name="note"),
    path("avis/", views.opinion, name="opinion"),
    path("renvoi/", views.return_request, name="return"),
    path("deport/", views.recuse, name="recuse"),
    path("messages/", views.message, name="message"),
]

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<uuid:public_id>/", include(application_patterns)),
]
