"""The Volet 1 page of a legal entity, its readings, and the Volet 1 column and filter
of the directory: who sees what, what it says, and a constant number of queries."""

from datetime import date, timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from audits.models import (
    DirectoryAudit,
    DirectoryAuditRule,
    ExposureScan,
    Volet1Level,
    Volet1Status,
)
from audits.readings import (
    directory_next_steps,
    maturity_reading,
    months_before,
    score_reading,
)
from audits.services import volet1_status_refresh
from establishments.models import Department, LegalEntity, StatusGroup

from ..factories import (
    GHTFactory,
    LegalEntityFactory,
    establishment_user,
    make_finess,
)
from ..volet1 import make_audit, make_scan, volet1_page

LIST_URL = reverse("establishments:legalentity-list")


def volet1_url(entity) -> str:
    return reverse("audits:volet1-detail", args=[entity.public_id])


def today() -> date:
    return timezone.localdate()


def refresh(*entities: LegalEntity) -> None:
    volet1_status_refresh(legal_entity_ids=[e.pk for e in entities])


@pytest.fixture
def audited_hospital(hospital):
    """An AD audit and three monthly scans, the last two meeting D1.O2.B (50 days)."""
    make_audit(hospital)
    make_scan(hospital, today() - timedelta(days=130), met=False)
    make_scan(hospital, today() - timedelta(days=100))
    make_scan(hospital, today() - timedelta(days=50))
    refresh(hospital)
    return hospital


# Access ------------------------------------------------------------------------------


def test_volet1_page_requires_login(client, hospital):
    response = client.get(volet1_url(hospital))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


@pytest.mark.parametrize("persona", ["hospital_user", "ars_user", "ministry_user"])
def test_insiders_see_the_volet1_page(client, request, audited_hospital, persona):
    html = volet1_page(client, request.getfixturevalue(persona), audited_hospital)
    assert "Volet 1 : Centre hospitalier de Villefranche" in html
    assert "Score global : 65 sur 100" in html
    assert "risque élevé" in html
    assert "<svg" in html and 'role="img"' in html
    assert "Scans d'exposition sur internet, du plus ancien au plus récent" in html


@pytest.mark.parametrize(
    "persona", ["other_hospital_user", "other_region_ars_user", "user_without_membership"]
)
def test_volet1_page_is_404_for_outsiders(client, request, audited_hospital, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(volet1_url(audited_hospital)).status_code == 404


def test_unknown_entity_is_404(client, ministry_user):
    client.force_login(ministry_user)
    assert client.get("/volet1/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_ght_support_sees_the_volet1_page_of_its_members_not_the_reverse(client, db):
    ght = GHTFactory()
    support = LegalEntityFactory(ght=ght, is_ght_support=True)
    member = LegalEntityFactory(ght=ght)
    support_user = establishment_user(support, email="support@example.test")
    member_user = establishment_user(member, email="member@example.test")

    client.force_login(support_user)
    assert client.get(volet1_url(member)).status_code == 200
    client.force_login(member_user)
    assert client.get(volet1_url(support)).status_code == 404


# What the page says ------------------------------------------------------------------


def test_page_explains_scores_maturity_and_findings_in_words(client, hospital_user, hospital):
    make_audit(hospital, global_score=82, privileged_accounts_score=82, maturity_level=2)
    refresh(hospital)
    html = volet1_page(client, hospital_user, hospital)
    assert "plus le score est bas, mieux l'annuaire est protégé" in html
    assert "risque critique" in html
    assert "Comptes administrateurs trop nombreux ou mal protégés" in html
    assert "Relations d'approbation" in html
    assert "Niveau 2 sur 5" in html
    assert "Les règles d'hygiène de base ne sont pas toutes appliquées" in html
    # The four severities of the findings.
    for label in ("Critiques", "Élevés", "Moyens", "Faibles"):
        assert label in html


def test_status_summary_gives_the_dates_that_justify_it(client, hospital_user, audited_hospital):
    html = volet1_page(client, hospital_user, audited_hospital)
    audit_day = today() - timedelta(days=30)
    first, second = today() - timedelta(days=100), today() - timedelta(days=50)
    assert f"Réalisé le {audit_day.day} " in html
    assert "Objectif atteint" in html
    assert f"Scans conformes du {first.day} " in html
    assert f"et du {second.day} " in html
    # The two scans of the pair are flagged in the table, and only them.
    assert html.count("retenu pour D1.O2.B") == 2
    assert html.count("<tr>") == 1 + 4 + 1 + 3  # categories table + scans table


def test_each_domain_shows_its_latest_audit_only(client, hospital_user, hospital):
    make_audit(hospital, domain="ad.a.fr", audit_date=date(2024, 1, 10), global_score=90)
    make_audit(hospital, domain="ad.a.fr", audit_date=date(2025, 1, 10), global_score=15)
    make_audit(hospital, domain="ad.b.fr", audit_date=date(2024, 6, 1), global_score=44)
    make_audit(
        hospital,
        domain="ad.b.fr",
        audit_date=date(2023, 6, 1),
        global_score=77,
        tool=DirectoryAudit.Tool.ORADAD,
    )
    refresh(hospital)
    client.force_login(hospital_user)
    response = client.get(volet1_url(hospital))
    readings = response.context["overview"].directory_audits
    assert [(r.audit.domain, r.audit.global_score) for r in readings] == [
        ("ad.a.fr", 15),
        ("ad.b.fr", 44),
    ]
    html = unescape(response.content.decode())
    assert "Score global : 15 sur 100" in html
    assert "Score global : 44 sur 100" in html
    assert "Score global : 90 sur 100" not in html


def test_empty_states_say_what_to_do(client, hospital_user, hospital):
    html = volet1_page(client, hospital_user, hospital)
    assert "Non réalisé" in html
    assert "Non atteint" in html
    assert "Aucun audit de l'annuaire Active Directory n'est enregistré" in html
    assert "Aucun scan d'exposition sur internet n'est enregistré" in html
    assert "Faites réaliser un audit de votre annuaire Active Directory avec ORADAD ou" in html
    assert "SILENE" in html
    assert 'role="img"' not in html


def test_next_steps_for_an_old_audit_a_low_level_and_a_single_compliant_scan(
    client, hospital_user, hospital
):
    make_audit(hospital, audit_date=today() - timedelta(days=400), maturity_level=1)
    last = make_scan(hospital, today() - timedelta(days=10))
    refresh(hospital)
    html = volet1_page(client, hospital_user, hospital)
    assert "il y a plus de 12 mois : faites-le renouveler" in html
    assert "la priorité est d'atteindre le niveau 3" in html
    window_start = (last.scan_date + timedelta(days=45)).strftime("%d/%m/%Y")
    assert f"un second scan conforme entre le {window_start}" in html


def test_an_oradad_audit_without_scores_is_shown_without_a_reading(client, hospital_user, hospital):
    make_audit(
        hospital,
        tool=DirectoryAudit.Tool.ORADAD,
        global_score=None,
        stale_objects_score=None,
        privileged_accounts_score=None,
        trusts_score=None,
        anomalies_score=None,
        maturity_level=3,
    )
    refresh(hospital)
    html = volet1_page(client, hospital_user, hospital)
    assert "ne comporte pas de score PingCastle" in html
    assert "Niveau 3 sur 5" in html
    assert "Score global" not in html


def test_volet1_page_runs_the_same_queries_whatever_the_history(
    client, hospital_user, hospital, django_assert_num_queries
):
    def fill(scans: int, domains: int) -> None:
        ExposureScan.objects.filter(legal_entity=hospital).delete()
        DirectoryAudit.objects.filter(legal_entity=hospital).delete()
        for i in range(scans):
            make_scan(hospital, today() - timedelta(days=30 * i), met=i % 3 != 0)
        for d in range(domains):
            for year in (2023, 2024, 2025):
                audit = make_audit(hospital, domain=f"ad{d}.test", audit_date=date(year, 3, 1))
                DirectoryAuditRule.objects.bulk_create(
                    DirectoryAuditRule(
                        audit=audit, risk_id=f"S-Rule{r}", category="StaleObjects", points=r
                    )
                    for r in range(d * 3)
                )
        refresh(hospital)

    client.force_login(hospital_user)
    client.get(volet1_url(hospital))  # warm the session
    # session, user, memberships, legal entity (with its status), latest audits, their
    # rules, the audits' series, scans: whatever the number of rules
    for scans, domains in ((3, 1), (30, 6)):
        fill(scans, domains)
        with django_assert_num_queries(8):
            response = client.get(volet1_url(hospital))
        assert len(response.context["overview"].scan_rows) == scans
        assert len(response.context["overview"].directory_audits) == domains


# Readings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (0, "risque faible"),
        (20, "risque faible"),
        (21, "risque modéré"),
        (50, "risque modéré"),
        (51, "risque élevé"),
        (75, "risque élevé"),
        (76, "risque critique"),
        (100, "risque critique"),
    ],
)
def test_score_bands_lower_is_better(score, label):
    reading = score_reading(score)
    assert reading is not None
    assert reading.label == label


def test_score_out_of_range_is_refused_and_none_is_not_measured():
    assert score_reading(None) is None
    with pytest.raises(ValueError):
        score_reading(101)


def test_maturity_reading_marks_levels_below_3_as_priority():
    levels = {level: maturity_reading(level) for level in range(1, 6)}
    assert [lvl for lvl, r in levels.items() if r is not None and r.below_priority] == [1, 2]
    assert maturity_reading(None) is None


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 6, 15), date(2024, 6, 15)),
        (date(2024, 2, 29), date(2023, 2, 28)),
        (date(2025, 1, 31), date(2024, 1, 31)),
    ],
)
def test_months_before(day, expected):
    assert months_before(day, 12) == expected


def test_directory_next_steps_when_all_is_well():
    audit = DirectoryAudit(
        domain="ad.test",
        audit_date=date(2025, 5, 1),
        global_score=12,
        stale_objects_score=12,
        maturity_level=4,
    )
    steps = directory_next_steps([audit], date(2025, 6, 1))
    assert steps == ["Objectif atteint : votre annuaire a été audité le 01/05/2025."]


def test_directory_next_steps_point_to_the_worst_category():
    audit = DirectoryAudit(
        domain="ad.test",
        audit_date=date(2025, 5, 1),
        global_score=70,
        stale_objects_score=20,
        privileged_accounts_score=70,
        trusts_score=5,
        anomalies_score=40,
        maturity_level=3,
    )
    steps = directory_next_steps([audit], date(2025, 6, 1))
    assert len(steps) == 2
    assert "« Comptes à privilèges » (score 70 sur 100" in steps[1]


# Directory ---------------------------------------------------------------------------


def listed(response) -> set[str]:
    return {entity.name for entity in response.context["page_obj"].object_list}


@pytest.fixture
def entities_by_level(db):
    """One entity per level, plus one without any stored status."""
    none_row = LegalEntityFactory(name="CH sans statut")
    stored_none = LegalEntityFactory(name="CH statut vide")
    ad_done = LegalEntityFactory(name="CH audité")
    exposure = LegalEntityFactory(name="CH exposé")
    both = LegalEntityFactory(name="CH complet")
    make_audit(ad_done)
    make_audit(both)
    for entity in (exposure, both):
        make_scan(entity, today() - timedelta(days=60))
        make_scan(entity, today() - timedelta(days=10))
    refresh(stored_none, ad_done, exposure, both)
    assert not Volet1Status.objects.filter(legal_entity=none_row).exists()
    return {
        "none_row": none_row,
        Volet1Level.NONE: stored_none,
        Volet1Level.AD_DONE: ad_done,
        Volet1Level.EXPOSURE_MET: exposure,
        Volet1Level.BOTH: both,
    }


def test_directory_shows_the_volet1_level_of_each_entity(client, ministry_user, entities_by_level):
    client.force_login(ministry_user)
    response = client.get(LIST_URL)
    levels = {e.name: e.volet1_level for e in response.context["page_obj"].object_list}
    assert levels == {
        "CH sans statut": Volet1Level.NONE,
        "CH statut vide": Volet1Level.NONE,
        "CH audité": Volet1Level.AD_DONE,
        "CH exposé": Volet1Level.EXPOSURE_MET,
        "CH complet": Volet1Level.BOTH,
    }
    html = unescape(response.content.decode())
    assert '<th scope="col">Volet 1</th>' in html
    for label in (
        "Aucun objectif atteint",
        "Audit AD réalisé",
        "Objectif d'exposition atteint",
        "Les deux objectifs atteints",
    ):
        assert label in html


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (Volet1Level.NONE, {"CH sans statut", "CH statut vide"}),
        (Volet1Level.AD_DONE, {"CH audité"}),
        (Volet1Level.EXPOSURE_MET, {"CH exposé"}),
        (Volet1Level.BOTH, {"CH complet"}),
        ("", {"CH sans statut", "CH statut vide", "CH audité", "CH exposé", "CH complet"}),
    ],
)
def test_directory_filters_on_the_volet1_level(
    client, ministry_user, entities_by_level, level, expected
):
    client.force_login(ministry_user)
    assert listed(client.get(LIST_URL, {"volet1": level})) == expected


def test_unknown_volet1_level_is_a_form_error(client, ministry_user, entities_by_level):
    client.force_login(ministry_user)
    response = client.get(LIST_URL, {"volet1": "nope"})
    assert response.status_code == 200
    assert "volet1" in response.context["form"].errors


def test_volet1_filter_keeps_the_scope(client, ars_user, hospital, other_hospital):
    refresh(hospital, other_hospital)
    client.force_login(ars_user)
    assert listed(client.get(LIST_URL, {"volet1": "none"})) == {hospital.name}


def _make_entities_with_statuses(count: int) -> None:
    department = Department.objects.get(code="69")
    LegalEntity.objects.bulk_create(
        [
            LegalEntity(
                finess=make_finess("69", 300000 + i),
                name=f"Entité {i:04d}",
                status_group=StatusGroup.PUBLIC,
                department=department,
            )
            for i in range(count)
        ]
    )
    levels = [Volet1Level.NONE, Volet1Level.AD_DONE, Volet1Level.EXPOSURE_MET, Volet1Level.BOTH]
    Volet1Status.objects.bulk_create(
        [
            Volet1Status(legal_entity_id=pk, level=levels[i % 4], ad_audit_date=today())
            for i, pk in enumerate(LegalEntity.objects.order_by("id").values_list("id", flat=True))
            if i % 5  # every fifth entity has no stored status
        ]
    )


@pytest.mark.parametrize("count", [10, 1000])
def test_directory_volet1_column_and_filter_cost_no_query(
    client, ministry_user, django_assert_num_queries, count
):
    _make_entities_with_statuses(count)
    client.force_login(ministry_user)
    client.get(LIST_URL)  # warm the session
    # The same 8 queries as the directory without the column (tests/establishments).
    with django_assert_num_queries(8):
        response = client.get(LIST_URL, {"q": "Entité"})
    assert response.context["page_obj"].paginator.count == count
    assert "Les deux objectifs atteints" in response.content.decode()
    with django_assert_num_queries(8):
        response = client.get(LIST_URL, {"q": "Entité", "volet1": "none"})
    # "none": no stored status (every fifth) or a stored "none" (every fourth).
    expected = sum(1 for i in range(count) if i % 5 == 0 or i % 4 == 0)
    assert response.context["page_obj"].paginator.count == expected


def test_legal_entity_page_summarises_volet1_and_links_to_it(
    client, hospital_user, audited_hospital
):
    client.force_login(hospital_user)
    url = reverse("establishments:legalentity-detail", args=[audited_hospital.public_id])
    response = client.get(url)
    html = response.content.decode()
    assert "Les deux objectifs atteints" in html
    assert "objectif atteint (scans du" in html
    assert "Voir le détail du Volet 1" in html
    assert volet1_url(audited_hospital) in html


def test_legal_entity_page_without_status(client, hospital_user, hospital):
    client.force_login(hospital_user)
    url = reverse("establishments:legalentity-detail", args=[hospital.public_id])
    html = client.get(url).content.decode()
    assert "Aucun objectif atteint" in html
    assert "non réalisé" in html
    assert "objectif non atteint" in html


def test_home_links_establishment_users_to_their_volet1_page(client, hospital_user, hospital):
    client.force_login(hospital_user)
    html = client.get(reverse("home")).content.decode()
    assert volet1_url(hospital) in html
