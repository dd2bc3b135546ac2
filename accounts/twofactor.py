"""Two-factor authentication (TOTP, django-otp): who must use it, enrolment by QR code,
ten single-use recovery codes, and the middleware that keeps an unverified agent out
of every page, the admin included, until the second factor is given."""

import re
from collections.abc import Callable
from typing import Any

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .security import SSO_SESSION_KEY, is_agent

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "application"
RECOVERY_DEVICE_NAME = "recovery"
# Paths an agent may open before giving the second factor.
OPEN_PATHS = ("/accounts/", "/static/", "/i18n/", "/healthz")


def two_factor_required(user: Any) -> bool:
    """ARS and ministry agents and every staff user, where the setting asks for it."""
    return bool(settings.CARE_TWO_FACTOR_REQUIRED and user.is_authenticated and is_agent(user))


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def enrolment_device(user: Any) -> TOTPDevice:
    """The unconfirmed device of an enrolment in progress (one per user): reloading
    the page shows the same QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def qr_code_svg(device: TOTPDevice) -> str:
    """The enrolment QR code as inline SVG (drawn here, nothing fetched)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, dark="#161616")


def secret_for_manual_entry(device: TOTPDevice) -> str:
    """The key in base32, grouped by four, for authenticators without a camera."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode()
    return " ".join(re.findall(".{1,4}", secret))


def normalize_token(token: str) -> str:
    return re.sub(r"[\s-]", "", token or "").lower()


@transaction.atomic
def enrolment_confirm(request: HttpRequest, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the device with a first code; on success the session is verified, any
    older device is removed, and the new recovery codes are returned (shown once)."""
    if not device.verify_token(normalize_token(token)):
        return None
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)
    return recovery_codes_renew(device.user)


@transaction.atomic
def recovery_codes_renew(user: Any) -> list[str]:
    """Ten new single-use codes; the previous ones stop working."""
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY_DEVICE_NAME).count()


def verify(request: HttpRequest, token: str) -> str:
    """A code from the authenticator, or a recovery code (then used up). Returns
    "ok", "invalid", or "throttled" while django-otp makes the user wait after wrong
    codes (the wait doubles with each failure)."""
    token = normalize_token(token)
    user = request.user
    candidates: list[Any] = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    candidates += list(StaticDevice.objects.filter(user=user, confirmed=True))
    if any(not device.verify_is_allowed()[0] for device in candidates):
        return "throttled"
    for device in candidates:
        with transaction.atomic():
            if device.verify_token(token):
                otp_login(request, device)
                return "ok"
    return "invalid"


def is_verified(user: Any) -> bool:
    """Whether this request's session gave the second factor (set by OTPMiddleware)."""
    return bool(getattr(user, "is_verified", lambda: False)())


def strongly_authenticated(request: HttpRequest) -> bool:
    """The second factor was given in this session, or the agent came through
    ProConnect, whose eIDAS-level authentication stands for it (README, security model)."""
    return is_verified(request.user) or request.session.get(SSO_SESSION_KEY) == "proconnect"


def safe_next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else default


class TwoFactorMiddleware:
    """After `django_otp.middleware.OTPMiddleware`: an agent signed in with a password
    only is sent to enrol or to give a code before any other page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not strongly_authenticated(request)
            and not request.path.startswith(OPEN_PATHS)
            and two_factor_required(user)
        ):
            name = "accounts:2fa-verify" if confirmed_device(user) else "accounts:2fa-setup"
            return redirect(f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
