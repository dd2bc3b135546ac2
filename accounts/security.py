"""Login protection: lockout after repeated failures (django-axes), throttled password
reset requests, idle and absolute session expiry, and "log out of every device"."""

import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.cache import cache
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

LOCKOUT_STATUS = 429


class LockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check on every login made through a request (the portal's and the
    admin's login pages). Code that authenticates without a request (management
    commands, the test client) has no client to lock out and goes on to the next
    backend."""

    def authenticate(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def retry_time(request: HttpRequest, username: str) -> Any:
    """When the lock on this account or address ends: the last failure plus the
    cool-off period."""
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    condition = Q(ip_address=_client_ip(request))
    if username:
        condition |= Q(username=username)
    last = AccessAttempt.objects.filter(condition).aggregate(last=Max("attempt_time"))["last"]
    return timezone.localtime((last or timezone.now()) + cool_off)


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """The page shown instead of the login form while the account or address is
    locked: it says when to try again (AXES_LOCKOUT_CALLABLE)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    context = {
        "retry_at": retry_time(request, str(username).strip().lower()),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return render(request, "accounts/locked.html", context, status=LOCKOUT_STATUS)


# Password reset requests in a window: at most RESET_LIMIT per e-mail, and
# RESET_IP_LIMIT per client address (a hospital's users may share one address).
RESET_LIMIT = 5
RESET_IP_LIMIT = 20
RESET_WINDOW_SECONDS = 15 * 60


def reset_request_allowed(request: HttpRequest, email: str) -> tuple[bool, Any]:
    """Count one reset request for the client's address and the e-mail; refuse past
    the limit. Returns (allowed, time from which it is allowed again)."""
    now = int(time.time())
    window = now - now % RESET_WINDOW_SECONDS
    retry_at = timezone.localtime(
        timezone.now() + timedelta(seconds=window + RESET_WINDOW_SECONDS - now)
    )
    limits = {
        f"reset:ip:{_client_ip(request)}:{window}": RESET_IP_LIMIT,
        f"reset:email:{email.lower()}:{window}": RESET_LIMIT,
    }
    allowed = True
    for key, limit in limits.items():
        cache.add(key, 0, RESET_WINDOW_SECONDS)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, RESET_WINDOW_SECONDS)
            count = 1
        allowed = allowed and count <= limit
    return allowed, retry_at


# Sessions: an agent (ARS, ministry, staff) is signed out after 30 minutes without a
# request, an establishment user after 2 hours, everyone 12 hours after signing in.
AGENT_IDLE_SECONDS = 30 * 60
ESTABLISHMENT_IDLE_SECONDS = 2 * 60 * 60
ABSOLUTE_SECONDS = 12 * 60 * 60
# The last-seen time is written at most once a minute (a session write per request
# would cost a database write per page).
TOUCH_EVERY_SECONDS = 60


def is_agent(user: Any) -> bool:
    scope = user.scope
    return bool(user.is_staff or scope.national or scope.region_ids)


# Set by a ProConnect login (accounts/proconnect.py): the session's agent was
# authenticated by ProConnect at the eIDAS level required, which counts as the second
# factor (accounts/twofactor.py). Cleared at every other login.
SSO_SESSION_KEY = "care_sso"


def start_session(request: HttpRequest, user: Any) -> None:
    """At login (the session key is rotated by Django's `login`): the session's clock
    and its idle limit."""
    request.session.pop(SSO_SESSION_KEY, None)
    now = int(time.time())
    request.session["care_started"] = now
    request.session["care_seen"] = now
    request.session["care_idle"] = (
        AGENT_IDLE_SECONDS if is_agent(user) else ESTABLISHMENT_IDLE_SECONDS
    )


class SessionExpiryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            session = request.session
            now = int(time.time())
            started = session.get("care_started", now)
            seen = session.get("care_seen", now)
            idle = session.get("care_idle", AGENT_IDLE_SECONDS)
            if now - seen > idle or now - started > ABSOLUTE_SECONDS:
                logout(request)
                messages.info(
                    request,
                    _("Votre session a expiré. Connectez-vous de nouveau pour continuer."),
                )
            elif now - seen >= TOUCH_EVERY_SECONDS or "care_started" not in session:
                session["care_started"] = started
                session["care_seen"] = now
                session["care_idle"] = idle
        return self.get_response(request)


def new_session_token() -> str:
    return secrets.token_hex(16)


def attempted_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The e-mail a login attempt names, as login compares it: case-insensitive
    (AXES_USERNAME_CALLABLE), so that "Alice@…" and "alice@…" share one count."""
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(value).strip().lower()
