from django.apps import AppConfig


class CrispyDsfrConfig(AppConfig):
    """The in-repo crispy-forms template pack that renders fields as DSFR markup."""

    name = "crispy_dsfr"
    verbose_name = "Crispy DSFR"
