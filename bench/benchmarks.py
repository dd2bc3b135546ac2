"""The benchmarks: each returns {"name", "ratio", "raw"}; the ratio compares the
portal with a baseline measured in the same run (higher is better unless named)."""

import io
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.test import Client

from establishments.identifiers import finess_with_check_digit
from establishments.models import GHT, Department, LegalEntity, Site, StatusGroup

Result = dict[str, Any]


def _best_of(
    repeat: int, func: Callable[[], None], setup: Callable[[], None] | None = None
) -> float:
    """The best of several runs: the least disturbed by the rest of the machine."""
    best = float("inf")
    for _ in range(repeat):
        if setup:
            setup()
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _clear_directory() -> None:
    Site.objects.all().delete()
    LegalEntity.objects.all().delete()
    GHT.objects.all().delete()


def _rows(count: int) -> list[dict[str, Any]]:
    """`count` sites, two per legal entity, over the Rhône."""
    rows = []
    for i in range(count):
        ej = i // 2
        rows.append(
            {
                "finess_et": finess_with_check_digit(f"69{600000 + i:06d}"),
                "nom_site": f"Site {i}",
                "categorie_site": "365",
                "departement_site": "69",
                "lits": str(50 + i % 300),
                "finess_ej": finess_with_check_digit(f"69{100000 + ej:06d}"),
                "nom_ej": f"Clinique {ej}",
                "statut": "prive_lucratif",
                "departement_ej": "69",
                "effectif": str(100 + ej % 500),
            }
        )
    return rows


def directory_import() -> Result:
    """import_establishments (parse, validate, upsert) against a plain bulk_create of
    the same legal entities and sites: ratio = import throughput / bulk_create's."""
    from establishments.services import establishments_import

    count = 10_000
    rows = _rows(count)
    header = list(rows[0])
    csv_bytes = (
        ";".join(header) + "\n" + "\n".join(";".join(r[h] for h in header) for r in rows) + "\n"
    ).encode()
    department = Department.objects.get(code="69")

    def baseline() -> None:
        with transaction.atomic():
            entities = {}
            for r in rows:
                if r["finess_ej"] not in entities:
                    entities[r["finess_ej"]] = LegalEntity(
                        finess=r["finess_ej"],
                        name=r["nom_ej"],
                        status_group=StatusGroup.PRIVATE_FOR_PROFIT,
                        department=department,
                        staff_count=int(r["effectif"]),
                    )
            LegalEntity.objects.bulk_create(entities.values(), batch_size=1000)
            Site.objects.bulk_create(
                [
                    Site(
                        finess=r["finess_et"],
                        name=r["nom_site"],
                        category=r["categorie_site"],
                        department=department,
                        beds=int(r["lits"]),
                        legal_entity=entities[r["finess_ej"]],
                    )
                    for r in rows
                ],
                batch_size=1000,
            )

    def portal() -> None:
        report = establishments_import(file=io.BytesIO(csv_bytes), filename="bench.csv")
        assert report.ok, report.errors[:3]

    base = _best_of(3, baseline, setup=_clear_directory)
    ours = _best_of(3, portal, setup=_clear_directory)
    _clear_directory()
    return {
        "name": "directory_import",
        "ratio": round(base / ours, 3),
        "raw": {
            "rows": count,
            "bulk_create_s": round(base, 3),
            "import_s": round(ours, 3),
            "import_rows_per_s": round(count / ours),
        },
    }


def _finess_extract(ej_numbers: list[str], sites: int) -> tuple[bytes, list[tuple[str, ...]]]:
    """An etalab extract of establishments (ET) of `sites` health establishments,
    each with its geolocalisation line (2 x `sites` lines after the metadata line),
    spread over metropolitan and overseas départements (FINESS codes 9A-9F); and the
    parsed values the baseline writes."""
    from establishments.finess import ET_FIELDS
    from establishments.reference import FINESS_OVERSEAS_DEPARTMENTS, finess_prefix_for_department

    places = [("69", "69"), ("13", "13"), ("2A", "2A"), ("9A", "971"), ("9F", "976")]
    structure, geolocation, parsed = [], [], []
    for i in range(sites):
        code, insee = places[i % len(places)]
        assert FINESS_OVERSEAS_DEPARTMENTS.get(code, code) == insee
        prefix = finess_prefix_for_department(insee)
        finess = finess_with_check_digit(f"{prefix}{600000 + i // len(places):06d}")
        ej = ej_numbers[i % len(ej_numbers)]
        values = dict.fromkeys(ET_FIELDS, "")
        values.update(
            nofinesset=finess,
            nofinessej=ej,
            rs=f"SITE {i}",
            rslongue=f"ETABLISSEMENT DE SANTE {i}",
            departement=code,
            categetab="365",
            datemaj="2026-10-01",
        )
        structure.append("structureet;" + ";".join(values[n] for n in ET_FIELDS))
        x, y = f"{800000 + i % 1000}.5", f"{6500000 + i % 1000}.25"
        geolocation.append(
            f"geolocalisation;{finess};{x};{y};1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;"
            "2026-10-01"
        )
        parsed.append((finess, ej, values["rslongue"], insee, x, y))
    text = "\n".join(["finess;etalab;95;2026-11-02", *structure, *geolocation]) + "\n"
    return text.encode("cp1252"), parsed


def finess_import() -> Result:
    """The etalab FINESS extract of establishments at national size (100,000 lines:
    50,000 structureet and their 50,000 geolocalisation lines) through the portal's
    import (recognise, stream twice, validate, chunked upsert) against a plain
    bulk_create of the same sites: ratio = import throughput / bulk_create's.
    Memory: peak traced memory of the import at 10,000 and 100,000 lines."""
    import tracemalloc

    from establishments.services import establishments_import

    sites = 50_000
    _clear_directory()
    departments = dict(Department.objects.values_list("code", "id"))
    entities = [
        LegalEntity(
            finess=finess_with_check_digit(f"69{100000 + n:06d}"),
            name=f"Entité {n}",
            status_group=StatusGroup.PUBLIC,
            department_id=departments["69"],
            finess_category="355",
        )
        for n in range(5000)
    ]
    LegalEntity.objects.bulk_create(entities, batch_size=1000)
    ej_ids = dict(LegalEntity.objects.values_list("finess", "id"))
    data, parsed = _finess_extract(list(ej_ids), sites)

    def clear_sites() -> None:
        Site.objects.all().delete()

    def baseline() -> None:
        with transaction.atomic():
            Site.objects.bulk_create(
                [
                    Site(
                        finess=finess,
                        name=name,
                        category="365",
                        department_id=departments[insee],
                        legal_entity_id=ej_ids[ej],
                        coord_x=float(x),
                        coord_y=float(y),
                        coord_system="LAMBERT_93",
                        coord_source="1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93",
                    )
                    for finess, ej, name, insee, x, y in parsed
                ],
                batch_size=1000,
            )

    def portal(payload: bytes = data) -> None:
        report = establishments_import(file=io.BytesIO(payload), filename="finess.csv")
        assert report.ok, report.errors[:3]
        assert not report.unknown_codes and not report.ignored, report.ignored_groups

    base = _best_of(3, baseline, setup=clear_sites)
    ours = _best_of(3, portal, setup=clear_sites)

    def peak(payload: bytes) -> int:
        clear_sites()
        tracemalloc.start()
        portal(payload)
        _current, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, _parsed = _finess_extract(list(ej_ids), sites // 10)
    peak_small, peak_large = peak(small), peak(data)
    clear_sites()
    _clear_directory()
    return {
        "name": "finess_import",
        "ratio": round(base / ours, 3),
        "raw": {
            "lines": 2 * sites + 1,
            "sites": sites,
            "bulk_create_s": round(base, 3),
            "import_s": round(ours, 3),
            "import_lines_per_s": round((2 * sites + 1) / ours),
            "peak_mb_10k_lines": round(peak_small / 1e6, 2),
            "peak_mb_100k_lines": round(peak_large / 1e6, 2),
            "memory_ratio_100k_over_10k": round(peak_large / peak_small, 2),
        },
    }


def directory_page() -> Result:
    """The directory page with 10,000 legal entities against the same page with 100
    (both show a full second page of 50): ratio = time(100) / time(10,000), 1.0 when
    the page does not grow with the data."""
    from accounts.models import Membership, User

    user = User.objects.create_user("bench@example.test", "bench-password-123")
    Membership.objects.create(user=user, role=Membership.Role.MINISTRY)
    client = Client()
    client.force_login(user)
    department = Department.objects.get(code="69")

    def fill(count: int) -> None:
        _clear_directory()
        LegalEntity.objects.bulk_create(
            [
                LegalEntity(
                    finess=finess_with_check_digit(f"69{100000 + i:06d}"),
                    name=f"Entité {i:05d}",
                    status_group=StatusGroup.PUBLIC,
                    department=department,
                )
                for i in range(count)
            ],
            batch_size=2000,
        )

    def get_page() -> None:
        response = client.get("/annuaire/", {"page": 2})
        assert response.status_code == 200

    fill(100)
    small = _best_of(20, get_page)
    fill(10_000)
    large = _best_of(20, get_page)
    _clear_directory()
    user.delete()
    return {
        "name": "directory_page",
        "ratio": round(small / large, 3),
        "raw": {"page_100_ms": round(small * 1000, 2), "page_10000_ms": round(large * 1000, 2)},
    }


def _entities(count: int) -> list[LegalEntity]:
    department = Department.objects.get(code="69")
    return LegalEntity.objects.bulk_create(
        [
            LegalEntity(
                finess=finess_with_check_digit(f"69{300000 + i:06d}"),
                name=f"Entité {i}",
                status_group=StatusGroup.PRIVATE_FOR_PROFIT,
                department=department,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )


def _exposure_csv(entities: list[LegalEntity], rows: int) -> bytes:
    from datetime import date, timedelta

    per_entity = -(-rows // len(entities))
    start = date(2020, 1, 1)
    lines = [
        "finess_ej;date_scan;services_exposes;vulns_critiques;vulns_elevees;vulns_moyennes;"
        "vulns_faibles;niveau_minimal_atteint"
    ]
    for n in range(rows):
        entity = entities[n // per_entity]
        day = start + timedelta(days=n % per_entity)
        lines.append(f"{entity.finess};{day.isoformat()};{n % 30};{n % 3};{n % 5};{n % 7};2;oui")
    return ("\n".join(lines) + "\n").encode()


def _clear_scans() -> None:
    from audits.models import AuditImport, ExposureScan, Volet1Status

    ExposureScan.objects.all().delete()
    Volet1Status.objects.all().delete()
    AuditImport.objects.all().delete()


def audit_import() -> Result:
    """import_audits of 100,000 exposure-scan rows (store, parse, validate, upsert,
    Volet 1 refresh) against a plain bulk_create of the same ExposureScan rows:
    ratio = import throughput / bulk_create's. Memory: peak traced memory of the
    import at 10,000 and 100,000 rows (bounded when they are about equal)."""
    import csv
    import tracemalloc
    from datetime import date

    from audits.models import ExposureScan
    from audits.services import audit_import_create

    count = 100_000
    _clear_directory()
    entities = _entities(1500)
    by_finess = {e.finess: e.pk for e in entities}
    data = _exposure_csv(entities, count)
    parsed = list(csv.reader(io.StringIO(data.decode()), delimiter=";"))[1:]

    def baseline() -> None:
        with transaction.atomic():
            ExposureScan.objects.bulk_create(
                [
                    ExposureScan(
                        legal_entity_id=by_finess[r[0]],
                        scan_date=date.fromisoformat(r[1]),
                        exposed_services=int(r[2]),
                        vulns_critical=int(r[3]),
                        vulns_high=int(r[4]),
                        vulns_medium=int(r[5]),
                        vulns_low=int(r[6]),
                        minimum_level_met=True,
                    )
                    for r in parsed
                ],
                batch_size=2000,
            )

    def portal(payload: bytes = data) -> None:
        batch = audit_import_create(
            kind="exposure", uploaded_file=io.BytesIO(payload), filename="bench.csv"
        )
        batch.refresh_from_db()
        assert batch.status == "succeeded", (batch.status, batch.message, batch.errors[:3])

    base = _best_of(3, baseline, setup=_clear_scans)
    ours = _best_of(3, portal, setup=_clear_scans)

    def peak(rows: int) -> int:
        payload = _exposure_csv(entities, rows)
        _clear_scans()
        tracemalloc.start()
        portal(payload)
        _current, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak_small, peak_large = peak(10_000), peak(count)
    _clear_scans()
    _clear_directory()
    return {
        "name": "audit_import",
        "ratio": round(base / ours, 3),
        "raw": {
            "rows": count,
            "bulk_create_s": round(base, 3),
            "import_s": round(ours, 3),
            "import_rows_per_s": round(count / ours),
            "peak_mb_10k": round(peak_small / 1e6, 2),
            "peak_mb_100k": round(peak_large / 1e6, 2),
            "memory_ratio_100k_over_10k": round(peak_large / peak_small, 2),
        },
    }


def dossier_render() -> Result:
    """Rendering a typical dossier (about 8 pages) through the portal (gather the data,
    template, WeasyPrint, count pages, store the file, update the row) against
    WeasyPrint alone on the same HTML: ratio = WeasyPrint's time / the portal's (at
    least 1 / 1.3 = 0.77 means the portal adds at most 30 %)."""
    import weasyprint
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from applications import dossiers, pdf
    from applications.dossiers import dossier_render as render
    from applications.models import Dossier
    from applications.scoring import application_score

    from .builders import typical_application

    application = typical_application(1)
    application_score(application_id=application.pk)
    html = dossiers.render_dossier_html(dossiers.gather_dossier_context(application))
    options = {"pdf_variant": pdf.pdf_variant()} if pdf.pdf_variant() else {}

    def weasyprint_alone() -> None:
        weasyprint.HTML(
            string=html, base_url=pdf.BASE_URL, url_fetcher=pdf.local_static_fetcher
        ).write_pdf(**options)

    def portal() -> None:
        dossier = render(application_id=application.pk)
        assert dossier is not None and dossier.status == "done"

    def reset() -> None:
        Dossier.objects.filter(application=application).delete()

    weasyprint_alone()  # warm the fonts
    base = _best_of(5, weasyprint_alone)
    ours = _best_of(5, portal, setup=reset)
    with CaptureQueriesContext(connection) as queries:
        reset()
        portal()
    pages = Dossier.objects.get(application=application).pages
    return {
        "name": "dossier_render",
        "ratio": round(base / ours, 3),
        "raw": {
            "pages": pages,
            "weasyprint_s": round(base, 3),
            "portal_s": round(ours, 3),
            "portal_over_weasyprint": round(ours / base, 3),
            "queries": len(queries) - 1,
        },
    }


def bulk_rescoring() -> Result:
    """Rescoring 1,500 applications of a call as `rescore_call` does it: batches of
    RESCORE_BATCH_SIZE through a real Celery worker (Redis, one worker with two
    processes), against the baseline of `application_score` called in a plain loop in
    this process (one application at a time, about 20 queries each): ratio = loop time
    / workers time (at least 5). The batches alone in this process, and the queries of
    one application against one batch, are reported beside it."""
    import time

    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from applications.models import Application, EligibilityResult
    from applications.scoring import (
        RESCORE_BATCH_SIZE,
        application_score,
        applications_score_batch,
        rescore_call,
        rescoring_progress,
    )
    from care_portal.celery import app
    from demo.directory import seed_demo

    if not settings.REDIS_URL:
        return {"name": "bulk_rescoring", "ratio": 0.0, "raw": {"skipped": "needs REDIS_URL"}}
    from tests.worker import celery_worker

    seed_demo(seed=2025, legal_entities=2700)
    ids = list(
        Application.objects.filter(submitted_at__isnull=False)
        .exclude(status__in=["draft", "submitted"])  # scoring only stores, never moves
        .order_by("pk")
        .values_list("pk", flat=True)[:1500]
    )
    count = len(ids)
    batches = [ids[i : i + RESCORE_BATCH_SIZE] for i in range(0, count, RESCORE_BATCH_SIZE)]

    def loop() -> None:
        for application_id in ids:
            application_score(application_id=application_id)

    def batched() -> None:
        for batch in batches:
            applications_score_batch(application_ids=batch)

    def clear() -> None:
        EligibilityResult.objects.all().delete()

    def stored() -> dict[int, tuple]:
        return {
            r[0]: r[1:]
            for r in EligibilityResult.objects.filter(application_id__in=ids).values_list(
                "application_id", "eligible", "score", "rules", "factors"
            )
        }

    clear()
    with CaptureQueriesContext(connection) as one_application:
        application_score(application_id=ids[0])
    clear()
    start = time.perf_counter()
    loop()
    plain = time.perf_counter() - start
    by_loop = stored()

    clear()
    with CaptureQueriesContext(connection) as one_batch:
        applications_score_batch(application_ids=batches[0])
    clear()
    start = time.perf_counter()
    batched()
    in_process = time.perf_counter() - start
    assert stored() == by_loop, "batches and the loop disagree"

    clear()
    app.conf.task_always_eager = False
    app.control.purge()
    try:
        with celery_worker(queues="default", concurrency=2):
            start = time.perf_counter()
            run, queued = rescore_call(call=None, application_ids=ids)
            while rescoring_progress(run) < queued:
                time.sleep(0.05)
            through_workers = time.perf_counter() - start
    finally:
        app.conf.task_always_eager = True
    assert stored() == by_loop, "the workers' batches and the loop disagree"
    return {
        "name": "bulk_rescoring",
        "ratio": round(plain / through_workers, 3),
        "raw": {
            "applications": count,
            "batch_size": RESCORE_BATCH_SIZE,
            "plain_loop_s": round(plain, 2),
            "loop_per_s": round(count / plain, 1),
            "batches_in_process_s": round(in_process, 2),
            "batches_over_loop": round(plain / in_process, 2),
            "workers_s": round(through_workers, 2),
            "workers_per_s": round(count / through_workers, 1),
            "queries_per_application": len(one_application),
            "queries_per_batch": len(one_batch),
        },
    }


def bulk_approval() -> Result:
    """Approving 500 applications through `decisions.approve_many` (recusal, amounts
    against the requested amount and the ceiling, the envelope under the call's row
    lock, four-eyes, one transaction each, a report) against a plain loop of
    `application_transition` over 500 equivalent applications: ratio = loop time /
    approve_many time (at least 0.5). The work queued after each commit (e-mails,
    decision letters) is measured elsewhere: here both sides queue into a recorder."""
    from datetime import timedelta
    from decimal import Decimal
    from types import SimpleNamespace

    from django.utils import timezone

    from accounts.models import Membership, User
    from applications import decisions
    from applications.lifecycle import application_transition
    from applications.models import CeilingBracket, FundingCall
    from care_portal import queue

    from .builders import national_review_batch

    count, repeat = 500, 3
    user = User.objects.create_user("bench-ministere@sante.gouv.test", is_staff=True)
    Membership.objects.create(user=user, role=Membership.Role.MINISTRY)
    now = timezone.now()
    call = FundingCall.objects.create(
        code="BENCH-DECIDE", domain="D2", title="Appel de mesure : décisions",
        opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=30),
        envelope=Decimal("900000000"), second_approval_above=Decimal("500000"),
        eligible_groups=["ght", "public_outside_ght"],
    )  # fmt: skip
    CeilingBracket.objects.create(call=call, min_staff=0, ceiling=Decimal("900000"))
    serials = iter(range(2 * repeat))
    batches: dict[str, list] = {}

    def fresh(side: str) -> None:
        batches[side] = national_review_batch(call, next(serials), count)

    def loop() -> None:
        for application in batches["loop"]:
            application_transition(
                application=application, to="approved", by=user, amount=Decimal("200000")
            )

    def portal() -> None:
        report = decisions.approve_many(batches["portal"], by=user)
        assert report.done == count, [e.message for e in report if not e.ok][:3]

    queued: list[str] = []
    recorder = SimpleNamespace(delay=lambda *args, **kwargs: queued.append("task"))
    real_task = queue.task
    queue.task = lambda name: recorder  # type: ignore[assignment]
    try:
        base = _best_of(repeat, loop, setup=lambda: fresh("loop"))
        ours = _best_of(repeat, portal, setup=lambda: fresh("portal"))
    finally:
        queue.task = real_task  # type: ignore[assignment]
    return {
        "name": "bulk_approval",
        "ratio": round(base / ours, 3),
        "raw": {
            "applications": count,
            "loop_s": round(base, 3),
            "approve_many_s": round(ours, 3),
            "approve_many_per_s": round(count / ours),
        },
    }


def load() -> Result:
    """Four pages under concurrent load (bench/load.py: its own PostgreSQL, Redis and
    gunicorn as in production, 8 users from this side of loopback), each against the
    bare view that fetches the same rows (the page's own SELECT statements) and renders
    the same template: ratio = the lowest of the four throughput ratios (goal: at least
    0.5 each). The ratios to the template rendered alone, rows in memory, are in `raw`."""
    import json
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="care-load-result-") as directory:
        out = Path(directory) / "load.json"
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        run = subprocess.run(
            [sys.executable, "-m", "bench.load", "--json", str(out)],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            check=False,
        )
        if not out.exists():
            return {"name": "load", "ratio": 0.0, "raw": {"failed": f"exit {run.returncode}"}}
        result = json.loads(out.read_text())
    raw: dict[str, Any] = {
        "users": result["users"],
        "seconds": result["seconds_per_side"],
        "load_average": result["load_average"],
    }
    for page in result["pages"]:
        key = page["key"]
        raw |= {
            f"{key}_rps": page["rps"],
            f"{key}_p50_ms": page["p50_ms"],
            f"{key}_p95_ms": page["p95_ms"],
            f"{key}_p99_ms": page["p99_ms"],
            f"{key}_baseline_rps": page["baseline_rps"],
            f"{key}_ratio": page["ratio"],
            f"{key}_render_rps": page["render_rps"],
            f"{key}_render_ratio": page["render_ratio"],
            f"{key}_queries": page["queries"],
            f"{key}_errors": page["errors"] + page["baseline_errors"],
        }
    return {
        "name": "load",
        "ratio": min(page["ratio"] for page in result["pages"]),
        "raw": raw,
        "pages": result["pages"],
        "dataset": result["dataset"],
    }


ALL = [
    directory_import,
    finess_import,
    directory_page,
    audit_import,
    dossier_render,
    bulk_rescoring,
    bulk_approval,
]

# The national-scale benchmarks of issue 11 live in their own module.
from .national import dashboard_national, export_memory  # noqa: E402

ALL += [dashboard_national, export_memory, load]  # the load benchmark last
