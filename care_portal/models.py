"""Abstract bases shared by every model of the portal."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        abstract = True


class PublicModel(TimeStampedModel):
    """A model shown in URLs: by its UUID, never by its database id."""

    public_id = models.UUIDField(
        _("identifiant public"), default=uuid.uuid4, unique=True, editable=False
    )

    class Meta:
        abstract = True


class OutgoingEmail(models.Model):
    """An e-mail to send, written in the transaction that decides to send it (the
    outbox): a broker outage at the commit only delays it, the sweeper queues it again
    (care_portal/mail.py). Its body, which may hold a password-reset link, is cleared
    once sent; sent rows are deleted after `SENT_KEPT_DAYS`."""

    subject = models.TextField(_("objet"))
    body = models.TextField(_("texte"), blank=True)
    to = models.JSONField(_("destinataires"), default=list)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentatives échouées"), default=0)
    last_error = models.TextField(_("dernière erreur"), blank=True)

    class Meta:
        verbose_name = _("e-mail sortant")
        verbose_name_plural = _("e-mails sortants")
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(sent_at__isnull=True),
                name="outgoing_email_unsent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%d/%m/%Y %H:%M} – {self.subject[:60]}"
