"""The ARS work queue: scoped to the agent's region, in tabs with counts, filtered,
searched and sorted from the URL, paginated, and in a constant number of queries."""

import itertools
import re
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications import instruction_views, worklist
from applications.conflicts import conflict_declare
from applications.models import Coverage, EligibilityResult, Transition
from applications.worklist import Filters
from establishments.models import Department, StatusGroup

from ..factories import ApplicationFactory, FundingCallFactory, LegalEntityFactory, make_finess

QUEUE = "/instruction/"
NUMBERS = itertools.count(700000)


def failing_rule(rule_id: str = "E3") -> dict:
    return {"id": rule_id, "passed": False, "blocking": True, "detail": "Règle non respectée"}


def make(
    status: str = "regional_review",
    *,
    department: str = "69",
    score: str | None = "50",
    eligible: bool = True,
    waiting_days: int = 1,
    submitted_days: int = 10,
    rules: list | None = None,
    **kwargs,
):
    """An application of a candidate of `department`, in `status` since `waiting_days`,
    with its eligibility result (none when `score` is None)."""
    candidate = kwargs.pop("candidate", None) or LegalEntityFactory(
        department=Department.objects.get(code=department),
        finess=make_finess(department, next(NUMBERS)),
        **{k: kwargs.pop(k) for k in ("name", "status_group") if k in kwargs},
    )
    now = timezone.now()
    application = ApplicationFactory(
        candidate=candidate,
        status=status,
        submitted_at=now - timedelta(days=submitted_days),
        requested_amount=Decimal("100000"),
        **kwargs,
    )
    Transition.objects.create(
        application=application,
        from_status="draft",
        to_status="submitted",
        created_at=now - timedelta(days=submitted_days),
    )
    Transition.objects.create(
        application=application,
        from_status="submitted",
        to_status=status,
        created_at=now - timedelta(days=waiting_days),
    )
    if score is not None:
        EligibilityResult.objects.create(
            application=application,
            rules_version="test",
            eligible=eligible,
            score=Decimal(score),
            rules=rules or [],
            factors=[],
            computed_at=now,
        )
    return application


def references(user, **filters):
    return [a.reference for a in worklist.queue(user, Filters(**filters))]


def test_the_queue_holds_only_the_agents_region(ars_user, other_region_ars_user):
    here = make(department="69")
    ain = make(department="01")
    brittany = make(department="29")
    assert set(references(ars_user)) == {here.reference, ain.reference}
    assert references(other_region_ars_user) == [brittany.reference]


def test_each_tab_holds_its_status_and_counts(ars_user):
    to_instruct = make("regional_review")
    returned = make("returned")
    sent = make("national_review")
    objectives = make("objectives_declared")
    make("submitted")
    make("approved")
    assert references(ars_user, tab="to_instruct") == [to_instruct.reference]
    assert references(ars_user, tab="returned") == [returned.reference]
    assert references(ars_user, tab="sent") == [sent.reference]
    assert references(ars_user, tab="objectives") == [objectives.reference]
    assert worklist.tab_counts(ars_user, Filters()) == {
        "to_instruct": 1,
        "returned": 1,
        "sent": 1,
        "objectives": 1,
    }


def test_an_unknown_tab_falls_back_to_the_first(ars_user):
    assert Filters.from_data({"tab": "nonsense"}).tab == "to_instruct"


def test_counts_follow_the_other_filters(ars_user):
    make("regional_review", department="01")
    make("regional_review", department="69")
    make("returned", department="01")
    ain = Department.objects.get(code="01")
    counts = worklist.tab_counts(ars_user, Filters(department=ain))
    assert counts == {"to_instruct": 1, "returned": 1, "sent": 0, "objectives": 0}


def test_filters_call_department_status_group_eligibility_assignment(ars_user):
    call = FundingCallFactory(code="D2-AUTRE")
    by_call = make(call=call)
    ain = make(department="01")
    private = make(status_group=StatusGroup.PRIVATE_FOR_PROFIT)
    ineligible = make(eligible=False, rules=[failing_rule()])
    pending = make(score=None)
    mine = make(assigned_to=ars_user, assigned_at=timezone.now())

    assert references(ars_user, call=call) == [by_call.reference]
    assert references(ars_user, department=Department.objects.get(code="01")) == [ain.reference]
    assert references(ars_user, status_group=StatusGroup.PRIVATE_FOR_PROFIT) == [private.reference]
    assert references(ars_user, eligibility="ineligible") == [ineligible.reference]
    assert references(ars_user, eligibility="pending") == [pending.reference]
    assert pending.reference not in references(ars_user, eligibility="eligible")
    assert ineligible.reference not in references(ars_user, eligibility="eligible")
    assert references(ars_user, assigned="me") == [mine.reference]
    assert mine.reference not in references(ars_user, assigned="unassigned")
    assert len(references(ars_user, assigned="unassigned")) == 5


def test_search_by_reference_name_and_finess_of_candidate_or_covered_entity(ars_user):
    villeurbanne = make(name="Hôpital de Villeurbanne", reference="D2-ARA-000042")
    other = make(name="Clinique du Parc")
    covered = LegalEntityFactory(name="EHPAD des Tilleuls", finess=make_finess("69", 424242))
    Coverage.objects.create(call=other.call, application=other, legal_entity=covered)

    assert references(ars_user, q="000042") == [villeurbanne.reference]
    assert references(ars_user, q="villeurbanne") == [villeurbanne.reference]
    assert references(ars_user, q=villeurbanne.candidate.finess) == [villeurbanne.reference]
    # The FINESS as shown (with spaces), or its first digits.
    spaced = f"{villeurbanne.candidate.finess[:3]} {villeurbanne.candidate.finess[3:]}"
    assert references(ars_user, q=spaced) == [villeurbanne.reference]
    assert references(ars_user, q="tilleuls") == [other.reference]
    assert references(ars_user, q=covered.finess) == [other.reference]
    assert references(ars_user, q="introuvable") == []


def test_sorts_by_score_submission_and_waiting(ars_user):
    low = make(score="20", submitted_days=5, waiting_days=9)
    high = make(score="90", submitted_days=30, waiting_days=1)
    middle = make(score="55", submitted_days=10, waiting_days=4)
    unscored = make(score=None, submitted_days=1, waiting_days=2)
    assert references(ars_user, sort="score") == [
        high.reference,
        middle.reference,
        low.reference,
        unscored.reference,
    ]
    assert references(ars_user, sort="submitted") == [
        high.reference,
        middle.reference,
        low.reference,
        unscored.reference,
    ]
    assert references(ars_user, sort="waiting") == [
        low.reference,
        middle.reference,
        unscored.reference,
        high.reference,
    ]


def test_rows_carry_the_columns(ars_user):
    application = make(
        eligible=False, rules=[failing_rule("E2"), {"id": "E5", "passed": True}], waiting_days=6
    )
    for _ in range(2):
        Coverage.objects.create(
            call=application.call, application=application, legal_entity=LegalEntityFactory()
        )
    conflict_declare(user=ars_user, legal_entity_id=application.candidate_id, reason="Conjoint")
    (row,) = worklist.rows(worklist.queue(ars_user, Filters()))
    assert row.application.covered_count == 2
    assert row.days_waiting == 6
    assert [rule["id"] for rule in row.failed_rules] == ["E2"]
    assert row.application.in_conflict is True


def test_days_waiting_count_from_the_last_entry_into_the_status(ars_user):
    application = make("regional_review", waiting_days=20)
    now = timezone.now()
    Transition.objects.create(
        application=application,
        from_status="returned",
        to_status="regional_review",
        created_at=now - timedelta(days=3),
    )
    (row,) = worklist.rows(worklist.queue(ars_user, Filters()), now=now)
    assert row.days_waiting == 3


# --- The page ----------------------------------------------------------------------------------


def test_the_page_shows_the_tab_with_its_counts_and_rows(client, ars_user):
    application = make(name="Hôpital de Givors", eligible=False, rules=[failing_rule("E4")])
    make("returned")
    client.force_login(ars_user)
    response = client.get(QUEUE)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'aria-current="page">\s*À instruire&nbsp;\(1\)', html)
    assert "Renvoyées pour compléments&nbsp;(1)" in html
    assert "Hôpital de Givors" in html
    assert reverse("instruction:detail", args=[application.public_id]) in html
    assert "E4 –" in html
    assert '<th scope="col">Référence</th>' in html
    assert "<caption" in html and "File d'instruction : À instruire" in html


def test_the_filter_lives_in_the_url(client, ars_user):
    givors = make(name="Hôpital de Givors", department="69")
    bourg = make(name="Centre hospitalier de Bourg", department="01")
    client.force_login(ars_user)
    response = client.get(QUEUE, {"department": "01", "sort": "waiting", "tab": "to_instruct"})
    html = response.content.decode()
    assert bourg.reference in html and givors.reference not in html
    # The tab links keep the filter.
    assert "department=01" in html and "tab=returned" in html
    assert 'value="01" selected' in html


def test_an_invalid_filter_is_shown_and_ignored(client, ars_user):
    application = make()
    client.force_login(ars_user)
    response = client.get(QUEUE, {"department": "29", "eligibility": "peut-être"})
    assert response.status_code == 200
    html = response.content.decode()
    assert application.reference in html
    assert "fr-select-group--error" in html


def test_pagination_keeps_the_filter(client, ars_user, monkeypatch):
    monkeypatch.setattr(instruction_views, "PAGE_SIZE", 2)
    for _ in range(3):
        make(department="01")
    client.force_login(ars_user)
    response = client.get(QUEUE, {"department": "01"})
    html = response.content.decode()
    assert 'class="fr-pagination' in html
    assert "department=01&amp;page=2" in html
    second = client.get(QUEUE, {"department": "01", "page": 2})
    assert second.content.decode().count('<th scope="row">') == 1


def test_the_queue_is_refused_to_establishment_users(client, hospital_user):
    client.force_login(hospital_user)
    assert client.get(QUEUE).status_code == 403


def test_the_queue_needs_a_login(client):
    response = client.get(QUEUE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_ars_home_page_links_to_the_queue(client, ars_user):
    make()
    client.force_login(ars_user)
    html = client.get("/").content.decode()
    assert 'href="/instruction/"' in html
    assert "1 candidature à instruire dans votre région." in html


def _populate(count: int, ars_user) -> None:
    call = FundingCallFactory(code="D2-VOLUME")
    for index in range(count):
        application = make(
            ["regional_review", "returned", "national_review", "objectives_declared"][index % 4],
            department="01" if index % 2 else "69",
            call=call,
            rules=[failing_rule()],
            eligible=bool(index % 3),
            assigned_to=ars_user if index % 5 == 0 else None,
        )
        Coverage.objects.create(
            call=call, application=application, legal_entity=LegalEntityFactory()
        )
    conflict_declare(user=ars_user, legal_entity_id=application.candidate_id, reason="Conjoint")


def test_the_queue_runs_a_constant_number_of_queries(client, ars_user, django_assert_num_queries):
    """Counts per tab and the list: the same queries for 10 and for 60 applications."""
    _populate(10, ars_user)
    client.force_login(ars_user)
    query = {"tab": "to_instruct", "sort": "waiting", "q": "Centre", "eligibility": "eligible"}
    client.get(QUEUE, query)  # warm the session and the translations
    with CaptureQueriesContext(connection) as small:
        response = client.get(QUEUE, query)
    assert response.status_code == 200
    assert response.content.decode().count('<th scope="row">') > 0

    _populate(50, ars_user)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(QUEUE, query)
    assert response.content.decode().count('<th scope="row">') > 2


def test_the_services_run_a_constant_number_of_queries(ars_user, django_assert_num_queries):
    _populate(10, ars_user)
    assert ars_user.scope.region_ids  # resolved once per request (cached)
    with CaptureQueriesContext(connection) as small:
        worklist.tab_counts(ars_user, Filters())
        list(worklist.rows(worklist.queue(ars_user, Filters(sort="waiting"))))
    _populate(50, ars_user)
    with django_assert_num_queries(len(small.captured_queries)):
        worklist.tab_counts(ars_user, Filters())
        rows = worklist.rows(worklist.queue(ars_user, Filters(sort="waiting")))
    assert len(rows) == 3 + 13  # every fourth is to instruct
