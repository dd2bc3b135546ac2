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
