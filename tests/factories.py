"""Factories of the test suite: valid identifiers, plausible names."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory
from stdnum import luhn

from accounts.models import Membership, User
from establishments.identifiers import finess_with_check_digit
from establishments.models import GHT, Department, LegalEntity, Region, Site, StatusGroup
from establishments.reference import finess_prefix_for_department


def _department(code: str = "69") -> Department:
    return Department.objects.get(code=code)


def make_finess(department_code: str, n: int) -> str:
    """A valid FINESS of a département, distinct for each n."""
    prefix = finess_prefix_for_department(department_code)
    return finess_with_check_digit(f"{prefix}{n:06d}")


def make_siren(n: int) -> str:
    base = f"{n:08d}"
    return base + luhn.calc_check_digit(base)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name", locale="fr_FR")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "correct-horse-battery")
        if create:
            obj.save(update_fields=["password"])


class GHTFactory(DjangoModelFactory):
    class Meta:
        model = GHT

    code = factory.Sequence(lambda n: f"GHT-T{n:03d}")
    name = factory.Sequence(lambda n: f"GHT de test {n}")
    region = factory.LazyFunction(lambda: Region.objects.get(code="84"))


class LegalEntityFactory(DjangoModelFactory):
    class Meta:
        model = LegalEntity

    department = factory.LazyFunction(_department)
    finess = factory.Sequence(lambda n: make_finess("69", 100000 + n))
    siren = factory.Sequence(lambda n: make_siren(26000000 + n))
    name = factory.Sequence(lambda n: f"Centre hospitalier de test {n}")
    status_group = StatusGroup.PUBLIC
    finess_category = "355"
    staff_count = 850
    active = True

    class Params:
        private = factory.Trait(
            status_group=StatusGroup.PRIVATE_FOR_PROFIT,
            finess_category="365",
            name=factory.Sequence(lambda n: f"Clinique de test {n}"),
        )


class SiteFactory(DjangoModelFactory):
    class Meta:
        model = Site

    legal_entity = factory.SubFactory(LegalEntityFactory)
    department = factory.SelfAttribute("legal_entity.department")
    finess = factory.Sequence(lambda n: make_finess("69", 500000 + n))
    name = factory.Sequence(lambda n: f"Site de test {n}")
    category = "355"
    beds = 120


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Membership.Role.ESTABLISHMENT


def establishment_user(legal_entity: LegalEntity, **user_fields) -> User:
    """A user who acts for one legal entity."""
    user = UserFactory(**user_fields)
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=legal_entity)
    return user


def regional_agent(region_code: str, **user_fields) -> User:
    """An agent of the ARS of one region."""
    user = UserFactory(**user_fields)
    MembershipFactory(
        user=user, role=Membership.Role.REGIONAL, region=Region.objects.get(code=region_code)
    )
    return user


def ministry_agent(**user_fields) -> User:
    """An agent of the ministry, staff (the admin is theirs)."""
    user = UserFactory(is_staff=True, **user_fields)
    MembershipFactory(user=user, role=Membership.Role.MINISTRY)
    return user


class FundingCallFactory(DjangoModelFactory):
    class Meta:
        model = "applications.FundingCall"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"D2-TEST-{n}")
    domain = "D2"
    title = "Appel à financement de test : continuité et reprise d'activité"
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=50))
    envelope = Decimal("45000000.00")
    eligible_groups = ["ght", "public_outside_ght", "private_non_profit", "private_for_profit"]


class ApplicationFactory(DjangoModelFactory):
    class Meta:
        model = "applications.Application"

    call = factory.SubFactory(FundingCallFactory)
    candidate = factory.SubFactory(LegalEntityFactory)
    reference = factory.Sequence(lambda n: f"D2-TEST-{n:06d}")
    status = "draft"
    # Anything past a draft has been submitted once (a withdrawn draft never was).
    submitted_at = factory.LazyAttribute(
        lambda o: None if o.status == "draft" else timezone.now() - timedelta(days=3)
    )


class RequirementFactory(DjangoModelFactory):
    class Meta:
        model = "applications.Requirement"

    call = factory.SubFactory(FundingCallFactory)
    identifier = factory.Sequence(lambda n: f"D2.P{n}")
    kind = "prerequisite"
    label = factory.Sequence(lambda n: f"Exigence de test {n}")
    evidence = "Plan de continuité signé"
    evidence_stage = "application"
    position = factory.Sequence(lambda n: n)
