"""PDF dossiers and decision letters, rendered by WeasyPrint (DESIGN.md, "PDF dossiers").

`gather_dossier_context` reads everything a dossier shows in a fixed number of queries,
`render_dossier_html` fills the Django templates (autoescaped: only server data, user
text is text), `html_to_pdf` runs WeasyPrint with `local_static_fetcher`, the only way
a document reaches outside itself: it serves the portal's own static fonts and images
under the private `static:` scheme and refuses everything else (`file:`, `http(s):`,
`data:`, path traversal), so a value such as `<img src="file:///etc/passwd">` can
never pull a file or a remote URL into a PDF.
"""

import io
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

import pikepdf
import weasyprint
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint.urls import URLFetcher, URLFetcherResponse

from audits.models import DirectoryAudit, ExposureScan
from audits.status import ScanPoint, Volet1Result, compute_volet1_status

from .lifecycle import Status
from .models import Answer, Application, Coverage, Dossier, Evidence, Transition
from .selectors import decision_transitions, factor_rows, rule_rows, submission_count

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


# --- Gathering ----------------------------------------------------------------------------


@dataclass
class EntityVolet1:
    """One covered entity and its Volet 1 summary."""

    coverage: Coverage
    status: Volet1Result
    audit_tool: str = ""
    audit_score: int | None = None
    audit_maturity: int | None = None
    scan_date: date | None = None
    scan_critical: int | None = None
    scan_high: int | None = None

    @property
    def entity(self) -> Any:
        return self.coverage.legal_entity


@dataclass
class RequirementRow:
    answer: Answer
    files: list[Evidence] = field(default_factory=list)

    @property
    def requirement(self) -> Any:
        return self.answer.requirement


def _application(application: Application | int) -> Application:
    pk = application if isinstance(application, int) else application.pk
    return (
        Application.objects.select_related(
            "call", "candidate__department__region", "ght", "sworn_by", "eligibility"
        )
        .prefetch_related(
            Prefetch(
                "transitions",
                queryset=Transition.objects.select_related("actor").order_by("created_at", "id"),
            )
        )
        .get(pk=pk)
    )


def _volet1(coverages: list[Coverage]) -> list[EntityVolet1]:
    """Volet 1 of every covered entity in two queries: each table is read once, with
    every column shown, and the status is computed from the same rows by
    `compute_volet1_status` (the one place of the rule), as the eligibility rules do."""
    ids = [c.legal_entity_id for c in coverages]
    audit_dates: dict[int, list[date]] = {pk: [] for pk in ids}
    scans: dict[int, list[ScanPoint]] = {pk: [] for pk in ids}
    latest_audit: dict[int, tuple[str, int | None, int | None]] = {}
    for entity_id, audit_date, tool, score, maturity in (
        DirectoryAudit.objects.filter(legal_entity_id__in=ids)
        .order_by("legal_entity_id", "audit_date", "id")
        .values_list("legal_entity_id", "audit_date", "tool", "global_score", "maturity_level")
    ):
        audit_dates[entity_id].append(audit_date)
        latest_audit[entity_id] = (tool, score, maturity)
    latest_scan: dict[int, tuple[date, int, int]] = {}
    for entity_id, scan_date, met, critical, high in (
        ExposureScan.objects.filter(legal_entity_id__in=ids)
        .order_by("legal_entity_id", "scan_date", "id")
        .values_list(
            "legal_entity_id", "scan_date", "minimum_level_met", "vulns_critical", "vulns_high"
        )
    ):
        scans[entity_id].append(ScanPoint(scan_date, met))
        latest_scan[entity_id] = (scan_date, critical, high)
    tools = dict(DirectoryAudit.Tool.choices)
    rows = []
    for coverage in coverages:
        entity_id = coverage.legal_entity_id
        status = compute_volet1_status(
            ad_audit_dates=audit_dates[entity_id], scans=scans[entity_id]
        )
        row = EntityVolet1(coverage, status)
        if entity_id in latest_audit:
            tool, row.audit_score, row.audit_maturity = latest_audit[entity_id]
            row.audit_tool = str(tools.get(tool, tool))
        if entity_id in latest_scan:
            row.scan_date, row.scan_critical, row.scan_high = latest_scan[entity_id]
        rows.append(row)
    return rows


def _common(application: Application, *, kind: str, version: int | None) -> dict[str, Any]:
    transitions = list(application.transitions.all())
    if version is None:
        version = (
            submission_count(transitions)
            if kind == Dossier.Kind.DOSSIER
            else len(decision_transitions(transitions))
        )
    reference = application.reference
    return {
        "application": application,
        "call": application.call,
        "candidate": application.candidate,
        "kind": kind,
        "kind_label": Dossier.Kind(kind).label,
        "version": version,
        "reference": reference,
        "document_reference": f"{reference} · {Dossier.Kind(kind).label} · v{version}",
        "generated_at": timezone.now(),
        "transitions": transitions,
        "fonts": [
            {"url": static_url(path), "weight": weight, "style": style}
            for path, weight, style in FONTS
        ],
    }


def gather_dossier_context(
    application: Application | int, *, version: int | None = None
) -> dict[str, Any]:
    """Everything the dossier shows, in 8 queries whatever the number of covered
    entities, requirements, files and budget lines."""
    application = _application(application)
    context = _common(application, kind=Dossier.Kind.DOSSIER, version=version)
    coverages = list(
        Coverage.objects.filter(application=application)
        .select_related("legal_entity__department")
        .order_by("-legal_entity__is_ght_support", "legal_entity__name", "id")
    )
    answers = list(
        Answer.objects.filter(application=application)
        .select_related("requirement")
        .order_by("requirement__position", "requirement__identifier", "id")
    )
    files_by_answer: dict[int | None, list[Evidence]] = defaultdict(list)
    for evidence in Evidence.objects.filter(application=application).order_by("created_at", "id"):
        files_by_answer[evidence.answer_id].append(evidence)
    budget_lines = list(application.budget_lines.order_by("id"))
    result = getattr(application, "eligibility", None)
    submissions = [t for t in context["transitions"] if t.to_status == Status.SUBMITTED]
    context.update(
        {
            "coverages": coverages,
            "volet1": _volet1(coverages),
            "requirements": [RequirementRow(a, files_by_answer.get(a.pk, [])) for a in answers],
            "other_files": files_by_answer.get(None, []),
            "file_count": sum(len(files) for files in files_by_answer.values()),
            "budget_lines": budget_lines,
            "eligibility": result,
            "rules": rule_rows(result.rules) if result else [],
            "factors": factor_rows(result.factors) if result else [],
            "first_submitted_at": submissions[0].created_at if submissions else None,
            "submitted_at": (
                submissions[context["version"] - 1].created_at
                if 0 < context["version"] <= len(submissions)
                else application.submitted_at
            ),
        }
    )
    return context


def gather_decision_context(
    application: Application | int, *, version: int | None = None
) -> dict[str, Any]:
    """What a decision letter shows: the decision (the `version`-th one, the latest by
    default), the candidate, the covered entities and the objectives to reach."""
    application = _application(application)
    context = _common(application, kind=Dossier.Kind.DECISION, version=version)
    decisions = decision_transitions(context["transitions"])
    index = context["version"] - 1
    decision = decisions[index] if 0 <= index < len(decisions) else None
    if decision is None:
        raise ValueError(f"Application {application.pk} has no decision {context['version']}.")
    context.update(
        {
            "decision": decision,
            "approved": decision.to_status == Status.APPROVED,
            "coverages": list(
                Coverage.objects.filter(application=application)
                .select_related("legal_entity__department")
                .order_by("-legal_entity__is_ght_support", "legal_entity__name", "id")
            ),
            "objectives": list(
                application.call.requirements.filter(kind="objective").order_by(
                    "position", "identifier"
                )
            ),
        }
    )
    return context


# --- Rendering ----------------------------------------------------------------------------


def render_dossier_html(context: dict[str, Any]) -> str:
    template = (
        "applications/pdf/decision.html"
        if context.get("kind") == Dossier.Kind.DECISION
        else "applications/pdf/dossier.html"
    )
    return render_to_string(template, context)


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


def render_dossier(
    application: Application | int, *, kind: str = Dossier.Kind.DOSSIER, version: int | None = None
) -> bytes:
    """The PDF of an application's dossier or decision letter (synchronously)."""
    if kind == Dossier.Kind.DECISION:
        context = gather_decision_context(application, version=version)
    else:
        context = gather_dossier_context(application, version=version)
    return html_to_pdf(render_dossier_html(context))


def page_count(content: bytes) -> int:
    """The number of pages of a PDF (qpdf reads the page tree only)."""
    with pikepdf.open(io.BytesIO(content)) as pdf:
        return len(pdf.pages)


def storage_name(application: Application, *, kind: str, version: int) -> str:
    """A server-generated name for a rendered PDF in private storage."""
    now = timezone.localtime()
    reference = re.sub(r"[^A-Za-z0-9-]+", "-", application.reference).strip("-") or "candidature"
    return f"dossiers/{now:%Y}/{now:%m}/{reference}-{kind}-v{version}-{uuid.uuid4().hex[:8]}.pdf"
