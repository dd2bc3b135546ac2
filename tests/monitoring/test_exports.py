"""Exports (CSV, XLSX) and the regional PDF report: the same figures as the pages,
scoped like them, streamed, named by table, place, call and date, and safe to open in a
spreadsheet (formula injection neutralised)."""

import csv
import io
import re
import tracemalloc
import zipfile

import pytest
from defusedxml import ElementTree
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import AuditEvent
from establishments.models import Department, LegalEntity, StatusGroup
from monitoring.exports import neutralise

from ..factories import make_finess
from .fixtures import build_monitoring_world

pytestmark = pytest.mark.django_db

TODAY = lambda: timezone.localdate().isoformat()  # noqa: E731


@pytest.fixture
def world():
    return build_monitoring_world()


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def csv_rows(response) -> list[list[str]]:
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff")  # a BOM: spreadsheets read the file as UTF-8
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def xlsx_rows(response) -> list[list[str]]:
    """The cells of the first sheet as text (xlsxwriter's constant-memory mode writes
    strings inline and numbers as values)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(body(response))) as archive:
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iterfind(".//m:sheetData/m:row", ns):
        cells = []
        for cell in row.iterfind("m:c", ns):
            inline = cell.find("m:is/m:t", ns)
            value = cell.find("m:v", ns)
            text = inline.text if inline is not None else value.text if value is not None else ""
            # OOXML writes control characters as _xHHHH_.
            cells.append(re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m[1], 16)), text or ""))
        rows.append(cells)
    return rows


def test_neutralise_every_formula_prefix():
    for text in ("=1+1", "+33 1 23", "-2", "@SUM(A1)", "\tcmd", "\rcmd"):
        assert neutralise(text) == "'" + text
    for text in ("Centre hospitalier", "1+1", " =x", ""):
        assert neutralise(text) == text


@pytest.fixture
def hostile(world):
    """Eligible entities of the Rhône whose names a spreadsheet would run as formulas."""
    names = ['=HYPERLINK("http://evil.test","x")', "+33 1 23", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]
    for n, name in enumerate(names):
        LegalEntity.objects.create(
            finess=make_finess("69", 880 + n),
            name=name,
            status_group=StatusGroup.PRIVATE_NON_PROFIT,
            finess_category="355",
            department=Department.objects.get(code="69"),
        )
    return names


def test_list_exports_neutralise_formulas(client, world, ministry_user, hostile):
    client.force_login(ministry_user)
    url = "/suivi/export/entites.{}?appel=D2-MON&region=84&liste=sans-candidature"
    for rows in (
        csv_rows(client.get(url.format("csv"))),
        xlsx_rows(client.get(url.format("xlsx"))),
    ):
        names = {row[0] for row in rows[1:]}
        for name in hostile:
            assert "'" + name in names, name
            assert name not in names


def test_list_export_has_the_rows_of_the_list(client, world, ars_user):
    client.force_login(ars_user)
    response = client.get("/suivi/export/entites.csv?appel=D2-MON")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    # The agent's region by default; the list's default: eligible without application.
    assert response["Content-Disposition"] == (
        f'attachment; filename="suivi-entites-region-84-D2-MON-{TODAY()}.csv"'
    )
    rows = csv_rows(response)
    assert rows[0][:3] == ["Entité juridique", "FINESS EJ", "Département"]
    assert [r[0] for r in rows[1:]] == ["E8 EBNL Isère", "E9 CH Isère", "E3 CH hors GHT"]
    e3 = rows[3]
    assert e3[4] == "Aucun objectif atteint"
    assert "Rémi Sécu <rssi@e3.test> (Compte du portail)" in e3[7]
    e9 = rows[2]
    assert (e9[5], e9[6]) == ("D2-MON-A4", "Retirée")
    # An export is recorded in the audit trail, with its scope.
    event = AuditEvent.objects.filter(action="export").latest("created_at")
    assert event.details["table"] == "entites" and event.details["code"] == "84"


def test_list_export_follows_the_filters(client, world, ministry_user):
    client.force_login(ministry_user)
    response = client.get(
        "/suivi/export/entites.xlsx?appel=D2-MON&departement=38&liste=eligibles&groupe=public_outside_ght"
    )
    assert isinstance(response, FileResponse)
    assert response["Content-Disposition"] == (
        f'attachment; filename="suivi-entites-departement-38-D2-MON-{TODAY()}.xlsx"'
    )
    assert [r[0] for r in xlsx_rows(response)[1:]] == ["E9 CH Isère"]


def test_table_exports_carry_the_figures_of_the_page(client, world, ministry_user):
    client.force_login(ministry_user)
    response = client.get("/suivi/export/territoires.csv?appel=D2-MON")
    assert response["Content-Disposition"] == (
        f'attachment; filename="suivi-territoires-nation-D2-MON-{TODAY()}.csv"'
    )
    rows = csv_rows(response)
    assert len(rows) == 1 + 18
    header = rows[0]
    ara = next(r for r in rows if r[0] == "Auvergne-Rhône-Alpes")
    figures = dict(zip(header, ara, strict=True))
    assert figures["Entités éligibles"] == "6"
    assert figures["Taux de candidature"] == "50.0"  # percent
    assert figures["Montant demandé (€)"] == "190000.00"
    assert figures["Délai médian de décision (jours)"] == "10.0"
    corse = dict(zip(header, next(r for r in rows if r[0] == "Corse"), strict=True))
    assert corse["Taux de candidature"] == ""  # no denominator: no rate, not 0

    xlsx = xlsx_rows(client.get("/suivi/export/groupes.xlsx?appel=D2-MON"))
    assert [r[0] for r in xlsx[1:]] == [
        "GHT",
        "Public hors GHT",
        "Privé à but non lucratif (EBNL)",
        "Privé à but lucratif",
    ]
    assert xlsx[1][1] == "2"  # eligible GHT entities, a number cell

    weeks = csv_rows(client.get("/suivi/export/semaines.csv?appel=D2-MON"))
    assert weeks[1] == ["2025-09-01", "3", "0", "0", "0"]
    funnel = csv_rows(client.get("/suivi/export/entonnoir.csv?appel=D2-MON&region=84"))
    assert [r[1] for r in funnel[1:]] == ["6", "3", "2", "2", "2"]
    statuses = csv_rows(client.get("/suivi/export/statuts.csv?appel=D2-MON&departement=38"))
    assert ["Retirée", "1"] in statuses
    key = csv_rows(client.get("/suivi/export/chiffres.csv?appel=D2-MON"))
    assert ["Taux d'éligibilité", "80.0"] in key


def test_exports_are_scoped_like_the_pages(client, world, ars_user):
    client.force_login(ars_user)
    for url in (
        "/suivi/export/entites.csv?region=53",
        "/suivi/export/territoires.csv?departement=29",
        "/suivi/export/chiffres.xlsx?region=53",
    ):
        assert client.get(url).status_code == 404, url
    # Without a place, the agent's own region, never the nation.
    rows = csv_rows(client.get("/suivi/export/territoires.csv?appel=D2-MON"))
    assert {r[0] for r in rows[1:]} == {
        d.name for d in Department.objects.filter(region__code="84")
    }
    everything = body(client.get("/suivi/export/entites.csv?appel=D2-MON&liste=eligibles"))
    assert b"Finist" not in everything and b"E10" not in everything


def test_unknown_exports_are_not_found(client, world, ministry_user):
    client.force_login(ministry_user)
    for url in ("/suivi/export/secret.csv", "/suivi/export/chiffres.pdf"):
        assert client.get(url).status_code == 404
    # A département has no areas to break down into.
    assert client.get("/suivi/export/territoires.csv?departement=69").status_code == 404


def test_csv_export_streams_in_bounded_memory(client, ministry_user):
    """Peak memory while streaming 10,000 rows stays within 1.5 times the peak at 2,500
    (rows are read in chunks and written as they come)."""
    from tests.factories import FundingCallFactory

    FundingCallFactory(code="D2-BIG")
    departments = list(Department.objects.filter(region__code="84"))

    def add(count: int, offset: int) -> None:
        LegalEntity.objects.bulk_create(
            LegalEntity(
                finess=make_finess(departments[n % len(departments)].code, 100000 + offset + n),
                name=f"Établissement {offset + n}",
                status_group=StatusGroup.PRIVATE_FOR_PROFIT,
                finess_category="365",
                department=departments[n % len(departments)],
            )
            for n in range(count)
        )

    client.force_login(ministry_user)
    url = "/suivi/export/entites.csv?appel=D2-BIG&region=84&liste=eligibles"

    def peak() -> tuple[int, int]:
        tracemalloc.start()
        response = client.get(url)
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return lines, top

    add(2500, 0)
    small_lines, small_peak = peak()
    add(7500, 2500)
    large_lines, large_peak = peak()
    assert (small_lines, large_lines) == (2501, 10001)
    assert large_peak <= 1.5 * small_peak, (small_peak, large_peak)


def test_region_report_is_a_pdf_of_its_figures(client, world, ministry_user, ars_user):
    client.force_login(ars_user)
    response = client.get("/suivi/regions/84/rapport.pdf?appel=D2-MON")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="suivi-rapport-region-84-D2-MON-{TODAY()}.pdf"'
    )
    reader = PdfReader(io.BytesIO(response.content))
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))
    assert "Suivi de la participation : Auvergne-Rhône-Alpes" in text
    assert "50,0 %" in text  # the application rate of the region
    assert "Isère" in text and "Rhône" in text  # its départements
    assert "Finistère" not in text
    assert "CC BY 4.0" in text


def test_exports_speak_the_language_of_the_page(client, world, ars_user, settings):
    client.force_login(ars_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    rows = csv_rows(client.get("/suivi/export/entites.csv?appel=D2-MON"))
    assert rows[0][:2] == ["Legal entity", "FINESS EJ"]
    e3 = rows[3]
    assert e3[3] == "Public outside a GHT"
    assert "(Portal account)" in e3[7]
