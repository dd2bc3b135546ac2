"""The directory: who sees what, filters, and a constant number of queries."""

import pytest
from django.urls import reverse

from establishments.models import Department, LegalEntity, StatusGroup

from ..factories import (
    GHTFactory,
    LegalEntityFactory,
    SiteFactory,
    establishment_user,
    make_finess,
)

LIST_URL = reverse("establishments:legalentity-list")


def detail_url(entity):
    return reverse("establishments:legalentity-detail", args=[entity.public_id])


def listed(response) -> set[str]:
    return {entity.name for entity in response.context["page_obj"].object_list}


def test_directory_requires_login(client, hospital):
    response = client.get(LIST_URL)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert client.get(detail_url(hospital)).status_code == 302


def test_establishment_user_sees_only_its_legal_entity(
    client, hospital_user, hospital, other_hospital
):
    LegalEntityFactory(name="Clinique voisine", department=hospital.department)
    client.force_login(hospital_user)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert listed(response) == {hospital.name}
    assert client.get(detail_url(hospital)).status_code == 200


def test_ars_agent_sees_its_region_only(client, ars_user, hospital, other_hospital):
    # hospital is in Rhône (84, Auvergne-Rhône-Alpes), other_hospital in Finistère (53).
    client.force_login(ars_user)
    response = client.get(LIST_URL)
    assert listed(response) == {hospital.name}


def test_ministry_sees_everything(client, ministry_user, hospital, other_hospital):
    client.force_login(ministry_user)
    assert listed(client.get(LIST_URL)) == {hospital.name, other_hospital.name}


@pytest.mark.parametrize(
    "persona", ["other_hospital_user", "other_region_ars_user", "user_without_membership"]
)
def test_legal_entity_detail_is_404_for_outsiders(client, request, hospital, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(detail_url(hospital)).status_code == 404


def test_insiders_open_the_detail_page_with_sites(client, request, hospital):
    SiteFactory(legal_entity=hospital, name="Site principal de Villefranche")
    for persona in ("hospital_user", "ars_user", "ministry_user"):
        client.force_login(request.getfixturevalue(persona))
        response = client.get(detail_url(hospital))
        assert response.status_code == 200, persona
        assert "Site principal de Villefranche" in response.content.decode()


def test_unknown_public_id_is_404(client, ministry_user):
    client.force_login(ministry_user)
    response = client.get("/annuaire/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404


def test_ght_support_user_sees_the_members_of_its_ght(client, db):
    ght = GHTFactory(name="GHT Rhône Nord")
    support = LegalEntityFactory(name="CH support", ght=ght, is_ght_support=True)
    member = LegalEntityFactory(name="CH membre", ght=ght)
    LegalEntityFactory(name="CH hors GHT")
    support_user = establishment_user(support, email="support@example.test")
    member_user = establishment_user(member, email="member@example.test")

    client.force_login(support_user)
    assert listed(client.get(LIST_URL)) == {"CH support", "CH membre"}
    assert client.get(detail_url(member)).status_code == 200

    client.force_login(member_user)
    assert listed(client.get(LIST_URL)) == {"CH membre"}
    assert client.get(detail_url(support)).status_code == 404
    # The member still sees its GHT and the name of its support establishment.
    page = client.get(detail_url(member)).content.decode()
    assert "GHT Rhône Nord" in page
    assert "CH support" in page


def test_search_by_name_and_by_finess(client, ministry_user):
    a = LegalEntityFactory(name="Centre hospitalier de Vienne")
    b = LegalEntityFactory(name="Clinique du Parc")
    site = SiteFactory(legal_entity=b)
    client.force_login(ministry_user)
    assert listed(client.get(LIST_URL, {"q": "vienne"})) == {a.name}
    assert listed(client.get(LIST_URL, {"q": a.finess})) == {a.name}
    assert listed(client.get(LIST_URL, {"q": site.finess[:2] + " " + site.finess[2:]})) == {b.name}


def test_filters_by_region_department_and_status(client, ministry_user):
    rhone = LegalEntityFactory(name="CH Rhône")
    finistere = LegalEntityFactory(
        name="Clinique Finistère",
        department=Department.objects.get(code="29"),
        finess=make_finess("29", 77),
        status_group=StatusGroup.PRIVATE_FOR_PROFIT,
    )
    client.force_login(ministry_user)
    assert listed(client.get(LIST_URL, {"region": "53"})) == {finistere.name}
    assert listed(client.get(LIST_URL, {"department": "69"})) == {rhone.name}
    assert listed(client.get(LIST_URL, {"status_group": "private_for_profit"})) == {finistere.name}


def test_invalid_filter_values_show_an_error_not_a_500(client, ministry_user, hospital):
    client.force_login(ministry_user)
    response = client.get(LIST_URL, {"region": "zz", "status_group": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_an_invalid_filter_leaves_the_valid_ones_applied(client, ministry_user, hospital):
    lyon = LegalEntityFactory(name="Hospices civils de Lyon")
    client.force_login(ministry_user)

    response = client.get(LIST_URL, {"q": "Lyon", "region": "ZZ", "status_group": "public"})

    assert response.status_code == 200
    assert listed(response) == {lyon.name}
    form = response.context["form"]
    assert list(form.errors) == ["region"]
    assert "region" not in form.cleaned_data
    assert "Sélectionnez un choix valide" in response.content.decode()


def test_directory_is_paginated(client, ministry_user):
    LegalEntityFactory.create_batch(55)
    client.force_login(ministry_user)
    first = client.get(LIST_URL)
    assert len(first.context["page_obj"].object_list) == 50
    second = client.get(LIST_URL, {"page": 2})
    assert len(second.context["page_obj"].object_list) == 5
    # A page number out of range shows the last page, never an error.
    assert client.get(LIST_URL, {"page": 99}).status_code == 200


def _make_entities(count: int) -> None:
    ght = GHTFactory()
    department = Department.objects.get(code="69")
    LegalEntity.objects.bulk_create(
        [
            LegalEntity(
                finess=make_finess("69", 200000 + i),
                name=f"Entité {i:04d}",
                status_group=StatusGroup.PUBLIC,
                department=department,
                ght=ght if i % 3 == 0 else None,
            )
            for i in range(count)
        ]
    )


@pytest.mark.parametrize("count", [10, 1000])
def test_directory_runs_the_same_queries_for_10_and_1000_entities(
    client, ministry_user, django_assert_num_queries, count
):
    _make_entities(count)
    client.force_login(ministry_user)
    client.get(LIST_URL)  # warm the session
    # session, user, memberships, count, page, site counts, region and département choices
    with django_assert_num_queries(8):
        response = client.get(LIST_URL, {"q": "Entité"})
    assert response.status_code == 200
    assert response.context["page_obj"].paginator.count == count


def test_ars_directory_queries_are_constant(client, ars_user, django_assert_num_queries):
    _make_entities(300)
    client.force_login(ars_user)
    client.get(LIST_URL)  # warm the session
    with django_assert_num_queries(9):  # + the region chosen in the filter
        response = client.get(LIST_URL, {"region": "84"})
    assert response.context["page_obj"].paginator.count == 300
