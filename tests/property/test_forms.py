"""Property tests of the main forms: whatever is posted, the form validates without an
exception and the page answers with the form and its messages, never a 500."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.forms import EmailAuthenticationForm
from applications.drafting import IDENTITY_FIELDS, application_start
from applications.forms import AnswerForm, BudgetLineFormSet, IdentityForm
from applications.models import Answer, BudgetLine

from ..factories import FundingCallFactory, RequirementFactory
from .strategies import FAST, PAGES, assert_handled, field_value

identity_data = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(field_value, st.emails(), st.text(min_size=200, max_size=400))
        for name in IDENTITY_FIELDS
    },
)


@st.composite
def budget_data(draw):
    """A budget formset post: management form (sometimes absurd) and rows."""
    rows = draw(st.integers(min_value=0, max_value=6))
    total = draw(
        st.one_of(
            st.just(str(rows)),
            st.integers(min_value=-5, max_value=40).map(str),
            st.just("5000"),  # more than the 200 rows allowed: refused, at most 200 built
            field_value,
        )
    )
    data = {
        "lines-TOTAL_FORMS": total,
        "lines-INITIAL_FORMS": draw(st.one_of(st.just("0"), field_value)),
    }
    categories = [value for value, _label in BudgetLine.Category.choices]
    for index in range(rows):
        data[f"lines-{index}-category"] = draw(st.one_of(st.sampled_from(categories), field_value))
        data[f"lines-{index}-description"] = draw(field_value)
        data[f"lines-{index}-amount"] = draw(
            st.one_of(
                st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
                field_value,
            )
        )
        if draw(st.booleans()):
            data[f"lines-{index}-DELETE"] = draw(st.sampled_from(["on", "1", "", "x"]))
    return data


@st.composite
def answers_data(draw, answer_ids):
    data = {}
    states = [value for value, _label in Answer.State.choices]
    for answer_id in answer_ids:
        prefix = f"answer-{answer_id}"
        if draw(st.booleans()):
            data[f"{prefix}-state"] = draw(st.one_of(st.sampled_from(states), field_value))
        if draw(st.booleans()):
            data[f"{prefix}-comment"] = draw(st.one_of(field_value, st.text(min_size=4990)))
    return data


@pytest.fixture
def draft(db, hospital, hospital_user):
    call = FundingCallFactory(code="D2-2025")
    RequirementFactory(call=call, identifier="D2.P1", kind="prerequisite")
    RequirementFactory(call=call, identifier="D2.O1", kind="objective")
    return application_start(call=call, candidate=hospital, by=hospital_user)


def url(name, application):
    return reverse(f"applications:{name}", args=[application.public_id])


# --- The forms alone ----------------------------------------------------------------------


@FAST
@given(data=identity_data)
def test_identity_form_validates_anything(db, data):
    form = IdentityForm(data=data)
    if form.is_valid():
        for name in ("director_email", "rssi_email", "continuity_lead_email"):
            assert "@" in form.cleaned_data[name] or form.cleaned_data[name] == ""
    else:
        assert all(messages for messages in form.errors.values())


@FAST
@given(data=budget_data())
def test_budget_formset_validates_anything(data):
    formset = BudgetLineFormSet(data=data, prefix="lines")
    if formset.is_valid():
        for line in formset.lines():
            assert line["amount"] >= 0
    else:
        assert formset.non_form_errors() or any(form.errors for form in formset.forms)


@FAST
@given(state=field_value, comment=st.one_of(field_value, st.text(min_size=4990, max_size=5100)))
def test_answer_form_validates_anything(draft, state, comment):
    answer = draft.answers.select_related("requirement").first()
    prefix = f"answer-{answer.requirement_id}"
    form = AnswerForm({f"{prefix}-state": state, f"{prefix}-comment": comment}, answer=answer)
    if form.is_valid():
        assert len(form.cleaned_data["comment"]) <= 5000
        assert form.cleaned_data["state"] in {"", *Answer.State.values}
    else:
        assert form.errors


@FAST
@given(username=field_value, password=field_value)
def test_login_form_validates_anything(db, hospital_user, username, password):
    request = RequestFactory().post(reverse("accounts:login"))
    form = EmailAuthenticationForm(request, data={"username": username, "password": password})
    assert not form.is_valid()
    assert form.errors


# --- The pages that post them -------------------------------------------------------------


@PAGES
@given(data=identity_data)
def test_identity_page_never_fails(client, draft, hospital_user, data):
    client.force_login(hospital_user)
    response = client.post(url("application-identity", draft), data)
    assert_handled(response)
    if response.status_code != 302:
        assert "fr-error-text" in response.content.decode() or response.status_code >= 400


@settings(PAGES, max_examples=15)  # the page itself takes ~0.25 s to render
@given(data=budget_data())
def test_budget_page_never_fails(client, draft, hospital_user, data):
    client.force_login(hospital_user)
    assert_handled(client.post(url("application-budget", draft), data))


@PAGES
@given(data=st.data())
def test_answers_page_never_fails(client, draft, hospital_user, data):
    client.force_login(hospital_user)
    answer_ids = list(draft.answers.values_list("pk", flat=True))
    posted = data.draw(answers_data(answer_ids))
    assert_handled(client.post(url("application-answers", draft), posted))


@PAGES
@given(username=field_value, password=field_value, next_url=field_value)
def test_login_page_never_fails(client, hospital_user, username, password, next_url):
    response = client.post(
        reverse("accounts:login") + "?next=" + next_url[:50].replace("&", ""),
        {"username": username, "password": password},
    )
    assert_handled(response)
    assert response.status_code != 302  # never logged in by a random password
