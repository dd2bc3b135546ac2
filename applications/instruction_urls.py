from django.urls import path

from . import instruction_views as views

app_name = "instruction"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/prendre/", views.take, name="take"),
    path("<uuid:public_id>/attribuer/", views.reassign, name="reassign"),
    path("<uuid:public_id>/notes/", views.note, name="note"),
    path("<uuid:public_id>/avis/", views.opinion, name="opinion"),
    path("<uuid:public_id>/renvoi/", views.return_request, name="return"),
    path("<uuid:public_id>/deport/", views.recuse, name="recuse"),
    path("<uuid:public_id>/messages/", views.message, name="message"),
]
