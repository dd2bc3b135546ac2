"""The baselines of the load benchmark, served by the same gunicorn through the same
middleware as the portal's pages (bench/load_urls.py, never in the product).

Both render the template of the portal's page `/<page>` (same query string, same user)
with that page's own context, captured once per process by running the real view: every
row it shows fetched in advance, every lazy relation the template follows already loaded
by a first rendering, the options of the forms' model choices listed once.

- `/__bench__/baseline/<page>`, the bare view (the issue's "bare Django view rendering
  the same template with the same rows"): it fetches the page's rows on every request,
  as any view must, by sending the very SELECT statements the real view sent (recorded
  on a second, warm run of it, with their parameters) through a plain cursor and reading
  every row back, then renders the captured context. It costs the middleware, the
  database's work for those rows and the template: what the portal's own code (the ORM
  building its queries and objects, the access checks, the selectors and panels) adds
  beyond that is what the ratio measures.
- `/__bench__/render/<page>`, the render alone: no query at all, the rows kept in memory
  from the capture (checked: the header `X-Bench-View-Queries` gives the queries of one
  rendering; only a template tag that queries by itself, as the admin's date hierarchy
  does, leaves some). The stricter yardstick, reported beside the other."""

import copy
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.forms import BaseForm, ModelChoiceField
from django.http import HttpRequest, HttpResponse
from django.template import Context
from django.template.base import Template
from django.urls import resolve
from django.utils.functional import cached_property

COUNT_HEADER = "HTTP_X_BENCH_QUERIES"


class QueryCountMiddleware:
    """Asked with `X-Bench-Queries: 1`, counts the queries of the whole request (the
    other middleware included) and answers them in `X-Bench-Queries`, with the time
    spent in them (`X-Bench-Query-Ms`) and in the whole request (`X-Bench-Total-Ms`).
    Other requests pay one dictionary look-up."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get(COUNT_HEADER) != "1":
            return self.get_response(request)
        count, spent = 0, 0.0

        def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal count, spent
            count += 1
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent += time.perf_counter() - started

        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        response["X-Bench-Queries"] = str(count)
        response["X-Bench-Query-Ms"] = f"{spent * 1000:.2f}"
        response["X-Bench-Total-Ms"] = f"{(time.perf_counter() - started) * 1000:.2f}"
        return response


class Captured:
    def __init__(self, template: Template, context: dict[str, Any]) -> None:
        self.template = template
        self.context = context
        self.queries = 0  # of one rendering once warmed: 0 expected
        # The real view's SELECT statements that its rendering does not send again.
        self.statements: list[tuple[str, Any]] = []
        self.skipped = 0  # statements of the real view that are not SELECTs (not replayed)


_captured: dict[tuple[str, str, int], Captured] = {}
_lock = threading.Lock()


def _capture(request: HttpRequest, page_path: str) -> Captured:
    """Run the real view of `page_path` for this request once and keep the template it
    rendered first (the page's own; included ones come after) with its whole context
    (the context processors' values included)."""
    fake = copy.copy(request)
    fake.path = fake.path_info = page_path
    fake.META = {**request.META, "PATH_INFO": page_path}
    match = resolve(page_path)
    fake.resolver_match = match
    seen: list[tuple[Template, dict[str, Any]]] = []
    original = Template._render

    def spy(self: Template, context: Context) -> Any:
        if not seen:
            seen.append((self, context.flatten()))
        return original(self, context)

    Template._render = spy  # type: ignore[method-assign]
    try:
        response = match.func(fake, *match.args, **match.kwargs)
        if hasattr(response, "render"):
            response.render()
    finally:
        Template._render = original  # type: ignore[method-assign]
    if response.status_code != 200 or not seen:
        raise RuntimeError(f"{page_path}: the page answered {response.status_code}")
    template, context = seen[0]
    for value in context.values():
        if isinstance(value, BaseForm):  # its <select> options, fetched once too
            for form_field in value.fields.values():
                if isinstance(form_field, ModelChoiceField):
                    form_field.choices = list(form_field.choices)
    captured = Captured(template, context)
    for _ in range(2):  # loads what the template follows lazily
        _render(captured, request)
    with _recording() as rendering:
        _render(captured, request)
    captured.queries = len(rendering)
    # A warm run of the view as a new request would make it: the user's cached values
    # (their scope) computed again, as the page computes them on each request.
    fake.user = _fresh(request.user)
    with _recording() as statements:
        response = match.func(fake, *match.args, **match.kwargs)
        if hasattr(response, "render"):
            response.render()
    for statement in rendering:  # sent by the rendering itself on each request: not twice
        if statement in statements:
            statements.remove(statement)
    captured.statements = [(sql, params) for sql, params in statements if _is_select(sql)]
    captured.skipped = len(statements) - len(captured.statements)
    return captured


def _fresh(user: Any) -> Any:
    """A copy of the request's user without the values its cached properties keep."""
    user = copy.copy(getattr(user, "_wrapped", user))
    for klass in type(user).__mro__:
        for name, attribute in vars(klass).items():
            if isinstance(attribute, (cached_property, functools.cached_property)):
                user.__dict__.pop(name, None)
    return user


@contextmanager
def _recording() -> Iterator[list[tuple[str, Any]]]:
    """The statements sent meanwhile, with their parameters, as the database got them."""
    recorded: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        recorded.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield recorded


def _is_select(sql: str) -> bool:
    """A read: SELECT or WITH, a UNION's first parenthesis aside."""
    words = sql.lstrip(" \t\n(").split(None, 1)
    return bool(words) and words[0].upper() in ("SELECT", "WITH")


def _fetch_rows(captured: Captured) -> int:
    """Send the page's SELECT statements and read every row back; the rows' count."""
    rows = 0
    with connection.cursor() as cursor:
        for sql, params in captured.statements:
            cursor.execute(sql, params)
            rows += len(cursor.fetchall())
    return rows


def _render(captured: Captured, request: HttpRequest) -> str:
    context = dict(captured.context)
    context["request"] = request
    return captured.template.render(Context(context, autoescape=True))


def _captured_for(request: HttpRequest, page: str) -> Captured:
    page_path = f"/{page}"
    key = (page_path, request.META.get("QUERY_STRING", ""), request.user.pk or 0)
    captured = _captured.get(key)
    if captured is None:
        with _lock:
            captured = _captured.get(key) or _capture(request, page_path)
            _captured[key] = captured
    return captured


def baseline(request: HttpRequest, page: str) -> HttpResponse:
    """The bare view: the page's rows fetched by its own SELECT statements, then its
    template rendered."""
    captured = _captured_for(request, page)
    rows = _fetch_rows(captured)
    response = HttpResponse(_render(captured, request))
    response["X-Bench-View-Queries"] = str(len(captured.statements) + captured.queries)
    response["X-Bench-Rows"] = str(rows)
    response["X-Bench-Skipped"] = str(captured.skipped)
    return response


def render_only(request: HttpRequest, page: str) -> HttpResponse:
    """The render alone: the page's template with its rows kept in memory."""
    captured = _captured_for(request, page)
    response = HttpResponse(_render(captured, request))
    response["X-Bench-View-Queries"] = str(captured.queries)
    return response
