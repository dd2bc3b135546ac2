"""A database that cannot be reached (down, restarting, connection cut) answers the
portal's own 503 page, wherever the request met it (a middleware or a view): French,
self-contained, never cached, with Retry-After, no traceback. Any other error stays a
500 (care_portal.views.server_error). `make drill` shows it against a real PostgreSQL
restart; these tests run the handler's logic."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError
from django.test import Client

from applications import selectors

LEAKS = ("Traceback", "OperationalError", "InterfaceError", "Connection refused", "5432")


@pytest.fixture
def browser(hospital_user):
    client = Client(raise_request_exception=False)  # as in production: the handlers answer
    client.force_login(hospital_user)
    return client


def assert_unavailable_page(response, *, title="Service momentanément indisponible"):
    body = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"].startswith("text/html")
    assert f"<title>{title} — " in body
    for leak in LEAKS:
        assert leak not in body
    return body


def test_a_database_down_when_the_session_is_read_gives_the_503_page(
    browser, monkeypatch, django_assert_max_num_queries
):
    def unreachable(self, *args, **kwargs):
        raise OperationalError(
            'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
        )

    monkeypatch.setattr(SessionStore, "load", unreachable)  # met in a middleware
    with django_assert_max_num_queries(0):  # the page itself needs no database
        response = browser.get("/candidatures/")
    body = assert_unavailable_page(response)
    assert '<html lang="fr">' in body
    assert "Réessayez dans quelques instants" in body
    assert "Erreur 503" in body


def test_a_connection_lost_in_a_view_gives_the_503_page(browser, monkeypatch):
    def lost(*args, **kwargs):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr(selectors, "applications_for_list", lost)
    assert_unavailable_page(browser.get("/candidatures/"))


def test_the_503_page_speaks_the_language_chosen(browser, monkeypatch):
    def lost(*args, **kwargs):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr(selectors, "applications_for_list", lost)
    browser.cookies["django_language"] = "en"
    body = assert_unavailable_page(
        browser.get("/candidatures/"), title="Service temporarily unavailable"
    )
    assert '<html lang="en">' in body


def test_any_other_error_is_still_the_500_page(browser, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(selectors, "applications_for_list", broken)
    response = browser.get("/candidatures/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Erreur inattendue" in body and "Traceback" not in body and "a bug" not in body
