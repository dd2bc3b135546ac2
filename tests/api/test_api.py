"""The API's endpoints: scoped exactly as the portal's pages, filters with clear
errors, Volet 1 and Volet 2 status, throttling per token, a fixed number of queries
per page, the schema and its documentation served without any CDN."""

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership
from applications.models import Application, Coverage
from establishments.models import Department, LegalEntity

from ..factories import ApplicationFactory, LegalEntityFactory, MembershipFactory, UserFactory
from .conftest import token_client

ENTITIES = "/api/v1/legal-entities/"
APPLICATIONS = "/api/v1/applications/"


def finess_of(response):
    assert response.status_code == 200, response.content
    return {row["finess"] for row in response.json()["results"]}


def references(response):
    assert response.status_code == 200, response.content
    return {row["reference"] for row in response.json()["results"]}


def every_page(client, url, **params):
    rows, page = [], 1
    while True:
        response = client.get(url, {**params, "page": page, "page_size": 200})
        assert response.status_code == 200, response.content
        data = response.json()
        rows += data["results"]
        if not data["next"]:
            return rows
        page += 1


# --- Scoping --------------------------------------------------------------------------------


def test_an_ars_token_never_sees_another_regions_rows(api_world, ars_user):
    client = token_client(ars_user)
    entities = every_page(client, ENTITIES)
    assert {e["region"] for e in entities} == {"84"}
    assert {e["finess"] for e in entities} == set(
        LegalEntity.objects.filter(department__region__code="84").values_list("finess", flat=True)
    )
    assert api_world.other_hospital.finess not in {e["finess"] for e in entities}
    applications = every_page(client, APPLICATIONS)
    assert {a["reference"] for a in applications} == {
        api_world.submitted.reference,
        api_world.ght_application.reference,
    }  # not the other region's, not the draft
    # Asked by id, or through a filter naming the other region: nothing.
    other = api_world.other_hospital
    assert client.get(f"{ENTITIES}{other.public_id}/").status_code == 404
    assert client.get(f"{APPLICATIONS}{api_world.other_submitted.public_id}/").status_code == 404
    assert client.get(f"{APPLICATIONS}{api_world.draft.public_id}/").status_code == 404
    assert finess_of(client.get(ENTITIES, {"region": "53"})) == set()
    assert references(client.get(APPLICATIONS, {"region": "53"})) == set()


def test_the_other_regions_ars_sees_only_its_own(api_world, other_region_ars_user):
    client = token_client(other_region_ars_user)
    assert finess_of(client.get(ENTITIES)) == {api_world.other_hospital.finess}
    assert references(client.get(APPLICATIONS)) == {api_world.other_submitted.reference}


def test_an_establishment_token_sees_only_its_own(api_world, hospital_user):
    client = token_client(hospital_user)
    assert finess_of(client.get(ENTITIES)) == {api_world.hospital.finess}
    assert references(client.get(APPLICATIONS)) == {api_world.submitted.reference}
    assert client.get(f"{ENTITIES}{api_world.clinic.public_id}/").status_code == 404
    own = client.get(f"{ENTITIES}{api_world.hospital.public_id}/")
    assert own.status_code == 200 and own.json()["finess"] == api_world.hospital.finess


def test_a_ght_support_sees_its_members_and_its_own_draft_only_to_itself(
    api_world, support_user, drafter_user
):
    support = token_client(support_user)
    assert finess_of(support.get(ENTITIES)) == {api_world.support.finess, api_world.member.finess}
    drafter = token_client(drafter_user)
    assert references(drafter.get(APPLICATIONS)) == {api_world.draft.reference}
    entity = drafter.get(ENTITIES).json()["results"][0]
    assert [v["status"] for v in entity["volet2"]] == ["draft"]


@pytest.mark.parametrize("persona", ["hospital_user", "ars_user", "ministry_user", "drafter_user"])
def test_applications_are_exactly_those_of_the_pages(api_world, persona, request):
    user = request.getfixturevalue(persona)
    rows = every_page(token_client(user), APPLICATIONS)
    expected = Application.objects.visible_to(user)
    assert {r["id"] for r in rows} == {str(a.public_id) for a in expected}
    assert len(rows) == expected.count()


def test_the_ministry_sees_every_submitted_application_and_every_entity(api_world, ministry_user):
    client = token_client(ministry_user)
    assert len(every_page(client, ENTITIES)) == LegalEntity.objects.count()
    assert references(client.get(APPLICATIONS)) == {
        api_world.submitted.reference,
        api_world.other_submitted.reference,
        api_world.ght_application.reference,
    }


# --- What is shown -------------------------------------------------------------------------


def test_an_entity_shows_its_volet1_and_volet2_status(api_world, ministry_user):
    client = token_client(ministry_user)
    hospital = client.get(f"{ENTITIES}{api_world.hospital.public_id}/").json()
    assert hospital["volet1"]["level"] == "both"
    assert hospital["volet1"]["ad_audit_date"] == "2025-01-10"
    assert hospital["volet1"]["exposure_second_scan_date"] == "2025-03-20"
    assert hospital["volet2"] == [
        {
            "call": "D2-API",
            "application": str(api_world.submitted.public_id),
            "reference": api_world.submitted.reference,
            "status": "regional_review",
            "status_label": "Instruction par l'ARS",
            "candidate": True,
        }
    ]
    member = client.get(f"{ENTITIES}{api_world.member.public_id}/").json()
    assert member["statistics_group"] == "ght" and member["ght"]
    assert [(v["reference"], v["candidate"]) for v in member["volet2"]] == [
        (api_world.ght_application.reference, False)
    ]
    other = client.get(f"{ENTITIES}{api_world.other_hospital.public_id}/").json()
    assert other["volet1"] == {
        "level": "none",
        "level_label": "Aucun objectif atteint",
        "ad_audit_date": None,
        "exposure_first_scan_date": None,
        "exposure_second_scan_date": None,
        "last_scan_date": None,
    }
    # The ministry does not see a draft, in the Volet 2 column either.
    drafter = client.get(f"{ENTITIES}{api_world.drafter.public_id}/").json()
    assert drafter["volet2"] == []


def test_the_score_is_for_the_instructors_only(api_world, hospital_user, ars_user):
    url = f"{APPLICATIONS}{api_world.submitted.public_id}/"
    own = token_client(hospital_user).get(url).json()
    assert own["eligible"] is True and own["score"] is None
    instructed = token_client(ars_user).get(url).json()
    assert instructed["score"] == "61.25"
    assert instructed["covered"] == [api_world.hospital.finess]
    assert instructed["region"] == "84" and instructed["department"] == "69"
    assert instructed["requested_amount"] == "200000.00" and instructed["granted_amount"] is None


# --- Filters --------------------------------------------------------------------------------


def test_entity_filters(api_world, ministry_user):
    client = token_client(ministry_user)
    w = api_world
    assert finess_of(client.get(ENTITIES, {"region": "53"})) == {w.other_hospital.finess}
    assert finess_of(client.get(ENTITIES, {"department": "38"})) == {w.member.finess}
    assert finess_of(client.get(ENTITIES, {"statistics_group": "ght"})) == {
        w.support.finess,
        w.member.finess,
    }
    assert finess_of(client.get(ENTITIES, {"statistics_group": "private_for_profit"})) == {
        w.clinic.finess
    }
    applied = {w.hospital.finess, w.other_hospital.finess, w.support.finess, w.member.finess}
    assert finess_of(client.get(ENTITIES, {"applied": "true"})) == applied
    # The draft's entity has not applied; nor has the clinic.
    assert finess_of(client.get(ENTITIES, {"applied": "false"})) == {
        w.clinic.finess,
        w.drafter.finess,
    }
    assert finess_of(client.get(ENTITIES, {"applied": "true", "region": "84"})) == (
        applied - {w.other_hospital.finess}
    )
    assert finess_of(client.get(ENTITIES, {"volet1": "ad_done"})) == {w.clinic.finess}
    # In another call, nobody has applied.
    ApplicationFactory(call__code="D1-AUTRE", candidate=w.clinic, status="draft")
    assert finess_of(client.get(ENTITIES, {"applied": "true", "call": "D1-AUTRE"})) == set()
    Application.objects.filter(call__code="D1-AUTRE").delete()
    # A withdrawn application no longer counts.
    Application.objects.filter(pk=w.submitted.pk).update(status="withdrawn")
    assert w.hospital.finess not in finess_of(client.get(ENTITIES, {"applied": "true"}))


def test_application_filters(api_world, ministry_user):
    client = token_client(ministry_user)
    w = api_world
    assert references(client.get(APPLICATIONS, {"status": "approved"})) == {
        w.other_submitted.reference
    }
    assert references(client.get(APPLICATIONS, {"region": "53"})) == {w.other_submitted.reference}
    assert references(client.get(APPLICATIONS, {"department": "69"})) == {
        w.submitted.reference,
        w.ght_application.reference,
    }
    assert len(references(client.get(APPLICATIONS, {"call": "D2-API"}))) == 3


@pytest.mark.parametrize(
    ("url", "params", "parameter"),
    [
        (ENTITIES, {"region": "99"}, "region"),
        (ENTITIES, {"department": "2C"}, "department"),
        (ENTITIES, {"statistics_group": "autre"}, "statistics_group"),
        (ENTITIES, {"applied": "peut-être"}, "applied"),
        (ENTITIES, {"call": "INCONNU"}, "call"),
        (APPLICATIONS, {"region": "84x"}, "region"),
        (ENTITIES, {"volet1": "tout"}, "volet1"),
        (APPLICATIONS, {"status": "en_cours"}, "status"),
        (APPLICATIONS, {"call": "\x00"}, "call"),
        (ENTITIES, {"regoin": "84"}, "regoin"),
        (APPLICATIONS, {"page_size": "0"}, "page_size"),
        (APPLICATIONS, {"page_size": "201"}, "page_size"),
        (APPLICATIONS, {"page_size": "dix"}, "page_size"),
    ],
)
def test_a_bad_parameter_gets_a_400_naming_it(api_world, ministry_user, url, params, parameter):
    response = token_client(ministry_user).get(url, params)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [parameter]
    assert "%(" not in response.content.decode() and "{" not in response.json()[parameter][0]


def test_a_page_out_of_range_gets_a_404_a_bad_page_number_a_400(api_world, ministry_user):
    client = token_client(ministry_user)
    assert client.get(ENTITIES, {"page": 999}).status_code == 404
    assert client.get(ENTITIES, {"page": "abc"}).status_code == 400
    assert client.get(ENTITIES, {"page": ""}).status_code == 400
    assert client.get(ENTITIES, {"page": "0"}).status_code == 400
    assert client.get(f"{ENTITIES}not-a-uuid/").status_code == 404
    assert client.post(ENTITIES, {}).status_code == 405


# --- Throttling -----------------------------------------------------------------------------


@override_settings(CARE_API_THROTTLE_RATE="3/min")
def test_throttling_is_per_token(api_world, ars_user, hospital_user):
    first = token_client(ars_user)
    second = token_client(ars_user)  # another token of the same user: its own count
    for _ in range(3):
        assert first.get(ENTITIES).status_code == 200
    throttled = first.get(ENTITIES)
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert second.get(ENTITIES).status_code == 200
    assert token_client(hospital_user).get(APPLICATIONS).status_code == 200


# --- Queries ----------------------------------------------------------------------------------


def test_a_page_costs_the_same_queries_whatever_its_size(api_world, ministry_user):
    client = token_client(ministry_user)
    client.get(ENTITIES)  # the token's first use writes last_used_at

    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    small = (count(ENTITIES), count(APPLICATIONS))
    department = Department.objects.get(code="69")
    call = api_world.submitted.call
    for _ in range(30):
        entity = LegalEntityFactory(department=department)
        application = ApplicationFactory(call=call, candidate=entity, status="regional_review")
        Coverage.objects.create(call=call, application=application, legal_entity=entity)
    large = (count(ENTITIES), count(APPLICATIONS))
    assert large == small
    assert max(small) <= 10


@pytest.mark.parametrize("persona", ["hospital_user", "ars_user"])
def test_scoped_pages_cost_no_more(api_world, persona, request):
    user = request.getfixturevalue(persona)
    client = token_client(user)
    client.get(ENTITIES)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(ENTITIES).status_code == 200
        assert client.get(APPLICATIONS).status_code == 200
    assert len(queries) <= 20


# --- Schema and documentation ---------------------------------------------------------------


def test_the_schema_and_docs_are_served_without_a_cdn(db):
    client = Client()
    schema = client.get("/api/v1/schema/", {"format": "json"})
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/api/v1/legal-entities/",
        "/api/v1/legal-entities/{id}/",
        "/api/v1/applications/",
        "/api/v1/applications/{id}/",
        "/api/v1/participation/",
    }
    assert document["components"]["securitySchemes"]["personalToken"]["scheme"] == "bearer"
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "https://" not in html and "http://" not in html.replace("http://testserver", "")
    # The page's own script is a file too (the CSP allows no inline script).
    assert "<script>" not in html
    script = client.get("/api/v1/docs/", {"script": ""})
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_the_schema_speaks_english_too(db):
    client = Client()
    client.cookies["django_language"] = "en"
    document = client.get("/api/v1/schema/", {"format": "json"}).json()
    assert document["info"]["title"] == "CaRE portal API"


def test_users_without_membership_see_nothing(api_world):
    user = UserFactory(email="sans-rattachement@example.test")
    client = token_client(user)
    assert finess_of(client.get(ENTITIES)) == set()
    assert references(client.get(APPLICATIONS)) == set()
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=api_world.clinic)
    client = token_client(user)
    assert finess_of(client.get(ENTITIES)) == {api_world.clinic.finess}
