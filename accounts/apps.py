from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Comptes et rattachements")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .security import start_session

        def on_login(sender: object, request: object, user: object, **kwargs: object) -> None:
            if request is not None and hasattr(request, "session"):
                start_session(request, user)  # type: ignore[arg-type]

        user_logged_in.connect(on_login, weak=False, dispatch_uid="accounts.start_session")

        from .audit import connect_receivers

        connect_receivers()

        _french_names_of_security_apps()


def _french_names_of_security_apps() -> None:
    """The admin lists django-otp's and django-axes' models under French names (their
    own are English or the bare app label). Only the displayed names change: the models'
    declared options, which migrations read, stay as the packages ship them."""
    from django.apps import apps
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    names = {
        "otp_totp": _("Double authentification : applications"),
        "otp_static": _("Double authentification : codes de secours"),
        "axes": _("Verrouillage des comptes"),
    }
    for label, name in names.items():
        apps.get_app_config(label).verbose_name = name
    TOTPDevice._meta.verbose_name = _("application d'authentification")
    TOTPDevice._meta.verbose_name_plural = _("applications d'authentification")
    StaticDevice._meta.verbose_name = _("jeu de codes de secours")
    StaticDevice._meta.verbose_name_plural = _("jeux de codes de secours")
