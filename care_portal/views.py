"""Site-wide views: the health check, security.txt, the accessibility statement and
the error pages."""

import logging
import sys
from datetime import UTC, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


def security_txt(request: HttpRequest) -> HttpResponse:
    """RFC 9116: whom to tell about a vulnerability, valid for a year from today."""
    expires = (timezone.now() + timedelta(days=365)).replace(microsecond=0)
    lines = [
        f"Contact: {settings.SECURITY_CONTACT}",
        f"Expires: {expires.astimezone(UTC).isoformat().replace('+00:00', 'Z')}",
        "Preferred-Languages: fr, en",
        f"Canonical: {settings.SITE_URL.rstrip('/')}/.well-known/security.txt",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database (and Redis, when configured) answer; 503 otherwise."""
    checks: dict[str, str] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        logger.exception("Health check: database unreachable")
        checks["database"] = "error"
        healthy = False
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception:
            logger.exception("Health check: Redis unreachable")
            checks["redis"] = "error"
            healthy = False
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )


def accessibility(request: HttpRequest) -> HttpResponse:
    """The accessibility statement (the RGAA model French public services publish)."""
    return render(request, "accessibility.html", {"contact_email": settings.CONTACT_EMAIL})


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


# The database cannot be reached (down, restarting, connection lost): the request did
# not fail because of what it asked, and asking again later will work.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# What the 503 page asks browsers and clients to wait before trying again (seconds).
RETRY_AFTER_SECONDS = 30


def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without context processors: the database may be what failed.

    Django calls this handler inside the `except` of the failed request (a view or any
    middleware): a database that cannot be reached answers the 503 page instead, and the
    next request reconnects (CONN_HEALTH_CHECKS)."""
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return service_unavailable(request)
    return HttpResponseServerError(loader.get_template("500.html").render())


def service_unavailable(request: HttpRequest | None = None) -> HttpResponse:
    """503 "service momentanément indisponible": a page that needs neither the database
    nor the request (no context processor, no user, no URL reversing), never cached."""
    response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response
