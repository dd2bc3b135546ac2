"""What drf-spectacular cannot guess: the token's security scheme."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": str(
                _(
                    "Un jeton personnel, créé sur la page « API » de votre compte (affiché "
                    "une seule fois) ou par `manage.py create_api_token EMAIL`."
                )
            ),
        }
