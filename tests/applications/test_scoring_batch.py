"""Scoring in batches (a call rescored at national scale): the same results and moves
as scoring each application alone, in a number of queries that does not grow with the
batch."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from applications import scoring
from applications.models import (
    Application,
    CeilingBracket,
    Coverage,
    EligibilityResult,
    RescoringBatch,
    Transition,
)
from applications.scoring import application_score, applications_score_batch, rescore_call
from audits.models import DirectoryAudit, ExposureScan
from establishments.models import StatusGroup

from ..factories import (
    FundingCallFactory,
    GHTFactory,
    LegalEntityFactory,
    RequirementFactory,
)
from .test_eligibility import make_application, scored_call, volet1


@pytest.fixture
def call(db):
    return scored_call(code="D2-BATCH", eligible_groups=["ght", "public_outside_ght"])


@pytest.fixture
def lenient_call(db):
    """A second call: Volet 1 only scored, other weights, one bracket."""
    call = FundingCallFactory(
        code="D2-BATCH-2",
        parameters={"volet1_required": False, "weights": {"ad": 10, "size": 50}},
    )
    RequirementFactory(call=call, identifier="D2.P1", kind="prerequisite")
    RequirementFactory(
        call=call, identifier="D2.P4", kind="objective", evidence_stage="declaration"
    )
    CeilingBracket.objects.create(call=call, min_staff=0, ceiling=Decimal("400000"))
    return call


def varied_world(call, lenient_call, tag=""):
    """Applications passing and failing each rule, by name, with the rules they fail."""
    apps = {}
    expected = {}

    def add(name, application, failing):
        apps[name + tag] = application
        expected[name + tag] = failing

    add("eligible", make_application(call), set())
    add("inactive", make_application(call, LegalEntityFactory(active=False)), {"E1"})
    add(
        "clinic",
        make_application(call, LegalEntityFactory(status_group=StatusGroup.PRIVATE_FOR_PROFIT)),
        {"E2"},
    )
    ght = GHTFactory()
    member_alone = LegalEntityFactory(ght=GHTFactory(), staff_count=300)
    add("ght_member_alone", make_application(call, member_alone), {"E3"})
    support = LegalEntityFactory(ght=ght, is_ght_support=True, staff_count=500)
    whole_ght = make_application(call, support, amount="450000")
    for staff in (300, 400):  # three covered entities, 1,200 staff
        member = LegalEntityFactory(ght=ght, staff_count=staff)
        Coverage.objects.create(call=call, application=whole_ght, legal_entity=member)
        volet1(member, score=20 + staff // 100, level=3, critical=2)
    add("ght_whole", whole_ght, set())
    partial_ght = GHTFactory()
    partial = make_application(
        call, LegalEntityFactory(ght=partial_ght, is_ght_support=True, staff_count=200)
    )
    LegalEntityFactory(ght=partial_ght)  # an active member left out
    add("ght_partial", partial, {"E3"})
    late = make_application(call)
    Transition.objects.filter(application=late).update(
        created_at=call.closes_at + timedelta(hours=1)
    )
    add("late", late, {"E4"})
    no_audit = make_application(call)
    DirectoryAudit.objects.filter(legal_entity=no_audit.candidate).delete()
    add("no_audit", no_audit, {"E5"})
    failing_scan = make_application(call)
    ExposureScan.objects.filter(legal_entity=failing_scan.candidate).update(minimum_level_met=False)
    add("failing_scan", failing_scan, {"E5"})
    add("prerequisite_not_met", make_application(call, answers="in_progress"), {"E6"})
    add("no_evidence", make_application(call, evidence=False), {"E6"})
    add("over_ceiling", make_application(call, amount="300000.01"), {"E7"})
    uncovered = make_application(call, LegalEntityFactory(staff_count=1500), amount="100")
    Coverage.objects.filter(application=uncovered).delete()  # the candidate stands for it
    add("no_coverage", uncovered, set())
    several = make_application(call, amount="999999", answers="not_met")
    add("several_failures", several, {"E6", "E7"})
    # The same entity covered in two calls, judged by each call's own parameters:
    # without an AD audit, it fails E5 where Volet 1 is required, not where it is scored.
    shared = LegalEntityFactory(staff_count=2000)
    add("first_call", make_application(call, shared, amount="500000"), {"E5"})
    DirectoryAudit.objects.filter(legal_entity=shared).delete()
    ExposureScan.objects.filter(legal_entity=shared).delete()
    add("lenient_call", make_application(lenient_call, shared, amount="10000"), set())
    DirectoryAudit.objects.filter(legal_entity=shared).delete()
    # Already past scoring: stored, never moved.
    add("in_review", make_application(call, status="regional_review"), set())
    return apps, expected


def snapshot(applications):
    ids = [a.pk for a in applications.values()]
    results = {
        r.application_id: (r.rules_version, r.eligible, r.score, r.rules, r.factors)
        for r in EligibilityResult.objects.filter(application_id__in=ids)
    }
    statuses = dict(Application.objects.filter(pk__in=ids).values_list("pk", "status"))
    moves = sorted(
        Transition.objects.filter(application_id__in=ids)
        .exclude(from_status="draft")
        .values_list("application_id", "from_status", "to_status", "actor_id", "comment")
    )
    return {
        name: (results.get(a.pk), statuses[a.pk], [m[1:] for m in moves if m[0] == a.pk])
        for name, a in applications.items()
    }


def test_batch_and_single_scoring_give_identical_results(call, lenient_call):
    applications, expected = varied_world(call, lenient_call)
    ids = [a.pk for a in applications.values()]
    with transaction.atomic():
        for application_id in ids:
            application_score(application_id=application_id)
        single = snapshot(applications)
        transaction.set_rollback(True)
    assert not EligibilityResult.objects.filter(application_id__in=ids).exists()

    assert applications_score_batch(application_ids=ids) == len(ids)
    batch = snapshot(applications)
    assert batch == single
    # The world is as varied as it claims: each application fails the rules named.
    for name, (result, status, moves) in batch.items():
        _version, eligible, _score, rules, _factors = result
        failing = {r["id"] for r in rules if r["blocking"] and not r["passed"]}
        assert failing == expected[name], name
        assert eligible is (not failing), name
        if name == "in_review":
            assert status == "regional_review" and moves == []
        else:
            assert status == ("ineligible" if failing else "regional_review"), name
            assert moves[0][1] == status and moves[0][2] is None, name
    assert len({result[2] for result, _s, _m in batch.values()}) > 5  # scores differ


def test_batch_rescoring_writes_only_what_changed(call, lenient_call):
    applications, _expected = varied_world(call, lenient_call)
    ids = [a.pk for a in applications.values()]
    applications_score_batch(application_ids=ids)
    before = dict(EligibilityResult.objects.values_list("application_id", "updated_at"))
    transitions = Transition.objects.count()
    # A second run over unchanged data writes nothing and moves nothing.
    applications_score_batch(application_ids=ids)
    assert dict(EligibilityResult.objects.values_list("application_id", "updated_at")) == before
    assert Transition.objects.count() == transitions
    # New data: the result changes, as a single scoring would change it.
    changed = applications["eligible"]
    DirectoryAudit.objects.filter(legal_entity=changed.candidate).delete()
    applications_score_batch(application_ids=ids)
    result = EligibilityResult.objects.get(application=changed)
    assert not result.eligible and result.updated_at > before[changed.pk]
    after = dict(EligibilityResult.objects.values_list("application_id", "updated_at"))
    assert {pk for pk in ids if after[pk] != before[pk]} == {changed.pk}
    single = EligibilityResult.objects.get(application=changed)
    application_score(application_id=changed.pk)  # agrees: nothing left to write
    single.refresh_from_db()
    assert single.updated_at == result.updated_at


def test_batch_skips_drafts_and_unknown_ids(call):
    draft = make_application(call, status="draft")
    submitted = make_application(call)
    assert applications_score_batch(application_ids=[draft.pk, submitted.pk, 10**9]) == 1
    assert not EligibilityResult.objects.filter(application=draft).exists()
    assert EligibilityResult.objects.filter(application=submitted).exists()
    assert applications_score_batch(application_ids=[]) == 0


def test_queries_per_batch_do_not_grow_with_the_batch(call, lenient_call):
    small, _ = varied_world(call, lenient_call, tag="-a")
    large_parts = [varied_world(call, lenient_call, tag=f"-{n}")[0] for n in "bcd"]
    small_ids = [a.pk for a in small.values()]
    large_ids = [a.pk for part in large_parts for a in part.values()]
    assert len(large_ids) == 3 * len(small_ids)
    # Those two batches take the same paths: new results, no moves (the moves of fresh
    # submissions go through the lifecycle engine, one by one).
    Application.objects.filter(pk__in=small_ids + large_ids).update(status="regional_review")
    with CaptureQueriesContext(connection) as small_queries:
        applications_score_batch(application_ids=small_ids)
    with CaptureQueriesContext(connection) as large_queries:
        applications_score_batch(application_ids=large_ids)
    assert len(large_queries) == len(small_queries)
    assert len(small_queries) <= 15, [q["sql"][:80] for q in small_queries]
    assert EligibilityResult.objects.filter(application_id__in=large_ids).count() == len(large_ids)
    # Rescoring the same batch again, results changed: one bulk update, same bound.
    EligibilityResult.objects.update(score=Decimal("0"))
    with CaptureQueriesContext(connection) as again:
        applications_score_batch(application_ids=large_ids)
    assert len(again) == len(small_queries)


def test_rescoring_a_call_goes_in_batches_with_progress(
    call, monkeypatch, django_capture_on_commit_callbacks
):
    applications = [make_application(call) for _ in range(5)]
    make_application(call, status="draft")  # never scored
    batches = []
    real = scoring.applications_score_batch

    def recording(*, application_ids):
        batches.append(list(application_ids))
        return real(application_ids=application_ids)

    monkeypatch.setattr(scoring, "RESCORE_BATCH_SIZE", 2)
    monkeypatch.setattr(scoring, "applications_score_batch", recording)
    with django_capture_on_commit_callbacks(execute=True) as queued_after_commit:
        run, queued = rescore_call(call=call)  # eager tasks: scored in process
        assert batches == []  # the batches' rows first; their messages on commit
        assert RescoringBatch.objects.filter(run=run, done_at__isnull=True).count() == 3
    batch_messages = [c for c in queued_after_commit if "score_applications_batch" in c.__name__]
    assert len(batch_messages) == 3
    assert queued == 5
    assert batches == [[a.pk for a in applications[i : i + 2]] for i in (0, 2, 4)]
    assert scoring.rescoring_progress(run) == 5
    assert not RescoringBatch.objects.filter(run=run, done_at__isnull=True).exists()
    assert EligibilityResult.objects.filter(application__call=call).count() == 5


def test_a_rescoring_batch_whose_message_was_lost_is_swept_and_scored_once(
    call, django_capture_on_commit_callbacks
):
    applications = [make_application(call) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=False):  # the messages never leave
        run, queued = rescore_call(call=call)
    assert queued == 3
    (batch,) = RescoringBatch.objects.filter(run=run)
    assert batch.application_ids == [a.pk for a in applications] and batch.size == 3
    assert scoring.rescoring_progress(run) == 0
    assert scoring.rescoring_batches_needing_work(older_than_seconds=300) == []  # not yet
    RescoringBatch.objects.filter(pk=batch.pk).update(
        created_at=batch.created_at - timedelta(minutes=10)
    )
    assert scoring.rescoring_batches_needing_work(older_than_seconds=300) == [batch.pk]

    assert scoring.rescoring_batch_run(batch.pk) == 3
    assert scoring.rescoring_batch_run(batch.pk) == 0  # a second copy: done already
    assert scoring.rescoring_progress(run) == 3
    assert scoring.rescoring_batches_needing_work(older_than_seconds=300) == []
    assert EligibilityResult.objects.filter(application__in=applications).count() == 3


def test_done_rescoring_batches_are_deleted_after_their_keeping_time(call):
    from django.utils import timezone

    run, _ = rescore_call(call=None, application_ids=[])
    old, recent = RescoringBatch.objects.bulk_create(
        [RescoringBatch(run=run, application_ids=[], size=0) for _ in range(2)]
    )
    now = timezone.now()
    kept = scoring.RESCORING_BATCHES_KEPT_DAYS
    RescoringBatch.objects.filter(pk=old.pk).update(done_at=now - timedelta(days=kept + 1))
    RescoringBatch.objects.filter(pk=recent.pk).update(done_at=now - timedelta(days=kept - 1))
    assert scoring.purge_done_rescoring_batches() == 1
    assert scoring.rescoring_batches_needing_work(older_than_seconds=0) == []
    assert list(RescoringBatch.objects.values_list("pk", flat=True)) == [recent.pk]
