"""Demo calls and applications (`demo.applications`, run by `seed_demo`): the open D2
call and the closed D1 one, applications in every state moved by the lifecycle engine
(true histories, real eligibility results, pending dossiers, no mail), evidence files
that match their rows, deterministic and idempotent."""

import hashlib
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.core.files.storage import default_storage
from django.db.models import Count, Sum
from django.utils import timezone

from applications.eligibility import RULES_VERSION, evaluate
from applications.evidence import inspect_upload
from applications.lifecycle import EDITABLE_STATUSES, TRANSITIONS, Status, rule_for
from applications.models import (
    Answer,
    Application,
    BudgetLine,
    CeilingBracket,
    Coverage,
    EligibilityResult,
    Evidence,
    FundingCall,
    Message,
    Payment,
    Transition,
)
from applications.notifications import notifications_needing_work
from care_portal.models import OutgoingEmail
from demo.applications import seed_applications
from demo.calls import D1_CODE, D2_CODE, demo_pdf
from demo.directory import seed_demo
from establishments.models import LegalEntity, StatusGroup

from .conftest import SIZE

PARIS = ZoneInfo("Europe/Paris")
D2_IDENTIFIERS = {
    "D2.P1",
    "D2.P2",
    "D2.P3",
    "D2.P4",
    "D2.O1.A",
    "D2.O1.B",
    "D2.O1.C",
    "D2.O2",
    "D2.O3",
    "D2.O4",
}


def entity_of(email: str) -> LegalEntity:
    return LegalEntity.objects.get(memberships__user__email=email)


def may_file(entity: LegalEntity) -> bool:
    public_member = (
        entity.status_group == StatusGroup.PUBLIC and entity.ght_id and not entity.is_ght_support
    )
    return entity.active and not public_member


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            FundingCall,
            Application,
            Coverage,
            Answer,
            BudgetLine,
            Transition,
            Message,
            Evidence,
            EligibilityResult,
            Payment,
        )
    }


# --------------------------------------------------------------------------- calls


def _can_become_editable(status: str, seen: frozenset[str] = frozenset()) -> bool:
    if status in EDITABLE_STATUSES:
        return True
    return any(
        _can_become_editable(target, seen | {status})
        for target in TRANSITIONS[status]
        if target not in seen
    )


# Statuses from which the applicant may edit again (and so delete a file).
EDITABLE_AGAIN = {status for status in TRANSITIONS if _can_become_editable(status)}


def test_seeding_sends_no_mail_and_queues_no_work(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        seed_demo(seed=2025, legal_entities=60)
    assert Transition.objects.exists()
    assert not callbacks
    assert not mailoutbox
    # Nor later: no sweeper finds a demo notification due, no e-mail in the outbox.
    assert notifications_needing_work(older_than_seconds=0) == ([], [])
    assert not OutgoingEmail.objects.exists()


def test_the_d2_call_is_open_and_the_d1_call_closed(seeded):
    d2 = FundingCall.objects.get(code=D2_CODE)
    d1 = FundingCall.objects.get(code=D1_CODE)
    assert d2.is_open() and not d1.is_open()
    assert d2.domain == "D2" and d1.domain == "D1"
    assert d2.envelope == Decimal("45000000.00") and d1.envelope == Decimal("65000000.00")
    assert "continuité et de reprise d'activité" in d2.title
    assert set(d2.eligible_groups) == {
        "ght",
        "public_outside_ght",
        "private_non_profit",
        "private_for_profit",
    }
    assert d2.parameters["volet1_required"] is True

    today = timezone.localtime(timezone.now(), PARIS).date()
    assert d2.opens_at == datetime.combine(today - timedelta(days=30), time(0, 0), PARIS)
    assert d2.closes_at == datetime.combine(today + timedelta(days=60), time(23, 59), PARIS)
    assert timezone.localtime(d1.opens_at, PARIS).date().isoformat() == "2024-03-18"
    assert timezone.localtime(d1.closes_at, PARIS).date().isoformat() == "2024-04-19"

    requirements = {r.identifier: r for r in d2.requirements.all()}
    assert set(requirements) == D2_IDENTIFIERS
    assert {r.kind for i, r in requirements.items() if ".P" in i} == {"prerequisite"}
    assert {r.kind for i, r in requirements.items() if ".O" in i} == {"objective"}
    assert requirements["D2.P1"].evidence_stage == "none"
    assert requirements["D2.P2"].evidence_stage == "application"
    assert {r.evidence_stage for i, r in requirements.items() if ".O" in i} == {"declaration"}
    assert all(r.target and r.evidence for r in requirements.values())
    assert "novembre 2026" in requirements["D2.O2"].label
    assert "hors ligne ou immuable" in requirements["D2.O3"].label
    assert set(d1.requirements.values_list("identifier", flat=True)) == {
        "D1.O1",
        "D1.O2.A",
        "D1.O2.B",
    }
    brackets = list(d2.brackets.values_list("min_staff", "max_staff", "ceiling"))
    assert brackets[0] == (0, 299, Decimal("150000.00"))
    assert brackets[-1][1] is None


def test_a_rerun_only_moves_the_d2_window(seeded):
    d2 = FundingCall.objects.get(code=D2_CODE)
    FundingCall.objects.filter(pk=d2.pk).update(
        opens_at=d2.opens_at - timedelta(days=400),
        closes_at=d2.closes_at - timedelta(days=400),
        title="Titre modifié par l'administrateur",
    )
    CeilingBracket.objects.filter(call=d2, min_staff=0).update(ceiling=Decimal("120000"))

    summary = seed_applications(seed=2025)

    d2.refresh_from_db()
    assert d2.is_open()
    assert d2.title == "Titre modifié par l'administrateur"
    assert d2.brackets.get(min_staff=0).ceiling == Decimal("120000.00")
    assert summary[FundingCall] == 0


# --------------------------------------------------------------------------- D2


def test_about_60_percent_of_the_candidates_apply_to_d2_in_every_state(seeded):
    d2 = FundingCall.objects.get(code=D2_CODE)
    entities = list(LegalEntity.objects.all())
    candidates = [e for e in entities if may_file(e)]
    applications = list(d2.applications.select_related("candidate"))
    assert 0.5 <= len(applications) / len(candidates) <= 0.7

    statuses = Counter(a.status for a in applications)
    assert set(statuses) == set(Status.values)
    under_review = sum(statuses[s] for s in ("submitted", "regional_review", "national_review"))
    later = sum(
        statuses[s]
        for s in ("objectives_declared", "objectives_checked", "objectives_validated", "paid")
    )
    assert under_review + statuses["approved"] > len(applications) / 2
    assert later < len(applications) / 5

    for application in applications:
        candidate = application.candidate
        assert may_file(candidate), candidate  # no public GHT member, no inactive entity
        assert application.reference == f"{D2_CODE}-{application.pk:06d}"  # the portal's shape
        covered = set(application.coverages.values_list("legal_entity_id", flat=True))
        if candidate.is_ght_support:
            assert application.ght_id == candidate.ght_id
            members = LegalEntity.objects.filter(ght_id=candidate.ght_id, active=True)
            assert covered == set(members.values_list("id", flat=True))
        else:
            assert application.ght_id is None and covered == {candidate.pk}


def test_applications_keep_the_rules_of_the_services(seeded):
    d2 = FundingCall.objects.get(code=D2_CODE)
    now = timezone.now()
    requirements = set(d2.requirements.values_list("id", flat=True))
    prerequisites = set(d2.requirements.filter(kind="prerequisite").values_list("id", flat=True))
    totals = dict(
        BudgetLine.objects.values_list("application_id").annotate(total=Sum("amount")).order_by()
    )
    transitions = defaultdict(list)
    for t in Transition.objects.order_by("created_at", "id"):
        transitions[t.application_id].append(t)

    for call in FundingCall.objects.all():
        per_entity = Coverage.objects.filter(call=call).values("legal_entity_id")
        assert not per_entity.annotate(n=Count("id")).filter(n__gt=1).exists()

    for application in Application.objects.select_related("call"):
        # the requested amount is the total of the budget lines
        assert application.requested_amount == totals.get(application.pk, Decimal(0))
        # the transitions chain from draft to the status, along the lifecycle table
        chain = transitions[application.pk]
        previous = "draft"
        for transition in chain:
            assert transition.from_status == previous, application.reference
            assert rule_for(transition.from_status, transition.to_status) is not None
            assert transition.created_at <= now
            previous = transition.to_status
        assert previous == application.status, application.reference
        assert all(a.created_at < b.created_at for a, b in pairwise(chain))
        submitted = [t.created_at for t in chain if t.to_status == "submitted"]
        assert application.submitted_at == (submitted[-1] if submitted else None)
        assert application.sworn_statement == bool(submitted)
        if application.call.code != D2_CODE:
            continue
        for t in chain:
            assert application.call.opens_at <= t.created_at
        if submitted:
            assert submitted[-1] < application.call.closes_at
        # one answer per requirement; a submitted one had its prerequisites met
        answers = list(application.answers.all())
        assert {a.requirement_id for a in answers} == requirements
        if submitted:
            assert all(a.state == "met" for a in answers if a.requirement_id in prerequisites)
        assert 1 <= application.budget_lines.count() <= 5
        if application.status not in ("draft", "withdrawn"):
            assert application.budget_lines.count() >= 2
            assert application.director_email.endswith(".test")
            assert application.rssi_name and application.continuity_lead_email
        reached_approval = any(t.to_status == "approved" for t in chain)
        assert (application.granted_amount is not None) == reached_approval
        assert (application.paid_amount is not None) == (application.status == "paid")
        if application.status == "returned":
            request = application.messages.filter(is_return_request=True).last()
            assert request is not None and request.body == chain[-1].comment
            assert request.author is not None


def test_evidence_rows_match_their_stored_files(seeded):
    evidence = list(Evidence.objects.select_related("answer__requirement", "application"))
    assert evidence
    checked = {}
    for row in evidence:
        assert row.answer.application_id == row.application_id
        assert row.content_type == "application/pdf"
        if row.file.name not in checked:
            with default_storage.open(row.file.name) as handle:
                content = handle.read()
            checked[row.file.name] = (len(content), hashlib.sha256(content).hexdigest())
        assert checked[row.file.name] == (row.size, row.sha256), row.file.name
        # files the applicant may delete (editable again) are never shared
        if row.application.status in EDITABLE_AGAIN:
            assert Evidence.objects.filter(file=row.file.name).count() == 1
    with default_storage.open(evidence[0].file.name) as handle:
        inspected = inspect_upload(handle, name=evidence[0].original_name)
    assert inspected.sha256 == evidence[0].sha256  # a valid PDF, no active content
    assert demo_pdf(["Essai (parenthèses) \\ œ €"]).startswith(b"%PDF-1.4")


def test_the_demo_accounts_have_their_applications(seeded):
    d2 = FundingCall.objects.get(code=D2_CODE)
    entity = entity_of("etablissement@demo.test")
    (draft,) = Application.objects.filter(call=d2, candidate=entity)
    assert draft.status == "draft"
    assert draft.director_name and draft.rssi_email and not draft.continuity_lead_name
    states = Counter(draft.answers.values_list("state", flat=True))
    assert states["met"] >= 1 and states[""] >= 1  # partly answered
    assert draft.budget_lines.count() == 1
    assert not draft.evidence.exists() and not draft.transitions.exists()
    assert draft.created_by.email == "etablissement@demo.test"
    assert d2.applications.filter(coverages__legal_entity=entity).count() == 1

    support = entity_of("ght@demo.test")
    ght_application = Application.objects.get(call=d2, candidate=support)
    assert ght_application.status in ("regional_review", "national_review")
    assert ght_application.coverages.count() == support.ght.members.filter(active=True).count()
    assert ght_application.coverages.count() >= 2

    # the ARS account acts in its region only, the establishment accounts on their own
    ars_region = entity.department.region_id
    by_ars = Transition.objects.filter(actor__email="ars@demo.test")
    assert by_ars.exists()
    assert not by_ars.exclude(application__candidate__department__region_id=ars_region).exists()
    mine = Transition.objects.filter(actor__email="etablissement@demo.test")
    assert not mine.exclude(application__candidate=entity).exists()
    assert Transition.objects.filter(actor__email="ministere@demo.test").exists()


def test_applications_past_scoring_have_an_eligibility_result_that_fits_their_status(seeded):
    transitions = defaultdict(list)
    for t in Transition.objects.order_by("created_at", "id"):
        transitions[t.application_id].append(t)
    seen: Counter[str] = Counter()
    results = {r.application_id: r for r in EligibilityResult.objects.all()}
    d2 = FundingCall.objects.get(code=D2_CODE)
    for application in Application.objects.all():
        chain = transitions[application.pk]
        result = results.get(application.pk)
        scorings = [t for t in chain if t.from_status == "submitted" and t.actor_id is None]
        if not scorings:  # not scored yet (waits for the scoring task), or withdrawn before
            assert result is None, application.reference
            continue
        assert result is not None, application.reference
        # the system's move is the outcome of the scoring, with its failed rules as comment
        assert {t.to_status for t in scorings} == {
            "regional_review" if result.eligible else "ineligible"
        }
        assert all(t.is_automatic for t in scorings)
        if application.call_id == d2.pk:
            seen[application.status] += 1
        failed = [r for r in result.rules if r["blocking"] and not r["passed"]]
        assert result.eligible == (not failed)
        assert sum(Decimal(f["points"]) for f in result.factors) == result.score
        assert result.rules_version == RULES_VERSION
        assert [r["id"] for r in result.rules] == ["E1", "E2", "E3", "E4", "E5", "E6", "E7"]
        outcome = evaluate(application)
        assert (outcome.eligible, outcome.score) == (result.eligible, result.score)
        assert result.computed_at == scorings[0].created_at, application.reference
        # an ineligible application went on only when the ministry reconsidered it
        if not result.eligible and application.status != "ineligible":
            reconsider = [t for t in chain if t.from_status == "ineligible"]
            assert reconsider and reconsider[0].actor.email.endswith("@demo.test")
            assert reconsider[0].to_status == "regional_review" and reconsider[0].comment
    assert set(seen) >= set(Status.values) - {"draft", "submitted", "withdrawn"}

    ght_application = Application.objects.get(call=d2, candidate=entity_of("ght@demo.test"))
    reconsidered = ght_application.transitions.filter(from_status="ineligible")
    assert ght_application.eligibility.eligible or reconsidered.exists()


def test_d2_counts_the_audits_from_its_valid_from_date_and_shows_older_ones_outdated(seeded):
    from applications.dossiers import volet1_rows

    d2, d1 = FundingCall.objects.get(code=D2_CODE), FundingCall.objects.get(code=D1_CODE)
    assert d2.volet1_valid_from == date(2024, 6, 1) and d1.volet1_valid_from is None
    coverages = list(Coverage.objects.filter(application__call=d2).order_by("id"))
    rows = volet1_rows(coverages, valid_from=d2.volet1_valid_from)
    outdated = [row for row in rows if row.outdated_audit_date is not None]
    assert outdated  # some entity's audits are all older: "obsolète" on its application
    assert all(row.outdated_audit_date < d2.volet1_valid_from for row in outdated)
    # E5 finds them out: their scored applications are ineligible, with the reason
    results = {
        r.application_id: r
        for r in EligibilityResult.objects.filter(
            application_id__in={row.coverage.application_id for row in outdated}
        )
    }
    for result in results.values():
        e5 = next(rule for rule in result.rules if rule["id"] == "E5")
        assert not result.eligible and not e5["passed"]
        assert "obsolète" in str(e5)
    # the others still make a call with eligible applications
    eligible = EligibilityResult.objects.filter(application__call=d2, eligible=True)
    assert eligible.count() >= 10
    # ght@'s support: two old audits beside a counted one, which keeps its AD objective
    support = entity_of("ght@demo.test")
    dates = sorted(support.directory_audits.values_list("audit_date", flat=True))
    assert dates[0] < d2.volet1_valid_from <= dates[-1]


def test_every_move_was_made_by_a_user_allowed_to_make_it(seeded):
    from applications.lifecycle import actor_roles

    for t in Transition.objects.select_related("application__candidate__department", "actor"):
        rule = rule_for(t.from_status, t.to_status)
        assert rule.actors & actor_roles(t.actor, t.application), t
    assert not Transition.objects.filter(actor__email="admin@demo.test").exists()


def test_dossiers_are_pending_one_per_submission_and_decision(seeded):
    for application in Application.objects.prefetch_related("transitions", "dossiers"):
        chain = list(application.transitions.all())
        dossiers = {(d.kind, d.version, d.status) for d in application.dossiers.all()}
        submissions = sum(t.to_status == "submitted" for t in chain)
        decisions = sum(
            t.from_status == "national_review" and t.to_status in ("approved", "rejected")
            for t in chain
        )
        expected = {("dossier", n, "pending") for n in range(1, submissions + 1)}
        expected |= {("decision", n, "pending") for n in range(1, decisions + 1)}
        assert dossiers == expected, application.reference


# --------------------------------------------------------------------------- D1


def test_the_d1_call_has_its_history(seeded):
    d1 = FundingCall.objects.get(code=D1_CODE)
    applications = list(d1.applications.select_related("candidate"))
    participants = set(
        LegalEntity.objects.filter(volet1__level__in=["both", "ad_done", "exposure_met"])
        .filter(active=True)
        .values_list("id", flat=True)
    )
    covered = set(Coverage.objects.filter(call=d1).values_list("legal_entity_id", flat=True))
    assert len(participants & covered) / len(participants) > 0.85

    statuses = Counter(a.status for a in applications)
    done = statuses["paid"] + statuses["objectives_validated"]
    assert 0.8 <= done / len(applications) <= 0.97
    assert statuses["rejected"] + statuses["withdrawn"] >= 1
    for application in applications:
        assert may_file(application.candidate)
        if application.submitted_at is not None:
            assert application.submitted_at <= d1.closes_at
        dates = application.transitions.values_list("created_at", flat=True)
        assert all(d.year in (2024, 2025) for d in dates)
        if application.status == "paid":
            assert 0 < application.paid_amount <= application.granted_amount
    assert entity_of("ght@demo.test").applications.get(call=d1).status == "paid"


# --------------------------------------------------------------------------- payments


def test_payments_are_recorded_through_the_tracking_service(seeded):
    payments = defaultdict(list)
    for payment in Payment.objects.select_related("recorded_by").order_by("paid_on", "id"):
        payments[payment.application_id].append(payment)
    moves = defaultdict(dict)
    for t in Transition.objects.filter(to_status__in=["objectives_validated", "paid"]):
        moves[t.application_id][t.to_status] = timezone.localtime(t.created_at, PARIS).date()
    statuses = Counter()
    for application in Application.objects.all():
        made = payments.get(application.pk, [])
        total = sum((p.amount for p in made), Decimal(0))
        if application.status == "paid":
            # paid = the granted amount paid in full, the last payment moving it to paid
            assert total == application.granted_amount == application.paid_amount
            assert made[-1].paid_on == moves[application.pk]["paid"]
            statuses["paid in two tranches" if len(made) == 2 else "paid at once"] += 1
        elif application.status == "objectives_validated":
            assert total < application.granted_amount  # the rest still due
            statuses["validated, part paid" if made else "validated"] += 1
        else:
            assert not made, application.reference  # no advance in the demo calls
        for payment in made:
            assert payment.recorded_by.email == "ministere@demo.test"
            assert payment.tranche == "balance" and payment.amount > 0
            assert payment.paid_on >= moves[application.pk]["objectives_validated"]
            assert payment.chorus_reference.startswith("DP-")
    assert statuses["paid at once"] and statuses["paid in two tranches"], statuses


def test_the_dashboards_show_the_demo_payments(seeded):
    from monitoring import selectors

    for call in FundingCall.objects.all():
        figures = selectors.participation(scope="nation", code=None, call=call)
        paid = Payment.objects.filter(application__call=call)
        assert figures.amount_paid == (paid.aggregate(total=Sum("amount"))["total"] or 0)
        assert figures.payments == paid.count()
    d1 = FundingCall.objects.get(code=D1_CODE)
    assert selectors.participation(scope="nation", code=None, call=d1).amount_paid > 0


# --------------------------------------------------------------------------- reruns


def test_a_second_run_creates_nothing(seeded):
    before = counts()
    files = set(Evidence.objects.values_list("file", flat=True))

    summary = seed_demo(seed=2025, legal_entities=SIZE)

    assert counts() == before
    assert set(Evidence.objects.values_list("file", flat=True)) == files
    assert summary.created[Application] == summary.created[EligibilityResult] == 0
    assert summary.created["files"] == 0


def test_the_same_seed_gives_the_same_applications(seeded):
    """The references carry the rows' numbers, which a second seeding does not reuse:
    applications are compared by call and candidate."""

    def snapshot():
        keys = {
            reference: f"{code}/{finess}"
            for reference, code, finess in Application.objects.values_list(
                "reference", "call__code", "candidate__finess"
            )
        }

        def keyed(rows):
            return sorted((keys[row[0]], *row[1:]) for row in rows)

        payments = Payment.objects.values_list(
            "application__reference", "amount", "paid_on", "chorus_reference"
        )
        return (
            keyed(
                Application.objects.values_list(
                    "reference", "status", "requested_amount", "director_name"
                )
            ),
            keyed(
                Transition.objects.values_list(
                    "application__reference", "from_status", "to_status", "comment"
                )
            ),
            keyed(
                EligibilityResult.objects.values_list(
                    "application__reference", "eligible", "score", "computed_at"
                )
            ),
            keyed((r, a, d, c.replace(r, "")) for r, a, d, c in payments),
        )

    first = snapshot()
    assert first[-1]  # payments included
    Payment.objects.all().delete()  # they protect their applications
    Application.objects.all().delete()

    seed_demo(seed=2025, legal_entities=SIZE)

    assert snapshot() == first


def test_the_reviewers_have_work(seeded):
    """Regional review with and without an agent in charge, national review with the
    ARS opinion, returns with a due date: the ARS and ministry demo users have work."""
    d2 = FundingCall.objects.get(code=D2_CODE)
    region = entity_of("etablissement@demo.test").department.region_id
    mine = d2.applications.filter(candidate__department__region_id=region)
    in_review = mine.filter(status="regional_review")
    assert in_review.filter(assigned_to__email="ars@demo.test").exists()
    assert in_review.filter(assigned_to__isnull=True).exists()
    for application in Application.objects.filter(
        transitions__to_status="national_review"
    ).distinct():
        passes = list(application.transitions.filter(to_status="national_review"))
        reviews = list(application.regional_reviews.order_by("created_at", "id"))
        assert len(reviews) == len(passes) and reviews[-1].proposed_amount is not None
        region = reviews[-1].author.memberships.get().region
        assert region == application.candidate.department.region
        assert application.regional_opinion == reviews[-1].opinion
        assert application.proposed_amount == reviews[-1].proposed_amount
        assert application.assigned_to == reviews[-1].author
        assert all(r.created_at <= p.created_at for r, p in zip(reviews, passes, strict=True))
    assert d2.applications.filter(status="national_review").exclude(regional_opinion="").exists()
    for application in d2.applications.filter(status="returned"):
        assert application.return_due_on > application.transitions.last().created_at.date()
    assert {"returned", "approved", "objectives_declared"} <= set(
        d2.applications.values_list("status", flat=True)
    )
