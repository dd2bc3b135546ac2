"""The ministry's admin of tracking to payment (imported at the end of
applications/admin.py): what waits at each step after approval, with the actions
"validate the objectives" and "return the objectives" (through a confirmation page, a
report per application) and a payment form per application; payments are read-only.

Every write goes through applications/tracking.py; only ministry users (national scope
and staff) act here, and each refusal is shown with its reason."""

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from care_portal.admin_display import FrenchNumbersAdmin, french_number
from care_portal.errors import CarePortalError

from . import tracking
from .lifecycle import Status
from .models import Application, FundedApplication, ObjectiveDeclaration, Payment
from .tracking import Step
from .tracking_forms import PaymentForm, ReturnObjectivesForm

if TYPE_CHECKING:
    from accounts.models import User

PAYABLE_STATUSES = frozenset({*tracking.ADVANCE_STATUSES, Status.OBJECTIVES_VALIDATED.value})


def is_ministry(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.scope.national)


class StepFilter(admin.SimpleListFilter):
    title = gettext_lazy("étape")
    parameter_name = "step"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            (Step.TO_DECLARE, gettext_lazy("Objectifs à déclarer")),
            (Step.DECLARED, gettext_lazy("Objectifs déclarés (vérification par l'ARS)")),
            (Step.TO_VALIDATE, gettext_lazy("Objectifs à valider")),
            (Step.ADVANCE_DUE, gettext_lazy("Avance à verser")),
            (Step.TO_PAY, gettext_lazy("Solde à payer")),
            (Step.PAID, gettext_lazy("Payées")),
            (Step.DEADLINE_PASSED, gettext_lazy("Date limite de déclaration dépassée")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value in dict(self.lookup_choices):
            return tracking.at_step(queryset, value)
        return queryset


class _NoWrites:
    """Read-only in the admin: the writes are the tracking actions and forms."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class _ReadOnlyInline(_NoWrites, admin.TabularInline):
    extra = 0
    can_delete = False


class DeclarationInline(_ReadOnlyInline):
    model = ObjectiveDeclaration
    fields = readonly_fields = (
        "requirement",
        "state",
        "comment",
        "review_comment",
        "reviewed_by",
        "reviewed_at",
    )


class PaymentInline(_ReadOnlyInline):
    model = Payment
    fields = readonly_fields = ("paid_on", "tranche", "amount", "chorus_reference", "recorded_by")


def _paid_total() -> Coalesce:
    total = (
        Payment.objects.filter(application=OuterRef("pk"))
        .values("application")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money: DecimalField = DecimalField(max_digits=12, decimal_places=2)
    return Coalesce(Subquery(total, output_field=money), Value(0), output_field=money)


@admin.register(FundedApplication)
class FundedApplicationAdmin(_NoWrites, FrenchNumbersAdmin):
    list_display = [
        "reference",
        "candidate",
        "region",
        "call_code",
        "status",
        "granted_amount",
        "paid_total",
        "objectives_deadline",
        "payment_link",
    ]
    list_filter = [StepFilter, "call", "status", "candidate__department__region"]
    search_fields = ["reference", "candidate__name", "candidate__finess"]
    list_select_related = ["candidate__department__region", "call"]
    ordering = ["updated_at"]
    actions = ["validate_objectives", "return_objectives"]
    fields = readonly_fields = (
        "reference",
        "call",
        "candidate",
        "status",
        "granted_amount",
        "paid_amount",
        "paid_total",
        "objectives_deadline",
    )
    inlines = [DeclarationInline, PaymentInline]
    change_form_template = "admin/applications/fundedapplication/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[FundedApplication]:
        return (
            super()
            .get_queryset(request)
            .filter(status__in=tracking.TRACKING_STATUSES)
            .annotate(paid_total=_paid_total())
        )

    @admin.display(description=gettext_lazy("région"), ordering="candidate__department__region")
    def region(self, obj: FundedApplication) -> str:
        return str(obj.candidate.department.region)

    @admin.display(description=gettext_lazy("appel"), ordering="call__code")
    def call_code(self, obj: FundedApplication) -> str:
        return obj.call.code  # the code: the title would push the amounts off the screen

    @admin.display(description=gettext_lazy("versé (€)"), ordering="paid_total")
    def paid_total(self, obj: FundedApplication) -> Any:
        return french_number(getattr(obj, "paid_total", None), 2)

    @admin.display(
        description=gettext_lazy("date limite des objectifs"),
        ordering="call__objectives_deadline",
    )
    def objectives_deadline(self, obj: FundedApplication) -> Any:
        return obj.call.objectives_deadline

    @admin.display(description=gettext_lazy("paiement"))
    def payment_link(self, obj: FundedApplication) -> str:
        if obj.status not in PAYABLE_STATUSES:
            return "–"
        url = reverse("admin:applications_fundedapplication_payment", args=[obj.pk])
        label = _("Enregistrer un paiement")
        return format_html(
            '<a href="{}" aria-label="{} : {}">{}</a>', url, label, obj.reference, label
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        application = self.get_object(request, object_id)
        payable = application is not None and application.status in PAYABLE_STATUSES
        extra = {**(extra_context or {}), "payable": payable and is_ministry(request.user)}
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list[URLPattern]:
        payment = path(
            "<int:object_id>/paiement/",
            self.admin_site.admin_view(self.payment_view),
            name="applications_fundedapplication_payment",
        )
        return [payment, *super().get_urls()]

    # --- The payment form ------------------------------------------------------------------

    def payment_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not is_ministry(request.user):
            raise PermissionDenied
        get_object_or_404(self.get_queryset(request), pk=object_id)
        application = Application.objects.select_related(
            "call", "candidate__department__region"
        ).get(pk=object_id)
        summary = tracking.payment_summary(application)
        validated = application.status == Status.OBJECTIVES_VALIDATED
        tranche = Payment.Tranche.BALANCE if validated else Payment.Tranche.ADVANCE
        suggested = summary.remainder if validated else summary.advance_remainder
        form = PaymentForm(
            request.POST or None,
            initial={"tranche": tranche, "amount": suggested, "paid_on": timezone.localdate()},
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                payment = tracking.record_payment(
                    application,
                    by=request.user,  # type: ignore[arg-type]
                    amount=data["amount"],
                    paid_on=data["paid_on"],
                    chorus_reference=data["chorus_reference"],
                    tranche=data["tranche"],
                )
            except CarePortalError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(
                    request,
                    _("Paiement de %(amount)s € enregistré pour %(reference)s (%(status)s).")
                    % {
                        "amount": number_format(payment.amount, decimal_pos=2, force_grouping=True),
                        "reference": application.reference,
                        "status": application.get_status_display(),
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:applications_fundedapplication_change", args=[object_id])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Enregistrer un paiement : %(reference)s")
            % {"reference": application.reference},
            "application": application,
            "summary": summary,
            "payments": list(application.payments.order_by("paid_on", "created_at")),
            "form": form,
        }
        return TemplateResponse(
            request,
            "admin/applications/fundedapplication/payment_form.html",
            context,
            status=400 if form.errors else 200,
        )

    # --- Actions, through a confirmation page -----------------------------------------------

    def _confirm(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        action: str,
        title: str,
        form: ReturnObjectivesForm | None = None,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "action": action,
            "applications": list(queryset.select_related("candidate", "call")),
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request,
            "admin/applications/fundedapplication/confirm_action.html",
            context,
            status=400 if form is not None and form.errors else 200,
        )

    def _run(self, request: HttpRequest, queryset: QuerySet, act: Any, done: str) -> None:
        """Act on each application; report, per application, done or refused and why."""
        applications = Application.objects.filter(pk__in=queryset.values("pk")).select_related(
            "call", "candidate__department__region"
        )
        for application in applications.order_by("reference"):
            try:
                act(application)
            except CarePortalError as error:
                self.message_user(
                    request,
                    _("%(reference)s : refusé. %(reason)s")
                    % {"reference": application.reference, "reason": error.message},
                    messages.ERROR,
                )
            else:
                self.message_user(request, f"{application.reference} : {done}", messages.SUCCESS)

    @admin.action(description=gettext_lazy("Valider les objectifs"))
    def validate_objectives(self, request: HttpRequest, queryset: QuerySet) -> Any:
        if not is_ministry(request.user):
            raise PermissionDenied
        if "confirm" not in request.POST:
            return self._confirm(
                request,
                queryset,
                action="validate_objectives",
                title=_("Valider les objectifs des candidatures sélectionnées"),
            )
        self._run(
            request,
            queryset,
            lambda a: tracking.validate_objectives(a, by=cast("User", request.user)),
            _("objectifs validés."),
        )
        return None

    @admin.action(description=gettext_lazy("Renvoyer les objectifs à l'établissement"))
    def return_objectives(self, request: HttpRequest, queryset: QuerySet) -> Any:
        if not is_ministry(request.user):
            raise PermissionDenied
        form = ReturnObjectivesForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            return self._confirm(
                request,
                queryset,
                action="return_objectives",
                title=_("Renvoyer les objectifs des candidatures sélectionnées"),
                form=form,
            )
        comment = form.cleaned_data["comment"]
        self._run(
            request,
            queryset,
            lambda a: tracking.return_objectives(a, by=cast("User", request.user), comment=comment),
            _("objectifs renvoyés à l'établissement."),
        )
        return None


@admin.register(Payment)
class PaymentAdmin(_NoWrites, FrenchNumbersAdmin):
    """Payments are recorded through the tracking admin's form; here they are read."""

    list_display = [
        "application",
        "tranche",
        "amount",
        "paid_on",
        "chorus_reference",
        "recorded_by",
    ]
    list_filter = ["tranche", "paid_on"]
    search_fields = ["chorus_reference", "application__reference", "application__candidate__name"]
    list_select_related = ["application", "recorded_by"]
    fields = readonly_fields = (
        "application",
        "tranche",
        "amount",
        "paid_on",
        "chorus_reference",
        "recorded_by",
        "created_at",
    )
