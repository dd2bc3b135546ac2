"""The four drills. Each seeds its own call, puts the portal under traffic, breaks a
piece of its infrastructure, lets it recover by itself, then checks the invariants of
drills/checks.py and its own (what users saw meanwhile)."""

import errno
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import close_old_connections, connection
from django.db.models import Q

from applications.models import Application, Dossier, EligibilityResult, Evidence, Transition

from . import checks
from .checks import Report, with_database
from .client import Browser, NoAnswer
from .seed import Applicant, Draft, Seeder
from .services import Services, wait_for
from .traffic import (
    STYLESHEET,
    LateSubmitter,
    Reader,
    Submitter,
    Traffic,
    User,
    is_ok,
    is_unavailable_page,
)


@dataclass
class Context:
    services: Services
    seeder: Seeder
    applications: int  # the size of the killed-worker drill's call
    fresh: int  # of which submitted just before (scored and rendered during the drill)

    def start(self, users: list[User]) -> None:
        for user in users:
            user.start()

    @property
    def media(self) -> Path:
        return self.services.media


def join(users: list[User], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for user in users:
        user.join(max(0.1, deadline - time.monotonic()))


def stop(users: list[User]) -> None:
    for user in users:
        user.stop.set()
    join(users, 30)


def wait_acks(traffic: Traffic, count: int, timeout: float) -> None:
    wait_for(lambda: len(traffic.acknowledged) >= count, timeout, 0.1)


def report_traffic(report: Report, traffic: Traffic) -> None:
    report.check(
        "no user hit a broken page (no error but the portal's 503, no exception)",
        not traffic.problems,
        "; ".join(traffic.problems[:5]),
    )


# --- Redis -----------------------------------------------------------------------------------


def redis_drill(ctx: Context, report: Report) -> None:
    services, seeder = ctx.services, ctx.seeder
    call = seeder.call("DRILL-REDIS", envelope=Decimal("50000000"))
    applicants = seeder.applicants(call, users=5, drafts_each=6)
    drafts = sum(len(a.drafts) for a in applicants)
    traffic = Traffic()
    host, port = "127.0.0.1", services.web_port
    submitters: list[User] = [Submitter(host, port, a, traffic, pause=0.4) for a in applicants]
    readers: list[User] = [Reader(host, port, applicants[0], traffic)]
    ctx.start(readers + submitters)
    wait_acks(traffic, 8, 60)
    killed_at = services.redis_kill()
    report.did(
        f"{len(submitters)} users submit {drafts} applications over HTTP (one reader browses); "
        f"after {len(traffic.acknowledged)} acknowledged, Redis killed (SIGKILL)"
    )
    time.sleep(5)
    back_at = services.redis_start()
    report.did(
        f"Redis restarted {back_at - killed_at:.1f} s later (append-only file on, as in "
        "production); the workers and beat reconnect by themselves"
    )
    join(submitters, 180)
    time.sleep(2)
    stop(readers)
    during = [a for a in traffic.acknowledged if killed_at <= a.at <= back_at]
    posts = [r for r in traffic.responses if r.method == "POST"]
    slowest = max((r.elapsed for r in posts if killed_at <= r.at <= back_at), default=0.0)
    report.saw(
        f"{len(traffic.acknowledged)} submissions acknowledged, {len(during)} while Redis was "
        f"down (slowest answer then {slowest:.2f} s); {len(traffic.responses)} answers in all"
    )
    health = [r for r in traffic.responses if r.path == "/healthz"]
    down = [r for r in health if r.status == 503]
    report.saw(
        f"the health check answered 503 (redis: error) {len(down)} times while Redis was down, "
        f"then {'200' if health and health[-1].status == 200 else 'NOT 200'}"
    )
    bad = [r for r in traffic.responses if not is_ok(r) and r not in down]
    report_traffic(report, traffic)
    report.check(
        "every submission acknowledged at the first post, Redis down or not",
        len(traffic.acknowledged) == drafts and all(a.attempts == 1 for a in traffic.acknowledged),
        f"{len(traffic.acknowledged)}/{drafts}",
    )
    report.check(
        "submissions were made while Redis was down (the drill tested something)",
        bool(during),
        f"{len(during)}",
    )
    report.check(
        "pages kept answering without Redis (no 5xx, no connection lost)",
        not bad and not traffic.no_answer,
        f"{len(bad)} bad answers, {len(traffic.no_answer)} lost"
        if bad or traffic.no_answer
        else "",
    )
    due = with_database(checks.notifications_left)
    report.saw(
        f"when the traffic ended, {len(due['transition not notified'])} status changes still "
        f"waited for their e-mail, {len(due['e-mail not sent'])} e-mails of the outbox unsent "
        "(those whose task Redis lost wait for the sweeper)"
    )
    checks.wait_until_finished(report, 150, ctx.services.diagnose)
    delays = with_database(lambda: scoring_delays([a.application_id for a in during]))
    report.saw(
        f"all scored and rendered {report.figures.get('finished_after_s', '?')} s after the "
        f"last submission; those submitted while Redis was down were scored "
        f"{min(delays, default=0):.0f}–{max(delays, default=0):.0f} s after their submission "
        "(their tasks were lost: the sweeper re-queued them, it waits 20 s here)"
    )
    checks.invariants(
        report, ctx.media, acknowledged=[a.application_id for a in traffic.acknowledged]
    )


def scoring_delays(ids: list[int]) -> list[float]:
    """Seconds between each application's submission and its scoring."""
    close_old_connections()
    moves = Transition.objects.filter(application_id__in=ids).values_list(
        "application_id", "to_status", "created_at"
    )
    submitted = {pk: at for pk, to, at in moves if to == "submitted"}
    scored = {pk: at for pk, to, at in moves if to in ("regional_review", "ineligible")}
    return [(scored[pk] - submitted[pk]).total_seconds() for pk in submitted if pk in scored]


# --- PostgreSQL ------------------------------------------------------------------------------


def postgresql_drill(ctx: Context, report: Report) -> None:
    services, seeder = ctx.services, ctx.seeder
    call = seeder.call("DRILL-PG", envelope=Decimal("50000000"))
    applicants = seeder.applicants(call, users=6, drafts_each=4)
    drafts = sum(len(a.drafts) for a in applicants)
    traffic = Traffic()
    host, port = "127.0.0.1", services.web_port
    go = threading.Event()
    late = LateSubmitter(host, port, applicants[-1], traffic, go=go)
    submitters: list[User] = [
        *(Submitter(host, port, a, traffic, pause=0.8) for a in applicants[:-1]),
        late,
    ]
    readers: list[User] = [Reader(host, port, a, traffic) for a in applicants[:2]]
    ctx.start(readers + submitters)
    wait_acks(traffic, 4, 60)
    late.opened.wait(60)
    with_database(lambda: close_old_connections())
    down_at = services.pg_stop("immediate")
    go.set()
    report.did(
        f"{len(submitters)} users submit {drafts} applications over HTTP (one of them posts "
        f"the forms of its {len(late.applicant.drafts)} drafts, opened before, just after the "
        "database goes down), two readers browse; after "
        f"{len(traffic.acknowledged)} acknowledged, PostgreSQL stopped in `immediate` mode (a "
        "crash: every connection cut, WAL recovery at restart)"
    )
    time.sleep(1.5)
    stylesheet = outage_stylesheet(services, traffic)
    time.sleep(4.5)
    up_at = services.pg_start()
    report.did(f"PostgreSQL started again {up_at - down_at:.1f} s later")
    join(submitters, 180)
    time.sleep(3)
    stop(readers)

    unavailable = [r for r in traffic.responses if r.status == 503]
    well_formed = [r for r in unavailable if is_unavailable_page(r)]
    other = [r for r in traffic.responses if not is_ok(r) and r.status != 503]
    last_503 = max((r.at for r in unavailable), default=down_at)
    after = [r for r in traffic.responses if r.at > last_503]
    report.saw(
        f"{len(traffic.responses)} answers: {len(unavailable)} × 503 while the database was "
        f"unreachable, {len(other)} other errors, {len(traffic.no_answer)} requests unanswered; "
        f"last 503 {last_503 - up_at:+.1f} s from the restart, then {len(after)} answers, all "
        f"{'good' if all(is_ok(r) for r in after) else 'NOT good'}"
    )
    report_traffic(report, traffic)
    report.check(
        "gunicorn answered every request (no connection refused or reset, no timeout)",
        not traffic.no_answer,
        "; ".join(w for _, w in traffic.no_answer[:3]),
    )
    report.check(
        "without its database the portal answers its 503 page (French, Retry-After, no "
        "traceback), never a 500",
        bool(unavailable) and len(well_formed) == len(unavailable) and not other,
        f"{len(well_formed)}/{len(unavailable)} well-formed 503, {len(other)} other errors"
        + "".join(
            f"; {r.status} {r.path} {r.headers.get('content-type')}: {r.body[:160]!r}"
            for r in [*[r for r in unavailable if r not in well_formed], *other][:3]
        ),
    )
    report.check(
        "the 503 page's stylesheet is served while the database is down",
        stylesheet == 200,
        f"GET answered {stylesheet}",
    )
    report.check(
        "the portal recovers by itself within 10 s of PostgreSQL's restart, every answer good "
        "after that",
        last_503 - up_at < 10 and bool(after) and all(is_ok(r) for r in after),
        f"last 503 {last_503 - up_at:+.1f} s",
    )
    retried = [a for a in traffic.acknowledged if a.attempts > 1]
    report.check(
        "every draft submitted and acknowledged once (a form posted during the outage got "
        "the 503 page and was taken when sent again)",
        len(traffic.acknowledged) == drafts
        and len({a.application_id for a in traffic.acknowledged}) == drafts
        and len(retried) >= len(late.applicant.drafts),
        f"{len(traffic.acknowledged)}/{drafts}, {len(retried)} after a 503",
    )
    checks.wait_until_finished(report, 150, ctx.services.diagnose)
    report.saw(f"all scored and rendered {report.figures.get('finished_after_s', '?')} s later")
    checks.invariants(
        report, ctx.media, acknowledged=[a.application_id for a in traffic.acknowledged]
    )


def outage_stylesheet(services: Services, traffic: Traffic) -> int:
    """During the outage: the stylesheet of a 503 page just served (a static file)
    still downloads. 0: no 503 page seen yet."""
    pages = [r for r in traffic.responses if r.status == 503 and STYLESHEET.search(r.body)]
    if not pages:
        return 0
    match = STYLESHEET.search(pages[-1].body)
    assert match is not None
    try:
        return Browser("127.0.0.1", services.web_port).get(match.group(1)).status
    except NoAnswer:
        return -1


# --- kill -9 the workers -----------------------------------------------------------------------

BATCH = 300  # the bulk approval: 300 applications, room in the envelope for 30


def workers_drill(ctx: Context, report: Report) -> None:
    from applications.decision_jobs import decision_job, decision_job_start
    from applications.eligibility import RULES_VERSION
    from applications.scoring import rescore_call

    services, seeder = ctx.services, ctx.seeder
    call = seeder.call("DRILL-KILL", envelope=Decimal("500000000"))
    seeded = time.monotonic()
    ids, fresh = seeder.submitted_call(call, count=ctx.applications, fresh=ctx.fresh)
    amount = Decimal("100000")
    decided_call = seeder.call("DRILL-KILL-DEC", envelope=amount * 30)
    decision_ids, _ = seeder.submitted_call(
        decided_call, count=BATCH, fresh=0, status="national_review", amount=amount
    )
    report.did(
        f"seeded in {time.monotonic() - seeded:.1f} s: a call of {len(ids)} submitted "
        f"applications ({len(fresh)} just submitted, {len(ids) - len(fresh)} scored by older "
        f"rules with their dossier), and {BATCH} in national review whose requests exceed their "
        f"call's envelope ({amount * 30} €: room for 30)"
    )

    def current() -> int:
        close_old_connections()
        return EligibilityResult.objects.filter(
            application_id__in=ids, rules_version=RULES_VERSION
        ).count()

    def rendering() -> dict[str, int]:
        """The PDFs of the drill: dossiers of the fresh submissions, decision letters."""
        rows = Dossier.objects.filter(
            Q(application_id__in=fresh, kind="dossier")
            | Q(application_id__in=decision_ids, kind="decision")
        )
        return {s: rows.filter(status=s).count() for s in ("running", "done", "failed")}

    started = time.monotonic()
    job_id = decision_job_start(
        action="approve",
        application_ids=decision_ids,
        by=seeder.ministry,
        amounts=dict.fromkeys(decision_ids, amount),
    )

    def job_progress() -> int:
        job = decision_job(job_id) or {}
        return max(int(job.get("progress", 0)), len(job.get("entries", [])))

    def job_running() -> bool:
        job = decision_job(job_id) or {}
        return job.get("state") == "running" and job_progress() >= 10

    # Queuing 1,500 tasks takes a few seconds, longer than the bulk approval: it is
    # queued meanwhile by another thread.
    queued: list[int] = []

    def queue_rescoring() -> None:
        try:
            queued.append(rescore_call(call=call)[1])
        finally:
            connection.close()

    queuing = threading.Thread(target=queue_rescoring, daemon=True)
    queuing.start()
    # In the middle of the bulk approval's transaction (it lasts a second or two), while
    # the other processes rescore and render.
    wait_for(job_running, 60, 0.02)
    killed = services.workers_kill()
    killed_at = time.monotonic()
    # What the kill interrupted (nothing moves any more: no worker is left).
    job_state = (decision_job(job_id) or {}).get("state")
    snapshot = (current(), job_progress(), rendering())
    queuing.join(60)
    report.did(
        f"queued on the workers: a bulk approval of the {BATCH} (a job of the admin), then the "
        f"rescoring of the {queued[0] if queued else '?'} applications (the service of "
        "`manage.py score_applications`)"
    )
    report.did(
        f"kill -9 of both workers, {len(killed)} processes (main and pool), "
        f"{killed_at - started:.1f} s in: {snapshot[0]}/{len(ids)} rescored, the bulk "
        f"approval {job_state}, {snapshot[1]}/{BATCH} decided"
        f"{' in its uncommitted transaction' if job_state == 'running' else ''}, PDFs {snapshot[2]}"
    )
    report.check(
        "the kill interrupted the bulk approval in the middle of its transaction",
        job_state == "running",
        f"it was {job_state}",
    )
    time.sleep(1)
    services.workers_start()
    report.did(
        f"workers started again (as their supervisor would) {time.monotonic() - killed_at:.1f} "
        "s later"
    )
    # Half the call rescored and a PDF being rendered (or, at worst, a minute later).
    wait_for(lambda: current() >= len(ids) // 2, 180, 0.2)
    left = len(fresh) + 30  # the fresh dossiers and the decision letters

    wait_for(lambda: bool(rendering()["running"]) or rendering()["done"] >= left, 60, 0.1)
    snapshot = (current(), job_progress(), rendering())
    killed = services.workers_kill_pool()
    report.did(
        f"kill -9 of the {len(killed)} pool processes (their main processes live on), "
        f"{time.monotonic() - started:.1f} s in: {snapshot[0]}/{len(ids)} rescored, "
        f"PDFs {snapshot[2]}"
    )

    def all_done() -> bool:
        job = decision_job(job_id) or {}
        return (
            current() == len(ids)
            and job.get("state") == "done"
            and not any(checks.unfinished().values())
        )

    finished = with_database(lambda: wait_for(all_done, 240, 1))
    took = time.monotonic() - started
    if not finished:
        print(f"  diagnosis:\n{services.diagnose()}", flush=True)
    report.saw(
        f"everything done {took:.1f} s after the rescoring was queued "
        f"({len(ids) / took:.1f} applications/s with the kills included: a killed worker's "
        "messages come back after the visibility timeout of 30 s, or sooner through the "
        "sweeper, which queues again the rescoring batches not done after 20 s)"
    )
    report.figures.update(applications=len(ids), fresh=len(fresh), took_s=round(took, 1))
    report.check("the work finished within 240 s", finished)
    rescored = current()
    report.check(
        "every application of the call rescored (results of the current rules)",
        rescored == len(ids),
        f"{rescored}/{len(ids)}",
    )
    attempts = checks.dossier_attempts(fresh)
    report.check(
        "every fresh submission scored and its dossier rendered, the killed renderings done again",
        sum(attempts.values()) == len(fresh),
        f"{len(fresh)} dossiers, attempts: "
        + ", ".join(f"{n} × {k}" for k, n in sorted(attempts.items())),
    )
    job = decision_job(job_id) or {}
    entries = job.get("entries", [])
    done_reported = {e["application_id"] for e in entries if e["outcome"] == "done"}
    approved = set(
        Application.objects.filter(pk__in=decision_ids, status="approved").values_list(
            "pk", flat=True
        )
    )
    report.check(
        "the bulk approval finished and reports exactly what was committed",
        job.get("state") == "done" and done_reported == approved and len(entries) == BATCH,
        f"state {job.get('state')}, {len(done_reported)} reported done, {len(approved)} approved",
    )
    report.check(
        f"the envelope filled to the cent and not beyond: 30 approved, {BATCH - 30} refused",
        len(approved) == 30,
        f"{len(approved)} approved",
    )
    checks.invariants(report, ctx.media)


# --- The media disk fills up ----------------------------------------------------------------------

FILE_SIZE = 300 * 1024
HEADROOM = 1024 * 1024


def evidence_content(reference: str) -> bytes:
    """A text file of FILE_SIZE bytes, different for each application."""
    line = f"Compte rendu de l'exercice de continuité – {reference} – tout a fonctionné.\n"
    data = (line * (FILE_SIZE // len(line.encode()) + 1)).encode()[:FILE_SIZE]
    return data[: data.rfind(b"\n") + 1]


class Uploader(User):
    """Sends the evidence of each of its `drafts` (once), then submits those whose file
    was taken."""

    def __init__(
        self, host: str, port: int, applicant: Applicant, traffic: Traffic, drafts: list[Draft]
    ) -> None:
        super().__init__(host, port, applicant, traffic)
        self.drafts = drafts
        self.outcomes: dict[int, tuple[int, str]] = {}  # draft id -> (status, message)

    def act(self) -> None:
        for draft in self.drafts:
            self.outcomes[draft.id] = self.upload(draft)
        for draft in self.drafts:
            if self.outcomes[draft.id][0] == 302:
                self.submit(draft)

    def upload(self, draft: Draft) -> tuple[int, str]:
        """(status, what the user was told): 302 and "ajoutée", or the refusal."""
        page = self.get(f"/candidatures/{draft.public_id}/reponses/")
        name = f"pcra-{draft.reference}.txt"
        try:
            answer = self.traffic.keep(
                self.browser.post(
                    f"/candidatures/{draft.public_id}/pieces/ajouter/",
                    {"csrfmiddlewaretoken": page.csrf_token(), "answer": str(draft.answer_id)},
                    files=[("file", name, evidence_content(draft.reference), "text/plain")],
                )
            )
        except NoAnswer as error:
            self.traffic.lost(str(error))
            return 0, ""
        if answer.status == 302:
            shown = self.get(answer.location)
            return 302, "ajoutée" if f"Pièce « {name} » ajoutée" in shown.text else ""
        text = answer.text
        start = text.find(f"Le fichier « {name} » n'a pas été enregistré")
        end = text.find("instants.", start)
        return answer.status, text[start : end + 9] if start >= 0 and end > 0 else ""


def disk_drill(ctx: Context, report: Report) -> None:
    services, seeder = ctx.services, ctx.seeder
    if not services.media_mounted:
        report.check(
            "a size-limited media directory (a tmpfs, mounted as root)",
            False,
            "mount is not permitted here: run `make drill` as root, or skip this drill "
            "(--skip disk)",
        )
        return
    call = seeder.call("DRILL-DISK", envelope=Decimal("50000000"), evidence_at_application=True)
    applicants = seeder.applicants(call, users=4, drafts_each=3)
    drafts = sum(len(a.drafts) for a in applicants)
    filler = ctx.media / f"{checks.FILLER_PREFIX}-{os.getpid()}"
    written = fill(ctx.media, filler)
    report.did(
        f"media directory (a {services.media_size_mb} MB tmpfs) filled up to "
        f"{free_space(ctx.media) // 1024} KB free ({written // (1024 * 1024)} MB written in one "
        f"file); {len(applicants)} users each send a {FILE_SIZE // 1024} KB evidence file for "
        f"each of their {drafts // len(applicants)} drafts at once, then submit those taken"
    )
    traffic = Traffic()
    host, port = "127.0.0.1", services.web_port
    first = [Uploader(host, port, a, traffic, list(a.drafts)) for a in applicants]
    ctx.start(list(first))
    join(list(first), 120)
    outcomes = [o for u in first for o in u.outcomes.values()]
    taken = [o for o in outcomes if o == (302, "ajoutée")]
    refused = [o for o in outcomes if o[0] == 507 and o[1]]
    other = [o for o in outcomes if o not in taken and o not in refused]
    report.saw(
        f"on the full disk: {len(taken)} files taken, {len(refused)} refused with the message "
        f"« {refused[0][1] if refused else '—'} »"
    )
    report.check(
        "every upload either taken or refused with a clear message (507), never a 500",
        not other and bool(refused) and not traffic.no_answer,
        f"{len(taken)} taken, {len(refused)} refused, {len(other)} other: {other[:3]}",
    )
    # The applications submitted meanwhile are scored; their dossiers fail for want of space.
    wait_for(lambda: with_database(disk_failures) > 0, 30, 0.5)
    report.saw(
        f"{with_database(disk_failures)} dossier renderings failed for want of space meanwhile"
    )
    with_database(lambda: checks.check_media(report, ctx.media))  # the disk still full

    filler.unlink()
    report.did(
        f"space freed ({free_space(ctx.media) // (1024 * 1024)} MB free); the users send the "
        "refused files again, then submit"
    )
    again = [
        Uploader(
            host,
            port,
            a,
            traffic,
            [d for d in a.drafts if before.outcomes.get(d.id, (0, ""))[0] != 302],
        )
        for a, before in zip(applicants, first, strict=True)
    ]
    ctx.start(list(again))
    join(list(again), 120)
    retried = [o for u in again for o in u.outcomes.values()]
    report_traffic(report, traffic)
    report.check(
        "once space is back, every refused file is taken",
        bool(retried) and all(o == (302, "ajoutée") for o in retried),
        f"{sum(1 for o in retried if o[0] == 302)}/{len(retried)}",
    )
    report.check(
        "every draft submitted and acknowledged",
        len(traffic.acknowledged) == drafts,
        f"{len(traffic.acknowledged)}/{drafts}",
    )
    checks.wait_until_finished(report, 150, ctx.services.diagnose)
    report.saw(
        f"all scored and rendered {report.figures.get('finished_after_s', '?')} s after the "
        f"last submission; {with_database(disk_failures)} dossiers needed more than one attempt"
    )
    rows = Evidence.objects.filter(application__call=call).count()
    report.check(
        "one evidence row per application, each with its whole file",
        rows == drafts,
        f"{rows} rows for {drafts} applications",
    )
    checks.invariants(
        report, ctx.media, acknowledged=[a.application_id for a in traffic.acknowledged]
    )


def free_space(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill(media: Path, filler: Path) -> int:
    """Write one file that leaves HEADROOM bytes free; returns its size."""
    size = max(0, free_space(media) - HEADROOM)
    chunk = b"\0" * (1024 * 1024)
    written = 0
    with open(filler, "wb") as out:
        while written < size:
            piece = chunk[: min(len(chunk), size - written)]
            try:
                out.write(piece)
                out.flush()
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                break
            written += len(piece)
    return written


def disk_failures() -> int:
    """Dossiers of the disk drill that failed (now or before being rendered again)."""
    close_old_connections()
    return (
        Dossier.objects.filter(application__call__code="DRILL-DISK")
        .filter(Q(status="failed") | Q(attempts__gt=1))
        .count()
    )


DRILLS: dict[str, tuple[str, Callable[[Context, Report], None]]] = {
    "redis": ("restart Redis while applications are submitted over HTTP", redis_drill),
    "postgresql": ("restart PostgreSQL under traffic", postgresql_drill),
    "workers": (
        "kill -9 the workers while a call is rescored, its dossiers rendered and a bulk "
        "approval runs",
        workers_drill,
    ),
    "disk": ("fill the media disk during uploads", disk_drill),
}
