"""Personal API tokens: stored hashed, shown once, expiring, revocable by their user
only, refused for an inactive user; the account page and the operators' command."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.api_tokens import (
    LAST_USED_PRECISION,
    api_token_authenticate,
    api_token_create,
)
from accounts.forms import API_TOKENS_MAX_ACTIVE
from accounts.models import ApiToken, AuditEvent

from .conftest import token_client

LIST = "/api/v1/legal-entities/"


def test_a_token_is_stored_as_its_sha256_only(hospital_user):
    row, token = api_token_create(user=hospital_user, name="Tableau de bord")
    assert token.startswith("care_") and len(token) >= 40
    assert row.key_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[: len(row.prefix)] and len(row.prefix) < 16
    stored = ApiToken.objects.filter(pk=row.pk).values().get()
    assert token not in {str(value) for value in stored.values()}
    # Two tokens never share a value.
    assert api_token_create(user=hospital_user, name="Autre")[1] != token
    event = AuditEvent.objects.filter(action="api_token_created").order_by("id").first()
    assert event.actor == hospital_user and event.details["prefix"] == row.prefix


def test_a_token_authenticates_and_notes_its_use(hospital_user, hospital):
    client = token_client(hospital_user)
    response = client.get(LIST)
    assert response.status_code == 200, response.content
    assert [e["finess"] for e in response.json()["results"]] == [hospital.finess]
    row = ApiToken.objects.get(user=hospital_user)
    assert row.last_used_at is not None
    read = AuditEvent.objects.get(action="api_read")
    assert read.actor == hospital_user and read.details["path"] == LIST
    assert read.details["token"] == row.prefix
    # Used again within the minute: last_used_at is not rewritten every request.
    first_use = row.last_used_at
    client.get(LIST)
    row.refresh_from_db()
    assert row.last_used_at == first_use
    ApiToken.objects.filter(pk=row.pk).update(
        last_used_at=first_use - LAST_USED_PRECISION - timedelta(seconds=1)
    )
    client.get(LIST)
    row.refresh_from_db()
    assert row.last_used_at > first_use
    assert AuditEvent.objects.filter(action="api_read").count() == 3


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer a b",
        "Bearer care_not-a-real-token",
        "Bearer sans-prefixe",
        "Bearer " + "x" * 5000,
        "Token care_x",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_requests_without_a_usable_token_get_401(hospital_user, header):
    client = Client(headers={"Authorization": header} if header else {})
    response = client.get(LIST)
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["detail"]


def test_a_non_ascii_token_gets_401_not_500(hospital_user):
    client = Client(HTTP_AUTHORIZATION="Bearer café".encode().decode("latin-1"))
    assert client.get(LIST).status_code == 401


def test_a_session_is_no_api_credential(hospital_user):
    client = Client()
    client.force_login(hospital_user)
    assert client.get(LIST).status_code == 401


def test_an_expired_token_is_refused(hospital_user):
    client = token_client(hospital_user, days=1)
    assert client.get(LIST).status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(LIST)
    assert response.status_code == 401
    assert "expiré" in response.json()["detail"]


def test_a_token_of_a_deactivated_user_is_refused(hospital_user):
    client = token_client(hospital_user)
    hospital_user.is_active = False
    hospital_user.save()
    assert client.get(LIST).status_code == 401
    with pytest.raises(ValueError):
        api_token_create(user=hospital_user, name="x")


def test_lifetime_is_bounded(hospital_user):
    for days in (0, 366):
        with pytest.raises(ValueError):
            api_token_create(user=hospital_user, name="x", days=days)


# --- The account page -------------------------------------------------------------------


def test_the_user_creates_a_token_shown_once_then_revokes_it(hospital_user):
    web = Client()
    web.force_login(hospital_user)
    page = reverse("accounts:api-tokens")
    response = web.post(page, {"name": "Tableau régional", "days": "30"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = response.context["created"][1]
    assert token in response.content.decode()
    row = ApiToken.objects.get(user=hospital_user)
    assert row.name == "Tableau régional"
    assert timedelta(days=29) < row.expires_at - timezone.now() <= timedelta(days=30)
    # Never shown again: the list shows its prefix only.
    again = web.get(page).content.decode()
    assert token not in again and row.prefix in again
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get(LIST).status_code == 200
    response = web.post(reverse("accounts:api-token-revoke"), {"token": str(row.public_id)})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert api.get(LIST).status_code == 401
    assert api_token_authenticate(token) is None
    assert AuditEvent.objects.filter(action="api_token_revoked", actor=hospital_user).count() == 1
    # Revoking again changes nothing and says so.
    web.post(reverse("accounts:api-token-revoke"), {"token": str(row.public_id)})
    assert AuditEvent.objects.filter(action="api_token_revoked").count() == 1


def test_nobody_revokes_another_users_token(hospital_user, other_hospital_user):
    client = token_client(hospital_user)
    row = ApiToken.objects.get(user=hospital_user)
    other = Client()
    other.force_login(other_hospital_user)
    revoke = reverse("accounts:api-token-revoke")
    assert other.post(revoke, {"token": str(row.public_id)}).status_code == 404
    assert other.post(revoke, {"token": "pas-un-uuid"}).status_code == 404
    assert other.post(revoke, {}).status_code == 404
    assert client.get(LIST).status_code == 200


def test_the_form_says_what_is_wrong(hospital_user):
    web = Client()
    web.force_login(hospital_user)
    page = reverse("accounts:api-tokens")
    response = web.post(page, {"name": "   ", "days": "30"})
    assert response.status_code == 200 and response.context["form"].errors["name"]
    response = web.post(page, {"name": "Trop long", "days": "10000"})
    assert response.context["form"].errors["days"]
    assert not ApiToken.objects.exists()
    for n in range(API_TOKENS_MAX_ACTIVE):
        api_token_create(user=hospital_user, name=f"Jeton {n}")
    response = web.post(page, {"name": "Un de trop", "days": "30"})
    assert "révoquez-en un" in response.content.decode()
    assert ApiToken.objects.count() == API_TOKENS_MAX_ACTIVE


@override_settings(CARE_TWO_FACTOR_REQUIRED=True)
def test_an_agent_gives_the_second_factor_before_creating_a_token(ars_user):
    web = Client()
    web.force_login(ars_user)
    page = reverse("accounts:api-tokens")
    response = web.get(page)
    assert response.status_code == 200 and response.context["second_factor_missing"]
    response = web.post(page, {"name": "Contournement", "days": "30"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/double-authentification/")
    assert not ApiToken.objects.exists()


def test_the_security_page_links_to_the_tokens(hospital_user):
    web = Client()
    web.force_login(hospital_user)
    assert reverse("accounts:api-tokens") in web.get(reverse("accounts:security")).content.decode()


# --- The operators' command -------------------------------------------------------------


def test_create_api_token_prints_a_working_token(ars_user):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "CHARLIE@ars-ara.test", "--days", "7", stdout=out, stderr=err)
    token = out.getvalue().strip()
    row = api_token_authenticate(token)
    assert row is not None and row.user == ars_user
    assert "ne sera plus affiché" in err.getvalue()
    assert Client(headers={"Authorization": f"Bearer {token}"}).get(LIST).status_code == 200


def test_create_api_token_refuses_bad_input(ars_user):
    with pytest.raises(CommandError, match="Utilisateur inconnu"):
        call_command("create_api_token", "personne@example.test")
    with pytest.raises(CommandError, match="--days"):
        call_command("create_api_token", ars_user.email, "--days", "0")
    ars_user.is_active = False
    ars_user.save()
    with pytest.raises(CommandError, match="désactivé"):
        call_command("create_api_token", ars_user.email)
