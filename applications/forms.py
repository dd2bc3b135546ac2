"""Forms of the applicant pages. They parse and validate input; writes go through
`applications.drafting`."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from care_portal.forms import AmountField

from .drafting import IDENTITY_FIELDS
from .models import Answer, Application, BudgetLine


@dataclass(frozen=True)
class ErrorItem:
    """One line of an error summary: a message and the id of the control to fix
    (RGAA 11.10: the summary links to each field in error)."""

    target: str
    label: str
    message: str


def _control_id(bound: forms.BoundField) -> str:
    # A radio group has no single control: link to its first option (Django names it
    # `<auto_id>_0`), so following the link puts the focus in the group.
    if isinstance(bound.field.widget, forms.RadioSelect):
        return f"{bound.auto_id}_0"
    return bound.id_for_label or bound.auto_id or ""


def error_summary(forms_: Iterable[forms.BaseForm], *, prefix: str = "") -> list[ErrorItem]:
    """Every error of these forms, field by field, in page order."""
    items: list[ErrorItem] = []
    for form in forms_:
        label_prefix = getattr(form, "summary_prefix", prefix)
        first_id = ""
        for bound in form:
            if not first_id and not bound.is_hidden:
                first_id = _control_id(bound)
        for error in form.non_field_errors():
            items.append(ErrorItem(first_id, label_prefix, str(error)))
        for bound in form:
            for error in bound.errors:
                label = f"{label_prefix} – {bound.label}" if label_prefix else str(bound.label)
                items.append(ErrorItem(_control_id(bound), label, str(error)))
    return items


class IdentityForm(forms.ModelForm):
    """Identity and contacts: the six contact fields of `Application`, whose lengths
    and formats come from the model (an address longer than the column is an error at
    the field, not a 500). Every field may stay empty while drafting (a warning, not an
    error); an e-mail, when given, must be valid.

    Bound with `initial` and no instance: it only validates, and
    `drafting.application_update_identity` writes (the application in memory is left
    as saved while the page shows the errors)."""

    class Meta:
        model = Application
        fields = IDENTITY_FIELDS
        labels = {
            "director_name": _("Nom du directeur ou de la directrice"),
            "director_email": _("Courriel de la direction"),
            "rssi_name": _("Nom du RSSI"),
            "rssi_email": _("Courriel du RSSI"),
            "continuity_lead_name": _("Nom du responsable du plan de continuité"),
            "continuity_lead_email": _("Courriel du responsable du plan de continuité"),
        }
        help_texts = {
            "director_email": _("Format attendu : nom@domaine.fr"),
            "rssi_name": _("Responsable de la sécurité des systèmes d'information"),
            "rssi_email": _("Format attendu : nom@domaine.fr"),
            "continuity_lead_email": _("Format attendu : nom@domaine.fr"),
        }

    # (legend, fields) of the page's three fieldsets.
    GROUPS = (
        (_("Direction"), ("director_name", "director_email")),
        (_("Sécurité des systèmes d'information"), ("rssi_name", "rssi_email")),
        (
            _("Plan de continuité et de reprise d'activité"),
            ("continuity_lead_name", "continuity_lead_email"),
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("director_email", "rssi_email", "continuity_lead_email"):
            self.fields[name].widget.attrs["autocomplete"] = "email"
        for name in ("director_name", "rssi_name", "continuity_lead_name"):
            self.fields[name].widget.attrs["autocomplete"] = "name"

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(str(legend), [self[name] for name in names]) for legend, names in self.GROUPS]


def answer_prefix(requirement_id: int) -> str:
    """The prefix of a requirement's controls on the answers page."""
    return f"answer-{requirement_id}"


class AnswerForm(forms.Form):
    """The answer to one requirement; its prefix is `answer-<requirement id>`."""

    state = forms.ChoiceField(
        label=_("Réponse"),
        choices=Answer.State.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Commentaire"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Précisez l'état d'avancement, les échéances ou les pièces jointes."),
    )

    def __init__(self, *args: Any, answer: Answer, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", answer_prefix(answer.requirement_id))
        kwargs.setdefault("initial", {"state": answer.state, "comment": answer.comment})
        super().__init__(*args, **kwargs)
        self.answer = answer
        self.summary_prefix = answer.requirement.identifier


def _answer_posted(data: Any, answer: Answer) -> bool:
    """Whether the post carries this requirement's controls. A browser always sends the
    comment (a textarea, even empty) and sends the state once a radio is checked; a
    requirement with neither was not on the page that posted (an empty or partial
    post, a replay), and a missing key must not be read as "cleared"."""
    prefix = answer_prefix(answer.requirement_id)
    return f"{prefix}-comment" in data or f"{prefix}-state" in data


class AnswersForm:
    """One AnswerForm per requirement, validated and saved together (a formset whose
    forms are keyed by requirement rather than counted). Only the requirements present
    in the posted data are bound, validated and saved; the others keep their saved
    answer (their forms stay unbound, showing it)."""

    def __init__(self, answers: Iterable[Answer], data: Any = None) -> None:
        self.forms = [
            AnswerForm(
                data if data is not None and _answer_posted(data, answer) else None, answer=answer
            )
            for answer in answers
        ]
        self.is_bound = data is not None

    def __iter__(self) -> Any:
        return iter(self.forms)

    def bound_forms(self) -> list[AnswerForm]:
        return [form for form in self.forms if form.is_bound]

    def is_valid(self) -> bool:
        return all([form.is_valid() for form in self.bound_forms()])  # each, for its errors

    def cleaned_answers(self) -> dict[int, tuple[str, str]]:
        """(state, comment) by requirement id, for the posted requirements only."""
        return {
            form.answer.requirement_id: (form.cleaned_data["state"], form.cleaned_data["comment"])
            for form in self.bound_forms()
        }

    def errors(self) -> list[ErrorItem]:
        return error_summary(self.bound_forms())


class EvidenceUploadForm(forms.Form):
    """One file for one answer, posted on its own (a small form per requirement)."""

    answer = forms.IntegerField(widget=forms.HiddenInput)
    file = forms.FileField(
        label=_("Ajouter une pièce"),
        error_messages={
            "required": _("Choisissez un fichier à envoyer."),
            "empty": _("Le fichier envoyé est vide."),
        },
    )
    # The public id of a current file of the same answer that this one supersedes.
    replaces = forms.UUIDField(
        required=False, error_messages={"invalid": _("Choisissez la pièce à remplacer.")}
    )


class BudgetLineForm(forms.Form):
    category = forms.ChoiceField(
        label=_("Catégorie"),
        choices=[("", _("Choisir une catégorie")), *BudgetLine.Category.choices],
        error_messages={"required": _("Choisissez une catégorie.")},
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=500,
        error_messages={"required": _("Décrivez la dépense.")},
    )
    amount = AmountField(
        label=_("Montant HT (€)"),
        min_value=Decimal("0"),
        error_messages={"required": _("Indiquez le montant hors taxes.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Labels name the row: the same label on every row would not tell screen-reader
        # users which line they are on (the table's header shows the short label).
        self.row = row_number(self.prefix)
        for bound_field in self.fields.values():
            bound_field.label = _("%(label)s (ligne %(row)s)") % {
                "label": bound_field.label,
                "row": self.row,
            }


def row_number(prefix: str | None) -> int:
    """1 for the form `lines-0` of a formset."""
    index = str(prefix or "").rsplit("-", 1)[-1]
    return int(index) + 1 if index.isdigit() else 1


# The total of the lines is stored in `Application.requested_amount` (12 digits, 2 of
# them decimals): it must fit there.
MAX_BUDGET_TOTAL = Decimal("9999999999.99")
MAX_BUDGET_LINES = 200


class BaseBudgetLineFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_many_forms": _("Un budget compte au plus %(num)d lignes : regroupez des dépenses."),
    }

    def add_fields(self, form: forms.BaseForm, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Supprimer la ligne %(row)s") % {
                "row": row_number(form.prefix)
            }

    def clean(self) -> None:
        """The total of the lines kept must fit in the requested amount."""
        super().clean()
        total = sum(
            (
                form.cleaned_data["amount"]
                for form in self.forms
                if not _deleted(form) and (form.cleaned_data or {}).get("amount") is not None
            ),
            Decimal("0"),
        )
        if total > MAX_BUDGET_TOTAL:
            raise forms.ValidationError(
                _(
                    "Le total des lignes (%(total)s €) dépasse le montant maximal d'une "
                    "demande (%(max)s €) : réduisez les montants ou supprimez des lignes."
                ),
                code="total_too_large",
                params={"total": _euros(total), "max": _euros(MAX_BUDGET_TOTAL)},
            )

    def lines(self) -> list[dict[str, object]]:
        """The lines to keep: filled rows not marked for deletion (the empty extra
        rows have no cleaned data)."""
        return [
            {
                "category": form.cleaned_data["category"],
                "description": form.cleaned_data["description"],
                "amount": form.cleaned_data["amount"],
            }
            for form in self.forms
            if form.cleaned_data and not _deleted(form)
        ]

    def errors_summary(self) -> list[ErrorItem]:
        label = str(_("Budget"))
        items = [ErrorItem("budget-lines", label, str(e)) for e in self.non_form_errors()]
        return items + error_summary(form for form in self.forms if not _deleted(form))


def _euros(amount: Decimal) -> str:
    return formats.number_format(amount, 2, use_l10n=True, force_grouping=True)


def _deleted(form: forms.BaseForm) -> bool:
    """A row marked for deletion: its errors do not matter (the formset ignores them)."""
    return bool((getattr(form, "cleaned_data", None) or {}).get("DELETE"))


# At most MAX_BUDGET_LINES rows: the page never shows more (the extra empty rows stop
# there), and a post of more is refused with a message rather than processed. Its
# absolute_max is the same number, so that a post claiming thousands of rows builds and
# renders no more than that (Django's default, max_num + 1000, re-rendered up to 1,200
# rows, 2.3 MB and seconds of work for one small post).
BudgetLineFormSet = forms.formset_factory(
    BudgetLineForm,
    formset=BaseBudgetLineFormSet,
    extra=3,
    can_delete=True,
    max_num=MAX_BUDGET_LINES,
    validate_max=True,
    absolute_max=MAX_BUDGET_LINES,
)


class SubmitForm(forms.Form):
    sworn = forms.BooleanField(
        label=_(
            "Je certifie sur l'honneur l'exactitude des informations fournies dans cette "
            "candidature et des pièces jointes."
        ),
        required=False,
    )
    # Shown only when the eligibility preview says the application would be ineligible;
    # `drafting.application_submit` then refuses without it.
    accept_ineligible = forms.BooleanField(
        label=_(
            "Je comprends que ma candidature sera jugée inéligible et je la dépose quand même."
        ),
        required=False,
    )


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Votre message"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": _("Écrivez votre message avant de l'envoyer.")},
    )


class WithdrawForm(forms.Form):
    comment = forms.CharField(
        label=_("Motif du retrait (facultatif)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class StartForm(forms.Form):
    call = forms.UUIDField(widget=forms.HiddenInput)
    candidate = forms.UUIDField(widget=forms.HiddenInput)
