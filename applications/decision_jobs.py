"""A bulk decision of the admin as a job: its progress and its report, kept in the
shared cache (Redis in production) for a day, so that the page that shows them can be
reloaded and a long batch can run on a worker.

A few applications are decided in the request; more than `ASYNC_ABOVE` go to a worker
(`applications.decide_many_task`, queued by name after the commit) while a progress
page polls. A redelivered task skips the applications already in the report.

`decide_many` decides a batch in one transaction (the call's envelope stays locked
until it commits): the report's entries are written once it has committed, so that a
worker killed in the middle, whose decisions PostgreSQL rolls back, leaves none of them
reported as done; meanwhile `progress` counts what the running batch has decided, for
the progress page only."""

import uuid
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.cache import cache

from care_portal.errors import ApplicationError
from care_portal.queue import enqueue_on_commit

from .decisions import ACTIONS, ReportEntry, decide_many

if TYPE_CHECKING:
    from accounts.models import User

DECIDE_TASK = "applications.decide_many_task"
ASYNC_ABOVE = 100  # about a second per 20 applications: past this, a worker takes it
TIMEOUT = 24 * 3600
SAVE_EVERY = 10  # the progress is written every so many applications


class State:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def _key(job_id: str) -> str:
    return f"decision-job:{job_id}"


def decision_job(job_id: str) -> dict[str, Any] | None:
    """The job as stored: user_id, action, total, state, entries (dicts)."""
    return cache.get(_key(job_id))


def report_entries(job: dict[str, Any]) -> list[ReportEntry]:
    return [ReportEntry.from_dict(data) for data in job.get("entries", [])]


def _save(job_id: str, job: dict[str, Any]) -> None:
    cache.set(_key(job_id), job, timeout=TIMEOUT)


def decision_job_start(
    *,
    action: str,
    application_ids: list[int],
    by: "User",
    comment: str = "",
    amounts: dict[int, Decimal] | None = None,
    due_on: date | None = None,
) -> str:
    """Record the job and run it now (a few applications) or queue it for a worker;
    returns its id."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown decision action {action!r}")
    job_id = uuid.uuid4().hex
    params = {
        "action": action,
        "application_ids": list(application_ids),
        "user_id": by.pk,
        "comment": comment,
        "amounts": {str(pk): str(value) for pk, value in (amounts or {}).items()},
        "due_on": due_on.isoformat() if due_on else "",
    }
    _save(
        job_id,
        {
            "user_id": by.pk,
            "action": action,
            "total": len(application_ids),
            "state": State.QUEUED,
            "entries": [],
            "progress": 0,
            "params": params,
        },
    )
    if len(application_ids) > ASYNC_ABOVE:
        enqueue_on_commit(DECIDE_TASK, job_id)
    else:
        decision_job_run(job_id, by=by)
    return job_id


def decision_job_run(job_id: str, *, by: "User | None" = None) -> dict[str, Any] | None:
    """Run (or resume) a recorded job; idempotent: the applications already reported
    are skipped."""
    from accounts.models import User

    job = decision_job(job_id)
    if job is None or job["state"] == State.DONE:
        return job
    params = job["params"]
    user = by if by is not None else User.objects.filter(pk=params["user_id"]).first()
    if user is None:
        job["state"] = State.FAILED
        _save(job_id, job)
        return job
    reported = {entry["application_id"] for entry in job["entries"]}
    todo = [pk for pk in params["application_ids"] if pk not in reported]
    job["state"] = State.RUNNING
    job["progress"] = len(job["entries"])
    _save(job_id, job)
    decided: list[dict[str, Any]] = []

    def progress(entry: ReportEntry) -> None:
        decided.append(entry.as_dict())
        if len(decided) % SAVE_EVERY == 0:
            job["progress"] = len(job["entries"]) + len(decided)  # not committed yet
            _save(job_id, job)

    try:
        decide_many(
            params["action"],
            todo,
            by=user,
            comment=params["comment"],
            amounts={int(pk): Decimal(value) for pk, value in params["amounts"].items()},
            due_on=date.fromisoformat(params["due_on"]) if params["due_on"] else None,
            progress=progress,
        )
    except ApplicationError as refusal:  # refused as a whole (a missing reason…)
        job["state"], job["error"] = State.FAILED, refusal.message
        _save(job_id, job)
        return job
    except Exception:
        job["state"] = State.FAILED
        job["progress"] = len(job["entries"])  # this delivery's decisions are rolled back
        _save(job_id, job)
        raise
    current = decision_job(job_id)
    if current is not None and current["state"] == State.DONE:
        # Another delivery of the job (redelivered while this one ran) committed first;
        # this one found nothing left to decide: the first one's report stands.
        return current
    # Committed: now, and only now, the decisions are reported.
    job["entries"].extend(decided)
    job["progress"] = len(job["entries"])
    job["state"] = State.DONE
    _save(job_id, job)
    return job
