"""The participation endpoint (/api/v1/participation/): the dashboards' figures
(monitoring.selectors) for a place and a call, scoped as the dashboards (an ARS token
never sees another region's figures), refused to establishment tokens, every wrong
parameter named in a 400, rates null on a zero denominator, a constant number of
queries. The world is the monitoring tests' one, whose figures are worked out by hand
in tests/monitoring/fixtures.py."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent
from applications.models import Coverage
from establishments.models import Department, LegalEntity, StatusGroup
from monitoring import selectors
from monitoring.selectors import BY_GROUP, DEPARTEMENT, NATION, REGION

from ..factories import ApplicationFactory, LegalEntityFactory, UserFactory
from ..monitoring.fixtures import build_monitoring_world
from .conftest import token_client

URL = "/api/v1/participation/"
CALL = "D2-MON"

# The figures as the API writes them, from the selector's Figures.
COUNTS = (
    "eligible",
    "volet1_audited",
    "volet1_objectives_met",
    "applied",
    "scored",
    "found_eligible",
    "approved",
    "paid",
    "applications",
    "applications_scored",
    "applications_eligible",
    "applications_approved",
    "applications_decided",
    "payments",
    "decisions",
)
AMOUNTS = ("amount_requested", "amount_granted", "amount_paid")
RATES = (*selectors.RATES, "paid_share", "median_days_to_decision")


@pytest.fixture
def world(db):
    return build_monitoring_world()


def get(client: Client, **params: str):
    response = client.get(URL, {"call": CALL, **params})
    assert response.status_code == 200, response.content
    return response.json()


def assert_same_figures(data: dict, figures: selectors.Figures) -> None:
    for name in COUNTS:
        assert data[name] == getattr(figures, name), name
    for name in AMOUNTS:
        assert Decimal(data[name]) == getattr(figures, name), name
    for name in RATES:
        expected = getattr(figures, name)
        assert data[name] == (pytest.approx(expected) if expected is not None else None), name
    assert data["applications_by_status"] == {
        status: figures.status_count(status) for status in data["applications_by_status"]
    }
    assert sum(data["applications_by_status"].values()) == figures.applications


# --- The figures --------------------------------------------------------------------------


def test_national_figures_are_those_worked_out_by_hand(world, ministry_user):
    data = get(token_client(ministry_user), scope="nation")
    assert (data["scope"], data["code"], data["name"], data["call"]) == (
        "nation",
        None,
        "France",
        CALL,
    )
    f = data["figures"]
    assert (f["eligible"], f["applied"], f["volet1_audited"], f["volet1_objectives_met"]) == (
        8,
        5,
        3,
        1,
    )
    assert (f["found_eligible"], f["approved"], f["paid"]) == (4, 2, 2)
    assert f["application_rate"] == pytest.approx(5 / 8)
    assert f["eligibility_rate"] == pytest.approx(4 / 5)
    assert f["approval_rate"] == pytest.approx(1 / 2)
    assert (f["amount_requested"], f["amount_granted"], f["amount_paid"]) == (
        "320000.00",
        "80000.00",
        "80000.00",
    )
    assert f["applications"] == 6 and f["applications_by_status"]["paid"] == 1
    assert f["applications_by_status"]["draft"] == 0  # every status, zeros included
    assert f["median_days_to_decision"] == pytest.approx(15)
    assert data["envelope"] == "1000000.00"
    assert data["granted_share_of_envelope"] == pytest.approx(0.08)
    assert data["requested_share_of_envelope"] == pytest.approx(0.32)


@pytest.mark.parametrize(
    ("scope", "code"),
    [(NATION, None), (REGION, "84"), (REGION, "53"), (DEPARTEMENT, "38"), (REGION, "94")],
)
def test_figures_equal_the_selectors(world, ministry_user, scope, code):
    params = {"scope": scope, **({"code": code} if code else {})}
    data = get(token_client(ministry_user), **params)
    expected = selectors.participation(scope=scope, code=code, call=world.call)
    assert_same_figures(data["figures"], expected)
    assert data["name"] == expected.name and data["code"] == code
    for name in ("requested_share_of_envelope", "granted_share_of_envelope"):
        assert data[name] == pytest.approx(getattr(expected, name))
    groups = selectors.breakdown(scope=scope, code=code, call=world.call, by=BY_GROUP)
    assert [row["statistics_group"] for row in data["by_statistics_group"]] == [
        g.key for g in groups
    ]
    for row, expected_row in zip(data["by_statistics_group"], groups, strict=True):
        assert_same_figures(row["figures"], expected_row.figures)
    if scope == DEPARTEMENT:
        assert data["by_department"] == []
        return
    departments = selectors.breakdown(scope=scope, code=code, call=world.call, by=DEPARTEMENT)
    assert [row["department"] for row in data["by_department"]] == [d.key for d in departments]
    for row, expected_row in zip(data["by_department"], departments, strict=True):
        assert_same_figures(row["figures"], expected_row.figures)


def test_the_breakdowns_add_up(world, ministry_user):
    data = get(token_client(ministry_user), scope="region", code="84")
    by_department = {row["department"]: row["figures"] for row in data["by_department"]}
    assert set(by_department) == {
        d.code for d in Department.objects.filter(region__code="84")
    }  # every département of the region, those without figures included
    assert (by_department["69"]["eligible"], by_department["38"]["eligible"]) == (4, 2)
    assert by_department["01"]["eligible"] == 0
    assert by_department["01"]["application_rate"] is None
    for name in ("eligible", "applied", "applications"):
        assert sum(f[name] for f in by_department.values()) == data["figures"][name]
        assert (
            sum(r["figures"][name] for r in data["by_statistics_group"]) == (data["figures"][name])
        )


def test_zero_denominators_give_null_rates(world, ministry_user):
    client = token_client(ministry_user)
    isere = get(client, scope="departement", code="38")["figures"]
    assert (isere["eligible"], isere["applied"], isere["applications"]) == (2, 0, 1)
    assert isere["application_rate"] == 0.0  # a zero is a figure
    assert isere["eligibility_rate"] is None and isere["approval_rate"] is None
    assert isere["median_days_to_decision"] is None and isere["paid_share"] is None
    corse = get(client, scope="region", code="94")
    assert corse["figures"]["eligible"] == 0
    for rate in (*selectors.RATES, "paid_share", "median_days_to_decision"):
        assert corse["figures"][rate] is None, rate
    # A call with no envelope: no share of it.
    world.call.envelope = Decimal("0")
    world.call.save(update_fields=["envelope"])
    nation = get(client, scope="nation")
    assert nation["envelope"] == "0.00"
    assert nation["granted_share_of_envelope"] is None
    assert nation["paid_share_of_envelope"] is None


# --- Scoping --------------------------------------------------------------------------------


def test_an_ars_token_sees_its_region_and_its_departements_only(world, ars_user):
    client = token_client(ars_user)  # region 84
    assert get(client, scope="region", code="84")["figures"]["eligible"] == 6
    assert get(client, scope="departement", code="38")["figures"]["eligible"] == 2
    for params in (
        {"scope": "region", "code": "53"},
        {"scope": "departement", "code": "29"},
        {"scope": "nation"},
    ):
        response = client.get(URL, {"call": CALL, **params})
        assert response.status_code == 404, params
        assert set(response.json()) == {"detail"}  # no figure at all


def test_the_other_regions_ars_never_sees_the_first(world, other_region_ars_user):
    client = token_client(other_region_ars_user)  # region 53
    assert get(client, scope="region", code="53")["figures"]["eligible"] == 2
    assert client.get(URL, {"call": CALL, "scope": "region", "code": "84"}).status_code == 404
    assert client.get(URL, {"call": CALL, "scope": "departement", "code": "69"}).status_code == 404


def test_establishment_tokens_are_refused(world, hospital_user):
    response = token_client(hospital_user).get(URL, {"call": CALL, "scope": "region", "code": "84"})
    assert response.status_code == 403
    assert "ARS" in response.json()["detail"]
    nobody = token_client(UserFactory(email="sans-rattachement@example.test"))
    assert nobody.get(URL, {"call": CALL, "scope": "nation"}).status_code == 403


def test_no_token_no_figures(world, ministry_user):
    client = Client()
    assert client.get(URL, {"call": CALL, "scope": "nation"}).status_code == 401
    client.force_login(ministry_user)  # a portal session is no API credential
    assert client.get(URL, {"call": CALL, "scope": "nation"}).status_code == 401


def test_each_read_is_audited(world, ars_user):
    token_client(ars_user).get(URL, {"call": CALL, "scope": "region", "code": "84"})
    event = AuditEvent.objects.filter(action="api_read").latest("id")
    assert event.actor == ars_user
    assert event.details["path"] == URL and "scope=region" in event.details["query"]


# --- Parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"call": CALL}, "scope"),
        ({"call": CALL, "scope": "monde"}, "scope"),
        ({"scope": "nation"}, "call"),
        ({"call": "INCONNU", "scope": "nation"}, "call"),
        ({"call": CALL, "scope": "nation", "code": "84"}, "code"),
        ({"call": CALL, "scope": "region"}, "code"),
        ({"call": CALL, "scope": "region", "code": "99"}, "code"),
        ({"call": CALL, "scope": "region", "code": "69"}, "code"),  # a département's code
        ({"call": CALL, "scope": "departement", "code": "2C"}, "code"),
        ({"call": CALL, "scope": "departement", "code": ""}, "code"),
        ({"call": CALL, "scope": "departement", "code": "6900"}, "code"),
        ({"call": CALL, "scope": "nation", "regoin": "84"}, "regoin"),
        ({"call": CALL, "scope": "nation", "page": "2"}, "page"),
    ],
)
def test_a_wrong_parameter_gets_a_400_naming_it(world, ministry_user, params, parameter):
    response = token_client(ministry_user).get(URL, params)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [parameter]
    message = response.json()[parameter][0]
    assert "%(" not in message and "{" not in message


def test_an_ars_token_gets_the_400_before_the_404(world, ars_user):
    response = token_client(ars_user).get(URL, {"call": CALL, "scope": "region", "code": "99"})
    assert response.status_code == 400 and list(response.json()) == ["code"]


# --- Queries --------------------------------------------------------------------------------


def test_the_figures_cost_the_same_queries_whatever_the_data(world, ministry_user):
    client = token_client(ministry_user)
    client.get(URL, {"call": CALL, "scope": "nation"})  # the token's first use

    def count(**params: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            get(client, **params)
        return len(queries)

    small = (count(scope="nation"), count(scope="region", code="84"))
    department = Department.objects.get(code="69")
    for n in range(40):
        entity = LegalEntityFactory(department=department, status_group=StatusGroup.PUBLIC)
        if n % 2:
            application = ApplicationFactory(
                call=world.call, candidate=entity, status="regional_review"
            )
            Coverage.objects.create(call=world.call, application=application, legal_entity=entity)
    assert LegalEntity.objects.count() > 50
    assert (count(scope="nation"), count(scope="region", code="84")) == small
    # Token, audit, territory, call, the three cells and the medians.
    assert max(small) <= 10


# --- "Applied": one definition for the API and the dashboards -------------------------------

ENTITIES = "/api/v1/legal-entities/"


def entity_count(client: Client, **params: str) -> int:
    response = client.get(ENTITIES, {"call": CALL, "page_size": 200, **params})
    assert response.status_code == 200, response.content
    return response.json()["count"]


@pytest.mark.parametrize(
    ("persona", "scope", "code", "filters"),
    [
        ("ministry_user", NATION, None, {}),
        ("ministry_user", REGION, "84", {"region": "84"}),
        ("ministry_user", REGION, "53", {"region": "53"}),
        ("ministry_user", DEPARTEMENT, "69", {"department": "69"}),
        ("ministry_user", DEPARTEMENT, "38", {"department": "38"}),
        ("ars_user", REGION, "84", {}),
        ("ars_user", DEPARTEMENT, "69", {"department": "69"}),
    ],
)
def test_the_apis_applied_count_is_the_dashboards(world, request, persona, scope, code, filters):
    # An application counts for the entities it covers, as on the dashboards: E3 files
    # one without covering itself (a candidate outside its own coverage), which the
    # API's former definition (candidate or covered) counted and the dashboards never.
    application = ApplicationFactory(
        call=world.call, candidate=world.entities["E3"], status="regional_review"
    )
    assert not Coverage.objects.filter(application=application).exists()
    client = token_client(request.getfixturevalue(persona))
    figures = selectors.participation(scope=scope, code=code, call=world.call)
    api = get(client, scope=scope, **({"code": code} if code else {}))["figures"]
    applied = entity_count(client, applied="true", eligible="true", **filters)
    assert applied == figures.applied == api["applied"]
    assert entity_count(client, eligible="true", **filters) == figures.eligible
    assert entity_count(client, applied="false", eligible="true", **filters) == (
        figures.eligible - figures.applied
    )


def test_applied_without_eligible_counts_every_covered_entity(world, ministry_user):
    client = token_client(ministry_user)
    rows = client.get(ENTITIES, {"call": CALL, "applied": "true", "page_size": 200}).json()
    names = {row["name"] for row in rows["results"]}
    # The dashboards' five, and E5: covered by A5 (regional review) although its
    # statistics group is not admitted by the call (not eligible, so not in the figure).
    assert names == {
        "E1 CH support",
        "E2 CH membre",
        "E4 Clinique EBNL",
        "E10 EBNL Finistère",
        "E11 CH Finistère",
        "E5 Clinique privée",
    }
    assert entity_count(client, applied="true", eligible="false") == 1  # E5


def test_eligible_needs_a_call(world, ministry_user):
    response = token_client(ministry_user).get(ENTITIES, {"eligible": "true"})
    assert response.status_code == 400 and list(response.json()) == ["call"]
