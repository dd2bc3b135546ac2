"""PingCastle rules and ANSSI maturity levels: every triggered rule stored with its
level from the shipped table, severities that follow the level (never the points),
2.x and 3.x reports, informational rules apart, and a domain's trend over a monthly
series of reports. The reports are written for these tests in PingCastle's format."""

import csv
from datetime import date
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audits import pingcastle_rules
from audits.models import AuditImport, DirectoryAudit, DirectoryAuditRule

from ..volet1 import findings, volet1_page
from .conftest import csv_bytes, run_import


def rule_xml(risk_id, points, *, category="Anomalies", model="GoldenTicket", extra=""):
    return (
        "    <HealthcheckRiskRule>\n"
        f"      <Points>{points}</Points>\n"
        f"      <Category>{category}</Category>\n"
        f"      <Model>{model}</Model>\n"
        f"      <RiskId>{risk_id}</RiskId>\n"
        f"      <Rationale>Constat de {risk_id}</Rationale>\n"
        f"      <Details><string>détail de {risk_id}</string></Details>{extra}\n"
        "    </HealthcheckRiskRule>\n"
    )


def healthcheck(
    rules,
    *,
    engine="3.3.0.1",
    maturity=None,
    generated="2025-03-14T10:22:31.4523810+01:00",
    domain="ch-exemple.local",
    score=55,
):
    """A report as PingCastle 3.x writes it (with the domain's MaturityLevel), or as
    2.x does (maturity=None: no MaturityLevel element)."""
    level = f"  <MaturityLevel>{maturity}</MaturityLevel>\n" if maturity is not None else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<HealthcheckData xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">\n'
        f"  <EngineVersion>{engine}</EngineVersion>\n"
        f"  <GenerationDate>{generated}</GenerationDate>\n"
        "  <Level>Normal</Level>\n"
        f"{level}"
        f"  <DomainFQDN>{domain}</DomainFQDN>\n"
        "  <NetBIOSName>CHEXEMPLE</NetBIOSName>\n"
        f"  <GlobalScore>{score}</GlobalScore>\n"
        "  <StaleObjectsScore>20</StaleObjectsScore>\n"
        f"  <PrivilegiedGroupScore>{score}</PrivilegiedGroupScore>\n"
        "  <TrustScore>0</TrustScore>\n"
        "  <AnomalyScore>15</AnomalyScore>\n"
        f"  <RiskRules>\n{''.join(rules)}  </RiskRules>\n"
        "</HealthcheckData>\n"
    ).encode()


LEVEL_1_REPORT_RULES = [
    rule_xml("P-AdminNum", 10, category="PrivilegedAccounts", model="AdminControl"),
    rule_xml("A-Krbtgt", 50),  # level 2, the most points
    rule_xml("S-OldNtlm", 15, category="StaleObjects", model="OldAuthenticationProtocols"),
    rule_xml("A-DCLdapSign", 5, model="NetworkSniffing"),  # not in the table
    rule_xml("S-FunctionalLevel3", 0, category="StaleObjects", model="ObsoleteOS"),
]


def import_report(content, hospital, filename="ad_hc_ch-exemple.local.xml"):
    batch = run_import("ad", content, filename, legal_entity=hospital)
    assert batch.status == AuditImport.Status.SUCCEEDED, (batch.message, batch.errors)
    return batch


# The shipped table ------------------------------------------------------------------------


def test_the_rule_table_says_its_source_and_holds_verified_levels():
    text = pingcastle_rules.TABLE_PATH.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("netwrix/pingcastle" in line for line in header)
    assert "RuleDurANSSI" in " ".join(header) and "RuleMaturityLevel" in " ".join(header)
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert len(rows) == len({row["risk_id"] for row in rows}) >= 40
    assert {row["attribute"] for row in rows} <= {"RuleDurANSSI", "RuleMaturityLevel"}
    levels = pingcastle_rules.rule_levels()
    assert (levels["A-Krbtgt"], levels["P-AdminNum"], levels["S-OldNtlm"]) == (2, 1, 2)
    assert "A-DCLdapSign" not in levels  # unverified: left out, shown "niveau inconnu"


@pytest.mark.parametrize(
    ("levels", "expected"),
    [([], 5), ([3, None, 2], 2), ([None], None), ([4, 5], 4)],
)
def test_a_domain_level_is_its_worst_rule_level(levels, expected):
    assert pingcastle_rules.domain_level(levels) == expected


# Import ------------------------------------------------------------------------------------


def test_a_report_whose_worst_rule_is_at_level_1_shows_critical_and_domain_level_1(
    client, hospital, hospital_user
):
    import_report(healthcheck(LEVEL_1_REPORT_RULES, maturity=1), hospital)

    audit = DirectoryAudit.objects.get()
    assert audit.maturity_level == 1
    assert audit.findings_critical >= 1
    # P-AdminNum (1) critical; A-Krbtgt and S-OldNtlm (2) high; S-FunctionalLevel3 (3),
    # informational, medium; A-DCLdapSign unknown: not counted.
    assert findings(audit) == (1, 2, 1, 0)
    stored = {
        r.risk_id: (r.category, r.model, r.points, r.rationale, r.maturity_level)
        for r in audit.rules.all()
    }
    assert stored["P-AdminNum"] == (
        "PrivilegedAccounts",
        "AdminControl",
        10,
        "Constat de P-AdminNum",
        1,
    )
    assert stored["A-DCLdapSign"][4] is None
    assert len(stored) == 5

    html = volet1_page(client, hospital_user, hospital)
    assert "Niveau 1 sur 5" in html
    assert "Critiques" in html
    assert "critique" in html.split("P-AdminNum", 1)[1].split("</tr>", 1)[0]
    assert "niveau inconnu" in html.split("A-DCLdapSign", 1)[1].split("</tr>", 1)[0]


def test_points_never_make_a_severity(hospital):
    # A-Krbtgt worth 50 points is level 2: high, not critical; P-Kerberoasting worth 5
    # is level 1: critical.
    rules = [
        rule_xml("A-Krbtgt", 50),
        rule_xml("P-Kerberoasting", 5, category="PrivilegedAccounts"),
    ]
    import_report(healthcheck(rules, maturity=1), hospital)

    audit = DirectoryAudit.objects.get()
    assert (audit.findings_critical, audit.findings_high) == (1, 1)


def test_a_2x_report_without_maturity_level_gets_its_worst_rule_level(
    client, hospital, hospital_user
):
    rules = [
        rule_xml("A-Krbtgt", 40),
        rule_xml("S-PwdNotRequired", 15, category="StaleObjects", model="ObjectConfig"),
    ]
    import_report(healthcheck(rules, engine="2.11.0.0"), hospital)

    audit = DirectoryAudit.objects.get()
    assert (audit.engine_version, audit.maturity_level, audit.maturity_from_rules) == (
        "2.11.0.0",
        2,
        True,
    )
    assert (audit.findings_critical, audit.findings_high, audit.findings_medium) == (0, 1, 1)
    html = volet1_page(client, hospital_user, hospital)
    assert "Niveau 2 sur 5" in html
    assert "calculé à partir du niveau de ses règles" in html


def test_a_2x_report_with_no_rule_triggered_is_at_level_5(hospital):
    import_report(healthcheck([], engine="2.10.1.0", score=0), hospital)

    audit = DirectoryAudit.objects.get()
    assert (audit.maturity_level, audit.findings_critical, audit.rules.count()) == (5, 0, 0)


def test_the_same_3x_report_and_its_2x_twin_give_the_same_rules_and_counts(hospital):
    rules = [rule_xml("P-AdminNum", 10, category="PrivilegedAccounts"), rule_xml("A-Krbtgt", 20)]
    import_report(healthcheck(rules, maturity=1, domain="a.local"), hospital)
    import_report(healthcheck(rules, engine="2.9.2.0", domain="b.local"), hospital)

    three, two = DirectoryAudit.objects.order_by("domain")
    counts = [
        (a.maturity_level, a.findings_critical, a.findings_high, a.rules.count())
        for a in (three, two)
    ]
    assert counts[0] == counts[1] == (1, 1, 1, 2)
    assert (three.maturity_from_rules, two.maturity_from_rules) == (False, True)


def test_reimport_is_unchanged_and_a_changed_report_replaces_its_rules(hospital):
    first = healthcheck(LEVEL_1_REPORT_RULES, maturity=1)
    import_report(first, hospital)
    again = import_report(first, hospital)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 1)
    assert DirectoryAuditRule.objects.count() == 5

    fixed = healthcheck([rule_xml("A-Krbtgt", 20)], maturity=2)
    changed = import_report(fixed, hospital)

    assert changed.updated_count == 1
    audit = DirectoryAudit.objects.get()
    assert list(audit.rules.values_list("risk_id", flat=True)) == ["A-Krbtgt"]
    assert (audit.maturity_level, audit.findings_critical, audit.findings_high) == (2, 0, 1)


def test_a_csv_summary_over_a_report_clears_its_rules(hospital):
    import_report(healthcheck(LEVEL_1_REPORT_RULES, maturity=1), hospital)
    header = ["finess_ej", "date_audit", "outil", "domaine", "score_global"]
    header += ["score_objets_obsoletes", "score_comptes_privilegies"]
    header += ["score_relations_approbation", "score_anomalies", "niveau_maturite"]
    row = {
        "finess_ej": hospital.finess,
        "date_audit": "2025-03-14",
        "outil": "pingcastle",
        "domaine": "ch-exemple.local",
        "score_global": 30,
        "score_objets_obsoletes": 30,
        "score_comptes_privilegies": 30,
        "score_relations_approbation": 0,
        "score_anomalies": 10,
        "niveau_maturite": 3,
    }

    batch = run_import("ad", csv_bytes(header, [row]), "audits.csv")

    assert batch.status == AuditImport.Status.SUCCEEDED, batch.errors
    assert batch.updated_count == 1
    assert DirectoryAuditRule.objects.count() == 0
    assert DirectoryAudit.objects.get().rules_fingerprint == ""


def test_import_queries_do_not_grow_with_the_rules(hospital):
    def queries(count, domain):
        rules = [rule_xml(f"S-Custom{i}", i + 1, category="StaleObjects") for i in range(count)]
        content = healthcheck(rules, maturity=3, domain=domain)
        with CaptureQueriesContext(connection) as captured:
            import_report(content, hospital)
        return len(captured.captured_queries)

    queries(1, "warm.local")  # the entity's first status is created, not updated
    few = queries(2, "few.local")
    many = queries(300, "many.local")

    assert many == few
    assert DirectoryAuditRule.objects.filter(audit__domain="many.local").count() == 300


# Pages -------------------------------------------------------------------------------------


def test_the_volet1_page_groups_rules_by_category_and_shows_0_point_rules_apart(
    client, hospital, hospital_user
):
    import_report(healthcheck(LEVEL_1_REPORT_RULES, maturity=1), hospital)

    html = volet1_page(client, hospital_user, hospital)

    stale = html.index("Objets obsolètes : règles du domaine ch-exemple.local")
    privileged = html.index("Comptes à privilèges : règles du domaine ch-exemple.local")
    anomalies = html.index("Anomalies : règles du domaine ch-exemple.local")
    informational = html.index("Règles informatives (0 point) du domaine ch-exemple.local")
    assert stale < privileged < anomalies < informational
    assert stale < html.index("S-OldNtlm") < privileged < html.index("P-AdminNum") < anomalies
    assert anomalies < html.index("A-Krbtgt") < informational
    assert html.index("S-FunctionalLevel3") > informational
    assert "niveau 3" in html.split("S-FunctionalLevel3", 1)[1].split("</tr>", 1)[0]


def test_a_monthly_series_of_reports_shows_the_domain_trend(client, hospital, hospital_user):
    months = [
        ("2025-01-10", 1, 80, LEVEL_1_REPORT_RULES),
        ("2025-02-10", 2, 60, [rule_xml("A-Krbtgt", 50)]),
        ("2025-03-10", 2, 50, [rule_xml("A-Krbtgt", 40)]),
        ("2025-04-10", 3, 30, [rule_xml("P-Delegated", 20, category="PrivilegedAccounts")]),
    ]
    for day, level, score, rules in months:
        content = healthcheck(
            rules, maturity=level, generated=f"{day}T09:00:00.0000000+01:00", score=score
        )
        import_report(content, hospital)

    client.force_login(hospital_user)
    response = client.get(reverse("audits:volet1-detail", args=[hospital.public_id]))
    (reading,) = response.context["overview"].directory_audits
    assert [(p.audit_date, p.maturity_level, p.global_score, p.change) for p in reading.trend] == [
        (date(2025, 1, 10), 1, 80, ""),
        (date(2025, 2, 10), 2, 60, "up"),
        (date(2025, 3, 10), 2, 50, "same"),
        (date(2025, 4, 10), 3, 30, "up"),
    ]
    html = unescape(response.content.decode())
    trend = html.split("Évolution du domaine ch-exemple.local", 1)[1]
    assert trend.index("10/01/2025") < trend.index("10/04/2025")
    assert "en progrès" in trend
    # The headline is the latest report's level; its rules only.
    assert reading.audit.maturity_level == 3
    assert [v.rule.risk_id for g in reading.rule_groups for v in g.rules] == ["P-Delegated"]


def test_a_report_level_above_a_rule_level_of_the_table_is_explained(
    client, hospital, hospital_user
):
    # PingCastle's version and the table disagree: the headline stays the report's,
    # the rule keeps the table's level (critical), and the page says why.
    rules = [rule_xml("P-AdminNum", 10, category="PrivilegedAccounts")]
    import_report(healthcheck(rules, maturity=3), hospital)

    audit = DirectoryAudit.objects.get()
    assert (audit.maturity_level, audit.findings_critical) == (3, 1)
    html = volet1_page(client, hospital_user, hospital)
    assert "Niveau 3 sur 5" in html
    assert "la table des règles du portail place plus bas : P-AdminNum" in html


def test_the_admin_shows_an_audit_rules_read_only(admin_client, hospital):
    import_report(healthcheck(LEVEL_1_REPORT_RULES, maturity=1), hospital)
    audit = DirectoryAudit.objects.get()

    html = admin_client.get(
        reverse("admin:audits_directoryaudit_change", args=[audit.pk])
    ).content.decode()

    assert "P-AdminNum" in html and "S-FunctionalLevel3" in html
    assert 'name="rules-0-risk_id"' not in html  # read only
    assert "3.3.0.1" in html
