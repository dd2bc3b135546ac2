"""A plain HTTP client for the drills (the standard library only): one connection per
request, cookies kept by hand, CSRF tokens read from the forms, no redirect followed
unless asked.

The drills talk plain HTTP to gunicorn on loopback, as a TLS-terminating proxy does in
production: each request says `X-Forwarded-Proto: https` (SECURE_PROXY_SSL_HEADER), so
the production settings apply unchanged (no HTTPS redirect, secure cookies, strict
Referer check of CSRF); the client sends the secure cookies back over loopback."""

import html
import http.client
import re
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode, urlsplit

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TIMEOUT = 30.0


class NoAnswer(Exception):
    """gunicorn did not answer (connection refused or reset, timeout)."""


@dataclass
class Response:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: str
    elapsed: float
    at: float  # time.monotonic() when the answer came

    @property
    def location(self) -> str:
        return urlsplit(self.headers.get("location", "")).path

    @property
    def text(self) -> str:
        """The body with HTML entities decoded (the pages escape apostrophes)."""
        return html.unescape(self.body)

    def csrf_token(self) -> str:
        match = CSRF_FIELD.search(self.body)
        if not match:
            raise NoAnswer(f"no CSRF token in {self.method} {self.path} ({self.status})")
        return match.group(1)


@dataclass
class Browser:
    host: str
    port: int
    name: str = ""
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"https://{self.host}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "",
        timeout: float = TIMEOUT,
    ) -> Response:
        headers = {
            "Host": f"{self.host}:{self.port}",
            "X-Forwarded-Proto": "https",
            "Referer": f"{self.origin}{path}",
            "User-Agent": f"care-drills/{self.name or 'client'}",
            "Accept": "text/html,application/json",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = content_type
            headers["Content-Length"] = str(len(body))
        started = time.monotonic()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as error:
            raise NoAnswer(f"{method} {path}: {type(error).__name__}: {error}") from error
        finally:
            connection.close()
        for header in answer.headers.get_all("Set-Cookie") or []:
            self._keep_cookie(header)
        return Response(
            method=method,
            path=path,
            status=answer.status,
            headers={k.lower(): v for k, v in answer.headers.items()},
            body=data.decode("utf-8", errors="replace"),
            elapsed=time.monotonic() - started,
            at=time.monotonic(),
        )

    def _keep_cookie(self, header: str) -> None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            return
        for name, morsel in jar.items():
            expired = morsel["max-age"] == "0" or "1970" in morsel["expires"]
            if expired or not morsel.coded_value or morsel.coded_value == '""':
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.coded_value

    def get(self, path: str, *, timeout: float = TIMEOUT) -> Response:
        return self.request("GET", path, timeout=timeout)

    def post(
        self,
        path: str,
        fields: dict[str, str],
        *,
        files: list[tuple[str, str, bytes, str]] | None = None,
        timeout: float = TIMEOUT,
    ) -> Response:
        """A form post; `files`: (field, file name, content, content type)."""
        if not files:
            return self.request(
                "POST",
                path,
                body=urlencode(fields).encode(),
                content_type="application/x-www-form-urlencoded",
                timeout=timeout,
            )
        boundary = f"drills{uuid.uuid4().hex}"
        parts: list[bytes] = []
        for key, value in fields.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        for key, filename, content, ctype in files:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; '
                f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(
            "POST",
            path,
            body=b"".join(parts),
            content_type=f"multipart/form-data; boundary={boundary}",
            timeout=timeout,
        )

    def login(self, email: str, password: str) -> None:
        page = self.get("/accounts/login/")
        if page.status != 200:
            raise NoAnswer(f"login page answered {page.status}")
        answer = self.post(
            "/accounts/login/",
            {"username": email, "password": password, "csrfmiddlewaretoken": page.csrf_token()},
        )
        if answer.status != 302 or "sessionid" not in self.cookies:
            raise NoAnswer(f"login of {email} answered {answer.status}: {answer.text[:300]}")
