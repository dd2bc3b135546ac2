"""A mail backend for the tests of failed sendings (settings.EMAIL_BACKEND =
"tests.mailers.RefusingBackend")."""

from django.core.mail.backends.base import BaseEmailBackend

REFUSING_BACKEND = "tests.mailers.RefusingBackend"


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses every message."""

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        raise ConnectionRefusedError("le serveur de messagerie refuse la connexion")
