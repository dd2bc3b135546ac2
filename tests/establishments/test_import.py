"""The directory import: CSV format, all-or-nothing, upsert by FINESS, command, admin."""

import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import IntegrityError, connection
from django.urls import reverse
from stdnum import luhn

from care_portal.errors import ImportFileError
from care_portal.imports import writer
from establishments import importers
from establishments.importers import COLUMNS, MAX_STORED_ERRORS, import_establishments
from establishments.models import GHT, LegalEntity, Site, StatusGroup
from establishments.services import establishments_import
from tests.factories import GHTFactory, LegalEntityFactory, UserFactory, make_finess, make_siren

EXAMPLE = Path(settings.BASE_DIR) / "examples" / "establishments.csv"
DOC = Path(settings.BASE_DIR) / "docs" / "import-establishments.md"
HEADER = [column.name for column in COLUMNS]

# Identifiers of the small directory the tests import.
CH_A = make_finess("69", 1)  # public, support of GHT-T1, two sites
CH_B = make_finess("69", 2)  # public, member of GHT-T1
CLINIC = make_finess("13", 3)  # private for-profit, outside any GHT
SITE_A1 = make_finess("69", 501)
SITE_A2 = make_finess("01", 502)
SITE_B1 = make_finess("69", 503)
SITE_C1 = make_finess("13", 504)


def make_siret(siren: str, nic: int) -> str:
    base = f"{siren}{nic:04d}"
    return base + luhn.calc_check_digit(base)


def entity_row(finess: str, **values: str) -> dict[str, str]:
    return {
        "finess_ej": finess,
        "nom_ej": f"Entité {finess}",
        "siren": "",
        "statut": "public",
        "categorie_ej": "355",
        "departement_ej": "69",
        "ght_code": "",
        "ght_nom": "",
        "ght_support": "",
        "effectif": "500",
        "actif": "oui",
        **values,
    }


def site_row(finess: str, entity: dict[str, str], **values: str) -> dict[str, str]:
    return {
        "finess_et": finess,
        "nom_site": f"Site {finess}",
        "categorie_site": "355",
        "departement_site": entity["departement_ej"],
        "lits": "100",
        "siret": "",
        **entity,
        **values,
    }


def directory_rows() -> list[dict[str, str]]:
    ght = {"ght_code": "GHT-T1", "ght_nom": "GHT de test"}
    ch_a = entity_row(CH_A, siren=make_siren(26000001), ght_support="oui", **ght)
    ch_b = entity_row(CH_B, ght_support="non", effectif="120", **ght)
    clinic = entity_row(
        CLINIC, statut="prive_lucratif", departement_ej="13", categorie_ej="", effectif=""
    )
    return [
        site_row(SITE_A1, ch_a, siret=make_siret(make_siren(26000001), 1)),
        site_row(SITE_A2, ch_a, departement_site="01", lits=""),
        site_row(SITE_B1, ch_b, categorie_site="106"),
        site_row(SITE_C1, clinic, categorie_site="365"),
    ]


def csv_text(rows: list[dict[str, str]], *, delimiter: str = ";", header: list[str] | None = None):
    header = header or HEADER
    lines = [delimiter.join(header)]
    for row in rows:
        values = [row.get(name, "") for name in header]
        lines.append(
            delimiter.join(f'"{value}"' if delimiter in value else value for value in values)
        )
    return "\n".join(lines) + "\n"


def csv_file(rows: list[dict[str, str]], **kwargs) -> io.BytesIO:
    return io.BytesIO(csv_text(rows, **kwargs).encode("utf-8"))


def counts() -> tuple[int, int, int]:
    return GHT.objects.count(), LegalEntity.objects.count(), Site.objects.count()


def as_tuple(kind) -> tuple[int, int, int]:
    return kind.created, kind.updated, kind.unchanged


# The good file -----------------------------------------------------------------


def test_import_creates_ghts_legal_entities_and_sites(db):
    report = import_establishments(file=csv_file(directory_rows()), filename="annuaire.csv")

    assert report.ok, report.errors
    assert report.rows == 4
    assert as_tuple(report.ght) == (1, 0, 0)
    assert as_tuple(report.legal_entity) == (3, 0, 0)
    assert as_tuple(report.site) == (4, 0, 0)
    ch_a = LegalEntity.objects.get(finess=CH_A)
    assert ch_a.ght.code == "GHT-T1"
    assert ch_a.is_ght_support
    assert ch_a.siren == make_siren(26000001)
    assert ch_a.staff_count == 500
    assert ch_a.ght.region.code == "84"  # the support's département, Rhône
    assert set(ch_a.sites.values_list("finess", flat=True)) == {SITE_A1, SITE_A2}
    site_a2 = Site.objects.get(finess=SITE_A2)
    assert site_a2.department.code == "01"
    assert site_a2.beds is None
    clinic = LegalEntity.objects.get(finess=CLINIC)
    assert clinic.status_group == StatusGroup.PRIVATE_FOR_PROFIT
    assert clinic.ght is None
    assert clinic.staff_count is None
    assert clinic.department.code == "13"
    assert LegalEntity.objects.get(finess=CH_B).is_ght_support is False


def test_reimport_of_the_same_file_changes_nothing(db):
    text = csv_text(directory_rows())
    import_establishments(file=io.BytesIO(text.encode()))
    stamps = {
        "le": dict(LegalEntity.objects.values_list("finess", "updated_at")),
        "site": dict(Site.objects.values_list("finess", "updated_at")),
        "ght": dict(GHT.objects.values_list("code", "updated_at")),
    }

    report = import_establishments(file=io.BytesIO(text.encode()))

    assert report.ok
    assert as_tuple(report.ght) == (0, 0, 1)
    assert as_tuple(report.legal_entity) == (0, 0, 3)
    assert as_tuple(report.site) == (0, 0, 4)
    assert dict(LegalEntity.objects.values_list("finess", "updated_at")) == stamps["le"]
    assert dict(Site.objects.values_list("finess", "updated_at")) == stamps["site"]
    assert dict(GHT.objects.values_list("code", "updated_at")) == stamps["ght"]


def test_changed_row_updates_exactly_that_entity(db):
    rows = directory_rows()
    import_establishments(file=csv_file(rows))
    before = dict(LegalEntity.objects.values_list("finess", "updated_at"))
    rows[3]["nom_ej"] = "Clinique du Parc"
    rows[3]["effectif"] = "75"

    report = import_establishments(file=csv_file(rows))

    assert report.ok
    assert as_tuple(report.legal_entity) == (0, 1, 2)
    assert as_tuple(report.site) == (0, 0, 4)
    clinic = LegalEntity.objects.get(finess=CLINIC)
    assert (clinic.name, clinic.staff_count) == ("Clinique du Parc", 75)
    after = dict(LegalEntity.objects.values_list("finess", "updated_at"))
    assert after[CLINIC] > before[CLINIC]
    assert {k: v for k, v in after.items() if k != CLINIC} == {
        k: v for k, v in before.items() if k != CLINIC
    }


def test_import_updates_existing_rows_made_elsewhere(db):
    entity = LegalEntityFactory(finess=CH_B, name="Ancien nom", staff_count=9)

    report = import_establishments(file=csv_file(directory_rows()))

    assert as_tuple(report.legal_entity) == (2, 1, 0)
    entity.refresh_from_db()
    assert (entity.name, entity.staff_count, entity.ght.code) == (f"Entité {CH_B}", 120, "GHT-T1")


def test_a_site_moves_to_the_legal_entity_the_file_gives(db):
    rows = directory_rows()
    import_establishments(file=csv_file(rows))
    rows[2] = {**rows[0], "finess_et": SITE_B1, "nom_site": f"Site {SITE_B1}"}

    report = import_establishments(file=csv_file(rows))

    assert report.ok, report.errors
    assert as_tuple(report.site) == (0, 1, 3)
    assert Site.objects.get(finess=SITE_B1).legal_entity.finess == CH_A


def test_support_moves_within_a_ght(db, monkeypatch):
    rows = directory_rows()
    import_establishments(file=csv_file(rows))
    for row in rows[:2]:
        row["ght_support"] = "non"
    rows[2]["ght_support"] = "oui"
    # One row per chunk, the new support first: it is written while the old support
    # is still flagged, unless the import clears the moved flags beforehand.
    monkeypatch.setattr(importers, "CHUNK_SIZE", 1)
    rows.insert(0, rows.pop(2))

    report = import_establishments(file=csv_file(rows))

    assert report.ok, report.errors
    assert as_tuple(report.legal_entity) == (0, 2, 1)
    supports = LegalEntity.objects.filter(ght__code="GHT-T1", is_ght_support=True)
    assert list(supports.values_list("finess", flat=True)) == [CH_B]


def test_entities_spanning_chunks_are_written_and_counted_once(db, monkeypatch):
    monkeypatch.setattr(importers, "CHUNK_SIZE", 1)

    first = import_establishments(file=csv_file(directory_rows()))
    again = import_establishments(file=csv_file(directory_rows()))

    assert as_tuple(first.legal_entity) == (3, 0, 0)
    assert as_tuple(again.legal_entity) == (0, 0, 3)
    assert as_tuple(again.site) == (0, 0, 4)
    assert counts() == (1, 3, 4)


def test_file_naming_a_new_support_clears_the_old_one_left_out_of_the_file(db):
    ght = GHTFactory(code="GHT-T1", name="GHT de test")
    old_support = LegalEntityFactory(ght=ght, is_ght_support=True)

    report = import_establishments(file=csv_file(directory_rows()))

    assert report.ok, report.errors
    old_support.refresh_from_db()
    assert old_support.is_ght_support is False
    assert old_support.ght == ght
    assert LegalEntity.objects.get(finess=CH_A).is_ght_support


def test_leaving_the_ght_columns_empty_takes_an_entity_out_of_its_ght(db):
    rows = directory_rows()
    import_establishments(file=csv_file(rows))
    rows[2].update(ght_code="", ght_nom="", ght_support="")

    report = import_establishments(file=csv_file(rows))

    assert report.ok, report.errors
    assert LegalEntity.objects.get(finess=CH_B).ght is None


def test_optional_column_absent_from_the_header_keeps_the_known_value(db):
    import_establishments(file=csv_file(directory_rows()))
    header = [name for name in HEADER if name not in ("effectif", "lits")]

    report = import_establishments(file=csv_file(directory_rows(), header=header))

    assert report.ok, report.errors
    assert as_tuple(report.legal_entity) == (0, 0, 3)
    assert as_tuple(report.site) == (0, 0, 4)
    assert LegalEntity.objects.get(finess=CH_A).staff_count == 500
    assert Site.objects.get(finess=SITE_A1).beds == 100


def test_ght_code_without_ght_support_is_refused_and_keeps_every_support(db):
    import_establishments(file=csv_file(directory_rows()))
    header = [name for name in HEADER if name != "ght_support"]

    with pytest.raises(ImportFileError, match="ght_support absente de l'en-tête"):
        import_establishments(file=csv_file(directory_rows(), header=header))

    assert LegalEntity.objects.get(finess=CH_A).is_ght_support


def test_ght_support_without_ght_code_is_still_read(db):
    import_establishments(file=csv_file(directory_rows()))
    rows = directory_rows()
    rows[0]["ght_support"] = rows[1]["ght_support"] = "non"
    header = [name for name in HEADER if name not in ("ght_code", "ght_nom")]

    report = import_establishments(file=csv_file(rows, header=header))

    assert report.ok, report.errors
    entity = LegalEntity.objects.get(finess=CH_A)
    assert (entity.ght.code, entity.is_ght_support) == ("GHT-T1", False)


# Format --------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", ","])
def test_both_delimiters_are_read(db, delimiter):
    rows = directory_rows()
    rows[3]["nom_ej"] = "Clinique du Parc, SAS; Lyon"  # quoted: holds both delimiters

    report = import_establishments(file=csv_file(rows, delimiter=delimiter))

    assert report.ok, report.errors
    assert counts() == (1, 3, 4)
    assert LegalEntity.objects.get(finess=CLINIC).name == "Clinique du Parc, SAS; Lyon"


def test_utf8_bom_and_header_case_and_spaces_are_accepted(db):
    header = [f" {name.upper().replace('_', ' ')} " for name in HEADER]
    text = csv_text(directory_rows()).split("\n", 1)[1]
    data = ("\ufeff" + ";".join(header) + "\r\n" + text.replace("\n", "\r\n")).encode()

    report = import_establishments(file=io.BytesIO(data))

    assert report.ok, report.errors
    assert counts() == (1, 3, 4)
    assert LegalEntity.objects.get(finess=CH_A).name == f"Entité {CH_A}"


def test_non_utf8_byte_is_a_file_error_naming_its_line(db):
    data = csv_text(directory_rows()).encode("utf-8")
    data = data.replace(f"Site {SITE_B1}".encode(), "Hôpital".encode("cp1252"))

    with pytest.raises(ImportFileError, match=r"UTF-8 \(ligne 4\)"):
        import_establishments(file=io.BytesIO(data))
    assert counts() == (0, 0, 0)


def test_cp1252_file_with_tabs_and_english_headers_is_imported(db):
    english = {
        "finess_et": "site_finess",
        "nom_site": "Site name",
        "finess_ej": "legal_entity_finess",
        "nom_ej": "Legal entity name",
        "statut": "Status",
        "lits": "beds",
        "actif": "active",
    }
    text = csv_text(directory_rows(), delimiter="\t").split("\n", 1)[1]
    header = "\t".join(english.get(name, name) for name in HEADER)
    data = (header + "\r\n" + text.replace(f"Site {SITE_B1}", "Hôpital Édouard-Herriot")).encode(
        "cp1252"
    )

    report = import_establishments(file=io.BytesIO(data))

    assert report.ok, report.errors
    assert counts() == (1, 3, 4)
    assert Site.objects.get(finess=SITE_B1).name == "Hôpital Édouard-Herriot"
    assert LegalEntity.objects.get(finess=CH_A).name == f"Entité {CH_A}"


def test_leading_zeros_a_spreadsheet_dropped_are_restored(db):
    rows = directory_rows()
    assert SITE_A2.startswith("0")
    rows[1]["finess_et"] = SITE_A2[1:]  # 01... read as a number by the spreadsheet
    rows[1]["departement_site"] = "1"

    report = import_establishments(file=csv_file(rows))

    assert report.ok, report.errors
    assert Site.objects.get(finess=SITE_A2).department.code == "01"


def test_scientific_notation_is_refused_with_its_line_and_nothing_is_written(db):
    rows = directory_rows()
    rows[0]["siret"] = "2,601E+13"
    rows[2]["finess_et"] = "6.9E+08"

    report = import_establishments(file=csv_file(rows))

    assert [error.line for error in report.errors] == [2, 4]
    assert (
        "siret : « 2,601E+13 » est un nombre en notation scientifique" in report.errors[0].message
    )
    assert "ne peuvent pas être retrouvés" in report.errors[0].message
    assert "finess_et" in report.errors[1].message
    assert counts() == (0, 0, 0)


def test_statut_ignores_case_accents_spaces_and_dashes(db):
    rows = directory_rows()
    rows[3]["statut"] = " Privé Non-Lucratif "

    report = import_establishments(file=csv_file(rows))

    assert report.ok, report.errors
    assert LegalEntity.objects.get(finess=CLINIC).status_group == StatusGroup.PRIVATE_NON_PROFIT


def test_nul_character_is_a_file_error_naming_its_line(db):
    rows = directory_rows()
    rows[2]["nom_site"] = "Site\x00B"

    with pytest.raises(ImportFileError, match="La ligne 4 contient un caractère nul"):
        import_establishments(file=csv_file(rows))
    assert counts() == (0, 0, 0)


def test_integers_too_long_for_int_are_row_errors(db):
    rows = directory_rows()
    rows[0]["effectif"] = rows[1]["effectif"] = "9" * 5000  # int() refuses > 4,300 digits
    rows[2]["lits"] = "1" * 13
    rows[3]["lits"] = "0" * 20 + "42"  # leading zeros are no size

    report = import_establishments(file=csv_file(rows))

    by_line = {error.line: error.message for error in report.errors}
    assert sorted(by_line) == [2, 3, 4]
    assert "effectif" in by_line[2]
    assert "n'est pas un nombre entier positif ou nul" in by_line[2]
    assert "lits" in by_line[4]
    assert counts() == (0, 0, 0)


def test_missing_required_column_is_a_file_error_naming_it(db):
    header = [name for name in HEADER if name != "statut"]

    with pytest.raises(ImportFileError, match="statut"):
        import_establishments(file=csv_file(directory_rows(), header=header))


def test_unknown_column_is_a_file_error_naming_it(db):
    header = [*HEADER, "commentaire"]

    with pytest.raises(ImportFileError, match="commentaire"):
        import_establishments(file=csv_file(directory_rows(), header=header))


def test_empty_file_is_a_file_error(db):
    with pytest.raises(ImportFileError, match="vide"):
        import_establishments(file=io.BytesIO(b""))


def test_file_over_the_size_limit_is_refused(db, settings):
    settings.IMPORT_MAX_FILE_SIZE = 100

    with pytest.raises(ImportFileError, match="taille maximale"):
        import_establishments(file=csv_file(directory_rows()))
    assert counts() == (0, 0, 0)


def test_non_seekable_stream_is_imported(db):
    class Stream(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            chunk = self.inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    stream = io.BufferedReader(Stream(csv_text(directory_rows()).encode()))

    report = import_establishments(file=stream)

    assert report.ok, report.errors
    assert counts() == (1, 3, 4)


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(db):
    rows = directory_rows()
    rows[3]["statut"] = "associatif"
    text = csv_text(rows).replace("\n", "\n\n", 2)  # two blank lines after lines 1 and 2

    report = import_establishments(file=io.BytesIO(text.encode()))

    assert report.rows == 4
    assert [error.line for error in report.errors] == [7]


# Bad rows: nothing is written, every bad line is named -----------------------------


def test_file_with_bad_rows_writes_nothing_and_names_every_bad_line(db):
    LegalEntityFactory()
    before = counts()
    bad_key = CH_A[:-1] + str((int(CH_A[-1]) + 1) % 10)
    rows = directory_rows()
    ch_b = {k: v for k, v in rows[2].items() if k not in ("finess_et", "nom_site")}
    rows += [
        site_row(make_finess("69", 601), entity_row(make_finess("69", 11)), finess_et=bad_key),
        site_row(make_finess("69", 602), entity_row(make_finess("69", 12), departement_ej="99")),
        site_row(make_finess("69", 603), entity_row(make_finess("69", 13), statut="associatif")),
        site_row(SITE_A1, entity_row(make_finess("69", 14))),  # same FINESS ET as line 2
        {**ch_b, "finess_et": make_finess("69", 605), "nom_site": "X", "nom_ej": "Autre nom"},
        site_row(make_finess("69", 606), entity_row(make_finess("69", 16)), lits="douze"),
    ]

    report = import_establishments(file=csv_file(rows))

    assert not report.ok
    assert counts() == before
    assert report.error_count == 6
    by_line = {error.line: error.message for error in report.errors}
    assert sorted(by_line) == [6, 7, 8, 9, 10, 11]
    assert "finess_et" in by_line[6]
    assert "clé de contrôle" in by_line[6]
    assert "département « 99 » inconnu" in by_line[7]
    assert "associatif" in by_line[8]
    assert "ligne 2" in by_line[9]
    assert "nom_ej différent de la ligne 4" in by_line[10]
    assert "lits" in by_line[11]
    assert "douze" in by_line[11]


def test_row_with_several_problems_is_one_error_naming_each(db):
    rows = directory_rows()
    rows[0].update(statut="x", effectif="-3", siren="123456789")

    report = import_establishments(file=csv_file(rows))

    assert report.error_count == 1
    message = report.errors[0].message
    assert all(column in message for column in ("statut", "effectif", "siren"))


def test_ght_rules_are_checked_across_rows(db):
    rows = directory_rows()
    other = entity_row(make_finess("69", 21), ght_code="GHT-T1", ght_nom="Autre nom")
    second_support = entity_row(
        make_finess("69", 22), ght_code="GHT-T1", ght_nom="GHT de test", ght_support="oui"
    )
    support_without_ght = entity_row(make_finess("69", 23), ght_support="oui")
    rows += [
        site_row(make_finess("69", 621), other),
        site_row(make_finess("69", 622), second_support),
        site_row(make_finess("69", 623), support_without_ght),
    ]

    report = import_establishments(file=csv_file(rows))

    by_line = {error.line: error.message for error in report.errors}
    assert "ght_nom" in by_line[6]
    assert "ligne 2" in by_line[6]
    assert "support" in by_line[7]
    assert CH_A in by_line[7]
    assert "ght_support" in by_line[8]
    assert counts() == (0, 0, 0)


def test_row_with_a_wrong_number_of_fields_is_a_row_error(db):
    text = csv_text(directory_rows()) + "690000000;trop court\n"

    report = import_establishments(file=io.BytesIO(text.encode()))

    assert [(error.line, "champs" in error.message) for error in report.errors] == [(6, True)]


def test_errors_are_all_counted_but_only_the_first_thousand_kept(db):
    rows = [
        site_row(make_finess("69", 1000 + n), entity_row(make_finess("69", 5000 + n), statut="?"))
        for n in range(MAX_STORED_ERRORS + 20)
    ]

    report = import_establishments(file=csv_file(rows))

    assert report.error_count == MAX_STORED_ERRORS + 20
    assert len(report.errors) == MAX_STORED_ERRORS
    assert report.errors_truncated


def test_an_import_colliding_with_another_one_asks_to_run_it_again(db, monkeypatch):
    def collide(*args, **kwargs):
        # What a concurrent import's rows, committed meanwhile, make an insert do.
        LegalEntityFactory()  # written in the transaction: rolled back with it
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(writer, "bulk_create_with_ids", collide)

    with pytest.raises(ImportFileError, match="Un autre import de l'annuaire s'est terminé"):
        establishments_import(file=csv_file(directory_rows()), filename="annuaire.csv")
    assert counts() == (0, 0, 0)


# Scale ----------------------------------------------------------------------------


def big_file(n_rows: int) -> str:
    """n_rows sites, five per legal entity, spread over 20 GHTs."""
    rows = []
    for n in range(n_rows):
        ej = n // 5
        ght = ej % 20
        entity = entity_row(
            make_finess("69", 100_000 + ej),
            ght_code=f"GHT-{ght:02d}",
            ght_nom=f"GHT numéro {ght}",
            ght_support="oui" if ej < 20 else "non",
        )
        rows.append(site_row(make_finess("69", 500_000 + n), entity))
    return csv_text(rows)


def test_import_runs_chunked_queries_not_one_per_row(db, django_assert_max_num_queries):
    text = big_file(2500)
    max_queries = 40
    params = connection.features.max_query_params
    if params:
        # SQLite splits bulk inserts by its bound on query parameters.
        max_queries += -(-2500 // (params // 10)) + -(-500 // (params // 13))

    with django_assert_max_num_queries(max_queries):
        report = import_establishments(file=io.BytesIO(text.encode()))

    assert report.ok, report.errors[:3]
    assert counts() == (20, 500, 2500)
    with django_assert_max_num_queries(15):
        again = import_establishments(file=io.BytesIO(text.encode()))
    assert as_tuple(again.site) == (0, 0, 2500)
    assert as_tuple(again.legal_entity) == (0, 0, 500)


# The example file and the documentation ----------------------------------------------


def test_example_file_imports_cleanly(db):
    with EXAMPLE.open("rb") as handle:
        report = establishments_import(file=handle, filename=EXAMPLE.name)

    assert report.ok, report.errors
    assert report.rows == 13
    assert as_tuple(report.ght) == (2, 0, 0)
    assert as_tuple(report.legal_entity) == (10, 0, 0)
    assert as_tuple(report.site) == (13, 0, 0)
    assert LegalEntity.objects.filter(is_ght_support=True).count() == 2
    assert LegalEntity.objects.filter(department__code="2A").exists()
    assert LegalEntity.objects.get(department__code="971").department.region.code == "01"


def test_documentation_lists_every_column():
    documented = set(re.findall(r"^\| `(\w+)` \|", DOC.read_text(encoding="utf-8"), re.M))

    assert documented == set(HEADER)


# The command ------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "annuaire.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_command_imports_a_good_file(db, tmp_path):
    out = io.StringIO()

    call_command(
        "import_establishments", str(write(tmp_path, csv_text(directory_rows()))), stdout=out
    )

    assert counts() == (1, 3, 4)
    assert "Entités juridiques : 3 créé(s), 0 modifié(s), 0 inchangé(s)" in out.getvalue()


def test_command_fails_and_prints_each_bad_line(db, tmp_path):
    rows = directory_rows()
    rows[1]["statut"] = "associatif"
    rows[3]["finess_et"] = "123"
    err = io.StringIO()

    with pytest.raises(CommandError, match="2 ligne"):
        call_command("import_establishments", str(write(tmp_path, csv_text(rows))), stderr=err)

    lines = err.getvalue().splitlines()
    assert lines[0].startswith("ligne 3 : ")
    assert lines[1].startswith("ligne 5 : ")
    assert counts() == (0, 0, 0)


def test_command_exits_with_status_1_on_a_bad_file(db, tmp_path):
    path = write(tmp_path, csv_text(directory_rows(), header=[*HEADER[:-2], "inconnue", "actif"]))

    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "import_establishments", str(path)]).execute()

    assert exit_info.value.code == 1


def test_command_reports_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="introuvable"):
        call_command("import_establishments", str(tmp_path / "absent.csv"))


# The admin page --------------------------------------------------------------------


IMPORT_URL = "admin:establishments_legalentity_import"


@pytest.fixture
def superuser(db):
    return UserFactory(email="root@sante.gouv.test", is_staff=True, is_superuser=True)


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def post_directory(client, user, text: str):
    """Posts `text`, as the file annuaire.csv, to the admin's import page as `user`."""
    client.force_login(user)
    return client.post(reverse(IMPORT_URL), {"file": upload("annuaire.csv", text)})


def test_admin_import_page_imports_and_shows_the_report(client, superuser):
    response = post_directory(client, superuser, csv_text(directory_rows()))

    assert response.status_code == 200
    assert response.context["report"].ok
    assert counts() == (1, 3, 4)
    content = response.content.decode()
    assert "Compte rendu de l" in content
    assert "finess_et" in content  # the format table


def test_admin_import_page_lists_the_bad_lines(client, superuser):
    rows = directory_rows()
    rows[2]["departement_site"] = "99"

    response = post_directory(client, superuser, csv_text(rows))

    assert response.status_code == 200
    assert counts() == (0, 0, 0)
    content = response.content.decode()
    assert "a été importé" in content
    assert "<td>4</td>" in content
    assert "département « 99 » inconnu" in content


def test_admin_import_page_shows_a_file_error_at_the_field(client, superuser):
    response = post_directory(client, superuser, "")

    assert response.status_code == 200
    assert response.context["form"].errors["file"]


def test_admin_import_page_names_the_line_of_a_nul_character(client, superuser):
    rows = directory_rows()
    rows[1]["nom_ej"] = "CH\x00A"

    response = post_directory(client, superuser, csv_text(rows))

    assert response.status_code == 200
    assert "La ligne 3 contient un caractère nul" in response.context["form"].errors["file"][0]
    assert counts() == (0, 0, 0)


def test_admin_import_page_asks_to_run_again_after_a_concurrent_import(
    client, superuser, monkeypatch
):
    def collide(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(writer, "bulk_create_with_ids", collide)

    response = post_directory(client, superuser, csv_text(directory_rows()))

    assert response.status_code == 200
    assert "Un autre import de l&#x27;annuaire s&#x27;est terminé" in response.content.decode()
    assert counts() == (0, 0, 0)


def test_ministry_user_with_the_permission_can_import(client, ministry_user):
    ministry_user.user_permissions.add(Permission.objects.get(codename="add_legalentity"))

    response = post_directory(client, ministry_user, csv_text(directory_rows()))

    assert response.status_code == 200
    assert counts() == (1, 3, 4)


def test_changelist_offers_the_import_button_to_who_may_import(client, superuser):
    client.force_login(superuser)

    response = client.get(reverse("admin:establishments_legalentity_changelist"))

    assert reverse(IMPORT_URL) in response.content.decode()


def test_establishment_user_is_sent_to_the_admin_login(client, hospital_user):
    client.force_login(hospital_user)

    response = client.get(reverse(IMPORT_URL))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_permission_gets_403(client, db):
    staff = UserFactory(email="staff@sante.gouv.test", is_staff=True)
    client.force_login(staff)

    get = client.get(reverse(IMPORT_URL))
    post = client.post(
        reverse(IMPORT_URL), {"file": upload("annuaire.csv", csv_text(directory_rows()))}
    )

    assert (get.status_code, post.status_code) == (403, 403)
    assert counts() == (0, 0, 0)
