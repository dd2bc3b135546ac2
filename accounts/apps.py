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
