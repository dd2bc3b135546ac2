"""Rescore a whole call through the workers, showing progress."""

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from applications.models import FundingCall
from applications.scoring import rescore_call, rescoring_progress
from care_portal.celery import app as celery_app


class Command(BaseCommand):
    help = "Recalcule l'éligibilité et le score de toutes les candidatures déposées d'un appel."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--call", required=True, help="Code de l'appel, par exemple D2-2025.")
        parser.add_argument(
            "--timeout", type=int, default=3600, help="Attente maximale des workers (secondes)."
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="Met en file sans attendre la fin."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call = FundingCall.objects.filter(code=options["call"]).first()
        if call is None:
            codes = ", ".join(FundingCall.objects.order_by("code").values_list("code", flat=True))
            raise CommandError(f"Appel inconnu : {options['call']} (appels : {codes or 'aucun'}).")
        started = time.monotonic()
        run, total = rescore_call(call=call)
        self.stdout.write(f"{total} candidature(s) de {call.code} mises en file (lot {run}).")
        if total == 0 or options["no_wait"]:
            return
        if celery_app.conf.task_always_eager:  # no broker: already scored in process
            self._done(total, started)
            return
        deadline = started + options["timeout"]
        done = 0
        while done < total:
            done = min(total, rescoring_progress(run))
            self._bar(done, total)
            if done >= total:
                break
            if time.monotonic() > deadline:
                self.stdout.write("")
                raise CommandError(
                    f"Délai dépassé : {done}/{total} traitées. Les workers tournent-ils "
                    "(make worker) ? Le reste sera traité dès qu'ils le prendront."
                )
            time.sleep(0.5)
        self.stdout.write("")
        self._done(total, started)

    def _bar(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if self.stdout.isatty():
            self.stdout.write(line, ending="")
            sys.stdout.flush()
            return
        decile = 10 * done // total  # not a terminal: one line per tenth
        if decile != getattr(self, "_last_decile", None):
            self._last_decile = decile
            self.stdout.write(line.strip())

    def _done(self, total: int, started: float) -> None:
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"{total} candidature(s) recalculées en {elapsed:.1f} s.")
        )
