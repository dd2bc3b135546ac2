"""The stored record of an import batch, as an abstract model: an app's concrete
batch model (e.g. audits.AuditImport) adds its file, its kind and who sent it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from care_portal.models import TimeStampedModel

from .report import ImportReport


class ImportBatchBase(TimeStampedModel):
    """Status, progress, counts and line errors of one imported file."""

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        RUNNING = "running", _("En cours")
        SUCCEEDED = "succeeded", _("Terminé")
        FAILED = "failed", _("En erreur")

    status = models.CharField(
        _("état"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    rows_total = models.PositiveIntegerField(_("lignes à traiter"), null=True, blank=True)
    rows_processed = models.PositiveIntegerField(_("lignes traitées"), default=0)
    created_count = models.PositiveIntegerField(_("créés"), default=0)
    updated_count = models.PositiveIntegerField(_("mis à jour"), default=0)
    unchanged_count = models.PositiveIntegerField(_("inchangés"), default=0)
    error_count = models.PositiveIntegerField(_("erreurs"), default=0)
    errors = models.JSONField(_("erreurs par ligne"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    started_at = models.DateTimeField(_("début"), null=True, blank=True)
    finished_at = models.DateTimeField(_("fin"), null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.rows_total:
            return 0
        return min(100, round(100 * self.rows_processed / self.rows_total))

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    def store_report(self, report: ImportReport) -> None:
        """Save the outcome: succeeded with its counts, or failed with its errors (a
        failed file wrote nothing: its counts are zero)."""
        self.status = self.Status.SUCCEEDED if report.ok else self.Status.FAILED
        self.rows_processed = report.rows
        # The exact count replaces the progress bar's estimate (lines counted, blank
        # ones included) once the whole file was read, or when there was no estimate.
        if report.file_error and report.rows_total is not None:
            self.rows_total = report.rows_total
        else:
            self.rows_total = report.rows
        self.created_count = report.created if report.ok else 0
        self.updated_count = report.updated if report.ok else 0
        self.unchanged_count = report.unchanged if report.ok else 0
        self.error_count = report.error_count
        self.errors = [error.as_dict() for error in report.errors]
        if report.file_error:
            self.message = report.file_error
        elif report.error_count:
            self.message = ngettext(
                "%(count)d ligne en erreur : rien n'a été importé. Corrigez le fichier et "
                "importez-le de nouveau.",
                "%(count)d lignes en erreur : rien n'a été importé. Corrigez le fichier et "
                "importez-le de nouveau.",
                report.error_count,
            ) % {"count": report.error_count}
        else:
            self.message = ""
        self.finished_at = timezone.now()
        skip = {"started_at", "created_at"}
        self.save(
            update_fields=[f.name for f in ImportBatchBase._meta.fields if f.name not in skip]
        )
