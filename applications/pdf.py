"""HTML to PDF with WeasyPrint (docs/architecture.md, "PDF dossiers"): `html_to_pdf`
with the portal's fonts and `local_static_fetcher`, and `page_count`. What a document
shows and when it is rendered is `dossiers.py`'s.

`local_static_fetcher` is the only way a document reaches outside itself: it serves the
portal's own static fonts and images under the private `static:` scheme and refuses
everything else (`file:`, `http(s):`, `data:`, path traversal), so a value such as
`<img src="file:///etc/passwd">` can never pull a file or a remote URL into a PDF.
"""

import io
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

import pikepdf
import weasyprint
from django.conf import settings
from django.contrib.staticfiles import finders
from weasyprint.urls import URLFetcher, URLFetcherResponse

# The archival variant. WeasyPrint 70 writes PDF/A-3b with the Marianne fonts
# embedded, an sRGB output intent and the XMP identification (checked by
# tests/applications/test_pdf.py); None writes a plain PDF 1.7.

STATIC_SCHEME = "static"
# What a document may load: the fonts and images of the portal's static files.
FETCHABLE_TYPES = {
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".svg": "image/svg+xml",
}
# Marianne, the State's typeface, from django-dsfr's static files; DejaVu (a system
# font) fills in the glyphs Marianne lacks (arrows, check marks).
FONTS = (
    ("dsfr/dist/fonts/Marianne-Regular.woff2", 400, "normal"),
    ("dsfr/dist/fonts/Marianne-Regular_Italic.woff2", 400, "italic"),
    ("dsfr/dist/fonts/Marianne-Bold.woff2", 700, "normal"),
)


def pdf_variant() -> str | None:
    return settings.DOSSIER_PDF_VARIANT  # the LOGGING setting quiets WeasyPrint's INFO lines


# --- The URL fetcher --------------------------------------------------------------------


class RefusedURL(ValueError):
    """A document asked for a URL outside the portal's static fonts and images."""


def static_url(path: str) -> str:
    """The URL of a static file inside a document, served by `local_static_fetcher`."""
    return f"{STATIC_SCHEME}://{path}"


@lru_cache(maxsize=64)
def _static_file(path: str) -> tuple[bytes, str]:
    """The bytes and type of an allowed static file (static files do not change while
    the process runs: each font is read once per worker, not once per dossier)."""
    pure = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or "\x00" in path
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise RefusedURL(f"Refused static path: {path!r}")
    content_type = FETCHABLE_TYPES.get(pure.suffix.lower())
    if content_type is None:
        raise RefusedURL(f"Refused static file type: {path!r}")
    found = finders.find(path)
    if not found or isinstance(found, list):
        raise RefusedURL(f"No such static file: {path!r}")
    with open(found, "rb") as handle:
        return handle.read(), content_type


class LocalStaticFetcher(URLFetcher):
    """WeasyPrint's fetcher, reduced to the portal's own static fonts and images.

    Any other URL raises `RefusedURL`: WeasyPrint then drops the resource (an image,
    a stylesheet, a font) with a warning and goes on rendering."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme, separator, rest = url.partition("://")
        if not separator or scheme.lower() != STATIC_SCHEME:
            raise RefusedURL(f"Refused URL: {url[:200]!r}")
        path = unquote(rest.split("?", 1)[0].split("#", 1)[0])
        body, content_type = _static_file(path)
        return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})


local_static_fetcher = LocalStaticFetcher()
# Relative URLs resolve to nothing: every URL a template writes is absolute.
BASE_URL = f"{STATIC_SCHEME}:///"


def html_to_pdf(html: str, *, base_url: str = BASE_URL) -> bytes:
    """The PDF of an HTML document. Only `local_static_fetcher` fetches: anything but
    the portal's static fonts and images is refused and left out."""
    options: dict[str, Any] = {}
    variant = pdf_variant()
    if variant:
        options["pdf_variant"] = variant
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=local_static_fetcher)
    content: bytes = document.write_pdf(**options)
    return content


def page_count(content: bytes) -> int:
    """The number of pages of a PDF (qpdf reads the page tree only)."""
    with pikepdf.open(io.BytesIO(content)) as pdf:
        return len(pdf.pages)
