"""The ministry decides in the admin: the applications' list (columns, filters, the
same queries for 10 or many), the actions through a confirmation page and a report,
up to 500 applications (a worker past 100), co-signatures, the read-only change page,
the calls' envelope figures, the conflicts list, and who may do any of it."""

from datetime import timedelta
from decimal import Decimal
from html import unescape as html_unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from applications.conflicts import conflict_declare
from applications.decisions import approve
from applications.models import (
    Application,
    CoSignature,
    EligibilityResult,
    RegionalReview,
)
from establishments.models import LegalEntity

from ..factories import (
    ApplicationFactory,
    FundingCallFactory,
    LegalEntityFactory,
    MembershipFactory,
    UserFactory,
    make_finess,
)

CHANGELIST = "admin:applications_application_changelist"
K = Decimal("1000")


def plain(text: str) -> str:
    """The page's text as read: entities decoded, non-breaking spaces as spaces."""
    return html_unescape(text).replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture
def call(db):
    return FundingCallFactory(envelope=Decimal("1000000"), second_approval_above=300 * K)


def scored(application, score: str, eligible: bool = True):
    EligibilityResult.objects.create(
        application=application,
        rules_version="test",
        eligible=eligible,
        score=Decimal(score),
        computed_at=timezone.now(),
    )
    return application


def batch(call, count: int, *, status: str = "national_review", start: int = 0):
    """`count` applications of distinct candidates (Rhône), quickly."""
    department = LegalEntityFactory.build().department
    entities = LegalEntity.objects.bulk_create(
        LegalEntity(
            finess=make_finess("69", 700000 + start + i),
            siren="",
            name=f"Centre hospitalier en lot {start + i}",
            status_group="public",
            finess_category="355",
            department=department,
            staff_count=500,
        )
        for i in range(count)
    )
    now = timezone.now()
    return Application.objects.bulk_create(
        Application(
            call=call,
            candidate=entity,
            reference=f"LOT-{start + i:04d}",
            status=status,
            submitted_at=now - timedelta(days=5),
            requested_amount=100 * K,
        )
        for i, entity in enumerate(entities)
    )


def action_post(client, action: str, applications, **extra):
    data = {
        "action": action,
        "_selected_action": [a.pk for a in applications],
        "index": 0,
        **extra,
    }
    return client.post(reverse(CHANGELIST), data)


# --- The list -----------------------------------------------------------------------------


def test_the_list_shows_the_decision_columns_by_score(client, ministry_user, call, hospital):
    low = scored(ApplicationFactory(call=call, status="national_review"), "12.5")
    high = scored(
        ApplicationFactory(
            call=call,
            candidate=hospital,
            status="national_review",
            requested_amount=250 * K,
            proposed_amount=200 * K,
            regional_opinion="favourable",
        ),
        "87.25",
    )
    unscored = ApplicationFactory(call=call, status="submitted")
    client.force_login(ministry_user)
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    html = plain(page.content.decode())
    for heading in ("Région", "Groupe", "Éligible", "Score", "Avis de l'ARS", "Montant proposé"):
        assert heading.lower() in html.lower(), heading
    order = [html.index(a.reference) for a in (high, low, unscored)]
    assert order == sorted(order), "score descending, unscored last"
    assert "Auvergne-Rhône-Alpes" in html and "Favorable" in html and "87,25" in html


def test_filters_and_search(client, ministry_user, call, hospital, other_hospital):
    breton = scored(
        ApplicationFactory(
            call=call, candidate=other_hospital, status="national_review", requested_amount=400 * K
        ),
        "80",
    )
    rhone = scored(
        ApplicationFactory(call=call, candidate=hospital, status="national_review"),
        "20",
        eligible=False,
    )
    client.force_login(ministry_user)

    def listed(**query) -> set[str]:
        response = client.get(reverse(CHANGELIST), query)
        assert response.status_code == 200
        return {a.reference for a in response.context["cl"].result_list}

    assert listed(score="75-100") == {breton.reference}
    assert listed(eligible="no") == {rhone.reference}
    assert listed(
        **{"candidate__department__region__id__exact": rhone.candidate.department.region_id}
    ) == {rhone.reference}
    assert listed(q=other_hospital.finess) == {breton.reference}
    assert listed(q=rhone.reference) == {rhone.reference}
    approve(breton, by=ministry_user, amount=301 * K)  # above the threshold: pending
    assert listed(co_signature="pending") == {breton.reference}


def test_the_list_runs_the_same_queries_for_10_or_many(client, ministry_user, call):
    client.force_login(ministry_user)
    url = reverse(CHANGELIST)
    client.get(url)  # the session, the user's scope

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    for application in batch(call, 10):
        scored(application, "50")
    ten = count()
    for application in batch(call, 140, start=10):
        scored(application, "40")
    assert count() == ten


def test_drafts_are_not_listed_to_the_ministry(client, ministry_user, call):
    draft = ApplicationFactory(call=call, status="draft")
    submitted = ApplicationFactory(call=call, status="submitted")
    client.force_login(ministry_user)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert submitted.reference in html and draft.reference not in html
    url = reverse("admin:applications_application_change", args=[draft.pk])
    assert client.get(url).status_code == 302  # "does not exist" back to the index


# --- Who may decide ------------------------------------------------------------------------


def test_an_establishment_user_cannot_reach_the_actions(client, hospital_user, call):
    application = ApplicationFactory(call=call, status="national_review")
    client.force_login(hospital_user)
    response = action_post(client, "approve_selected", [application])
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    decide = reverse("admin:applications_application_decide", args=["approve"])
    response = client.post(decide, {"ids": str(application.pk), f"amount_{application.pk}": "1"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    application.refresh_from_db()
    assert application.status == "national_review"


def test_staff_without_the_national_scope_cannot_decide(client, call, hospital):
    """Even made staff, an establishment member gets no action and no decide page."""
    staff = UserFactory(email="staff@hopital.test", is_staff=True)
    MembershipFactory(user=staff, role=Membership.Role.ESTABLISHMENT, legal_entity=hospital)
    application = ApplicationFactory(call=call, status="national_review")
    client.force_login(staff)
    assert client.get(reverse(CHANGELIST)).status_code == 403
    decide = reverse("admin:applications_application_decide", args=["approve"])
    response = client.post(decide, {"ids": str(application.pk), f"amount_{application.pk}": "1"})
    assert response.status_code == 403
    application.refresh_from_db()
    assert application.status == "national_review"


def test_the_ministry_sees_the_actions(client, ministry_user, call):
    ApplicationFactory(call=call, status="national_review")
    client.force_login(ministry_user)
    html = plain(client.get(reverse(CHANGELIST)).content.decode())
    for label in ("Accorder un financement", "Refuser", "Renvoyer pour compléments",
                  "Réexaminer (inéligible)", "M'attribuer"):  # fmt: skip
        assert label in html


# --- Actions: confirmation, decisions, report ---------------------------------------------


def test_approve_through_the_confirmation_page_and_the_report(client, ministry_user, call):
    proposed = ApplicationFactory(
        call=call, status="national_review", requested_amount=250 * K, proposed_amount=200 * K
    )
    requested = ApplicationFactory(call=call, status="national_review", requested_amount=80 * K)
    large = ApplicationFactory(call=call, status="national_review", requested_amount=400 * K)
    elsewhere = ApplicationFactory(call=call, status="regional_review", requested_amount=K)
    client.force_login(ministry_user)
    page = action_post(client, "approve_selected", [proposed, requested, large, elsewhere])
    assert page.status_code == 200
    assert page.templates[0].name == "admin/applications/application/decision_confirm.html"
    form = page.context["form"]
    assert form[f"amount_{proposed.pk}"].value() == 200 * K  # the ARS proposal
    assert form[f"amount_{requested.pk}"].value() == 80 * K  # else the requested amount
    html = page.content.decode()
    assert all(a.reference in html for a in (proposed, requested, large, elsewhere))
    assert 'aria-label="Montant accordé à ' in html
    response = client.post(
        page.context["decide_url"],
        {
            "ids": page.context["ids"],
            f"amount_{proposed.pk}": "190 000,00",
            f"amount_{requested.pk}": "80000",
            f"amount_{large.pk}": "350000",
            f"amount_{elsewhere.pk}": "1000",
            "comment": "Programme 2025",
        },
    )
    assert response.status_code == 302
    report = client.get(response["Location"])
    assert report.status_code == 200
    text = plain(report.content.decode())
    assert "2 candidatures traitées" in text
    assert "1 approbation en attente de co-signature" in text
    assert "1 candidature non traitée" in text
    assert "n'attend pas de décision" in text
    granted = dict(Application.objects.values_list("pk", "granted_amount"))
    assert granted[proposed.pk] == 190 * K and granted[requested.pk] == 80 * K
    assert granted[large.pk] is None
    assert CoSignature.objects.get(application=large).amount == 350 * K
    # The report belongs to whoever took the action.
    other = UserFactory(email="other@sante.gouv.test", is_staff=True)
    MembershipFactory(user=other, role=Membership.Role.MINISTRY)
    client.force_login(other)
    assert client.get(response["Location"]).status_code == 404


def test_a_reason_is_required_where_the_table_asks_for_one(client, ministry_user, call):
    application = ApplicationFactory(call=call, status="national_review")
    client.force_login(ministry_user)
    for action, name in (("reject_selected", "reject"), ("send_back_selected", "send_back")):
        page = action_post(client, action, [application])
        assert page.status_code == 200
        response = client.post(
            page.context["decide_url"], {"ids": page.context["ids"], "comment": " "}
        )
        assert response.status_code == 200, name
        assert "Corrigez les champs signalés" in response.content.decode()
    application.refresh_from_db()
    assert application.status == "national_review"
    page = action_post(client, "send_back_selected", [application])
    due = timezone.localdate() + timedelta(days=10)
    response = client.post(
        page.context["decide_url"],
        {
            "ids": page.context["ids"],
            "comment": "Joindre le budget signé",
            "due_on": due.isoformat(),
        },
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.return_due_on) == ("returned", due)


def test_reject_reconsider_and_assign_through_the_admin(client, ministry_user, call):
    to_reject = ApplicationFactory(call=call, status="national_review")
    ineligible = ApplicationFactory(call=call, status="ineligible")
    client.force_login(ministry_user)
    for action, application, data in (
        ("reject_selected", to_reject, {"comment": "Hors priorités"}),
        ("reconsider_selected", ineligible, {"comment": "Effectif corrigé"}),
        ("assign_selected", to_reject, {}),
    ):
        page = action_post(client, action, [application])
        response = client.post(page.context["decide_url"], {"ids": page.context["ids"], **data})
        assert response.status_code == 302, action
        assert client.get(response["Location"]).status_code == 200
    to_reject.refresh_from_db()
    ineligible.refresh_from_db()
    assert to_reject.status == "rejected" and ineligible.status == "regional_review"
    # Assigning a rejected application is refused, and the report says why.
    assert to_reject.assigned_to is None


def test_500_applications_in_one_action_through_a_worker(
    client, ministry_user, call, django_capture_on_commit_callbacks
):
    applications = batch(call, 501)
    client.force_login(ministry_user)
    # "Select all 501 matching the filter": one too many.
    response = action_post(client, "assign_selected", applications[:1], select_across="1")
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("500 candidatures au plus" in m for m in messages)
    # 500 of them: the filter narrowed by the search.
    Application.objects.filter(pk=applications[-1].pk).update(reference="AUTRE-0001")
    page = client.post(
        reverse(CHANGELIST) + "?q=LOT-",
        {
            "action": "assign_selected",
            "_selected_action": [applications[0].pk],
            "select_across": "1",
            "index": 0,
        },
    )
    assert page.status_code == 200 and len(page.context["form"].applications) == 500
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(page.context["decide_url"], {"ids": page.context["ids"]})
    assert response.status_code == 302
    report = client.get(response["Location"])
    assert "500 candidatures traitées" in plain(report.content.decode())
    assert Application.objects.filter(assigned_to=ministry_user).count() == 500


def test_a_long_action_shows_its_progress_until_the_worker_is_done(client, ministry_user, call):
    """Past 100 applications the request only queues the work: without the commit the
    worker has not run yet and the page says how far it is and reloads itself."""
    applications = batch(call, 101)
    client.force_login(ministry_user)
    page = action_post(client, "assign_selected", applications)
    response = client.post(page.context["decide_url"], {"ids": page.context["ids"]})
    progress = client.get(response["Location"])
    html = progress.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "0 sur 101 candidatures traitées" in html
    assert not Application.objects.filter(assigned_to=ministry_user).exists()


# --- Co-signatures ------------------------------------------------------------------------------


def test_the_co_signature_list_links_to_the_second_approval(client, ministry_user, call):
    application = ApplicationFactory(call=call, status="national_review", requested_amount=500 * K)
    approve(application, by=ministry_user, amount=450 * K)
    second = UserFactory(email="franck@sante.gouv.test", is_staff=True)
    MembershipFactory(user=second, role=Membership.Role.MINISTRY)
    client.force_login(second)
    listing = client.get(
        reverse("admin:applications_cosignature_changelist"), {"state__exact": "pending"}
    )
    html = listing.content.decode()
    assert application.reference in html and "Approuver" in html
    link = (
        reverse("admin:applications_application_decide", args=["approve"])
        + f"?ids={application.pk}"
    )
    assert link in html
    page = client.get(link)
    assert page.context["form"][f"amount_{application.pk}"].value() == Decimal("450000.00")
    response = client.post(
        page.context["decide_url"],
        {"ids": str(application.pk), f"amount_{application.pk}": "450000"},
    )
    assert "1 candidature traitée" in plain(client.get(response["Location"]).content.decode())
    application.refresh_from_db()
    assert application.status == "approved"
    assert client.get(reverse("admin:applications_cosignature_add")).status_code == 403


# --- Read-only pages -------------------------------------------------------------------------


def test_the_change_page_is_read_only_with_the_review_panels(
    client, ministry_user, ars_user, call, hospital
):
    application = ApplicationFactory(
        call=call, candidate=hospital, status="national_review", rssi_email="rssi@ch.test"
    )
    RegionalReview.objects.create(
        application=application, author=ars_user, opinion="favourable",
        motivation="Projet mûr, équipe solide", proposed_amount=120 * K,
    )  # fmt: skip
    ApplicationFactory(call=call, status="approved", granted_amount=250 * K)
    client.force_login(ministry_user)
    url = reverse("admin:applications_application_change", args=[application.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = plain(page.content.decode())
    assert 'name="rssi_email"' not in html and 'name="status"' not in html
    assert "Projet mûr, équipe solide" in html
    assert "engagé 250 000,00 €" in html and "reste 750 000,00 €" in html
    response = client.post(url, {"rssi_email": "pirate@example.test"})
    assert response.status_code == 403
    application.refresh_from_db()
    assert application.rssi_email == "rssi@ch.test"


def test_the_calls_list_shows_the_envelope_in_constant_queries(client, ministry_user, call):
    ApplicationFactory(call=call, status="approved", granted_amount=250 * K)
    ApplicationFactory(call=call, status="national_review", granted_amount=None)
    client.force_login(ministry_user)
    url = reverse("admin:applications_fundingcall_changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        html = plain(client.get(url).content.decode())
    assert "250 000,00 €" in html and "750 000,00 €" in html
    FundingCallFactory.create_batch(15)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(one)
    change = client.get(reverse("admin:applications_fundingcall_change", args=[call.pk]))
    assert "750 000,00 €" in plain(change.content.decode())


def test_the_conflict_declarations_are_listed_read_only(client, ministry_user, ars_user, hospital):
    conflict_declare(user=ars_user, legal_entity_id=hospital.pk, reason="Conjoint directeur")
    client.force_login(ministry_user)
    page = client.get(reverse("admin:applications_conflictdeclaration_changelist"))
    html = plain(page.content.decode())
    assert "Conjoint directeur" in html and hospital.name in html and ars_user.full_name in html
    assert client.get(reverse("admin:applications_conflictdeclaration_add")).status_code == 403


# --- The job behind a bulk action -----------------------------------------------------------


def test_a_redelivered_job_decides_each_application_once(ministry_user, call):
    from applications import decision_jobs
    from applications.tasks import decide_many_task

    applications = batch(call, 3)
    job_id = decision_jobs.decision_job_start(
        action="assign", application_ids=[a.pk for a in applications], by=ministry_user
    )
    job = decision_jobs.decision_job(job_id)
    assert job["state"] == "done" and [e["outcome"] for e in job["entries"]] == ["done"] * 3
    # A worker killed after two applications: PostgreSQL rolled its batch back and the
    # job, still "running", reports nothing; the redelivery decides all three, once.
    job["state"], job["entries"], job["progress"] = "running", [], 2
    decision_jobs._save(job_id, job)
    Application.objects.filter(pk__in=[a.pk for a in applications]).update(assigned_to=None)
    assert decide_many_task(job_id) == "done"
    job = decision_jobs.decision_job(job_id)
    assert [e["application_id"] for e in job["entries"]] == [a.pk for a in applications]
    assert job["progress"] == 3
    assert Application.objects.filter(assigned_to=ministry_user).count() == 3
    # Delivered once more after it finished: nothing decided again, the report stands.
    assert decide_many_task(job_id) == "done"
    assert decision_jobs.decision_job(job_id)["entries"] == job["entries"]


def test_a_job_that_dies_in_the_middle_reports_nothing_it_did_not_commit(
    ministry_user, call, monkeypatch
):
    from applications import decision_jobs
    from applications.tasks import decide_many_task

    applications = batch(call, 3)
    job_id = decision_jobs.decision_job_start(
        action="assign", application_ids=[a.pk for a in applications], by=ministry_user
    )
    job = decision_jobs.decision_job(job_id)
    job["state"], job["entries"], job["progress"] = "queued", [], 0
    decision_jobs._save(job_id, job)
    Application.objects.filter(pk__in=[a.pk for a in applications]).update(assigned_to=None)

    save = decision_jobs._save
    progress_seen = []

    def dies_after_two(key, data):
        save(key, data)
        if data["state"] == "running" and data["progress"] == 2 and not progress_seen:
            progress_seen.append(data["progress"])
            raise RuntimeError("worker lost")  # the batch's transaction rolls back

    monkeypatch.setattr(decision_jobs, "SAVE_EVERY", 1)
    monkeypatch.setattr(decision_jobs, "_save", dies_after_two)
    with pytest.raises(RuntimeError):
        decide_many_task(job_id)
    job = decision_jobs.decision_job(job_id)
    assert progress_seen == [2]  # the progress page saw two decided meanwhile
    assert job["state"] == "failed" and job["entries"] == [] and job["progress"] == 0
    assert not Application.objects.filter(assigned_to=ministry_user).exists()
    # Run again (the ministry relaunches it): each application decided once.
    assert decide_many_task(job_id) == "done"
    assert Application.objects.filter(assigned_to=ministry_user).count() == 3
    assert [e["outcome"] for e in decision_jobs.decision_job(job_id)["entries"]] == ["done"] * 3


def test_a_job_refused_as_a_whole_says_why(ministry_user, call):
    from applications import decision_jobs

    application = batch(call, 1)[0]
    job_id = decision_jobs.decision_job_start(
        action="reject", application_ids=[application.pk], by=ministry_user, comment=""
    )
    job = decision_jobs.decision_job(job_id)
    assert job["state"] == "failed" and "motif est obligatoire" in job["error"]
    application.refresh_from_db()
    assert application.status == "national_review"
