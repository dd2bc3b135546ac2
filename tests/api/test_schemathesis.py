"""Schemathesis against the API's own OpenAPI schema, through the Django WSGI
application in process (the test database): generated requests, valid and invalid,
never get a 5xx, and every response conforms to the schema (status code documented,
content type, body)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from accounts.api_tokens import api_token_create
from care_portal.wsgi import application

# The schema as the API serves it (its view reads no database: loaded at collection).
# (`schemathesis.pytest.from_fixture` would load it in a fixture, but its lazy tests do
# not run under pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
PLACES = {"region": "84", "departement": "69"}


@pytest.fixture(autouse=True)
def in_the_test_transaction(api_world, settings):
    """As Django's test client does: the requests must not close the test's connection
    (the test database lives in its transaction)."""
    settings.CARE_API_THROTTLE_RATE = "100000/min"  # the generated requests are many
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def ministry_token(ministry_user) -> str:
    return api_token_create(user=ministry_user, name="schemathesis")[1]


@schema.parametrize()
@hypothesis_settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same requests at every run: CI is not flaky
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_conforms_to_its_schema(case, ministry_token, api_world):
    # Call codes are data, not schema: a schema-valid request names the world's call
    # (an unknown code is refused with a 400 naming `call`, tested in test_api.py).
    positive = case._meta.generation.mode == "positive"
    if case.query and "call" in case.query and positive:
        case.query["call"] = api_world.call_code
    # `eligible` needs a call (the schema's parameters cannot say it; without one: a
    # 400 naming `call`, tested in test_participation.py).
    if case.query and "eligible" in case.query and positive:
        case.query["call"] = api_world.call_code
    # Likewise the place's code must name a place of the scope (a wrong one: a 400
    # naming `code`, tested in test_participation.py).
    if case.path.endswith("/participation/") and case.query and positive:
        scope = case.query.get("scope")
        case.query.pop("code", None)
        if scope in PLACES:
            case.query["code"] = PLACES[scope]
    case.call_and_validate(headers={"Authorization": f"Bearer {ministry_token}"})
