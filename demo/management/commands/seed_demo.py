"""`manage.py seed_demo`: the demo data of `demo.directory.seed_demo` (never in prod)."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo import directory as d


class Command(BaseCommand):
    help = (
        "Crée des données de démonstration déterministes, sauf en production : GHT, "
        "entités juridiques et sites, comptes de démonstration, résultats du Volet 1, "
        "appels à financement (D1 clos avec son historique, D2 ouvert) et candidatures "
        "dans tous les états. Idempotent : une nouvelle exécution ne crée rien et ne fait "
        "que garder l'appel D2 ouvert."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=d.DEFAULT_SEED, help="graine du générateur")
        parser.add_argument("--legal-entities", type=int, default=d.DEFAULT_LEGAL_ENTITIES,
                            dest="legal_entities", help="nombre d'entités juridiques")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        try:
            summary = d.seed_demo(seed=options["seed"], legal_entities=options["legal_entities"])
        except (RuntimeError, ValueError) as exc:  # production, size out of bounds
            raise CommandError(str(exc)) from exc
        self.stdout.write("\n".join(d.summary_lines(summary)))
        self.stdout.write(self.style.SUCCESS(f"Terminé en {time.monotonic() - started:.1f} s."))
