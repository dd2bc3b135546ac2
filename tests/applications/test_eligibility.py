"""Eligibility rules E1–E7 at their edges, the explained score, the scoring service."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from applications.eligibility import RULE_SECTIONS, RULES_VERSION, evaluate, preview
from applications.models import (
    Answer,
    Application,
    CeilingBracket,
    Coverage,
    EligibilityResult,
    Evidence,
    Transition,
)
from applications.scoring import application_score, applications_needing_work
from audits.models import DirectoryAudit, ExposureScan
from establishments.models import StatusGroup

from ..factories import (
    ApplicationFactory,
    FundingCallFactory,
    GHTFactory,
    LegalEntityFactory,
    RequirementFactory,
)


def volet1(entity, *, ad=True, exposure=True, score=60, level=2, critical=0, high=1):
    if ad:
        DirectoryAudit.objects.create(
            legal_entity=entity, audit_date=date(2025, 1, 10), tool="pingcastle",
            domain=f"{entity.pk}.local", global_score=score, maturity_level=level,
        )  # fmt: skip
    if exposure:
        for offset in (0, 50):
            ExposureScan.objects.create(
                legal_entity=entity, scan_date=date(2025, 2, 1) + timedelta(days=offset),
                minimum_level_met=True, vulns_critical=critical, vulns_high=high,
            )  # fmt: skip


def scored_call(**fields):
    """A call with a prerequisite (D2.P2), two objectives due at the declaration (D2.O3,
    D2.O4) and two ceilings: 300 000 € below 1 000 staff, 500 000 € from 1 000."""
    call = FundingCallFactory(**fields)
    RequirementFactory(call=call, identifier="D2.P2", kind="prerequisite")
    for identifier in ("D2.O3", "D2.O4"):
        RequirementFactory(
            call=call, identifier=identifier, kind="objective", evidence_stage="declaration"
        )
    CeilingBracket.objects.create(call=call, min_staff=0, max_staff=999, ceiling=Decimal("300000"))
    CeilingBracket.objects.create(call=call, min_staff=1000, ceiling=Decimal("500000"))
    return call


@pytest.fixture
def call(db):
    return scored_call(code="D2-ELIG")


def make_application(call, candidate=None, *, amount="200000", answers="met", evidence=True, **kw):
    candidate = candidate or LegalEntityFactory(staff_count=800)
    application = ApplicationFactory(
        call=call, candidate=candidate, status=kw.pop("status", "submitted"),
        requested_amount=Decimal(amount), **kw,
    )  # fmt: skip
    Coverage.objects.create(call=call, application=application, legal_entity=candidate)
    for requirement in call.requirements.all():
        answer = Answer.objects.create(
            application=application, requirement=requirement, state=answers
        )
        if evidence and requirement.kind == "prerequisite":
            Evidence.objects.create(
                application=application, answer=answer, file=ContentFile(b"x", name="p.pdf"),
                original_name="p.pdf", content_type="application/pdf", size=1, sha256="0" * 64,
            )  # fmt: skip
    Transition.objects.create(
        application=application, from_status="draft", to_status="submitted",
        created_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip
    volet1(candidate)
    return application


def rule(outcome, rule_id):
    return next(r for r in outcome.rules if r.id == rule_id)


def test_a_complete_application_is_eligible_and_explained(call):
    outcome = evaluate(make_application(call))
    assert outcome.eligible
    assert [r.id for r in outcome.rules] == ["E1", "E2", "E3", "E4", "E5", "E6", "E7"]
    assert all(r.passed and r.detail for r in outcome.rules)
    assert outcome.rules_version == RULES_VERSION


def test_e1_inactive_or_not_a_health_establishment(call):
    inactive = make_application(call, LegalEntityFactory(active=False))
    assert not rule(evaluate(inactive), "E1").passed
    not_health = make_application(call, LegalEntityFactory(finess_category="500"))
    detail = rule(evaluate(not_health), "E1").detail
    assert "établissement de santé" in detail


def test_e2_status_group_must_be_eligible(call):
    call.eligible_groups = ["ght", "public_outside_ght"]
    call.save()
    clinic = make_application(call, LegalEntityFactory(status_group=StatusGroup.PRIVATE_FOR_PROFIT))
    outcome = evaluate(clinic)
    assert not rule(outcome, "E2").passed and not outcome.eligible
    assert rule(evaluate(make_application(call)), "E2").passed


def test_e3_public_ght_member_alone_and_incomplete_ght_coverage(call):
    ght = GHTFactory()
    support = LegalEntityFactory(ght=ght, is_ght_support=True, staff_count=500)
    member = LegalEntityFactory(ght=ght, staff_count=300)
    alone = make_application(call, member)
    assert "membre d'un GHT" in rule(evaluate(alone), "E3").detail
    alone.delete()
    partial = make_application(call, support)  # covers the support only
    assert not rule(evaluate(partial), "E3").passed
    Coverage.objects.create(call=call, application=partial, legal_entity=member)
    assert rule(evaluate(partial), "E3").passed


@pytest.mark.parametrize(
    ("submitted", "passed"),
    [("opens", True), ("before", False), ("just_before_close", True), ("at_close", False)],
)
def test_e4_inside_the_window_at_its_edges(call, submitted, passed):
    moments = {
        "opens": call.opens_at,
        "before": call.opens_at - timedelta(seconds=1),
        "just_before_close": call.closes_at - timedelta(seconds=1),
        "at_close": call.closes_at,
    }
    application = make_application(call)
    Transition.objects.filter(application=application).update(created_at=moments[submitted])
    assert rule(evaluate(application), "E4").passed is passed


def test_e4_uses_the_first_submission_not_a_late_resubmission(call):
    application = make_application(call)
    Transition.objects.create(
        application=application, from_status="returned", to_status="submitted",
        created_at=call.closes_at + timedelta(days=3),
    )  # fmt: skip
    assert rule(evaluate(application), "E4").passed


def test_e5_volet1_required_or_only_scored(call):
    entity = LegalEntityFactory(staff_count=800)
    application = make_application(call, entity)
    ExposureScan.objects.filter(legal_entity=entity).update(minimum_level_met=False)
    outcome = evaluate(application)
    e5 = rule(outcome, "E5")
    assert not e5.passed and e5.blocking and "D1.O2.B" in e5.detail and not outcome.eligible
    call.parameters = {"volet1_required": False}
    call.save()
    outcome = evaluate(Application.objects.get(pk=application.pk))
    e5 = rule(outcome, "E5")
    assert e5.passed and not e5.blocking and outcome.eligible
    assert "non bloquant" in e5.detail


def test_e6_prerequisite_not_met_or_without_evidence(call):
    not_met = make_application(call, answers="in_progress")
    assert "D2.P2 non atteint" in rule(evaluate(not_met), "E6").detail
    no_evidence = make_application(call, evidence=False)
    assert "D2.P2 sans pièce" in rule(evaluate(no_evidence), "E6").detail


@pytest.mark.parametrize(
    ("staff", "amount", "passed"),
    [
        (999, "300000", True),
        (999, "300000.01", False),
        (1000, "500000", True),
        (1000, "500001", False),
    ],
)
def test_e7_ceiling_by_size_at_the_bracket_edges(call, staff, amount, passed):
    application = make_application(call, LegalEntityFactory(staff_count=staff), amount=amount)
    assert rule(evaluate(application), "E7").passed is passed


def test_score_breakdown_sums_to_the_score_and_stays_in_range(call):
    weak = make_application(
        call, LegalEntityFactory(staff_count=6000), answers="not_met", evidence=True
    )
    DirectoryAudit.objects.filter(legal_entity=weak.candidate).update(
        global_score=100, maturity_level=1
    )
    ExposureScan.objects.filter(legal_entity=weak.candidate).update(vulns_critical=5)
    strong = make_application(call, LegalEntityFactory(staff_count=50))
    DirectoryAudit.objects.filter(legal_entity=strong.candidate).update(
        global_score=5, maturity_level=5
    )
    ExposureScan.objects.filter(legal_entity=strong.candidate).update(
        vulns_critical=0, vulns_high=0
    )
    weak_outcome, strong_outcome = evaluate(weak), evaluate(strong)
    for outcome in (weak_outcome, strong_outcome):
        assert sum(f.points for f in outcome.factors) == outcome.score
        assert Decimal("0") <= outcome.score <= Decimal("100")
    assert weak_outcome.score > strong_outcome.score
    assert weak_outcome.score == Decimal("100.00")


def test_scoring_moves_a_submitted_application_and_is_idempotent(call):
    eligible = make_application(call)
    ineligible = make_application(call, amount="999999")
    application_score(application_id=eligible.pk)
    application_score(application_id=ineligible.pk)
    eligible.refresh_from_db()
    ineligible.refresh_from_db()
    assert eligible.status == "regional_review"
    assert ineligible.status == "ineligible"
    last = ineligible.transitions.last()
    assert last.actor is None and "E7" in last.comment
    result = EligibilityResult.objects.get(application=eligible)
    assert result.eligible and result.rules[0]["id"] == "E1"
    # A second delivery of the same task leaves the database as one delivery did.
    before = (result.computed_at, result.updated_at, Transition.objects.count())
    application_score(application_id=eligible.pk)
    result.refresh_from_db()
    assert (result.computed_at, result.updated_at, Transition.objects.count()) == before


def test_scoring_queries_do_not_grow_with_the_application(call, django_assert_num_queries):
    small_ght, ght = GHTFactory(), GHTFactory()
    small = make_application(call, LegalEntityFactory(ght=small_ght, is_ght_support=True))
    large = make_application(call, LegalEntityFactory(ght=ght, is_ght_support=True))
    for _ in range(12):
        member = LegalEntityFactory(ght=ght)
        Coverage.objects.create(call=call, application=large, legal_entity=member)
        volet1(member)
    for i in range(20):
        RequirementFactory(call=call, identifier=f"D2.X{i}", kind="objective")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small_queries:
        evaluate(small)
    with django_assert_num_queries(len(small_queries)):
        evaluate(large)


def test_sweeper_finds_submitted_applications_left_unscored(call):
    old = make_application(call)
    Application.objects.filter(pk=old.pk).update(submitted_at=timezone.now() - timedelta(hours=1))
    fresh = make_application(call)
    Application.objects.filter(pk=fresh.pk).update(submitted_at=timezone.now())
    assert applications_needing_work() == [old.pk]
    application_score(application_id=old.pk)
    assert applications_needing_work() == []


def test_score_applications_command_rescores_a_whole_call(call, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import CommandError, call_command

    applications = [make_application(call) for _ in range(3)]
    ApplicationFactory(call=call, status="draft")  # drafts are never scored
    out = StringIO()
    # The batches are queued when the command's transaction commits (eager: run then).
    with django_capture_on_commit_callbacks(execute=True):
        call_command("score_applications", "--call", call.code, stdout=out)
    assert "3 candidature(s)" in out.getvalue()
    assert EligibilityResult.objects.filter(application__in=applications).count() == 3
    with pytest.raises(CommandError) as excinfo:
        call_command("score_applications", "--call", "NOPE")
    assert "Appel inconnu" in str(excinfo.value) and call.code in str(excinfo.value)


# --- The applicant's preview: the rules on a draft, nothing saved --------------------------


def make_draft(call, candidate=None, **kw):
    """A complete draft, never submitted (no submission in its history)."""
    application = make_application(call, candidate, status="draft", **kw)
    Transition.objects.filter(application=application).delete()
    return application


def test_the_preview_of_an_eligible_draft_writes_nothing(call):
    application = make_draft(call)
    before = (Transition.objects.count(), EligibilityResult.objects.count())
    result = preview(application)
    assert result.eligible and result.problems == [] and result.contradictions == {}
    assert rule(result.outcome, "E4").passed  # as if submitted now, inside the window
    assert (Transition.objects.count(), EligibilityResult.objects.count()) == before
    application.refresh_from_db()
    assert application.status == "draft" and application.submitted_at is None


def test_the_preview_says_why_and_where_each_failure_is_fixed(call):
    volet1_requirement = RequirementFactory(call=call, identifier="D2.P1", kind="prerequisite")
    entity = LegalEntityFactory(staff_count=800, name="CH de Tarare")
    application = make_draft(call, entity, amount="400000")
    ExposureScan.objects.filter(legal_entity=entity).update(minimum_level_met=False)
    result = preview(application)
    assert not result.eligible
    by_rule = {p.rule: p for p in result.problems}
    assert set(by_rule) == {"E5", "E7"}
    e5 = by_rule["E5"]
    assert e5.where == "Volet 1 de CH de Tarare"
    assert e5.url == reverse("audits:volet1-detail", args=[entity.public_id])
    assert "D1.O2.B" in e5.reason and "niveau minimal" in e5.reason  # the next step
    e7 = by_rule["E7"]
    assert e7.url == reverse("applications:application-budget", args=[application.public_id])
    assert "plafond" in e7.reason and "Réduisez" in e7.reason
    assert RULE_SECTIONS["E5"] == "audits:volet1-detail"
    # D2.P1 is checked by the portal from the Volet 1 data: "met" contradicts it.
    contradiction = result.contradictions[volet1_requirement.pk]
    assert contradiction.identifier == "D2.P1"
    assert [gap.entity for gap in contradiction.gaps] == [entity]
    assert contradiction.gaps[0].summary == "objectif d'exposition D1.O2.B non atteint"
    assert [where for where, _url in result.destinations] == [
        "Volet 1 de CH de Tarare",
        "Budget prévisionnel",
    ]
    assert not EligibilityResult.objects.exists()


def test_the_preview_links_answers_directory_and_a_closed_call(call):
    candidate = LegalEntityFactory(staff_count=800, active=False)
    application = make_draft(call, candidate, answers="in_progress")
    Application.objects.filter(pk=application.pk).update(submitted_at=None)
    FundingCallFactory._meta.model.objects.filter(pk=call.pk).update(
        opens_at=timezone.now() - timedelta(days=30), closes_at=timezone.now() - timedelta(days=1)
    )
    result = preview(Application.objects.get(pk=application.pk))
    by_rule = {p.rule: p for p in result.problems}
    assert set(by_rule) == {"E1", "E4", "E6"}
    assert by_rule["E1"].url == reverse(
        "establishments:legalentity-detail", args=[candidate.public_id]
    )
    assert "signalez-le à votre ARS" in by_rule["E1"].reason
    assert "clos depuis" in by_rule["E4"].reason
    p2 = call.requirements.get(identifier="D2.P2")
    answers_url = reverse("applications:application-answers", args=[application.public_id])
    assert by_rule["E6"].url == f"{answers_url}#answer-{p2.pk}"
    assert "En cours" in by_rule["E6"].reason


def test_an_answer_not_met_or_a_reached_volet1_is_no_contradiction(call):
    requirement = RequirementFactory(call=call, identifier="D2.P1", kind="prerequisite")
    application = make_draft(call)  # Volet 1 reached
    assert preview(application).contradictions == {}
    DirectoryAudit.objects.filter(legal_entity=application.candidate).delete()
    assert requirement.pk in preview(application).contradictions
    Answer.objects.filter(application=application, requirement=requirement).update(state="not_met")
    assert preview(application).contradictions == {}


def test_the_preview_runs_a_fixed_number_of_queries(call, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = make_draft(call, LegalEntityFactory(ght=GHTFactory(), is_ght_support=True))
    for i in range(15):
        RequirementFactory(call=call, identifier=f"D2.Y{i}", kind="prerequisite")
    ght = GHTFactory()
    large = make_draft(call, LegalEntityFactory(ght=ght, is_ght_support=True), amount="900000")
    for _ in range(10):
        member = LegalEntityFactory(ght=ght)
        Coverage.objects.create(call=call, application=large, legal_entity=member)
    with CaptureQueriesContext(connection) as queries:
        assert preview(small).eligible
    with django_assert_num_queries(len(queries)):
        # the 10 members without Volet 1 data, and the amount over its ceiling
        assert [p.rule for p in preview(large).problems] == ["E5"] * 10 + ["E7"]


def factor(outcome, factor_id):
    return next(f for f in outcome.factors if f.id == factor_id)


def test_the_ad_factor_says_maximum_weakness_only_for_entities_without_an_audit(call):
    """Issue 12: "sans audit, faiblesse maximale" was said of audited entities too."""
    audited = make_application(call)  # its candidate has an AD audit
    detail = factor(evaluate(audited), "ad").detail
    assert detail == "1 entité(s) auditée(s) sur 1"
    assert "sans audit" not in detail and "faiblesse maximale" not in detail
    ght = GHTFactory()
    support = LegalEntityFactory(ght=ght, is_ght_support=True, staff_count=500)
    partly = make_application(call, support)
    Coverage.objects.create(
        call=call, application=partly, legal_entity=LegalEntityFactory(ght=ght, staff_count=100)
    )
    ad = factor(evaluate(partly), "ad")
    assert ad.detail == (
        "1 entité(s) auditée(s) sur 2 ; faiblesse maximale retenue pour 1 entité(s) sans audit"
    )
    # The entity without an audit counts as fully weak: the mean is above the audited one.
    assert ad.value > factor(evaluate(audited), "ad").value


def test_a_stored_result_reads_in_the_readers_language(call):
    """The result is worded in French, whatever the active language, with the English
    wording stored alongside; the rules table shows the reader's language."""
    import html

    from django.template.loader import render_to_string
    from django.utils import translation

    from applications.templatetags.applications_tags import localized

    ineligible = make_application(call, amount="999999")
    with translation.override("en"):  # e.g. a request in English that scores in process
        application_score(application_id=ineligible.pk)
    result = EligibilityResult.objects.get(application=ineligible)
    e7 = next(r for r in result.rules if r["id"] == "E7")
    assert e7["detail"].startswith("Montant demandé")
    english = e7["translations"]["en"]["detail"]
    assert english and english != e7["detail"] and "Montant" not in english
    factor = result.factors[0]
    assert factor["translations"]["en"]["label"] != factor["label"]
    with translation.override("en"):
        assert localized(e7, "detail") == english
        page = render_to_string(
            "applications/_rules_table.html", {"eligibility": result, "rules": result.rules}
        )
    with translation.override("fr"):
        assert localized(e7, "detail") == e7["detail"]
    assert localized({"detail": "Ancien résultat"}, "detail") == "Ancien résultat"
    assert html.unescape(english) in html.unescape(page) and e7["detail"] not in page
