"""Evidence is never erased once it went to the reviewers: before a submission the
applicant may delete a file; after it, only a new version supersedes it, and the old one
stays listed (and downloadable) for the reviewers, marked "remplacée le …"."""

from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from applications.drafting import application_issues, application_start
from applications.evidence import EvidenceKept, evidence_add, evidence_delete, transmitted_at
from applications.lifecycle import Status, application_transition
from applications.models import Application, Evidence
from care_portal.errors import ApplicationError

from .test_applicant import filled_and_submitted, plan_and_objective_call
from .test_pages import add_evidence, small_pdf, url


@pytest.fixture
def draft(hospital, hospital_user):
    call = plan_and_objective_call()
    return application_start(call=call, candidate=hospital, by=hospital_user)


@pytest.fixture
def submitted(draft, hospital_user):
    return filled_and_submitted(draft, hospital_user)


@pytest.fixture
def returned(submitted, ars_user):
    """Submitted, then returned for complements by the ARS."""
    Application.objects.filter(pk=submitted.pk).update(status=Status.REGIONAL_REVIEW)
    submitted.refresh_from_db()
    application_transition(
        application=submitted, to=Status.RETURNED, by=ars_user, comment="Le PCA manque."
    )
    submitted.refresh_from_db()
    return submitted


def pdf_upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, small_pdf(), "application/pdf")


def replace_file(application, answer, old: Evidence, name: str, by) -> Evidence:
    """Adds the PDF `name` to `answer` in place of `old`, through the service."""
    return evidence_add(
        application=application,
        answer=answer,
        uploaded_file=pdf_upload(name),
        by=by,
        replaces=old,
    )


def sent_file(application: Application) -> Evidence:
    evidence = Evidence.objects.filter(application=application, answer__isnull=False).first()
    assert evidence is not None and transmitted_at(evidence) is not None
    return evidence


def test_a_file_never_submitted_may_be_deleted(draft, hospital_user):
    evidence = add_evidence(draft, draft.answers.first(), hospital_user)
    assert transmitted_at(evidence) is None
    evidence_delete(evidence=evidence, by=hospital_user)
    assert not Evidence.objects.filter(pk=evidence.pk).exists()


def test_a_submitted_file_cannot_be_deleted_after_a_return(returned, hospital_user):
    evidence = sent_file(returned)
    with pytest.raises(EvidenceKept) as caught:
        evidence_delete(evidence=evidence, by=hospital_user)
    assert f"La pièce « {evidence.original_name} » a été transmise aux instructeurs le" in str(
        caught.value.message
    )
    assert "ne peut plus être supprimée" in caught.value.message
    assert Evidence.objects.filter(pk=evidence.pk).exists()


def test_the_delete_view_refuses_with_the_reason(client, returned, hospital_user):
    evidence = sent_file(returned)
    client.force_login(hospital_user)
    page = client.get(url("application-answers", returned))
    content = unescape(page.content.decode())
    # No delete button for it; the page says why, and offers to replace it.
    assert f'form="delete-{evidence.public_id}"' not in content
    assert "elle peut être remplacée, pas supprimée" in content
    assert f'<option value="{evidence.public_id}">remplace « {evidence.original_name} »' in (
        content
    )

    response = client.post(url("evidence-delete", returned, evidence.public_id), follow=True)
    assert "ne peut plus être supprimée" in unescape(response.content.decode())
    assert Evidence.objects.filter(pk=evidence.pk).exists()


def test_a_file_added_during_the_return_may_still_be_deleted(returned, hospital_user):
    evidence = evidence_add(
        application=returned,
        answer=returned.answers.first(),
        uploaded_file=pdf_upload("complement.pdf"),
        by=hospital_user,
    )
    evidence_delete(evidence=evidence, by=hospital_user)
    assert not Evidence.objects.filter(pk=evidence.pk).exists()


def test_replacing_a_submitted_file_keeps_the_old_one(
    client, returned, hospital_user, ars_user, private_media
):
    old = sent_file(returned)
    client.force_login(hospital_user)
    response = client.post(
        url("evidence-upload", returned),
        {"answer": old.answer_id, "file": pdf_upload("pca-v2.pdf"), "replaces": old.public_id},
    )
    assert response.status_code == 302
    old.refresh_from_db()
    new = Evidence.objects.get(original_name="pca-v2.pdf")
    assert old.superseded_by == new and old.superseded_at == new.created_at
    assert new.superseded_at is None
    assert old.file.storage.exists(old.file.name)  # the stored file too
    # Only the current file counts towards what is required.
    assert not [i for i in application_issues(returned) if "pièce" in i.message.lower()]

    # Resubmitted: the reviewers see both, the old one marked and still downloadable.
    application_transition(application=returned, to=Status.SUBMITTED, by=hospital_user)
    Application.objects.filter(pk=returned.pk).update(status=Status.REGIONAL_REVIEW)
    client.force_login(ars_user)
    page = client.get(reverse("instruction:detail", args=[returned.public_id]))
    content = unescape(page.content.decode())
    assert "pca-v2.pdf" in content and old.original_name in content
    assert "remplacée le" in content
    download = client.get(url("evidence-download", returned, old.public_id))
    assert download.status_code == 200


def test_a_file_is_superseded_once(returned, hospital_user):
    old = sent_file(returned)
    answer = old.answer
    replace_file(returned, answer, old, "v2.pdf", hospital_user)
    stale = Evidence.objects.get(pk=old.pk)
    stale.superseded_at = None  # a second tab that read it before the first replacement
    with pytest.raises(ApplicationError, match="a déjà été remplacée"):
        replace_file(returned, answer, stale, "v3.pdf", hospital_user)
    assert not Evidence.objects.filter(original_name="v3.pdf").exists()  # nothing half-written
    assert Evidence.objects.get(pk=old.pk).superseded_by.original_name == "v2.pdf"


def test_a_file_of_another_requirement_cannot_be_replaced(client, returned, hospital_user):
    old = sent_file(returned)
    other = returned.answers.exclude(pk=old.answer_id).first()
    with pytest.raises(ApplicationError, match="n'appartient pas à cette exigence"):
        replace_file(returned, other, old, "v2.pdf", hospital_user)
    client.force_login(hospital_user)
    response = client.post(
        url("evidence-upload", returned),
        {"answer": other.pk, "file": pdf_upload("v2.pdf"), "replaces": old.public_id},
    )
    assert response.status_code == 404
    response = client.post(
        url("evidence-upload", returned),
        {"answer": other.pk, "file": pdf_upload("v2.pdf"), "replaces": "pas-un-identifiant"},
    )
    assert response.status_code == 400
    assert "Choisissez la pièce à remplacer." in unescape(response.content.decode())
    assert Evidence.objects.filter(superseded_at__isnull=False).count() == 0


def test_a_superseded_file_needs_its_date(returned):
    from django.db import IntegrityError, transaction

    old = sent_file(returned)
    other = add_evidence(returned, old.answer, None, name="v2.pdf")
    with pytest.raises(IntegrityError), transaction.atomic():
        Evidence.objects.filter(pk=old.pk).update(superseded_by=other)
