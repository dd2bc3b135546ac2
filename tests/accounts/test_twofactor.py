"""Two-factor authentication: required for agents and staff, enrolment by QR code,
codes from the authenticator or single-use recovery codes, the admin guarded."""

import re

import pytest
from django.test import override_settings
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor

from .test_security import LOGIN_URL, PASSWORD

SETUP_URL = reverse("accounts:2fa-setup")
VERIFY_URL = reverse("accounts:2fa-verify")


@pytest.fixture(autouse=True)
def two_factor_on():
    # Throttle factors 0: a wrong code does not delay the next one (tested apart).
    with override_settings(
        CARE_TWO_FACTOR_REQUIRED=True, OTP_TOTP_THROTTLE_FACTOR=0, OTP_STATIC_THROTTLE_FACTOR=0
    ):
        yield


def password_login(client, user):
    response = client.post(LOGIN_URL, {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response


def current_code(device: TOTPDevice, *, later: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time += later
    return f"{totp.token():06d}"


def enrol(client, user) -> list[str]:
    client.get(SETUP_URL)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(SETUP_URL, {"code": current_code(device)})
    assert response.status_code == 200
    return re.findall(r"<code>([0-9a-z]+)</code>", response.content.decode())


def test_an_agent_with_a_password_only_is_sent_to_enrol(client, ars_user):
    password_login(client, ars_user)
    response = client.get(reverse("establishments:legalentity-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(SETUP_URL)
    page = client.get(response["Location"]).content.decode()
    assert "<svg" in page  # the QR code, drawn inline
    assert "Activer la double authentification" in page


def test_enrolment_gives_ten_recovery_codes_and_opens_the_portal(client, ars_user):
    password_login(client, ars_user)
    codes = enrol(client, ars_user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(reverse("establishments:legalentity-list")).status_code == 200


def test_a_wrong_code_is_refused_at_the_field(client, ars_user):
    password_login(client, ars_user)
    client.get(SETUP_URL)
    response = client.post(SETUP_URL, {"code": "000000"})
    assert "Ce code n&#x27;est pas valide" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=ars_user, confirmed=True).exists()
    assert client.get(reverse("home")).status_code == 302


def enrolled_then_back(client, user) -> list[str]:
    """Enrol, log out, log in again with the password: the code is asked next."""
    password_login(client, user)
    codes = enrol(client, user)
    client.post(reverse("accounts:logout"))
    password_login(client, user)
    return codes


def test_next_login_asks_for_a_code_then_opens(client, ars_user):
    enrolled_then_back(client, ars_user)
    directory = reverse("establishments:legalentity-list")
    response = client.get(directory)
    assert response["Location"].startswith(VERIFY_URL)
    device = TOTPDevice.objects.get(user=ars_user, confirmed=True)
    response = client.post(VERIFY_URL, {"code": current_code(device, later=30), "next": directory})
    assert response.status_code == 302 and response["Location"] == directory
    assert client.get(directory).status_code == 200


def test_a_recovery_code_serves_once(client, ars_user):
    password_login(client, ars_user)
    codes = enrol(client, ars_user)
    for attempt in range(2):
        client.post(reverse("accounts:logout"))
        password_login(client, ars_user)
        response = client.post(VERIFY_URL, {"code": codes[0]})
        if attempt == 0:
            assert response.status_code == 302
        else:
            assert "a déjà servi" in response.content.decode()
    assert twofactor.recovery_codes_left(ars_user) == 9


def test_new_recovery_codes_replace_the_old_ones(client, ars_user):
    password_login(client, ars_user)
    old = enrol(client, ars_user)
    response = client.post(reverse("accounts:2fa-recovery-codes"))
    new = re.findall(r"<code>([0-9a-z]+)</code>", response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    client.post(reverse("accounts:logout"))
    password_login(client, ars_user)
    assert client.post(VERIFY_URL, {"code": old[1]}).status_code == 200  # refused
    assert client.post(VERIFY_URL, {"code": new[1]}).status_code == 302


def test_the_admin_is_guarded_too(client, ministry_user):
    response = client.post(
        reverse("admin:login"), {"username": ministry_user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(SETUP_URL)


def test_an_establishment_user_needs_no_second_factor(client, hospital_user):
    password_login(client, hospital_user)
    assert client.get(reverse("establishments:legalentity-list")).status_code == 200


def test_a_next_outside_the_site_is_ignored(client, ars_user):
    enrolled_then_back(client, ars_user)
    device = TOTPDevice.objects.get(user=ars_user, confirmed=True)
    response = client.post(
        VERIFY_URL, {"code": current_code(device, later=30), "next": "https://evil.test/"}
    )
    assert response["Location"] == "/"


def test_the_setting_off_lets_agents_in_with_a_password(client, ars_user):
    with override_settings(CARE_TWO_FACTOR_REQUIRED=False):
        password_login(client, ars_user)
        assert client.get(reverse("establishments:legalentity-list")).status_code == 200


def test_production_always_requires_it():
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "care_portal/settings/prod.py").read_text()
    assert "CARE_TWO_FACTOR_REQUIRED = True" in source


def test_repeated_wrong_codes_ask_to_wait(client, ars_user):
    codes = enrolled_then_back(client, ars_user)
    with override_settings(OTP_TOTP_THROTTLE_FACTOR=10, OTP_STATIC_THROTTLE_FACTOR=10):
        client.post(VERIFY_URL, {"code": "000000"})
        response = client.post(VERIFY_URL, {"code": codes[0]})
    assert "Trop d&#x27;essais" in response.content.decode()
    assert twofactor.recovery_codes_left(ars_user) == 10
