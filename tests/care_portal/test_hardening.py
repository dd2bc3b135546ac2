"""HTTP hardening: unserved methods answer 405, Permissions-Policy on every response,
security.txt."""

import re

import pytest
from django.urls import reverse


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO"])
def test_unserved_methods_answer_405(client, db, method):
    response = client.generic(method, reverse("home"))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_get_and_post_still_reach_the_views(client, db):
    assert client.get(reverse("accounts:login")).status_code == 200
    assert client.post(reverse("accounts:login"), {}).status_code == 200


def test_every_response_carries_a_permissions_policy(client, db):
    for url in (reverse("home"), reverse("accounts:login"), "/page-qui-n-existe-pas/"):
        policy = client.get(url)["Permissions-Policy"]
        assert "camera=()" in policy and "geolocation=()" in policy and "microphone=()" in policy


def test_security_txt_names_a_contact_and_an_expiry(client, db, settings):
    settings.SECURITY_CONTACT = "mailto:securite@example.test"
    response = client.get("/.well-known/security.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert "Contact: mailto:securite@example.test" in body
    assert re.search(r"^Expires: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", body, re.M)
