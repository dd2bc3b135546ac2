"""The drills' supervisor (drills/services.py) does for the Celery workers what
docker-compose.yml's `restart: unless-stopped` does in production: a worker that exits
by itself is started again at once and the reason is kept for the drill's report; a
worker the drill kills on purpose stays down. Stand-in workers here are small Python
programs, so that the test needs no broker."""

import sys
import time

from drills.services import Services, Worker, wait_for

CRASHES = (
    "import sys, time; print('[INFO] ready.', flush=True); time.sleep(0.3); "
    "print('[CRITICAL/MainProcess] Unrecoverable error: AttributeError(\"boom\")', flush=True); "
    "sys.exit(1)"
)
LIVES = "import time; print('[INFO] ready.', flush=True); time.sleep(60)"


def services(tmp_path, **workers: str) -> Services:
    said: list[str] = []
    result = Services(workdir=tmp_path, say=said.append)
    result.workers = {
        name: Worker(name, [sys.executable, "-c", code]) for name, code in workers.items()
    }
    return result


def test_a_worker_that_exits_by_itself_is_started_again_with_its_reason(tmp_path):
    svc = services(tmp_path, default=CRASHES)
    try:
        svc.worker_start("default")
        svc.supervise()
        assert wait_for(lambda: len(svc.restarts) >= 2, 20, 0.1)
        restarts = svc.take_restarts()
        assert restarts[0].worker == "default"
        assert restarts[0].exit_code == 1
        assert "Unrecoverable error: AttributeError" in restarts[0].reason
        assert svc.workers["default"].starts >= 3
        assert svc.restarts == [] or svc.restarts[0].at > restarts[-1].at  # taken once
    finally:
        svc.close()


def test_a_worker_killed_on_purpose_stays_down_until_started(tmp_path):
    svc = services(tmp_path, default=LIVES, pdf=LIVES)
    try:
        svc.workers_start()
        svc.supervise()
        killed = svc.workers_kill()
        assert len(killed) >= 2
        time.sleep(1.5)  # three rounds of the supervisor
        assert svc.restarts == []
        assert all(worker.process is None for worker in svc.workers.values())
        svc.worker_start("pdf")
        assert svc.workers["pdf"].process.poll() is None
    finally:
        svc.close()


def test_closing_stops_the_supervisor_before_the_workers(tmp_path):
    svc = services(tmp_path, default=LIVES)
    svc.worker_start("default")
    svc.supervise()
    process = svc.workers["default"].process
    svc.close()
    assert process.poll() is not None
    time.sleep(1)
    assert svc.restarts == []
    assert svc.workers["default"].process is process  # not replaced after close
