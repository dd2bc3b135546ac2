"""The accessibility statement: published, linked from every page's footer, honest."""

from django.urls import reverse


def test_the_statement_is_public_and_follows_the_rgaa_model(client, settings):
    settings.CONTACT_EMAIL = "accessibilite@care.test"
    response = client.get("/accessibilite/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Déclaration d'accessibilité</h1>" in html
    for heading in (
        "État de conformité",
        "Ce que les contrôles automatiques couvrent",
        "Contenus non accessibles",
        "Retour d'information et contact",
        "Voies de recours",
    ):
        assert f"<h2>{heading}</h2>" in html, heading
    # No audit yet: the RGAA requires "non conforme", whatever the automated checks say.
    assert "<strong>non conforme</strong>" in html
    assert "WCAG 2.1" in html
    assert 'href="mailto:accessibilite@care.test"' in html


def test_every_page_links_to_the_statement_from_its_footer(client, db):
    html = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("accessibility")}">Accessibilité : non conforme</a>' in html


def test_the_statement_reads_in_english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/accessibilite/"})
    response = client.get("/accessibilite/")
    assert "<h1>Accessibility statement</h1>" in response.content.decode()
