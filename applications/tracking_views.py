"""The tracking pages of the portal: the establishment declares its objectives reached
(one small form per objective: a comment and a file, then "declare"), the ARS of the
candidate's region checks them (accept or return each). The ministry works in the admin
(applications/admin_tracking.py). Only `applications.urls` imports this module.

Each view reads the application through `selectors.get_application_for` (404 outside
the user's scope), then refuses users without the role with a 403; the services'
refusals become French messages, never a 500."""

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.typing import AuthenticatedRequest
from care_portal.errors import CarePortalError

from . import selectors, tracking
from .evidence import EvidenceNotStored
from .forms import ErrorItem, error_summary
from .lifecycle import Actor, Status, actor_roles
from .models import Application
from .tracking_forms import CheckForm, DeclarationForm


def _objectives_url(application: Application, requirement_id: int | None = None) -> str:
    url = reverse("applications:objectives", args=[application.public_id])
    return f"{url}#objective-{requirement_id}" if requirement_id else url


def _tracked(user: Any, public_id: UUID) -> Application:
    """An application past approval that the user may see, else 404."""
    application = selectors.get_application_for(user, public_id)
    if application.status not in tracking.TRACKING_STATUSES:
        raise Http404
    return application


def _require_establishment(user: Any, application: Application) -> None:
    if Actor.ESTABLISHMENT.value not in actor_roles(user, application):
        raise PermissionDenied


def _render_objectives(
    request: AuthenticatedRequest,
    application: Application,
    *,
    forms: dict[int, DeclarationForm] | None = None,
    missing: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    forms = forms or {}
    lines = tracking.objective_lines(application)
    items = [
        (
            line,
            forms.get(line.requirement.pk)
            or DeclarationForm(
                initial={"comment": line.declaration.comment if line.declaration else ""},
                prefix=f"objective-{line.requirement.pk}",
            ),
        )
        for line in lines
    ]
    errors: list[ErrorItem] = []
    for line, form in items:
        if form.is_bound:
            errors += error_summary([form], prefix=line.requirement.identifier)
    context = {
        "application": application,
        "items": items,
        "can_declare": tracking.can_declare(request.user, application),
        "is_establishment": Actor.ESTABLISHMENT.value in actor_roles(request.user, application),
        "deadline": application.call.objectives_deadline,
        "deadline_passed": tracking.deadline_passed(application.call),
        "missing": tracking.missing_objectives(application, lines) if missing is None else missing,
        "errors": errors,
        "current": _("Objectifs"),
    }
    return render(request, "applications/objectives.html", context, status=status)


@login_required
def objectives(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    """The objectives of an approved application: declared, checked, their files."""
    return _render_objectives(request, _tracked(request.user, public_id))


@login_required
@require_POST
def objective_save(
    request: AuthenticatedRequest, public_id: UUID, requirement_id: int
) -> HttpResponse:
    """Declare one objective reached: its comment and, optionally, a file. The file is
    checked first: refused, nothing is saved and the comment stays in the form."""
    application = _tracked(request.user, public_id)
    _require_establishment(request.user, application)
    requirement = get_object_or_404(
        tracking.objective_requirements(application.call), pk=requirement_id
    )
    form = DeclarationForm(request.POST, request.FILES, prefix=f"objective-{requirement.pk}")
    status = 400
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload:
                tracking.declaration_add_evidence(
                    application=application,
                    requirement=requirement,
                    by=request.user,
                    uploaded_file=upload,
                )
            tracking.declaration_save(
                application=application,
                requirement=requirement,
                by=request.user,
                comment=form.cleaned_data["comment"],
            )
        except CarePortalError as error:
            form.add_error("file" if upload else None, error.message)
            if isinstance(error, EvidenceNotStored):
                status = 507  # the storage is full: not the user's file
        else:
            messages.success(
                request,
                _("Objectif %(id)s déclaré atteint.") % {"id": requirement.identifier},
            )
            return HttpResponseRedirect(_objectives_url(application, requirement.pk))
    return _render_objectives(request, application, forms={requirement.pk: form}, status=status)


@login_required
@require_POST
def objective_evidence_delete(
    request: AuthenticatedRequest, public_id: UUID, evidence_id: UUID
) -> HttpResponse:
    evidence = selectors.get_evidence_for(request.user, public_id, evidence_id)
    application = evidence.application
    _require_establishment(request.user, application)
    if evidence.declaration_id is None:
        raise Http404
    name = evidence.original_name
    try:
        tracking.declaration_delete_evidence(evidence=evidence, by=request.user)
    except CarePortalError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Pièce « %(name)s » supprimée.") % {"name": name})
    return HttpResponseRedirect(_objectives_url(application))


@login_required
@require_POST
def objectives_declare(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = _tracked(request.user, public_id)
    _require_establishment(request.user, application)
    try:
        tracking.declare_objectives(application, by=request.user)
    except tracking.ObjectivesIncomplete as error:
        messages.error(request, _("Les objectifs ne peuvent pas encore être déclarés atteints."))
        return _render_objectives(request, application, missing=error.missing, status=400)
    except CarePortalError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(_objectives_url(application))
    messages.success(
        request,
        _("Objectifs déclarés atteints : l'ARS va les vérifier. Vous serez informé par courriel."),
    )
    return redirect("applications:application-detail", application.public_id)


# --- The ARS's check ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def objectives_check(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    """The ARS of the candidate's region accepts or returns each declared objective."""
    application = _tracked(request.user, public_id)
    if not tracking.can_check(request.user, application):
        raise PermissionDenied
    lines = tracking.objective_lines(application)
    open_ = application.status == Status.OBJECTIVES_DECLARED
    to_check = [line for line in lines if line.declaration is not None]
    data = request.POST if request.method == "POST" and open_ else None
    forms = {
        line.requirement.pk: CheckForm(
            data,
            prefix=f"objective-{line.requirement.pk}",
            initial={"decision": "accept" if line.state == "accepted" else None},
        )
        for line in to_check
    }
    errors: list[ErrorItem] = []
    if data is not None:
        if all(form.is_valid() for form in forms.values()):
            decisions = {
                requirement_id: tracking.ObjectiveCheck(
                    accepted=form.cleaned_data["decision"] == "accept",
                    reason=form.cleaned_data["reason"],
                )
                for requirement_id, form in forms.items()
            }
            try:
                tracking.check_objectives(application, by=request.user, decisions=decisions)
            except CarePortalError as error:
                messages.error(request, error.message)
            else:
                if application.status == Status.OBJECTIVES_CHECKED:
                    messages.success(request, _("Objectifs acceptés : transmis au ministère."))
                else:
                    messages.success(
                        request, _("Objectifs renvoyés à l'établissement avec vos motifs.")
                    )
                return redirect("applications:application-detail", application.public_id)
        for line in to_check:
            errors += error_summary(
                [forms[line.requirement.pk]], prefix=line.requirement.identifier
            )
    context = {
        "application": application,
        "items": [(line, forms.get(line.requirement.pk)) for line in lines],
        "open": open_,
        "errors": errors,
        "current": _("Vérification des objectifs"),
    }
    return render(
        request, "applications/objectives_check.html", context, status=400 if errors else 200
    )
