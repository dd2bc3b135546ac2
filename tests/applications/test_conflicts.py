"""Conflicts of interest: members of the candidate or of a covered entity, and users
who declared a conflict, can neither instruct nor decide."""

import pytest

from accounts.models import Membership
from applications.conflicts import conflict_declare, ensure_no_conflict, has_conflict, in_conflict
from applications.models import Application, Coverage
from care_portal.errors import ConflictOfInterest

from ..factories import ApplicationFactory, LegalEntityFactory, MembershipFactory, UserFactory


@pytest.fixture
def application(hospital):
    application = ApplicationFactory(candidate=hospital, status="regional_review")
    covered = LegalEntityFactory(name="Hôpital couvert")
    Coverage.objects.create(call=application.call, application=application, legal_entity=covered)
    return application


def test_an_agent_with_no_link_is_free(ars_user, application):
    assert not has_conflict(ars_user, application)
    ensure_no_conflict(ars_user, application)


def test_a_member_of_the_candidate_is_in_conflict(ars_user, application):
    MembershipFactory(
        user=ars_user, role=Membership.Role.ESTABLISHMENT, legal_entity=application.candidate
    )
    assert has_conflict(ars_user, application)
    with pytest.raises(ConflictOfInterest, match=application.reference):
        ensure_no_conflict(ars_user, application)


def test_a_declared_conflict_with_a_covered_entity_counts(ministry_user, application):
    covered = application.coverages.get().legal_entity
    conflict_declare(user=ministry_user, legal_entity_id=covered.id, reason="Ancien directeur")
    assert has_conflict(ministry_user, application)
    marked = in_conflict(Application.objects.all(), ministry_user).get(pk=application.pk)
    assert marked.in_conflict is True


def test_the_list_annotation_marks_only_the_linked_applications(ministry_user, application):
    other = ApplicationFactory(status="regional_review")
    conflict_declare(user=ministry_user, legal_entity_id=other.candidate_id, reason="Conjoint")
    marks = dict(
        in_conflict(Application.objects.all(), ministry_user).values_list("id", "in_conflict")
    )
    assert marks == {application.id: False, other.id: True}


def test_a_declaration_needs_a_reason(db):
    user, entity = UserFactory(), LegalEntityFactory()
    with pytest.raises(ConflictOfInterest, match="motif"):
        conflict_declare(user=user, legal_entity_id=entity.id, reason="  ")
