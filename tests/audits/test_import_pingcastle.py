"""PingCastle XML reports, alone or zipped: values read, severities, and every unsafe
or broken file refused without writing anything."""

import io
import zipfile
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings

from audits.importers import pingcastle, rule_severity
from audits.importers.pingcastle import ReportError, _BoundedReader
from audits.models import AuditImport, DirectoryAudit, Volet1Level
from audits.services import audit_import_create
from care_portal.errors import ImportFileError

from ..volet1 import findings
from .conftest import run_import, zip_bytes

EXAMPLES = Path(settings.BASE_DIR) / "examples" / "audits"


def report(
    *,
    domain="ch-exemple.local",
    generated="2025-03-14T10:22:31.4523810+01:00",
    scores=(55, 31, 55, 0, 40),
    maturity="1",
    rules="",
    prolog='<?xml version="1.0" encoding="utf-8"?>\n',
):
    global_score, stale, privileged, trust, anomaly = scores
    rules = rules or (
        rule(50, "A-Krbtgt")
        + rule(20, "P-Kerberoasting")
        + rule(15, "S-PwdNotRequired")
        + rule(1, "S-Inactive")
    )
    return (
        f'{prolog}<HealthcheckData xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        "  <EngineVersion>3.3.0.1</EngineVersion>\n"
        f"  <GenerationDate>{generated}</GenerationDate>\n"
        f"  <MaturityLevel>{maturity}</MaturityLevel>\n"
        f"  <DomainFQDN>{domain}</DomainFQDN>\n"
        f"  <GlobalScore>{global_score}</GlobalScore>\n"
        f"  <StaleObjectsScore>{stale}</StaleObjectsScore>\n"
        f"  <PrivilegiedGroupScore>{privileged}</PrivilegiedGroupScore>\n"
        f"  <TrustScore>{trust}</TrustScore>\n"
        f"  <AnomalyScore>{anomaly}</AnomalyScore>\n"
        "  <UserAccountData><Number>120</Number><ListPwdNotRequired>"
        "<HealthcheckAccountDetailData><Name>svc</Name></HealthcheckAccountDetailData>"
        "</ListPwdNotRequired></UserAccountData>\n"
        f"  <RiskRules>{rules}</RiskRules>\n"
        "</HealthcheckData>\n"
    ).encode()


def rule(points, risk_id, *, extra=""):
    return (
        "<HealthcheckRiskRule>"
        f"<Points>{points}</Points><Category>Anomalies</Category><Model>GoldenTicket</Model>"
        f"<RiskId>{risk_id}</RiskId><Rationale>Raison de {risk_id}</Rationale>{extra}"
        "</HealthcheckRiskRule>"
    )


def xml_import(content, hospital, filename="ad_hc_ch-exemple.local.xml"):
    return run_import("ad", content, filename, legal_entity=hospital)


# Good reports ----------------------------------------------------------------------------


def test_report_values_are_read_for_the_chosen_entity(hospital):
    batch = xml_import(report(domain="CH-Exemple.local"), hospital)

    assert batch.status == AuditImport.Status.SUCCEEDED, (batch.message, batch.errors)
    assert batch.file_format == AuditImport.Format.PINGCASTLE_XML
    audit = DirectoryAudit.objects.get()
    assert audit.legal_entity == hospital
    assert (audit.tool, audit.domain, audit.audit_date) == (
        "pingcastle",
        "ch-exemple.local",
        date(2025, 3, 14),
    )
    assert (
        audit.global_score,
        audit.stale_objects_score,
        audit.privileged_accounts_score,
        audit.trusts_score,
        audit.anomalies_score,
        audit.maturity_level,
    ) == (55, 31, 55, 0, 40, 1)
    # Levels of the shipped table, not points: P-Kerberoasting and S-Inactive are at
    # level 1 (critical), A-Krbtgt at 2 (high), S-PwdNotRequired at 3 (medium).
    assert findings(audit) == (2, 1, 1, 0)
    assert audit.rules.count() == 4
    assert audit.import_batch == batch
    assert hospital.volet1.level == Volet1Level.AD_DONE


def test_a_rule_maturity_level_in_the_report_wins_over_the_table(hospital):
    rules = (
        rule(0, "P-Delegated", extra="<MaturityLevel>1</MaturityLevel>")  # table: 3
        + rule(60, "S-Old", extra="<MaturityLevel>4</MaturityLevel>")  # not in the table
        + rule(5, "A-Level", extra="<Level>Full</Level>")  # the export level, not a maturity
    )

    batch = xml_import(report(rules=rules), hospital)

    audit = DirectoryAudit.objects.get()
    assert batch.status == AuditImport.Status.SUCCEEDED
    assert findings(audit) == (1, 0, 0, 1)
    levels = dict(audit.rules.values_list("risk_id", "maturity_level"))
    assert levels == {"P-Delegated": 1, "S-Old": 4, "A-Level": None}


@pytest.mark.parametrize(
    ("level", "severity"),
    [(1, "critical"), (2, "high"), (3, "medium"), (4, "low"), (5, "low"), (None, None)],
)
def test_rule_severity_follows_the_maturity_level_only(level, severity):
    assert rule_severity(level=level) == severity


def test_maturity_level_zero_is_computed_from_the_rules(hospital):
    batch = xml_import(report(maturity="0"), hospital)

    assert batch.status == AuditImport.Status.SUCCEEDED
    audit = DirectoryAudit.objects.get()
    # PingCastle writes 0 when it did not compute the level: the worst rule's level.
    assert (audit.maturity_level, audit.maturity_from_rules) == (1, True)


def test_a_report_whose_rules_all_have_unknown_levels_has_no_level(hospital):
    batch = xml_import(report(maturity="0", rules=rule(10, "X-Unknown")), hospital)

    assert batch.status == AuditImport.Status.SUCCEEDED
    audit = DirectoryAudit.objects.get()
    assert (audit.maturity_level, audit.maturity_from_rules) == (None, False)


def test_rule_numbers_too_long_for_int_do_not_break_the_import(hospital):
    # int() refuses more than 4,300 digits: such a number is read as no number.
    huge = "1" + "0" * 5000
    rules = rule(huge, "A-Huge") + rule(20, "P-Kerberoasting", extra=f"<Level>{huge}</Level>")

    batch = xml_import(report(rules=rules), hospital)

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
    audit = DirectoryAudit.objects.get()
    total = (
        audit.findings_critical + audit.findings_high + audit.findings_medium + audit.findings_low
    )
    # A-Huge has no known level (not counted); P-Kerberoasting is at level 1.
    assert (total, audit.findings_critical) == (1, 1)
    assert audit.rules.get(risk_id="A-Huge").points == 0


def test_reimport_of_the_same_report_changes_nothing(hospital):
    content = report()
    xml_import(content, hospital)
    stamp = DirectoryAudit.objects.get().updated_at

    again = xml_import(content, hospital)

    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 1)
    assert DirectoryAudit.objects.get().updated_at == stamp


def test_zip_of_reports_imports_each_one(hospital):
    content = zip_bytes(
        {
            "ad_hc_ch-exemple.local.xml": report(),
            "rapports/ad_hc_recherche.local.xml": report(
                domain="recherche.local", scores=(70, 70, 5, 0, 10)
            ),
        }
    )

    batch = run_import("ad", content, "rapports.zip", legal_entity=hospital)
    again = run_import("ad", content, "rapports.zip", legal_entity=hospital)

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
    assert batch.file_format == AuditImport.Format.PINGCASTLE_ZIP
    assert (batch.rows_processed, batch.created_count) == (2, 2)
    assert DirectoryAudit.objects.get(domain="recherche.local").global_score == 70
    assert (again.created_count, again.unchanged_count) == (0, 2)


def test_the_example_report_and_zip_import_cleanly(hospital):
    single = run_import(
        "ad", (EXAMPLES / "pingcastle-healthcheck.xml").read_bytes(), "x.xml", legal_entity=hospital
    )
    zipped = run_import(
        "ad", (EXAMPLES / "pingcastle-reports.zip").read_bytes(), "x.zip", legal_entity=hospital
    )

    assert single.status == zipped.status == AuditImport.Status.SUCCEEDED
    assert (single.created_count, zipped.created_count) == (1, 2)
    assert DirectoryAudit.objects.filter(domain="ch-exemple.local").count() == 2


# Broken reports ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<HealthcheckData><DomainFQDN>x</HealthcheckData>", "XML mal formé (ligne 1, colonne"),
        (b"", "XML mal formé"),
        (b"<rapport><DomainFQDN>x</DomainFQDN></rapport>", "ce n'est pas un rapport PingCastle"),
        (report(scores=(140, 31, 55, 0, 40)), "GlobalScore : score « 140 » invalide"),
        (report(maturity="7"), "MaturityLevel : niveau « 7 » invalide"),
        (report(domain=""), "DomainFQDN : valeur obligatoire manquante"),
        (
            report(generated="2999-01-01T00:00:00"),
            "GenerationDate : la date 01/01/2999 est dans le futur",
        ),
        (report(generated="mardi"), "GenerationDate : date « mardi » illisible"),
    ],
)
def test_broken_report_fails_and_writes_nothing(hospital, content, expected):
    if not content:
        content = b"<"  # an upload cannot be empty: a file cut at its first byte

    batch = xml_import(content, hospital, filename="rapport.xml")

    assert batch.status == AuditImport.Status.FAILED
    assert batch.errors[0]["where"] == "fichier rapport.xml"
    assert expected in batch.errors[0]["message"], batch.errors
    assert DirectoryAudit.objects.count() == 0


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE HealthcheckData [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<HealthcheckData><DomainFQDN>&lol9;</DomainFQDN></HealthcheckData>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE HealthcheckData [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<HealthcheckData>
  <GenerationDate>2025-03-14T10:22:31</GenerationDate>
  <DomainFQDN>&xxe;</DomainFQDN>
  <GlobalScore>1</GlobalScore><StaleObjectsScore>1</StaleObjectsScore>
  <PrivilegiedGroupScore>1</PrivilegiedGroupScore><TrustScore>1</TrustScore>
  <AnomalyScore>1</AnomalyScore>
</HealthcheckData>
"""


@pytest.mark.parametrize(
    "content", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "xxe"]
)
def test_entity_expansion_and_external_entities_are_refused(hospital, content):
    batch = xml_import(content, hospital, filename="piege.xml")

    assert batch.status == AuditImport.Status.FAILED
    assert "déclaration DTD ou entité XML refusée" in batch.errors[0]["message"]
    assert DirectoryAudit.objects.count() == 0
    stored = f"{batch.message} {batch.errors}"
    assert "root:" not in stored and "lollol" not in stored


def test_external_entity_in_a_zip_is_refused_too(hospital):
    content = zip_bytes({"ok.xml": report(), "piege.xml": EXTERNAL_ENTITY})

    batch = run_import("ad", content, "rapports.zip", legal_entity=hospital)

    assert batch.status == AuditImport.Status.FAILED
    assert [error["where"] for error in batch.errors] == ["fichier piege.xml"]
    assert DirectoryAudit.objects.count() == 0
    assert "root:" not in str(batch.errors)


# Unsafe zips -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("../evil.xml", None, "chemin refusé"),
        ("rapports/../../evil.xml", None, "chemin refusé"),
        ("/etc/evil.xml", None, "chemin refusé"),
        ("C:/evil.xml", None, "chemin refusé"),
        ("inner.zip", "zip", "archive imbriquée refusée"),
        ("inner.xml", "zip", "archive imbriquée refusée"),
        ("rapport.html", b"<html></html>", "seuls les rapports XML"),
    ],
)
def test_unsafe_zip_member_is_refused_with_its_name(hospital, name, content, expected):
    if content is None:
        content = report(domain="evil.local")
    elif content == "zip":
        content = zip_bytes({"nested.xml": report()})
    archive = zip_bytes({"ok.xml": report(), name: content})

    batch = run_import("ad", archive, "rapports.zip", legal_entity=hospital)

    assert batch.status == AuditImport.Status.FAILED
    assert [error["where"] for error in batch.errors] == [f"fichier {name}"]
    assert expected in batch.errors[0]["message"]
    assert DirectoryAudit.objects.count() == 0  # not even ok.xml


def test_zip_bomb_member_larger_than_the_limit_is_not_decompressed(hospital):
    zeros = b"\0" * (50 * 1024 * 1024)  # compresses to about 50 KB
    archive = zip_bytes({"ok.xml": report(), "bombe.xml": zeros})
    assert len(archive) < 1024 * 1024

    batch = run_import("ad", archive, "rapports.zip", legal_entity=hospital)

    assert batch.status == AuditImport.Status.FAILED
    assert batch.errors[0]["where"] == "fichier bombe.xml"
    assert "taille décompressée de 50 Mo : 20 Mo au plus" in batch.errors[0]["message"]
    assert DirectoryAudit.objects.count() == 0


def test_zip_member_compressed_over_the_ratio_is_refused(hospital):
    archive = zip_bytes({"bombe.xml": b"<" + b" " * (5 * 1024 * 1024)})

    batch = run_import("ad", archive, "rapports.zip", legal_entity=hospital)

    assert "taux de compression supérieur à 100" in batch.errors[0]["message"]


def test_zip_whose_members_add_up_beyond_the_total_is_refused(hospital, monkeypatch):
    monkeypatch.setattr(pingcastle, "ZIP_MAX_TOTAL_SIZE", 3000)  # 3 reports of 1.5 KB
    archive = zip_bytes({f"r{i}.xml": report(domain=f"d{i}.local") for i in range(3)})

    batch = run_import("ad", archive, "rapports.zip", legal_entity=hospital)

    assert batch.status == AuditImport.Status.FAILED
    assert "bombes zip" in batch.message
    assert DirectoryAudit.objects.count() == 0


def test_zip_with_too_many_members_is_refused(hospital, monkeypatch):
    monkeypatch.setattr(pingcastle, "ZIP_MAX_MEMBERS", 2)
    archive = zip_bytes({f"r{i}.xml": report(domain=f"d{i}.local") for i in range(3)})

    batch = run_import("ad", archive, "rapports.zip", legal_entity=hospital)

    assert batch.status == AuditImport.Status.FAILED
    assert "3 fichiers : 2 au plus" in batch.message


def test_a_member_lying_about_its_size_is_cut_at_the_limit():
    reader = _BoundedReader(io.BytesIO(b"x" * 100), limit=10)

    with pytest.raises(ReportError, match="taille décompressée supérieure"):
        while reader.read(4):
            pass


def test_corrupt_zip_and_encrypted_member_are_refused(hospital):
    corrupt = run_import("ad", b"PK\x03\x04" + b"\x00" * 200, "r.zip", legal_entity=hospital)
    assert corrupt.status == AuditImport.Status.FAILED
    assert "illisible ou corrompue" in corrupt.message

    archive = bytearray(zip_bytes({"r.xml": report()}))
    # Set the "encrypted" flag of the member, in its local and central headers.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = archive.find(signature)
        archive[position + offset] |= 0x1
    encrypted = run_import("ad", bytes(archive), "r.zip", legal_entity=hospital)
    assert "fichier chiffré refusé" in encrypted.errors[0]["message"]


def test_member_with_a_corrupt_deflate_stream_is_unreadable(hospital):
    archive = bytearray(zip_bytes({"ok.xml": report(), "abime.xml": report(domain="b.local")}))
    # The second member's first compressed byte: block type 3, which deflate has not.
    position = archive.find(b"PK\x03\x04", 1)
    name_length = int.from_bytes(archive[position + 26 : position + 28], "little")
    extra_length = int.from_bytes(archive[position + 28 : position + 30], "little")
    archive[position + 30 + name_length + extra_length] |= 0x06

    batch = run_import("ad", bytes(archive), "r.zip", legal_entity=hospital)

    assert batch.status == AuditImport.Status.FAILED
    assert [(error["where"], error["message"]) for error in batch.errors] == [
        ("fichier abime.xml", "fichier illisible dans l'archive (corrompu ou chiffré)")
    ]
    assert DirectoryAudit.objects.count() == 0


def test_empty_zip_is_refused(hospital):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dossier/", b"")

    batch = run_import("ad", buffer.getvalue(), "vide.zip", legal_entity=hospital)

    assert "ne contient aucun fichier" in batch.message


# Choosing the entity -----------------------------------------------------------------------


def test_a_report_needs_the_legal_entity_and_the_ad_kind(hospital):
    with pytest.raises(ImportFileError, match="Choisissez l'entité juridique"):
        audit_import_create(kind="ad", uploaded_file=io.BytesIO(report()), filename="r.xml")
    with pytest.raises(ImportFileError, match="type ad, pas exposure"):
        audit_import_create(
            kind="exposure",
            uploaded_file=io.BytesIO(report()),
            filename="r.xml",
            legal_entity=hospital,
        )
    assert not AuditImport.objects.exists()


def test_format_comes_from_the_content_before_the_extension(hospital):
    batch = run_import("ad", zip_bytes({"r.xml": report()}), "rapports.bin", legal_entity=hospital)

    assert batch.file_format == AuditImport.Format.PINGCASTLE_ZIP
    assert batch.status == AuditImport.Status.SUCCEEDED
