"""The words of the application pages and dossiers that depend on data: the next step
of an application, a date and time in words, what each eligibility rule checks, the
labels of a PDF's kind and status. Selectors return data; these filters say it in
French (docs/architecture.md)."""

from datetime import datetime
from typing import Any

from django import template
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..lifecycle import Status
from ..models import Application, Dossier

register = template.Library()

# What each eligibility rule checks (applications/eligibility.py), in a reader's words.
RULE_LABELS = {
    "E1": gettext_lazy("Établissement de santé actif, FINESS valide"),
    "E2": gettext_lazy("Statut juridique éligible à l'appel"),
    "E3": gettext_lazy("Couverture du GHT et candidature unique"),
    "E4": gettext_lazy("Dépôt pendant la période de l'appel"),
    "E5": gettext_lazy("Participation au Volet 1 des entités couvertes"),
    "E6": gettext_lazy("Prérequis atteints, avec leurs pièces"),
    "E7": gettext_lazy("Montant demandé dans le plafond"),
}


@register.filter
def when(moment: datetime) -> str:
    """A date and time in words, in the portal's time zone: "31 octobre 2025 à 23:59"."""
    local = timezone.localtime(moment)
    return _("%(date)s à %(time)s") % {
        "date": formats.date_format(local, "DATE_FORMAT"),
        "time": formats.time_format(local, "TIME_FORMAT"),
    }


@register.filter
def next_step(application: Application) -> str:
    """What happens next, in words, for lists and the application page."""
    status = application.status
    if status == Status.DRAFT:
        if not application.call.is_open():
            return _("Appel clos : la candidature n'a pas été déposée")
        return _("Compléter et déposer avant le %(deadline)s") % {
            "deadline": when(application.call.closes_at)
        }
    steps = {
        Status.SUBMITTED: _("Vérification de l'éligibilité en cours"),
        Status.INELIGIBLE: _(
            "Candidature jugée inéligible : réexamen possible à la demande, ou retrait "
            "puis nouvelle candidature"
        ),
        Status.REGIONAL_REVIEW: _("Instruction par l'ARS"),
        Status.RETURNED: _("Apporter les compléments demandés"),
        Status.NATIONAL_REVIEW: _("Instruction nationale"),
        Status.APPROVED: _("Déclarer l'atteinte des objectifs"),
        Status.REJECTED: _("Aucune action attendue : candidature refusée"),
        Status.WITHDRAWN: _("Aucune action attendue : candidature retirée"),
        Status.OBJECTIVES_DECLARED: _("Vérification des objectifs par l'ARS"),
        Status.OBJECTIVES_CHECKED: _("Validation nationale des objectifs"),
        Status.OBJECTIVES_VALIDATED: _("Paiement en cours"),
        Status.PAID: _("Aucune action attendue : financement versé"),
    }
    return str(steps.get(Status(status), ""))


@register.filter
def rule_label(rule_id: object) -> str:
    """What an eligibility rule ("E1"…) checks; "" for an unknown rule."""
    return str(RULE_LABELS.get(str(rule_id), ""))


@register.filter
def dossier_kind_label(kind: str) -> str:
    """ "Dossier de candidature" or "Lettre de décision"."""
    return str(Dossier.Kind(kind).label)


@register.filter
def dossier_status_label(status: str) -> str:
    return str(Dossier.Status(status).label)


@register.filter
def localized(item: Any, key: str) -> Any:
    """A stored eligibility rule's or factor's wording (`key`: "detail", "label") in the
    reader's language: the French text stored, or its translation stored alongside
    (`eligibility.evaluate_inputs`). Results stored before translations were kept are
    shown in French."""
    language = translation.get_language() or ""
    if isinstance(item, dict):
        translations, original = item.get("translations") or {}, item.get(key, "")
    else:
        translations, original = getattr(item, "translations", {}), getattr(item, key, "")
    worded = translations.get(language.split("-")[0], {}).get(key)
    return worded or original
