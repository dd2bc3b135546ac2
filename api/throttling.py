"""Throttling per token (per address for requests without one), in the default cache
(Redis when REDIS_URL is set, so shared by every web process)."""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        # Read at each request, so that the setting can change without a restart of
        # the class (and tests can override it).
        return str(settings.CARE_API_THROTTLE_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str:
        token = request.auth
        ident = (
            f"token-{token.public_id}" if isinstance(token, ApiToken) else self.get_ident(request)
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}
