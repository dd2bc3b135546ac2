"""Tracking to payment: objectives declared with their evidence before the deadline,
checked by the ARS, validated by the ministry, paid in tranches; the pages and the
admin, each for the right role and scope only."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications import tracking
from applications.evidence import EvidenceRejected
from applications.lifecycle import application_transition
from applications.models import (
    Application,
    ConflictDeclaration,
    Evidence,
    ObjectiveDeclaration,
    Payment,
    Transition,
)
from applications.tracking import ObjectiveCheck
from care_portal.errors import (
    AmountRefused,
    ApplicationError,
    CommentRequired,
    ConflictOfInterest,
    TransitionForbidden,
    TransitionNotAllowed,
)

from ..factories import ApplicationFactory, FundingCallFactory, RequirementFactory

GRANTED = Decimal("100000.00")
TODAY = timezone.localdate


@pytest.fixture
def call(db):
    call = FundingCallFactory(code="D2-SUIVI", objectives_deadline=TODAY() + timedelta(days=30))
    RequirementFactory(call=call, identifier="D2.P1", kind="prerequisite")
    RequirementFactory(
        call=call,
        identifier="D2.O1",
        kind="objective",
        label="Exercice de crise réalisé",
        evidence="Compte rendu d'exercice",
        evidence_stage="declaration",
        position=1,
    )
    RequirementFactory(
        call=call, identifier="D2.O2", kind="objective", evidence_stage="none", position=2
    )
    return call


def approve(application, ministry_user, amount=GRANTED):
    application_transition(application=application, to="approved", by=ministry_user, amount=amount)
    return application


@pytest.fixture
def approved(call, hospital, ministry_user):
    application = ApplicationFactory(call=call, candidate=hospital, status="national_review")
    return approve(application, ministry_user)


def objective(call, identifier):
    return call.requirements.get(identifier=identifier)


def report(name="compte-rendu.txt", content=b"Compte rendu de l'exercice de crise\n"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def declare_all(application, user):
    call = application.call
    o1, o2 = objective(call, "D2.O1"), objective(call, "D2.O2")
    tracking.declaration_add_evidence(
        application=application, requirement=o1, by=user, uploaded_file=report()
    )
    tracking.declaration_save(application=application, requirement=o1, by=user, comment="Fait")
    tracking.declaration_save(application=application, requirement=o2, by=user, comment="Fait")
    return tracking.declare_objectives(application, by=user)


def accept_all(application, ars_user):
    decisions = {
        r.pk: ObjectiveCheck(True) for r in tracking.objective_requirements(application.call)
    }
    return tracking.check_objectives(application, by=ars_user, decisions=decisions)


@pytest.fixture
def declared(approved, hospital_user):
    declare_all(approved, hospital_user)
    return approved


@pytest.fixture
def checked(declared, ars_user):
    accept_all(declared, ars_user)
    return declared


@pytest.fixture
def validated(checked, ministry_user):
    tracking.validate_objectives(checked, by=ministry_user)
    return checked


def pay(application, user, amount, tranche="balance", reference="CHORUS-2026-0001"):
    return tracking.record_payment(
        application,
        by=user,
        amount=Decimal(amount),
        paid_on=TODAY(),
        chorus_reference=reference,
        tranche=tranche,
    )


def status_of(application):
    return Application.objects.values_list("status", flat=True).get(pk=application.pk)


# --- The establishment's declaration --------------------------------------------------------


def test_declaring_lists_every_missing_objective_and_evidence(approved, hospital_user):
    with pytest.raises(tracking.ObjectivesIncomplete) as refused:
        tracking.declare_objectives(approved, by=hospital_user)
    assert [line.split(" – ")[0] for line in refused.value.missing] == ["D2.O1", "D2.O2"]
    assert "objectif non déclaré" in refused.value.message

    o1, o2 = objective(approved.call, "D2.O1"), objective(approved.call, "D2.O2")
    tracking.declaration_save(application=approved, requirement=o1, by=hospital_user, comment="")
    tracking.declaration_save(application=approved, requirement=o2, by=hospital_user, comment="")
    with pytest.raises(tracking.ObjectivesIncomplete) as refused:
        tracking.declare_objectives(approved, by=hospital_user)
    # O2 asks for no evidence at the declaration; O1 does.
    assert len(refused.value.missing) == 1
    assert "D2.O1" in refused.value.missing[0]
    assert "pièce justificative manquante (Compte rendu d'exercice)" in refused.value.message
    assert status_of(approved) == "approved"


def test_declaring_with_the_evidence_moves_to_objectives_declared(approved, hospital_user):
    record = declare_all(approved, hospital_user)
    assert (record.from_status, record.to_status, record.actor) == (
        "approved",
        "objectives_declared",
        hospital_user,
    )
    assert status_of(approved) == "objectives_declared"
    evidence = Evidence.objects.get(application=approved)
    assert evidence.declaration.requirement.identifier == "D2.O1"
    assert evidence.answer is None
    assert evidence.content_type.startswith("text/plain")


def test_evidence_goes_through_the_upload_checks(approved, hospital_user):
    fake_pdf = SimpleUploadedFile(
        "rapport.pdf", b"not a pdf at all", content_type="application/pdf"
    )
    with pytest.raises(EvidenceRejected) as refused:
        tracking.declaration_add_evidence(
            application=approved,
            requirement=objective(approved.call, "D2.O1"),
            by=hospital_user,
            uploaded_file=fake_pdf,
        )
    assert "rapport.pdf" in str(refused.value)
    assert not Evidence.objects.exists()
    assert not ObjectiveDeclaration.objects.exists()


def test_nothing_is_declared_after_the_deadline(approved, hospital_user, call):
    call.objectives_deadline = TODAY() - timedelta(days=1)
    call.save()
    approved.call.refresh_from_db()
    o2 = objective(call, "D2.O2")
    with pytest.raises(tracking.DeadlinePassed) as refused:
        tracking.declaration_save(
            application=approved, requirement=o2, by=hospital_user, comment=""
        )
    assert "date limite" in refused.value.message
    with pytest.raises(tracking.DeadlinePassed):
        tracking.declare_objectives(approved, by=hospital_user)
    with pytest.raises(tracking.DeadlinePassed):
        tracking.declaration_add_evidence(
            application=approved, requirement=o2, by=hospital_user, uploaded_file=report()
        )
    assert not ObjectiveDeclaration.objects.exists()


def test_only_the_candidates_users_declare(approved, request):
    o2 = objective(approved.call, "D2.O2")
    for persona in ("ars_user", "ministry_user", "other_hospital_user"):
        user = request.getfixturevalue(persona)
        with pytest.raises(TransitionForbidden):
            tracking.declaration_save(application=approved, requirement=o2, by=user, comment="")
        with pytest.raises(TransitionForbidden):
            tracking.declare_objectives(approved, by=user)


def test_a_prerequisite_is_no_objective(approved, hospital_user):
    with pytest.raises(ApplicationError, match="n'est pas un objectif"):
        tracking.declaration_save(
            application=approved,
            requirement=approved.call.requirements.get(identifier="D2.P1"),
            by=hospital_user,
            comment="",
        )


# --- The ARS's check --------------------------------------------------------------------------


def test_ars_accepting_every_objective_moves_to_checked(declared, ars_user):
    record = accept_all(declared, ars_user)
    assert record.to_status == "objectives_checked"
    assert set(ObjectiveDeclaration.objects.values_list("state", flat=True)) == {"accepted"}
    assert set(ObjectiveDeclaration.objects.values_list("reviewed_by", flat=True)) == {ars_user.pk}


def test_ars_return_sends_back_to_approved_with_the_reasons(declared, ars_user, hospital_user):
    o1, o2 = objective(declared.call, "D2.O1"), objective(declared.call, "D2.O2")
    record = tracking.check_objectives(
        declared,
        by=ars_user,
        decisions={
            o1.pk: ObjectiveCheck(False, "Compte rendu non signé"),
            o2.pk: ObjectiveCheck(True),
        },
    )
    assert (record.from_status, record.to_status) == ("objectives_declared", "approved")
    assert record.comment == "D2.O1 : Compte rendu non signé"
    returned = ObjectiveDeclaration.objects.get(requirement=o1)
    assert (returned.state, returned.review_comment) == ("returned", "Compte rendu non signé")
    assert ObjectiveDeclaration.objects.get(requirement=o2).state == "accepted"

    # Re-declared, the returned objective is checked again; the accepted one stays.
    with pytest.raises(tracking.ObjectivesIncomplete):
        tracking.declare_objectives(declared, by=hospital_user)
    with pytest.raises(ApplicationError, match="accepté par l'ARS"):
        tracking.declaration_save(
            application=declared, requirement=o2, by=hospital_user, comment=""
        )
    tracking.declaration_save(
        application=declared, requirement=o1, by=hospital_user, comment="Signé cette fois"
    )
    tracking.declare_objectives(declared, by=hospital_user)
    with pytest.raises(ApplicationError, match=r"D2\.O1"):
        tracking.check_objectives(declared, by=ars_user, decisions={})
    tracking.check_objectives(declared, by=ars_user, decisions={o1.pk: ObjectiveCheck(True)})
    assert status_of(declared) == "objectives_checked"


def test_a_return_needs_a_reason_and_changes_nothing_without(declared, ars_user):
    o1, o2 = objective(declared.call, "D2.O1"), objective(declared.call, "D2.O2")
    with pytest.raises(CommentRequired, match=r"D2\.O1"):
        tracking.check_objectives(
            declared,
            by=ars_user,
            decisions={o2.pk: ObjectiveCheck(True), o1.pk: ObjectiveCheck(False, "  ")},
        )
    assert status_of(declared) == "objectives_declared"
    assert set(ObjectiveDeclaration.objects.values_list("state", flat=True)) == {"declared"}


@pytest.mark.parametrize(
    "persona", ["hospital_user", "ministry_user", "other_region_ars_user", "other_hospital_user"]
)
def test_only_the_regions_ars_checks(declared, request, persona):
    with pytest.raises(TransitionForbidden):
        accept_all(declared, request.getfixturevalue(persona))
    assert status_of(declared) == "objectives_declared"


def test_an_ars_agent_in_conflict_cannot_check(declared, ars_user, hospital):
    ConflictDeclaration.objects.create(user=ars_user, legal_entity=hospital, reason="Ancien poste")
    with pytest.raises(ConflictOfInterest):
        accept_all(declared, ars_user)


# --- The ministry: validating, returning --------------------------------------------------


def test_ministry_validates_the_checked_objectives(checked, ministry_user):
    record = tracking.validate_objectives(checked, by=ministry_user)
    assert (record.to_status, record.actor) == ("objectives_validated", ministry_user)


def test_ministry_returns_the_objectives_with_a_comment(checked, ministry_user):
    with pytest.raises(CommentRequired):
        tracking.return_objectives(checked, by=ministry_user, comment=" ")
    record = tracking.return_objectives(checked, by=ministry_user, comment="Pièces illisibles")
    assert (record.to_status, record.comment) == ("approved", "Pièces illisibles")
    assert set(ObjectiveDeclaration.objects.values_list("state", "review_comment")) == {
        ("returned", "Pièces illisibles")
    }


@pytest.mark.parametrize("persona", ["hospital_user", "ars_user"])
def test_only_the_ministry_validates(checked, request, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(TransitionForbidden):
        tracking.validate_objectives(checked, by=user)
    with pytest.raises(TransitionForbidden):
        tracking.return_objectives(checked, by=user, comment="Non")


def test_a_ministry_user_in_conflict_neither_validates_nor_pays(checked, ministry_user, hospital):
    ConflictDeclaration.objects.create(user=ministry_user, legal_entity=hospital, reason="Parent")
    with pytest.raises(ConflictOfInterest):
        tracking.validate_objectives(checked, by=ministry_user)
    with pytest.raises(ConflictOfInterest):
        pay(checked, ministry_user, "10", tranche="advance")


def test_validating_before_the_check_is_refused(declared, ministry_user):
    with pytest.raises(TransitionNotAllowed):
        tracking.validate_objectives(declared, by=ministry_user)


# --- Payments -----------------------------------------------------------------------------


def test_the_balance_up_to_the_granted_amount_moves_to_paid(validated, ministry_user):
    pay(validated, ministry_user, "40000")
    assert status_of(validated) == "objectives_validated"
    with pytest.raises(AmountRefused, match="reste à verser : 60"):
        pay(validated, ministry_user, "60000.01")
    pay(validated, ministry_user, "60000", reference="CHORUS-2026-0002")
    validated.refresh_from_db()
    assert validated.status == "paid"
    assert validated.paid_amount == GRANTED
    last = Transition.objects.filter(application=validated).last()
    assert (last.to_status, last.actor) == ("paid", ministry_user)
    with pytest.raises(TransitionNotAllowed):
        pay(validated, ministry_user, "1")
    assert Payment.objects.count() == 2


@pytest.mark.parametrize(
    ("amount", "reference", "message"),
    [
        ("0", "CHORUS-1", "positif"),
        ("-5", "CHORUS-1", "positif"),
        ("10.001", "CHORUS-1", "centimes"),
        ("10", "", "référence Chorus"),
        ("10", "  ", "référence Chorus"),
        ("10", "x" * 41, "référence Chorus"),
        ("10", "<script>", "référence Chorus"),
    ],
)
def test_bad_payments_are_refused_with_the_reason(
    validated, ministry_user, amount, reference, message
):
    with pytest.raises(AmountRefused, match=message):
        pay(validated, ministry_user, amount, reference=reference)
    assert not Payment.objects.exists()


def test_a_payment_date_in_the_future_is_refused(validated, ministry_user):
    with pytest.raises(AmountRefused, match="futur"):
        tracking.record_payment(
            validated,
            by=ministry_user,
            amount=Decimal("10"),
            paid_on=TODAY() + timedelta(days=1),
            chorus_reference="CHORUS-1",
            tranche="balance",
        )


def test_the_balance_waits_for_the_validated_objectives(checked, ministry_user):
    with pytest.raises(AmountRefused, match="objectifs validés"):
        pay(checked, ministry_user, "1000")


def test_no_advance_when_the_call_pays_in_one_go(approved, ministry_user):
    with pytest.raises(AmountRefused, match="ne prévoit pas d'avance"):
        pay(approved, ministry_user, "1000", tranche="advance")


def test_advance_up_to_the_calls_rate_once_approved(
    approved, ministry_user, hospital_user, ars_user
):
    approved.call.advance_rate = Decimal("30")
    approved.call.save()
    with pytest.raises(AmountRefused, match=r"30\s000,00"):
        pay(approved, ministry_user, "30000.01", tranche="advance")
    pay(approved, ministry_user, "20000", tranche="advance")
    with pytest.raises(AmountRefused, match=r"10\s000,00"):
        pay(approved, ministry_user, "10000.01", tranche="advance")
    pay(approved, ministry_user, "10000", tranche="advance", reference="CHORUS-2")
    assert status_of(approved) == "approved"  # an advance never moves the status

    declare_all(approved, hospital_user)
    accept_all(approved, ars_user)
    tracking.validate_objectives(approved, by=ministry_user)
    with pytest.raises(AmountRefused, match="entre l'accord et la validation"):
        pay(approved, ministry_user, "1", tranche="advance")
    summary = tracking.payment_summary(approved)
    assert (summary.paid, summary.remainder) == (Decimal("30000"), Decimal("70000"))
    pay(approved, ministry_user, "70000", reference="CHORUS-3")
    approved.refresh_from_db()
    assert (approved.status, approved.paid_amount) == ("paid", GRANTED)


@pytest.mark.parametrize("persona", ["hospital_user", "ars_user"])
def test_only_the_ministry_pays(validated, request, persona):
    with pytest.raises(TransitionForbidden):
        pay(validated, request.getfixturevalue(persona), "10")


@pytest.mark.django_db(transaction=True)
def test_two_payments_at_once_never_exceed_the_granted_amount(
    call, hospital, hospital_user, ars_user, ministry_user, is_postgresql
):
    if not is_postgresql:
        pytest.skip("row locks need PostgreSQL")
    application = approve(
        ApplicationFactory(call=call, candidate=hospital, status="national_review"), ministry_user
    )
    declare_all(application, hospital_user)
    accept_all(application, ars_user)
    tracking.validate_objectives(application, by=ministry_user)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(n: int) -> None:
        try:
            mine = Application.objects.select_related("call", "candidate__department").get(
                pk=application.pk
            )
            barrier.wait()
            pay(mine, ministry_user, "60000", reference=f"CHORUS-{n}")
            outcomes.append("paid")
        except AmountRefused as error:
            outcomes.append(error.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[1] == "paid"
    assert "dépasse le reste à verser" in sorted(outcomes)[0]
    assert Payment.objects.count() == 1


# --- The full path through the services ---------------------------------------------------


def test_full_path_approved_to_paid_through_the_services(
    approved, hospital_user, ars_user, ministry_user
):
    declare_all(approved, hospital_user)
    accept_all(approved, ars_user)
    tracking.validate_objectives(approved, by=ministry_user)
    pay(approved, ministry_user, str(GRANTED))
    moves = list(
        Transition.objects.filter(application=approved).values_list("to_status", flat=True)
    )
    assert moves == [
        "approved",
        "objectives_declared",
        "objectives_checked",
        "objectives_validated",
        "paid",
    ]


# --- Pages --------------------------------------------------------------------------------


def url(name, application, *args):
    return reverse(f"applications:{name}", args=[application.public_id, *args])


def test_the_application_page_shows_the_tracking_stepper(
    client, hospital_user, validated, ministry_user
):
    pay(validated, ministry_user, "1000", reference="CHORUS-PAGE-1")
    client.force_login(hospital_user)
    page = client.get(url("application-detail", validated)).content.decode()
    assert "Suivi jusqu&#x27;au paiement" in page or "Suivi jusqu'au paiement" in page
    assert "Étape 4 sur 5" in page
    assert "CHORUS-PAGE-1" in page
    assert (TODAY() + timedelta(days=30)).strftime("%Y") in page


def test_objectives_page_shows_the_deadline_to_the_candidate_only(client, approved, request):
    client.force_login(request.getfixturevalue("hospital_user"))
    page = client.get(url("objectives", approved))
    assert page.status_code == 200
    assert "Date limite de déclaration des objectifs" in page.content.decode()
    assert "D2.O1" in page.content.decode()
    for persona in ("other_hospital_user", "other_region_ars_user"):
        client.force_login(request.getfixturevalue(persona))
        assert client.get(url("objectives", approved)).status_code == 404


def test_objectives_pages_do_not_exist_before_approval(client, hospital, hospital_user, call):
    application = ApplicationFactory(call=call, candidate=hospital, status="regional_review")
    client.force_login(hospital_user)
    assert client.get(url("objectives", application)).status_code == 404


def test_others_cannot_post_declarations(client, approved, ars_user, ministry_user):
    o2 = objective(approved.call, "D2.O2")
    for user in (ars_user, ministry_user):
        client.force_login(user)
        assert client.post(url("objective-save", approved, o2.pk), {}).status_code == 403
        assert client.post(url("objectives-declare", approved)).status_code == 403
    assert not ObjectiveDeclaration.objects.exists()


def test_a_refused_file_is_shown_at_its_objective_and_nothing_is_saved(
    client, approved, hospital_user
):
    client.force_login(hospital_user)
    o1 = objective(approved.call, "D2.O1")
    response = client.post(
        url("objective-save", approved, o1.pk),
        {
            f"objective-{o1.pk}-comment": "Exercice fait",
            f"objective-{o1.pk}-file": SimpleUploadedFile("cr.pdf", b"pas un pdf"),
        },
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "cr.pdf" in content and "refusé" in content
    assert "Exercice fait" in content  # the comment stays in the form
    assert not ObjectiveDeclaration.objects.exists()


def test_declaring_through_the_page_lists_what_is_missing(client, approved, hospital_user):
    client.force_login(hospital_user)
    response = client.post(url("objectives-declare", approved))
    assert response.status_code == 400
    assert "objectif non déclaré" in response.content.decode()
    assert status_of(approved) == "approved"


def test_check_page_is_for_the_regions_ars_only(client, declared, request):
    expected = {
        "ars_user": 200,
        "other_region_ars_user": 404,
        "other_hospital_user": 404,
        "hospital_user": 403,
        "ministry_user": 403,
    }
    for persona, status in expected.items():
        client.force_login(request.getfixturevalue(persona))
        assert client.get(url("objectives-check", declared)).status_code == status, persona
        assert client.post(url("objectives-check", declared)).status_code in (status, 400)
    assert status_of(declared) == "objectives_declared"


def test_the_instruction_page_leads_the_ars_to_the_objectives_check(
    client, declared, ars_user, django_assert_max_num_queries
):
    """The queue's tab "Objectifs à vérifier" opens the instruction page: it shows the
    tracking panel, with the link to the check."""
    client.force_login(ars_user)
    with django_assert_max_num_queries(40):
        response = client.get(reverse("instruction:detail", args=[declared.public_id]))
    page = response.content.decode()
    assert "Étape 2 sur 5" in page
    assert f'href="{url("objectives-check", declared)}"' in page
    # Before approval, no tracking panel.
    Application.objects.filter(pk=declared.pk).update(status="regional_review")
    page = client.get(reverse("instruction:detail", args=[declared.public_id])).content.decode()
    assert url("objectives-check", declared) not in page


def test_check_page_return_without_a_reason_is_an_error_at_the_field(client, declared, ars_user):
    client.force_login(ars_user)
    o1, o2 = objective(declared.call, "D2.O1"), objective(declared.call, "D2.O2")
    response = client.post(
        url("objectives-check", declared),
        {f"objective-{o1.pk}-decision": "return", f"objective-{o2.pk}-decision": "accept"},
    )
    assert response.status_code == 400
    assert "Indiquez le motif du renvoi." in response.content.decode()
    assert status_of(declared) == "objectives_declared"


# --- The admin ----------------------------------------------------------------------------


CHANGELIST = "admin:applications_fundedapplication_changelist"


def payment_url(application):
    return reverse("admin:applications_fundedapplication_payment", args=[application.pk])


def test_admin_lists_what_waits_at_each_step(
    client, ministry_user, validated, declared_other, call, other_hospital
):
    client.force_login(ministry_user)

    def listed(**params):
        response = client.get(reverse(CHANGELIST), params)
        assert response.status_code == 200
        return {a.reference for a in response.context["cl"].result_list}

    assert listed() == {validated.reference, declared_other.reference}
    assert listed(step="to_pay") == {validated.reference}
    assert listed(step="declared") == {declared_other.reference}
    assert listed(step="to_declare") == set()
    call.objectives_deadline = TODAY() - timedelta(days=1)
    call.save()
    assert listed(step="deadline_passed") == set()
    late = approve(
        ApplicationFactory(
            call=FundingCallFactory(objectives_deadline=TODAY() - timedelta(days=2)),
            candidate=other_hospital,
            status="national_review",
        ),
        ministry_user,
    )
    assert listed(step="deadline_passed") == {late.reference}
    assert listed(step="to_declare") == {late.reference}


def test_admin_changelist_runs_the_same_queries_for_few_and_many(
    client, ministry_user, call, django_assert_max_num_queries
):
    client.force_login(ministry_user)

    def grant(n):
        for _ in range(n):
            approve(ApplicationFactory(call=call, status="national_review"), ministry_user)

    grant(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(CHANGELIST)).status_code == 200
    grant(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse(CHANGELIST)).status_code == 200


def post_payment(client, application, amount, reference="CHORUS-1"):
    data = {
        "amount": amount,
        "paid_on": TODAY().isoformat(),
        "chorus_reference": reference,
        "tranche": "balance",
    }
    return client.post(payment_url(application), data)


def test_establishment_and_ars_users_have_no_tracking_admin(
    client, hospital_user, ars_user, validated
):
    for user in (hospital_user, ars_user):
        client.force_login(user)
        assert client.get(reverse(CHANGELIST)).status_code == 302
        assert client.get(payment_url(validated)).status_code == 302
        assert post_payment(client, validated, "10").status_code == 302
    assert not Payment.objects.exists()


def test_admin_payment_refusal_is_shown_and_nothing_is_recorded(client, ministry_user, validated):
    client.force_login(ministry_user)
    assert client.get(payment_url(validated)).status_code == 200
    response = post_payment(client, validated, "100000.01")
    assert response.status_code == 400
    assert "dépasse le reste à verser" in response.content.decode()
    assert not Payment.objects.exists()


def test_admin_return_action_needs_a_comment(client, ministry_user, checked):
    client.force_login(ministry_user)
    data = {"action": "return_objectives", ACTION_CHECKBOX_NAME: [checked.pk]}
    first = client.post(reverse(CHANGELIST), {**data, "index": 0})
    assert first.status_code == 200
    assert checked.reference in first.content.decode()
    empty = client.post(reverse(CHANGELIST), {**data, "confirm": "1", "comment": ""})
    assert empty.status_code == 400
    assert "Un motif est obligatoire" in empty.content.decode()
    assert status_of(checked) == "objectives_checked"
    done = client.post(reverse(CHANGELIST), {**data, "confirm": "1", "comment": "Pièces floues"})
    assert done.status_code == 302
    assert status_of(checked) == "approved"
    assert ObjectiveDeclaration.objects.filter(state="returned").count() == 2


def test_admin_validate_action_reports_each_application(
    client, ministry_user, checked, declared_other
):
    client.force_login(ministry_user)
    data = {
        "action": "validate_objectives",
        ACTION_CHECKBOX_NAME: [checked.pk, declared_other.pk],
        "confirm": "1",
    }
    response = client.post(reverse(CHANGELIST), data, follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert f"{checked.reference} : objectifs validés." in texts
    assert any(t.startswith(f"{declared_other.reference} : refusé.") for t in texts)
    assert status_of(checked) == "objectives_validated"
    assert status_of(declared_other) == "objectives_declared"


@pytest.fixture
def declared_other(call, other_hospital, other_hospital_user, ministry_user):
    application = approve(
        ApplicationFactory(call=call, candidate=other_hospital, status="national_review"),
        ministry_user,
    )
    declare_all(application, other_hospital_user)
    return application


# --- The full path through the pages and the admin ----------------------------------------


def test_full_path_through_the_pages_and_the_admin(
    client, approved, hospital_user, ars_user, ministry_user
):
    o1, o2 = objective(approved.call, "D2.O1"), objective(approved.call, "D2.O2")
    client.force_login(hospital_user)
    for requirement, files in ((o1, {"file": report()}), (o2, {})):
        prefix = f"objective-{requirement.pk}"
        data = {f"{prefix}-comment": "Réalisé"} | {f"{prefix}-{k}": v for k, v in files.items()}
        response = client.post(url("objective-save", approved, requirement.pk), data)
        assert response.status_code == 302, response.content.decode()[:2000]
    assert client.post(url("objectives-declare", approved)).status_code == 302
    assert status_of(approved) == "objectives_declared"

    client.force_login(ars_user)
    response = client.post(
        url("objectives-check", approved),
        {f"objective-{o1.pk}-decision": "accept", f"objective-{o2.pk}-decision": "accept"},
    )
    assert response.status_code == 302
    assert status_of(approved) == "objectives_checked"

    client.force_login(ministry_user)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "validate_objectives", ACTION_CHECKBOX_NAME: [approved.pk], "confirm": "1"},
    )
    assert response.status_code == 302
    assert status_of(approved) == "objectives_validated"
    assert post_payment(client, approved, str(GRANTED), "CHORUS-2026-42").status_code == 302
    approved.refresh_from_db()
    assert (approved.status, approved.paid_amount) == ("paid", GRANTED)
    payment = Payment.objects.get()
    assert (payment.chorus_reference, payment.recorded_by) == ("CHORUS-2026-42", ministry_user)
    client.force_login(hospital_user)
    page = client.get(url("application-detail", approved)).content.decode()
    assert "Étape 5 sur 5" in page and "CHORUS-2026-42" in page


def test_objectives_pages_run_the_same_queries_for_few_and_many_objectives(
    client, declared, call, hospital_user, ars_user
):
    def counts():
        result = []
        for user, name in ((hospital_user, "objectives"), (ars_user, "objectives-check")):
            client.force_login(user)
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url(name, declared)).status_code == 200
            result.append(len(captured.captured_queries))
        return result

    few = counts()
    for n in range(10):
        requirement = RequirementFactory(
            call=call, identifier=f"D2.O{n + 10}", kind="objective", evidence_stage="declaration"
        )
        ObjectiveDeclaration.objects.create(
            application=declared, requirement=requirement, declared_by=hospital_user
        )
    assert counts() == few
