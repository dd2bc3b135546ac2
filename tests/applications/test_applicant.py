"""The applicant side: start a draft, fill it section by section, submit once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership
from applications.drafting import (
    application_issues,
    application_save_answers,
    application_set_budget,
    application_start,
    application_submit,
    application_update_identity,
    application_withdraw,
    message_post,
)
from applications.lifecycle import application_transition
from applications.models import Application, Coverage, Evidence, Message, Transition
from care_portal.errors import (
    ApplicationError,
    ApplicationNotEditable,
    SubmissionIncomplete,
    TransitionForbidden,
)

from ..factories import (
    FundingCallFactory,
    GHTFactory,
    LegalEntityFactory,
    MembershipFactory,
    RequirementFactory,
    UserFactory,
)

IDENTITY = {
    "director_name": "Claire Directrice",
    "director_email": "direction@ch.test",
    "rssi_name": "Rémi RSSI",
    "rssi_email": "rssi@ch.test",
    "continuity_lead_name": "Paule PCA",
    "continuity_lead_email": "pca@ch.test",
}


def plan_and_objective_call(*, prerequisite: dict | None = None, **fields):
    """A call with the requirements `fill` answers: the prerequisite D2.P1 (with the
    fields `prerequisite`), and the objective D2.O1 whose evidence comes with the
    declaration."""
    call = FundingCallFactory(**fields)
    RequirementFactory(call=call, identifier="D2.P1", kind="prerequisite", **(prerequisite or {}))
    RequirementFactory(
        call=call, identifier="D2.O1", kind="objective", evidence_stage="declaration"
    )
    return call


@pytest.fixture
def call(db):
    return plan_and_objective_call(code="D2-2025")


def fill(application, user):
    application_update_identity(application=application, by=user, data=IDENTITY)
    answers = {a.requirement_id: ("met", "Fait en 2025") for a in application.answers.all()}
    application_save_answers(application=application, by=user, answers=answers)
    p1 = application.answers.get(requirement__identifier="D2.P1")
    Evidence.objects.create(
        application=application,
        answer=p1,
        file=ContentFile(b"%PDF-1.4", name="pca.pdf"),
        original_name="pca.pdf",
        content_type="application/pdf",
        size=8,
        sha256="0" * 64,
        uploaded_by=user,
    )
    application_set_budget(
        application=application,
        by=user,
        lines=[
            {"category": "consulting", "description": "Rédaction du PCA", "amount": "40000"},
            {"category": "hardware", "description": "Sauvegarde hors ligne", "amount": "25000.50"},
        ],
    )


def filled_and_submitted(draft, user):
    """The draft, filled and submitted by `user` (sworn, ineligible or not)."""
    fill(draft, user)
    application_submit(application=draft, by=user, sworn=True, accept_ineligible=True)
    draft.refresh_from_db()
    return draft


def test_start_creates_one_draft_with_blank_answers(call, hospital, hospital_user):
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    assert application.status == "draft"
    assert application.reference == f"D2-2025-{application.pk:06d}"
    assert application.answers.count() == 2
    assert list(application.coverages.values_list("legal_entity", flat=True)) == [hospital.id]
    # A double click returns the same draft.
    assert application_start(call=call, candidate=hospital, by=hospital_user) == application
    assert Application.objects.count() == 1


def test_ght_support_files_for_every_member(call):
    ght = GHTFactory()
    support = LegalEntityFactory(ght=ght, is_ght_support=True)
    members = LegalEntityFactory.create_batch(3, ght=ght)
    LegalEntityFactory(ght=ght, active=False)  # inactive members are not covered
    user = UserFactory()
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=support)
    application = application_start(call=call, candidate=support, by=user)
    covered = set(application.coverages.values_list("legal_entity", flat=True))
    assert covered == {support.id, *(m.id for m in members)}
    assert application.ght == ght


def test_a_public_member_of_a_ght_cannot_file_alone(call):
    ght = GHTFactory(name="GHT Loire")
    LegalEntityFactory(ght=ght, is_ght_support=True, name="CHU support")
    member = LegalEntityFactory(ght=ght)
    user = UserFactory()
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=member)
    with pytest.raises(ApplicationError) as excinfo:
        application_start(call=call, candidate=member, by=user)
    assert "CHU support" in excinfo.value.message
    assert not Application.objects.exists()


def test_an_entity_already_covered_cannot_be_covered_twice(call, hospital, hospital_user):
    other = Application.objects.create(call=call, candidate=LegalEntityFactory(), reference="X-1")
    Coverage.objects.create(call=call, application=other, legal_entity=hospital)
    with pytest.raises(ApplicationError) as excinfo:
        application_start(call=call, candidate=hospital, by=hospital_user)
    assert "déjà couvertes" in excinfo.value.message


def test_closed_call_and_other_establishment_are_refused(call, hospital, other_hospital_user):
    with pytest.raises(TransitionForbidden):
        application_start(call=call, candidate=hospital, by=other_hospital_user)
    closed = FundingCallFactory(
        closes_at=timezone.now() - timedelta(days=1), opens_at=timezone.now() - timedelta(days=60)
    )
    user = UserFactory()
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=hospital)
    with pytest.raises(ApplicationError) as excinfo:
        application_start(call=closed, candidate=hospital, by=user)
    assert "n'est pas ouvert" in excinfo.value.message


def test_issues_are_listed_while_drafting_and_block_submission(call, hospital, hospital_user):
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    issues = application_issues(application)
    sections = {i.section for i in issues}
    assert sections == {"identity", "answers", "budget"}
    with pytest.raises(SubmissionIncomplete) as excinfo:
        application_submit(
            application=application, by=hospital_user, sworn=True, accept_ineligible=True
        )
    assert excinfo.value.issues
    application.refresh_from_db()
    assert application.status == "draft"


def test_prerequisite_not_met_or_without_evidence_blocks(call, hospital, hospital_user):
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    fill(application, hospital_user)
    p1 = application.answers.get(requirement__identifier="D2.P1")
    application_save_answers(
        application=application, by=hospital_user, answers={p1.requirement_id: ("in_progress", "")}
    )
    messages = [i.message for i in application_issues(application)]
    assert any("D2.P1 doit être atteint" in m for m in messages)
    application_save_answers(
        application=application, by=hospital_user, answers={p1.requirement_id: ("met", "")}
    )
    p1.evidence.all().delete()
    messages = [i.message for i in application_issues(application)]
    assert any("Joignez les pièces demandées pour D2.P1" in m for m in messages)


def test_budget_total_is_the_requested_amount(call, hospital, hospital_user):
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    fill(application, hospital_user)
    application.refresh_from_db()
    assert application.requested_amount == Decimal("65000.50")
    assert application.budget_lines.count() == 2


def test_submission_is_idempotent(call, hospital, hospital_user):
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    fill(application, hospital_user)
    with pytest.raises(SubmissionIncomplete):
        application_submit(application=application, by=hospital_user, sworn=False)
    application_submit(
        application=application, by=hospital_user, sworn=True, accept_ineligible=True
    )
    replay = Application.objects.get(pk=application.pk)
    application_submit(
        application=replay, by=hospital_user, sworn=True, accept_ineligible=True
    )  # double click
    stale = Application.objects.get(pk=application.pk)
    stale.status = "draft"  # a replayed POST from an old page
    application_submit(application=stale, by=hospital_user, sworn=True, accept_ineligible=True)
    application.refresh_from_db()
    assert application.status == "submitted"
    assert application.sworn_statement and application.sworn_by == hospital_user
    assert Transition.objects.filter(application=application, to_status="submitted").count() == 1


def test_return_for_complements_reopens_and_resubmission_goes_back_to_submitted(
    call, hospital, hospital_user, ars_user
):
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    fill(application, hospital_user)
    application_submit(
        application=application, by=hospital_user, sworn=True, accept_ineligible=True
    )
    application_transition(application=application, to="regional_review", by=None)
    with pytest.raises(ApplicationNotEditable):
        application_update_identity(application=application, by=hospital_user, data=IDENTITY)
    application_transition(
        application=application, to="returned", by=ars_user, comment="Joignez le PRA signé."
    )
    request = Message.objects.get(application=application, is_return_request=True)
    assert request.body == "Joignez le PRA signé." and request.author == ars_user
    application_update_identity(application=application, by=hospital_user, data=IDENTITY)
    application_submit(
        application=application, by=hospital_user, sworn=True, accept_ineligible=True
    )
    application.refresh_from_db()
    assert application.status == "submitted"
    assert list(application.transitions.values_list("to_status", flat=True)) == [
        "submitted",
        "regional_review",
        "returned",
        "submitted",
    ]


def test_only_the_candidates_users_edit(call, hospital, hospital_user, ars_user, ministry_user):
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    for user in (ars_user, ministry_user):
        with pytest.raises(TransitionForbidden):
            application_update_identity(application=application, by=user, data=IDENTITY)


def test_messages_between_the_establishment_and_its_ars(
    call,
    hospital,
    hospital_user,
    ars_user,
    other_region_ars_user,
    django_capture_on_commit_callbacks,
):
    from django.core import mail

    application = application_start(call=call, candidate=hospital, by=hospital_user)
    with pytest.raises(ApplicationError):
        message_post(application=application, by=hospital_user, body="Question")  # draft
    fill(application, hospital_user)
    application_submit(
        application=application, by=hospital_user, sworn=True, accept_ineligible=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        message_post(application=application, by=hospital_user, body="Une question sur D2.P1")
    assert [m.to for m in mail.outbox] == [[ars_user.email]]
    with pytest.raises(TransitionForbidden):
        message_post(application=application, by=other_region_ars_user, body="Intrus")
    with pytest.raises(ApplicationError):
        message_post(application=application, by=ars_user, body="   ")


def _small_pdf() -> bytes:
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_evidence_is_stored_under_a_server_name_with_its_hash(
    call, hospital, hospital_user, django_capture_on_commit_callbacks
):
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    from applications.evidence import evidence_add, evidence_delete

    application = application_start(call=call, candidate=hospital, by=hospital_user)
    answer = application.answers.first()
    content = _small_pdf()
    upload = SimpleUploadedFile("../../PCA\u202efdp.exe.pdf", content, "application/pdf")
    evidence = evidence_add(
        application=application, answer=answer, uploaded_file=upload, by=hospital_user
    )
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.size == len(content)
    assert "\u202e" not in evidence.original_name and "/" not in evidence.original_name
    assert evidence.file.name.startswith("evidence/") and "PCA" not in evidence.file.name
    assert evidence.file.read() == content
    stored = evidence.file.name
    with django_capture_on_commit_callbacks(execute=True):
        evidence_delete(evidence=evidence, by=hospital_user)
    assert not Evidence.objects.filter(pk=evidence.pk).exists()
    assert not evidence.file.storage.exists(stored)


def test_a_disguised_executable_is_refused_and_nothing_is_stored(call, hospital, hospital_user):
    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import SimpleUploadedFile

    from applications.evidence import EvidenceRejected, evidence_add

    application = application_start(call=call, candidate=hospital, by=hospital_user)
    upload = SimpleUploadedFile("rapport.pdf", b"MZ\x90\x00" + b"\x00" * 100, "application/pdf")
    before = (
        set(default_storage.listdir("evidence")[1]) if default_storage.exists("evidence") else set()
    )
    with pytest.raises(EvidenceRejected) as excinfo:
        evidence_add(application=application, answer=None, uploaded_file=upload, by=hospital_user)
    assert "rapport.pdf" in excinfo.value.message
    assert not Evidence.objects.exists()
    after = (
        set(default_storage.listdir("evidence")[1]) if default_storage.exists("evidence") else set()
    )
    assert after == before


def test_a_withdrawn_draft_stays_visible_to_its_authors_only(
    call, hospital, hospital_user, ars_user, ministry_user
):
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    application_transition(application=application, to="withdrawn", by=hospital_user)
    assert Application.objects.visible_to(hospital_user).filter(pk=application.pk).exists()
    for user in (ars_user, ministry_user):
        assert not Application.objects.visible_to(user).filter(pk=application.pk).exists()


def test_one_applications_visibility_is_visible_tos_rule(
    call, hospital, other_hospital, hospital_user, other_hospital_user, ars_user,
    other_region_ars_user, ministry_user, django_assert_num_queries,
):  # fmt: skip
    """`is_visible_to`, which the application pages check on the application they read
    (`get_application_for`), answers as `Application.objects.visible_to` for every kind
    of user and application, and costs a query only to a covered entity's user."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import Http404

    from applications.querysets import is_visible_to
    from applications.selectors import get_application_for

    from ..factories import ApplicationFactory

    member = LegalEntityFactory(name="CH membre")
    member_user = UserFactory()
    MembershipFactory(user=member_user, role=Membership.Role.ESTABLISHMENT, legal_entity=member)
    superuser = UserFactory(is_superuser=True)  # national without a membership
    inactive = UserFactory(is_active=False)
    MembershipFactory(user=inactive, role=Membership.Role.ESTABLISHMENT, legal_entity=hospital)
    nobody = UserFactory()
    applications = {  # one per call: one application per candidate and call
        status: ApplicationFactory(candidate=hospital, status=status)
        for status in ("draft", "submitted", "regional_review", "ineligible")
    }
    applications["withdrawn draft"] = ApplicationFactory(
        candidate=hospital, status="withdrawn", submitted_at=None
    )
    applications["other region"] = ApplicationFactory(
        call=call, candidate=other_hospital, status="submitted"
    )
    for status in ("draft", "submitted"):
        covering = ApplicationFactory(candidate=hospital, status=status)
        Coverage.objects.create(call=covering.call, application=covering, legal_entity=member)
        applications[f"covering, {status}"] = covering
    users = {
        "candidate": hospital_user,
        "other candidate": other_hospital_user,
        "covered member": member_user,
        "ARS": ars_user,
        "other ARS": other_region_ars_user,
        "ministry": ministry_user,
        "superuser": superuser,
        "inactive": inactive,
        "no membership": nobody,
        "anonymous": AnonymousUser(),
    }
    for user_name, user in users.items():
        for name, application in applications.items():
            expected = Application.objects.visible_to(user).filter(pk=application.pk).exists()
            loaded = Application.objects.select_related("candidate__department").get(
                pk=application.pk
            )
            assert is_visible_to(loaded, user) is expected, (user_name, name)
            if isinstance(user, AnonymousUser):
                continue
            if expected:
                assert get_application_for(user, application.public_id) == application
            else:
                with pytest.raises(Http404):
                    get_application_for(user, application.public_id)
    with django_assert_num_queries(1) as captured:  # the application, with every join
        get_application_for(hospital_user, applications["submitted"].public_id)
    assert "applications_coverage" not in captured.captured_queries[0]["sql"]  # no self-join
    with django_assert_num_queries(2):  # and whether the member is covered
        get_application_for(member_user, applications["covering, submitted"].public_id)


def test_an_edit_from_a_stale_copy_cannot_land_on_a_withdrawn_application(
    call, hospital, hospital_user
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from applications.evidence import evidence_add

    application = application_start(call=call, candidate=hospital, by=hospital_user)
    stale = Application.objects.get(pk=application.pk)  # an open tab, still "draft"
    application_transition(application=application, to="withdrawn", by=hospital_user)
    with pytest.raises(ApplicationNotEditable):
        application_update_identity(application=stale, by=hospital_user, data=IDENTITY)
    stale.status = "draft"
    with pytest.raises(ApplicationNotEditable):
        application_set_budget(
            application=stale,
            by=hospital_user,
            lines=[{"category": "other", "description": "x", "amount": "5"}],
        )
    stale.status = "draft"
    upload = SimpleUploadedFile("pca.pdf", _small_pdf(), "application/pdf")
    with pytest.raises(ApplicationNotEditable):
        evidence_add(application=stale, answer=None, uploaded_file=upload, by=hospital_user)
    application.refresh_from_db()
    assert application.requested_amount == 0 and application.director_name == ""
    assert not application.budget_lines.exists() and not application.evidence.exists()


def test_an_ineligible_file_is_submitted_only_with_the_confirmation(call, hospital, hospital_user):
    """Without Volet 1 data nor ceiling, the preview finds this complete file ineligible:
    it is refused, nothing written, until the applicant confirms."""
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    fill(application, hospital_user)
    with pytest.raises(SubmissionIncomplete) as excinfo:
        application_submit(application=application, by=hospital_user, sworn=True)
    assert [i.field for i in excinfo.value.issues] == ["accept_ineligible"]
    assert "serait jugée inéligible" in excinfo.value.issues[0].message
    with pytest.raises(SubmissionIncomplete) as excinfo:  # both boxes said at once
        application_submit(application=application, by=hospital_user, sworn=False)
    assert [i.field for i in excinfo.value.issues] == ["sworn", "accept_ineligible"]
    application.refresh_from_db()
    assert application.status == "draft" and not application.sworn_statement
    assert not Transition.objects.filter(application=application).exists()
    application_submit(
        application=application, by=hospital_user, sworn=True, accept_ineligible=True
    )
    application.refresh_from_db()
    assert application.status == "submitted"


def test_a_message_on_an_ineligible_application_reaches_the_ministry(
    call, hospital, hospital_user, ars_user, ministry_user, django_capture_on_commit_callbacks
):
    """Only the ministry may reconsider an ineligible application: the applicant's
    request in the thread reaches it, not only the ARS."""
    from django.core import mail

    application = application_start(call=call, candidate=hospital, by=hospital_user)
    fill(application, hospital_user)
    application_submit(
        application=application, by=hospital_user, sworn=True, accept_ineligible=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        message_post(application=application, by=hospital_user, body="Question")
    assert [m.to for m in mail.outbox] == [[ars_user.email]]  # still submitted
    application_transition(application=application, to="ineligible", by=None)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message_post(application=application, by=hospital_user, body="Volet 1 atteint depuis")
    assert [sorted(m.to) for m in mail.outbox] == [sorted([ars_user.email, ministry_user.email])]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # the ministry answers
        message_post(application=application, by=ministry_user, body="Nous réexaminons")
    assert [m.to for m in mail.outbox] == [[hospital_user.email]]


def test_a_new_application_takes_the_contacts_of_the_candidates_previous_one(
    call, hospital, hospital_user, other_hospital
):
    older_call = FundingCallFactory(code="D1-2024")
    last_call = FundingCallFactory(code="D2-2024")
    first = Application.objects.create(
        call=older_call, candidate=hospital, reference="D1-2024-000001", rssi_name="Ancien RSSI"
    )
    latest = Application.objects.create(
        call=last_call, candidate=hospital, reference="D2-2024-000001", **IDENTITY
    )
    Application.objects.filter(pk=first.pk).update(created_at=latest.created_at - timedelta(days=1))
    Application.objects.create(  # another candidate's contacts are never taken
        call=FundingCallFactory(code="D2-2026"),
        candidate=other_hospital,
        reference="D2-2026-000001",
        director_name="Quelqu'un d'autre",
    )
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    application.refresh_from_db()
    assert {field: getattr(application, field) for field in IDENTITY} == IDENTITY
    # The most recent one counts, whatever its call: an older one is not mixed in.
    latest.rssi_name = ""
    latest.save(update_fields=["rssi_name"])
    application.delete()
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    application.refresh_from_db()
    assert application.rssi_name == "" and application.director_name == "Claire Directrice"


def test_a_first_application_starts_without_contacts(call, other_hospital, other_hospital_user):
    application = application_start(call=call, candidate=other_hospital, by=other_hospital_user)
    application.refresh_from_db()
    assert all(getattr(application, field) == "" for field in IDENTITY)


# --- Withdraw and start again: a withdrawn application no longer holds its place --------


def ineligible(call, candidate, user):
    """A complete application, submitted and found ineligible."""
    application = application_start(call=call, candidate=candidate, by=user)
    fill(application, user)
    application_submit(application=application, by=user, sworn=True, accept_ineligible=True)
    application_transition(application=application, to="ineligible", by=None)
    application.refresh_from_db()
    return application


def test_an_ineligible_application_withdrawn_frees_the_call_for_a_new_one(
    call, hospital, hospital_user, django_capture_on_commit_callbacks
):
    first = ineligible(call, hospital, hospital_user)
    with django_capture_on_commit_callbacks(execute=True):
        application_withdraw(application=first, by=hospital_user, comment="Volet 1 à corriger")
    assert first.coverages.get().released_at is not None
    second = application_start(call=call, candidate=hospital, by=hospital_user)
    assert second.pk != first.pk and second.status == "draft"
    assert second.reference == f"D2-2025-{second.pk:06d}" != first.reference
    second.refresh_from_db()
    # The contacts of the withdrawn one are taken; the answers start blank.
    assert {field: getattr(second, field) for field in IDENTITY} == IDENTITY
    assert second.answers.count() == 2 and not second.answers.exclude(state="").exists()
    assert list(Coverage.objects.held().values_list("application", "legal_entity")) == [
        (second.pk, hospital.pk)
    ]
    # A double click on "start" returns the same new draft; the withdrawn one stays.
    assert application_start(call=call, candidate=hospital, by=hospital_user) == second
    assert set(Application.objects.filter(call=call, candidate=hospital)) == {first, second}
    first.refresh_from_db()
    assert first.status == "withdrawn"


def test_a_second_application_is_refused_while_the_first_holds_its_place(
    call, hospital, hospital_user
):
    first = ineligible(call, hospital, hospital_user)
    with pytest.raises(ApplicationError) as excinfo:
        application_start(call=call, candidate=hospital, by=hospital_user)
    message = excinfo.value.message
    assert first.reference in message and "« Inéligible »" in message
    assert "retirez d'abord celle-ci" in message
    assert Application.objects.filter(call=call, candidate=hospital).count() == 1
    # The database refuses it too, and the model's validation says why.
    duplicate = Application(call=call, candidate=hospital, reference="D2-2025-DOUBLON")
    with pytest.raises(ValidationError) as validation:
        duplicate.validate_constraints()
    assert "une seule est possible tant qu'elle n'est pas retirée" in str(validation.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Coverage.objects.create(
            call=call, application=Application.objects.create(
                call=call, candidate=LegalEntityFactory(), reference="D2-2025-AUTRE"
            ), legal_entity=hospital,
        )  # fmt: skip
    # Withdrawn ones are many; released coverages too.
    Application.objects.create(
        call=call, candidate=hospital, reference="D2-2025-R1", status="withdrawn"
    ).coverages.create(call=call, legal_entity=hospital, released_at=timezone.now())
    Application.objects.create(
        call=call, candidate=hospital, reference="D2-2025-R2", status="withdrawn"
    )
    assert Application.objects.filter(call=call, candidate=hospital).count() == 3


def test_a_submitted_application_is_not_reopened_by_start(call, hospital, hospital_user):
    application = application_start(call=call, candidate=hospital, by=hospital_user)
    fill(application, hospital_user)
    application_submit(
        application=application, by=hospital_user, sworn=True, accept_ineligible=True
    )
    with pytest.raises(ApplicationError) as excinfo:
        application_start(call=call, candidate=hospital, by=hospital_user)
    assert "« Déposée »" in excinfo.value.message


def test_start_releases_the_coverages_a_lost_hook_left_held(call, hospital, hospital_user):
    """The release runs after the withdrawal's commit: if it never ran (a crash between
    the two), starting again releases them first."""
    first = ineligible(call, hospital, hospital_user)
    application_withdraw(application=first, by=hospital_user)  # its on-commit hooks never run
    held = first.coverages.get()
    assert held.released_at is None
    assert not Coverage.objects.held().exists()  # a withdrawn application holds nothing
    second = application_start(call=call, candidate=hospital, by=hospital_user)
    held.refresh_from_db()
    assert held.released_at is not None
    assert second.coverages.get().legal_entity == hospital


def test_a_ght_restarts_with_its_members(call, django_capture_on_commit_callbacks):
    from applications.eligibility import gather

    ght = GHTFactory()
    support = LegalEntityFactory(ght=ght, is_ght_support=True)
    members = LegalEntityFactory.create_batch(2, ght=ght)
    user = UserFactory()
    MembershipFactory(user=user, role=Membership.Role.ESTABLISHMENT, legal_entity=support)
    first = ineligible(call, support, user)
    with django_capture_on_commit_callbacks(execute=True):
        application_withdraw(application=first, by=user)
    assert not first.coverages.filter(released_at__isnull=True).exists()
    second = application_start(call=call, candidate=support, by=user)
    covered = set(second.coverages.values_list("legal_entity", flat=True))
    assert covered == {support.id, *(m.id for m in members)}
    # E3: the withdrawn application does not count as covering them elsewhere.
    assert gather(second).covered_elsewhere == []
