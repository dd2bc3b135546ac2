"""Personal tokens of the read-only API: created by their user (the account's API
page) or by an operator (`manage.py create_api_token EMAIL`), shown once, stored as
their SHA-256 only, refused once expired or revoked. The API's authentication class
(api/authentication.py) finds a token's user with `api_token_authenticate`."""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from . import audit
from .models import ApiToken, User

# "care_" then 43 URL-safe characters (256 random bits).
TOKEN_PREFIX = "care_"  # noqa: S105 - a public marker, not a secret
PREFIX_LENGTH = len(TOKEN_PREFIX) + 6  # what the pages show of a token: care_AbC123
DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 365
# `last_used_at` is written at most this often per token (not on every request).
LAST_USED_PRECISION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *,
    user: User,
    name: str,
    days: int = DEFAULT_LIFETIME_DAYS,
    by: User | None = None,
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """A new token of `user`, valid `days` days (1 to MAX_LIFETIME_DAYS); returns the
    row and the token itself, which nothing can show again."""
    if not 1 <= days <= MAX_LIFETIME_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_LIFETIME_DAYS}")
    if not user.is_active:
        raise ValueError("an inactive user cannot hold an API token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user,
        name=name.strip()[:100],
        prefix=token[:PREFIX_LENGTH],
        key_hash=token_hash(token),
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit.record(
        audit.Action.API_TOKEN_CREATED,
        request=request,
        actor=by or user,
        obj=row,
        owner=user.email,
        prefix=row.prefix,
        expires_at=row.expires_at.isoformat(),
    )
    return row, token


def api_token_revoke(*, token: ApiToken, by: User, request: HttpRequest | None = None) -> bool:
    """Revoke a token (idempotent); False if it already was."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if updated:
        audit.record(
            audit.Action.API_TOKEN_REVOKED,
            request=request,
            actor=by,
            obj=token,
            prefix=token.prefix,
        )
    return bool(updated)


def api_token_authenticate(token: str) -> ApiToken | None:
    """The usable token (with its user, active) that `token` is, or None: unknown,
    expired, revoked, or its user deactivated. Notes when it was last used."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = ApiToken.objects.select_related("user").filter(key_hash=token_hash(token)).first()
    now = timezone.now()
    if row is None or not row.is_usable(now) or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row
