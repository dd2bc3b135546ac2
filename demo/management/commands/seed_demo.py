"""`manage.py seed_demo`: the demo directory, one account per role, Volet 1 results, the
funding calls and their applications (never in prod)."""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.directory import (
    DEFAULT_LEGAL_ENTITIES,
    DEFAULT_SEED,
    MAX_LEGAL_ENTITIES,
    MIN_LEGAL_ENTITIES,
    DemoSeedRefused,
    seed_demo,
    summary_lines,
)


class Command(BaseCommand):
    help = (
        "Crée des données de démonstration déterministes, sauf en production : GHT, "
        "entités juridiques et sites, comptes de démonstration, résultats du Volet 1, "
        "appels à financement (D1 clos avec son historique, D2 ouvert) et candidatures "
        "dans tous les états. Idempotent : une nouvelle exécution ne crée rien et ne fait "
        "que garder l'appel D2 ouvert."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=f"graine du générateur (défaut : {DEFAULT_SEED}) ; même graine, mêmes données",
        )
        parser.add_argument(
            "--legal-entities",
            type=int,
            default=DEFAULT_LEGAL_ENTITIES,
            dest="legal_entities",
            help=(
                f"nombre d'entités juridiques (défaut : {DEFAULT_LEGAL_ENTITIES}, "
                f"de {MIN_LEGAL_ENTITIES} à {MAX_LEGAL_ENTITIES}) ; environ deux sites chacune"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.CARE_ENVIRONMENT == "prod":
            raise CommandError(
                "seed_demo est interdit en production : les comptes de démonstration ont un "
                "mot de passe public (refused when CARE_ENVIRONMENT=prod)."
            )
        count = options["legal_entities"]
        if not MIN_LEGAL_ENTITIES <= count <= MAX_LEGAL_ENTITIES:
            raise CommandError(
                f"--legal-entities doit être compris entre {MIN_LEGAL_ENTITIES} et "
                f"{MAX_LEGAL_ENTITIES} ({count} donné)."
            )
        started = time.monotonic()
        try:
            summary = seed_demo(seed=options["seed"], legal_entities=count, stdout=self.stdout)
        except DemoSeedRefused as exc:
            raise CommandError(str(exc)) from exc
        except (RuntimeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        for line in summary_lines(summary):
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Terminé en {time.monotonic() - started:.1f} s."))
