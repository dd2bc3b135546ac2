"""Admin of calls (configured by the programme) and of applications (read mostly:
the status only changes through the lifecycle engine, never by editing it here)."""

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import (
    Answer,
    Application,
    BudgetLine,
    CeilingBracket,
    Coverage,
    Dossier,
    EligibilityResult,
    Evidence,
    FundingCall,
    Message,
    Requirement,
    Transition,
)


class RequirementInline(admin.TabularInline):
    model = Requirement
    extra = 0
    fields = ["position", "identifier", "kind", "label", "target", "evidence", "evidence_stage"]


class CeilingBracketInline(admin.TabularInline):
    model = CeilingBracket
    extra = 0
    fields = ["min_staff", "max_staff", "ceiling"]


@admin.register(FundingCall)
class FundingCallAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "domain", "opens_at", "closes_at", "envelope"]
    list_filter = ["domain"]
    search_fields = ["code", "title"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    inlines = [RequirementInline, CeilingBracketInline]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [str(name) for name in self.fields or []]


class CoverageInline(ReadOnlyInline):
    model = Coverage
    fields = ["legal_entity"]


class AnswerInline(ReadOnlyInline):
    model = Answer
    fields = ["requirement", "state", "comment"]


class BudgetLineInline(ReadOnlyInline):
    model = BudgetLine
    fields = ["category", "description", "amount"]


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = ["original_name", "content_type", "size", "sha256", "created_at"]


class TransitionInline(ReadOnlyInline):
    model = Transition
    fields = ["created_at", "from_status", "to_status", "actor", "comment"]


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["created_at", "author", "is_return_request", "body"]


class EligibilityInline(ReadOnlyInline):
    model = EligibilityResult
    fields = ["eligible", "score", "rules_version", "computed_at"]


class DossierInline(ReadOnlyInline):
    model = Dossier
    fields = ["kind", "version", "status", "pages", "sha256", "generated_at", "attempts", "error"]


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "candidate",
        "call",
        "status",
        "requested_amount",
        "granted_amount",
        "submitted_at",
    ]
    list_filter = ["call", "status", "candidate__department__region", "candidate__status_group"]
    search_fields = ["reference", "candidate__name", "candidate__finess"]
    list_select_related = ["candidate", "call"]
    date_hierarchy = "submitted_at"
    # The status, amounts and dates are written by the lifecycle engine only.
    readonly_fields = [
        "public_id",
        "reference",
        "call",
        "candidate",
        "ght",
        "status",
        "submitted_at",
        "requested_amount",
        "granted_amount",
        "paid_amount",
        "sworn_statement",
        "sworn_by",
        "sworn_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fieldsets = (
        (None, {"fields": ("public_id", "reference", "call", "candidate", "ght", "status")}),
        (
            _("Contacts"),
            {
                "fields": (
                    ("director_name", "director_email"),
                    ("rssi_name", "rssi_email"),
                    ("continuity_lead_name", "continuity_lead_email"),
                )
            },
        ),
        (
            _("Montants et dates"),
            {
                "fields": (
                    ("requested_amount", "granted_amount", "paid_amount"),
                    ("submitted_at", "sworn_statement", "sworn_by", "sworn_at"),
                    ("created_by", "created_at", "updated_at"),
                )
            },
        ),
    )
    inlines = [
        EligibilityInline,
        DossierInline,
        CoverageInline,
        AnswerInline,
        BudgetLineInline,
        EvidenceInline,
        TransitionInline,
        MessageInline,
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # applications are filed by establishments on the portal

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Application]:
        return super().get_queryset(request).select_related("candidate", "call", "ght")

    def save_model(
        self, request: HttpRequest, obj: Application, form: forms.ModelForm, change: bool
    ) -> None:
        """Write only the fields edited here (the contacts), never the whole row: the
        object was read before a transition may have committed, and saving every column
        would put its old status (and amounts, dates) back."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        if form.changed_data:
            obj.save(update_fields=[*form.changed_data, "updated_at"])


from . import admin_tracking  # noqa: E402,F401
