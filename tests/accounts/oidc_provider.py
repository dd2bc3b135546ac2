"""A small OpenID Connect provider for the ProConnect tests, run in process on
127.0.0.1 (a free port): discovery, authorize (redirects back with code and state),
token (an RS256-signed ID token with nonce, acr and e-mail; PKCE checked), userinfo and
JWKS. Each test says who logs in and how the provider misbehaves (`next_login`)."""

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_ID = "test-key-1"


@dataclass
class Login:
    """What the provider says about the next person who logs in."""

    email: str = "charlie@ars-ara.test"
    acr: str | None = "eidas1"
    nonce: str | None = None  # None: the nonce of the request (a wrong one to test)
    issuer: str | None = None  # None: the provider's own issuer
    audience: str | None = None  # None: the client id of the request
    lifetime: int = 60  # seconds until the ID token expires (negative: expired)
    userinfo_sub: str | None = None  # None: the ID token's subject


@dataclass
class Provider:
    client_id: str
    client_secret: str
    base_url: str = ""
    next_login: Login = field(default_factory=Login)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, Login] = field(default_factory=dict)
    id_tokens: list[str] = field(default_factory=list)
    key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))

    @property
    def issuer(self) -> str:
        return self.base_url

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base_url}/authorize",
            "token_endpoint": f"{self.base_url}/token",
            "userinfo_endpoint": f"{self.base_url}/userinfo",
            "jwks_uri": f"{self.base_url}/jwks",
            "end_session_endpoint": f"{self.base_url}/session/end",
            "id_token_signing_alg_values_supported": ["RS256"],
            "acr_values_supported": ["eidas1", "eidas2", "eidas3"],
        }

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]}

    def authorize(self, query: dict[str, str]) -> str:
        """The URL the browser is sent back to: redirect_uri with code and state."""
        self.authorize_requests.append(query)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"query": query, "login": self.next_login}
        separator = "&" if "?" in query["redirect_uri"] else "?"
        return f"{query['redirect_uri']}{separator}" + urlencode(
            {"code": code, "state": query.get("state", "")}
        )

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _sep, client_secret = decoded.partition(":")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code serves once
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        query, login = grant["query"], grant["login"]
        if form.get("redirect_uri") != query["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        if "code_challenge" in query:
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != query["code_challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": login.issuer or self.issuer,
            "aud": login.audience or client_id,
            "sub": hashlib.sha256(login.email.encode()).hexdigest(),
            "iat": now,
            "exp": now + login.lifetime,
            "nonce": login.nonce if login.nonce is not None else query.get("nonce"),
            "email": login.email,
        }
        if login.acr is not None:
            claims["acr"] = login.acr
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KEY_ID})
        self.id_tokens.append(id_token)
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = login
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 60,
            "id_token": id_token,
        }

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        login = self.access_tokens.get(authorization.removeprefix("Bearer "))
        if login is None:
            return 401, {"error": "invalid_token"}
        return 200, {
            "sub": login.userinfo_sub or hashlib.sha256(login.email.encode()).hexdigest(),
            "email": login.email,
            "given_name": "Charlie",
            "usual_name": "Dupont",
        }


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif parts.path == "/jwks":
                self._json(200, provider.jwks())
            elif parts.path == "/authorize":
                self.send_response(302)
                self.send_header("Location", provider.authorize(query))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif parts.path == "/userinfo":
                self._json(*provider.userinfo(self.headers.get("Authorization", "")))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            form = {key: values[0] for key, values in parse_qs(body).items()}
            if urlsplit(self.path).path == "/token":
                self._json(*provider.token(form, self.headers.get("Authorization", "")))
            else:
                self._json(404, {"error": "not_found"})

    return Handler


class ProviderServer:
    """`with ProviderServer(...) as provider:` serves the provider until the block ends."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        self.provider = Provider(client_id=client_id, client_secret=client_secret)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.provider))
        host, port = self.server.server_address[:2]
        self.provider.base_url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self.provider

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
