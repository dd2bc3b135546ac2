"""Admin of Volet 1 results, and the upload and follow-up pages of audit imports."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from care_portal.admin_display import FrenchNumbersAdmin, ReadOnlyAdmin
from care_portal.admin_widgets import SafeAutocompleteMixin, SafeAutocompleteSelect
from care_portal.errors import ImportFileError
from establishments.models import LegalEntity

from .importers import AD_COLUMNS, EXPOSURE_COLUMNS, batch_progress
from .models import (
    AuditImport,
    AuditKind,
    DirectoryAudit,
    DirectoryAuditRule,
    ExposureScan,
    Volet1Status,
)
from .services import audit_import_create, volet1_status_refresh

UPLOAD_EXTENSIONS = (".csv", ".json", ".xml", ".zip")


def _max_size_mb() -> str:
    return f"{settings.AUDIT_IMPORT_MAX_FILE_SIZE / (1024 * 1024):g}"


class Volet1ResultAdmin(SafeAutocompleteMixin, FrenchNumbersAdmin):
    """Audits and scans entered or corrected by hand keep the entity's stored
    Volet 1 status current, like imports do."""

    autocomplete_fields = ["legal_entity"]
    list_select_related = ["legal_entity"]
    readonly_fields = ["import_batch", "created_at", "updated_at"]

    @admin.display(description=_("FINESS EJ"), ordering="legal_entity__finess")
    def finess(self, obj: Any) -> str:
        return str(obj.legal_entity.finess)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            entity_ids = {obj.legal_entity_id}
            if change:
                # A correction may move the result to another entity: refresh both.
                entity_ids.update(
                    type(obj).objects.filter(pk=obj.pk).values_list("legal_entity_id", flat=True)
                )
            super().save_model(request, obj, form, change)
            volet1_status_refresh(legal_entity_ids=entity_ids)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            entity_id = obj.legal_entity_id
            super().delete_model(request, obj)
            volet1_status_refresh(legal_entity_ids=[entity_id])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            entity_ids = set(queryset.values_list("legal_entity_id", flat=True))
            super().delete_queryset(request, queryset)
            volet1_status_refresh(legal_entity_ids=entity_ids)


class DirectoryAuditRuleInline(admin.TabularInline):
    """The rules a PingCastle report triggered: read only, as imported."""

    model = DirectoryAuditRule
    extra = 0
    can_delete = False
    fields = ("risk_id", "category", "model", "points", "maturity_level", "rationale")
    readonly_fields = ("risk_id", "category", "model", "points", "maturity_level", "rationale")
    ordering = ["maturity_level", "-points", "risk_id"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(DirectoryAudit)
class DirectoryAuditAdmin(Volet1ResultAdmin):
    readonly_fields = [*Volet1ResultAdmin.readonly_fields, "engine_version", "maturity_from_rules"]

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        # An audit entered by hand has no rules: the inline is only for imported ones.
        return [DirectoryAuditRuleInline] if obj is not None and obj.rules.exists() else []

    list_display = [
        "legal_entity",
        "finess",
        "domain",
        "tool",
        "audit_date",
        "global_score",
        "maturity_level",
        "findings_critical",
        "findings_high",
    ]
    list_filter = ["legal_entity__department__region", "tool", "maturity_level"]
    search_fields = ["legal_entity__name", "legal_entity__finess", "domain"]
    date_hierarchy = "audit_date"


@admin.register(ExposureScan)
class ExposureScanAdmin(Volet1ResultAdmin):
    list_display = [
        "legal_entity",
        "finess",
        "scan_date",
        "exposed_services",
        "vulns_critical",
        "vulns_high",
        "minimum_level_met",
    ]
    list_filter = ["legal_entity__department__region", "minimum_level_met"]
    search_fields = ["legal_entity__name", "legal_entity__finess"]
    date_hierarchy = "scan_date"


class AuditImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Type de résultats"),
        choices=AuditKind.choices,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label=_("Fichier"),
        help_text=_(
            "CSV (UTF-8, séparateur « ; » ou « , ») ou JSON pour les deux types ; rapport "
            "PingCastle XML, ou zip de rapports, pour les audits Active Directory."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(UPLOAD_EXTENSIONS)}),
    )
    legal_entity = forms.ModelChoiceField(
        label=_("Entité juridique auditée"),
        queryset=LegalEntity.objects.all(),
        required=False,
        help_text=_(
            "Seulement pour un rapport PingCastle (XML ou zip), qui ne nomme pas "
            "l'établissement ; un fichier CSV ou JSON donne le FINESS de chaque ligne."
        ),
    )

    def __init__(self, *args: Any, admin_site: admin.AdminSite, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["legal_entity"]
        field.widget = SafeAutocompleteSelect(
            AuditImport._meta.get_field("legal_entity"), admin_site
        )
        field.widget.choices = field.choices  # type: ignore[attr-defined]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(UPLOAD_EXTENSIONS):
            raise forms.ValidationError(
                _("Choisissez un fichier .csv, .json, .xml (rapport PingCastle) ou .zip.")
            )
        if upload.size > settings.AUDIT_IMPORT_MAX_FILE_SIZE:
            raise forms.ValidationError(
                _("Le fichier dépasse la taille maximale autorisée (%(max)s Mo).")
                % {"max": _max_size_mb()}
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload, kind = data.get("file"), data.get("kind")
        if upload is None or kind is None:
            return data
        pingcastle = upload.name.lower().endswith((".xml", ".zip"))
        if pingcastle and kind != AuditKind.DIRECTORY:
            self.add_error(
                "kind",
                _("Un rapport PingCastle est un audit Active Directory : choisissez ce type."),
            )
        elif pingcastle and data.get("legal_entity") is None:
            self.add_error(
                "legal_entity",
                _("Choisissez l'entité juridique auditée : un rapport PingCastle ne la nomme pas."),
            )
        elif not pingcastle and data.get("legal_entity") is not None:
            self.add_error(
                "legal_entity",
                _(
                    "Laissez ce champ vide : un fichier CSV ou JSON donne le FINESS de chaque "
                    "ligne."
                ),
            )
        return data


@admin.register(AuditImport)
class AuditImportAdmin(FrenchNumbersAdmin):
    """A batch is created by the upload page (the "add" page) and then only read: its
    page follows the processing and lists the errors."""

    list_display = [
        "original_filename",
        "kind",
        "file_format",
        "status",
        "created_count",
        "updated_count",
        "unchanged_count",
        "error_count",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "kind", "file_format"]
    list_select_related = ["created_by"]
    search_fields = ["original_filename"]
    date_hierarchy = "created_at"
    upload_template = "admin/audits/auditimport/upload.html"
    detail_template = "admin/audits/auditimport/detail.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditImport]:
        # The batch page shows who sent the file and for which entity.
        return super().get_queryset(request).select_related("created_by", "legal_entity")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a batch is a record of what happened

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = AuditImportUploadForm(request.POST, request.FILES, admin_site=self.admin_site)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    batch = audit_import_create(
                        kind=form.cleaned_data["kind"],
                        uploaded_file=upload,
                        filename=upload.name,
                        legal_entity=form.cleaned_data["legal_entity"],
                        by=request.user,  # type: ignore[arg-type]
                    )
                except ImportFileError as exc:
                    form.add_error("file", exc.message)
                else:
                    self.message_user(
                        request,
                        gettext("Fichier « %(file)s » reçu : son import est lancé.")
                        % {"file": batch.original_filename},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:audits_auditimport_change", args=[batch.pk])
                    )
        else:
            form = AuditImportUploadForm(admin_site=self.admin_site)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Importer des résultats d'audits"),
            "form": form,
            "media": self.media + form.media,
            "columns_by_kind": [
                (AuditKind.DIRECTORY.label, AD_COLUMNS),
                (AuditKind.EXPOSURE.label, EXPOSURE_COLUMNS),
            ],
            "max_size_mb": _max_size_mb(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.upload_template, context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # As the admin's own change page does: permission first, then an id that names
        # no batch ("²" is a digit to str.isdigit(), not to int()) goes back to the
        # index with a message.
        batch = self.get_object(request, unquote(object_id))
        if not self.has_view_permission(request, batch):
            raise PermissionDenied
        if request.method == "POST" and not self.has_change_permission(request, batch):
            raise PermissionDenied  # the page is read only: nothing to post to it
        if batch is None:
            # The admin's own redirect (not in the type stubs).
            return self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, self.opts, object_id
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(batch),
            "batch": batch,
            "progress": batch_progress(batch),
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.detail_template, context)


@admin.register(Volet1Status)
class Volet1StatusAdmin(ReadOnlyAdmin):
    """Read only: the status is computed from the audits and scans (audits/status.py)."""

    list_display = [
        "legal_entity",
        "level",
        "ad_audit_date",
        "exposure_first_scan_date",
        "exposure_second_scan_date",
        "last_scan_date",
    ]
    list_filter = ["level", "legal_entity__department__region", "legal_entity__status_group"]
    search_fields = ["legal_entity__name", "legal_entity__finess"]
    list_select_related = ["legal_entity"]
