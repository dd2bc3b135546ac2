import csv
import json
from collections.abc import Iterator

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext_lazy as _

from care_portal.admin_display import ReadOnlyAdmin
from care_portal.admin_widgets import SafeAutocompleteMixin
from care_portal.history import FieldHistoryAdmin

from .audit import Action, record
from .models import AuditEvent, Membership, User


class MembershipInline(SafeAutocompleteMixin, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["legal_entity"]
    fields = ["role", "legal_entity", "region"]


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    inlines = [MembershipInline]
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "memberships__role"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["public_id", "last_login", "date_joined"]
    fieldsets = (
        (None, {"fields": ("email", "password", "public_id")}),
        (_("Identité"), {"fields": ("full_name",)}),
        (
            _("Droits"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )


@admin.register(Membership)
class MembershipAdmin(SafeAutocompleteMixin, FieldHistoryAdmin):
    list_display = ["user", "role", "legal_entity", "region", "created_at"]
    list_filter = ["role", "region"]
    search_fields = ["user__email", "legal_entity__name", "legal_entity__finess"]
    list_select_related = ["user", "legal_entity", "region"]
    autocomplete_fields = ["user", "legal_entity"]


def spreadsheet_safe(value: object) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ (or a tab or
    carriage return) is prefixed with an apostrophe (CSV formula injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read only: the trail is append-only (and the database refuses changes)."""

    list_display = ["created_at", "action", "actor_email", "ip_address", "object_type", "object_id"]
    list_filter = ["action", "object_type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["actor_email", "object_id", "ip_address"]
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False
    actions = ["export_csv"]

    @admin.action(description=_("Exporter la sélection (CSV)"))
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent]
    ) -> StreamingHttpResponse:
        header = ["date", "action", "auteur", "adresse IP", "type d'objet", "objet", "détails"]
        writer = csv.writer(_Echo(), delimiter=";")

        def rows() -> Iterator[str]:
            yield "\ufeff" + writer.writerow(header)
            for event in queryset.order_by("created_at", "id").iterator(chunk_size=2000):
                yield writer.writerow(
                    spreadsheet_safe(value)
                    for value in (
                        event.created_at.isoformat(),
                        event.action,
                        event.actor_email,
                        event.ip_address,
                        event.object_type,
                        event.object_id,
                        json.dumps(event.details, ensure_ascii=False, sort_keys=True),
                    )
                )

        record(Action.EXPORT, request=request, export="audit_trail", rows=queryset.count())
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="journal-audit.csv"'
        return response


class _ReadOnlyRecords:
    """Login records are written by django-axes only: shown, never edited; a superuser
    deletes an attempt to unlock an account (or `manage.py axes_reset_username`)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AccessAttempt)
class ReadOnlyAccessAttemptAdmin(_ReadOnlyRecords, AccessAttemptAdmin):
    pass


@admin.register(AccessLog)
class ReadOnlyAccessLogAdmin(_ReadOnlyRecords, AccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class ReadOnlyAccessFailureLogAdmin(_ReadOnlyRecords, AccessFailureLogAdmin):
    pass
