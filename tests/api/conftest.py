"""A small world for the API: two regions, a GHT, applications in several states,
Volet 1 statuses; a client carrying a personal token."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.api_tokens import api_token_create
from accounts.models import Membership, User
from applications.models import Application, Coverage, EligibilityResult
from audits.models import Volet1Level, Volet1Status
from establishments.models import Department, LegalEntity, StatusGroup

from ..factories import (
    ApplicationFactory,
    FundingCallFactory,
    GHTFactory,
    LegalEntityFactory,
    MembershipFactory,
    UserFactory,
    make_finess,
)


def token_client(user: User, **kwargs: Any) -> Client:
    """A client whose every request carries a new token of `user`."""
    _row, token = api_token_create(user=user, name="Tests", **kwargs)
    client = Client(headers={"Authorization": f"Bearer {token}"})
    client.token = token  # type: ignore[attr-defined]
    return client


@pytest.fixture(autouse=True)
def fresh_address_throttle():
    """The requests without a token are throttled per address: start each test afresh."""
    cache.delete("throttle_api_127.0.0.1")


@dataclass
class ApiWorld:
    hospital: LegalEntity  # region 84 (Auvergne-Rhône-Alpes), département 69
    other_hospital: LegalEntity  # region 53 (Bretagne), département 29
    clinic: LegalEntity  # region 84, private for profit, never applied
    support: LegalEntity  # region 84, GHT support
    member: LegalEntity  # region 84, GHT member covered by the support's application
    drafter: LegalEntity  # region 84, a draft only
    submitted: Application  # hospital's, scored
    other_submitted: Application  # other_hospital's, approved
    ght_application: Application
    draft: Application
    call_code: str


def _entity(department: str, n: int, **kwargs: Any) -> LegalEntity:
    return LegalEntityFactory(
        department=Department.objects.get(code=department),
        finess=make_finess(department, 700 + n),
        **kwargs,
    )


@pytest.fixture
def api_world(hospital, other_hospital) -> ApiWorld:
    call = FundingCallFactory(code="D2-API")
    clinic = _entity("69", 1, status_group=StatusGroup.PRIVATE_FOR_PROFIT, finess_category="365")
    ght = GHTFactory()
    support = _entity("69", 2, ght=ght, is_ght_support=True)
    member = _entity("38", 3, ght=ght)
    drafter = _entity("01", 4, status_group=StatusGroup.PRIVATE_NON_PROFIT)
    submitted = ApplicationFactory(
        call=call, candidate=hospital, status="regional_review",
        requested_amount=Decimal("200000"),
    )  # fmt: skip
    EligibilityResult.objects.create(
        application=submitted, rules_version="t", eligible=True, score=Decimal("61.25"),
        rules=[], factors=[], computed_at=timezone.now(),
    )  # fmt: skip
    other_submitted = ApplicationFactory(
        call=call, candidate=other_hospital, status="approved",
        requested_amount=Decimal("150000"), granted_amount=Decimal("120000"),
    )  # fmt: skip
    ght_application = ApplicationFactory(
        call=call, candidate=support, ght=ght, status="national_review"
    )
    draft = ApplicationFactory(call=call, candidate=drafter, status="draft")
    for application, entities in (
        (submitted, [hospital]),
        (other_submitted, [other_hospital]),
        (ght_application, [support, member]),
        (draft, [drafter]),
    ):
        for entity in entities:
            Coverage.objects.create(call=call, application=application, legal_entity=entity)
    Volet1Status.objects.create(
        legal_entity=hospital, level=Volet1Level.BOTH, ad_audit_date=date(2025, 1, 10),
        exposure_first_scan_date=date(2025, 2, 1), exposure_second_scan_date=date(2025, 3, 20),
        last_scan_date=date(2025, 3, 20),
    )  # fmt: skip
    Volet1Status.objects.create(legal_entity=clinic, level=Volet1Level.AD_DONE)
    return ApiWorld(
        hospital, other_hospital, clinic, support, member, drafter,
        submitted, other_submitted, ght_application, draft, call.code,
    )  # fmt: skip


@pytest.fixture
def drafter_user(api_world) -> User:
    user = UserFactory(email="gaston@brouillon.test")
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=api_world.drafter)
    return user


@pytest.fixture
def support_user(api_world) -> User:
    user = UserFactory(email="sophie@support-ght.test")
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=api_world.support)
    return user
