"""`Authorization: Bearer <token>`: a personal API token (accounts/api_tokens.py)."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.api_tokens import api_token_authenticate

KEYWORD = "Bearer"


class BearerTokenAuthentication(BaseAuthentication):
    """The request's user is the token's; `request.auth` is the `ApiToken`. A request
    without the header is anonymous (and refused by the API's permission: 401)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(
                _("En-tête Authorization invalide : « Bearer <jeton> » attendu.")
            )
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_("Jeton invalide, expiré ou révoqué.")) from None
        row = api_token_authenticate(token)
        if row is None:
            raise AuthenticationFailed(_("Jeton invalide, expiré ou révoqué."))
        return row.user, row

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'
