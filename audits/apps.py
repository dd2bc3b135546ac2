from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = _("Volet 1 : audits")

    def ready(self) -> None:
        from establishments import directory

        from .directory import VOLET1_COLUMN

        directory.register(VOLET1_COLUMN)
