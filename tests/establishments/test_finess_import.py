"""The FINESS files, recognised by content: the etalab extracts of establishments (ET)
and legal entities (EJ), and the FINESS+ JSON structures file with its GHTs.

Every excerpt here is written for the tests, in the published layouts (FINESS data
is under the Licence Ouverte; no line is copied from a real extract)."""

import io
import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from stdnum import luhn

from establishments.finess import (
    EJ_FIELDS,
    ET_FIELDS,
    FINESS_EJ,
    FINESS_ET,
    FINESS_PLUS,
    PORTAL_CSV,
    coordinate_system,
    detect_format,
)
from establishments.finess_codes import finess_codes
from establishments.models import GHT, LegalEntity, Site, StatusGroup
from establishments.services import establishments_import
from tests.factories import LegalEntityFactory, UserFactory, make_finess, make_siren

METADATA = "finess;etalab;95;2026-11-02"

# Legal entities (EJ) of the excerpts.
CHU = make_finess("69", 11)  # public (13), Rhône
ASSO = make_finess("13", 12)  # association RUP (61), Bouches-du-Rhône
CLINIC = make_finess("2A", 13)  # SA (73), Corse-du-Sud
MAYOTTE = make_finess("976", 14)  # public (13), Mayotte: prefix 98
GUADELOUPE = make_finess("971", 15)  # public (13), Guadeloupe: prefix 97
SPM = make_finess("975", 16)  # Saint-Pierre-et-Miquelon: not in the portal's territory
ODD_STATUS = make_finess("69", 17)  # legal status 99: not in the code table
ODD_DEPT = make_finess("69", 18)  # département code 9J: not in the code table

# Establishments (ET).
CHU_SITE = make_finess("69", 501)
CHU_SITE_2 = make_finess("69", 502)
ASSO_SITE = make_finess("13", 503)
CLINIC_SITE = make_finess("2A", 504)
MAYOTTE_SITE = make_finess("976", 505)
EHPAD = make_finess("69", 506)  # category 500: not an établissement de santé
ODD_CATEGORY = make_finess("69", 507)  # category 999: not in the code table
ORPHAN = make_finess("69", 508)  # its legal entity is not in the directory
ORPHAN_EJ = make_finess("69", 19)


def make_siret(siren: str, nic: int) -> str:
    base = f"{siren}{nic:04d}"
    return base + luhn.calc_check_digit(base)


def structure_line(section: str, fields, name: str, dept: str, **values: str) -> str:
    """A line of an extract: its section, then each of `fields` (blank unless given);
    the name, place, activity code and update date every structure has."""
    row = dict.fromkeys(fields, "")
    row.update(
        rs=name[:30].upper(),
        rslongue=name.upper(),
        commune="123",
        departement=dept,
        libdepartement="DEPARTEMENT",
        ligneacheminement="00000 VILLE",
        codeape="8610Z",
        datemaj="2026-10-01",
    )
    row.update(values)
    return section + ";" + ";".join(row[field] for field in fields)


def ej_line(finess: str, name: str, dept: str, status: str, siren: str = "") -> str:
    return structure_line(
        "structureej",
        EJ_FIELDS,
        name,
        dept,
        nofinessej=finess,
        statutjuridique=status,
        libstatutjuridique="Statut",
        siren=siren,
        datecrea="1990-01-01",
    )


def et_line(
    finess: str, ej: str, name: str, dept: str, category: str, siret: str = "", **extra: str
) -> str:
    return structure_line(
        "structureet",
        ET_FIELDS,
        name,
        dept,
        nofinesset=finess,
        nofinessej=ej,
        numvoie="1",
        typvoie="R",
        voie="DE L'HOPITAL",
        categetab=category,
        libcategetab="Catégorie",
        categagretab="1102",
        siret=siret,
        dateouv="1980-01-01",
        **extra,
    )


def geo_line(finess: str, x: str, y: str, system: str) -> str:
    source = f"1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,{system}"
    return f"geolocalisation;{finess};{x};{y};{source};2026-10-01"


def ej_extract() -> str:
    lines = [
        METADATA,
        ej_line(CHU, "Hospices civils de test", "69", "13", make_siren(26900011)),
        ej_line(ASSO, "Association de santé de test", "13", "61"),
        ej_line(CLINIC, "Clinique de test SA", "2A", "73"),
        ej_line(MAYOTTE, "Centre hospitalier de test Mayotte", "9F", "13"),
        ej_line(GUADELOUPE, "Centre hospitalier de test Guadeloupe", "9A", "13"),
        ej_line(SPM, "Centre hospitalier de test Saint-Pierre", "9E", "13"),
        ej_line(ODD_STATUS, "Entité au statut inconnu", "69", "99"),
        ej_line(ODD_DEPT, "Entité au département inconnu", "9J", "13"),
    ]
    return "\n".join(lines) + "\n"


def et_extract() -> str:
    lines = [
        METADATA,
        et_line(CHU_SITE, CHU, "Hôpital de test Nord", "69", "101"),
        et_line(CHU_SITE_2, CHU, "Hôpital de test Sud", "69", "355"),
        et_line(ASSO_SITE, ASSO, "Centre de soins de suite de test", "13", "109"),
        et_line(CLINIC_SITE, CLINIC, "Clinique de test", "2A", "365"),
        et_line(MAYOTTE_SITE, MAYOTTE, "Centre hospitalier de test Mayotte", "9F", "355"),
        et_line(EHPAD, CHU, "EHPAD de test", "69", "500"),
        et_line(ODD_CATEGORY, CHU, "Structure de catégorie inconnue", "69", "999"),
        et_line(ORPHAN, ORPHAN_EJ, "Site sans entité connue", "69", "355"),
        geo_line(CHU_SITE, "842000.5", "6519000.25", "LAMBERT_93"),
        geo_line(CHU_SITE_2, "843100.0", "6520000.0", "LAMBERT_93"),
        geo_line(MAYOTTE_SITE, "523000.1", "8587000.2", "UTM_S38"),
        geo_line(EHPAD, "842500.0", "6519500.0", "LAMBERT_93"),
    ]
    return "\n".join(lines) + "\n"


def run_import(text: str, name: str = "finess.csv", encoding: str = "cp1252"):
    return establishments_import(file=io.BytesIO(text.encode(encoding)), filename=name)


def as_tuple(counts) -> tuple[int, int, int]:
    return counts.created, counts.updated, counts.unchanged


def labels(groups) -> str:
    return " | ".join(f"{group.label}: {group.lines}" for group in groups)


# Recognising the format -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "metadata", "header"),
    [
        ("finess_et;nom_site;categorie_site\n", PORTAL_CSV, False, False),
        (METADATA + "\n" + et_line(CHU_SITE, CHU, "H", "69", "355") + "\n", FINESS_ET, True, False),
        (et_line(CHU_SITE, CHU, "H", "69", "355") + "\n", FINESS_ET, False, False),
        (METADATA + "\n" + ej_line(CHU, "H", "69", "13") + "\n", FINESS_EJ, True, False),
        ("nofinesset;nofinessej;rs;categetab;departement\n", FINESS_ET, False, True),
        ("nofinessej;rs;departement;statutjuridique\n", FINESS_EJ, False, True),
        ('\ufeff{\n  "schemaVersion" : "v1", "gcc" : [], "pmej" : []}', FINESS_PLUS, False, False),
    ],
)
def test_the_format_is_recognised_by_content(text, kind, metadata, header):
    layout = detect_format(io.BytesIO(text.encode("utf-8")))
    assert layout.kind == kind
    assert layout.metadata == metadata
    assert bool(layout.header) == header


def test_a_metadata_line_followed_by_unknown_lines_is_a_file_error(db):
    from care_portal.errors import ImportFileError

    with pytest.raises(ImportFileError, match="Extraction FINESS non reconnue"):
        run_import(METADATA + "\nautrechose;1;2\n")


def test_coordinate_system_is_the_last_part_of_the_source():
    assert coordinate_system("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93") == "LAMBERT_93"
    assert coordinate_system("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,UTM_N20") == "UTM_N20"
    assert coordinate_system("saisie manuelle") == ""


# The code table ----------------------------------------------------------------------


def test_code_table_maps_legal_statuses_to_the_status_groups():
    codes = finess_codes()
    assert codes.statuses["13"].status_group == StatusGroup.PUBLIC
    assert codes.statuses["61"].status_group == StatusGroup.PRIVATE_NON_PROFIT
    assert codes.statuses["73"].status_group == StatusGroup.PRIVATE_FOR_PROFIT
    assert codes.categories["355"].health
    assert not codes.categories["500"].health
    # Every category of rule E1 (DOMAIN.md) is an établissement de santé in the table.
    from establishments.reference import FINESS_CATEGORIES

    assert all(codes.categories[code].health for code in FINESS_CATEGORIES)


# The EJ extract ----------------------------------------------------------------------


def test_ej_extract_imports_legal_entities_with_their_status_group(db):
    report = run_import(ej_extract())

    assert report.ok, report.errors
    assert report.file_format == "extraction FINESS des entités juridiques (EJ)"
    assert as_tuple(report.legal_entity) == (5, 0, 0)
    chu = LegalEntity.objects.get(finess=CHU)
    assert (chu.status_group, chu.legal_status_code, chu.department.code) == (
        StatusGroup.PUBLIC,
        "13",
        "69",
    )
    assert chu.name == "HOSPICES CIVILS DE TEST"
    assert chu.siren == make_siren(26900011)
    assert LegalEntity.objects.get(finess=ASSO).status_group == StatusGroup.PRIVATE_NON_PROFIT
    clinic = LegalEntity.objects.get(finess=CLINIC)
    assert (clinic.status_group, clinic.department.code) == (StatusGroup.PRIVATE_FOR_PROFIT, "2A")


def test_overseas_departments_9a_to_9f_and_the_mayotte_prefix(db):
    run_import(ej_extract())

    mayotte = LegalEntity.objects.get(finess=MAYOTTE)
    assert MAYOTTE.startswith("98")
    assert mayotte.department.code == "976"
    assert mayotte.department.region.name == "Mayotte"
    assert GUADELOUPE.startswith("97")
    assert LegalEntity.objects.get(finess=GUADELOUPE).department.code == "971"


def test_unknown_codes_are_reported_with_their_lines_never_guessed(db):
    report = run_import(ej_extract())

    unknown = {group.label: group.lines for group in report.unknown_code_groups}
    assert unknown == {
        "Statut juridique « 99 » (Statut)": [8],
        "Code de département « 9J »": [9],
    }
    assert not LegalEntity.objects.filter(finess__in=[ODD_STATUS, ODD_DEPT]).exists()
    # Saint-Pierre-et-Miquelon (9E) is a known territory the portal does not cover.
    ignored = {group.label: group.lines for group in report.ignored_groups}
    assert ignored == {"Territoire absent de l'annuaire du portail (département 975)": [7]}


# The ET extract ----------------------------------------------------------------------


def test_et_extract_imports_the_health_establishments_with_their_coordinates(db):
    run_import(ej_extract())

    report = run_import(et_extract(), "etalab-cs1100507-stock.csv")

    assert report.ok, report.errors
    assert report.file_format == "extraction FINESS des établissements (ET)"
    assert as_tuple(report.site) == (5, 0, 0)
    site = Site.objects.get(finess=CHU_SITE)
    assert (site.name, site.category, site.legal_entity.finess) == (
        "HÔPITAL DE TEST NORD",
        "101",
        CHU,
    )
    assert (site.coord_x, site.coord_y, site.coord_system) == (842000.5, 6519000.25, "LAMBERT_93")
    assert site.coord_source.endswith("LAMBERT_93")
    mayotte = Site.objects.get(finess=MAYOTTE_SITE)
    assert (mayotte.department.code, mayotte.coord_system) == ("976", "UTM_S38")
    assert Site.objects.get(finess=CLINIC_SITE).coord_x is None  # no geolocalisation line
    # The legal entities get the category of their first health establishment.
    assert LegalEntity.objects.get(finess=CHU).finess_category == "101"
    assert as_tuple(report.legal_entity) == (0, 4, 0)  # the four with a health site


def test_et_extract_sets_aside_what_is_out_of_scope_and_reports_unknown_codes(db):
    run_import(ej_extract())

    report = run_import(et_extract())

    ignored = {group.label: group.lines for group in report.ignored_groups}
    assert ignored["Établissement hors du champ sanitaire (catégorie FINESS)"] == [7]  # the EHPAD
    assert ignored[
        "Entité juridique absente de l'annuaire : importez d'abord l'extraction des "
        "entités juridiques (EJ) ou le fichier FINESS+"
    ] == [9]
    unknown = {group.label: group.lines for group in report.unknown_code_groups}
    assert unknown == {"Catégorie d'établissement « 999 » (Catégorie)": [8]}
    assert not Site.objects.filter(finess__in=[EHPAD, ODD_CATEGORY, ORPHAN]).exists()


def test_reimport_of_both_extracts_changes_nothing(db):
    run_import(ej_extract())
    run_import(et_extract())
    before = dict(LegalEntity.objects.values_list("finess", "updated_at"))

    again_ej = run_import(ej_extract())
    again_et = run_import(et_extract())

    assert as_tuple(again_ej.legal_entity) == (0, 0, 5)
    assert as_tuple(again_et.site) == (0, 0, 5)
    assert as_tuple(again_et.legal_entity) == (0, 0, 0)
    assert dict(LegalEntity.objects.values_list("finess", "updated_at")) == before


def test_a_changed_line_updates_exactly_that_site(db):
    run_import(ej_extract())
    run_import(et_extract())

    changed = et_extract().replace("HÔPITAL DE TEST SUD", "HÔPITAL DE TEST SUD RENOMMÉ")
    report = run_import(changed)

    assert as_tuple(report.site) == (0, 1, 4)
    assert Site.objects.get(finess=CHU_SITE_2).name == "HÔPITAL DE TEST SUD RENOMMÉ"


def test_older_header_variant_with_coordinates_on_the_line(db):
    run_import(ej_extract())
    text = (
        "nofinesset;nofinessej;rs;rslongue;departement;categetab;siret;coordxet;coordyet;"
        "sourcecoordet\n"
        f"{CHU_SITE};{CHU};HOPITAL NORD;;69;101;;842000,5;6519000;IGN,LAMBERT_93\n"
        f"{EHPAD};{CHU};EHPAD;;69;500;;;;\n"
    )

    report = run_import(text, "finess-ancien.csv")

    assert report.ok, report.errors
    assert as_tuple(report.site) == (1, 0, 0)
    site = Site.objects.get(finess=CHU_SITE)
    assert (site.name, site.coord_x, site.coord_system) == ("HOPITAL NORD", 842000.5, "LAMBERT_93")


def test_extract_through_excel_restores_zeros_and_refuses_scientific_notation(db):
    ain_ej, ain_site = make_finess("01", 21), make_finess("01", 521)
    LegalEntityFactory(finess=ain_ej, department__code="01")
    siret = make_siret(make_siren(2601000), 12)  # starts with 0
    text = "\n".join(
        [
            METADATA + ";;;;;;",
            # Excel dropped the leading zeros of the numbers and of the département.
            et_line(ain_site[1:], ain_ej[1:], "Hopital de l'Ain", "1", "355", siret[1:]) + ";;;",
            et_line(CHU_SITE, CHU, "Hopital", "69", "355", "2,601E+13"),
        ]
    )

    report = run_import(text, "finess-excel.csv")

    assert not report.ok
    assert [error.line for error in report.errors] == [3], report.errors
    assert "notation scientifique" in report.errors[0].message
    assert not Site.objects.exists()

    fixed = run_import(text.rsplit("\n", 1)[0] + "\n")
    assert fixed.ok, fixed.errors
    site = Site.objects.get(finess=ain_site)
    assert (site.department.code, site.siret) == ("01", siret)


def test_bad_lines_are_refused_with_their_numbers_and_nothing_is_written(db):
    run_import(ej_extract())
    bad_key = CHU_SITE_2[:-1] + str((int(CHU_SITE_2[-1]) + 1) % 10)
    text = "\n".join(
        [
            METADATA,
            et_line(CHU_SITE, CHU, "Hopital", "69", "355"),
            et_line(bad_key, CHU, "Hopital", "69", "355"),
            "structureet;" + CHU_SITE + ";trop court",
            et_line(CHU_SITE, CHU, "Hopital en double", "69", "355"),
            geo_line(CHU_SITE, "abc", "1", "LAMBERT_93"),
        ]
    )

    report = run_import(text)

    lines = {error.line: error.message for error in report.errors}
    assert sorted(lines) == [3, 4, 5, 6]
    assert "clé de contrôle" in lines[3]
    assert "champs" in lines[4]
    assert "figure déjà à la ligne 2" in lines[5]
    assert "coordonnées" in lines[6]
    assert not Site.objects.exists()


def test_et_import_runs_chunked_queries(db, django_assert_max_num_queries):
    run_import(ej_extract())
    lines = [METADATA] + [
        et_line(make_finess("69", 600_000 + n), CHU, f"Site {n}", "69", "355") for n in range(1500)
    ]
    text = "\n".join(lines) + "\n"

    with django_assert_max_num_queries(20):
        report = run_import(text)
    assert report.ok and as_tuple(report.site) == (1500, 0, 0)
    with django_assert_max_num_queries(12):
        again = run_import(text)
    assert as_tuple(again.site) == (0, 0, 1500)


# FINESS+ -----------------------------------------------------------------------------


def pmej(pm_id: str, finess: str, name: str, commune: str, status: str, eges=(), state="A"):
    return {
        "informationsGeneralesPMEJ": {
            "pmSmsseId": pm_id,
            "codeApe": "86.10Z",
            "denominationLonguePmSmsse": name,
            "denominationPm": name[:30],
            "numFinessPm": finess,
            "statutJuridique": status,
            "typePersonneMorale": "01",
        },
        "adresse": [{"usageAdresse": "02", "cogCommune": commune, "codePostal": "00000"}],
        "ege": list(eges),
        "etatObjet": state,
        "dateDerniereMaj": "2026-10-01 00:00:00",
    }


def ege(finess: str, name: str, commune: str, category: str, lat="45.75", lon="4.85"):
    return {
        "informationsGeneralesEGE": {
            "egeId": finess[-4:],
            "nomEgeCourt": name[:30],
            "nomEgeLong": name,
            "numFinessEge": finess,
        },
        "categorieentiteGeographiqueExercice": category,
        "adresse": [
            {
                "usageAdresse": "03",
                "cogCommune": commune,
                "coordonneesGeographique": {
                    "coordonneeX": "6519000",
                    "coordonneeY": "842000",
                    "directionLatitude": lat,
                    "directionLongitude": lon,
                },
            }
        ],
        "etatObjet": "A",
    }


def gcc(gcc_id: str, code: str, name: str, members: dict[str, str], kind: str = "001"):
    return {
        "gccId": gcc_id,
        "nomGcc": name,
        "typeGcc": kind,
        "gccIdentifiantExterne": code,
        "pmejDuGcc": [{"pmSmsseId": pm, "typeRoleEntiteGroupe": r} for pm, r in members.items()],
        "etatObjet": "A",
    }


CH_MEMBER = make_finess("69", 31)
CH_MEMBER_SITE = make_finess("69", 531)
CH_OTHER = make_finess("69", 32)
CH_OTHER_SITE = make_finess("69", 532)


def finess_plus(ght_members: dict[str, str] | None = None) -> str:
    members = ght_members or {"101": "S", "102": "M"}
    document = {
        "schemaVersion": "v1.0.0",
        "generatedAt": "2026-11-02T06:00:00Z",
        "gcc": [
            gcc("1", "84001", "GHT de test Rhône", members),
            gcc("2", "99999", "Groupement de coopération", {"101": "M"}, kind="002"),
        ],
        "gco": [{"pmSmsseId": "101", "typeGco": "003", "pmejDuGco": [], "egeDuGco": []}],
        "pmej": [
            pmej(
                "101",
                CHU,
                "Hospices civils de test",
                "69123",
                "13",
                [
                    ege(CHU_SITE, "Hôpital de test Nord", "69123", "101"),
                    ege(EHPAD, "EHPAD de test", "69123", "500"),
                ],
            ),
            pmej(
                "102",
                CH_MEMBER,
                "Centre hospitalier membre",
                "69001",
                "13",
                [ege(CH_MEMBER_SITE, "CH membre", "69001", "355")],
            ),
            pmej(
                "103",
                CH_OTHER,
                "Centre hospitalier voisin",
                "69002",
                "13",
                [ege(CH_OTHER_SITE, "CH voisin", "69002", "355")],
            ),
            pmej(
                "104",
                MAYOTTE,
                "Centre hospitalier de test Mayotte",
                "97611",
                "13",
                [ege(MAYOTTE_SITE, "CH Mayotte", "97611", "355", "-12.78", "45.22")],
            ),
            pmej(
                "105",
                ASSO,
                "Association médico-sociale",
                "13055",
                "61",
                [ege(ASSO_SITE, "Foyer", "13055", "500")],
            ),
            pmej(
                "106",
                ODD_STATUS,
                "Entité au statut inconnu",
                "69003",
                "99",
                [ege(ODD_CATEGORY, "Site", "69003", "355")],
            ),
            pmej("107", CLINIC, "Clinique fermée", "2A004", "73", state="I"),
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def test_finess_plus_imports_entities_sites_and_ghts(db):
    report = run_import(finess_plus(), "finess-structures.json", "utf-8")

    assert report.ok, report.errors
    assert report.file_format == "fichier JSON des structures FINESS+"
    assert as_tuple(report.ght) == (1, 0, 0)
    assert as_tuple(report.legal_entity) == (4, 0, 0)
    assert as_tuple(report.site) == (4, 0, 0)
    ght = GHT.objects.get(code="84001")
    assert (ght.name, ght.region.code) == ("GHT de test Rhône", "84")
    chu = LegalEntity.objects.get(finess=CHU)
    assert (chu.ght, chu.is_ght_support, chu.finess_category) == (ght, True, "101")
    member = LegalEntity.objects.get(finess=CH_MEMBER)
    assert (member.ght, member.is_ght_support) == (ght, False)
    assert LegalEntity.objects.get(finess=CH_OTHER).ght is None
    mayotte = Site.objects.get(finess=MAYOTTE_SITE)
    assert (mayotte.department.code, mayotte.coord_system) == ("976", "WGS84")
    assert (mayotte.coord_x, mayotte.coord_y) == (45.22, -12.78)
    assert not LegalEntity.objects.filter(finess__in=[ASSO, ODD_STATUS, CLINIC]).exists()
    unknown = {group.label for group in report.unknown_code_groups}
    assert unknown == {"Statut juridique « 99 » — éléments de pmej"}
    ignored = {group.label: group.lines for group in report.ignored_groups}
    assert ignored["Groupement qui n'est pas un GHT (typeGcc ≠ 001) — éléments de gcc"] == [2]
    assert ignored["Entité juridique fermée (etatObjet ≠ A) — éléments de pmej"] == [7]
    assert ignored["Entité juridique sans établissement de santé — éléments de pmej"] == [5]


def test_finess_plus_reimport_is_idempotent_and_follows_ght_changes(db):
    run_import(finess_plus(), "s.json", "utf-8")

    again = run_import(finess_plus(), "s.json", "utf-8")
    assert (as_tuple(again.ght), as_tuple(again.legal_entity), as_tuple(again.site)) == (
        (0, 0, 1),
        (0, 0, 4),
        (0, 0, 4),
    )

    # The support moves to the member, the former support leaves, a neighbour joins.
    moved = run_import(finess_plus({"102": "S", "103": "M"}), "s.json", "utf-8")

    assert moved.ok, moved.errors
    ght = GHT.objects.get(code="84001")
    assert LegalEntity.objects.get(finess=CH_MEMBER).is_ght_support
    assert LegalEntity.objects.get(finess=CH_OTHER).ght == ght
    chu = LegalEntity.objects.get(finess=CHU)
    assert (chu.ght, chu.is_ght_support) == (None, False)
    assert as_tuple(moved.legal_entity) == (0, 3, 1)


def test_finess_plus_bad_element_is_refused_with_its_place(db):
    document = json.loads(finess_plus())
    document["pmej"][1]["informationsGeneralesPMEJ"]["numFinessPm"] = "690000000"
    report = run_import(json.dumps(document), "s.json", "utf-8")

    assert not report.ok
    assert [error.where for error in report.errors] == ["pmej, élément 2"]
    assert "clé de contrôle" in report.errors[0].message
    assert not LegalEntity.objects.exists() and not GHT.objects.exists()


def test_finess_plus_malformed_json_is_a_file_error(db):
    from care_portal.errors import ImportFileError

    with pytest.raises(ImportFileError, match="JSON mal formé"):
        run_import('{"gcc": [ {"gccId": "1",, } ] }', "s.json", "utf-8")


# Command and admin page --------------------------------------------------------------


@pytest.fixture
def superuser(db):
    return UserFactory(email="root@sante.gouv.test", is_staff=True, is_superuser=True)


def test_command_recognises_the_file_and_prints_the_report(db, tmp_path):
    path = tmp_path / "etalab-cs1100502-stock.csv"
    path.write_bytes(ej_extract().encode("cp1252"))
    out = StringIO()

    call_command("import_establishments", str(path), stdout=out)

    text = out.getvalue()
    assert "reconnu comme extraction FINESS des entités juridiques (EJ)" in text
    assert "Entités juridiques : 5 créé(s), 0 modifié(s), 0 inchangé(s)" in text
    assert "Statut juridique « 99 » (Statut) : 1 ligne(s) (8)" in text
    assert "Territoire absent de l'annuaire du portail (département 975) : 1 ligne(s) (7)" in text


def test_command_prints_refused_lines_and_fails(db, tmp_path):
    path = tmp_path / "finess.csv"
    path.write_bytes((METADATA + "\n" + ej_line(CHU[:-1] + "0", "X", "69", "13")).encode())
    err = StringIO()

    with pytest.raises(CommandError, match="1 ligne"):
        call_command("import_establishments", str(path), stderr=err, stdout=StringIO())
    assert "ligne 2 : nofinessej" in err.getvalue()


def test_admin_import_page_recognises_finess_plus_and_shows_the_notes(client, superuser):
    client.force_login(superuser)
    upload = SimpleUploadedFile("finess.json", finess_plus().encode(), "application/json")

    response = client.post(reverse("admin:establishments_legalentity_import"), {"file": upload})

    assert response.status_code == 200
    content = response.content.decode()
    assert "fichier JSON des structures FINESS+" in content
    assert 'id="import-unknown-codes"' in content and "Statut juridique « 99 »" in content
    assert 'id="import-ignored"' in content
    assert GHT.objects.filter(code="84001").exists()


def test_finess_plus_import_runs_chunked_queries(db, django_assert_max_num_queries):
    members = {str(1000 + n): ("S" if n == 0 else "M") for n in range(8)}
    entities = [
        pmej(
            str(1000 + n),
            make_finess("69", 40_000 + n),
            f"Entité {n}",
            "69123",
            "13",
            [ege(make_finess("69", 700_000 + n), f"Site {n}", "69123", "355")],
        )
        for n in range(1200)
    ]
    text = json.dumps({"gcc": [gcc("1", "84002", "GHT de charge", members)], "pmej": entities})

    with django_assert_max_num_queries(30):
        report = run_import(text, "s.json", "utf-8")
    assert report.ok, report.errors[:3]
    assert as_tuple(report.legal_entity) == (1200, 0, 0)
    assert LegalEntity.objects.filter(ght__code="84002").count() == 8
    with django_assert_max_num_queries(20):
        again = run_import(text, "s.json", "utf-8")
    assert as_tuple(again.legal_entity) == (0, 0, 1200)
    assert as_tuple(again.site) == (0, 0, 1200)


def test_ej_extract_through_excel_gets_back_the_zero_of_its_status_code(db):
    text = "\n".join([METADATA, ej_line(CHU[1:] if CHU[0] == "0" else CHU, "CH", "69", "3")])

    report = run_import(text)

    assert report.ok, report.errors
    entity = LegalEntity.objects.get(finess=CHU)
    assert (entity.legal_status_code, entity.status_group) == ("03", StatusGroup.PUBLIC)
