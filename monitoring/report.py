"""A region's PDF report: its key figures, the map of its départements, the charts and
their tables, the definitions (WeasyPrint through `applications.pdf`, which fetches
nothing but the portal's own fonts). Rendered on request: a few pages, about a second."""

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from applications import pdf

from .panels import Panels
from .selectors import Dashboard


def region_report_html(board: Dashboard, result: Panels) -> str:
    context: dict[str, Any] = {
        "board": board,
        "place": board.place,
        "call": board.call,
        "panels": result,
        "generated_at": timezone.now(),
        "fonts": [
            {"url": pdf.static_url(path), "weight": weight, "style": style}
            for path, weight, style in pdf.FONTS
        ],
    }
    return render_to_string("monitoring/pdf/region_report.html", context)


def region_report_pdf(board: Dashboard, result: Panels) -> bytes:
    return pdf.html_to_pdf(region_report_html(board, result))
