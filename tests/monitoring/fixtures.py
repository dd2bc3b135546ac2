"""A small world whose figures are computed by hand (tests/monitoring/test_selectors.py
states each one), shared by the selector, page and export tests.

Call D2-MON admits GHT, public outside GHT and private non-profit entities (not
private for-profit). Region 84 (Auvergne-Rhône-Alpes): départements 69 and 38;
region 53 (Bretagne): 29.

    entity  dept  group                 eligible  Volet 1          application (covers)
    E1      69    GHT (support of G)    yes       both             A1 paid (E1, E2)
    E2      69    GHT (member of G)     yes       AD done          A1
    E3      69    public outside GHT    yes       no status row    -
    E4      69    private non-profit    yes       exposure met     A2 ineligible
    E5      69    private for-profit    no        -                A5 regional review
    E6      69    public, inactive      no        -                -
    E7      69    public, category 999  no        -                -
    E8      38    private non-profit    yes       none             A3 draft
    E9      38    public outside GHT    yes       none             A4 withdrawn (filed)
    E10     29    private non-profit    yes       none             A6 national review
    E11     29    public outside GHT    yes       -                A7 rejected

Eligibility results: A1, A5, A6, A7 eligible; A2 not; A3, A4 none. Requested: A1
100,000, A2 50,000, A3 20,000, A4 30,000, A5 40,000, A6 60,000, A7 70,000; A1 granted
80,000 and paid 30,000 (15 Sep 2025) + 50,000 (1 Oct 2025). First submissions (UTC,
10:00): A1 2 Sep, A2 3 Sep, A7 4 Sep, A4 10 Sep, A5 and A6 16 Sep 2025; decisions: A1
approved 12 Sep (10 days), A7 returned on 20 Sep, filed again on 22 Sep and
rejected on 24 Sep (20 days from its first submission)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from accounts.models import Membership
from applications.models import Application, Coverage, EligibilityResult, Payment, Transition
from audits.models import Volet1Status
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

PUBLIC, EBNL, PRIVATE = (
    StatusGroup.PUBLIC,
    StatusGroup.PRIVATE_NON_PROFIT,
    StatusGroup.PRIVATE_FOR_PROFIT,
)


def at(day: date, days: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC) + timedelta(days=days)


@dataclass
class MonitoringWorld:
    call: object
    entities: dict[str, LegalEntity]
    applications: dict[str, Application]


def build_monitoring_world(*, finess_offset: int = 0) -> MonitoringWorld:
    call = FundingCallFactory(
        code="D2-MON",
        eligible_groups=["ght", "public_outside_ght", "private_non_profit"],
        envelope=Decimal("1000000.00"),
    )
    dept = {code: Department.objects.get(code=code) for code in ("69", "38", "29")}
    ght = GHTFactory(code="GHT-MON", name="GHT du Rhône de test", region=dept["69"].region)
    n = iter(range(finess_offset + 700, finess_offset + 800))

    def entity(name: str, code: str, status_group: str, **extra: object) -> LegalEntity:
        return LegalEntityFactory(
            name=name,
            department=dept[code],
            finess=make_finess(code, next(n)),
            status_group=status_group,
            **extra,
        )

    e = {
        "E1": entity("E1 CH support", "69", PUBLIC, ght=ght, is_ght_support=True),
        "E2": entity("E2 CH membre", "69", PUBLIC, ght=ght),
        "E3": entity("E3 CH hors GHT", "69", PUBLIC),
        "E4": entity("E4 Clinique EBNL", "69", EBNL),
        "E5": entity("E5 Clinique privée", "69", PRIVATE, finess_category="365"),
        "E6": entity("E6 CH inactif", "69", PUBLIC, active=False),
        "E7": entity("E7 Centre non sanitaire", "69", PUBLIC, finess_category="999"),
        "E8": entity("E8 EBNL Isère", "38", EBNL),
        "E9": entity("E9 CH Isère", "38", PUBLIC),
        "E10": entity("E10 EBNL Finistère", "29", EBNL),
        "E11": entity("E11 CH Finistère", "29", PUBLIC),
    }
    for key, level, ad, scan in (
        ("E1", "both", date(2024, 3, 1), date(2024, 5, 1)),
        ("E2", "ad_done", date(2024, 3, 2), None),
        ("E4", "exposure_met", None, date(2024, 5, 2)),
        ("E8", "none", None, None),
        ("E9", "none", None, None),
        ("E10", "none", None, None),
    ):
        Volet1Status.objects.create(
            legal_entity=e[key], level=level, ad_audit_date=ad, last_scan_date=scan
        )

    a: dict[str, Application] = {}

    def application(
        key: str,
        candidate: str,
        status: str,
        requested: int,
        covers: tuple[str, ...] = (),
        eligible: bool | None = None,
        submitted: date | None = None,
        **extra: object,
    ) -> Application:
        app = ApplicationFactory(
            call=call,
            candidate=e[candidate],
            status=status,
            requested_amount=Decimal(requested),
            reference=f"D2-MON-{key}",
            director_name=f"Direction {candidate}",
            director_email=f"direction.{candidate.lower()}@example.test",
            rssi_email=f"rssi.{candidate.lower()}@example.test",
            **extra,
        )
        for covered in covers or (candidate,):
            Coverage.objects.create(call=call, application=app, legal_entity=e[covered])
        if eligible is not None:
            EligibilityResult.objects.create(
                application=app,
                rules_version="test",
                eligible=eligible,
                score=Decimal("50"),
                computed_at=at(submitted or date(2025, 9, 1)),
            )
        if submitted:
            Transition.objects.create(
                application=app,
                from_status="draft",
                to_status="submitted",
                created_at=at(submitted),
            )
        a[key] = app
        return app

    application(
        "A1", "E1", "paid", 100000, ("E1", "E2"), True, date(2025, 9, 2), granted_amount=80000
    )
    application("A2", "E4", "ineligible", 50000, eligible=False, submitted=date(2025, 9, 3))
    application("A3", "E8", "draft", 20000)
    application("A4", "E9", "withdrawn", 30000, submitted=date(2025, 9, 10))
    application("A5", "E5", "regional_review", 40000, eligible=True, submitted=date(2025, 9, 16))
    application("A6", "E10", "national_review", 60000, eligible=True, submitted=date(2025, 9, 16))
    application("A7", "E11", "rejected", 70000, eligible=True, submitted=date(2025, 9, 4))
    for key, source, target, when in (
        ("A1", "submitted", "regional_review", at(date(2025, 9, 2), 1)),
        ("A1", "regional_review", "national_review", at(date(2025, 9, 2), 5)),
        ("A1", "national_review", "approved", at(date(2025, 9, 12))),
        # A7 is returned by the ministry (not a decision), filed again (not a first
        # submission), then rejected: 20 days from its first submission.
        ("A7", "submitted", "regional_review", at(date(2025, 9, 4), 1)),
        ("A7", "regional_review", "national_review", at(date(2025, 9, 4), 2)),
        ("A7", "national_review", "returned", at(date(2025, 9, 20))),
        ("A7", "returned", "submitted", at(date(2025, 9, 22))),
        ("A7", "submitted", "regional_review", at(date(2025, 9, 22), 1)),
        ("A7", "regional_review", "national_review", at(date(2025, 9, 23))),
        ("A7", "national_review", "rejected", at(date(2025, 9, 24))),
    ):
        Transition.objects.create(
            application=a[key], from_status=source, to_status=target, created_at=when
        )
    agent = UserFactory(email="payeur@sante.gouv.test")
    for amount, day, tranche in (
        (30000, date(2025, 9, 15), "advance"),
        (50000, date(2025, 10, 1), "balance"),
    ):
        Payment.objects.create(
            application=a["A1"],
            tranche=tranche,
            amount=Decimal(amount),
            paid_on=day,
            chorus_reference=f"CHORUS-{amount}",
            recorded_by=agent,
        )
    # Contacts: a portal user of E3 (eligible, never applied).
    MembershipFactory(
        user=UserFactory(email="rssi@e3.test", full_name="Rémi Sécu"),
        role=Membership.Role.ESTABLISHMENT,
        legal_entity=e["E3"],
    )
    return MonitoringWorld(call=call, entities=e, applications=a)
