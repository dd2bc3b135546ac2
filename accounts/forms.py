from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _

from care_portal.mail import enqueue_email


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
