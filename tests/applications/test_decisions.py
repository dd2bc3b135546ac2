"""The ministry's decisions (applications/decisions.py): amounts, the envelope under a
lock (and under concurrency on PostgreSQL), four-eyes, recusal, the bulk report, and
the decision letter and e-mail that follow an approval or a rejection."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import AuditEvent, Membership
from applications.conflicts import conflict_declare
from applications.decisions import (
    Outcome,
    approve,
    approve_many,
    assign,
    cancel_co_signature,
    decide_many,
    envelope_figures,
    reconsider,
    reject,
    send_back,
    with_envelope_figures,
)
from applications.models import (
    Application,
    CeilingBracket,
    CoSignature,
    Coverage,
    Dossier,
    FundingCall,
    Message,
    Payment,
    Transition,
)
from care_portal.errors import (
    AmountRefused,
    ApplicationError,
    CommentRequired,
    ConflictOfInterest,
    CoSignatureRequired,
    EnvelopeExceeded,
    TransitionForbidden,
    TransitionNotAllowed,
)

from ..factories import (
    ApplicationFactory,
    FundingCallFactory,
    LegalEntityFactory,
    MembershipFactory,
    UserFactory,
)

K = Decimal("1000")


def plain(text: str) -> str:
    """French amounts use non-breaking spaces as thousands separators."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


def ministry(email: str, name: str = "Agent du ministère"):
    user = UserFactory(email=email, full_name=name, is_staff=True)
    MembershipFactory(user=user, role=Membership.Role.MINISTRY)
    return user


@pytest.fixture
def second_ministry_user(db):
    return ministry("franck@sante.gouv.test", "Franck Moreau")


@pytest.fixture
def call(db):
    return FundingCallFactory(envelope=Decimal("1000000"))


def in_review(call, candidate=None, *, requested=Decimal("200000"), **extra):
    return ApplicationFactory(
        call=call,
        candidate=candidate or LegalEntityFactory(),
        status="national_review",
        requested_amount=requested,
        **extra,
    )


@pytest.fixture
def application(call, hospital):
    return in_review(call, hospital)


# --- Approve, reject, send back, reconsider, assign ---------------------------------------


def test_an_approval_grants_the_amount_and_logs_who_and_why(application, ministry_user):
    record = approve(application, by=ministry_user, amount="150 000,00", comment="Dossier solide")
    application.refresh_from_db()
    assert application.status == "approved"
    assert application.granted_amount == Decimal("150000")
    assert (record.actor, record.comment, record.to_status) == (
        ministry_user,
        "Dossier solide",
        "approved",
    )
    event = AuditEvent.objects.get(action=AuditEvent.Action.TRANSITION)
    assert event.details["amount"] == "150000.00"


def test_a_rejection_needs_a_motivation_and_is_logged(application, ministry_user):
    with pytest.raises(CommentRequired):
        reject(application, by=ministry_user, comment="  ")
    record = reject(application, by=ministry_user, comment="Budget non justifié")
    application.refresh_from_db()
    assert application.status == "rejected" and application.granted_amount is None
    assert record.comment == "Budget non justifié"


def test_send_back_returns_with_the_request_and_its_due_date(application, ministry_user):
    due = timezone.localdate() + timedelta(days=15)
    send_back(application, by=ministry_user, comment="Joindre le PCA signé", due_on=due)
    application.refresh_from_db()
    assert (application.status, application.return_due_on) == ("returned", due)
    request = Message.objects.get(application=application)
    assert request.is_return_request and request.body == "Joindre le PCA signé"
    assert Transition.objects.get(application=application).actor == ministry_user
    with pytest.raises(CommentRequired):
        send_back(in_review(application.call), by=ministry_user, comment="")


def test_reconsider_moves_an_ineligible_application_to_regional_review(call, ministry_user):
    application = ApplicationFactory(call=call, status="ineligible")
    with pytest.raises(CommentRequired):
        reconsider(application, by=ministry_user, comment="")
    reconsider(application, by=ministry_user, comment="Effectif SAE corrigé par l'ARS")
    application.refresh_from_db()
    assert application.status == "regional_review"


def test_assign_to_me_only_where_the_ministry_acts(application, ministry_user, call):
    assign(application, by=ministry_user)
    application.refresh_from_db()
    assert application.assigned_to == ministry_user and application.assigned_at
    elsewhere = ApplicationFactory(call=call, status="regional_review")
    with pytest.raises(TransitionNotAllowed, match="n'attend pas d'action du ministère"):
        assign(elsewhere, by=ministry_user)


@pytest.mark.parametrize("persona", ["ars_user", "hospital_user", "other_hospital_user"])
def test_only_the_ministry_decides(request, application, persona):
    user = request.getfixturevalue(persona)
    for decide in (
        lambda: approve(application, by=user, amount=K),
        lambda: reject(application, by=user, comment="Non"),
        lambda: send_back(application, by=user, comment="Compléments"),
        lambda: assign(application, by=user),
    ):
        with pytest.raises(TransitionForbidden):
            decide()
    application.refresh_from_db()
    assert application.status == "national_review" and application.assigned_to is None
    assert not CoSignature.objects.exists() and not Transition.objects.exists()


def test_a_decision_outside_national_review_is_refused(call, ministry_user):
    application = ApplicationFactory(call=call, status="regional_review", requested_amount=K)
    with pytest.raises(TransitionNotAllowed, match="n'attend pas de décision"):
        approve(application, by=ministry_user, amount=K)
    with pytest.raises(TransitionNotAllowed):
        reject(application, by=ministry_user, comment="Non")


# --- Amounts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "supérieur à 0"),
        ("-5", "supérieur à 0"),
        ("200000.01", "dépasse le montant demandé"),
        ("beaucoup", "n'est pas un montant"),
        ("NaN", "n'est pas un montant"),
    ],
)
def test_the_granted_amount_is_positive_and_at_most_requested(
    application, ministry_user, amount, message
):
    with pytest.raises(AmountRefused, match=message):
        approve(application, by=ministry_user, amount=amount)
    application.refresh_from_db()
    assert application.status == "national_review"


def test_the_granted_amount_is_at_most_the_ceiling_of_the_covered_staff(
    call, hospital, ministry_user
):
    # Staff of the covered entities: 850 (the candidate) + 400 = 1,250.
    CeilingBracket.objects.create(call=call, min_staff=0, max_staff=999, ceiling=100 * K)
    CeilingBracket.objects.create(call=call, min_staff=1000, ceiling=180 * K)
    application = in_review(call, hospital)
    for entity in (hospital, LegalEntityFactory(staff_count=400)):
        Coverage.objects.create(call=call, application=application, legal_entity=entity)
    with pytest.raises(AmountRefused, match=r"plafond de 180.000,00 € pour un effectif de 1.250"):
        approve(application, by=ministry_user, amount=181 * K)
    approve(application, by=ministry_user, amount=180 * K)
    application.refresh_from_db()
    assert application.granted_amount == 180 * K


def test_no_bracket_for_the_staff_means_no_grant(call, hospital, ministry_user):
    CeilingBracket.objects.create(call=call, min_staff=1000, ceiling=180 * K)
    application = in_review(call, hospital)  # 850 staff, no coverage rows: the candidate
    with pytest.raises(AmountRefused, match="Aucun plafond"):
        approve(application, by=ministry_user, amount=K)


# --- The envelope -----------------------------------------------------------------------


def test_the_envelope_is_never_exceeded_and_the_refusal_gives_the_figures(call, ministry_user):
    first, second = in_review(call, requested=700 * K), in_review(call, requested=400 * K)
    approve(first, by=ministry_user, amount=700 * K)
    with pytest.raises(EnvelopeExceeded) as refused:
        approve(second, by=ministry_user, amount=300 * K + Decimal("0.01"))
    message = plain(refused.value.message)
    for figure in ("700 000,00 €", "300 000,01 €", "1 000 000,00 €", "reste 300 000,00 €"):
        assert figure in message, message
    approve(second, by=ministry_user, amount=300 * K)  # exactly the envelope
    figures = envelope_figures(call)
    assert (figures.committed, figures.remaining) == (1000 * K, Decimal("0"))


def test_committed_counts_approved_and_later_statuses_only(call, ministry_user, hospital):
    for status in ("approved", "objectives_declared", "paid", "rejected", "national_review"):
        ApplicationFactory(call=call, status=status, granted_amount=100 * K)
    paid = Application.objects.get(call=call, status="paid")
    Payment.objects.create(
        application=paid,
        tranche="balance",
        amount=60 * K,
        paid_on=timezone.localdate(),
        chorus_reference="CH-1",
        recorded_by=ministry_user,
    )
    figures = envelope_figures(call)
    assert (figures.envelope, figures.committed, figures.paid, figures.remaining) == (
        1000 * K,
        300 * K,
        60 * K,
        700 * K,
    )
    annotated = with_envelope_figures(FundingCall.objects.filter(pk=call.pk)).get()
    assert (annotated.committed, annotated.paid, annotated.remaining) == (300 * K, 60 * K, 700 * K)
    empty = with_envelope_figures(FundingCall.objects.filter(pk=FundingCallFactory().pk)).get()
    assert (empty.committed, empty.paid) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_never_exceed_the_envelope(is_postgresql):
    """20 threads approve 20 applications of one call whose amounts sum past the
    envelope, five times over: the committed total never exceeds it, and every thread
    refused was told so with the figures."""
    if not is_postgresql:
        pytest.skip("row locks (select_for_update) need PostgreSQL")
    approver = ministry("envelope@sante.gouv.test")
    for run in range(5):
        call = FundingCallFactory(envelope=Decimal("1000000"))
        amounts = [Decimal(50000 + 7919 * ((i * (run + 3)) % 13)) for i in range(20)]
        assert sum(amounts) > call.envelope
        applications = [
            in_review(call, requested=amount, reference=f"CONC-{run}-{i:02d}")
            for i, amount in enumerate(amounts)
        ]
        outcomes: dict[int, object] = {}
        barrier = threading.Barrier(len(applications))

        def attempt(application, amount, barrier=barrier, outcomes=outcomes):
            try:
                barrier.wait()
                approve(Application.objects.get(pk=application.pk), by=approver, amount=amount)
                outcomes[application.pk] = "approved"
            except ApplicationError as error:
                outcomes[application.pk] = error
            finally:
                connection.close()

        threads = [
            threading.Thread(target=attempt, args=(a, amount))
            for a, amount in zip(applications, amounts, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        figures = envelope_figures(call)
        assert figures.committed <= call.envelope
        approved = Application.objects.filter(call=call, status="approved")
        assert figures.committed == sum(a.granted_amount for a in approved)
        refused = [o for o in outcomes.values() if o != "approved"]
        assert len(outcomes) == 20 and refused, outcomes
        for refusal in refused:
            assert isinstance(refusal, EnvelopeExceeded), refusal
            assert "enveloppe de l'appel" in refusal.message and "reste" in refusal.message
        # The committed total only grows: a refused amount does not fit in the end either.
        for application, amount in zip(applications, amounts, strict=True):
            if outcomes[application.pk] != "approved":
                assert figures.committed + amount > call.envelope
        assert approved.count() == 20 - len(refused)


# --- Four-eyes ----------------------------------------------------------------------------


@pytest.fixture
def threshold_call(db):
    return FundingCallFactory(envelope=Decimal("1000000"), second_approval_above=100 * K)


def test_below_the_threshold_one_signature_is_enough(threshold_call, ministry_user):
    application = in_review(threshold_call)
    approve(application, by=ministry_user, amount=100 * K)
    application.refresh_from_db()
    assert application.status == "approved" and not CoSignature.objects.exists()


def test_above_the_threshold_a_second_ministry_user_must_approve(
    threshold_call, ministry_user, second_ministry_user
):
    application = in_review(threshold_call)
    pending = approve(application, by=ministry_user, amount=150 * K, comment="Priorité régionale")
    assert isinstance(pending, CoSignature) and pending.state == "pending"
    application.refresh_from_db()
    assert application.status == "national_review" and application.granted_amount is None
    # The same user cannot sign twice.
    with pytest.raises(CoSignatureRequired, match="autre agent du ministère"):
        approve(application, by=ministry_user, amount=150 * K)
    # A second user must approve the same amount.
    with pytest.raises(CoSignatureRequired, match="même montant"):
        approve(application, by=second_ministry_user, amount=140 * K)
    record = approve(application, by=second_ministry_user, amount=150 * K)
    application.refresh_from_db()
    assert application.status == "approved" and application.granted_amount == 150 * K
    assert record.actor == second_ministry_user and record.comment == "Priorité régionale"
    pending.refresh_from_db()
    assert (pending.state, pending.signed_by) == ("signed", second_ministry_user)


def test_a_co_signature_waits_even_below_the_threshold(
    threshold_call, ministry_user, second_ministry_user
):
    """While a co-signature waits, a smaller amount by another user is refused too:
    the pending one is cancelled first."""
    application = in_review(threshold_call)
    approve(application, by=ministry_user, amount=150 * K)
    with pytest.raises(CoSignatureRequired):
        approve(application, by=second_ministry_user, amount=90 * K)
    cancelled = cancel_co_signature(application, by=second_ministry_user)
    assert cancelled.state == "cancelled"
    approve(application, by=second_ministry_user, amount=90 * K)
    application.refresh_from_db()
    assert application.granted_amount == 90 * K
    with pytest.raises(CoSignatureRequired, match="Aucune co-signature"):
        cancel_co_signature(application, by=ministry_user)


def test_the_co_signature_checks_the_envelope_again(
    threshold_call, ministry_user, second_ministry_user
):
    application = in_review(threshold_call, requested=600 * K)
    approve(application, by=ministry_user, amount=600 * K)  # pending
    approve(in_review(threshold_call, requested=500 * K), by=ministry_user, amount=100 * K)
    ApplicationFactory(call=threshold_call, status="approved", granted_amount=350 * K)
    with pytest.raises(EnvelopeExceeded):
        approve(application, by=second_ministry_user, amount=600 * K)
    assert CoSignature.objects.get(application=application).state == "pending"


def test_a_rejection_ends_a_waiting_co_signature(
    threshold_call, ministry_user, second_ministry_user
):
    application = in_review(threshold_call)
    approve(application, by=ministry_user, amount=150 * K)
    reject(application, by=second_ministry_user, comment="Finalement hors priorités")
    assert CoSignature.objects.get(application=application).state == "cancelled"


# --- Recusal ------------------------------------------------------------------------------


def test_a_user_in_conflict_decides_nothing(application, ministry_user, call):
    covered = LegalEntityFactory(name="Clinique couverte")
    Coverage.objects.create(call=call, application=application, legal_entity=covered)
    conflict_declare(user=ministry_user, legal_entity_id=covered.id, reason="Ancien directeur")
    for decide in (
        lambda: approve(application, by=ministry_user, amount=K),
        lambda: reject(application, by=ministry_user, comment="Non"),
        lambda: send_back(application, by=ministry_user, comment="Compléments"),
        lambda: assign(application, by=ministry_user),
    ):
        with pytest.raises(ConflictOfInterest, match=application.reference):
            decide()
    report = approve_many([application], by=ministry_user)
    assert report[0].outcome == Outcome.REFUSED and application.reference in report[0].message
    application.refresh_from_db()
    assert application.status == "national_review"


def test_a_member_of_the_candidate_cannot_reconsider_it(call, ministry_user):
    application = ApplicationFactory(call=call, status="ineligible")
    MembershipFactory(
        user=ministry_user,
        role=Membership.Role.ESTABLISHMENT,
        legal_entity=application.candidate,
    )
    with pytest.raises(ConflictOfInterest):
        reconsider(application, by=ministry_user, comment="Revoir")


# --- Many at once -------------------------------------------------------------------------


def test_approve_many_reports_each_application(threshold_call, ministry_user):
    threshold_call.envelope = 400 * K
    threshold_call.save()
    proposed = in_review(threshold_call, requested=90 * K, proposed_amount=80 * K)
    requested = in_review(threshold_call, requested=70 * K)
    large = in_review(threshold_call, requested=150 * K)  # above the threshold
    wrong_status = ApplicationFactory(call=threshold_call, status="regional_review")
    too_much = in_review(threshold_call, requested=300 * K)
    report = approve_many(
        [proposed, requested, large, wrong_status, too_much, proposed], by=ministry_user
    )
    assert [e.reference for e in report] == [
        a.reference for a in (proposed, requested, large, wrong_status, too_much)
    ]
    assert [e.outcome for e in report] == ["done", "done", "pending", "refused", "refused"]
    assert [e.ok for e in report] == [True, True, True, False, False]
    assert (report.done, report.pending, report.refused) == (2, 1, 2)
    assert "80" in report[0].message and "co-signature" in report[2].message
    assert "n'attend pas de décision" in report[3].message
    assert "enveloppe" in report[4].message  # 150 committed + 300 > 400
    granted = dict(Application.objects.values_list("reference", "granted_amount"))
    assert granted[proposed.reference] == 80 * K and granted[requested.reference] == 70 * K
    assert Application.objects.get(pk=too_much.pk).status == "national_review"


def test_approve_many_takes_the_given_amounts(call, ministry_user):
    first, second = in_review(call), in_review(call)
    report = approve_many(
        [first.pk, second.pk], by=ministry_user, amounts={first.pk: "123456.78", second.pk: "0"}
    )
    assert [e.outcome for e in report] == ["done", "refused"]
    assert Application.objects.get(pk=first.pk).granted_amount == Decimal("123456.78")


def test_decide_many_rejects_sends_back_and_reports_unknown_ids(call, ministry_user):
    first, second = in_review(call), in_review(call)
    with pytest.raises(CommentRequired):
        decide_many("reject", [first], by=ministry_user, comment="")
    report = decide_many("reject", [first, 999999], by=ministry_user, comment="Hors priorités")
    assert [(e.outcome, e.application_id) for e in report] == [
        ("refused", 999999),
        ("done", first.pk),
    ]
    assert "n'existe plus" in report[0].message and report[1].message == "Refusée"
    report = decide_many("send_back", [second], by=ministry_user, comment="Le budget détaillé")
    assert report[0].ok and Application.objects.get(pk=second.pk).status == "returned"
    with pytest.raises(TransitionForbidden, match="500"):
        decide_many("assign", list(range(1, 502)), by=ministry_user)


def test_decide_many_reads_in_a_constant_number_of_queries(call, ministry_user):
    """The facts of a batch (conflicts, staff, brackets, co-signatures) are read once;
    then each application costs the same few queries whatever the batch size."""
    CeilingBracket.objects.create(call=call, min_staff=0, ceiling=900 * K)

    def queries_for(count: int) -> int:
        batch = [in_review(call, requested=K) for _ in range(count)]
        with CaptureQueriesContext(connection) as captured:
            report = approve_many(batch, by=ministry_user)
        assert report.done == count
        return len(captured)

    queries_for(1)  # the user's scope, read once and kept
    two, twelve = queries_for(2), queries_for(12)
    per_application = (twelve - two) / 10
    # Its savepoint, the transition's (UPDATE, Transition, audit event): no read.
    assert per_application == 7
    assert two - 2 * per_application <= 8  # the locked call, its total, the facts


# --- The decision letter and the e-mail ---------------------------------------------------


def test_an_approval_mails_the_applicant_and_renders_the_letter(
    hospital, hospital_user, ministry_user, django_capture_on_commit_callbacks
):
    from .test_pdf import make_dossier_application, pages_text

    application = make_dossier_application(hospital, score=False)
    Application.objects.filter(pk=application.pk).update(status="national_review")
    application.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        approve(application, by=ministry_user, amount="187500", comment="Projet prioritaire")
    # The e-mail: to the applicant, with the page where the letter is downloaded.
    sent = [m for m in mail.outbox if hospital_user.email in m.to]
    assert len(sent) == 1
    body = sent[0].body
    assert application.reference in body and "Accordée" in body
    assert f"/candidatures/{application.public_id}/" in body and "lettre de décision" in body
    # The letter, rendered by the (eager) PDF task: the amount and the motivation.
    letter = Dossier.objects.get(application=application, kind="decision")
    assert letter.status == "done"
    text = "\n".join(pages_text(letter.file.read()))
    assert "Votre candidature est retenue" in text
    assert "187" in text and "500,00" in text and "Projet prioritaire" in text
    assert len(PdfReader(letter.file.open("rb")).pages) >= 1


def test_a_rejection_letter_gives_the_motivation_and_is_listed_on_the_page(
    client, hospital, hospital_user, ministry_user, django_capture_on_commit_callbacks
):
    from .test_pdf import make_dossier_application, pages_text

    application = make_dossier_application(hospital, score=False)
    Application.objects.filter(pk=application.pk).update(status="national_review")
    application.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        reject(application, by=ministry_user, comment="Aucun objectif mesurable")
    letter = Dossier.objects.get(application=application, kind="decision")
    text = "\n".join(pages_text(letter.file.read()))
    assert "n'est pas retenue" in text and "Aucun objectif mesurable" in text
    assert any("Aucun objectif mesurable" in m.body for m in mail.outbox)
    client.force_login(hospital_user)
    page = client.get(f"/candidatures/{application.public_id}/").content.decode()
    assert "Lettre de décision" in page and str(letter.public_id) in page
    download = client.get(
        reverse("applications:dossier-download", args=[application.public_id, letter.public_id])
    )
    assert download.status_code == 200
