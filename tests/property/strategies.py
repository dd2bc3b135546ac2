"""Shared hypothesis settings and strategies for the property tests: small example
counts (the suite's time), no deadline (PostgreSQL round trips vary on a shared machine)
and function-scoped fixtures allowed (each test reuses its persona and objects across its
examples, inside one test transaction)."""

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: a failure is reproducible in CI
)

# The pages, each example a full request: fewer examples.
PAGES = settings(FAST, max_examples=25)

# Any text, NUL and control characters included (surrogates cannot be encoded in a post).
any_text = st.text(max_size=300)
# Text that looks like what a field expects, or anything at all.
numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(str),
)
field_value = st.one_of(any_text, numbers, st.just(""), st.just("\x00"))

# Answers that a page may give: a response, a redirection, or a refusal with a message.
HANDLED = {200, 302, 400, 403, 404, 405, 409, 413, 422, 429}


def assert_handled(response) -> None:
    event(f"status {response.status_code}")  # pytest --hypothesis-show-statistics
    assert response.status_code in HANDLED, (response.status_code, response.content[:500])
