"""Forms of the applicant pages. They parse and validate input; writes go through
`applications.services`."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Answer, BudgetLine


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


class IdentityForm(forms.Form):
    """Identity and contacts. Every field may stay empty while drafting (a warning,
    not an error); an e-mail, when given, must be valid."""

    director_name = forms.CharField(
        label=_("Nom du directeur ou de la directrice"), max_length=150, required=False
    )
    director_email = forms.EmailField(
        label=_("Courriel de la direction"),
        required=False,
        help_text=_("Format attendu : nom@domaine.fr"),
    )
    rssi_name = forms.CharField(
        label=_("Nom du RSSI"),
        max_length=150,
        required=False,
        help_text=_("Responsable de la sécurité des systèmes d'information"),
    )
    rssi_email = forms.EmailField(
        label=_("Courriel du RSSI"), required=False, help_text=_("Format attendu : nom@domaine.fr")
    )
    continuity_lead_name = forms.CharField(
        label=_("Nom du responsable du plan de continuité"), max_length=150, required=False
    )
    continuity_lead_email = forms.EmailField(
        label=_("Courriel du responsable du plan de continuité"),
        required=False,
        help_text=_("Format attendu : nom@domaine.fr"),
    )

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
        kwargs.setdefault("prefix", f"answer-{answer.requirement_id}")
        kwargs.setdefault("initial", {"state": answer.state, "comment": answer.comment})
        super().__init__(*args, **kwargs)
        self.answer = answer
        self.summary_prefix = answer.requirement.identifier


class AnswersForm:
    """One AnswerForm per requirement, validated and saved together (a formset whose
    forms are keyed by requirement rather than counted)."""

    def __init__(self, answers: Iterable[Answer], data: Any = None) -> None:
        self.forms = [AnswerForm(data, answer=answer) for answer in answers]
        self.is_bound = data is not None

    def __iter__(self) -> Any:
        return iter(self.forms)

    def is_valid(self) -> bool:
        return all([form.is_valid() for form in self.forms])  # every form, for its errors

    def cleaned_answers(self) -> dict[int, tuple[str, str]]:
        return {
            form.answer.requirement_id: (form.cleaned_data["state"], form.cleaned_data["comment"])
            for form in self.forms
        }

    def errors(self) -> list[ErrorItem]:
        return error_summary(self.forms)


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
    amount = forms.DecimalField(
        label=_("Montant HT (€)"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
        localize=True,
        error_messages={"required": _("Indiquez le montant hors taxes.")},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
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


class BaseBudgetLineFormSet(forms.BaseFormSet):
    def add_fields(self, form: forms.BaseForm, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Supprimer la ligne %(row)s") % {
                "row": row_number(form.prefix)
            }

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


def _deleted(form: forms.BaseForm) -> bool:
    """A row marked for deletion: its errors do not matter (the formset ignores them)."""
    return bool((getattr(form, "cleaned_data", None) or {}).get("DELETE"))


BudgetLineFormSet = forms.formset_factory(
    BudgetLineForm, formset=BaseBudgetLineFormSet, extra=3, can_delete=True, max_num=200
)


class SubmitForm(forms.Form):
    sworn = forms.BooleanField(
        label=_(
            "Je certifie sur l'honneur l'exactitude des informations fournies dans cette "
            "candidature et des pièces jointes."
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
