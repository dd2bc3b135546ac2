from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import views
from .forms import EmailAuthenticationForm, QueuedPasswordResetForm
from .proconnect import ProConnectCallbackView, ProConnectLoginView

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        views.LoginView.as_view(
            authentication_form=EmailAuthenticationForm,
            template_name="accounts/login.html",
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    # ProConnect single sign-on for agents: 404 while PROCONNECT_CLIENT_ID is unset.
    path("proconnect/connexion/", ProConnectLoginView.as_view(), name="proconnect-login"),
    path("proconnect/retour/", ProConnectCallbackView.as_view(), name="proconnect-callback"),
    path("securite/", views.account_security, name="security"),
    path("notifications/", views.account_notifications, name="notifications"),
    path("api/", views.account_api, name="api-tokens"),
    path("api/revoquer/", views.account_api_revoke, name="api-token-revoke"),
    path("double-authentification/", views.two_factor_verify, name="2fa-verify"),
    path("double-authentification/activer/", views.two_factor_setup, name="2fa-setup"),
    path(
        "double-authentification/codes-de-secours/",
        views.recovery_codes_renew,
        name="2fa-recovery-codes",
    ),
    path(
        "password-reset/",
        views.ThrottledPasswordResetView.as_view(
            form_class=QueuedPasswordResetForm,
            template_name="accounts/password_reset_form.html",
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
            success_url=reverse_lazy("accounts:password-reset-done"),
        ),
        name="password-reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password-reset-complete"),
        ),
        name="password-reset-confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password-reset-complete",
    ),
]
