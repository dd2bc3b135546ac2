from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _

from care_portal.mail import enqueue_email

from .models import User


class EmailAuthenticationForm(AuthenticationForm):
    """Login by e-mail. The field is named `username` (Django's convention); a POST
    that names it `email` is accepted too."""

    username = forms.EmailField(
        label=_("Adresse électronique"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        "invalid_login": _(
            "Adresse électronique ou mot de passe incorrect. Les deux champs respectent "
            "les majuscules et minuscules."
        ),
        "inactive": _("Ce compte est désactivé."),
    }

    def __init__(self, request: Any = None, *args: Any, **kwargs: Any) -> None:
        data = kwargs.get("data")
        if data is not None and "username" not in data and "email" in data:
            data = data.copy()
            data["username"] = data["email"]
            kwargs["data"] = data
        super().__init__(request, *args, **kwargs)


class QueuedPasswordResetForm(PasswordResetForm):
    """Sends the reset e-mail through a Celery task, after the request commits."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        from django.template import loader

        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        enqueue_email(subject=subject, body=body, to=[to_email])


class NotificationsForm(forms.ModelForm):
    """Which e-mails a user receives besides those of their own actions."""

    class Meta:
        model = User
        fields = ["wants_work_digest", "wants_reminders"]
        labels = {
            "wants_work_digest": _("Recevoir le récapitulatif quotidien de mon travail"),
            "wants_reminders": _("Recevoir les rappels d'échéance de mes candidatures"),
        }
        help_texts = {
            "wants_work_digest": _(
                "Agents des ARS et du ministère : chaque matin, les candidatures arrivées ou "
                "en attente, les objectifs à vérifier ou à valider, les paiements à faire. "
                "Rien n'est envoyé les jours sans nouveauté."
            ),
            "wants_reminders": _(
                "Établissements : les compléments attendus dont la date approche ou est "
                "dépassée, et la date limite de déclaration des objectifs."
            ),
        }


# How long a new API token lives (accounts/api_tokens.py: one year at most).
API_TOKEN_LIFETIMES = [
    (30, _("30 jours")),
    (90, _("90 jours")),
    (180, _("180 jours")),
    (365, _("1 an")),
]
API_TOKENS_MAX_ACTIVE = 10


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Nom du jeton"),
        max_length=100,
        help_text=_("Pour le reconnaître ensuite, par exemple « Tableau de bord régional »."),
    )
    days = forms.TypedChoiceField(
        label=_("Durée de validité"),
        choices=API_TOKEN_LIFETIMES,
        coerce=int,
        initial=90,
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Donnez un nom au jeton."))
        return name

    def clean(self) -> dict[str, Any]:
        from django.utils import timezone

        cleaned = super().clean() or {}
        active = self.user.api_tokens.filter(revoked_at=None, expires_at__gt=timezone.now()).count()
        if active >= API_TOKENS_MAX_ACTIVE:
            raise forms.ValidationError(
                _(
                    "Vous avez déjà %(count)d jetons actifs : révoquez-en un avant d'en créer "
                    "un autre."
                )
                % {"count": active}
            )
        return cleaned
