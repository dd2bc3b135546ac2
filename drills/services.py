"""The throwaway infrastructure of the drills: a PostgreSQL cluster (initdb into a
temporary directory), a Redis server, a size-limited media directory, gunicorn, the
Celery workers and beat, each on a free loopback port and each stopped, killed or
restarted at will. Nothing here touches a service the drills did not start; every
process started is stopped by its own id at the end (`Services.close`)."""

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "care_drills"


class DrillError(Exception):
    """The drill cannot go on (a service that does not start, a broken setup)."""


def free_port() -> int:
    """A free port on loopback, picked by the system. Never a fixed one: a worker left
    behind by an earlier run that was killed keeps reconnecting to its broker's port, and
    would take (and lose) a new run's tasks if that run's Redis listened there again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", 0))
        except OSError as error:
            raise DrillError(f"no free port on 127.0.0.1: {error}") from None
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def postgres_bin() -> Path:
    """PostgreSQL's server programs: $PG_BIN, `pg_config --bindir`, or the newest of
    /usr/lib/postgresql/*/bin (Debian)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    if candidates:
        return Path(candidates[-1])
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    raise DrillError("initdb not found: set PG_BIN to PostgreSQL's bin directory")


@dataclass
class Worker:
    """A Celery worker as production runs it (docker-compose.yml)."""

    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_offset: int = 0  # where this start's lines begin in its log


@dataclass(frozen=True)
class Restart:
    """A worker that exited by itself and that the supervisor started again."""

    worker: str
    exit_code: int
    reason: str  # the last line of its log that says why (CRITICAL, ERROR or Traceback)
    at: float


@dataclass
class Services:
    workdir: Path
    say: Callable[[str], None]
    media_size_mb: int = 512
    pg_port: int = 0
    redis_port: int = 0
    web_port: int = 0
    media_mounted: bool = False
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: dict[str, Worker] = field(default_factory=dict)
    web: subprocess.Popen[bytes] | None = None
    beat: subprocess.Popen[bytes] | None = None
    redis: subprocess.Popen[bytes] | None = None
    pg_running: bool = False
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    restarts: list[Restart] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _closing: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None
    # The load benchmark (bench/load.py) runs the same services with its own settings.
    settings_module: str = "drills.settings"

    # --- Paths and environment ------------------------------------------------------------

    @property
    def pg_dir(self) -> Path:
        return self.workdir / "postgresql"

    @property
    def media(self) -> Path:
        return self.workdir / "media"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/{DATABASE}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.web_port}"

    def environment(self) -> dict[str, str]:
        """What gunicorn, the workers, beat and the drills' own process run with:
        production settings (drills.settings) pointed at the throwaway services. The
        sweeper and the redelivery of a killed worker's messages are shortened so that
        they act within a drill (production: 300 s, 1,200 s, 100 s)."""
        return {
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "MEDIA_ROOT": str(self.media),
            "STATIC_ROOT": str(self.workdir / "static"),
            "SITE_URL": self.base_url,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.workdir / "mail"),
            "LOG_LEVEL": "INFO",
            # The sweepers run every 5 s and re-queue work waiting for 20 s.
            "SWEEP_INTERVAL_SECONDS": "5",
            "SWEEP_AFTER_SECONDS": "20",
            # A killed worker's messages come back after 30 s, looked for every 10 s.
            "CELERY_VISIBILITY_TIMEOUT": "30",
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def child_environment(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CARE_", "PYTEST", "DJANGO_", "CELERY_"))
            and k not in {"DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "STATIC_ROOT"}
        }
        env.update(self.environment())
        return env

    # --- Starting programs ----------------------------------------------------------------

    def _as_postgres(self, args: list[str]) -> list[str]:
        """initdb refuses to run as root: as root, run PostgreSQL's programs as the
        `postgres` system user."""
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.child_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole
        )
        log.close()
        self.processes.append(process)
        return process

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # --- PostgreSQL -----------------------------------------------------------------------

    def pg_create(self) -> None:
        """initdb into the work directory and start the cluster; create the database."""
        binaries = postgres_bin()
        self.pg_port = free_port()
        self.pg_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.pg_dir, "postgres", "postgres")
        result = subprocess.run(
            self._as_postgres(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(self.pg_dir / "data"),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DrillError(f"initdb failed: {result.stderr.strip()}")
        self.pg_start()
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.pg_port, user="postgres")
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
        conn.close()

    def pg_start(self) -> float:
        """Start the cluster and wait until it accepts connections; returns the time."""
        binaries = postgres_bin()
        # fsync off: a process crash loses nothing (the WAL is written before a commit
        # returns); only a machine crash would, and the cluster is thrown away.
        options = (
            f"-p {self.pg_port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c max_connections=100"
        )
        result = subprocess.run(
            self._as_postgres(
                [
                    str(binaries / "pg_ctl"),
                    "-D",
                    str(self.pg_dir / "data"),
                    "-l",
                    str(self.pg_dir / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DrillError(f"PostgreSQL did not start: {result.stdout} {result.stderr}")
        self.pg_running = True
        return time.monotonic()

    def pg_stop(self, mode: str = "immediate") -> float:
        """Stop the cluster: `immediate` is a crash (every connection cut, recovery from
        the WAL at the next start), `fast` an operator's restart."""
        binaries = postgres_bin()
        subprocess.run(
            self._as_postgres(
                [str(binaries / "pg_ctl"), "-D", str(self.pg_dir / "data"), "-m", mode, "stop"]
            ),
            capture_output=True,
            check=False,
        )
        self.pg_running = False
        return time.monotonic()

    # --- Redis ----------------------------------------------------------------------------

    def redis_start(self) -> float:
        """redis-server as production runs it (append-only file on), in the foreground
        as our own child, so that it can be killed by its id."""
        if not shutil.which("redis-server"):
            raise DrillError("redis-server not found (apt-get install redis-server)")
        if not self.redis_port:
            self.redis_port = free_port()
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        self.redis = self._spawn(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--daemonize",
                "no",
            ],
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.redis_port, socket_timeout=1)

        def ready() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        if not wait_for(ready, 20):
            raise DrillError(f"Redis did not start:\n{self.log_tail('redis')}")
        return time.monotonic()

    def redis_kill(self) -> float:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.redis is not None:
            self._kill_group(self.redis)
            self.redis = None
        return time.monotonic()

    # --- The media directory --------------------------------------------------------------

    def media_mount(self) -> None:
        """MEDIA_ROOT on a tmpfs of `media_size_mb`: a disk that can be filled. Needs
        root (mount); without it the directory is plain and the disk drill cannot run."""
        self.media.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0 or not shutil.which("mount"):
            return
        result = subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={self.media_size_mb}m,mode=0755",
                "care-drills-media",
                str(self.media),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        self.media_mounted = result.returncode == 0
        if not self.media_mounted:
            self.say(f"  (no tmpfs for the media: {result.stderr.strip()})")

    # --- gunicorn -------------------------------------------------------------------------

    def web_start(self) -> None:
        """gunicorn as docker-compose.yml runs it (3 workers, 60 s timeout)."""
        self.web_port = self.web_port or free_port()
        self.web = self._spawn(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "care_portal.wsgi:application",
                f"--bind=127.0.0.1:{self.web_port}",
                "--workers=3",
                "--timeout=60",
                f"--access-logfile={self.logs / 'access.log'}",
            ],
        )

        def ready() -> bool:
            if self.web is not None and self.web.poll() is not None:
                raise DrillError(f"gunicorn exited:\n{self.log_tail('gunicorn')}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.web_port}/healthz", timeout=2
                ) as response:
                    return bool(response.status == 200)
            except (urllib.error.URLError, OSError):
                return False

        if not wait_for(ready, 60, 0.3):
            raise DrillError(f"gunicorn did not answer:\n{self.log_tail('gunicorn')}")

    # --- Celery ---------------------------------------------------------------------------

    def define_workers(self) -> None:
        host = f"drills-{os.getpid()}"
        # As docker-compose.yml runs them: without mingle and gossip (see there why).
        common = [
            *[sys.executable, "-m", "celery", "-A", "care_portal", "worker", "-l", "info"],
            *["--without-mingle", "--without-gossip"],
        ]
        self.workers = {
            "default": Worker(
                "default", [*common, "-Q", "default", "--concurrency=2", "-n", f"default@{host}"]
            ),
            "pdf": Worker(
                "pdf",
                [
                    *common,
                    "-Q",
                    "pdf",
                    "--concurrency=2",
                    "--max-tasks-per-child=50",
                    "-n",
                    f"pdf@{host}",
                ],
            ),
        }

    def _worker_spawn(self, name: str) -> Worker:
        worker = self.workers[name]
        with self._lock:
            worker.starts += 1
            log = self.logs / f"worker-{name}.log"
            worker.log_offset = log.stat().st_size if log.exists() else 0
            worker.process = self._spawn(f"worker-{name}", worker.args)
        return worker

    def worker_start(self, name: str) -> None:
        worker = self._worker_spawn(name)
        log_name = f"worker-{name}"
        marker = self.logs / f"{log_name}.log"

        def ready() -> bool:
            if worker.process is not None and worker.process.poll() is not None:
                raise DrillError(f"worker {name} exited:\n{self.log_tail(log_name)}")
            with open(marker, "rb") as log:
                log.seek(worker.log_offset)
                return b" ready." in log.read()

        if not wait_for(ready, 90, 0.3):
            raise DrillError(f"worker {name} not ready:\n{self.log_tail(log_name)}")

    def workers_start(self) -> None:
        for name in self.workers:
            self.worker_start(name)

    def workers_kill(self) -> list[int]:
        """kill -9 every process of every worker (the main process and its pool), as
        when the machine or the container dies; returns the pids killed."""
        killed = []
        with self._lock:  # a kill by the operator: the supervisor leaves them down
            for worker in self.workers.values():
                if worker.process is not None:
                    killed += [worker.process.pid, *self.children(worker.process.pid)]
                    self._kill_group(worker.process)
                    worker.process = None
        return killed

    def workers_kill_pool(self) -> list[int]:
        """kill -9 the pool processes only (as the OOM killer would); their main process
        lives on, gives the lost task back to Redis and starts new pool processes."""
        killed = []
        for worker in self.workers.values():
            if worker.process is not None:
                for pid in self.children(worker.process.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
        return killed

    # --- Supervision, as docker-compose.yml's `restart: unless-stopped` ------------------

    def supervise(self) -> None:
        """Start the supervisor: a thread that starts again, at once, a worker whose main
        process exited by itself, as production's restart policy does, and records why it
        exited (`restarts`, reported by the drill it happened in). A worker the drill
        killed on purpose (`workers_kill`) stays down until the drill starts it, as a
        container stopped by its operator does."""
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        while not self._closing.wait(0.5):
            for name, worker in self.workers.items():
                with self._lock:
                    process = worker.process
                    if self._closing.is_set() or process is None or process.poll() is None:
                        continue
                    reason = self.exit_reason(name)
                    self._worker_spawn(name)
                    self.restarts.append(
                        Restart(name, process.returncode, reason, time.monotonic())
                    )
                self.say(
                    f"  [supervisor] worker {name} exited by itself (exit code "
                    f"{process.returncode}: {reason}); started again"
                )

    def exit_reason(self, name: str) -> str:
        """The last line of the worker's current run that says why it stopped."""
        path = self.logs / f"worker-{name}.log"
        if not path.exists():
            return "no log"
        with open(path, "rb") as log:
            log.seek(self.workers[name].log_offset)
            lines = log.read().decode(errors="replace").splitlines()
        for marker in ("CRITICAL", "Traceback", "ERROR"):
            found = [line for line in lines if marker in line]
            if found:
                return found[-1].strip()[-240:]
        return lines[-1].strip()[-240:] if lines else "no line in its log"

    def take_restarts(self) -> list[Restart]:
        """The restarts since the last call."""
        with self._lock:
            taken, self.restarts = self.restarts, []
        return taken

    def diagnose(self) -> str:
        """Which piece of the background work stalled, for a drill whose work did not
        finish: what waits in Redis, which workers answer a ping, and the last lines of
        the workers' and beat's logs."""
        import redis

        lines = []
        try:
            client = redis.Redis(host="127.0.0.1", port=self.redis_port, socket_timeout=2)
            waiting = {queue: client.llen(queue) for queue in ("default", "pdf")}
            lines.append(
                f"    Redis: waiting {waiting}, unacked {client.hlen('unacked')}, the "
                f"unacked messages' restore lock {lock_state(client.ttl('unacked_mutex'))}"
            )
        except redis.RedisError as error:
            lines.append(f"    Redis: no answer ({error})")
        from care_portal.celery import app

        try:
            replies = app.control.ping(timeout=2.0)
            answered = sorted(name for reply in replies or [] for name in reply)
            lines.append(f"    workers answering a ping: {answered or 'none'}")
        except Exception as error:  # a diagnosis reports, never raises
            lines.append(f"    ping failed: {error!r}")
        for name in [f"worker-{n}" for n in self.workers] + ["beat"]:
            worker = self.workers.get(name.removeprefix("worker-"))
            process = self.beat if worker is None else worker.process
            alive = "running" if process is not None and process.poll() is None else "stopped"
            lines.append(f"    --- {name} ({alive}), last lines:")
            lines += [f"      {line}" for line in self.log_tail(name, 12).splitlines()]
        return "\n".join(lines)

    @staticmethod
    def children(pid: int) -> list[int]:
        path = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def beat_start(self) -> None:
        self.beat = self._spawn(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "care_portal",
                "beat",
                "-l",
                "info",
                "--schedule",
                str(self.workdir / "celerybeat-schedule"),
            ],
        )

    # --- Stopping everything --------------------------------------------------------------

    def _kill_group(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    def close(self) -> None:
        """Stop what was started, by id: our processes (TERM, then KILL), the cluster,
        the tmpfs; the work directory is removed by the caller."""
        self._closing.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
        alive = [p for p in self.processes if p.poll() is None]
        for process in alive:  # its main process: a warm shutdown of its children
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            self._kill_group(process)  # whatever of the group is left
        if self.pg_running or (self.pg_dir / "data" / "postmaster.pid").exists():
            self.pg_stop("immediate")
        if self.media_mounted:
            subprocess.run(["umount", "-l", str(self.media)], capture_output=True, check=False)
            self.media_mounted = False


def lock_state(ttl: int) -> str:
    """A Redis key's TTL as the diagnosis says it (-2: no key, -1: no expiry)."""
    if ttl == -2:
        return "free"
    return "held, no expiry" if ttl == -1 else f"held, {ttl} s left"
