"""Admin of the directory, with the CSV import page (ministry and superusers)."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from care_portal.admin_display import FrenchNumbersAdmin
from care_portal.admin_widgets import SafeAutocompleteMixin
from care_portal.errors import ImportFileError

from . import services
from .importers import COLUMNS
from .models import GHT, Department, LegalEntity, Region, Site

IMPORT_PERMISSION = "establishments.add_legalentity"


@admin.register(Region)
class RegionAdmin(FrenchNumbersAdmin):
    """The 18 regions come from a data migration: shown, not added nor deleted."""

    list_display = ["code", "name", "ars_name"]
    search_fields = ["code", "name"]
    readonly_fields = ["code"]
    ordering = ["code"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Department)
class DepartmentAdmin(FrenchNumbersAdmin):
    list_display = ["code", "name", "region", "chef_lieu"]
    list_filter = ["region"]
    list_select_related = ["region"]
    search_fields = ["code", "name"]
    readonly_fields = ["code"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GHT)
class GHTAdmin(FrenchNumbersAdmin):
    list_display = ["code", "name", "region", "member_count"]
    list_filter = ["region"]
    list_select_related = ["region"]
    search_fields = ["code", "name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[GHT]:
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description=_("membres"), ordering="member_count")
    def member_count(self, obj: GHT) -> int:
        return obj.member_count  # type: ignore[attr-defined]


class SiteInline(SafeAutocompleteMixin, admin.TabularInline):
    model = Site
    fields = ["finess", "name", "category", "department", "beds", "siret"]
    autocomplete_fields = ["department"]
    extra = 0
    show_change_link = True


class EstablishmentImportForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier de l'annuaire"),
        help_text=_(
            "CSV du portail (format ci-dessous), extraction FINESS (ET ou EJ) ou JSON des "
            "structures FINESS+ : le format est reconnu d'après le contenu."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.json,text/csv"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt", ".json")):
            raise forms.ValidationError(
                _("Choisissez un fichier CSV, TXT ou JSON (extension .csv, .txt ou .json).")
            )
        if upload.size > settings.IMPORT_MAX_FILE_SIZE:
            raise forms.ValidationError(
                _("Le fichier dépasse la taille maximale autorisée (%(max)d Mo).")
                % {"max": settings.IMPORT_MAX_FILE_SIZE // (1024 * 1024)}
            )
        return upload


@admin.register(LegalEntity)
class LegalEntityAdmin(SafeAutocompleteMixin, FrenchNumbersAdmin):
    list_display = [
        "name",
        "finess",
        "status_group",
        "department",
        "ght",
        "is_ght_support",
        "staff_count",
        "active",
    ]
    list_filter = ["status_group", "department__region", "active", "is_ght_support"]
    list_select_related = ["department", "ght"]
    search_fields = ["name", "finess", "siren"]
    autocomplete_fields = ["department", "ght"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    inlines = [SiteInline]
    change_list_template = "admin/establishments/legalentity/change_list.html"
    import_template = "admin/establishments/legalentity/import.html"

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            *super().get_urls(),
        ]

    def has_import_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(IMPORT_PERMISSION))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "has_import_permission": self.has_import_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a directory CSV; the report (counts, bad lines) shows on this page."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        report = None
        if request.method == "POST":
            form = EstablishmentImportForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    report = services.establishments_import(file=upload, filename=upload.name)
                except ImportFileError as exc:
                    form.add_error("file", exc.message)
        else:
            form = EstablishmentImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Importer l'annuaire des établissements"),
            "form": form,
            "report": report,
            "columns": COLUMNS,
            "max_size_mb": settings.IMPORT_MAX_FILE_SIZE // (1024 * 1024),
        }
        return TemplateResponse(request, self.import_template, context)


@admin.register(Site)
class SiteAdmin(SafeAutocompleteMixin, FrenchNumbersAdmin):
    list_display = ["name", "finess", "category", "department", "legal_entity", "beds"]
    list_filter = ["department__region", "category", "coord_system"]
    list_select_related = ["department", "legal_entity"]
    search_fields = ["name", "finess", "siret"]
    autocomplete_fields = ["legal_entity", "department"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
