"""What every drill checks once its fault is over, on the whole database and the whole
media directory (not only on what the drill touched):

- every submission acknowledged to a user exists (submitted, never back to draft);
- every submitted application gets its score and its dossier (the dossier of its
  latest submission, done, its file present with its size and SHA-256), every decision
  its letter;
- nothing is duplicated: each application's transitions form one chain from draft to
  its status (a second scoring or approval would break it), one dossier per version,
  no evidence file twice, every file in the media directory belongs to exactly one row
  and every row has its file (nothing half-written);
- no call's envelope is exceeded (applications/decisions.py: granted amounts in
  approved and later statuses);
- every notification is sent: no transition or message still waits for its e-mail, no
  e-mail of the outbox (care_portal/mail.py) is left unsent."""

import hashlib
import itertools
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.db.models import Count

from applications.decisions import with_envelope_figures
from applications.models import (
    Application,
    Dossier,
    Evidence,
    FundingCall,
    Message,
    Transition,
)
from care_portal.models import OutgoingEmail

T = TypeVar("T")

FILLER_PREFIX = ".drill-filler"
DECIDED = ("approved", "rejected")


@dataclass
class Report:
    """What a drill did, saw and checked, printed as it goes."""

    name: str
    title: str
    started: float = field(default_factory=time.monotonic)
    failures: list[str] = field(default_factory=list)
    checks: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    ended: float = 0.0

    def header(self) -> None:
        self._print(f"\n== drill {self.name}: {self.title}")

    def did(self, text: str) -> None:
        self._print(f"  did:   {text}")

    def saw(self, text: str) -> None:
        self._print(f"  saw:   {text}")

    def check(self, label: str, ok: bool, detail: str = "") -> bool:
        self.checks += 1
        mark = "ok" if ok else "FAILED"
        self._print(f"  check: {label} ... {mark}{f' ({detail})' if detail else ''}")
        if not ok:
            self.failures.append(f"{label}: {detail}")
        return ok

    def finish(self) -> None:
        self.ended = time.monotonic()
        self.saw(f"{self.elapsed():.1f} s, {self.checks} checks")

    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @staticmethod
    def _print(text: str) -> None:
        print(text, flush=True)
        sys.stdout.flush()


def with_database(fn: Callable[[], T], timeout: float = 60) -> T:
    """Run a read, reconnecting while the database is restarting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except (OperationalError, InterfaceError):
            for connection in connections.all():
                connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def short(ids: Iterable[object], limit: int = 8) -> str:
    items = list(ids)
    head = ", ".join(str(i) for i in items[:limit])
    return head + (f"… ({len(items)} in all)" if len(items) > limit else "")


# --- The work that must finish --------------------------------------------------------------


def submission_counts() -> dict[int, int]:
    return dict(
        Transition.objects.filter(to_status="submitted")
        .values("application")
        .annotate(n=Count("id"))
        .values_list("application", "n")
    )


def decision_counts() -> dict[int, int]:
    return dict(
        Transition.objects.filter(from_status="national_review", to_status__in=DECIDED)
        .values("application")
        .annotate(n=Count("id"))
        .values_list("application", "n")
    )


def unfinished() -> dict[str, list[int]]:
    """Applications whose background work is not done: not scored since their last
    submission, dossier of the latest submission not done, decision letter not done."""
    close_old_connections()
    waiting = list(Application.objects.filter(status="submitted").values_list("pk", flat=True))
    done = set(
        Dossier.objects.filter(status="done").values_list("application_id", "kind", "version")
    )
    skip = set(waiting)
    dossiers = [
        pk
        for pk, n in submission_counts().items()
        if pk not in skip and (pk, "dossier", n) not in done
    ]
    letters = [pk for pk, n in decision_counts().items() if (pk, "decision", n) not in done]
    return {
        "not scored": waiting,
        "dossier missing": dossiers,
        "letter missing": letters,
        **notifications_left(),
    }


def notifications_left() -> dict[str, list[int]]:
    """Transitions and messages whose e-mail is not written yet, e-mails not sent."""
    return {
        "transition not notified": list(
            Transition.objects.filter(notification_pending=True).values_list("pk", flat=True)
        ),
        "message not notified": list(
            Message.objects.filter(notification_pending=True).values_list("pk", flat=True)
        ),
        "e-mail not sent": list(
            OutgoingEmail.objects.filter(sent_at__isnull=True).values_list("pk", flat=True)
        ),
    }


def wait_until_finished(
    report: Report, timeout: float, diagnose: Callable[[], str] | None = None
) -> bool:
    """Wait for the workers (and the sweeper) to finish every application's work. When
    they do not, `diagnose` says which piece stalled (queues, workers, beat)."""
    started = time.monotonic()
    last: dict[str, list[int]] = {}
    while time.monotonic() - started < timeout:
        last = with_database(unfinished)
        if not any(last.values()):
            took = time.monotonic() - started
            report.figures["finished_after_s"] = round(took, 1)
            return True
        time.sleep(1)
    left = "; ".join(f"{k}: {short(v)}" for k, v in last.items() if v)
    report.check(f"the background work finishes within {timeout:.0f} s", False, left)
    if diagnose is not None:
        print(f"  diagnosis:\n{diagnose()}", flush=True)
    return False


# --- The invariants -----------------------------------------------------------------------


def check_acknowledged(report: Report, acknowledged: Iterable[int]) -> None:
    ids = set(acknowledged)
    found = dict(Application.objects.filter(pk__in=ids).values_list("pk", "status"))
    lost = [pk for pk in ids if found.get(pk) in (None, "draft")]
    report.check(
        "every submission acknowledged to a user exists",
        not lost,
        f"{len(ids)} acknowledged, all submitted" if not lost else f"missing: {short(lost)}",
    )


def check_scores_and_dossiers(report: Report, media: Path) -> None:
    left = unfinished()
    submitted = submission_counts()
    unscored = list(
        Application.objects.filter(pk__in=submitted, eligibility__isnull=True).values_list(
            "reference", flat=True
        )
    )
    report.check(
        "every submitted application has its score",
        not left["not scored"] and not unscored,
        f"{len(submitted)} submitted applications"
        if not unscored and not left["not scored"]
        else f"not scored: {short(unscored or left['not scored'])}",
    )
    bad_files = []
    rows = Dossier.objects.filter(status="done").values_list(
        "application__reference", "kind", "version", "file", "size", "sha256"
    )
    for reference, kind, version, name, size, digest in rows:
        problem = file_problem(media, name, size, digest)
        if problem:
            bad_files.append(f"{reference} {kind} v{version}: {problem}")
    report.check(
        "every submitted application has its dossier, every decision its letter",
        not left["dossier missing"] and not left["letter missing"] and not bad_files,
        f"{len(rows)} PDFs done, files complete"
        if not (left["dossier missing"] or left["letter missing"] or bad_files)
        else f"dossiers missing: {short(left['dossier missing'])}; letters missing: "
        f"{short(left['letter missing'])}; bad files: {short(bad_files)}",
    )


def file_problem(media: Path, name: str, size: int | None, digest: str) -> str:
    path = media / name
    if not name or not path.is_file():
        return "no file"
    content = path.read_bytes()
    if size is not None and len(content) != size:
        return f"{len(content)} bytes instead of {size}"
    if digest and hashlib.sha256(content).hexdigest() != digest:
        return "SHA-256 differs"
    return ""


def check_no_duplicates(report: Report) -> None:
    statuses = dict(Application.objects.values_list("pk", "status"))
    references = dict(Application.objects.values_list("pk", "reference"))
    rows = Transition.objects.order_by("application_id", "created_at", "id").values_list(
        "application_id", "from_status", "to_status"
    )
    broken = []
    seen = set()
    for application_id, moves in itertools.groupby(rows, key=itemgetter(0)):
        seen.add(application_id)
        current = "draft"
        for _, source, target in moves:
            if source != current:
                broken.append(f"{references[application_id]}: {source}→{target} after {current}")
                break
            current = target
        else:
            if current != statuses[application_id]:
                broken.append(f"{references[application_id]}: log ends at {current}")
    broken += [
        f"{references[pk]}: {status} without a transition"
        for pk, status in statuses.items()
        if pk not in seen and status != "draft"
    ]
    report.check(
        "nothing duplicated: each application's transitions form one chain to its status",
        not broken,
        f"{len(seen)} applications" if not broken else short(broken),
    )
    extra = []
    submitted, decided = submission_counts(), decision_counts()
    for pk, kind, version in Dossier.objects.values_list("application_id", "kind", "version"):
        limit = (submitted if kind == "dossier" else decided).get(pk, 0)
        if version > limit:
            extra.append(f"{references[pk]} {kind} v{version}")
    twice = (
        Evidence.objects.values("application", "sha256")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("application__reference", flat=True)
    )
    report.check(
        "nothing duplicated: one PDF per version due, no evidence stored twice",
        not extra and not twice,
        "" if not extra and not twice else f"extra PDFs: {short(extra)}; twice: {short(twice)}",
    )


def media_files(media: Path) -> set[str]:
    return {
        str(path.relative_to(media))
        for path in media.rglob("*")
        if path.is_file() and not path.name.startswith(FILLER_PREFIX)
    }


def check_media(report: Report, media: Path) -> None:
    """Every file belongs to a row, every evidence row has its whole file."""
    files = media_files(media)
    evidence = list(Evidence.objects.values_list("file", "size", "sha256"))
    dossiers = set(Dossier.objects.exclude(file="").values_list("file", flat=True))
    referenced = {name for name, _size, _digest in evidence} | dossiers
    orphans = files - referenced
    broken = [
        f"{name}: {problem}"
        for name, size, digest in evidence
        if (problem := file_problem(media, name, size, digest))
    ]
    report.check(
        "nothing half-written: every stored file has its row, every evidence row its file",
        not orphans and not broken,
        f"{len(files)} files, {len(evidence)} evidence rows"
        if not orphans and not broken
        else f"orphan files: {short(sorted(orphans))}; broken rows: {short(broken)}",
    )


def check_envelopes(report: Report) -> None:
    over = [
        f"{call.code}: {call.committed} > {call.envelope}"  # type: ignore[attr-defined]
        for call in with_envelope_figures(FundingCall.objects.all())
        if call.committed > call.envelope  # type: ignore[attr-defined]
    ]
    committed = sum(
        (c.committed for c in with_envelope_figures(FundingCall.objects.all())),  # type: ignore[attr-defined]
        start=0,
    )
    report.check(
        "no call's envelope is exceeded",
        not over,
        f"{FundingCall.objects.count()} calls, {committed} € committed"
        if not over
        else short(over),
    )


def check_notifications(report: Report) -> None:
    left = {k: v for k, v in notifications_left().items() if v}
    notified = Transition.objects.filter(notification_pending=False).count()
    report.check(
        "every notification is sent (transitions, messages, outbox)",
        not left,
        f"{notified} transitions, none waiting; outbox empty"
        if not left
        else "; ".join(f"{k}: {short(v)}" for k, v in left.items()),
    )


def invariants(report: Report, media: Path, *, acknowledged: Iterable[int] = ()) -> None:
    def run() -> None:
        close_old_connections()
        check_acknowledged(report, acknowledged)
        check_scores_and_dossiers(report, media)
        check_no_duplicates(report)
        check_media(report, media)
        check_envelopes(report)
        check_notifications(report)

    with_database(run)


def dossier_attempts(ids: Iterable[int]) -> Counter[int]:
    """How many dossiers of these applications took n attempts."""
    return Counter(
        Dossier.objects.filter(application_id__in=list(ids), kind="dossier").values_list(
            "attempts", flat=True
        )
    )
