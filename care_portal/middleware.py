"""Site-wide middleware: French first, and HTTP hardening (methods, Permissions-Policy)."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils import translation


class LanguageMiddleware:
    """A French public service speaks French first: the browser's Accept-Language is
    ignored; the language cookie set by the switch (`set_language`) is honoured."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


class HttpHardeningMiddleware:
    """Methods the portal does not serve (TRACE, CONNECT, made-up verbs) answer 405
    before any view; every response says which browser features pages may never use."""

    ALLOWED_METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS"})
    PERMISSIONS_POLICY = ", ".join(
        f"{feature}=()"
        for feature in (
            "accelerometer",
            "camera",
            "display-capture",
            "geolocation",
            "gyroscope",
            "magnetometer",
            "microphone",
            "payment",
            "usb",
        )
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in self.ALLOWED_METHODS:
            response: HttpResponse = HttpResponseNotAllowed(sorted(self.ALLOWED_METHODS))
        else:
            response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.PERMISSIONS_POLICY)
        return response
