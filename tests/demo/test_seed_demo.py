"""`manage.py seed_demo`: deterministic, idempotent, valid identifiers, demo accounts."""

from collections import Counter

import pytest
from django.conf import settings
from django.core.management import CommandError
from django.test import override_settings

from accounts.models import Membership, User
from applications.models import Application, Payment
from demo.directory import DemoSeedRefused, DeptInfo, build_plan, seed_demo
from establishments.identifiers import is_valid_finess, is_valid_siren, is_valid_siret
from establishments.models import GHT, Department, LegalEntity, Site, StatusGroup
from establishments.reference import DEPARTMENTS

from ..factories import LegalEntityFactory, SiteFactory
from .conftest import run

DEMO_EMAILS = {
    "etablissement@demo.test",
    "ght@demo.test",
    "ars@demo.test",
    "ministere@demo.test",
    "admin@demo.test",
}


def reference_departments() -> list[DeptInfo]:
    return [DeptInfo(code, name, region, chef) for code, name, region, chef in DEPARTMENTS]


def snapshot() -> tuple[list[tuple], list[tuple], list[tuple]]:
    entities = sorted(
        LegalEntity.objects.values_list(
            "finess",
            "siren",
            "name",
            "staff_count",
            "finess_category",
            "status_group",
            "department__code",
            "ght__code",
            "is_ght_support",
            "active",
        )
    )
    sites = sorted(
        Site.objects.values_list(
            "finess", "siret", "name", "beds", "category", "legal_entity__finess"
        )
    )
    ghts = sorted(GHT.objects.values_list("code", "name", "region__code"))
    return entities, sites, ghts


# --------------------------------------------------------------------------- plan (no DB)


def test_default_plan_has_the_shape_of_the_real_directory():
    plan = build_plan(2025, 2000, reference_departments())
    regions = {d.code: d.region for d in reference_departments()}
    assert len(plan.entities) == 2000
    assert 3800 <= len(plan.sites) <= 4800
    assert len(plan.ghts) == 135
    per_region = Counter(regions[e.department] for e in plan.entities)
    assert len(per_region) == 18
    assert 0.13 <= per_region["11"] / 2000 <= 0.17  # Île-de-France ~15%
    assert 0.10 <= per_region["84"] / 2000 <= 0.14  # Auvergne-Rhône-Alpes ~12%
    assert per_region["94"] / 2000 <= 0.02  # Corse ~1%
    groups = Counter(e.statistics_group for e in plan.entities)
    assert 800 <= groups["ght"] <= 900  # ~850 public entities in the GHTs
    assert 0.02 <= groups["public_outside_ght"] / 2000 <= 0.03
    assert 0.20 <= groups["private_non_profit"] / 2000 <= 0.24
    assert 0.30 <= groups["private_for_profit"] / 2000 <= 0.36
    assert 5 <= groups["ght"] / len(plan.ghts) <= 7  # ~6 legal entities per GHT
    assert 0.02 <= sum(not e.active for e in plan.entities) / 2000 <= 0.04
    # public and private in every region, public shares of the order of FINESS's
    public = Counter(regions[e.department] for e in plan.entities if e.status_group == "public")
    for region, total in per_region.items():
        if total >= 50:
            assert 0.3 <= public[region] / total <= 0.65, region
    chus = [e for e in plan.entities if e.category == "101"]
    assert chus and all(e.is_ght_support and 5000 <= e.staff_count <= 15000 for e in chus)


def test_plan_ghts_are_regional_with_one_support_and_at_most_ten_members():
    plan = build_plan(2025, 2000, reference_departments())
    regions = {d.code: d.region for d in reference_departments()}
    assert len({g.code for g in plan.ghts}) == len(plan.ghts)
    for ght in plan.ghts:
        assert ght.support is not None and ght.support.is_ght_support
        assert ght.support.ght == ght.code
        assert 1 <= len(ght.members) <= 10
        for entity in [ght.support, *ght.members]:
            assert entity.status_group == StatusGroup.PUBLIC
            assert regions[entity.department] == ght.region
    assert not [e for e in plan.entities if e.ght is None and e.is_ght_support]


def test_plan_identifiers_are_valid_and_unique():
    plan = build_plan(2025, 2000, reference_departments())
    ej = [e.finess for e in plan.entities]
    et = [s.finess for s in plan.sites]
    assert len(set(ej)) == len(ej) and len(set(et)) == len(et)
    assert not set(ej) & set(et)
    assert all(is_valid_finess(n) for n in ej + et)
    assert all(is_valid_siren(e.siren) for e in plan.entities)
    assert len({e.siren for e in plan.entities}) == len(plan.entities)
    for entity in plan.entities:
        for site in entity.sites:
            assert site.siret.startswith(entity.siren)
            assert is_valid_siret(site.siret)
    corsica = [e.finess for e in plan.entities if e.department in {"2A", "2B"}]
    assert corsica and all(n[:2] in {"2A", "2B"} for n in corsica)
    # Overseas: 97 for the Antilles, Guyane and La Réunion, 98 for Mayotte.
    numbers = [(e.department, e.finess) for e in plan.entities] + [
        (s.department, s.finess) for s in plan.sites
    ]
    mayotte = [n for dept, n in numbers if dept == "976"]
    antilles = [n for dept, n in numbers if dept in {"971", "972", "973", "974"}]
    assert mayotte and all(n.startswith("98") for n in mayotte)
    assert antilles and all(n.startswith("97") for n in antilles)


def test_plan_depends_on_the_seed_only():
    first = build_plan(11, 200, reference_departments())
    again = build_plan(11, 200, reference_departments())
    other = build_plan(12, 200, reference_departments())
    key = lambda plan: [(e.finess, e.name, e.staff_count) for e in plan.entities]  # noqa: E731
    assert key(first) == key(again)
    assert key(first) != key(other)


@pytest.mark.parametrize("size", [10, 20, 60])
def test_small_plans_still_have_a_ght_with_a_member_in_auvergne_rhone_alpes(size):
    plan = build_plan(2025, size, reference_departments())
    assert len(plan.entities) == size
    assert any(g.region == "84" and g.support and g.members for g in plan.ghts)


# --------------------------------------------------------------------------- command


@pytest.mark.django_db
def test_seed_counts_and_valid_identifiers_at_a_small_size():
    output = run("--legal-entities", "60")

    assert LegalEntity.objects.count() == 60
    assert 90 <= Site.objects.count() <= 170
    assert GHT.objects.count() >= 1
    for ght in GHT.objects.all():
        assert ght.members.filter(is_ght_support=True).count() == 1
        assert not ght.members.exclude(department__region=ght.region).exists()
        assert not ght.members.exclude(status_group=StatusGroup.PUBLIC).exists()
    for finess, siren in LegalEntity.objects.values_list("finess", "siren"):
        assert is_valid_finess(finess), finess
        assert is_valid_siren(siren), siren
    for finess, siret, siren in Site.objects.values_list("finess", "siret", "legal_entity__siren"):
        assert is_valid_finess(finess), finess
        assert is_valid_siret(siret), siret
        assert siret[:9] == siren
    assert not Site.objects.filter(legal_entity__isnull=True).exists()
    assert "60 entités juridiques" in output


@pytest.mark.django_db
def test_seed_spreads_over_the_regions():
    run("--legal-entities", "300")
    regions = set(LegalEntity.objects.values_list("department__region__code", flat=True))
    assert len(regions) >= 15
    groups = Counter(e.statistics_group for e in LegalEntity.objects.all())
    assert groups["ght"] >= 100
    assert groups["ght"] > groups["private_for_profit"] > groups["private_non_profit"]


@pytest.mark.django_db
def test_seed_is_deterministic():
    run("--legal-entities", "60", "--seed", "42")
    first = snapshot()

    Payment.objects.all().delete()  # the payments protect their applications
    Application.objects.all().delete()  # the demo applications protect their users
    User.objects.filter(email__in=DEMO_EMAILS).delete()
    LegalEntity.objects.all().delete()
    GHT.objects.all().delete()
    assert not Site.objects.exists()

    run("--legal-entities", "60", "--seed", "42")
    assert snapshot() == first


@pytest.mark.django_db
def test_seed_is_idempotent():
    first_output = run("--legal-entities", "60")
    counts = (
        LegalEntity.objects.count(),
        Site.objects.count(),
        GHT.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
    )
    before = snapshot()

    summary = seed_demo(legal_entities=60)

    assert (
        LegalEntity.objects.count(),
        Site.objects.count(),
        GHT.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
    ) == counts
    assert snapshot() == before
    created = summary.created
    assert created[LegalEntity] == created[Site] == created[GHT] == 0
    assert created[User] == created[Membership] == created["skipped"] == 0
    assert f"{counts[3]} utilisateurs" in first_output  # created by the first run


@pytest.mark.django_db
def test_seed_leaves_existing_establishments_alone():
    hospital = LegalEntityFactory(name="Centre hospitalier de Villefranche")
    SiteFactory(legal_entity=hospital)
    planned = build_plan(
        2025,
        60,
        [
            DeptInfo(d.code, d.name, d.region.code, d.chef_lieu or d.name)
            for d in Department.objects.select_related("region").order_by("code")
        ],
    )
    taken = planned.entities[-1]  # a private clinic: not needed by the demo accounts
    squatter = LegalEntityFactory(
        finess=taken.finess,
        name="Entité déjà importée",
        department=Department.objects.get(code=taken.department),
    )

    summary = seed_demo(legal_entities=60)

    assert LegalEntity.objects.count() == 60 + 1  # the plan minus the taken FINESS, plus 2
    assert summary.created["skipped"] == 1
    squatter.refresh_from_db()
    assert squatter.name == "Entité déjà importée"
    assert not squatter.sites.exists()
    assert hospital.sites.count() == 1
    assert User.objects.filter(email__in=DEMO_EMAILS).count() == 5


@pytest.mark.django_db
def test_demo_accounts_have_the_right_scopes_and_can_log_in(client):
    output = run("--legal-entities", "60")

    member_user = User.objects.get(email="etablissement@demo.test")
    (membership,) = member_user.memberships.all()
    assert membership.role == Membership.Role.ESTABLISHMENT
    entity = membership.legal_entity
    # an entity that files for itself (a public member of a GHT never does)
    assert entity.active and entity.ght is None and not entity.is_ght_support
    assert entity.statistics_group in {"private_non_profit", "public_outside_ght"}
    assert entity.department.region.code == "84"

    ght_user = User.objects.get(email="ght@demo.test")
    (ght_membership,) = ght_user.memberships.all()
    assert ght_membership.role == Membership.Role.ESTABLISHMENT
    support = ght_membership.legal_entity
    assert support.is_ght_support and support.department.region.code == "84"
    member = support.ght.members.filter(is_ght_support=False).first()
    assert member is not None
    assert LegalEntity.objects.visible_to(ght_user).filter(pk=member.pk).exists()
    assert not LegalEntity.objects.visible_to(member_user).filter(pk=support.pk).exists()

    ars = User.objects.get(email="ars@demo.test")
    (ars_membership,) = ars.memberships.all()
    assert ars_membership.role == Membership.Role.REGIONAL
    assert ars_membership.region == entity.department.region
    assert not ars.is_staff

    ministry = User.objects.get(email="ministere@demo.test")
    assert ministry.is_staff and not ministry.is_superuser
    assert list(ministry.memberships.values_list("role", flat=True)) == ["ministry"]
    assert ministry.has_perm("establishments.change_legalentity")
    assert not ministry.has_perm("establishments.delete_legalentity")

    admin = User.objects.get(email="admin@demo.test")
    assert admin.is_superuser and admin.is_staff

    for email in DEMO_EMAILS:
        assert client.login(username=email, password=settings.DEMO_PASSWORD), email
        client.logout()
        assert email in output
    assert settings.DEMO_PASSWORD == "demo-care-2025"
    assert "demo-care-2025" in output


@pytest.mark.django_db
def test_rerun_restores_a_changed_demo_password(client):
    run("--legal-entities", "20")
    user = User.objects.get(email="ars@demo.test")
    user.set_password("autre-chose-2025")
    user.save()

    run("--legal-entities", "20")

    assert client.login(username="ars@demo.test", password=settings.DEMO_PASSWORD)


@pytest.mark.django_db
@override_settings(CARE_ENVIRONMENT="prod")
def test_seed_is_refused_in_production():
    with pytest.raises(CommandError, match="production"):
        run("--legal-entities", "20")
    with pytest.raises(DemoSeedRefused):
        seed_demo(legal_entities=20)
    assert not LegalEntity.objects.exists()
    assert not User.objects.filter(email__in=DEMO_EMAILS).exists()


@pytest.mark.django_db
def test_too_few_legal_entities_is_an_error():
    with pytest.raises(CommandError, match="legal-entities"):
        run("--legal-entities", "5")
