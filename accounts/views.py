"""Account pages beyond Django's own: throttled password reset, the account's
security page ("log out of every device"), two-factor enrolment and verification, the
personal API tokens."""

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import api_tokens, proconnect, twofactor
from .audit import Action, record
from .forms import ApiTokenForm, NotificationsForm
from .models import ApiToken
from .security import new_session_token, reset_request_allowed
from .typing import AuthenticatedRequest


class LogoutView(auth_views.LogoutView):
    """Django's logout; after a ProConnect login, then on to ProConnect's own logout."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        end_session = proconnect.end_session_url(request)  # before the session is flushed
        response = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(end_session) if end_session else response


class LoginView(auth_views.LoginView):
    """The login page; with ProConnect configured, its "Se connecter avec ProConnect"
    button for agents."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["proconnect_enabled"] = proconnect.enabled()
        return context


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


@login_required
@never_cache  # the page that shows a new token once must not be kept anywhere
@require_http_methods(["GET", "POST"])
def account_api(request: AuthenticatedRequest) -> HttpResponse:
    """The user's API tokens: create one (shown once), see when each was last used,
    revoke. An agent who must give the second factor gives it first."""
    user = request.user
    second_factor_missing = twofactor.two_factor_required(
        user
    ) and not twofactor.strongly_authenticated(request)
    form = ApiTokenForm(request.POST or None, user=user)
    created: tuple[ApiToken, str] | None = None
    if request.method == "POST":
        if second_factor_missing:
            return redirect("accounts:2fa-verify")
        if form.is_valid():
            created = api_tokens.api_token_create(
                user=user,
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
                request=request,
            )
            form = ApiTokenForm(user=user)
    context = {
        "form": form,
        "tokens": user.api_tokens.all(),
        "created": created,
        "second_factor_missing": second_factor_missing,
        "now": timezone.now(),
    }
    return render(request, "accounts/api_tokens.html", context)


@login_required
@require_POST
def account_api_revoke(request: AuthenticatedRequest) -> HttpResponse:
    """Revoke one of the user's own tokens (anyone else's is "not found")."""
    try:
        public_id = UUID(request.POST.get("token", ""))
    except ValueError:
        raise Http404 from None
    token = ApiToken.objects.filter(user=request.user, public_id=public_id).first()
    if token is None:
        raise Http404
    if api_tokens.api_token_revoke(token=token, by=request.user, request=request):
        messages.success(request, _("Le jeton « %(name)s » est révoqué.") % {"name": token.name})
    else:
        messages.info(request, _("Ce jeton était déjà révoqué."))
    return redirect("accounts:api-tokens")
