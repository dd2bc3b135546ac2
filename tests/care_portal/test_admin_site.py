"""The admin speaks as the portal's, in French."""

import html

from tests.factories import UserFactory


def test_the_admin_is_the_portals(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/").content.decode()
    assert "Portail CaRE – administration" in page
    assert "Pilotage du programme" in page
    assert "Administration de Django" not in page


def test_the_security_apps_have_french_names_in_the_admin(admin_client):
    page = html.unescape(admin_client.get("/admin/").content.decode())
    for name in (
        "Double authentification : applications",
        "Double authentification : codes de secours",
        "Verrouillage des comptes",
        "Applications d'authentification",
        "Jeux de codes de secours",
    ):
        assert name in page, name
    assert "TOTP devices" not in page and "Static devices" not in page
