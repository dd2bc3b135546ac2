"""Audit imports from CSV and JSON: good files, every kind of bad file, idempotence,
all-or-nothing writes and a query count that does not grow with the file."""

import io
from datetime import date, timedelta

import pytest
from django.utils import timezone

from audits.importers import AD_COLUMNS, EXPOSURE_COLUMNS, writer
from audits.models import AuditImport, DirectoryAudit, ExposureScan, Volet1Level, Volet1Status
from audits.services import audit_import_create, audit_import_run
from care_portal.errors import ImportFileError
from care_portal.imports import report
from tests.factories import LegalEntityFactory, make_finess

from .conftest import csv_bytes, json_bytes, run_import

AD_HEADER = [column.name for column in AD_COLUMNS]
EXPOSURE_HEADER = [column.name for column in EXPOSURE_COLUMNS]
UNKNOWN_FINESS = make_finess("13", 999_001)  # valid, but not in the directory


def scan(finess, day, **values):
    return {
        "finess_ej": finess,
        "date_scan": day,
        "services_exposes": "12",
        "vulns_critiques": "0",
        "vulns_elevees": "1",
        "vulns_moyennes": "3",
        "vulns_faibles": "5",
        "niveau_minimal_atteint": "oui",
        **values,
    }


def audit(finess, day, **values):
    return {
        "finess_ej": finess,
        "date_audit": day,
        "outil": "pingcastle",
        "domaine": "ch-exemple.local",
        "score_global": "55",
        "score_objets_obsoletes": "31",
        "score_comptes_privilegies": "55",
        "score_relations_approbation": "0",
        "score_anomalies": "40",
        "niveau_maturite": "1",
        "constats_critiques": "1",
        "constats_eleves": "2",
        "constats_moyens": "4",
        "constats_faibles": "2",
        **values,
    }


def scans_file(rows, **kwargs):
    return csv_bytes(EXPOSURE_HEADER, rows, **kwargs)


def audits_file(rows, **kwargs):
    return csv_bytes(AD_HEADER, rows, **kwargs)


def counts():
    return (
        DirectoryAudit.objects.count(),
        ExposureScan.objects.count(),
        Volet1Status.objects.count(),
    )


# Good files ------------------------------------------------------------------------------


def test_exposure_csv_creates_scans_and_refreshes_the_volet1_status(hospital, other_hospital):
    rows = [
        scan(hospital.finess, "2025-01-13"),
        scan(hospital.finess, "2025-03-03", vulns_elevees="0"),  # 49 days later
        scan(other_hospital.finess, "13/01/2025", niveau_minimal_atteint="non"),
    ]

    batch = run_import("exposure", scans_file(rows), "scans.csv")

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
    assert (batch.created_count, batch.updated_count, batch.unchanged_count) == (3, 0, 0)
    assert (batch.rows_processed, batch.rows_total, batch.error_count) == (3, 3, 0)
    assert batch.file_format == AuditImport.Format.CSV
    first = ExposureScan.objects.get(legal_entity=hospital, scan_date=date(2025, 1, 13))
    assert (first.exposed_services, first.vulns_high, first.vulns_low) == (12, 1, 5)
    assert first.minimum_level_met is True
    assert first.import_batch == batch
    assert batch.started_at <= first.created_at == first.updated_at <= timezone.now()
    assert ExposureScan.objects.get(legal_entity=other_hospital).minimum_level_met is False
    assert hospital.volet1.level == Volet1Level.EXPOSURE_MET
    assert hospital.volet1.exposure_second_scan_date == date(2025, 3, 3)
    assert Volet1Status.objects.get(legal_entity=other_hospital).level == Volet1Level.NONE


def test_ad_csv_with_comma_bom_and_french_dates(hospital):
    rows = [
        audit(hospital.finess, "14/03/2025", domaine="CH-Exemple.LOCAL"),
        audit(
            hospital.finess,
            "2025-04-01",
            outil="ORADAD",
            score_global="",
            score_objets_obsoletes="",
            score_comptes_privilegies="",
            score_relations_approbation="",
            score_anomalies="",
            niveau_maturite="",
            constats_faibles="",
        ),
    ]

    batch = run_import("ad", audits_file(rows, delimiter=",", bom=True), "ad.csv")

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
    pingcastle = DirectoryAudit.objects.get(tool="pingcastle")
    assert pingcastle.domain == "ch-exemple.local"
    assert pingcastle.audit_date == date(2025, 3, 14)
    assert (pingcastle.global_score, pingcastle.privileged_accounts_score) == (55, 55)
    assert (pingcastle.maturity_level, pingcastle.findings_critical) == (1, 1)
    oradad = DirectoryAudit.objects.get(tool="oradad")
    assert (oradad.global_score, oradad.maturity_level, oradad.findings_low) == (None, None, 0)
    assert hospital.volet1.level == Volet1Level.AD_DONE
    assert hospital.volet1.ad_audit_date == date(2025, 4, 1)


def test_optional_columns_may_be_left_out_of_the_header(hospital):
    header = ["finess_ej", "date_scan", "niveau_minimal_atteint"]
    content = csv_bytes(header, [scan(hospital.finess, "2025-01-13")])

    batch = run_import("exposure", content, "scans.csv")

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
    assert ExposureScan.objects.get().exposed_services == 0


@pytest.mark.parametrize("wrap", [None, "scans"])
def test_exposure_json_array_or_object(hospital, wrap):
    items = [
        {
            **scan(hospital.finess, "2025-01-13"),
            "services_exposes": 7,
            "niveau_minimal_atteint": True,
        },
        {**scan(hospital.finess, "2025-03-03"), "vulns_critiques": 0, "niveau_minimal_atteint": 1},
    ]

    batch = run_import("exposure", json_bytes(items, wrap=wrap), "scans.json")

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
    assert batch.file_format == AuditImport.Format.JSON
    assert batch.created_count == 2
    assert ExposureScan.objects.get(scan_date=date(2025, 1, 13)).exposed_services == 7
    assert hospital.volet1.level == Volet1Level.EXPOSURE_MET


@pytest.mark.parametrize("wrap", [None, "audits"])
def test_ad_json_array_or_object(hospital, wrap):
    items = [
        {
            **audit(hospital.finess, "2025-03-14"),
            "score_global": 55,
            "niveau_maturite": 2,
            "constats_critiques": 0,
        },
        {
            "finess_ej": hospital.finess,
            "date_audit": "2025-04-01",
            "outil": "oradad",
            "domaine": "ch-exemple.local",
            "score_global": None,
        },
    ]
    content = json_bytes(items, wrap=wrap)
    if wrap:  # other keys of the object are ignored
        content = content.replace(b"{", b'{"version": 1, "source": {"outil": "test"},', 1)

    batch = run_import("ad", content, "audits.json")

    assert batch.status == AuditImport.Status.SUCCEEDED, (batch.message, batch.errors)
    assert DirectoryAudit.objects.get(tool="pingcastle").global_score == 55
    assert DirectoryAudit.objects.get(tool="oradad").findings_critical == 0


def test_json_elements_are_read_one_at_a_time_across_reads(hospital, monkeypatch):
    from care_portal.imports import sources

    monkeypatch.setattr(sources, "READ_CHARS", 7)  # values split over many reads
    items = [
        scan(hospital.finess, (date(2025, 1, 1) + timedelta(days=i)).isoformat()) for i in range(30)
    ]
    items[3]["services_exposes"] = 123456789  # a number cut between two reads

    batch = run_import("exposure", json_bytes(items, wrap="scans"), "scans.json")

    assert batch.status == AuditImport.Status.SUCCEEDED, (batch.message, batch.errors)
    assert ExposureScan.objects.count() == 30
    assert ExposureScan.objects.get(scan_date=date(2025, 1, 4)).exposed_services == 123456789


# Idempotence -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_reimport_of_the_same_file_changes_nothing(hospital, other_hospital, fmt):
    rows = [
        scan(hospital.finess, "2025-01-13"),
        scan(hospital.finess, "2025-03-03"),
        scan(other_hospital.finess, "2025-02-01", niveau_minimal_atteint="non"),
    ]
    content = scans_file(rows) if fmt == "csv" else json_bytes(rows)
    first = run_import("exposure", content, f"scans.{fmt}")
    stamps = dict(ExposureScan.objects.values_list("id", "updated_at"))
    status_stamps = dict(Volet1Status.objects.values_list("legal_entity_id", "updated_at"))

    again = run_import("exposure", content, f"scans.{fmt}")

    assert again.status == AuditImport.Status.SUCCEEDED
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 3)
    assert dict(ExposureScan.objects.values_list("id", "updated_at")) == stamps
    assert dict(Volet1Status.objects.values_list("legal_entity_id", "updated_at")) == status_stamps
    assert set(ExposureScan.objects.values_list("import_batch", flat=True)) == {first.pk}


def test_reimport_of_the_same_ad_file_changes_nothing(hospital):
    content = audits_file(
        [audit(hospital.finess, "2025-03-14"), audit(hospital.finess, "2025-04-14")]
    )
    run_import("ad", content, "ad.csv")
    stamps = dict(DirectoryAudit.objects.values_list("id", "updated_at"))

    again = run_import("ad", content, "ad.csv")

    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    assert dict(DirectoryAudit.objects.values_list("id", "updated_at")) == stamps


def test_a_changed_value_updates_exactly_that_row(hospital):
    rows = [scan(hospital.finess, "2025-01-13"), scan(hospital.finess, "2025-03-03")]
    first = run_import("exposure", scans_file(rows), "scans.csv")
    stamps = dict(ExposureScan.objects.values_list("scan_date", "updated_at"))
    rows[1]["niveau_minimal_atteint"] = "non"

    second = run_import("exposure", scans_file(rows), "scans.csv")

    assert (second.created_count, second.updated_count, second.unchanged_count) == (0, 1, 1)
    changed = ExposureScan.objects.get(scan_date=date(2025, 3, 3))
    assert changed.minimum_level_met is False
    assert changed.import_batch == second
    assert changed.updated_at > stamps[date(2025, 3, 3)]
    unchanged = ExposureScan.objects.get(scan_date=date(2025, 1, 13))
    assert (unchanged.import_batch, unchanged.updated_at) == (first, stamps[date(2025, 1, 13)])
    hospital.volet1.refresh_from_db()
    assert hospital.volet1.level == Volet1Level.NONE


# Bad rows --------------------------------------------------------------------------------

# Far enough ahead that a run crossing midnight still sees it in the future.
FUTURE = (timezone.localdate() + timedelta(days=30)).isoformat()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"finess_ej": UNKNOWN_FINESS}, "n'est pas dans l'annuaire"),
        ({"finess_ej": "690000000"}, "clé de contrôle"),
        ({"finess_ej": "12AB"}, "9 caractères"),
        ({"finess_ej": ""}, "finess_ej : valeur obligatoire manquante"),
        ({"date_scan": FUTURE}, "dans le futur"),
        ({"date_scan": "2025-13-45"}, "illisible"),
        ({"date_scan": "hier"}, "illisible"),
        ({"date_scan": ""}, "date_scan : valeur obligatoire manquante"),
        ({"vulns_critiques": "-1"}, "nombre négatif"),
        ({"services_exposes": "douze"}, "n'est pas un nombre entier"),
        ({"niveau_minimal_atteint": "peut-être"}, "n'est pas une valeur reconnue"),
        ({"niveau_minimal_atteint": ""}, "niveau_minimal_atteint : valeur obligatoire"),
    ],
)
def test_bad_exposure_row_fails_the_file_and_writes_nothing(hospital, values, expected):
    rows = [scan(hospital.finess, "2025-01-13"), scan(hospital.finess, "2025-02-13", **values)]
    before = counts()

    batch = run_import("exposure", scans_file(rows), "scans.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert batch.error_count == 1
    assert batch.errors[0]["line"] == 3
    assert batch.errors[0]["where"] == "ligne 3"
    assert expected in batch.errors[0]["message"], batch.errors
    assert "rien n'a été importé" in batch.message
    assert (batch.created_count, batch.updated_count) == (0, 0)
    assert counts() == before


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"score_global": "101"}, "score_global : score « 101 » invalide"),
        ({"score_anomalies": "-1"}, "score_anomalies : score « -1 » invalide"),
        ({"niveau_maturite": "6"}, "niveau_maturite : niveau « 6 » invalide"),
        ({"niveau_maturite": "0"}, "niveau « 0 » invalide"),
        ({"score_relations_approbation": ""}, "obligatoire pour un audit PingCastle"),
        ({"outil": "bloodhound"}, "outil « bloodhound » inconnu"),
        ({"domaine": ""}, "domaine : valeur obligatoire manquante"),
        ({"domaine": "ch exemple"}, "nom de domaine invalide"),
        ({"date_audit": FUTURE}, "dans le futur"),
        ({"constats_eleves": "-3"}, "nombre négatif"),
    ],
)
def test_bad_ad_row_fails_the_file_and_writes_nothing(hospital, values, expected):
    rows = [audit(hospital.finess, "2025-01-13"), audit(hospital.finess, "2025-02-13", **values)]

    batch = run_import("ad", audits_file(rows), "ad.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert [error["line"] for error in batch.errors] == [3]
    assert expected in batch.errors[0]["message"], batch.errors
    assert DirectoryAudit.objects.count() == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # int() refuses more than 4,300 digits: the length is checked before.
        ({"services_exposes": "9" * 5000}, "services_exposes : « 999"),
        ({"vulns_faibles": "1" * 13}, "n'est pas un nombre entier positif ou nul"),
        ({"vulns_moyennes": "-" + "9" * 5000}, "vulns_moyennes : "),
    ],
)
def test_integers_too_long_for_int_are_row_errors(hospital, values, expected):
    rows = [scan(hospital.finess, "2025-01-13"), scan(hospital.finess, "2025-02-13", **values)]

    batch = run_import("exposure", scans_file(rows), "scans.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert [error["line"] for error in batch.errors] == [3]
    assert expected in batch.errors[0]["message"]
    assert ExposureScan.objects.count() == 0


def test_leading_zeros_are_not_counted_as_size(hospital):
    rows = [scan(hospital.finess, "2025-01-13", vulns_faibles="0" * 20 + "7")]

    batch = run_import("exposure", scans_file(rows), "scans.csv")

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
    assert ExposureScan.objects.get().vulns_low == 7


def test_a_nul_character_in_a_csv_fails_the_file_naming_its_line(hospital):
    rows = [
        audit(hospital.finess, "2025-01-13"),
        audit(hospital.finess, "2025-02-13", domaine="ch\x00exemple.local"),
    ]

    batch = run_import("ad", audits_file(rows), "ad.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert "La ligne 3 contient un caractère nul" in batch.message
    assert DirectoryAudit.objects.count() == 0


def test_a_nul_character_in_json_is_an_error_of_its_element(hospital):
    items = [
        audit(hospital.finess, "2025-01-13"),
        audit(hospital.finess, "2025-01-14", domaine="ch\x00exemple.local"),
        audit(hospital.finess, "2025-01-15", score_global="4\x005"),
        {**audit(hospital.finess, "2025-01-16"), "note\x00": "?"},
    ]

    batch = run_import("ad", json_bytes(items), "ad.json")

    assert batch.status == AuditImport.Status.FAILED
    assert [error["where"] for error in batch.errors] == ["élément 2", "élément 3", "élément 4"]
    messages = [error["message"] for error in batch.errors]
    assert messages[0] == "domaine : caractère nul refusé"
    assert messages[1] == "score_global : caractère nul refusé"
    assert messages[2] == "clé inconnue : note\\u0000"
    assert DirectoryAudit.objects.count() == 0


def test_json_integers_too_long_for_int_are_errors_of_their_element(hospital):
    good = scan(hospital.finess, "2025-01-13", vulns_critiques=0)
    content = json_bytes([good, {**good, "date_scan": "2025-01-14", "vulns_critiques": 1}])
    content = content.replace(b'"vulns_critiques": 1', b'"vulns_critiques": ' + b"9" * 5000)

    batch = run_import("exposure", content, "scans.json")

    assert batch.status == AuditImport.Status.FAILED
    assert [error["where"] for error in batch.errors] == ["élément 2"]
    assert "vulns_critiques : « 999" in batch.errors[0]["message"]


def test_json_integers_are_read_as_in_a_csv(hospital):
    item = {
        **scan(hospital.finess, "2025-01-13"),
        "services_exposes": 12,
        "vulns_critiques": -0,
        "vulns_elevees": 1.0,
    }

    batch = run_import("exposure", json_bytes([item]), "scans.json")

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
    stored = ExposureScan.objects.get()
    assert (stored.exposed_services, stored.vulns_critical, stored.vulns_high) == (12, 0, 1)


def test_duplicate_natural_key_in_the_file_names_the_first_line(hospital, other_hospital):
    rows = [
        scan(hospital.finess, "2025-01-13"),
        scan(other_hospital.finess, "2025-01-13"),  # another entity: no duplicate
        scan(hospital.finess, "13/01/2025"),  # the same scan, written another way
    ]

    batch = run_import("exposure", scans_file(rows), "scans.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert [error["line"] for error in batch.errors] == [4]
    assert "doublon" in batch.errors[0]["message"]
    assert "(ligne 2)" in batch.errors[0]["message"]
    assert ExposureScan.objects.count() == 0


def test_duplicate_across_chunks_is_found_in_the_temporary_table(hospital, monkeypatch):
    monkeypatch.setattr(writer, "CHUNK_SIZE", 2)
    rows = [scan(hospital.finess, f"2025-01-{day:02d}") for day in range(1, 8)]
    rows.append(scan(hospital.finess, "2025-01-02"))  # line 9 repeats line 3, in another chunk

    batch = run_import("exposure", scans_file(rows), "scans.csv")

    assert [(error["line"], error["message"]) for error in batch.errors] == [
        (
            9,
            "doublon : un scan de la même entité à la même date figure déjà dans ce fichier "
            "(ligne 3)",
        )
    ]
    assert ExposureScan.objects.count() == 0


def test_ad_duplicates_compare_entity_tool_domain_and_date(hospital):
    rows = [
        audit(hospital.finess, "2025-03-14"),
        audit(hospital.finess, "2025-03-14", domaine="autre.local"),
        audit(hospital.finess, "2025-03-14", outil="oradad"),
        audit(hospital.finess, "2025-03-14", domaine="CH-EXEMPLE.local", score_global="60"),
    ]

    batch = run_import("ad", audits_file(rows), "ad.csv")

    assert [error["line"] for error in batch.errors] == [5]
    assert "même domaine" in batch.errors[0]["message"]


def test_every_bad_line_is_reported_and_earlier_chunks_are_rolled_back(hospital, monkeypatch):
    monkeypatch.setattr(writer, "CHUNK_SIZE", 1)
    rows = [
        scan(hospital.finess, "2025-01-01"),
        scan(hospital.finess, "2025-01-02", niveau_minimal_atteint="?"),
        scan(hospital.finess, "2025-01-03"),
        scan(UNKNOWN_FINESS, "2025-01-04"),
        scan(hospital.finess, "2025-01-05"),
        scan(hospital.finess, FUTURE, vulns_faibles="-2"),
    ]

    batch = run_import("exposure", scans_file(rows), "scans.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert [error["line"] for error in batch.errors] == [3, 5, 7]
    assert batch.error_count == 3
    assert " ; " in batch.errors[2]["message"]  # both problems of line 7, on one line
    assert ExposureScan.objects.count() == 0
    assert not Volet1Status.objects.exists()


def test_stored_errors_are_capped_but_all_counted(hospital, monkeypatch):
    monkeypatch.setattr(report, "MAX_STORED_ERRORS", 3)
    rows = [scan(hospital.finess, f"2025-01-{day:02d}", vulns_elevees="x") for day in range(1, 11)]

    batch = run_import("exposure", scans_file(rows), "scans.csv")

    assert batch.error_count == 10
    assert len(batch.errors) == 3


def test_line_with_the_wrong_number_of_fields(hospital):
    content = scans_file([scan(hospital.finess, "2025-01-13")]) + b"690000017;2025-01-14\n"

    batch = run_import("exposure", content, "scans.csv")

    assert batch.errors[0]["line"] == 3
    assert "compte 2 champs au lieu de 8" in batch.errors[0]["message"]


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(hospital):
    content = scans_file([scan(hospital.finess, "2025-01-13")]) + b"\n;;;;;;;\n"
    content += scans_file([scan(hospital.finess, "2025-01-14", vulns_faibles="-1")])[
        len(";".join(EXPOSURE_HEADER)) + 1 :
    ]

    batch = run_import("exposure", content, "scans.csv")

    assert [error["line"] for error in batch.errors] == [5]


# Bad files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            ["finess_ej", "date_scan"],
            "Colonne obligatoire absente de l'en-tête : niveau_minimal_atteint",
        ),
        ([*EXPOSURE_HEADER, "commentaire"], "Colonne inconnue dans l'en-tête : commentaire"),
        ([*EXPOSURE_HEADER, "date_scan"], "Colonne en double dans l'en-tête : date_scan"),
        (["finess", "date", "ok"], "Colonne inconnue"),
    ],
)
def test_wrong_columns_fail_the_file(hospital, header, expected):
    content = csv_bytes(header, [scan(hospital.finess, "2025-01-13")])

    batch = run_import("exposure", content, "scans.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert expected in batch.message
    assert ExposureScan.objects.count() == 0


def test_ad_columns_in_an_exposure_import_are_refused(hospital):
    batch = run_import("exposure", audits_file([audit(hospital.finess, "2025-01-13")]), "ad.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert "Colonne inconnue" in batch.message


def test_headers_ignore_case_accents_and_spaces(hospital):
    header = ["FINESS EJ", "Date Scan", "Niveau minimal atteint"]
    content = csv_bytes(header, [])
    content += f"{hospital.finess};2025-01-13;oui\n".encode()

    batch = run_import("exposure", content, "scans.csv")

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.message


def test_english_headers_are_the_model_fields(hospital):
    header = ["finess_ej", "scan_date", "minimum_level_met", "vulns_high"]
    content = csv_bytes(header, [])
    content += f"{hospital.finess},2025-01-13,oui,3\n".encode().replace(b",", b";")

    batch = run_import("exposure", content, "scans.csv")

    assert batch.status == AuditImport.Status.SUCCEEDED, (batch.message, batch.errors)
    assert ExposureScan.objects.get().vulns_high == 3


def test_finess_in_scientific_notation_or_without_its_leading_zero(hospital):
    entity = LegalEntityFactory(finess=make_finess("01", 77))
    rows = [
        scan(entity.finess[1:], "2025-01-13"),
        scan("6,91E+08", "2025-01-14"),
    ]

    batch = run_import("exposure", scans_file(rows), "scans.csv")

    assert [error["line"] for error in batch.errors] == [3]
    assert "notation scientifique" in batch.errors[0]["message"]
    assert batch.status == AuditImport.Status.FAILED


def test_cp1252_csv_is_read_as_cp1252(hospital):
    content = scans_file([scan(hospital.finess, "2025-01-13")])
    content += f"{hospital.finess};2025-01-14;1;0;0;0;0;oui;\n".encode()[:-3] + "é\n".encode(
        "cp1252"
    )

    batch = run_import("exposure", content, "scans.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert batch.errors[0]["line"] == 3
    assert "« oué » n'est pas une valeur reconnue" in batch.errors[0]["message"]


def test_csv_mixing_utf8_and_another_encoding_is_refused_with_its_line(hospital):
    content = scans_file([scan(hospital.finess, "2025-01-13")])
    content += f"{hospital.finess};2025-01-14;1;0;0;0;0;oui;\n".encode()[:-3] + "é\n".encode(
        "latin-1"
    )
    content += f"{hospital.finess};2025-01-15;1;0;0;0;0;oué\n".encode()

    batch = run_import("exposure", content, "scans.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert "UTF-8 (ligne 3)" in batch.message


def test_header_only_file_has_nothing_to_import(hospital):
    batch = run_import("exposure", scans_file([]), "scans.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert "aucune ligne" in batch.message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'[{"finess_ej": "690000017",}]', "JSON mal formé (ligne 1"),
        (b'[{"finess_ej": "690000017"}', "JSON mal formé"),
        (b'[{"finess_ej": "690000017"} {"a": 1}]', "« , » ou « ] » attendu"),
        (b'"bonjour"', "un tableau [ … ] ou un objet"),
        (b"{1: []}", "nom de clé attendu"),
        (b'{"version": 2, 3: []}', "nom de clé attendu"),
        (b"{", "fin du fichier inattendue"),
        (b'{"audits": []}', "pas de clé « scans »"),
        (b'{"scans": {"finess_ej": "1"}}', "doit être un tableau"),
        (b"[]\n[]", "contenu inattendu après la fin"),
        (b"\xff\xfe[]", "UTF-8"),
    ],
)
def test_malformed_json_fails_the_file(hospital, content, expected):
    batch = run_import("exposure", content, "scans.json")

    assert batch.status == AuditImport.Status.FAILED
    assert expected in batch.message, batch.message
    assert ExposureScan.objects.count() == 0


def test_malformed_json_keeps_the_errors_read_before_it(hospital):
    good = json_bytes([scan(hospital.finess, "2025-01-13", vulns_faibles=-1)])
    content = good[:-1] + b",\n  {oops}\n]"

    batch = run_import("exposure", content, "scans.json")

    assert batch.status == AuditImport.Status.FAILED
    assert "JSON mal formé (ligne" in batch.message
    assert [error["where"] for error in batch.errors] == ["élément 1"]


def test_bad_json_elements_are_reported_by_index(hospital):
    items = [
        scan(hospital.finess, "2025-01-13"),
        ["not", "an", "object"],
        {**scan(hospital.finess, "2025-01-14"), "commentaire": "?"},
        {**scan(hospital.finess, "2025-01-15"), "vulns_critiques": {"n": 1}},
        {**scan(hospital.finess, "2025-01-16"), "vulns_critiques": 1.5},
        {**scan(hospital.finess, "2025-01-17"), "niveau_minimal_atteint": None},
    ]

    batch = run_import("exposure", json_bytes(items), "scans.json")

    assert [error["where"] for error in batch.errors] == [
        "élément 2",
        "élément 3",
        "élément 4",
        "élément 5",
        "élément 6",
    ]
    messages = [error["message"] for error in batch.errors]
    assert "n'est pas un objet" in messages[0]
    assert "clé inconnue : commentaire" in messages[1]
    assert "un nombre, un texte ou un booléen est attendu" in messages[2]
    assert "« 1.5 » n'est pas un nombre entier" in messages[3]
    assert "valeur obligatoire manquante" in messages[4]


# Sizes and formats -------------------------------------------------------------------------


def test_oversized_upload_is_refused_before_it_is_stored(hospital, settings):
    settings.AUDIT_IMPORT_MAX_FILE_SIZE = 100
    content = scans_file([scan(hospital.finess, f"2025-01-{d:02d}") for d in range(1, 10)])

    with pytest.raises(ImportFileError, match="taille maximale autorisée"):
        audit_import_create(kind="exposure", uploaded_file=io.BytesIO(content), filename="s.csv")

    assert not AuditImport.objects.exists()
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(media.rglob("*.csv"))


def test_a_stored_file_over_the_limit_fails_its_batch(hospital, settings):
    content = scans_file([scan(hospital.finess, f"2025-01-{d:02d}") for d in range(1, 10)])
    batch = audit_import_create(
        kind="exposure", uploaded_file=io.BytesIO(content), filename="s.csv"
    )
    settings.AUDIT_IMPORT_MAX_FILE_SIZE = 100  # lowered since the upload

    batch = audit_import_run(batch=batch)

    assert batch.status == AuditImport.Status.FAILED
    assert "taille maximale autorisée" in batch.message
    assert ExposureScan.objects.count() == 0


def test_the_file_is_stored_under_a_server_made_name(hospital, settings):
    content = scans_file([scan(hospital.finess, "2025-01-13")])

    batch = audit_import_create(
        kind="exposure", uploaded_file=io.BytesIO(content), filename="../../etc/scans mars.csv"
    )

    assert batch.original_filename == "scans mars.csv"
    assert batch.file.name.startswith("audit-imports/")
    assert batch.file.name.endswith(".csv")
    assert "scans" not in batch.file.name
    assert batch.file_size == len(content)
    assert batch.status == AuditImport.Status.PENDING


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"kind": "vulns"}, "Type d'import inconnu"),
        ({"filename": "scans.pdf"}, "Format de fichier non reconnu"),
        ({"content": b""}, "Le fichier est vide"),
        ({"legal_entity": True}, "ne se choisit que pour un rapport PingCastle"),
    ],
)
def test_create_refuses_what_it_cannot_import(hospital, kwargs, expected):
    content = kwargs.pop("content", scans_file([scan(hospital.finess, "2025-01-13")]))
    if kwargs.pop("legal_entity", False):
        kwargs["legal_entity"] = hospital
    options = {"kind": "exposure", "filename": "scans.csv", **kwargs}

    with pytest.raises(ImportFileError, match=expected):
        audit_import_create(uploaded_file=io.BytesIO(content), **options)

    assert not AuditImport.objects.exists()


# Queries -----------------------------------------------------------------------------------


def test_query_count_per_chunk_is_bounded(db, django_assert_max_num_queries, is_postgresql):
    if not is_postgresql:
        pytest.skip("SQLite splits bulk inserts at 999 parameters: counted on PostgreSQL")
    entities = LegalEntityFactory.create_batch(50)
    rows = [
        scan(entity.finess, (date(2020, 1, 1) + timedelta(days=day)).isoformat())
        for entity in entities
        for day in range(100)
    ]
    batch = audit_import_create(
        kind="exposure", uploaded_file=io.BytesIO(scans_file(rows)), filename="s.csv"
    )

    with django_assert_max_num_queries(40):
        batch = audit_import_run(batch=batch)

    assert batch.status == AuditImport.Status.SUCCEEDED
    assert batch.created_count == 5000
    assert Volet1Status.objects.count() == 50


class _Stream:
    """A file-like object that can only be read, like a pipe."""

    def __init__(self, data):
        self.data = io.BytesIO(data)

    def read(self, size=-1):
        return self.data.read(size)


def test_a_stream_that_cannot_seek_is_measured_then_stored(hospital, settings):
    content = scans_file([scan(hospital.finess, "2025-01-13")])

    batch = audit_import_create(kind="exposure", uploaded_file=_Stream(content), filename="s.csv")

    assert batch.file_size == len(content)
    assert audit_import_run(batch=batch).status == AuditImport.Status.SUCCEEDED
    settings.AUDIT_IMPORT_MAX_FILE_SIZE = len(content) - 1
    with pytest.raises(ImportFileError, match="taille maximale"):
        audit_import_create(kind="exposure", uploaded_file=_Stream(content), filename="s.csv")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"niveau_maturite": "2", "constats_critiques": "1"},
            "constats_critiques : 1 constat(s) de cette gravité contredisent le niveau de "
            "maturité 2",
        ),
        (
            {"niveau_maturite": "4", "constats_critiques": "0", "constats_eleves": "0"},
            "constats_moyens : 4 constat(s) de cette gravité contredisent le niveau de maturité 4",
        ),
        (
            {"niveau_maturite": "1", "constats_critiques": "0"},
            "constats_critiques : aucun constat de cette gravité alors que le niveau de "
            "maturité est 1",
        ),
    ],
)
def test_counts_that_contradict_the_maturity_level_are_refused(hospital, values, expected):
    batch = run_import("ad", audits_file([audit(hospital.finess, "2025-03-14", **values)]), "a.csv")

    assert batch.status == AuditImport.Status.FAILED
    assert expected in batch.errors[0]["message"], batch.errors
    assert not DirectoryAudit.objects.exists()


def test_counts_without_findings_or_without_level_are_accepted(hospital):
    rows = [
        audit(hospital.finess, "2025-03-14", niveau_maturite="2", constats_critiques="0",
              constats_eleves="0", constats_moyens="0", constats_faibles="0"),
        audit(hospital.finess, "2025-03-15", niveau_maturite=""),
    ]  # fmt: skip

    batch = run_import("ad", audits_file(rows), "a.csv")

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
