"""The imports core (care_portal/imports): encoding, delimiter, aliases, identifiers a
spreadsheet mangled, bounded memory, progress. The apps' imports test the rest."""

import io
import tracemalloc

import pytest
from django.core.cache import cache

from care_portal.errors import ImportFileError
from care_portal.imports import progress
from care_portal.imports.columns import Column, clean_identifier, resolve_header
from care_portal.imports.lines import sniff
from care_portal.imports.report import ImportReport
from care_portal.imports.sources import CSVSource

COLUMNS = (
    Column("finess_ej", True, aliases=("legal_entity_finess", "N° FINESS EJ"), width=9),
    Column("nom", True, aliases=("name", "raison sociale")),
    Column("departement", False, aliases=("department",), width=2),
)


def records(data: bytes) -> list[tuple]:
    return list(CSVSource(io.BytesIO(data), COLUMNS).records())


def test_a_cp1252_file_is_read_as_cp1252():
    data = "finess_ej;nom\n010000123;Hôpital Saint-Étienne – Nord\n".encode("cp1252")

    assert sniff(io.BytesIO(data)).encoding == "cp1252"
    assert records(data) == [
        (2, {"finess_ej": "010000123", "nom": "Hôpital Saint-Étienne – Nord"}, [])
    ]


def test_a_byte_without_a_cp1252_character_falls_back_to_latin1():
    data = b"finess_ej;nom\n010000123;Caf\xe9 \x81\n"

    assert sniff(io.BytesIO(data)).encoding == "latin-1"
    assert records(data)[0][1]["nom"] == "Café \x81"


def test_utf8_with_or_without_bom():
    text = "finess_ej;nom\n010000123;Hôpital\n"
    for data in (text.encode(), ("\ufeff" + text).encode()):
        assert sniff(io.BytesIO(data)).encoding == "utf-8-sig"
        assert records(data)[0][1] == {"finess_ej": "010000123", "nom": "Hôpital"}


def test_a_file_mixing_utf8_and_cp1252_is_refused_naming_the_line():
    data = "finess_ej;nom\n010000123;Hôpital\n".encode() + "010000123;Clinique é\n".encode("cp1252")

    with pytest.raises(ImportFileError, match=r"UTF-8 \(ligne 3\)"):
        records(data)


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_delimiters(delimiter):
    data = f"finess_ej{delimiter}nom\n010000123{delimiter}CH\n".encode()
    source = CSVSource(io.BytesIO(data), COLUMNS)

    assert list(source.records()) == [(2, {"finess_ej": "010000123", "nom": "CH"}, [])]
    assert source.delimiter == delimiter


def test_french_and_english_aliases_ignore_case_accents_and_spaces():
    names = ["legal_entity_finess", "raison_sociale", "department"]
    assert resolve_header(names, COLUMNS) == ["finess_ej", "nom", "departement"]

    data = "N° FINESS EJ;Raison Sociale;Département\n010000123;CH;1\n".encode()
    assert records(data)[0][1] == {"finess_ej": "010000123", "nom": "CH", "departement": "1"}


def test_an_alias_and_its_column_together_are_a_duplicate():
    with pytest.raises(ImportFileError, match="Colonne en double dans l'en-tête : nom"):
        resolve_header(["finess_ej", "nom", "name"], COLUMNS)


def test_scientific_notation_is_refused_as_lost_digits():
    for text in ("2,601E+13", "2.601E+13", "6,9E+08", "1e5"):
        value, problem = clean_identifier(text, 14)
        assert problem and "notation scientifique" in problem and "perdus" in problem, text
        assert value == text


def test_one_lost_leading_zero_is_restored_by_the_width():
    finess, department = COLUMNS[0], COLUMNS[2]
    assert finess.clean("10000123") == ("010000123", None)
    assert finess.clean(" 690000017 ") == ("690000017", None)
    assert finess.clean("1000012") == ("1000012", None)  # two digits short: not guessed
    assert department.clean("1") == ("01", None)
    assert department.clean("2A") == ("2A", None)
    assert COLUMNS[1].clean(" 123 ") == ("123", None)  # no width: no repair


def test_every_unreadable_line_is_a_record_with_its_line_number():
    data = b'finess_ej;nom\n010000123;CH\n010000123\n\n;\n010000123;"CH\n'

    found = records(data)

    assert [(line, values is None) for line, values, _problems in found] == [
        (2, False),
        (3, True),
        (6, False),
    ]
    assert "compte 1 champs au lieu de 2" in found[1][2][0]


def _peak(rows: int) -> int:
    data = b"finess_ej;nom;departement\n" + b"010000123;Centre hospitalier;01\n" * rows
    raw = io.BytesIO(data)
    report = ImportReport()
    tracemalloc.start()
    for line, values, problems in CSVSource(raw, COLUMNS).records():
        report.rows += 1
        if values is None or problems:
            report.add_error(line, "bad")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.rows == rows
    return peak


def test_reading_memory_stays_flat_with_the_number_of_rows():
    small, large = _peak(10_000), _peak(100_000)

    assert large < 1.5 * small, (small, large)


def test_row_errors_are_all_counted_but_only_the_first_thousand_kept():
    report = ImportReport()
    for line in range(2, 1502):
        report.add_error(line, "bad")

    assert (report.error_count, len(report.errors), report.errors_truncated) == (1500, 1000, True)
    assert not report.ok


def test_progress_is_published_live_then_read_from_the_batch(db):
    from audits.models import AuditImport

    batch = AuditImport(pk=987654, status=AuditImport.Status.RUNNING, rows_total=10)
    key = "test-import-progress"
    progress.publish(
        key,
        phase=progress.Phase.READING,
        rows_processed=5,
        rows_total=10,
        percent=150,
        error_count=0,
    )
    try:
        live = progress.batch_progress(batch, key)
    finally:
        progress.forget(key)

    assert (live["rows_processed"], live["percent"], live["finished"]) == (5, 99, False)
    assert cache.get(key) is None
    batch.rows_processed = 4
    stored = progress.batch_progress(batch, key)
    assert (stored["phase"], stored["percent"]) == (progress.Phase.READING, 40)
