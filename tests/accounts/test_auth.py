"""Login by e-mail, logout, password reset by e-mail, home page per role."""

import re

import pytest
from django.core import mail
from django.db import IntegrityError
from django.urls import reverse

from accounts.models import Membership, User

from ..factories import MembershipFactory, UserFactory

LOGIN_URL = reverse("accounts:login")


def test_login_with_email_and_password(client, hospital_user):
    response = client.post(
        LOGIN_URL, {"username": "alice@hopital-a.test", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_login_accepts_a_field_named_email_and_any_case(client, hospital_user):
    response = client.post(
        LOGIN_URL, {"email": "Alice@Hopital-A.test", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302


def test_wrong_password_shows_a_french_error(client, hospital_user):
    response = client.post(LOGIN_URL, {"username": "alice@hopital-a.test", "password": "nope"})
    assert response.status_code == 200
    assert "Adresse électronique ou mot de passe incorrect" in response.content.decode()


def test_login_page_is_french_with_an_english_translation(client, db):
    page = client.get(LOGIN_URL).content.decode()
    assert "Se connecter" in page
    client.post(reverse("set_language"), {"language": "en", "next": LOGIN_URL})
    page = client.get(LOGIN_URL).content.decode()
    assert "Log in" in page


def test_logout_is_a_post(client, hospital_user):
    client.force_login(hospital_user)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_french_email_after_commit(
    client, hospital_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:password-reset"), {"email": "alice@hopital-a.test"}
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@hopital-a.test"]
    assert "réinitialisation" in message.subject
    link = re.search(r"https?://\S+/accounts/reset/\S+/", message.body)
    assert link, message.body
    path = link.group(0).split("testserver", 1)[1]
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "un-nouveau-mot-de-passe", "new_password2": "un-nouveau-mot-de-passe"},
    )
    assert response.status_code == 302
    assert client.login(username="alice@hopital-a.test", password="un-nouveau-mot-de-passe")


def test_password_reset_for_unknown_email_sends_nothing_and_reveals_nothing(
    client, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:password-reset"), {"email": "x@example.test"})
    assert response.status_code == 302
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("hospital_user", "Centre hospitalier de Villefranche"),
        ("ars_user", "Auvergne-Rhône-Alpes"),
        ("ministry_user", "Administration"),
    ],
)
def test_home_shows_each_role_where_to_go(client, db, request, persona, expected):
    client.force_login(request.getfixturevalue(persona))
    page = client.get(reverse("home")).content.decode()
    assert expected in page


def test_home_tells_a_user_without_membership_to_ask_for_one(client, db):
    client.force_login(UserFactory())
    page = client.get(reverse("home")).content.decode()
    assert "aucun établissement" in page


def test_ministry_staff_reaches_the_admin(client, ministry_user):
    client.force_login(ministry_user)
    # Staff access is what the admin checks; ministry users are staff with model rights.
    assert client.get("/admin/").status_code == 200


def test_establishment_user_cannot_reach_the_admin(client, hospital_user):
    client.force_login(hospital_user)
    assert client.get("/admin/").status_code == 302


def test_membership_scope_must_match_its_role(db, hospital):
    user = UserFactory()
    with pytest.raises(IntegrityError):
        Membership.objects.create(user=user, role=Membership.Role.REGIONAL, legal_entity=hospital)


def test_user_email_is_unique_case_insensitively_on_login(db):
    User.objects.create_user("Zoe@Example.test", "pw-long-enough-1")
    assert User.objects.get_by_natural_key("ZOE@example.TEST").email == "zoe@example.test"


def test_user_scope_unions_memberships(db, hospital, other_hospital):
    from establishments.models import Region

    user = UserFactory()
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=hospital)
    MembershipFactory(
        user=user, role=Membership.Role.REGIONAL, region=Region.objects.get(code="53")
    )
    scope = user.scope
    assert scope.legal_entity_ids == {hospital.id}
    assert scope.region_ids == {Region.objects.get(code="53").id}
    assert not scope.national


def test_interface_is_french_whatever_the_browser_language(client, db):
    page = client.get(LOGIN_URL, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "Se connecter" in page
    assert '<html lang="fr"' in page


def test_french_counts_zero_in_the_singular(client, ministry_user):
    client.force_login(ministry_user)
    page = client.get(reverse("establishments:legalentity-list"), {"q": "introuvable"})
    assert "0 entité juridique" in page.content.decode()


# The management form of the memberships inline, with no membership.
NO_MEMBERSHIPS = {
    "memberships-TOTAL_FORMS": "0",
    "memberships-INITIAL_FORMS": "0",
    "memberships-MIN_NUM_FORMS": "0",
    "memberships-MAX_NUM_FORMS": "1000",
}


def test_admin_refuses_an_email_differing_only_in_case_and_login_still_works(client, db):
    admin = UserFactory(email="root@sante.gouv.test", is_staff=True, is_superuser=True)
    User.objects.create_user("ministere@demo.test", "pw-long-enough-1")
    client.force_login(admin)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "Ministere@Demo.test",
            "full_name": "Doublon",
            "password1": "un-mot-de-passe-solide",
            "password2": "un-mot-de-passe-solide",
            **NO_MEMBERSHIPS,
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["email"]
    assert "existe déjà" in errors["email"][0]
    assert User.objects.filter(email__iexact="ministere@demo.test").count() == 1
    client.logout()
    login = client.post(
        LOGIN_URL, {"username": "Ministere@Demo.test", "password": "pw-long-enough-1"}
    )
    assert login.status_code == 302


def test_admin_stores_a_new_email_in_lower_case(client, db):
    admin = UserFactory(email="root@sante.gouv.test", is_staff=True, is_superuser=True)
    client.force_login(admin)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "Nouveau.Agent@Demo.test",
            "full_name": "Nouvel agent",
            "password1": "un-mot-de-passe-solide",
            "password2": "un-mot-de-passe-solide",
            **NO_MEMBERSHIPS,
        },
    )

    assert response.status_code == 302
    assert User.objects.filter(email="nouveau.agent@demo.test").exists()


def test_admin_change_form_refuses_another_users_email_in_another_case(client, db):
    admin = UserFactory(email="root@sante.gouv.test", is_staff=True, is_superuser=True)
    User.objects.create_user("ministere@demo.test", "pw-long-enough-1")
    other = User.objects.create_user("autre@demo.test", "pw-long-enough-1")
    client.force_login(admin)
    url = reverse("admin:accounts_user_change", args=[other.pk])
    data = {
        "email": "MINISTERE@demo.test",
        "full_name": "",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "10:00:00",
        **NO_MEMBERSHIPS,
    }

    response = client.post(url, data)

    assert response.status_code == 200
    assert "existe déjà" in response.context["adminform"].form.errors["email"][0]
    other.refresh_from_db()
    assert other.email == "autre@demo.test"


def test_the_database_refuses_emails_differing_only_in_case(db):
    User.objects.create_user("ministere@demo.test", "pw-long-enough-1")
    duplicate = User(email="Ministere@Demo.test")

    with pytest.raises(IntegrityError):
        # bulk_create bypasses save(): the constraint itself refuses the row.
        User.objects.bulk_create([duplicate])
