"""Every statistic of monitoring/selectors.py against the world of fixtures.py, whose
figures are worked out by hand in the comments here."""

from datetime import date
from decimal import Decimal

import pytest
from django.http import Http404

from establishments.models import Department, Region
from monitoring import selectors
from monitoring.selectors import DEPARTEMENT, NATION, REGION

from ..factories import LegalEntityFactory, make_finess
from .fixtures import build_monitoring_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_monitoring_world()


def test_national_figures(world):
    p = selectors.participation(scope=NATION, code=None, call=world.call)
    # E1, E2, E3, E4, E8, E9, E10, E11 (E5: group not admitted, E6 inactive, E7 not a
    # health category).
    assert p.eligible == 8
    assert p.volet1_audited == 3  # E1 (both), E2 (AD), E4 (exposure)
    assert p.volet1_objectives_met == 1  # E1
    # E1 and E2 (A1), E4 (A2, ineligible but filed), E10 (A6), E11 (A7); not E8 (a
    # draft) nor E9 (withdrawn).
    assert p.applied == 5
    assert p.scored == 5
    assert p.found_eligible == 4  # E1, E2, E10, E11
    assert p.approved == 2 and p.paid == 2  # E1, E2
    assert p.applications == 6  # every application but the draft A3
    assert dict(p.by_status) == {
        "paid": 1,
        "ineligible": 1,
        "withdrawn": 1,
        "regional_review": 1,
        "national_review": 1,
        "rejected": 1,
    }
    assert p.applications_scored == 5  # A1, A2, A5, A6, A7
    assert p.applications_eligible == 4
    # Filed and not withdrawn: A1 + A2 + A5 + A6 + A7.
    assert p.amount_requested == Decimal("320000")
    assert p.amount_granted == Decimal("80000")
    assert p.amount_paid == Decimal("80000") and p.payments == 2
    assert p.decisions == 2
    assert p.median_days_to_decision == pytest.approx(15)  # 10 and 20 days
    assert p.application_rate == pytest.approx(5 / 8)
    assert p.volet1_rate == pytest.approx(3 / 8)
    assert p.volet1_objectives_rate == pytest.approx(1 / 8)
    assert p.eligibility_rate == pytest.approx(4 / 5)
    assert p.approval_rate == pytest.approx(1 / 2)  # A1 approved, A7 rejected
    assert p.envelope == Decimal("1000000.00")
    assert p.granted_share_of_envelope == pytest.approx(0.08)
    assert p.paid_share_of_envelope == pytest.approx(0.08)
    assert p.requested_share_of_envelope == pytest.approx(0.32)
    assert p.paid_share == pytest.approx(1.0)
    assert (p.scope, p.code, p.call_code) == (NATION, None, "D2-MON")


def test_regional_figures(world):
    p = selectors.participation(scope=REGION, code="84", call=world.call)
    assert p.name == "Auvergne-Rhône-Alpes"
    assert p.eligible == 6  # E1, E2, E3, E4, E8, E9
    assert (p.volet1_audited, p.volet1_objectives_met) == (3, 1)
    assert (p.applied, p.scored, p.found_eligible, p.approved, p.paid) == (3, 3, 2, 2, 2)
    assert p.applications == 4  # A1, A2, A4, A5 (A5's candidate is in 69)
    assert (p.applications_scored, p.applications_eligible) == (3, 2)
    assert p.amount_requested == Decimal("190000")  # A1 + A2 + A5
    assert p.amount_granted == p.amount_paid == Decimal("80000")
    assert (p.decisions, p.median_days_to_decision) == (1, pytest.approx(10))
    assert p.approval_rate == 1.0


def test_zero_denominators_give_no_rate(world):
    isere = selectors.participation(scope=DEPARTEMENT, code="38", call=world.call)
    assert (isere.eligible, isere.applied, isere.applications) == (2, 0, 1)
    assert isere.application_rate == 0.0
    assert isere.volet1_rate == 0.0
    # A4 was withdrawn before any score and nothing was decided.
    assert isere.eligibility_rate is None
    assert isere.approval_rate is None
    assert isere.median_days_to_decision is None and isere.decisions == 0
    assert isere.amount_requested == Decimal("0")
    assert isere.paid_share is None
    corse = selectors.participation(scope=REGION, code="94", call=world.call)
    assert corse.eligible == 0 and corse.applications == 0
    for rate in selectors.RATES:
        assert getattr(corse, rate) is None, rate


def test_breakdown_by_statistics_group(world):
    rows = {
        r.key: r.figures
        for r in selectors.breakdown(scope=NATION, code=None, call=world.call, by="group")
    }
    assert list(rows) == ["ght", "public_outside_ght", "private_non_profit", "private_for_profit"]
    assert (rows["ght"].eligible, rows["ght"].applied, rows["ght"].applications) == (2, 2, 1)
    assert rows["ght"].median_days_to_decision == pytest.approx(10)
    outside = rows["public_outside_ght"]  # E3, E9, E11; A4, A7
    assert (outside.eligible, outside.applied, outside.applications) == (3, 1, 2)
    assert outside.median_days_to_decision == pytest.approx(20)
    ebnl = rows["private_non_profit"]  # E4, E8, E10; A2, A6
    assert (ebnl.eligible, ebnl.applied, ebnl.applications) == (3, 2, 2)
    assert ebnl.median_days_to_decision is None
    # Not admitted by the call: no eligible entity, but its application is counted.
    private = rows["private_for_profit"]
    assert (private.eligible, private.applications, private.amount_requested) == (
        0,
        1,
        Decimal("40000"),
    )
    assert private.application_rate is None


def test_breakdowns_add_up_to_the_place(world):
    total = selectors.participation(scope=NATION, code=None, call=world.call)
    for by, scope, code in (("group", NATION, None), ("region", NATION, None)):
        rows = selectors.breakdown(scope=scope, code=code, call=world.call, by=by)
        for name in ("eligible", "applied", "applications", "amount_requested", "amount_paid"):
            assert sum(getattr(r.figures, name) for r in rows) == getattr(total, name), name


def test_breakdown_by_region_lists_every_region(world):
    rows = selectors.breakdown(scope=NATION, code=None, call=world.call, by="region")
    assert len(rows) == 18
    by_code = {r.key: r for r in rows}
    assert by_code["84"].figures.eligible == 6
    assert by_code["53"].label == "Bretagne"
    assert by_code["53"].figures.applied == 2  # E10, E11
    assert by_code["53"].figures.median_days_to_decision == pytest.approx(20)
    assert by_code["11"].figures.eligible == 0


def test_breakdown_by_departement_of_a_region(world):
    rows = selectors.breakdown(scope=REGION, code="84", call=world.call, by="departement")
    by_code = {r.key: r.figures for r in rows}
    assert set(by_code) == {
        d.code for d in Department.objects.filter(region__code="84")
    }  # the twelve départements, those without any entity too
    assert (by_code["69"].eligible, by_code["69"].applied) == (4, 3)
    assert (by_code["38"].eligible, by_code["38"].applied) == (2, 0)
    assert by_code["01"].eligible == 0
    with pytest.raises(ValueError):
        selectors.breakdown(scope=REGION, code="84", call=world.call, by="region")
    with pytest.raises(ValueError):
        selectors.breakdown(scope=DEPARTEMENT, code="69", call=world.call, by="departement")


def test_national_breakdown_by_departement(world):
    rows = selectors.breakdown(scope=NATION, code=None, call=world.call, by="departement")
    assert len(rows) == 101
    by_code = {r.key: r.figures for r in rows}
    assert (by_code["69"].eligible, by_code["38"].eligible, by_code["29"].eligible) == (4, 2, 2)
    assert by_code["69"].median_days_to_decision == pytest.approx(10)  # A1
    assert by_code["29"].median_days_to_decision == pytest.approx(20)  # A7
    assert sum(f.eligible for f in by_code.values()) == 8


def test_weekly_series(world):
    weeks = selectors.series(scope=NATION, code=None, call=world.call)
    table = {w.start: (w.submissions, w.decisions, w.payments, w.amount_paid) for w in weeks}
    assert table == {
        # A1, A2, A7 filed for the first time.
        date(2025, 9, 1): (3, 0, 0, 0),
        # A4 filed; A1 approved.
        date(2025, 9, 8): (1, 1, 0, 0),
        # A5, A6 filed; the advance of A1.
        date(2025, 9, 15): (2, 0, 1, Decimal("30000")),
        # A7 filed again (not counted: not a first submission) and rejected.
        date(2025, 9, 22): (0, 1, 0, 0),
        # The balance of A1.
        date(2025, 9, 29): (0, 0, 1, Decimal("50000")),
    }
    regional = selectors.series(scope=REGION, code="53", call=world.call)
    assert [(w.start, w.submissions, w.decisions) for w in regional] == [
        (date(2025, 9, 1), 1, 0),  # A7
        (date(2025, 9, 8), 0, 0),  # a week without any event, between two with one
        (date(2025, 9, 15), 1, 0),  # A6
        (date(2025, 9, 22), 0, 1),
    ]
    assert selectors.series(scope=DEPARTEMENT, code="01", call=world.call) == []


def test_funnel(world):
    steps = selectors.funnel(scope=NATION, code=None, call=world.call)
    assert [(s.key, s.count) for s in steps] == [
        ("eligible", 8),
        ("applied", 5),
        ("found_eligible", 4),
        ("approved", 2),
        ("paid", 2),
    ]
    assert steps[0].share == 1.0 and steps[1].share == pytest.approx(5 / 8)
    empty = selectors.funnel(scope=REGION, code="94", call=world.call)
    assert [s.share for s in empty] == [None] * 5


def test_medians_without_sql_give_the_same_figures(world, is_postgresql):
    where = selectors.territory()
    for scope, code in ((NATION, None), (REGION, "84"), (REGION, "53")):
        place = selectors.resolve_place(scope, code, where)
        for level in (None, DEPARTEMENT):
            found = selectors.medians(world.call, place, area_level=level, use_sql=False)
            if is_postgresql:
                assert found == selectors.medians(world.call, place, area_level=level, use_sql=True)
    national = selectors.medians(world.call, selectors.resolve_place(NATION, None, where))
    assert national.total == (2, pytest.approx(15))
    assert national.by_area == {"84": (1, pytest.approx(10)), "53": (1, pytest.approx(20))}


def test_participation_runs_a_constant_number_of_queries(world, django_assert_num_queries):
    # Territory, entities, applications, payments, medians.
    with django_assert_num_queries(5):
        selectors.participation(scope=NATION, code=None, call=world.call)
    for n in range(40):
        LegalEntityFactory(
            department=Department.objects.get(code="75"), finess=make_finess("75", 9000 + n)
        )
    with django_assert_num_queries(5):
        p = selectors.participation(scope=NATION, code=None, call=world.call)
    assert p.eligible == 48


def test_dashboard_runs_six_queries(world, django_assert_num_queries):
    where = selectors.territory()
    place = selectors.resolve_place(REGION, "84", where)
    with django_assert_num_queries(6):
        board = selectors.dashboard(place=place, call=world.call, where=where)
    assert board.participation.eligible == 6
    assert [s.count for s in board.funnel] == [6, 3, 2, 2, 2]
    assert len(board.by_area) == 12 and len(board.by_group) == 4


def test_unknown_places_are_not_found(world):
    for scope, code in ((REGION, "99"), (DEPARTEMENT, "2C"), ("commune", "69")):
        with pytest.raises(Http404):
            selectors.participation(scope=scope, code=code, call=world.call)


# --- Who sees what -----------------------------------------------------------------------------


def test_visibility_of_each_persona(db, ministry_user, ars_user, hospital_user, django_user_model):
    where = selectors.territory()
    nation = selectors.resolve_place(NATION, None, where)
    ara = selectors.resolve_place(REGION, "84", where)
    rhone = selectors.resolve_place(DEPARTEMENT, "69", where)
    bretagne = selectors.resolve_place(REGION, "53", where)
    finistere = selectors.resolve_place(DEPARTEMENT, "29", where)
    superuser = django_user_model.objects.create_superuser("root@example.test", "x" * 16)
    for user in (ministry_user, superuser):
        seen = selectors.visibility(user)
        assert all(seen.allows(p, where) for p in (nation, ara, rhone, bretagne, finistere))
        assert len(seen.regions(where)) == 18
    ars = selectors.visibility(ars_user)
    assert [ars.allows(p, where) for p in (nation, ara, rhone, bretagne, finistere)] == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert [r.code for r in ars.regions(where)] == ["84"]
    establishment = selectors.visibility(hospital_user)
    assert not establishment.any
    assert not any(establishment.allows(p, where) for p in (nation, ara, rhone))


def test_place_for_raises_404_outside_the_scope(db, ars_user, hospital_user):
    assert selectors.place_for(ars_user, scope=REGION, code="84").name == "Auvergne-Rhône-Alpes"
    assert selectors.place_for(ars_user, scope=DEPARTEMENT, code="38").region_code == "84"
    for user, scope, code in (
        (ars_user, NATION, None),
        (ars_user, REGION, "53"),
        (ars_user, DEPARTEMENT, "29"),
        (ars_user, REGION, "zz"),
        (hospital_user, REGION, "84"),
    ):
        with pytest.raises(Http404):
            selectors.place_for(user, scope=scope, code=code)


def test_an_agent_of_two_regions_sees_both(db, ars_user):
    from accounts.models import Membership

    Membership.objects.create(
        user=ars_user, role=Membership.Role.REGIONAL, region=Region.objects.get(code="53")
    )
    ars_user.__dict__.pop("scope", None)
    where = selectors.territory()
    assert [r.code for r in selectors.visibility(ars_user).regions(where)] == ["84", "53"]


def test_figures_sum_equals_adding_them_one_by_one(world):
    """`Figures.sum` (one pass, the dashboard's totals and roll-ups) gives what `+` gives."""
    from functools import reduce

    cells = list(selectors.cube(world.call, selectors.resolve_place(NATION, None)).cells.values())
    assert len(cells) > 2
    by_addition = reduce(lambda a, b: a + b, cells, selectors.Figures())
    assert selectors.Figures.sum(cells) == by_addition
    assert by_addition.amount_requested > 0 and by_addition.by_status
    assert selectors.Figures.sum([]) == selectors.Figures()


def test_eligible_entities_are_those_of_the_call_s_groups(world):
    """The groups are filtered on plain columns (`in_statistics_groups`): the same rows
    as the statistics group of each entity, for every set of groups; and the
    dashboard's figures follow a change of the call's groups."""
    from itertools import combinations

    from applications.eligibility import call_parameters
    from establishments.models import LegalEntity, StatisticsGroup

    call = world.call
    candidates = list(
        LegalEntity.objects.filter(
            active=True, finess_category__in=call_parameters(call)["health_categories"]
        )
    )
    groups = [g.value for g in StatisticsGroup]
    assert {e.statistics_group.value for e in candidates} == set(groups)  # every group seen
    place = selectors.resolve_place(NATION, None)
    for size in range(len(groups) + 1):
        for chosen in combinations(groups, size):
            call.eligible_groups = list(chosen)
            rows = selectors.eligible_entities(call)
            expected = {e.pk for e in candidates if e.statistics_group.value in chosen}
            assert set(rows.values_list("pk", flat=True)) == expected
            assert all(g in chosen for g in rows.values_list("stat_group", flat=True))
            eligible = selectors.cube(call, place).total().eligible
            assert eligible == len(expected)
