"""CSV and XLSX exports of the monitoring tables and lists, streamed: the rows are read
from the database in chunks and written as they come, so that memory does not grow
with the number of rows.

- CSV: UTF-8 with a byte order mark and ";" between cells (what a French spreadsheet
  opens as columns), one chunk of lines sent per chunk of rows.
- XLSX: xlsxwriter in constant-memory mode (each row is flushed to a temporary file as
  soon as the next one starts), written to an anonymous temporary file that is then
  sent in blocks and deleted when the response closes.

Formula injection: a text cell beginning with "=", "+", "-", "@", a tab or a carriage
return is written with a leading apostrophe, so that no spreadsheet evaluates it
(OWASP, "CSV Injection"). Numbers are written as numbers."""

import csv
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import xlsxwriter
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone, translation

from .tables import AMOUNT, COUNT, DATE, DAYS, RATE, Cell, Column

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_CHUNK_ROWS = 500
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"


def neutralise(value: str) -> str:
    """A text cell that a spreadsheet would read as a formula, made plain text."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _plain(cell: Cell) -> Any:
    value = cell.export_value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal) and cell.numeric:
        return value
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


def _safe_name(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", part).strip("-") or "x"


def filename(table: str, place_slug: str, call_code: str | None, extension: str) -> str:
    """suivi-<table>-<place>-<call>-<date>.<ext>: scope and date in the name."""
    parts = ["suivi", table, place_slug]
    if call_code:
        parts.append(call_code)
    parts.append(timezone.localdate().isoformat())
    return "-".join(_safe_name(p) for p in parts) + "." + extension


class _Echo:
    """A file that returns what is written: csv.writer's lines, one at a time."""

    def write(self, value: str) -> str:
        return value


def csv_lines(columns: Sequence[Column], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield BOM + writer.writerow([neutralise(str(c.label)) for c in columns])
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow([_plain(cell) for cell in row]))
        if len(buffer) >= CSV_CHUNK_ROWS:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)


def _in_language(lines: Iterator[str], language: str | None) -> Iterator[str]:
    """The lines written in the request's language: a streamed body is produced after the
    language middleware has returned (labels such as statuses are translated lazily)."""
    with translation.override(language):
        yield from lines


def csv_response(
    columns: Sequence[Column], rows: Iterable[Sequence[Cell]], name: str
) -> StreamingHttpResponse:
    lines = _in_language(csv_lines(columns, rows), translation.get_language())
    response = StreamingHttpResponse(lines, content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


NUMBER_FORMATS = {
    COUNT: "#,##0",
    RATE: "0.0",
    AMOUNT: "#,##0.00",
    DAYS: "0.0",
}


def write_xlsx(
    target: Any, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Cell]]
) -> None:
    """Write the workbook to `target` (a file), one row at a time (constant memory)."""
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            # Text stays text: never a formula, a link or a number guessed from it.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "tmpdir": tempfile.gettempdir(),
        },
    )
    sheet = workbook.add_worksheet(_sheet_name(title))
    bold = workbook.add_format({"bold": True})
    formats = {kind: workbook.add_format({"num_format": f}) for kind, f in NUMBER_FORMATS.items()}
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    for index, column in enumerate(columns):
        sheet.write_string(0, index, neutralise(str(column.label)), bold)
        sheet.set_column(index, index, 14 if column.numeric else 28)
    for row_index, row in enumerate(rows, start=1):
        for index, cell in enumerate(row):
            value = cell.export_value
            if value is None or value == "":
                sheet.write_blank(row_index, index, None)
            elif cell.kind == DATE and isinstance(value, date):
                sheet.write_datetime(row_index, index, value, date_format)
            elif cell.numeric and isinstance(value, int | float | Decimal):
                sheet.write_number(row_index, index, float(value), formats.get(cell.kind))
            else:
                sheet.write_string(row_index, index, neutralise(str(value)))
    sheet.freeze_panes(1, 0)
    workbook.close()


def _sheet_name(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Feuille1"


def xlsx_response(
    title: str, columns: Sequence[Column], rows: Iterable[Sequence[Cell]], name: str
) -> FileResponse:
    # Deleted as soon as it is closed, which FileResponse does at the end of the response.
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the response)
    write_xlsx(handle, title, columns, rows)
    handle.seek(0)
    response = FileResponse(
        handle, as_attachment=True, filename=name, content_type=XLSX_CONTENT_TYPE
    )
    response["Cache-Control"] = "no-store"
    return response
