"""The load benchmark's two yardsticks (bench/load_views.py), served here by the test
client through the benchmark's URLconf: the bare view sends the page's own SELECT
statements and renders the page's template; the render alone sends none."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench import load_views
from tests.factories import ApplicationFactory, FundingCallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bench_urls(settings):
    settings.ROOT_URLCONF = "bench.load_urls"
    load_views._captured.clear()
    yield
    load_views._captured.clear()


def _tables(sql: str) -> str:
    """A statement without its values (the session's read compares with the time)."""
    return re.sub(r"'[^']*'(::\w+)?", "?", sql)


def _get(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, path
    return response, [q["sql"] for q in queries]


@pytest.mark.parametrize("page", ["application", "dashboard"])
def test_the_bare_view_sends_the_pages_statements_and_the_render_none(
    page, client, bench_urls, hospital, hospital_user, ministry_user
):
    call = FundingCallFactory()
    application = ApplicationFactory(call=call, candidate=hospital, status="regional_review")
    user, path = {
        "application": (hospital_user, f"/candidatures/{application.public_id}/"),
        "dashboard": (ministry_user, "/suivi/"),
    }[page]
    client.force_login(user)
    for side in ("", "/__bench__/baseline", "/__bench__/render"):
        client.get(side + path)  # captures, and the session's touch, out of the counts

    page_response, page_queries = _get(client, path)
    bare, bare_queries = _get(client, "/__bench__/baseline" + path)
    render, render_queries = _get(client, "/__bench__/render" + path)

    # The render alone sends the middleware's queries and nothing else; the bare view
    # sends the page's own statements besides, the very ones the page sent.
    assert render["X-Bench-View-Queries"] == "0"
    view_statements = len(page_queries) - len(render_queries)
    assert view_statements >= 5
    assert int(bare["X-Bench-View-Queries"]) == view_statements
    assert bare["X-Bench-Skipped"] == "0"
    assert int(bare["X-Bench-Rows"]) > 0
    assert sorted(map(_tables, bare_queries)) == sorted(map(_tables, page_queries))
    # The same template with the same context: the same page, but for the CSRF tokens.
    for response in (bare, render):
        assert response.content.decode().count("<table") == page_response.content.decode().count(
            "<table"
        )
    if page == "application":
        assert application.reference in bare.content.decode()
    else:
        assert call.code in bare.content.decode()


@pytest.mark.parametrize(
    ("sql", "read"),
    [
        ('SELECT "a"."id" FROM "a"', True),
        ("\n  WITH moves AS (SELECT 1) SELECT * FROM moves", True),
        ('(SELECT "x" FROM "a") UNION (SELECT "y" FROM "b")', True),
        ('INSERT INTO "a" ("id") VALUES (%s)', False),
        ('UPDATE "django_session" SET "expire_date" = %s', False),
        ('SAVEPOINT "s1"', False),
        ("", False),
    ],
)
def test_only_reads_are_sent_again(sql, read):
    assert load_views._is_select(sql) is read
