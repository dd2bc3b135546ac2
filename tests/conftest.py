"""Persona fixtures: two hospitals in two regions, their ARS agents, the ministry."""

import pytest
from django.conf import settings
from django.db import connection

from establishments.models import Department, Region
from establishments.reference import load_territory

from .factories import (
    LegalEntityFactory,
    UserFactory,
    establishment_user,
    make_finess,
    ministry_agent,
    regional_agent,
)


def pytest_report_header(config: pytest.Config) -> list[str]:
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    redis = settings.REDIS_URL or "none (eager tasks)"
    return [f"care-portal: database={engine}, redis={redis}"]


@pytest.fixture(autouse=True)
def territory(request):
    """Regions and départements come from a data migration, which the flush after a
    transactional test removes: put them back for every test that uses the database."""
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    if "transactional_db" in names or (marker and marker.kwargs.get("transaction")):
        request.getfixturevalue("transactional_db")
    elif "db" in names or marker:
        request.getfixturevalue("db")
    else:
        return
    load_territory(Region, Department)


@pytest.fixture
def hospital(db):
    return LegalEntityFactory(
        name="Centre hospitalier de Villefranche", department=Department.objects.get(code="69")
    )


@pytest.fixture
def other_hospital(db):
    return LegalEntityFactory(
        name="Centre hospitalier de Quimper",
        department=Department.objects.get(code="29"),
        finess=make_finess("29", 123),
    )


@pytest.fixture
def hospital_user(hospital):
    return establishment_user(hospital, email="alice@hopital-a.test", full_name="Alice Martin")


@pytest.fixture
def other_hospital_user(other_hospital):
    return establishment_user(other_hospital, email="bob@hopital-b.test", full_name="Bob Le Gall")


@pytest.fixture
def ars_user(db):
    return regional_agent("84", email="charlie@ars-ara.test", full_name="Charlie Dupont")


@pytest.fixture
def other_region_ars_user(db):
    return regional_agent("53", email="dora@ars-bretagne.test", full_name="Dora Kerouac")


@pytest.fixture
def ministry_user(db):
    return ministry_agent(email="eve@sante.gouv.test", full_name="Ève Bernard")


@pytest.fixture
def user_without_membership(db):
    """A user of the portal who acts for nobody."""
    return UserFactory(email="nobody@example.test")


@pytest.fixture
def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Each test stores its uploaded files in its own private folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def celery_broker(settings):
    """Tasks go to Redis for a real worker (started by the test), not run in process."""
    from care_portal.celery import app

    if not settings.REDIS_URL:
        if settings.CARE_REQUIRE_SERVICES:
            pytest.fail("REDIS_URL is required for worker tests")
        pytest.skip("needs REDIS_URL and PostgreSQL: run through .ci/run")
    app.conf.task_always_eager = False
    app.control.purge()  # nothing left over from another run reaches this test's worker
    yield app
    app.conf.task_always_eager = True
