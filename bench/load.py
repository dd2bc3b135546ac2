"""The load benchmark (`make bench BENCH=load`, or `python -m bench.load`): four pages
of the portal under concurrent load, served as production serves them, each against a
baseline measured in the same run.

It starts its own throwaway PostgreSQL and Redis on free loopback ports (the drills'
services, drills/services.py), migrates, seeds a national call of about 1,500
applications (245 in Auvergne-Rhône-Alpes, the ARS agent's region) over 3,000 legal
entities, then starts gunicorn as docker-compose.yml does (3 sync workers, DEBUG off,
WhiteNoise, production settings: bench/load_settings.py). Personas sign in through the
login page and the second factor (a recovery code); then, from this process (not
gunicorn's), `--users` threads with their own connections request one page for
`--seconds` seconds, then each of its two baselines for as long, in `--rounds`
alternations:

- the ARS queue (`/instruction/`, ARS agent), the national dashboard (`/suivi/`,
  ministry user), the application page (`/candidatures/<id>/`, establishment user) and
  the admin changelist of applications (staff);
- the bare view of each, `/__bench__/baseline/<same path>` (bench/load_views.py): the
  page's rows fetched by the very SELECT statements the page sends, then the same
  template rendered with the page's context, through the same gunicorn and middleware;
- the render alone, `/__bench__/render/<same path>`: the same template and context,
  the rows kept in memory, no query.

Ratio = the page's throughput / its bare view's (goal: at least 0.5); the ratio to the
render alone is printed beside it. Throughput, latency percentiles and the queries of
one request (`X-Bench-Queries`) are printed in a table; `--json FILE` writes the result
for bench/results.json."""

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from drills.client import Browser, NoAnswer
from drills.services import DrillError, Services

HOST = "127.0.0.1"
REGION = "84"  # Auvergne-Rhône-Alpes
REGION_APPLICATIONS = 245
NATIONAL_APPLICATIONS = 1500
LEGAL_ENTITIES = 3000
RECOVERY_CODES = 20


@dataclass
class Persona:
    email: str
    agent: bool  # signs in with a second factor
    codes: list[str] = field(default_factory=list)


@dataclass
class Page:
    key: str
    title: str
    persona: str
    path: str


# --- Seeding ----------------------------------------------------------------------------------


def seed() -> tuple[dict[str, Persona], list[Page], dict[str, int]]:
    """The call, its applications, the personas; returns them, the pages, the counts."""
    from django.db import transaction
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Membership, User
    from applications.models import Application
    from drills.seed import Seeder
    from establishments.models import Department, Region

    with transaction.atomic():
        seeder = Seeder()
        call = seeder.call("LOAD-2025", envelope=Decimal("300000000"))
        departments = list(Department.objects.select_related("region").order_by("code"))
        ours = [d for d in departments if d.region.code == REGION]
        others = [d for d in departments if d.region.code != REGION]

        def spread(count: int, among: list[Department]) -> list:
            entities = []
            for i, department in enumerate(among):
                share = count // len(among) + (1 if i < count % len(among) else 0)
                if share:
                    entities += seeder.entities(share, department)
            return entities

        region_share = LEGAL_ENTITIES * REGION_APPLICATIONS // NATIONAL_APPLICATIONS
        region_entities = spread(region_share, ours)
        other_entities = spread(LEGAL_ENTITIES - region_share, others)
        # In the region: 45 just submitted, 150 to instruct, 50 sent to the ministry.
        seeder.submitted_call(call, count=195, fresh=45, entities=region_entities[:195])
        seeder.submitted_call(
            call, count=50, fresh=0, status="national_review", entities=region_entities[195:245]
        )
        rest = NATIONAL_APPLICATIONS - REGION_APPLICATIONS
        seeder.submitted_call(call, count=rest - 300, fresh=150, entities=other_entities)
        seeder.submitted_call(
            call,
            count=300,
            fresh=0,
            status="national_review",
            entities=other_entities[rest - 300 : rest],
        )
        region = Region.objects.get(code=REGION)
        ars = seeder.user("ars@load.test", entities=[])  # no membership yet
        Membership.objects.create(user=ars, role=Membership.Role.REGIONAL, region=region)
        ministry = seeder.ministry
        admin = seeder.user("admin@load.test", role=Membership.Role.MINISTRY)
        User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
        application = (
            Application.objects.filter(call=call, status="regional_review")
            .filter(candidate__department__region=region)
            .order_by("pk")
            .first()
        )
        assert application is not None
        establishment = seeder.user("etablissement@load.test", entities=[application.candidate])
        in_review = Application.objects.filter(
            call=call, status="regional_review", candidate__department__region=region
        )
        in_review.filter(pk__in=in_review.order_by("pk").values("pk")[:60]).update(assigned_to=ars)
        personas = {
            "ars": Persona(ars.email, True),
            "ministry": Persona(ministry.email, True),
            "establishment": Persona(establishment.email, False),
            "admin": Persona(admin.email, True),
        }
        for persona in personas.values():
            if not persona.agent:
                continue
            user = User.objects.get(email=persona.email)
            TOTPDevice.objects.create(user=user, name="application", confirmed=True)
            device = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
            persona.codes = [f"bench{user.pk}x{n:03d}" for n in range(RECOVERY_CODES)]
            StaticToken.objects.bulk_create(
                StaticToken(device=device, token=code) for code in persona.codes
            )
    pages = [
        Page("queue", "ARS queue", "ars", "/instruction/"),
        Page("dashboard", "national dashboard", "ministry", "/suivi/"),
        Page(
            "application",
            "application page",
            "establishment",
            f"/candidatures/{application.public_id}/",
        ),
        Page("admin", "admin changelist", "admin", "/admin/applications/application/"),
    ]
    counts = {
        "applications": Application.objects.count(),
        "applications_in_region": Application.objects.filter(
            candidate__department__region=region
        ).count(),
        "legal_entities": len(region_entities) + len(other_entities),
    }
    return personas, pages, counts


# --- Signing in -------------------------------------------------------------------------------


def sign_in(port: int, persona: Persona) -> dict[str, str]:
    """The login page, then the second factor for an agent; returns the cookies."""
    from drills.seed import PASSWORD

    browser = Browser(HOST, port, name=persona.email)
    browser.login(persona.email, PASSWORD)
    if persona.agent:
        form = browser.get("/accounts/double-authentification/")
        answer = browser.post(
            "/accounts/double-authentification/",
            {"code": persona.codes.pop(), "csrfmiddlewaretoken": form.csrf_token()},
        )
        if answer.status != 302:
            raise DrillError(f"second factor of {persona.email}: {answer.status}")
    return dict(browser.cookies)


# --- Load -------------------------------------------------------------------------------------


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: "Samples") -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.seconds += other.seconds

    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000


def hammer(port: int, path: str, cookies: dict[str, str], users: int, seconds: float) -> Samples:
    """`users` threads, each with its own session copy and a new connection per request
    (gunicorn's sync workers close it), requesting `path` for `seconds`."""
    samples = Samples()
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + seconds

    def user() -> None:
        browser = Browser(HOST, port, name="load", cookies=dict(cookies))
        mine, errors = [], []
        while time.monotonic() < deadline:
            try:
                answer = browser.get(path)
            except NoAnswer as error:
                errors.append(str(error))
                continue
            if answer.status != 200:
                errors.append(f"{path}: {answer.status} {answer.headers.get('location', '')}")
            else:
                mine.append(answer.elapsed)
        with lock:
            samples.latencies += mine
            samples.errors += errors

    threads = [threading.Thread(target=user, daemon=True) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples.seconds = time.monotonic() - start
    return samples


def probe(port: int, path: str, cookies: dict[str, str]) -> dict[str, str]:
    """One request counting its queries (bench/load_views.py); raises unless 200."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    headers = {
        "Host": f"{HOST}:{port}",
        "X-Forwarded-Proto": "https",
        "X-Bench-Queries": "1",
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
    }
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise DrillError(f"{path} answered {response.status}: {body[:300]!r}")
    return {k.lower(): v for k, v in response.getheaders()} | {"bytes": str(len(body))}


def measure(
    port: int, pages: list[Page], sessions: dict[str, dict[str, str]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows = []
    for page in pages:
        cookies = sessions[page.persona]
        sides = {
            "page": page.path,
            "baseline": f"/__bench__/baseline{page.path}",
            "render": f"/__bench__/render{page.path}",
        }
        # Warm every gunicorn worker on every side (the baselines capture the page's
        # context and statements in each worker process at their first request there).
        for path in sides.values():
            hammer(port, path, cookies, args.users, 1.0)
        probes = {side: probe(port, path, cookies) for side, path in sides.items()}
        samples = {side: Samples() for side in sides}
        for _ in range(args.rounds):
            for side, path in sides.items():
                samples[side].add(
                    hammer(port, path, cookies, args.users, args.seconds / args.rounds)
                )
        ours, base, render = samples["page"], samples["baseline"], samples["render"]
        ratio = ours.rate() / base.rate() if base.rate() else 0.0
        render_ratio = ours.rate() / render.rate() if render.rate() else 0.0
        rows.append(
            {
                "key": page.key,
                "title": page.title,
                "path": page.path,
                "requests": len(ours.latencies),
                "rps": round(ours.rate(), 1),
                "p50_ms": round(ours.percentile(50), 1),
                "p95_ms": round(ours.percentile(95), 1),
                "p99_ms": round(ours.percentile(99), 1),
                "errors": len(ours.errors),
                "baseline_requests": len(base.latencies),
                "baseline_rps": round(base.rate(), 1),
                "baseline_p50_ms": round(base.percentile(50), 1),
                "baseline_p95_ms": round(base.percentile(95), 1),
                "baseline_p99_ms": round(base.percentile(99), 1),
                "baseline_errors": len(base.errors) + len(render.errors),
                "ratio": round(ratio, 3),
                "render_rps": round(render.rate(), 1),
                "render_p50_ms": round(render.percentile(50), 1),
                "render_ratio": round(render_ratio, 3),
                "queries": int(probes["page"].get("x-bench-queries", -1)),
                "query_ms": float(probes["page"].get("x-bench-query-ms", 0)),
                "alone_ms": float(probes["page"].get("x-bench-total-ms", 0)),
                "baseline_queries": int(probes["baseline"].get("x-bench-queries", -1)),
                "baseline_view_queries": int(probes["baseline"].get("x-bench-view-queries", -1)),
                "baseline_rows": int(probes["baseline"].get("x-bench-rows", -1)),
                "baseline_skipped": int(probes["baseline"].get("x-bench-skipped", -1)),
                "baseline_alone_ms": float(probes["baseline"].get("x-bench-total-ms", 0)),
                "render_view_queries": int(probes["render"].get("x-bench-view-queries", -1)),
                "render_alone_ms": float(probes["render"].get("x-bench-total-ms", 0)),
                "kb": round(int(probes["page"]["bytes"]) / 1024, 1),
                "baseline_kb": round(int(probes["baseline"]["bytes"]) / 1024, 1),
                "first_errors": (ours.errors + base.errors + render.errors)[:3],
            }
        )
        row = rows[-1]
        print(
            f"  {page.title}: {row['rps']} req/s against {row['baseline_rps']} for the bare "
            f"view (ratio {row['ratio']:.2f}) and {row['render_rps']} for the render alone "
            f"(ratio {row['render_ratio']:.2f}), {row['queries']} queries",
            flush=True,
        )
    return rows


def table(rows: list[dict[str, Any]], users: int) -> str:
    """One line per page: under load (req/s, latency percentiles, errors), then one
    request alone (its queries, the middleware's included, their time, its time); the
    same for the bare view, whose `view q` are the statements it sends for the page's
    rows; the render alone's req/s; the two ratios."""
    head = (
        f"{'page':<19} {'req/s':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'err':>3} "
        f"{'queries':>7} {'q ms':>6} {'1 req':>6} | {'req/s':>6} {'p50':>6} {'p95':>6} "
        f"{'p99':>6} {'view q':>6} {'1 req':>6} | {'ratio':>5} | {'req/s':>6} {'ratio':>5}"
    )
    lines = [
        f"load: {users} concurrent users; times in ms; left the page, then the bare view "
        "(the page's own SELECT statements, then the same template), then the render "
        "alone (rows kept in memory); `1 req`: one request alone",
        head,
        "-" * len(head),
    ]
    for r in rows:
        flag = "" if r["ratio"] >= 0.5 else "  below 0.5"
        lines.append(
            f"{r['title']:<19} {r['rps']:>6.1f} {r['p50_ms']:>6.0f} {r['p95_ms']:>6.0f} "
            f"{r['p99_ms']:>6.0f} {r['errors'] + r['baseline_errors']:>3} {r['queries']:>7} "
            f"{r['query_ms']:>6.1f} {r['alone_ms']:>6.1f} | {r['baseline_rps']:>6.1f} "
            f"{r['baseline_p50_ms']:>6.0f} {r['baseline_p95_ms']:>6.0f} "
            f"{r['baseline_p99_ms']:>6.0f} {r['baseline_view_queries']:>6} "
            f"{r['baseline_alone_ms']:>6.1f} | "
            f"{r['ratio']:>5.2f} | {r['render_rps']:>6.1f} {r['render_ratio']:>5.2f}{flag}"
        )
    return "\n".join(lines)


# --- Main -------------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--users", type=int, default=8, help="concurrent users (8)")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="seconds of load per page and side (10)"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="page/baseline alternations, against drift (5)"
    )
    parser.add_argument("--only", action="append", help="only this page (queue, dashboard…)")
    parser.add_argument("--json", type=Path, help="write the result to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="care-load-"))
    workdir.chmod(0o755)  # PostgreSQL runs as the postgres user below it (as root)
    services = Services(
        workdir=workdir,
        say=lambda text: print(text, flush=True),
        settings_module="bench.load_settings",
    )
    started = time.monotonic()
    try:
        services.pg_create()
        services.redis_start()
        services.media.mkdir(parents=True, exist_ok=True)
        os.environ.update(services.environment())
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        ready = time.monotonic()
        personas, pages, counts = seed()
        with connections["default"].cursor() as cursor:
            # The statistics autovacuum keeps in production: without them PostgreSQL
            # plans the dashboard's joins for empty tables (nested loops, 5x slower).
            cursor.execute("ANALYZE")
        connections.close_all()
        seeded = time.monotonic()
        services.web_start()
        print(
            f"load: PostgreSQL :{services.pg_port}, Redis :{services.redis_port}, gunicorn "
            f":{services.web_port} (3 sync workers, production settings); "
            f"{counts['applications']} applications ({counts['applications_in_region']} in "
            f"region {REGION}), {counts['legal_entities']} legal entities; setup "
            f"{ready - started:.1f} s, seeding {seeded - ready:.1f} s",
            flush=True,
        )
        sessions = {name: sign_in(services.web_port, p) for name, p in personas.items()}
        if args.only:
            pages = [p for p in pages if p.key in args.only]
        load_before = os.getloadavg()[0]
        rows = measure(services.web_port, pages, sessions, args)
        load_after = os.getloadavg()[0]
    except DrillError as error:
        print(f"load: could not run: {error}", file=sys.stderr, flush=True)
        return 2
    finally:
        services.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(rows, args.users))
    elapsed = time.monotonic() - started
    print(
        f"load: {elapsed:.0f} s in all; the machine's load average (1 min) was "
        f"{load_before:.1f} before the measures, {load_after:.1f} after "
        f"({os.cpu_count()} cores)",
        flush=True,
    )
    if args.json:
        result = {
            "users": args.users,
            "seconds_per_side": args.seconds,
            "dataset": counts,
            "pages": rows,
            "elapsed_s": round(elapsed, 1),
            "load_average": [round(load_before, 1), round(load_after, 1)],
            "cores": os.cpu_count(),
        }
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0 if all(not r["errors"] and not r["baseline_errors"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
