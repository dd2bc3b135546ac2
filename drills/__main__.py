"""`make drill` / `python -m drills [--only NAME] [--skip NAME] [--applications N]
[--fresh N] [--keep]`: start the throwaway infrastructure, run the drills, check, stop
everything. Exits 1 when a check failed, 2 when the drills could not run."""

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

from .services import DrillError, Services

NAMES = ("redis", "postgresql", "workers", "disk")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__)
    parser.add_argument("--only", action="append", choices=NAMES, help="run only this drill")
    parser.add_argument("--skip", action="append", choices=NAMES, default=[], help="skip it")
    parser.add_argument(
        "--applications",
        type=int,
        default=int(os.environ.get("DRILL_APPLICATIONS", "1500")),
        help="size of the call rescored in the workers drill (DRILL_APPLICATIONS, 1500)",
    )
    parser.add_argument(
        "--fresh",
        type=int,
        default=int(os.environ.get("DRILL_FRESH", "50")),
        help="of which just submitted: scored and their dossier rendered during the drill "
        "(DRILL_FRESH, 50)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    args.fresh = min(args.fresh, args.applications)
    return args


def interrupted(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def setup(services: Services) -> None:
    started = time.monotonic()
    services.pg_create()
    services.redis_start()
    services.media_mount()
    os.environ.update(services.environment())
    import django

    django.setup()
    logging.getLogger().setLevel(logging.WARNING)  # the drills print their own lines
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    services.define_workers()
    services.web_start()
    services.workers_start()
    services.supervise()
    services.beat_start()
    print(
        f"setup: PostgreSQL :{services.pg_port}, Redis :{services.redis_port}, gunicorn "
        f":{services.web_port} (3 workers), Celery workers `default` and `pdf` (2 processes "
        f"each, supervised: restarted if they exit, as in production) and beat, media on "
        f"{'a tmpfs' if services.media_mounted else 'disk'}; "
        f"{time.monotonic() - started:.1f} s",
        flush=True,
    )


def heal(services: Services) -> None:
    """After a drill that failed half-way: what it broke, started again."""
    if not services.pg_running:
        services.pg_start()
    if services.redis is None or services.redis.poll() is not None:
        services.redis_start()
    for name, worker in services.workers.items():
        if worker.process is None or worker.process.poll() is not None:
            services.worker_start(name)
    for path in services.media.glob(".drill-filler*"):
        path.unlink()


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    selected = [n for n in (args.only or NAMES) if n not in args.skip]
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # even where a shell started us ignoring it
    workdir = Path(tempfile.mkdtemp(prefix="care-drills-"))
    workdir.chmod(0o755)  # PostgreSQL runs as the postgres user below it
    services = Services(workdir=workdir, say=lambda text: print(text, flush=True))
    results = []
    started = time.monotonic()
    try:
        print(f"Fault drills: {', '.join(selected)} (work directory {workdir})", flush=True)
        setup(services)
        from .checks import Report
        from .scenarios import DRILLS, Context
        from .seed import Seeder

        context = Context(services, Seeder(), args.applications, args.fresh)
        for name in selected:
            title, drill = DRILLS[name]
            report = Report(name, title)
            report.header()
            try:
                drill(context, report)
            except Exception as error:
                traceback.print_exc()
                report.check("the drill ran to its end", False, f"{type(error).__name__}: {error}")
                heal(services)
            restarts = services.take_restarts()
            report.figures["restarts"] = len(restarts)
            for restart in restarts:
                report.saw(
                    f"worker {restart.worker} exited by itself (exit code {restart.exit_code}: "
                    f"{restart.reason}); its supervisor started it again, as production's "
                    "restart policy does"
                )
            report.finish()
            results.append(report)
    except DrillError as error:
        print(f"\nThe drills could not run: {error}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted: stopping everything.", file=sys.stderr, flush=True)
        return 130
    finally:
        services.close()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n== summary ({time.monotonic() - started:.0f} s in all)")
    for report in results:
        state = "ok" if not report.failures else f"FAILED ({len(report.failures)})"
        restarts = report.figures.get("restarts", 0)
        print(
            f"  {report.name:<11} {state:<12} {report.checks} checks, {report.elapsed():.1f} s"
            + (f", {restarts} worker restart(s) by the supervisor" if restarts else "")
        )
        for failure in report.failures:
            print(f"      - {failure}")
    failed = [r for r in results if r.failures]
    if failed:
        print(f"\n{len(failed)} drill(s) failed.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
