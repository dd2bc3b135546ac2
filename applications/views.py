"""The applicant pages: "Mes candidatures", the application form section by section,
its read-only view, evidence files, messages and withdrawal.

Each view parses its input, reads the application through the one access helper
(`selectors.get_application_for`, 404 outside the user's scope), calls one write of
`drafting`, `evidence` or `dossiers` and renders or redirects. Their refusals
(`CarePortalError`) become French messages at the field or as alerts, never a 500."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.typing import AuthenticatedRequest
from care_portal.errors import (
    ApplicationError,
    CarePortalError,
    SubmissionIncomplete,
    TransitionForbidden,
)
from establishments.models import LegalEntity

from . import dossiers, drafting, eligibility, selectors
from . import evidence as uploads
from .downloads import dossier_response, evidence_response
from .drafting import Issue
from .forms import (
    AnswersForm,
    BaseBudgetLineFormSet,
    BudgetLineFormSet,
    ErrorItem,
    EvidenceUploadForm,
    IdentityForm,
    MessageForm,
    StartForm,
    SubmitForm,
    WithdrawForm,
    error_summary,
)
from .lifecycle import Status
from .models import Answer, Application, Dossier, Evidence, FundingCall
from .templatetags.applications_tags import when

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from accounts.models import User

PAGE_SIZE = 50


@dataclass(frozen=True)
class Section:
    key: str
    title: "StrOrPromise"
    url_name: str


# The application form, in the order the applicant fills it.
SECTIONS = (
    Section("identity", gettext_lazy("Identité et contacts"), "applications:application-identity"),
    Section("answers", gettext_lazy("Réponses aux exigences"), "applications:application-answers"),
    Section("budget", gettext_lazy("Budget prévisionnel"), "applications:application-budget"),
    Section(
        "statement",
        gettext_lazy("Déclaration sur l'honneur et dépôt"),
        "applications:application-submit",
    ),
)
SECTION_BY_KEY = {section.key: section for section in SECTIONS}


@dataclass(frozen=True)
class IssueLink:
    """An issue of `drafting.application_issues`, with the link to where it is fixed."""

    section: str
    message: str
    url: str


def _issue_anchor(issue: Issue) -> str:
    """The id of the control that fixes an issue, on its section's page."""
    if issue.section == "identity":
        return f"id_{issue.field}"
    if issue.section == "answers":
        return issue.field  # the requirement's fieldset, `answer-<requirement id>`
    if issue.section == "budget":
        return "id_lines-0-category"
    return f"id_{issue.field or 'sworn'}"  # a box of the submit page


def _issue_links(application: Application, issues: list[Issue]) -> list[IssueLink]:
    links = []
    for issue in issues:
        section = SECTION_BY_KEY.get(issue.section, SECTIONS[-1])
        url = reverse(section.url_name, args=[application.public_id])
        links.append(IssueLink(str(section.title), issue.message, f"{url}#{_issue_anchor(issue)}"))
    return links


def _section_context(application: Application, key: str) -> dict[str, Any]:
    """The stepper and this section's warnings (the application's answers, files and
    budget lines must be loaded: `selectors.with_answers`)."""
    index = [s.key for s in SECTIONS].index(key)
    issues = [i for i in drafting.application_issues(application) if i.section == key]
    return {
        "application": application,
        "preview": eligibility.preview(application),
        "section": SECTIONS[index],
        "step": index + 1,
        "steps": len(SECTIONS),
        "next_section": SECTIONS[index + 1] if index + 1 < len(SECTIONS) else None,
        "warnings": _issue_links(application, issues),
        "return_request": (
            selectors.return_request(selectors.with_messages(application))
            if application.status == Status.RETURNED
            else None
        ),
    }


def _posted(request: AuthenticatedRequest) -> Any:
    """The POST data of a form post (even empty: an unchecked box posts nothing)."""
    return request.POST if request.method == "POST" else None


def _not_editable(request: AuthenticatedRequest, application: Application) -> HttpResponse:
    messages.info(
        request,
        _("Cette candidature n'est pas modifiable : elle est à l'état « %(status)s ».")
        % {"status": application.get_status_display()},
    )
    return redirect("applications:application-detail", application.public_id)


def _editing(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """A view that edits a draft: it is given the application (the user's, found from the
    URL's `public_id`) instead of its id; one the user may not edit sends them back to
    its page with why."""

    @wraps(view)
    def wrapped(
        request: AuthenticatedRequest, public_id: UUID, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        application = selectors.get_application_for(request.user, public_id)
        if not selectors.can_edit(request.user, application):
            return _not_editable(request, application)
        return view(request, application, *args, **kwargs)

    return wrapped


def _section_saved(
    request: AuthenticatedRequest, application: Application, key: str
) -> HttpResponse:
    messages.success(request, _("Section enregistrée."))
    index = [s.key for s in SECTIONS].index(key)
    following = SECTIONS[min(index + 1, len(SECTIONS) - 1)]
    return redirect(following.url_name, application.public_id)


def _refused(
    request: AuthenticatedRequest, application: Application, error: CarePortalError
) -> HttpResponse:
    messages.error(request, error.message)
    return redirect("applications:application-detail", application.public_id)


# --- "Mes candidatures" and starting a draft -----------------------------------------


@login_required
def application_list(request: AuthenticatedRequest) -> HttpResponse:
    applications = selectors.applications_for_list(request.user)
    page = Paginator(applications, PAGE_SIZE).get_page(request.GET.get("page"))
    is_establishment = bool(request.user.scope.legal_entity_ids)
    context = {
        "page_obj": page,
        "rows": list(page.object_list),
        "is_establishment": is_establishment,
        "open_calls": selectors.open_calls_for(request.user) if is_establishment else [],
    }
    return render(request, "applications/application_list.html", context)


@login_required
@require_POST
def application_start(request: AuthenticatedRequest) -> HttpResponse:
    form = StartForm(request.POST)
    if not form.is_valid():
        raise Http404
    call = get_object_or_404(FundingCall, public_id=form.cleaned_data["call"])
    # Only the user's own legal entities may file: any other is "not found".
    candidate = get_object_or_404(
        LegalEntity.objects.filter(id__in=request.user.scope.legal_entity_ids),
        public_id=form.cleaned_data["candidate"],
    )
    try:
        application = drafting.application_start(call=call, candidate=candidate, by=request.user)
    except CarePortalError as error:
        messages.error(request, error.message)
        return redirect("applications:application-list")
    messages.success(
        request,
        _("Candidature %(reference)s ouverte : complétez chaque section puis déposez-la.")
        % {"reference": application.reference},
    )
    return redirect("applications:application-detail", application.public_id)


# --- The application page: overview while editable, read-only view otherwise ---------


def _render_detail(
    request: AuthenticatedRequest,
    application: Application,
    *,
    message_form: MessageForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    editable = selectors.can_edit(user, application)
    # Every file of the application in one list: only `application_issues` (editable).
    selectors.with_everything(application, all_evidence=editable)
    context: dict[str, Any] = {
        "application": application,
        "editable": editable,
        "can_withdraw": selectors.can_withdraw(user, application),
        "answers": application.answers.all(),
        "coverages": application.coverages.all(),
        "budget_lines": application.budget_lines.all(),
        "transitions": application.transitions.all(),
        "thread": application.messages.all(),
        "return_request": (
            selectors.return_request(application) if application.status == Status.RETURNED else None
        ),
        "message_form": message_form or MessageForm(),
        "can_post_message": selectors.can_post_message(user, application),
        "can_ask_reconsideration": selectors.can_ask_reconsideration(user, application),
        "can_withdraw_and_restart": selectors.can_withdraw_and_restart(user, application),
        "restart": selectors.restart_after_withdrawal(user, application),
        "message_errors": error_summary([message_form]) if message_form else [],
        "eligibility": selectors.eligibility_explanation(user, application),
        "can_retry_dossier": selectors.can_retry_dossier(user, application),
        **_dossiers_context(user, application),
    }
    if editable:
        issues = drafting.application_issues(application)
        context["warnings"] = _issue_links(application, issues)
        context["sections"] = [
            (section, sum(1 for i in issues if i.section == section.key)) for section in SECTIONS
        ]
        context["preview"] = eligibility.preview(application)
    template = "application_overview.html" if editable else "application_detail.html"
    return render(request, f"applications/{template}", context, status=status)


@login_required
def application_detail(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = selectors.get_application_for(request.user, public_id)
    return _render_detail(request, application)


# --- Sections -------------------------------------------------------------------------


@login_required
@_editing
def application_identity(request: AuthenticatedRequest, application: Application) -> HttpResponse:
    initial = {field: getattr(application, field) for field in drafting.IDENTITY_FIELDS}
    form = IdentityForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            drafting.application_update_identity(
                application=application, by=request.user, data=form.cleaned_data
            )
        except ApplicationError as error:
            return _refused(request, application, error)
        return _section_saved(request, application, "identity")
    selectors.with_answers(application)
    context = _section_context(application, "identity")
    context.update(form=form, errors=error_summary([form]) if form.is_bound else [])
    return render(request, "applications/application_identity.html", context)


def _render_answers(
    request: AuthenticatedRequest,
    application: Application,
    *,
    form: AnswersForm | None = None,
    upload_errors: dict[int, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    selectors.with_answers(application)
    answers = list(application.answers.all())
    form = form or AnswersForm(answers)
    upload_errors = upload_errors or {}
    errors: list[ErrorItem] = form.errors() if form.is_bound else []
    for answer in answers:
        for message in upload_errors.get(answer.pk, []):
            errors.append(
                ErrorItem(
                    f"upload-{answer.pk}",
                    _("%(id)s – Ajouter une pièce") % {"id": answer.requirement.identifier},
                    message,
                )
            )
    context = _section_context(application, "answers")
    contradictions = context["preview"].contradictions
    context.update(
        form=form,
        # Each requirement's form, its upload errors, what the portal's data says
        # against its answer, and its current files (which a new upload may replace).
        items=[
            (
                f,
                upload_errors.get(f.answer.pk, []),
                contradictions.get(f.answer.requirement_id),
                [e for e in f.answer.evidence.all() if e.superseded_at is None],
            )
            for f in form
        ],
        errors=errors,
        max_file_size=settings.EVIDENCE_MAX_FILE_SIZE,
        allowed_formats=uploads.ALLOWED_FORMATS_LABEL,
    )
    return render(request, "applications/application_answers.html", context, status=status)


@login_required
@_editing
def application_answers(request: AuthenticatedRequest, application: Application) -> HttpResponse:
    if request.method != "POST":
        return _render_answers(request, application)
    selectors.with_answers(application)
    form = AnswersForm(application.answers.all(), request.POST)
    if not form.is_valid():
        return _render_answers(request, application, form=form)
    try:
        drafting.application_save_answers(
            application=application, by=request.user, answers=form.cleaned_answers()
        )
    except ApplicationError as error:
        return _refused(request, application, error)
    return _section_saved(request, application, "answers")


@login_required
@_editing
def application_budget(request: AuthenticatedRequest, application: Application) -> HttpResponse:
    selectors.with_answers(application)
    saved = list(application.budget_lines.all())
    initial = [
        {"category": line.category, "description": line.description, "amount": line.amount}
        for line in saved
    ]
    formset = cast(
        BaseBudgetLineFormSet,
        BudgetLineFormSet(_posted(request), initial=initial, prefix="lines"),
    )
    if request.method == "POST" and formset.is_valid():
        try:
            drafting.application_set_budget(
                application=application, by=request.user, lines=formset.lines()
            )
        except ApplicationError as error:
            return _refused(request, application, error)
        return _section_saved(request, application, "budget")
    context = _section_context(application, "budget")
    context.update(
        formset=formset,
        total=application.requested_amount,  # written with the lines, by the service
        errors=formset.errors_summary() if formset.is_bound else [],
    )
    return render(request, "applications/application_budget.html", context)


def _already_submitted(request: AuthenticatedRequest, application: Application) -> HttpResponse:
    if application.submitted_at is not None and application.status != Status.DRAFT:
        messages.info(
            request,
            _("Cette candidature a déjà été déposée le %(date)s.")
            % {"date": when(application.submitted_at)},
        )
        return redirect("applications:application-detail", application.public_id)
    return _not_editable(request, application)


@login_required
def application_submit(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = selectors.get_application_for(request.user, public_id)
    if not selectors.can_edit(request.user, application):
        # A replayed POST (double click, back button) after the submission lands here.
        return _already_submitted(request, application)
    selectors.with_answers(application)
    form = SubmitForm(_posted(request))
    issues: list[Issue]
    if request.method == "POST":
        valid = form.is_valid()
        try:
            drafting.application_submit(
                application=application,
                by=request.user,
                sworn=valid and bool(form.cleaned_data["sworn"]),
                accept_ineligible=valid and bool(form.cleaned_data["accept_ineligible"]),
            )
        except SubmissionIncomplete as error:
            issues = list(error.issues)
            for issue in issues:
                if issue.field in ("sworn", "accept_ineligible"):
                    form.add_error(issue.field, issue.message)
            context = _section_context(application, "statement")
            context.update(form=form, blocking=_issue_links(application, issues), posted=True)
            return render(request, "applications/application_submit.html", context)
        except ApplicationError as error:
            return _refused(request, application, error)
        _submitted_message(request, application)
        return redirect("applications:application-detail", application.public_id)
    context = _section_context(application, "statement")
    issues = drafting.application_issues(application)
    context.update(form=form, blocking=_issue_links(application, issues), posted=False)
    return render(request, "applications/application_submit.html", context)


def _submitted_message(request: AuthenticatedRequest, application: Application) -> None:
    """The banner after a submission says the outcome when the scoring has already run
    (tasks run in process), else that it is running."""
    values = {"reference": application.reference}
    if application.status == Status.INELIGIBLE:
        messages.warning(
            request,
            _(
                "Votre candidature %(reference)s a été déposée, mais elle a été jugée "
                "inéligible : les raisons et ce que vous pouvez faire sont indiqués ci-dessous."
            )
            % values,
        )
    elif application.status == Status.SUBMITTED:
        messages.success(
            request,
            _(
                "Votre candidature %(reference)s a été déposée. La vérification de son "
                "éligibilité est en cours : son résultat s'affichera sur cette page et vous "
                "sera envoyé par courriel."
            )
            % values,
        )
    else:
        messages.success(
            request,
            _(
                "Votre candidature %(reference)s a été déposée et jugée éligible : elle est "
                "transmise à votre ARS pour instruction. Vous serez informé par courriel de "
                "chaque étape."
            )
            % values,
        )


# --- Evidence files ---------------------------------------------------------------------


@login_required
def evidence_download(
    request: AuthenticatedRequest, public_id: UUID, evidence_id: UUID
) -> FileResponse:
    """Files are private: served only through this scope-checked view."""
    evidence = selectors.get_evidence_for(request.user, public_id, evidence_id)
    audit.record(
        audit.Action.DOWNLOAD,
        request=request,
        obj=evidence.application,
        file=evidence.original_name,
    )
    return evidence_response(evidence)


@login_required
@require_POST
@_editing
def evidence_upload(request: AuthenticatedRequest, application: Application) -> HttpResponse:
    """A file for one answer. The answers page posts its whole form here (the button
    "Envoyer la pièce" of a requirement, `upload` = its answer): the answers typed and
    not yet saved are saved first, so that an upload never loses them, refused or not.
    A post of the file alone (`answer` and `file`) is taken as well."""
    answer_id = str(request.POST.get("upload") or request.POST.get("answer") or "")
    answer = (
        Answer.objects.filter(application=application, pk=int(answer_id))
        .select_related("requirement")
        .first()
        if answer_id.isdigit()
        else None
    )
    if answer is None:
        raise Http404
    selectors.with_answers(application)
    typed = AnswersForm(application.answers.all(), request.POST)
    if typed.bound_forms() and typed.is_valid():
        try:
            drafting.application_save_answers(
                application=application, by=request.user, answers=typed.cleaned_answers()
            )
        except ApplicationError as error:
            return _refused(request, application, error)
    posted_file = request.FILES.get(f"file-{answer.pk}") or request.FILES.get("file")
    replaced_id = request.POST.get(f"replaces-{answer.pk}", request.POST.get("replaces", ""))
    form = EvidenceUploadForm(
        {"answer": answer.pk, "replaces": replaced_id},
        MultiValueDict({"file": [posted_file]} if posted_file else {}),
    )
    status = 400
    if form.is_valid():
        replaces = None
        if form.cleaned_data["replaces"]:
            replaces = get_object_or_404(
                Evidence, answer=answer, public_id=form.cleaned_data["replaces"]
            )
        try:
            evidence = uploads.evidence_add(
                application=application,
                answer=answer,
                uploaded_file=form.cleaned_data["file"],
                by=request.user,
                replaces=replaces,
            )
        except CarePortalError as error:  # EvidenceRejected: type, active content, size…
            form.add_error("file", error.message)
            if isinstance(error, uploads.EvidenceNotStored):
                status = 507  # the storage is full: not the user's file
        else:
            messages.success(
                request,
                _("Pièce « %(name)s » ajoutée pour %(id)s.")
                % {"name": evidence.original_name, "id": answer.requirement.identifier},
            )
            url = reverse("applications:application-answers", args=[application.public_id])
            return HttpResponseRedirect(f"{url}#answer-{answer.requirement_id}")
    # Refused: the page again, with what was typed (saved above unless it was invalid,
    # in which case the bound form shows it with its errors).
    application = selectors.get_application_for(request.user, application.public_id)
    return _render_answers(
        request,
        application,
        form=typed if typed.bound_forms() and not typed.is_valid() else None,
        upload_errors={
            answer.pk: [
                str(e) for field in ("file", "replaces") for e in form.errors.get(field, [])
            ]
        },
        status=status,
    )


@login_required
@require_POST
def evidence_delete(
    request: AuthenticatedRequest, public_id: UUID, evidence_id: UUID
) -> HttpResponse:
    evidence = selectors.get_evidence_for(request.user, public_id, evidence_id)
    application = evidence.application
    if not selectors.can_edit(request.user, application):
        return _not_editable(request, application)
    requirement_id = evidence.answer.requirement_id if evidence.answer else None
    name = evidence.original_name
    try:
        uploads.evidence_delete(evidence=evidence, by=request.user)
    except ApplicationError as error:
        return _refused(request, application, error)
    messages.success(request, _("Pièce « %(name)s » supprimée.") % {"name": name})
    url = reverse("applications:application-answers", args=[application.public_id])
    return HttpResponseRedirect(f"{url}#answer-{requirement_id}" if requirement_id else url)


# --- Rendered PDFs (dossiers and decision letters) ----------------------------------------


def _dossiers_context(user: "User", application: Application) -> dict[str, Any]:
    """The documents' part of the application page (its transitions, dossiers and
    eligibility result loaded)."""
    lines = selectors.dossier_lines(application)
    return {
        "dossier_lines": lines,
        "can_relaunch_dossier": selectors.can_relaunch_dossier(user, application),
        "dossiers_polling": selectors.dossiers_polling(application, lines),
    }


@login_required
def dossier_status(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    """The documents' part of the application page, which the page fetches while a
    document is still to be rendered (or the submission scored) instead of asking for a
    reload. Without workers (tasks run in process) the request renders what is due."""
    application = selectors.get_application_for(request.user, public_id)
    dossiers.dossier_catch_up(application)
    application.refresh_from_db(fields=["status"])
    selectors.with_dossiers(application)
    context = {
        "application": application,
        "eligibility": selectors.eligibility_explanation(request.user, application),
        "can_retry_dossier": selectors.can_retry_dossier(request.user, application),
        **_dossiers_context(request.user, application),
    }
    return render(request, "applications/_dossiers_body.html", context)


@login_required
@require_POST
def dossier_relaunch(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    """The application's users relaunch a document stuck waiting for a worker."""
    application = selectors.get_application_for(request.user, public_id)
    kind = str(request.POST.get("kind", ""))
    if kind not in Dossier.Kind.values:
        raise Http404
    return _relaunched(
        request,
        public_id,
        lambda: dossiers.dossier_relaunch(application=application, kind=kind, by=request.user),
        lambda: (
            _("La génération du PDF « %(label)s » est relancée.")
            % {"label": Dossier.Kind(kind).label}
        ),
    )


def _relaunched(
    request: AuthenticatedRequest,
    public_id: UUID,
    relaunch: Callable[[], object],
    done: Callable[[], str],
) -> HttpResponse:
    """Relaunch a PDF's generation: a move the user may not make is forbidden (403), a
    refused one says why; back to the application's documents."""
    try:
        relaunch()
    except TransitionForbidden:
        raise PermissionDenied from None
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done())
    url = reverse("applications:application-detail", args=[public_id])
    return HttpResponseRedirect(f"{url}#dossiers")


@login_required
def dossier_download(
    request: AuthenticatedRequest, public_id: UUID, dossier_id: UUID
) -> FileResponse:
    """Dossiers are private: served only through this scope-checked view."""
    dossier = selectors.get_dossier_for(request.user, public_id, dossier_id)
    if dossier.status != Dossier.Status.DONE or not dossier.file:
        raise Http404
    audit.record(
        audit.Action.DOWNLOAD,
        request=request,
        obj=dossier.application,
        dossier=dossier.kind,
        version=dossier.version,
    )
    return dossier_response(dossier)


@login_required
@require_POST
def dossier_retry(request: AuthenticatedRequest, public_id: UUID, dossier_id: UUID) -> HttpResponse:
    dossier = selectors.get_dossier_for(request.user, public_id, dossier_id)
    return _relaunched(
        request,
        public_id,
        lambda: dossiers.dossier_retry(dossier=dossier, by=request.user),
        lambda: (
            _("La génération du PDF « %(label)s » (version %(version)d) est relancée.")
            % {"label": dossier.get_kind_display(), "version": dossier.version}
        ),
    )


# --- Withdrawal and messages ----------------------------------------------------------


@login_required
def application_withdraw(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = selectors.get_application_for(request.user, public_id)
    if not selectors.can_withdraw(request.user, application):
        messages.error(request, _("Vous ne pouvez pas retirer cette candidature."))
        return redirect("applications:application-detail", application.public_id)
    form = WithdrawForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            drafting.application_withdraw(
                application=application, by=request.user, comment=form.cleaned_data["comment"]
            )
        except ApplicationError as error:
            return _refused(request, application, error)
        messages.success(
            request,
            _("La candidature %(reference)s a été retirée.") % {"reference": application.reference},
        )
        return redirect("applications:application-detail", application.public_id)
    context = {
        "application": application,
        "form": form,
        "errors": error_summary([form]) if form.is_bound else [],
    }
    return render(request, "applications/application_withdraw.html", context)


@login_required
@require_POST
def message_create(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    application = selectors.get_application_for(request.user, public_id)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, application, message_form=form, status=400)
    try:
        message = drafting.message_post(
            application=application, by=request.user, body=form.cleaned_data["body"]
        )
    except ApplicationError as error:
        return _refused(request, application, error)
    messages.success(request, _("Message envoyé."))
    url = reverse("applications:application-detail", args=[application.public_id])
    return HttpResponseRedirect(f"{url}#message-{message.public_id}")
