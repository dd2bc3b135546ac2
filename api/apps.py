from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("API en lecture seule")

    def ready(self) -> None:
        # The security scheme of the token authentication, for drf-spectacular.
        from . import schema  # noqa: F401
