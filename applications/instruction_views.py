"""The ARS instruction pages: the work queue and the instruction page of an
application, with its acts (take, reassign, note, opinion and sending to the ministry,
return for complements, recusal, a message to the applicant).

Scope: an agent sees the applications of their region(s), the ministry reads every
one; anything else is "not found" (another region's application, an establishment
user). Only the regional role acts (a ministry user gets 403 on the acts). Each act
parses its form, calls one service of `applications.instruction` and redirects; a
refusal (`ApplicationError`) becomes a French message at the field or as an alert,
never a 500."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.typing import AuthenticatedRequest
from care_portal.errors import AmountRefused, ApplicationError, CommentRequired
from establishments.models import LegalEntity

from . import drafting, instruction, selectors, worklist
from .conflicts import ensure_no_conflict, has_conflict
from .dossiers import volet1_rows
from .forms import MessageForm, error_summary
from .instruction_forms import (
    AssignForm,
    NoteForm,
    OpinionForm,
    QueueFilterForm,
    RecuseForm,
    ReturnForm,
)
from .lifecycle import Actor, Status, actor_roles
from .models import Application

PAGE_SIZE = 50


# --- The queue -----------------------------------------------------------------------------


def _ensure_reviewer(request: AuthenticatedRequest) -> None:
    scope = request.user.scope
    if not (scope.region_ids or scope.national):
        raise PermissionDenied


@login_required
def queue(request: AuthenticatedRequest) -> HttpResponse:
    _ensure_reviewer(request)
    user = request.user
    form = QueueFilterForm(request.GET or None, user=user)
    filters = form.filters()
    counts = worklist.tab_counts(user, filters)
    page = Paginator(worklist.queue(user, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    tabs = []
    for tab in worklist.Tab:
        tab_query = query.copy()
        tab_query["tab"] = tab.value
        tabs.append(
            {
                "value": tab.value,
                "label": tab.label,
                "count": counts[tab.value],
                "query": tab_query.urlencode(),
                "current": tab.value == filters.tab,
            }
        )
    context = {
        "form": form,
        "filters": filters,
        "tabs": tabs,
        "current_tab": worklist.Tab(filters.tab),
        "page_obj": page,
        "rows": worklist.rows(page.object_list),
        "query_string": query.urlencode(),
    }
    return render(request, "applications/instruction/queue.html", context)


# --- The instruction page ----------------------------------------------------------------


def _get_application(request: AuthenticatedRequest, public_id: UUID) -> Application:
    """The application if the user is its region's agent or the ministry, else 404."""
    application = selectors.get_application_for(request.user, public_id)
    roles = actor_roles(request.user, application)
    if not roles & {Actor.REGIONAL.value, Actor.MINISTRY.value}:
        raise Http404
    return application


def _get_for_act(request: AuthenticatedRequest, public_id: UUID) -> Application:
    """For the acts: the regional role only (the ministry reads: 403)."""
    application = _get_application(request, public_id)
    if not instruction.is_regional_agent(request.user, application):
        raise PermissionDenied
    return application


def _detail_url(application: Application, anchor: str = "") -> str:
    url = reverse("instruction:detail", args=[application.public_id])
    return f"{url}#{anchor}" if anchor else url


def _render_detail(
    request: AuthenticatedRequest,
    application: Application,
    *,
    bound: dict[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    bound = bound or {}
    selectors.with_everything(application)
    is_agent = instruction.is_regional_agent(user, application)
    conflict = has_conflict(user, application)
    may_instruct = is_agent and not conflict
    in_review = application.status == Status.REGIONAL_REVIEW
    assignable = application.status in instruction.ASSIGNABLE_STATUSES
    agents = [
        a
        for a in (instruction.colleagues(application) if may_instruct and assignable else [])
        if a.pk != application.assigned_to_id
    ]
    entities = instruction.recusable_entities(application) if is_agent and not conflict else []
    coverages = list(application.coverages.all())
    forms_: dict[str, Any] = {
        "assign_form": bound.get("assign") or AssignForm(agents=agents),
        "note_form": bound.get("note") or NoteForm(),
        "opinion_form": bound.get("opinion") or OpinionForm(application=application),
        "return_form": bound.get("return") or ReturnForm(),
        "recuse_form": bound.get("recuse") or RecuseForm(entities=entities),
        "message_form": bound.get("message") or MessageForm(),
    }
    errors = {
        f"{key}_errors": error_summary([form]) if form.is_bound else []
        for key, form in (
            ("assign", forms_["assign_form"]),
            ("note", forms_["note_form"]),
            ("opinion", forms_["opinion_form"]),
            ("return", forms_["return_form"]),
            ("recuse", forms_["recuse_form"]),
            ("message", forms_["message_form"]),
        )
    }
    context: dict[str, Any] = {
        "application": application,
        "assigned_to": application.assigned_to,
        "answers": application.answers.all(),
        "coverages": coverages,
        "budget_lines": application.budget_lines.all(),
        "transitions": application.transitions.all(),
        "thread": application.messages.all(),
        "return_request": (
            selectors.return_request(application) if application.status == Status.RETURNED else None
        ),
        "can_post_message": may_instruct and selectors.can_post_message(user, application),
        "message_action": reverse("instruction:message", args=[application.public_id]),
        "eligibility": selectors.eligibility_explanation(user, application),
        "dossier_lines": selectors.dossier_lines(application),
        "can_retry_dossier": selectors.can_retry_dossier(user, application),
        "volet1": volet1_rows(
            coverages, valid_from=application.call.volet1_valid_from, with_rules=True
        ),
        "notes": application.notes.select_related("author"),
        "reviews": application.regional_reviews.select_related("author"),
        "is_agent": is_agent,
        "in_conflict": conflict,
        "can_take": may_instruct and assignable and application.assigned_to_id != user.pk,
        "can_reassign": bool(agents),
        "can_note": may_instruct,
        "can_decide": may_instruct and in_review,
        "can_recuse": bool(entities),
        **forms_,
        **errors,
    }
    return render(request, "applications/instruction/detail.html", context, status=status)


@login_required
def detail(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = _get_application(request, public_id)
    return _render_detail(request, application)


# --- The acts --------------------------------------------------------------------------------


def _refused(
    request: AuthenticatedRequest, application: Application, error: ApplicationError
) -> HttpResponse:
    messages.error(request, error.message)
    return HttpResponseRedirect(_detail_url(application))


def _act(
    request: AuthenticatedRequest,
    application: Application,
    *,
    key: str,
    form: forms.Form,
    run: Callable[[dict[str, Any]], str],
    field: str | None,
    anchor: str,
) -> HttpResponse:
    """Validate `form`, run the service (`run` returns the success message): its
    refusal is shown at `field` of the form (or as an alert when no field fits)."""
    if form.is_valid():
        try:
            success = run(form.cleaned_data)
        except ApplicationError as error:
            if field is None:
                return _refused(request, application, error)
            form.add_error(field, error.message)
        else:
            messages.success(request, success)
            return HttpResponseRedirect(_detail_url(application, anchor))
    return _render_detail(request, application, bound={key: form}, status=400)


@login_required
@require_POST
def take(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = _get_for_act(request, public_id)
    try:
        instruction.take(application, by=request.user)
    except ApplicationError as error:
        return _refused(request, application, error)
    messages.success(
        request,
        _("Vous instruisez désormais la candidature %(reference)s.")
        % {"reference": application.reference},
    )
    return HttpResponseRedirect(_detail_url(application, "assignment"))


@login_required
@require_POST
def reassign(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = _get_for_act(request, public_id)
    agents = instruction.colleagues(application)
    form = AssignForm(request.POST, agents=agents)

    def run(data: dict[str, Any]) -> str:
        agent = data["agent"]
        instruction.reassign(application, by=request.user, to=agent)
        return _("Candidature attribuée à %(name)s.") % {"name": agent.get_full_name()}

    return _act(
        request, application, key="assign", form=form, run=run, field="agent", anchor="assignment"
    )


@login_required
@require_POST
def note(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = _get_for_act(request, public_id)

    def run(data: dict[str, Any]) -> str:
        instruction.add_note(application, by=request.user, body=data["body"])
        return _("Note enregistrée.")

    return _act(
        request,
        application,
        key="note",
        form=NoteForm(request.POST),
        run=run,
        field="body",
        anchor="notes",
    )


@login_required
@require_POST
def opinion(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = _get_for_act(request, public_id)
    form = OpinionForm(request.POST, application=application)
    if form.is_valid():
        data = form.cleaned_data
        try:
            instruction.validate_regional(
                application,
                by=request.user,
                opinion=data["opinion"],
                motivation=data["motivation"],
                proposed_amount=data["proposed_amount"],
            )
        except ApplicationError as error:
            # The amount and the motivation at their field; the others as an alert.
            if isinstance(error, AmountRefused):
                form.add_error("proposed_amount", error.message)
            elif isinstance(error, CommentRequired):
                form.add_error("motivation", error.message)
            else:
                return _refused(request, application, error)
        else:
            messages.success(
                request,
                _("Avis enregistré : la candidature %(reference)s est envoyée au ministère.")
                % {"reference": application.reference},
            )
            return HttpResponseRedirect(_detail_url(application))
    return _render_detail(request, application, bound={"opinion": form}, status=400)


@login_required
@require_POST
def return_request(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = _get_for_act(request, public_id)

    def run(data: dict[str, Any]) -> str:
        instruction.return_regional(
            application, by=request.user, request=data["request"], due_on=data["due_on"]
        )
        return _(
            "La candidature %(reference)s est renvoyée à l'établissement pour compléments."
        ) % {"reference": application.reference}

    return _act(
        request,
        application,
        key="return",
        form=ReturnForm(request.POST),
        run=run,
        field=None,
        anchor="",
    )


@login_required
@require_POST
def recuse(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = _get_for_act(request, public_id)
    entities = instruction.recusable_entities(application)
    form = RecuseForm(request.POST, entities=entities)

    def run(data: dict[str, Any]) -> str:
        entity: LegalEntity = data["legal_entity"]
        instruction.recuse(
            application, by=request.user, legal_entity_id=entity.pk, reason=data["reason"]
        )
        return _(
            "Votre déport est enregistré : vous ne pouvez plus instruire les candidatures "
            "couvrant %(name)s."
        ) % {"name": entity.name}

    return _act(request, application, key="recuse", form=form, run=run, field="reason", anchor="")


@login_required
@require_POST
def message(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    """A message to the applicant, from the instruction page (the thread's write)."""
    application = _get_for_act(request, public_id)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            ensure_no_conflict(request.user, application)
            posted = drafting.message_post(
                application=application, by=request.user, body=form.cleaned_data["body"]
            )
        except ApplicationError as error:
            return _refused(request, application, error)
        messages.success(request, _("Message envoyé."))
        return HttpResponseRedirect(_detail_url(application, f"message-{posted.public_id}"))
    return _render_detail(request, application, bound={"message": form}, status=400)
