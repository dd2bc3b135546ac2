"""ProConnect: the state's OpenID Connect single sign-on, for ARS and ministry agents.

Built on mozilla-django-oidc, configured only by environment variables
(settings.PROCONNECT_*) and off unless PROCONNECT_CLIENT_ID is set: while it is off, the
two URLs answer 404 and the login page shows no button.

- The endpoints come from the provider's discovery document (PROCONNECT_DISCOVERY_URL),
  fetched once an hour.
- The authorisation request carries state, nonce and acr_values (PROCONNECT_ACR_VALUES,
  "eidas1"); the library checks state and nonce, this module checks the ID token's
  issuer, audience and acr (at least the level asked for).
- The account is found by e-mail among the active users who hold a regional or
  ministry membership. Single sign-on never creates an account (`create_user` refuses):
  an agent without one gets a French page saying whom to ask.
- A ProConnect login counts as strong authentication: ProConnect's identity providers
  authenticate the agent at the eIDAS level checked here, so the portal's own TOTP
  second factor is not asked again for that session (twofactor.SSO_SESSION_KEY).
- Every login and every refusal is written to the audit trail, with its reason.
- Logging out of the portal after a ProConnect login ends the ProConnect session too
  (its end_session_endpoint, with the ID token as hint).
"""

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.utils.translation import gettext_lazy as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from .audit import Action, record
from .security import SSO_SESSION_KEY

LOGGER = logging.getLogger(__name__)

METHOD = "proconnect"
DISCOVERY_CACHE_SECONDS = 60 * 60
TIMEOUT_SECONDS = 10
# eIDAS levels, lowest first: a token at or above the level asked for is accepted.
EIDAS_LEVELS = ("eidas1", "eidas2", "eidas3")

# Why a ProConnect login was refused (the reason is written to the audit trail).
NO_ACCOUNT = "no_account"
WEAK_ACR = "acr"
INVALID = "invalid_response"
CANCELLED = "cancelled"
UNAVAILABLE = "unavailable"
REFUSAL_STATUS = {NO_ACCOUNT: 403, WEAK_ACR: 403, INVALID: 400, CANCELLED: 403, UNAVAILABLE: 502}


def enabled() -> bool:
    return bool(getattr(settings, "PROCONNECT_CLIENT_ID", ""))


def discovery() -> dict[str, Any]:
    """The provider's discovery document (issuer and endpoints), cached an hour."""
    url = settings.PROCONNECT_DISCOVERY_URL
    if not url:
        raise ImproperlyConfigured("PROCONNECT_DISCOVERY_URL is required with PROCONNECT_CLIENT_ID")
    key = f"proconnect:discovery:{url}"
    document = cache.get(key)
    if document is None:
        response = requests.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        document = response.json()
        missing = {
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
        } - set(document)
        if missing:
            raise SuspiciousOperation(f"ProConnect discovery lacks {sorted(missing)}")
        cache.set(key, document, DISCOVERY_CACHE_SECONDS)
    return dict(document)


def requested_acr() -> list[str]:
    return str(settings.PROCONNECT_ACR_VALUES).split()


def acr_accepted(acr: Any) -> bool:
    """The token's acr is one asked for, or an eIDAS level at least as high as the
    lowest one asked for."""
    wanted = requested_acr()
    if not isinstance(acr, str) or not acr:
        return False
    if acr in wanted:
        return True
    levels = [EIDAS_LEVELS.index(value) for value in wanted if value in EIDAS_LEVELS]
    return acr in EIDAS_LEVELS and bool(levels) and EIDAS_LEVELS.index(acr) >= min(levels)


_SETTINGS_FROM_DISCOVERY = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def oidc_setting(name: str, *default: Any) -> Any:
    """mozilla-django-oidc's settings, made from PROCONNECT_* and the discovery
    document rather than from OIDC_* settings."""
    if name in _SETTINGS_FROM_DISCOVERY:
        return discovery()[_SETTINGS_FROM_DISCOVERY[name]]
    values: dict[str, Any] = {
        "OIDC_RP_CLIENT_ID": settings.PROCONNECT_CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": settings.PROCONNECT_CLIENT_SECRET,
        "OIDC_RP_SIGN_ALGO": settings.PROCONNECT_SIGN_ALGO,
        "OIDC_RP_IDP_SIGN_KEY": None,  # the keys come from the JWKS endpoint
        "OIDC_RP_SCOPES": settings.PROCONNECT_SCOPES,
        "OIDC_AUTH_REQUEST_EXTRA_PARAMS": {"acr_values": " ".join(requested_acr())},
        "OIDC_AUTHENTICATION_CALLBACK_URL": "accounts:proconnect-callback",
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": True,
        "OIDC_CREATE_USER": True,  # reaches create_user, which refuses (see below)
        "OIDC_STORE_ID_TOKEN": True,  # the hint of the logout at ProConnect
        "OIDC_TIMEOUT": TIMEOUT_SECONDS,
        "OIDC_VERIFY_SSL": True,
        "OIDC_REDIRECT_FIELD_NAME": "next",
        "LOGIN_REDIRECT_URL": settings.LOGIN_REDIRECT_URL,
    }
    if name in values:
        return values[name]
    if default:
        return getattr(settings, name, default[0])
    return getattr(settings, name)


def _refuse(request: HttpRequest, reason: str) -> None:
    """Note why the login is refused, for the page and the audit trail."""
    request.proconnect_refusal = reason  # type: ignore[attr-defined]


class ProConnectBackend(OIDCAuthenticationBackend):
    """Authenticates only the callback of a ProConnect login (with its nonce), and only
    an existing agent account."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads its settings here; they are read when a login happens, so
        # that the backend costs nothing (and needs no network) while ProConnect is off.
        self.UserModel = get_user_model()

    def _configure(self) -> None:
        super().__init__()

    def authenticate(self, request: Any, **kwargs: Any) -> Any:
        if request is None or "nonce" not in kwargs or not enabled():
            return None  # a password login, or ProConnect is off
        self._configure()
        self.acr = None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token: str, **kwargs: Any) -> Any:
        payload = super().verify_token(token, **kwargs)
        if "nonce" in kwargs:  # the ID token (a signed userinfo answer has no nonce)
            self._check_id_token(payload)
        return payload

    def _check_id_token(self, payload: dict[str, Any]) -> None:
        issuer = discovery()["issuer"]
        if payload.get("iss") != issuer:
            raise SuspiciousOperation("ProConnect ID token: wrong issuer")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.PROCONNECT_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ProConnect ID token: wrong audience")
        if not acr_accepted(payload.get("acr")):
            _refuse(self.request, WEAK_ACR)
            raise SuspiciousOperation(f"ProConnect ID token: acr {payload.get('acr')!r}")
        self.acr = payload["acr"]

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        claims = super().get_userinfo(access_token, id_token, payload)
        # OpenID Connect Core 5.3.2: the userinfo answer is about the ID token's subject.
        if not isinstance(claims, dict) or claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("ProConnect userinfo: another subject than the ID token")
        return claims

    def filter_users_by_claims(self, claims: dict[str, Any]) -> QuerySet:
        from .models import Membership

        email = str(claims.get("email") or "").strip()
        self.request.proconnect_email = email[:254]
        if not email:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(
            email__iexact=email,
            is_active=True,
            memberships__role__in=[Membership.Role.REGIONAL, Membership.Role.MINISTRY],
        ).distinct()

    def create_user(self, claims: dict[str, Any]) -> Any:
        """Single sign-on never creates an account: the agent's account must exist,
        with a regional or ministry membership, before the first ProConnect login."""
        _refuse(self.request, NO_ACCOUNT)
        raise SuspiciousOperation("ProConnect: no agent account for this e-mail")

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        user.login_method = METHOD  # read by the audit trail's login receiver
        user.login_acr = self.acr
        return user


class ProConnectLoginView(OIDCAuthenticationRequestView):
    """Sends the agent to ProConnect with state, nonce, PKCE and acr_values."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except (requests.RequestException, ValueError, SuspiciousOperation):
            LOGGER.exception("ProConnect discovery failed")
            return refusal_page(request, UNAVAILABLE)
        self.OIDC_RP_CLIENT_ID = settings.PROCONNECT_CLIENT_ID
        return super().get(request)


class ProConnectCallbackView(OIDCAuthenticationCallbackView):
    """ProConnect's answer: logs the agent in, or says in French why not."""

    get_settings = staticmethod(oidc_setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404
        if request.GET.get("error"):
            _refuse(request, CANCELLED)
        try:
            return super().get(request)
        except (SuspiciousOperation, jwt.PyJWTError) as error:  # state, nonce, signature,
            # expiry, issuer, audience, acr
            LOGGER.warning("ProConnect login refused: %s", error)
            return self.login_failure()
        except (requests.RequestException, ValueError, KeyError) as error:
            LOGGER.warning("ProConnect unreachable or answered badly: %s", error)
            _refuse(request, getattr(request, "proconnect_refusal", UNAVAILABLE))
            return self.login_failure()

    def login_failure(self) -> HttpResponse:
        request = self.request
        reason = getattr(request, "proconnect_refusal", INVALID)
        record(
            Action.LOGIN_FAILED,
            request=request,
            actor_email=getattr(request, "proconnect_email", ""),
            method=METHOD,
            reason=reason,
        )
        return refusal_page(request, reason)

    def login_success(self) -> HttpResponse:
        response = super().login_success()
        self.request.session[SSO_SESSION_KEY] = METHOD
        return response


def end_session_url(request: HttpRequest) -> str | None:
    """Where to send an agent who logs out after a ProConnect login, so that the
    ProConnect session ends too (RP-initiated logout with the ID token as hint); None
    for any other session, or when the provider cannot be asked (the portal's own
    logout still happens)."""
    id_token = request.session.get("oidc_id_token")
    if not enabled() or request.session.get(SSO_SESSION_KEY) != METHOD or not id_token:
        return None
    try:
        endpoint = discovery().get("end_session_endpoint")
    except (requests.RequestException, ValueError, SuspiciousOperation):
        LOGGER.warning("ProConnect discovery failed at logout", exc_info=True)
        return None
    if not endpoint:
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "state": secrets.token_urlsafe(16),
            "post_logout_redirect_uri": request.build_absolute_uri(
                resolve_url(settings.LOGOUT_REDIRECT_URL)
            ),
        }
    )
    return f"{endpoint}?{query}"


REFUSAL_MESSAGES = {
    NO_ACCOUNT: _(
        "Aucun compte d'agent du Portail CaRE ne correspond à l'adresse transmise par "
        "ProConnect. La connexion par ProConnect est réservée aux agents des ARS et du "
        "ministère dont le compte existe déjà : demandez à l'administrateur du portail "
        "de créer votre compte avec cette adresse, ou connectez-vous avec votre mot de passe."
    ),
    WEAK_ACR: _(
        "ProConnect n'a pas confirmé un niveau d'authentification suffisant pour le "
        "Portail CaRE. Reconnectez-vous avec un moyen d'identification de niveau eIDAS "
        "faible ou supérieur, ou avec votre mot de passe."
    ),
    INVALID: _(
        "La réponse de ProConnect n'a pas pu être vérifiée (lien expiré, déjà utilisé ou "
        "ouvert dans un autre navigateur). Recommencez la connexion."
    ),
    CANCELLED: _("La connexion avec ProConnect a été annulée ou refusée. Vous pouvez recommencer."),
    UNAVAILABLE: _(
        "ProConnect ne répond pas pour le moment. Réessayez dans quelques minutes ou "
        "connectez-vous avec votre mot de passe."
    ),
}


def refusal_page(request: HttpRequest, reason: str) -> HttpResponse:
    return render(
        request,
        "accounts/proconnect_refused.html",
        {"message": REFUSAL_MESSAGES.get(reason, REFUSAL_MESSAGES[INVALID])},
        status=REFUSAL_STATUS.get(reason, 400),
    )
