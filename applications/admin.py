"""Admin of calls (configured by the programme) and of applications, where the
ministry decides.

Applications are read-only here: the status changes only through the actions
(approve, reject, return for complements, reconsider, assign to me), each through a
confirmation page and then a report, per application, of what was done, what waits for
a co-signature and what was refused and why (applications/decisions.py). More than
`decision_jobs.ASYNC_ABOVE` applications are decided by a worker while a progress page
polls. Co-signatures and declared conflicts of interest are listed read-only."""

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Exists, F, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from care_portal.admin_display import ReadOnlyAdmin
from care_portal.history import FieldHistoryAdmin

from . import decision_jobs, decisions
from .decision_forms import DecisionForm
from .models import (
    Answer,
    Application,
    BudgetLine,
    CeilingBracket,
    ConflictDeclaration,
    CoSignature,
    Coverage,
    Dossier,
    EligibilityResult,
    Evidence,
    FundingCall,
    Message,
    RegionalReview,
    Requirement,
    Transition,
)

ACTION_TITLES = {
    decisions.APPROVE: _("Accorder un financement"),
    decisions.REJECT: _("Refuser"),
    decisions.SEND_BACK: _("Renvoyer pour compléments"),
    decisions.RECONSIDER: _("Réexaminer (inéligible)"),
    decisions.ASSIGN: _("M'attribuer"),
}


def can_decide(request: HttpRequest) -> bool:
    """The ministry's actions: active staff users with the national scope."""
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.scope.national)


# --- Funding calls --------------------------------------------------------------------------


class RequirementInline(admin.TabularInline):
    model = Requirement
    extra = 0
    fields = ["position", "identifier", "kind", "label", "target", "evidence", "evidence_stage"]


class CeilingBracketInline(admin.TabularInline):
    model = CeilingBracket
    extra = 0
    fields = ["min_staff", "max_staff", "ceiling"]


class EnvelopeColumns:
    """Envelope, committed, paid and remaining of a call annotated by
    `decisions.with_envelope_figures` (or computed for one call)."""

    @staticmethod
    def _figures(call: FundingCall) -> decisions.EnvelopeFigures:
        if hasattr(call, "committed"):
            return decisions.EnvelopeFigures(
                envelope=call.envelope,
                committed=call.committed,
                paid=call.paid,  # type: ignore[attr-defined]
                remaining=call.remaining,  # type: ignore[attr-defined]
            )
        cached = getattr(call, "_envelope_figures", None)
        if cached is None:
            cached = call._envelope_figures = decisions.envelope_figures(call)  # type: ignore[attr-defined]
        return cached

    @admin.display(description=_("engagé (€)"), ordering="committed")
    def envelope_committed(self, call: FundingCall) -> str:
        return decisions.euros(self._figures(call).committed)

    @admin.display(description=_("payé (€)"), ordering="paid")
    def envelope_paid(self, call: FundingCall) -> str:
        return decisions.euros(self._figures(call).paid)

    @admin.display(description=_("reste (€)"), ordering="remaining")
    def envelope_remaining(self, call: FundingCall) -> str:
        return decisions.euros(self._figures(call).remaining)


@admin.register(FundingCall)
class FundingCallAdmin(EnvelopeColumns, FieldHistoryAdmin):
    list_display = [
        "code",
        "title",
        "domain",
        "opens_at",
        "closes_at",
        "envelope",
        "envelope_committed",
        "envelope_paid",
        "envelope_remaining",
    ]
    list_filter = ["domain"]
    search_fields = ["code", "title"]
    readonly_fields = [
        "public_id",
        "created_at",
        "updated_at",
        "envelope_committed",
        "envelope_paid",
        "envelope_remaining",
    ]
    inlines = [RequirementInline, CeilingBracketInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[FundingCall]:
        return decisions.with_envelope_figures(super().get_queryset(request))

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        # A call being created has no figures yet.
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is not None else [f for f in fields if not f.startswith("envelope_")]


# --- Applications ---------------------------------------------------------------------------


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
    fields = ["legal_entity", "released_at"]


class AnswerInline(ReadOnlyInline):
    model = Answer
    fields = ["requirement", "state", "comment"]


class BudgetLineInline(ReadOnlyInline):
    model = BudgetLine
    fields = ["category", "description", "amount"]


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = [
        "original_name",
        "content_type",
        "size",
        "sha256",
        "created_at",
        "superseded_at",
        "download",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Evidence]:
        return super().get_queryset(request).select_related("application")

    @admin.display(description=_("fichier"))
    def download(self, evidence: Evidence) -> str:
        """The portal's own download link: the same scope check and the same entry in
        the audit trail as for the ARS and the establishment."""
        url = reverse(
            "applications:evidence-download",
            args=[evidence.application.public_id, evidence.public_id],
        )
        return format_html(
            '<a href="{}" download>{}</a>',
            url,
            _("Télécharger « %(name)s »") % {"name": evidence.original_name},
        )


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


class RegionalReviewInline(ReadOnlyInline):
    model = RegionalReview
    fields = ["created_at", "author", "opinion", "proposed_amount", "motivation"]


class CoSignatureInline(ReadOnlyInline):
    model = CoSignature
    fields = ["created_at", "requested_by", "amount", "state", "signed_by", "signed_at", "comment"]


class ScoreRangeFilter(admin.SimpleListFilter):
    title = _("score de priorité")
    parameter_name = "score"
    RANGES = {"0-25": (0, 25), "25-50": (25, 50), "50-75": (50, 75), "75-100": (75, 101)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("0-25", gettext("moins de 25")),
            ("25-50", gettext("de 25 à 50")),
            ("50-75", gettext("de 50 à 75")),
            ("75-100", gettext("75 et plus")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        bounds = self.RANGES.get(self.value() or "")
        if bounds is None:
            return queryset
        return queryset.filter(eligibility__score__gte=bounds[0], eligibility__score__lt=bounds[1])


class EligibilityFilter(admin.SimpleListFilter):
    title = _("éligibilité")
    parameter_name = "eligible"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("yes", gettext("éligible")),
            ("no", gettext("inéligible")),
            ("unknown", gettext("non vérifiée")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "unknown":
            return queryset.filter(eligibility__isnull=True)
        if value in ("yes", "no"):
            return queryset.filter(eligibility__eligible=value == "yes")
        return queryset


class CoSignatureFilter(admin.SimpleListFilter):
    """ "To co-sign": the approvals waiting for a second ministry user."""

    title = _("co-signature")
    parameter_name = "co_signature"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("pending", gettext("à co-signer"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() != "pending":
            return queryset
        pending = CoSignature.objects.filter(
            application=OuterRef("pk"), state=CoSignature.State.PENDING
        )
        return queryset.filter(Exists(pending))


@admin.register(Application)
class ApplicationAdmin(FieldHistoryAdmin):
    # The key columns first (status, amounts): they stay in view at 1280 px, the
    # others follow.
    list_display = [
        "reference",
        "candidate",
        "status",
        "requested_amount",
        "proposed_amount",
        "granted_amount",
        "regional_opinion",
        "score",
        "eligible",
        "region",
        "statistics_group",
        "submitted_at",
    ]
    list_filter = [
        "call",
        "status",
        ("candidate__department__region", admin.RelatedOnlyFieldListFilter),
        "candidate__status_group",
        EligibilityFilter,
        "regional_opinion",
        ScoreRangeFilter,
        CoSignatureFilter,
    ]
    search_fields = ["reference", "candidate__name", "candidate__finess"]
    list_select_related = ["candidate__department__region", "call", "eligibility"]
    ordering = [F("eligibility__score").desc(nulls_last=True), "-submitted_at"]  # type: ignore[list-item]
    date_hierarchy = "submitted_at"
    list_per_page = 100
    list_max_show_all = decisions.MAX_BULK  # "show all" selects up to 500 at once
    actions = [
        "approve_selected",
        "reject_selected",
        "send_back_selected",
        "reconsider_selected",
        "assign_selected",
    ]
    readonly_fields = ["call_envelope"]
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
            _("Instruction"),
            {
                "fields": (
                    ("assigned_to", "assigned_at"),
                    ("regional_opinion", "proposed_amount", "return_due_on"),
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
        (_("Enveloppe de l'appel"), {"fields": ("call_envelope",)}),
    )
    inlines = [
        EligibilityInline,
        RegionalReviewInline,
        CoSignatureInline,
        DossierInline,
        CoverageInline,
        AnswerInline,
        BudgetLineInline,
        EvidenceInline,
        TransitionInline,
        MessageInline,
    ]
    confirm_template = "admin/applications/application/decision_confirm.html"
    report_template = "admin/applications/application/decision_report.html"

    # --- Read-only: the status changes through the actions only ---------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # applications are filed by establishments on the portal

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # nothing the applicant wrote is edited here; decisions are actions

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return can_decide(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Application]:
        # The changelist ignores list_select_related once a select_related is set here.
        queryset = (
            super()
            .get_queryset(request)
            .select_related("candidate__department__region", "call", "ght", "eligibility")
        )
        if request.user.is_superuser:
            return queryset
        # Drafts (and drafts withdrawn) belong to their establishment alone.
        return queryset.filter(submitted_at__isnull=False)

    def history_extra_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """The history page also lists the history of the application's files: each
        upload, supersession and deletion (before submission), with its author."""
        files = (
            Evidence.history.filter(application_id=obj.pk)
            .select_related("history_user")
            .order_by("-history_date", "-history_id")
        )
        return {"file_history": list(files)}

    # --- Columns ----------------------------------------------------------------------------

    @admin.display(description=_("région"), ordering="candidate__department__region__name")
    def region(self, application: Application) -> str:
        return application.candidate.department.region.name

    @admin.display(description=_("groupe"), ordering="candidate__status_group")
    def statistics_group(self, application: Application) -> str:
        return str(application.candidate.statistics_group.label)

    @staticmethod
    def _eligibility(application: Application) -> EligibilityResult | None:
        try:
            return application.eligibility
        except ObjectDoesNotExist:
            return None

    @admin.display(description=_("éligible"), boolean=True, ordering="eligibility__eligible")
    def eligible(self, application: Application) -> bool | None:
        result = self._eligibility(application)
        return None if result is None else result.eligible

    @admin.display(description=_("score"), ordering="eligibility__score")
    def score(self, application: Application) -> Decimal | None:
        result = self._eligibility(application)
        return None if result is None else result.score

    @admin.display(description=_("enveloppe de l'appel"))
    def call_envelope(self, application: Application) -> str:
        figures = decisions.envelope_figures(application.call)
        return gettext(
            "Enveloppe %(envelope)s ; engagé %(committed)s ; payé %(paid)s ; reste %(remaining)s"
        ) % {
            "envelope": decisions.euros(figures.envelope),
            "committed": decisions.euros(figures.committed),
            "paid": decisions.euros(figures.paid),
            "remaining": decisions.euros(figures.remaining),
        }

    # --- Actions: a confirmation page, then the decisions and their report -----------------

    @admin.action(description=_("Accorder un financement…"), permissions=["decide"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._confirm(request, decisions.APPROVE, queryset)

    @admin.action(description=_("Refuser…"), permissions=["decide"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._confirm(request, decisions.REJECT, queryset)

    @admin.action(description=_("Renvoyer pour compléments…"), permissions=["decide"])
    def send_back_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._confirm(request, decisions.SEND_BACK, queryset)

    @admin.action(description=_("Réexaminer (inéligible)…"), permissions=["decide"])
    def reconsider_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._confirm(request, decisions.RECONSIDER, queryset)

    @admin.action(description=_("M'attribuer…"), permissions=["decide"])
    def assign_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._confirm(request, decisions.ASSIGN, queryset)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "decider/<str:action>/",
                self.admin_site.admin_view(self.decide_view),
                name="applications_application_decide",
            ),
            path(
                "decisions/<str:job_id>/",
                self.admin_site.admin_view(self.report_view),
                name="applications_application_decision_report",
            ),
            *super().get_urls(),
        ]

    def _selected(self, request: HttpRequest, ids: list[int]) -> list[Application]:
        """The applications chosen, in the changelist's order, with what the
        confirmation page shows (scoped like the changelist)."""
        return list(
            self.get_queryset(request)
            .filter(pk__in=ids)
            .select_related("candidate__department__region", "eligibility")
            .annotate(pending_amount=decisions.pending_co_signature_amount())
            .order_by(*self.ordering)
        )

    def _confirm(
        self, request: HttpRequest, action: str, queryset: QuerySet
    ) -> HttpResponse | None:
        ids = list(queryset.order_by().values_list("pk", flat=True)[: decisions.MAX_BULK + 1])
        if len(ids) > decisions.MAX_BULK:
            self.message_user(
                request,
                gettext("Une action porte sur %(max)d candidatures au plus : affinez les filtres.")
                % {"max": decisions.MAX_BULK},
                messages.ERROR,
            )
            return None
        applications = self._selected(request, ids)
        form = DecisionForm(action=action, applications=applications)
        return self._render_confirm(request, action, form)

    def _render_confirm(
        self, request: HttpRequest, action: str, form: DecisionForm
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": ACTION_TITLES[action],
            "action": action,
            "form": form,
            "ids": ",".join(str(a.pk) for a in form.applications),
            "decide_url": reverse("admin:applications_application_decide", args=[action]),
            "changelist_url": reverse("admin:applications_application_changelist"),
        }
        return TemplateResponse(request, self.confirm_template, context)

    def decide_view(self, request: HttpRequest, action: str) -> HttpResponse:
        """GET ?ids=…: the confirmation page (the co-signature list links here); POST: the
        decisions, then their report."""
        if action not in decisions.ACTIONS:
            raise Http404
        if not self.has_decide_permission(request):
            raise PermissionDenied
        source = request.POST if request.method == "POST" else request.GET
        try:
            ids = [int(pk) for pk in source.get("ids", "").split(",") if pk.strip()]
        except ValueError:
            raise Http404 from None
        if not ids or len(ids) > decisions.MAX_BULK:
            raise Http404
        applications = self._selected(request, ids)
        if request.method != "POST":
            return self._render_confirm(
                request, action, DecisionForm(action=action, applications=applications)
            )
        form = DecisionForm(request.POST, action=action, applications=applications)
        if not form.is_valid():
            return self._render_confirm(request, action, form)
        job_id = decision_jobs.decision_job_start(
            action=action,
            application_ids=[a.pk for a in applications],
            by=request.user,  # type: ignore[arg-type]
            comment=form.cleaned_data.get("comment", ""),
            amounts=form.amounts(),
            due_on=form.cleaned_data.get("due_on"),
        )
        return HttpResponseRedirect(
            reverse("admin:applications_application_decision_report", args=[job_id])
        )

    def report_view(self, request: HttpRequest, job_id: str) -> HttpResponse:
        """The progress of a bulk decision, then its report (only to whoever took it)."""
        job = decision_jobs.decision_job(job_id)
        if job is None or job["user_id"] != request.user.pk:
            raise Http404
        entries = decision_jobs.report_entries(job)
        report = decisions.Report(entries)
        finished = job["state"] in (decision_jobs.State.DONE, decision_jobs.State.FAILED)
        # While a worker decides, what its batch has decided so far (reported once committed).
        progress = max(len(entries), int(job.get("progress", 0)))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Compte rendu : %(action)s")
            % {"action": ACTION_TITLES[job["action"]]},
            "job": job,
            "finished": finished,
            "report": report,
            "progress": progress,
            "percent": round(100 * progress / job["total"]) if job["total"] else 100,
            "changelist_url": reverse("admin:applications_application_changelist"),
        }
        return TemplateResponse(request, self.report_template, context)


# --- Co-signatures and conflicts of interest: read-only lists for the ministry ------------


@admin.register(CoSignature)
class CoSignatureAdmin(ReadOnlyAdmin):
    """ "To co-sign": the approvals waiting for a second ministry user, each with a link
    to approve it (the same amount, by another user)."""

    list_display = [
        "application",
        "candidate",
        "amount",
        "requested_by",
        "created_at",
        "state",
        "signed_by",
        "signed_at",
        "co_sign",
    ]
    list_filter = ["state"]
    search_fields = ["application__reference", "application__candidate__name"]
    list_select_related = ["application__candidate", "requested_by", "signed_by"]
    fields = [
        "application",
        "amount",
        "comment",
        "requested_by",
        "created_at",
        "state",
        "signed_by",
        "signed_at",
    ]

    @admin.display(description=_("candidat"), ordering="application__candidate__name")
    def candidate(self, co_signature: CoSignature) -> str:
        return co_signature.application.candidate.name

    @admin.display(description=_("co-signer"))
    def co_sign(self, co_signature: CoSignature) -> str:
        if co_signature.state != CoSignature.State.PENDING:
            return "—"
        url = reverse("admin:applications_application_decide", args=[decisions.APPROVE])
        return format_html(
            '<a href="{}?ids={}">{}</a>',
            url,
            co_signature.application_id,
            gettext("Approuver %(reference)s") % {"reference": co_signature.application},
        )


@admin.register(ConflictDeclaration)
class ConflictDeclarationAdmin(ReadOnlyAdmin):
    """Who recused themselves from which legal entity, why and when."""

    list_display = ["user", "legal_entity", "reason", "created_at"]
    search_fields = ["user__email", "user__full_name", "legal_entity__name", "legal_entity__finess"]
    list_select_related = ["user", "legal_entity"]
    date_hierarchy = "created_at"
    fields = ["user", "legal_entity", "reason", "created_at"]


from . import admin_tracking  # noqa: E402,F401
