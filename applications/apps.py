"""The applications app: its configuration, and the lifecycle hooks loaded when ready."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("Volet 2 : candidatures")

    def ready(self) -> None:
        # The lifecycle's on-enter hooks are registered by the modules owning the work
        # (`@on_enter`): import them once the models are loaded, so that the web
        # processes, the workers and the tests all run the same hooks.
        from . import dossiers, drafting, evidence, scoring  # noqa: F401
