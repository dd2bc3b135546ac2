"""Login lockout, throttled password reset, session expiry, log out everywhere,
Argon2 hashing."""

import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts import security
from care_portal.settings import base as base_settings

LOGIN_URL = reverse("accounts:login")
ADMIN_LOGIN_URL = reverse("admin:login")
RESET_URL = reverse("accounts:password-reset")
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Reset counters live in the cache (Redis in CI), which outlives a test."""
    cache.clear()
    yield
    cache.clear()


def fail(client, email, times, url=LOGIN_URL):
    for _ in range(times):
        response = client.post(url, {"username": email, "password": "not-the-password"})
    return response


def test_five_failures_lock_the_account_even_with_the_right_password(client, hospital_user):
    response = fail(client, "alice@hopital-a.test", 4)
    assert response.status_code == 200  # the form again, with its error
    response = fail(client, "alice@hopital-a.test", 1)
    assert response.status_code == 429
    response = client.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
    assert response.status_code == 429
    page = response.content.decode()
    assert "Connexion temporairement bloquée" in page
    assert "Réessayez à partir de" in page
    assert "_auth_user_id" not in client.session


def test_fewer_failures_then_success_resets_the_count(client, hospital_user):
    fail(client, "alice@hopital-a.test", 4)
    response = client.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
    assert response.status_code == 302
    client.post(reverse("accounts:logout"))
    response = fail(client, "alice@hopital-a.test", 4)
    assert response.status_code == 200


def test_the_count_ignores_the_case_of_the_address(client, hospital_user):
    fail(client, "ALICE@hopital-a.test", 3)
    response = fail(client, "alice@Hopital-A.test", 2)
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"alice@hopital-a.test"}


def test_the_address_is_locked_across_accounts(client, hospital_user, other_hospital_user):
    fail(client, "alice@hopital-a.test", 3)
    fail(client, "nobody@nowhere.test", 2)
    response = client.post(LOGIN_URL, {"username": "bob@hopital-b.test", "password": PASSWORD})
    assert response.status_code == 429
    # Another address may still sign in to an account that is not locked.
    other = Client(REMOTE_ADDR="10.1.2.3")
    response = other.post(LOGIN_URL, {"username": "bob@hopital-b.test", "password": PASSWORD})
    assert response.status_code == 302


def test_the_admin_login_is_locked_too(client, ministry_user):
    email = ministry_user.email
    response = fail(client, email, 5, url=ADMIN_LOGIN_URL)
    assert response.status_code == 429
    response = client.post(ADMIN_LOGIN_URL, {"username": email, "password": PASSWORD})
    assert response.status_code == 429


def test_clearing_the_attempts_unlocks(client, hospital_user):
    fail(client, "alice@hopital-a.test", 5)
    AccessAttempt.objects.all().delete()  # what the admin's "delete" or axes_reset does
    response = client.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
    assert response.status_code == 302


def test_password_reset_is_throttled_per_address_with_a_time_to_retry(
    client, hospital_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(security.RESET_LIMIT):
            assert client.post(RESET_URL, {"email": "alice@hopital-a.test"}).status_code == 302
        response = client.post(RESET_URL, {"email": "alice@hopital-a.test"})
    assert response.status_code == 429
    assert "Trop de demandes de réinitialisation" in response.content.decode()
    assert len(mail.outbox) == security.RESET_LIMIT


def test_password_reset_link_lasts_one_hour_and_the_mail_says_so(
    client, hospital_user, django_capture_on_commit_callbacks, settings
):
    assert settings.PASSWORD_RESET_TIMEOUT == 3600
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RESET_URL, {"email": "alice@hopital-a.test"})
    assert "expire dans une heure" in mail.outbox[0].body


def test_login_rotates_the_session_key(client, hospital_user):
    client.get(LOGIN_URL)
    client.session["probe"] = 1
    session = client.session
    session["probe"] = 1
    session.save()
    before = session.session_key
    client.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
    assert client.session.session_key != before


def age_session(client, *, idle=0, since_login=0):
    session = client.session
    now = int(time.time())
    session["care_seen"] = now - idle
    session["care_started"] = now - since_login
    session.save()


def is_signed_in(client) -> bool:
    return client.get(reverse("accounts:security")).status_code == 200


def test_an_agent_is_signed_out_after_30_idle_minutes(client, ars_user):
    client.post(LOGIN_URL, {"username": ars_user.email, "password": PASSWORD})
    age_session(client, idle=29 * 60)
    assert is_signed_in(client)
    age_session(client, idle=31 * 60)
    response = client.get(reverse("accounts:security"), follow=True)
    assert "Votre session a expiré" in response.content.decode()
    assert not is_signed_in(client)


def test_an_establishment_user_keeps_two_idle_hours(client, hospital_user):
    client.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
    age_session(client, idle=90 * 60)
    assert is_signed_in(client)
    age_session(client, idle=121 * 60)
    assert not is_signed_in(client)


def test_every_session_ends_twelve_hours_after_login(client, hospital_user):
    client.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
    age_session(client, idle=60, since_login=12 * 3600 + 60)
    assert not is_signed_in(client)


def test_log_out_of_every_device(hospital_user):
    laptop, phone = Client(), Client()
    for device in (laptop, phone):
        device.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
        assert is_signed_in(device)
    response = laptop.post(reverse("accounts:security"))
    assert response.status_code == 302
    assert not is_signed_in(phone)
    assert not is_signed_in(laptop)
    # The password is unchanged: signing in again works.
    response = phone.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": PASSWORD})
    assert response.status_code == 302


def test_the_security_page_needs_a_login(client, db):
    response = client.get(reverse("accounts:security"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_production_hashes_passwords_with_argon2():
    assert base_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    hasher = Argon2PasswordHasher()  # the library is installed and works
    encoded = hasher.encode("un mot de passe", hasher.salt())
    assert encoded.startswith("argon2$")
    assert hasher.verify("un mot de passe", encoded)
    assert not hasher.verify("un autre", encoded)
