"""Users of the portal during a drill: establishment users submitting their drafts (and
sending evidence) over HTTP, and readers browsing pages, each in a thread with its own
browser session. Every answer is kept, with when it came."""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .client import Browser, NoAnswer, Response
from .seed import PASSWORD, Applicant, Draft

UNAVAILABLE_TITLE = "Service momentanément indisponible"
STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)"')


@dataclass
class Acknowledgement:
    application_id: int
    reference: str
    at: float  # when the user was told (the answer to the submission)
    attempts: int  # posts it took (a 503 is not an acknowledgement: the user tries again)


@dataclass
class Traffic:
    """Every answer and every failure to answer, from every user."""

    responses: list[Response] = field(default_factory=list)
    no_answer: list[tuple[float, str]] = field(default_factory=list)
    acknowledged: list[Acknowledgement] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, response: Response) -> Response:
        with self.lock:
            self.responses.append(response)
        return response

    def lost(self, what: str) -> None:
        with self.lock:
            self.no_answer.append((time.monotonic(), what))

    def problem(self, what: str) -> None:
        with self.lock:
            self.problems.append(what)

    def ack(self, ack: Acknowledgement) -> None:
        with self.lock:
            self.acknowledged.append(ack)

    def between(self, start: float, end: float) -> list[Response]:
        return [r for r in self.responses if start <= r.at <= end]


def is_unavailable_page(response: Response) -> bool:
    """The portal's 503 page: French, self-contained, no traceback, Retry-After."""
    if response.path == "/healthz" and response.headers.get("content-type") == "application/json":
        return response.status == 503 and '"status": "error"' in response.body
    body = response.text
    return (
        response.status == 503
        and response.headers.get("content-type", "").startswith("text/html")
        and UNAVAILABLE_TITLE in body
        and '<html lang="fr">' in body
        and "Traceback" not in body
        and "Error" not in body
        and response.headers.get("retry-after") == "30"
    )


def is_ok(response: Response) -> bool:
    return 200 <= response.status < 400


class User(threading.Thread):
    """A logged-in establishment user; `act` is what it does, in its own thread."""

    def __init__(self, host: str, port: int, applicant: Applicant, traffic: Traffic) -> None:
        super().__init__(daemon=True, name=applicant.email)
        self.browser = Browser(host, port, name=applicant.email)
        self.applicant = applicant
        self.traffic = traffic
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.patiently(lambda: self.browser.login(self.applicant.email, PASSWORD))
            self.act()
        except BaseException as error:  # reported by the drill
            self.error = error
            self.traffic.problem(f"{self.applicant.email}: {type(error).__name__}: {error}")

    def act(self) -> None:
        raise NotImplementedError

    def patiently(self, action: Callable[[], None], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                action()
                return
            except NoAnswer as error:
                if time.monotonic() > deadline:
                    raise
                self.traffic.lost(str(error))
                time.sleep(0.5)

    def get(self, path: str) -> Response:
        """A page, asked again while the portal answers 503 (or does not answer)."""
        deadline = time.monotonic() + 90
        while True:
            try:
                page = self.traffic.keep(self.browser.get(path))
            except NoAnswer as error:
                self.traffic.lost(str(error))
                page = None
            if page is not None and page.status != 503:
                return page
            if time.monotonic() > deadline:
                raise NoAnswer(f"GET {path}: still unavailable after 90 s")
            time.sleep(0.5)

    def submit(self, draft: Draft, already: int = 0) -> None:
        """Open the submission page, swear, post; a 503 (or no answer) is no
        acknowledgement: the user tries again, as a person would. `already`: posts
        made before, unanswered."""
        path = f"/candidatures/{draft.public_id}/depot/"
        detail = f"/candidatures/{draft.public_id}/"
        attempts = already
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            page = self.get(path)
            if page.status == 302 and page.location == detail:
                shown = self.get(detail)  # not editable: submitted by an earlier post
                if "Cette candidature a déjà été déposée" in shown.text:
                    self.traffic.ack(Acknowledgement(draft.id, draft.reference, page.at, attempts))
                    return
                self.traffic.problem(f"{draft.reference}: {shown.status} {shown.text[:200]}")
                return
            if page.status != 200:
                self.traffic.problem(f"{draft.reference}: submission page {page.status}")
                return
            attempts += 1
            fields = submission_fields(page)
            try:
                answer = self.traffic.keep(self.browser.post(path, fields))
            except NoAnswer as error:
                self.traffic.lost(str(error))
                time.sleep(0.5)
                continue
            if answer.status == 503:
                time.sleep(0.5)
                continue
            if answer.status == 302 and answer.location == detail:
                shown = self.get(detail)
                told = f"Votre candidature {draft.reference} a été déposée"
                if told in shown.text or "Cette candidature a déjà été déposée" in shown.text:
                    self.traffic.ack(
                        Acknowledgement(draft.id, draft.reference, answer.at, attempts)
                    )
                else:
                    self.traffic.problem(f"{draft.reference}: no acknowledgement shown")
                return
            self.traffic.problem(
                f"{draft.reference}: submission answered {answer.status} "
                f"{_first_error(answer.text)}"
            )
            return
        self.traffic.problem(f"{draft.reference}: not submitted within 120 s")


class Submitter(User):
    """Submits each of its drafts in turn, `pause` seconds apart."""

    def __init__(self, *args: object, pause: float = 0.3, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.pause = pause

    def act(self) -> None:
        for draft in self.applicant.drafts:
            if self.stop.is_set():
                return
            self.submit(draft)
            time.sleep(self.pause)


class LateSubmitter(User):
    """Opens each of its drafts' submission page, then waits for `go` (the outage) to
    post them all: forms sent while the database is down, then sent again."""

    def __init__(self, *args: object, go: threading.Event, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.go = go
        self.opened = threading.Event()

    def act(self) -> None:
        forms = {
            d.id: submission_fields(self.get(f"/candidatures/{d.public_id}/depot/"))
            for d in self.applicant.drafts
        }
        self.opened.set()
        self.go.wait(120)
        answers: dict[int, int] = {}
        for draft in self.applicant.drafts:  # all sent at once, the database down
            fields = forms[draft.id]
            try:
                path = f"/candidatures/{draft.public_id}/depot/"
                answers[draft.id] = self.traffic.keep(self.browser.post(path, fields)).status
            except NoAnswer as error:
                self.traffic.lost(str(error))
                answers[draft.id] = 0
        for draft in self.applicant.drafts:
            if answers[draft.id] == 302:
                self.submit(draft)  # taken after all: the page says it was submitted
                continue
            if answers[draft.id] != 503:
                self.traffic.problem(f"{draft.reference}: early post answered {answers[draft.id]}")
            self.submit(draft, already=1)  # 503: not taken, the user tries again


class Reader(User):
    """Browses its applications (list, each page) and the health check until stopped;
    every answer is kept as it comes, 503 included."""

    def act(self) -> None:
        paths = [
            "/candidatures/",
            *(f"/candidatures/{d.public_id}/" for d in self.applicant.drafts),
            "/healthz",
        ]
        while not self.stop.is_set():
            for path in paths:
                if self.stop.is_set():
                    return
                try:
                    self.traffic.keep(self.browser.get(path))
                except NoAnswer as error:
                    self.traffic.lost(str(error))
                time.sleep(0.1)


def submission_fields(page: Response) -> dict[str, str]:
    """What a user posts from the submission page: the sworn statement ticked and, when
    the page warns that the application would be found ineligible, the confirmation
    that it is filed anyway (the drills' drafts are filed whatever their score)."""
    fields = {"csrfmiddlewaretoken": page.csrf_token(), "sworn": "on"}
    if 'name="accept_ineligible"' in page.text:
        fields["accept_ineligible"] = "on"
    return fields


def _first_error(html: str) -> str:
    """The first error message a refused form shows, to say why in the drill's report."""
    match = re.search(r'class="fr-(?:error-text|message--error)[^"]*"[^>]*>\s*([^<]+)', html)
    return match.group(1).strip() if match else ""
