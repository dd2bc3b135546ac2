"""Start a real Celery worker process against Redis and the test database."""

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url_of_test_db() -> str:
    """The URL of the database pytest-django created, for the worker process."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("A real worker needs PostgreSQL (set DATABASE_URL).")
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@contextmanager
def celery_worker(
    *,
    queues: str = "default,pdf",
    extra_env: dict[str, str] | None = None,
    app_module: str = "care_portal",
    concurrency: int = 1,
) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "care_portal.settings.test",
            "DATABASE_URL": database_url_of_test_db(),
            "REDIS_URL": settings.REDIS_URL,
            "DB_CONN_MAX_AGE": "0",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "CARE_TEST_EAGER": "0",
        }
    )
    env.update(extra_env or {})
    # The URL above is already this test process's own Redis database (settings.test).
    env.pop("PYTEST_XDIST_WORKER", None)
    hostname = f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
    # A file, not a pipe: a pipe nobody reads would block the worker once full.
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed when the worker stops
        prefix="celery-worker-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            app_module,
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "-Q",
            queues,
            "-n",
            hostname,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.log_path = log.name  # type: ignore[attr-defined]
    try:
        _wait_until_ready(hostname, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        tail = worker_log(process)[-3000:]
        if tail.strip():
            print(f"--- celery worker log ({log.name}) ---\n{tail}")  # shown when a test fails


def _wait_until_ready(hostname: str, process: subprocess.Popen[bytes]) -> None:
    from care_portal.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The Celery worker exited early:\n{worker_log(process)}")
        replies = app.control.ping(destination=[hostname], timeout=1.0)
        if replies:
            return
    raise RuntimeError("The Celery worker did not answer within 60 s")


def worker_log(process: subprocess.Popen[bytes]) -> str:
    path = getattr(process, "log_path", "")
    return Path(path).read_text(errors="replace") if path and Path(path).exists() else ""


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def pool_children(process: subprocess.Popen[bytes]) -> list[int]:
    """The pids of a prefork worker's pool processes (its children)."""
    path = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


@contextmanager
def broker_unreachable(app) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Tasks queued meanwhile find no broker (nothing listens on port 1): as when Redis
    is down at a commit."""
    good = app.conf.broker_url

    def use_broker(url: str) -> None:
        app.conf.broker_url = url
        app._pool = None  # the producers reconnect to this URL
        app.amqp._producer_pool = None

    use_broker("redis://127.0.0.1:1/0")
    try:
        yield
    finally:
        use_broker(good)
