"""ProConnect single sign-on, against a local OpenID provider started by the tests
(tests/accounts/oidc_provider.py): an ARS agent logs in, strongly authenticated; an
unknown e-mail, a wrong state or nonce, a missing or low acr are refused with a French
page and an audit event; nothing exists while it is not configured."""

import html
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import AuditEvent, User

from .oidc_provider import Login, ProviderServer

CLIENT_ID = "portail-care-test"
CLIENT_SECRET = "a-secret-only-the-tests-know"


@pytest.fixture
def provider(settings):
    with ProviderServer(CLIENT_ID, CLIENT_SECRET) as provider:
        settings.PROCONNECT_CLIENT_ID = CLIENT_ID
        settings.PROCONNECT_CLIENT_SECRET = CLIENT_SECRET
        settings.PROCONNECT_DISCOVERY_URL = f"{provider.base_url}/.well-known/openid-configuration"
        settings.CARE_TWO_FACTOR_REQUIRED = True
        yield provider


def start(client, next_url=""):
    """The agent presses the button: the portal sends them to the provider."""
    url = reverse("accounts:proconnect-login") + (f"?next={next_url}" if next_url else "")
    response = client.get(url)
    assert response.status_code == 302
    return response["Location"]


def through_provider(authorize_url):
    """The provider authenticates the agent and sends the browser back: the callback
    path and query on the portal."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    return back.path, parse_qs(back.query)


def callback(client, path, query, **changes):
    params = {key: values[0] for key, values in query.items()}
    params.update(changes)
    return client.get(path, params)


def text(response):
    return html.unescape(response.content.decode())


def logged_in_as(client):
    return client.session.get(SESSION_KEY)


def test_off_by_default_no_button_and_no_url(client, settings):
    assert settings.PROCONNECT_CLIENT_ID == ""
    page = client.get(reverse("accounts:login"))
    assert "ProConnect" not in text(page)
    assert client.get(reverse("accounts:proconnect-login")).status_code == 404
    response = client.get(reverse("accounts:proconnect-callback"), {"code": "x", "state": "y"})
    assert response.status_code == 404


def test_an_ars_agent_logs_in_with_proconnect(client, provider, ars_user):
    page = client.get(reverse("accounts:login"))
    assert "Se connecter avec ProConnect" in text(page)
    provider.next_login = Login(email=ars_user.email.upper())  # matched whatever the case

    authorize_url = start(client, next_url="/annuaire/")
    asked = {key: values[0] for key, values in parse_qs(urlsplit(authorize_url).query).items()}
    assert authorize_url.startswith(f"{provider.base_url}/authorize?")
    assert asked["client_id"] == CLIENT_ID
    assert asked["acr_values"] == "eidas1"
    assert asked["scope"].split()[0] == "openid" and "email" in asked["scope"].split()
    assert len(asked["state"]) >= 32 and len(asked["nonce"]) >= 32
    assert asked["code_challenge_method"] == "S256"
    path, query = through_provider(authorize_url)
    assert path == reverse("accounts:proconnect-callback")

    response = callback(client, path, query)

    assert response.status_code == 302 and response["Location"] == "/annuaire/"
    assert logged_in_as(client) == str(ars_user.pk)
    token_request = provider.token_requests[-1]
    assert token_request["code"] == query["code"][0] and token_request["code_verifier"]
    event = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).get()
    assert event.actor == ars_user
    assert event.details == {"method": "proconnect", "acr": "eidas1"}
    # Strongly authenticated: two-factor is required, yet no code is asked.
    assert client.get("/annuaire/").status_code == 200
    # The same answer cannot be replayed (the state was used up).
    client.logout()
    assert callback(client, path, query).status_code == 400
    assert logged_in_as(client) is None


def test_a_ministry_agent_logs_in_at_a_higher_eidas_level(client, provider, ministry_user):
    provider.next_login = Login(email=ministry_user.email, acr="eidas2")
    path, query = through_provider(start(client))
    assert callback(client, path, query).status_code == 302
    assert logged_in_as(client) == str(ministry_user.pk)


@pytest.mark.parametrize("who", ["unknown", "establishment", "inactive"])
def test_no_agent_account_no_login_and_no_account_created(
    client, provider, hospital_user, ars_user, who
):
    email = {
        "unknown": "inconnu@ars-ara.test",
        "establishment": hospital_user.email,  # a user, but no ARS or ministry membership
        "inactive": ars_user.email,
    }[who]
    if who == "inactive":
        ars_user.is_active = False
        ars_user.save()
    users = User.objects.count()
    provider.next_login = Login(email=email)
    path, query = through_provider(start(client))

    response = callback(client, path, query)

    assert response.status_code == 403
    assert "Aucun compte d'agent du Portail CaRE" in text(response)
    assert logged_in_as(client) is None
    assert User.objects.count() == users
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.actor_email == email
    assert event.details == {"method": "proconnect", "reason": "no_account"}


def test_a_wrong_state_is_refused_before_asking_for_the_token(client, provider, ars_user):
    provider.next_login = Login(email=ars_user.email)
    path, query = through_provider(start(client))

    response = callback(client, path, query, state="forged-state")

    assert response.status_code == 400
    assert "n'a pas pu être vérifiée" in text(response)
    assert logged_in_as(client) is None
    assert provider.token_requests == []
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.details == {"method": "proconnect", "reason": "invalid_response"}


def test_a_callback_without_a_login_started_is_refused(client, db, provider):
    response = client.get(reverse("accounts:proconnect-callback"), {"code": "c", "state": "s"})
    assert response.status_code == 400
    assert logged_in_as(client) is None


def test_a_wrong_nonce_is_refused(client, provider, ars_user):
    provider.next_login = Login(email=ars_user.email, nonce="a-nonce-from-another-login")
    path, query = through_provider(start(client))

    response = callback(client, path, query)

    assert response.status_code == 400
    assert "n'a pas pu être vérifiée" in text(response)
    assert logged_in_as(client) is None
    assert len(provider.token_requests) == 1


@pytest.mark.parametrize("acr", [None, "", "eidas0", "https://example.test/low"])
def test_a_missing_or_low_acr_is_refused(client, provider, ars_user, acr):
    provider.next_login = Login(email=ars_user.email, acr=acr)
    path, query = through_provider(start(client))

    response = callback(client, path, query)

    assert response.status_code == 403
    assert "niveau d'authentification suffisant" in text(response)
    assert logged_in_as(client) is None
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.details == {"method": "proconnect", "reason": "acr"}


@pytest.mark.parametrize("field", ["issuer", "audience"])
def test_a_token_for_another_issuer_or_client_is_refused(client, provider, ars_user, field):
    provider.next_login = Login(email=ars_user.email, **{field: "https://other.example.test"})
    path, query = through_provider(start(client))
    assert callback(client, path, query).status_code == 400
    assert logged_in_as(client) is None


def test_an_expired_id_token_is_refused(client, provider, ars_user):
    provider.next_login = Login(email=ars_user.email, lifetime=-120)
    path, query = through_provider(start(client))
    response = callback(client, path, query)
    assert response.status_code == 400
    assert "n'a pas pu être vérifiée" in text(response)
    assert logged_in_as(client) is None


def test_userinfo_about_another_subject_is_refused(client, provider, ars_user):
    provider.next_login = Login(email=ars_user.email, userinfo_sub="someone-else")
    path, query = through_provider(start(client))
    assert callback(client, path, query).status_code == 400
    assert logged_in_as(client) is None


def test_a_login_cancelled_at_the_provider_says_so(client, db, provider):
    start(client)
    response = client.get(
        reverse("accounts:proconnect-callback"), {"error": "access_denied", "state": "s"}
    )
    assert response.status_code == 403
    assert "annulée ou refusée" in text(response)


def test_an_unreachable_provider_gives_a_page_not_a_500(client, settings):
    settings.PROCONNECT_CLIENT_ID = CLIENT_ID
    settings.PROCONNECT_CLIENT_SECRET = CLIENT_SECRET
    settings.PROCONNECT_DISCOVERY_URL = "http://127.0.0.1:9/.well-known/openid-configuration"
    response = client.get(reverse("accounts:proconnect-login"))
    assert response.status_code == 502
    assert "ProConnect ne répond pas" in text(response)


def test_a_password_login_still_asks_for_the_second_factor(client, provider, ars_user):
    """The ProConnect exemption belongs to the session it was given in."""
    ars_user.set_password("un-mot-de-passe-assez-long")
    ars_user.save()
    client.post(
        reverse("accounts:login"),
        {"username": ars_user.email, "password": "un-mot-de-passe-assez-long"},
    )
    assert logged_in_as(client) == str(ars_user.pk)
    response = client.get("/annuaire/")
    assert response.status_code == 302 and "double-authentification" in response["Location"]


def test_logging_out_ends_the_proconnect_session_too(client, provider, ars_user):
    provider.next_login = Login(email=ars_user.email)
    path, query = through_provider(start(client))
    callback(client, path, query)
    assert logged_in_as(client) == str(ars_user.pk)

    response = client.post(reverse("accounts:logout"))

    assert logged_in_as(client) is None
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider.base_url}/session/end"
    hint = parse_qs(target.query)
    assert hint["post_logout_redirect_uri"] == ["http://testserver/"]
    assert hint["state"][0]
    assert hint["id_token_hint"] == [provider.id_tokens[-1]]  # the ID token it issued
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGOUT, actor=ars_user).exists()


def test_a_password_session_logs_out_of_the_portal_only(client, provider, ars_user):
    client.force_login(ars_user)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302 and response["Location"] == "/"
    assert logged_in_as(client) is None


@hypothesis_settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    params=st.dictionaries(
        st.sampled_from(["code", "state", "error", "error_description", "iss", "x"]),
        st.text(max_size=80),
        max_size=4,
    )
)
def test_any_callback_query_gives_a_page_never_a_500(client, db, provider, params):
    start(client)  # a login in progress: its state is in the session
    response = client.get(reverse("accounts:proconnect-callback"), params)
    assert response.status_code in {302, 400, 403}
    assert logged_in_as(client) is None


def test_answers_naming_no_account_lock_the_address_like_failed_passwords(
    client, provider, ars_user, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    provider.next_login = Login(email="inconnu@ars-ara.test")
    statuses = []
    for _attempt in range(3):
        path, query = through_provider(start(client))
        statuses.append(callback(client, path, query).status_code)
    # Locked: even the right agent is refused from this address until the cool-off ends.
    provider.next_login = Login(email=ars_user.email)
    path, query = through_provider(start(client))
    locked = callback(client, path, query)
    assert statuses[:2] == [403, 403]
    assert locked.status_code == 429
    assert logged_in_as(client) is None
