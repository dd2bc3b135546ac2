"""The admin speaks as the portal's, in French."""

from tests.factories import UserFactory


def test_the_admin_is_the_portals(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/").content.decode()
    assert "Portail CaRE – administration" in page
    assert "Pilotage du programme" in page
    assert "Administration de Django" not in page
