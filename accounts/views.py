"""Account pages beyond Django's own: throttled password reset, the account's
security page ("log out of every device"), two-factor enrolment and verification."""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from . import twofactor
from .audit import Action, record
from .forms import NotificationsForm
from .security import new_session_token, reset_request_allowed
from .typing import AuthenticatedRequest


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    """Django's reset view, refusing more than a few requests per address and per
    e-mail in a quarter of an hour, with a message saying when to try again."""

    def form_valid(self, form: Any) -> HttpResponse:
        allowed, retry_at = reset_request_allowed(self.request, form.cleaned_data["email"])
        if not allowed:
            form.add_error(
                None,
                _("Trop de demandes de réinitialisation. Réessayez à partir de %(time)s.")
                % {"time": formats.time_format(retry_at, "H\\hi")},
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        record(
            Action.PASSWORD_RESET_REQUESTED,
            request=self.request,
            actor_email=form.cleaned_data["email"].lower()[:254],
        )
        return super().form_valid(form)


@login_required
@require_http_methods(["GET", "POST"])
def account_security(request: AuthenticatedRequest) -> HttpResponse:
    if request.method == "POST":
        user = request.user
        user.session_token = new_session_token()
        user.save(update_fields=["session_token"])
        record(Action.LOGOUT_EVERYWHERE, request=request)
        logout(request)
        messages.success(
            request,
            _("Vous êtes déconnecté de tous vos appareils. Connectez-vous de nouveau."),
        )
        return redirect("accounts:login")
    return render(
        request, "accounts/security.html", {"memberships": request.user.memberships.all()}
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_notifications(request: AuthenticatedRequest) -> HttpResponse:
    """Turn each daily e-mail (work digest, reminders) on or off."""
    form = NotificationsForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Vos préférences de notification sont enregistrées."))
        return redirect("accounts:notifications")
    return render(request, "accounts/notifications.html", {"form": form})


class TokenForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code à usage unique"),
        help_text=gettext_lazy(
            "Les 6 chiffres affichés par votre application d'authentification, ou un de "
            "vos codes de secours."
        ),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: AuthenticatedRequest) -> HttpResponse:
    """Enrolment: scan the QR code, type the first code, receive the recovery codes."""
    device = twofactor.enrolment_device(request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = twofactor.enrolment_confirm(request, device, form.cleaned_data["code"])
        if codes is not None:
            record(Action.TWO_FACTOR_ENROLLED, request=request)
            return render(
                request,
                "accounts/2fa_codes.html",
                {"codes": codes, "next": twofactor.safe_next(request)},
            )
        form.add_error("code", _("Ce code n'est pas valide. Vérifiez l'heure de votre téléphone."))
    context = {
        "form": form,
        "qr_code": twofactor.qr_code_svg(device),
        "secret": twofactor.secret_for_manual_entry(device),
        "next": twofactor.safe_next(request, ""),
        "replacing": twofactor.confirmed_device(request.user) is not None,
    }
    return render(request, "accounts/2fa_setup.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: AuthenticatedRequest) -> HttpResponse:
    if twofactor.confirmed_device(request.user) is None:
        return redirect("accounts:2fa-setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = twofactor.verify(request, form.cleaned_data["code"])
        record(
            Action.TWO_FACTOR_VERIFIED if outcome == "ok" else Action.TWO_FACTOR_FAILED,
            request=request,
            outcome=outcome,
        )
        if outcome == "ok":
            return redirect(twofactor.safe_next(request))
        if outcome == "throttled":
            form.add_error(
                "code",
                _("Trop d'essais infructueux : patientez quelques secondes, puis réessayez."),
            )
        else:
            form.add_error(
                "code",
                _("Ce code n'est pas valide ou a déjà servi. Réessayez avec un nouveau code."),
            )
    return render(
        request,
        "accounts/2fa_verify.html",
        {"form": form, "next": twofactor.safe_next(request, "")},
    )


@login_required
@require_http_methods(["POST"])
def recovery_codes_renew(request: AuthenticatedRequest) -> HttpResponse:
    if not twofactor.is_verified(request.user):
        return redirect("accounts:2fa-verify")
    codes = twofactor.recovery_codes_renew(request.user)
    record(Action.RECOVERY_CODES_RENEWED, request=request)
    return render(request, "accounts/2fa_codes.html", {"codes": codes, "next": ""})
