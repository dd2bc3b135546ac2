"""The baseline of the load benchmark, served by the same gunicorn through the same
middleware as the portal's pages (bench/load_urls.py, never in the product).

`/__bench__/baseline/<page>` renders the template of the portal's page `/<page>` (same
query string, same user) with that page's own context, captured once per process by
running the real view once: every row it shows fetched in advance, every lazy relation
the template follows already loaded by a first rendering, the options of the forms'
model choices listed once. Each request then costs the middleware, the template and
nothing else: no query of the view (checked: the header `X-Bench-View-Queries` gives the
queries of one rendering; only a template tag that queries by itself, as the admin's
date hierarchy does, leaves some)."""

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.forms import BaseForm, ModelChoiceField
from django.http import HttpRequest, HttpResponse
from django.template import Context
from django.template.base import Template
from django.test.utils import CaptureQueriesContext
from django.urls import resolve

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
    def __init__(self, template: Template, context: dict[str, Any], queries: int) -> None:
        self.template = template
        self.context = context
        self.queries = queries  # of one rendering once warmed: 0 expected


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
    captured = Captured(template, context, 0)
    for _ in range(2):  # loads what the template follows lazily
        _render(captured, request)
    with CaptureQueriesContext(connection) as queries:
        _render(captured, request)
    captured.queries = len(queries)
    return captured


def _render(captured: Captured, request: HttpRequest) -> str:
    context = dict(captured.context)
    context["request"] = request
    return captured.template.render(Context(context, autoescape=True))


def baseline(request: HttpRequest, page: str) -> HttpResponse:
    page_path = f"/{page}"
    key = (page_path, request.META.get("QUERY_STRING", ""), request.user.pk or 0)
    captured = _captured.get(key)
    if captured is None:
        with _lock:
            captured = _captured.get(key) or _capture(request, page_path)
            _captured[key] = captured
    response = HttpResponse(_render(captured, request))
    response["X-Bench-View-Queries"] = str(captured.queries)
    return response
