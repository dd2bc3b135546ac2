"""Create a personal API token for a user and print it (for operators)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.api_tokens import DEFAULT_LIFETIME_DAYS, MAX_LIFETIME_DAYS, api_token_create
from accounts.models import User


class Command(BaseCommand):
    help = (
        "Crée un jeton d'API personnel pour l'utilisateur EMAIL et l'affiche (une seule "
        "fois : seule son empreinte est conservée)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="Adresse de l'utilisateur.")
        parser.add_argument("--name", default="Jeton créé par un opérateur", help="Nom du jeton.")
        parser.add_argument(
            "--days",
            type=int,
            default=DEFAULT_LIFETIME_DAYS,
            help=f"Durée de validité en jours (1 à {MAX_LIFETIME_DAYS}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError(f"Utilisateur inconnu : {options['email']}.")
        if not user.is_active:
            raise CommandError(f"Le compte {user.email} est désactivé : pas de jeton.")
        days = options["days"]
        if not 1 <= days <= MAX_LIFETIME_DAYS:
            raise CommandError(f"--days doit être compris entre 1 et {MAX_LIFETIME_DAYS}.")
        row, token = api_token_create(user=user, name=options["name"], days=days)
        self.stderr.write(
            f"Jeton « {row.name} » de {user.email}, valable jusqu'au "
            f"{timezone.localtime(row.expires_at):%d/%m/%Y %H:%M}. Il ne sera plus affiché."
        )
        self.stdout.write(token)
