from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for development and tests (`manage.py seed_demo`): installed by the dev
    and test settings only, never in production."""

    name = "demo"
    verbose_name = "Données de démonstration"
