"""PDF dossiers and decision letters: a real PDF with every section, the reference and
"n / N" on every page, nothing fetched but the portal's static files, one row per
version, failures recorded and retried, downloads through scoped views."""

import hashlib
import io
import re
import time
from datetime import date, timedelta
from decimal import Decimal

import pikepdf
import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from pypdf import PdfReader

from applications import dossiers, pdf
from applications.dossiers import dossier_render, dossiers_needing_work
from applications.lifecycle import application_transition
from applications.models import (
    Answer,
    Application,
    BudgetLine,
    CeilingBracket,
    Coverage,
    Dossier,
    EligibilityResult,
    Evidence,
    Transition,
)
from applications.scoring import application_score
from applications.tasks import render_dossier_task, sweep_unfinished_task

from ..factories import (
    ApplicationFactory,
    FundingCallFactory,
    GHTFactory,
    LegalEntityFactory,
    RequirementFactory,
)
from ..worker import celery_worker, wait_for
from .test_eligibility import volet1

IMG_FILE = '<img src="file:///etc/passwd">'
IMG_REMOTE = '<img src="https://example.org/x.png">'
LINK_FILE = '<link rel=stylesheet href="file:///etc/passwd">'


def make_call(requirements: int = 8):
    call = FundingCallFactory()
    for i in range(requirements):
        prerequisite = i < requirements // 2
        RequirementFactory(
            call=call,
            identifier=f"D2.{'P' if prerequisite else 'O'}{i + 1}",
            kind="prerequisite" if prerequisite else "objective",
            label=f"Exigence numéro {i + 1} du programme",
            target="Une cible mesurable, vérifiée par l'ARS",
            evidence_stage="application" if prerequisite else "declaration",
        )
    CeilingBracket.objects.create(call=call, min_staff=0, ceiling=Decimal("900000"))
    return call


def make_dossier_application(
    candidate,
    *,
    requirements: int = 8,
    files: int | None = None,
    members: int = 2,
    comment: str = "Fait en 2025, validé par la direction.",
    score: bool = True,
):
    """A complete application of `candidate` (a GHT support covering `members` more
    entities), submitted, with its answers, files, budget and eligibility result."""
    call = make_call(requirements)
    ght = GHTFactory()
    candidate.ght, candidate.is_ght_support = ght, True
    candidate.save()
    application = ApplicationFactory(
        call=call,
        candidate=candidate,
        ght=ght,
        status="submitted",
        requested_amount=Decimal("250000"),
        director_name="Claire Directrice",
        director_email="direction@ch.test",
        rssi_name="Rémi RSSI",
        rssi_email="rssi@ch.test",
        sworn_statement=True,
        sworn_at=timezone.now() - timedelta(hours=2),
    )
    entities = [candidate, *LegalEntityFactory.create_batch(members, ght=ght)]
    for entity in entities:
        Coverage.objects.create(call=call, application=application, legal_entity=entity)
        volet1(entity)
    answers = [
        Answer.objects.create(application=application, requirement=r, state="met", comment=comment)
        for r in call.requirements.all()
    ]
    prerequisites = [a for a in answers if a.requirement.kind == "prerequisite"]
    count = len(prerequisites) if files is None else files
    for i in range(count):
        content = f"pièce {i} de {application.reference}".encode()
        Evidence.objects.create(
            application=application,
            answer=prerequisites[i % len(prerequisites)] if prerequisites else None,
            file=ContentFile(content, name="piece.pdf"),
            original_name=f"piece-{i}.pdf",
            content_type="application/pdf",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        )
    BudgetLine.objects.create(
        application=application, category="consulting", description="Rédaction des PCRA",
        amount=Decimal("150000"),
    )  # fmt: skip
    BudgetLine.objects.create(
        application=application, category="hardware", description="Sauvegardes hors ligne",
        amount=Decimal("100000"),
    )  # fmt: skip
    Transition.objects.create(
        application=application, from_status="draft", to_status="submitted",
        created_at=timezone.now() - timedelta(hours=2),
    )  # fmt: skip
    if score:
        application_score(application_id=application.pk)
    application.refresh_from_db()
    return application


@pytest.fixture
def application(hospital):
    return make_dossier_application(hospital)


def pages_text(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def fetched(monkeypatch):
    """Every URL WeasyPrint asks the fetcher for, and whether it was served."""
    calls: list[tuple[str, bool]] = []
    original = pdf.LocalStaticFetcher.fetch

    def spy(self, url, headers=None):
        try:
            response = original(self, url, headers)
        except Exception:
            calls.append((url, False))
            raise
        calls.append((url, True))
        return response

    monkeypatch.setattr(pdf.LocalStaticFetcher, "fetch", spy)
    return calls


# --- The document ----------------------------------------------------------------------------


def test_the_dossier_has_every_section_and_the_reference_on_every_page(application, fetched):
    content = dossiers.render_dossier(application)
    assert content.startswith(b"%PDF")
    texts = pages_text(content)
    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        assert application.reference in text
        assert f"Page {number} / {len(texts)}" in text
    whole = "\n".join(texts)
    flat = squeeze(whole)
    assert application.candidate.name in whole
    for coverage in application.coverages.select_related("legal_entity"):
        assert coverage.legal_entity.name in whole
    for answer in application.answers.select_related("requirement"):
        assert answer.requirement.identifier in whole
    for evidence in application.evidence.all():
        assert evidence.sha256 in flat
        assert evidence.original_name in whole
    assert "Rédaction des PCRA" in whole and "250" in whole
    assert "Volet 1" in whole and "E7" in whole and "Score de priorité" in whole
    # The fonts came from the portal's static files, and nothing else was asked for.
    assert fetched and all(url.startswith("static://dsfr/dist/fonts/") for url, _ in fetched)
    assert all(served for _, served in fetched)


def test_the_dossier_is_archival_with_embedded_fonts(application):
    content = dossiers.render_dossier(application)
    with pikepdf.open(io.BytesIO(content)) as document:
        metadata = document.open_metadata()
        assert metadata.get("pdfaid:part") == "3"
        assert metadata.get("pdfaid:conformance") == "B"
        assert "/OutputIntents" in document.Root
        fonts = {
            str(font.get("/BaseFont")): font
            for page in document.pages
            for font in page.Resources.Font.values()
        }
        assert any("Marianne" in name for name in fonts)
        for font in fonts.values():
            descriptor = font.DescendantFonts[0].FontDescriptor
            assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def test_the_plain_variant_is_a_setting(application, settings):
    settings.DOSSIER_PDF_VARIANT = None
    content = dossiers.render_dossier(application)
    with pikepdf.open(io.BytesIO(content)) as document:
        assert document.open_metadata().get("pdfaid:part") is None


def test_injected_markup_is_printed_as_text_and_fetches_nothing(hospital, fetched):
    payload = f"{IMG_FILE} {IMG_REMOTE} {LINK_FILE}"
    hospital.name = f"CH {IMG_FILE}"
    hospital.save()
    application = make_dossier_application(hospital, comment=payload)
    Evidence.objects.filter(application=application).update(original_name=f"{IMG_REMOTE}.pdf")
    BudgetLine.objects.filter(application=application).update(description=LINK_FILE)

    html = dossiers.render_dossier_html(dossiers.gather_dossier_context(application))
    assert "&lt;img src=&quot;file:///etc/passwd&quot;&gt;" in html
    assert IMG_FILE not in html and IMG_REMOTE not in html and LINK_FILE not in html

    content = pdf.html_to_pdf(html)
    text = "\n".join(pages_text(content))
    flat = squeeze(text)
    for value in (IMG_FILE, IMG_REMOTE, LINK_FILE):
        assert squeeze(value) in flat  # shown as the text it is
    assert "root:" not in text
    asked = [url for url, _ in fetched]
    assert asked and all(url.startswith("static://") for url in asked)
    assert not any("passwd" in url or "example.org" in url for url in asked)


def test_a_template_that_asked_for_files_or_urls_would_get_nothing(fetched):
    html = (
        f"<html><head>{LINK_FILE}<link rel=stylesheet href='http://example.org/s.css'></head>"
        f"<body><p>Texte</p>{IMG_FILE}{IMG_REMOTE}"
        "<img src='static://../../../../etc/passwd'><img src='data:image/png;base64,iVBORw0K'>"
        "<img src='passwd'></body></html>"
    )
    content = pdf.html_to_pdf(html)
    assert content.startswith(b"%PDF")
    assert "root:" not in "\n".join(pages_text(content))
    assert fetched, "the fetcher was asked"
    assert not [url for url, served in fetched if served]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "http://example.org/x.png",
        "https://example.org/x.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "ftp://example.org/x.png",
        "static://../../etc/passwd",
        "static://dsfr/../../../../etc/passwd",
        "static://dsfr/dist/fonts/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "static:///etc/passwd",
        "static://dsfr/dist/fonts/Marianne-Regular.woff2/../../../../etc/passwd",
        "static://dsfr/dist/dsfr/dsfr.min.css",  # a static file, but no font nor image
        "static://dsfr/dist/fonts/Missing.woff2",
        "/etc/passwd",
        "passwd",
    ],
)
def test_the_fetcher_refuses_anything_but_static_fonts_and_images(url):
    with pytest.raises(pdf.RefusedURL):
        pdf.local_static_fetcher(url)


def test_the_fetcher_serves_the_marianne_font():
    response = pdf.local_static_fetcher(pdf.static_url("dsfr/dist/fonts/Marianne-Bold.woff2"))
    assert response.read(4) == b"wOF2"
    assert response.content_type == "font/woff2"


def test_gathering_runs_a_constant_number_of_queries(hospital, django_assert_num_queries):
    small = make_dossier_application(hospital, requirements=3, files=0, members=0)
    large = make_dossier_application(
        LegalEntityFactory(), requirements=30, files=20, members=8, score=True
    )
    with CaptureQueriesContext(connection) as queries:
        dossiers.gather_dossier_context(small)
    # The application with its joins, its transitions, coverages, answers, files, budget
    # lines, and the directory audits and exposure scans read once each.
    assert len(queries) == 8
    for table in ("audits_directoryaudit", "audits_exposurescan"):
        assert sum(f'"{table}"' in q["sql"] for q in queries.captured_queries) == 1, table
    with django_assert_num_queries(8):
        context = dossiers.gather_dossier_context(large)
    assert len(context["requirements"]) == 30 and context["file_count"] == 20
    assert len(context["volet1"]) == 9


def test_the_dossiers_volet1_agrees_with_the_audits_selector(hospital):
    """Computed from the one read of each table, the statuses are those of
    `volet1_statuses`, and the figures shown are the latest audit's and scan's."""
    from audits.models import DirectoryAudit, ExposureScan
    from audits.selectors import volet1_statuses

    application = make_dossier_application(hospital, members=3)
    entities = [
        c.legal_entity for c in application.coverages.select_related("legal_entity").order_by("id")
    ]
    DirectoryAudit.objects.filter(legal_entity=entities[1]).delete()  # exposure only
    ExposureScan.objects.filter(legal_entity=entities[2]).delete()  # AD only
    DirectoryAudit.objects.filter(legal_entity=entities[3]).delete()  # neither
    ExposureScan.objects.filter(legal_entity=entities[3]).delete()
    ExposureScan.objects.create(  # the latest scan fails: the pair before it still counts
        legal_entity=entities[0], scan_date=date(2025, 5, 1), minimum_level_met=False,
        vulns_critical=4, vulns_high=7,
    )  # fmt: skip
    rows = {row.entity.pk: row for row in dossiers.gather_dossier_context(application)["volet1"]}
    expected = volet1_statuses([e.pk for e in entities])
    assert {pk: row.status for pk, row in rows.items()} == expected
    assert [expected[e.pk].level for e in entities] == ["both", "exposure_met", "ad_done", "none"]
    assert (rows[entities[0].pk].scan_date, rows[entities[0].pk].scan_critical) == (
        date(2025, 5, 1),
        4,
    )
    assert rows[entities[2].pk].audit_score == 60 and rows[entities[2].pk].scan_date is None


def test_the_dossier_shows_the_stored_requested_amount(application):
    """The total of the budget is `requested_amount`, the one value written with the
    lines: the dossier does not sum them again."""
    Application.objects.filter(pk=application.pk).update(requested_amount=Decimal("260000"))
    context = dossiers.gather_dossier_context(application)
    assert "budget_total" not in context
    html = dossiers.render_dossier_html(context).replace("\u202f", " ").replace("\xa0", " ")
    total = html.split("Total HT demandé", 1)[1].split("</td>", 1)[0]
    assert total.rstrip().endswith("260 000,00")


# --- One row per version ----------------------------------------------------------------------


@pytest.fixture
def renders(monkeypatch):
    """How many times WeasyPrint ran."""
    calls = []
    original = pdf.html_to_pdf

    def counting(html, **kwargs):
        calls.append(1)
        return original(html, **kwargs)

    monkeypatch.setattr(pdf, "html_to_pdf", counting)
    return calls


def test_rendering_twice_gives_one_row_rendered_once(application, renders):
    first = dossier_render(application_id=application.pk)
    second = dossier_render(application_id=application.pk)
    assert first.pk == second.pk and len(renders) == 1
    assert Dossier.objects.filter(application=application).count() == 1
    assert (first.kind, first.version, first.status) == ("dossier", 1, "done")
    content = first.file.read()
    assert content.startswith(b"%PDF")
    assert first.sha256 == second.sha256 == hashlib.sha256(content).hexdigest()
    assert first.size == len(content) and first.pages == len(pages_text(content)) >= 2
    assert first.generated_at is not None and first.attempts == 1
    name = first.file.name
    stored_month = f"{timezone.localtime(first.generated_at):%Y/%m}"  # not today's: midnight
    assert name.startswith(f"dossiers/{stored_month}/{application.reference}-")
    assert re.search(r"-dossier-v1-[0-9a-f]{8}\.pdf$", name)


def test_a_resubmission_makes_a_new_version(application):
    dossier_render(application_id=application.pk)
    Transition.objects.create(
        application=application, from_status="returned", to_status="submitted"
    )
    second = dossier_render(application_id=application.pk)
    assert second.version == 2
    assert list(
        Dossier.objects.filter(application=application).values_list("version", "status")
    ) == [(2, "done"), (1, "done")]
    assert "Dossier de candidature · v2" in pages_text(second.file.read())[0]


def test_a_failed_rendering_is_recorded_then_retried(application, monkeypatch):
    original = pdf.html_to_pdf

    def broken(html, **kwargs):
        raise RuntimeError("WeasyPrint a planté")

    monkeypatch.setattr(pdf, "html_to_pdf", broken)
    with pytest.raises(RuntimeError):
        dossier_render(application_id=application.pk)
    dossier = Dossier.objects.get(application=application)
    assert dossier.status == "failed" and "WeasyPrint a planté" in dossier.error
    assert dossier.attempts == 1 and not dossier.file
    monkeypatch.setattr(pdf, "html_to_pdf", original)
    retried = dossier_render(application_id=application.pk)
    assert retried.pk == dossier.pk
    assert (retried.status, retried.attempts, retried.error) == ("done", 2, "")


def test_a_rendering_left_running_by_a_killed_worker_is_taken_over(application, renders):
    # Nobody holds the rendering lock: the worker that marked it running is gone.
    Dossier.objects.create(application=application, kind="dossier", version=1, status="running")
    assert dossier_render(application_id=application.pk).status == "done"
    assert len(renders) == 1
    assert Dossier.objects.count() == 1


def test_a_rendering_in_progress_elsewhere_is_left_alone(application, renders):
    from django.db import connection

    from applications.dossiers import DOSSIER_LOCK_NAMESPACE

    if connection.vendor != "postgresql":
        pytest.skip("the rendering lock is a PostgreSQL advisory lock (CI runs this)")
    import psycopg2

    row = Dossier.objects.create(
        application=application, kind="dossier", version=1, status="running"
    )
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    )
    try:
        with other.cursor() as cursor:  # another live worker renders it
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [DOSSIER_LOCK_NAMESPACE, row.pk])
        assert dossier_render(application_id=application.pk).status == "running"
        assert not renders
    finally:
        other.close()  # as when that worker dies: the server frees its lock
    # The server frees it when that backend has exited, which takes a moment under load.
    for _ in range(100):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
                [row.pk],
            )
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.1)
    assert dossier_render(application_id=application.pk).status == "done"
    assert len(renders) == 1


def test_a_submitted_dossier_waits_for_its_eligibility_result(hospital):
    from applications.dossiers import DossierNotReady

    application = make_dossier_application(hospital, score=False)
    with pytest.raises(DossierNotReady):
        dossier_render(application_id=application.pk)
    assert not Dossier.objects.exists()


def test_nothing_to_render_before_a_submission_or_a_decision(application):
    assert dossier_render(application_id=application.pk, kind="decision") is None
    draft = ApplicationFactory(status="draft")
    assert dossier_render(application_id=draft.pk) is None
    assert not Dossier.objects.exists()


def decide(application, ministry_user, *, to="approved", comment=""):
    Application.objects.filter(pk=application.pk).update(status="national_review")
    application.refresh_from_db()
    amount = Decimal("180000") if to == "approved" else None
    application_transition(
        application=application, to=to, by=ministry_user, comment=comment, amount=amount
    )
    application.refresh_from_db()
    return application


def test_a_decision_letter_for_an_approval(application, ministry_user):
    decide(application, ministry_user)
    letter = dossier_render(application_id=application.pk, kind="decision")
    assert (letter.kind, letter.version, letter.status) == ("decision", 1, "done")
    texts = pages_text(letter.file.read())
    whole = "\n".join(texts)
    assert "Votre candidature est retenue" in whole and "180" in whole
    assert application.candidate.name in whole and "Ève Bernard" in whole
    assert all(application.reference in t and "Page " in t for t in texts)
    for objective in application.call.requirements.filter(kind="objective"):
        assert objective.identifier in whole


def test_a_decision_letter_for_a_rejection_gives_the_reason(application, ministry_user):
    decide(application, ministry_user, to="rejected", comment=f"Budget insuffisant {IMG_FILE}")
    letter = dossier_render(application_id=application.pk, kind="decision")
    whole = "\n".join(pages_text(letter.file.read()))
    assert "n'est pas retenue" in whole and "Budget insuffisant" in whole
    assert squeeze(IMG_FILE) in squeeze(whole)


# --- Queued on the transitions, swept when lost ----------------------------------------------


def test_scoring_a_submission_then_decisions_queue_the_rendering(
    hospital, ministry_user, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(render_dossier_task, "delay", lambda *args: queued.append(args))
    application = make_dossier_application(hospital, score=False)
    # The dossier includes the eligibility result: it is queued once scoring is done.
    with django_capture_on_commit_callbacks(execute=True):
        application_score(application_id=application.pk)
    assert queued == [(application.pk, "dossier", None)]
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decide(application, ministry_user)
    assert queued == [(application.pk, "decision")]


def test_the_sweeper_requeues_missing_failed_and_abandoned_dossiers(
    application, ministry_user, monkeypatch
):
    Transition.objects.filter(application=application).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    assert dossiers_needing_work() == [(application.pk, "dossier")]
    assert dossiers_needing_work(older_than_seconds=3 * 3600) == []
    row = dossier_render(application_id=application.pk)
    assert dossiers_needing_work() == []
    row.status, row.attempts = "failed", 2
    row.save()
    assert dossiers_needing_work() == [(application.pk, "dossier")]
    Dossier.objects.filter(pk=row.pk).update(attempts=5)  # left to the ministry's button
    assert dossiers_needing_work() == []
    Dossier.objects.filter(pk=row.pk).update(
        status="running", updated_at=timezone.now() - timedelta(hours=1)
    )
    assert dossiers_needing_work() == [(application.pk, "dossier")]
    Dossier.objects.filter(pk=row.pk).update(status="done")

    decide(application, ministry_user)
    Transition.objects.filter(application=application, to_status="approved").update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    assert dossiers_needing_work() == [(application.pk, "decision")]
    queued = []
    monkeypatch.setattr(render_dossier_task, "delay", lambda *args: queued.append(args))
    sweep_unfinished_task()
    assert queued == [(application.pk, "decision")]


def test_an_unscored_submission_is_left_to_the_scoring_sweep(hospital):
    application = make_dossier_application(hospital, score=False)
    Transition.objects.filter(application=application).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    assert dossiers_needing_work() == []
    application_score(application_id=application.pk)  # scored: it leaves "submitted"
    assert dossiers_needing_work() == [(application.pk, "dossier")]


def test_a_resubmission_waits_for_its_new_score_not_the_old_one(hospital):
    from applications.dossiers import DossierNotReady
    from applications.scoring import applications_needing_work

    application = make_dossier_application(hospital)  # scored once: regional_review
    assert EligibilityResult.objects.filter(application=application).exists()
    # Returned, then resubmitted: the first result is still stored.
    Application.objects.filter(pk=application.pk).update(
        status="submitted", submitted_at=timezone.now() - timedelta(hours=1)
    )
    Transition.objects.create(
        application=application, from_status="returned", to_status="submitted",
        created_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    assert applications_needing_work() == [application.pk]
    assert (application.pk, "dossier") not in dossiers_needing_work()
    with pytest.raises(DossierNotReady):
        dossier_render(application_id=application.pk)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_pdf_worker_renders_the_dossier(celery_broker, hospital):
    application = make_dossier_application(hospital)
    render_dossier_task.delay(application.pk)
    assert not Dossier.objects.exists()  # sent to Redis, not run in this process
    # Only the "pdf" queue: the task is routed there (CELERY_TASK_ROUTES applications.render_*).
    with celery_worker(queues="pdf"):
        done = wait_for(
            lambda: Dossier.objects.filter(application=application, status="done").exists(),
            timeout=90,
        )
    dossier = Dossier.objects.get(application=application)
    assert done, (dossier.status, dossier.error)
    assert dossier.version == 1 and dossier.pages >= 2 and len(dossier.sha256) == 64


def test_the_task_renders_and_a_redelivery_renders_nothing(application, renders):
    assert render_dossier_task.delay(application.pk).get() == "done"
    assert render_dossier_task.delay(application.pk, "dossier").get() == "done"
    assert len(renders) == 1
    assert render_dossier_task.name == "applications.render_dossier_task"


# --- The command ---------------------------------------------------------------------------


def test_the_command_writes_the_pdf(application, tmp_path):
    out = io.StringIO()
    target = tmp_path / "dossier.pdf"
    call_command("render_dossier", str(application.public_id), "--output", str(target), stdout=out)
    content = target.read_bytes()
    assert content.startswith(b"%PDF") and application.reference in pages_text(content)[0]
    assert hashlib.sha256(content).hexdigest() in out.getvalue()
    assert not Dossier.objects.exists()


@pytest.mark.parametrize(
    ("public_id", "output", "message"),
    [
        ("pas-un-uuid", "ok.pdf", "Identifiant invalide"),
        ("00000000-0000-4000-8000-000000000000", "ok.pdf", "Aucune candidature"),
        (None, "absent/dossier.pdf", "Dossier introuvable"),
        (None, "", "Impossible d'écrire"),
    ],
)
def test_the_command_fails_cleanly(application, tmp_path, public_id, output, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "render_dossier",
            public_id or str(application.public_id),
            "--output",
            str(tmp_path / output),
        )


def test_the_command_refuses_a_letter_without_decision(application, tmp_path):
    with pytest.raises(CommandError, match="Aucune décision"):
        call_command(
            "render_dossier",
            str(application.public_id),
            "--output",
            str(tmp_path / "lettre.pdf"),
            "--kind",
            "decision",
        )


# --- Where users see it ----------------------------------------------------------------------


def download_url(application, dossier):
    return reverse("applications:dossier-download", args=[application.public_id, dossier.public_id])


def retry_url(application, dossier):
    return reverse("applications:dossier-retry", args=[application.public_id, dossier.public_id])


def detail_url(application):
    return reverse("applications:application-detail", args=[application.public_id])


@pytest.fixture
def rendered(application):
    return dossier_render(application_id=application.pk)


@pytest.mark.parametrize("persona", ["hospital_user", "ars_user", "ministry_user"])
def test_insiders_download_the_dossier_as_an_attachment(
    client, request, application, rendered, persona
):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(download_url(application, rendered))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert f"{application.reference}-dossier-v1.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert "sandbox" in response["Content-Security-Policy"]
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == rendered.sha256


@pytest.mark.parametrize("persona", ["other_hospital_user", "other_region_ars_user"])
def test_outsiders_get_404_for_the_dossier(client, request, application, rendered, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(download_url(application, rendered)).status_code == 404
    assert client.post(retry_url(application, rendered)).status_code == 404


def test_a_dossier_not_done_or_of_another_application_is_404(
    client, hospital_user, application, rendered
):
    client.force_login(hospital_user)
    Dossier.objects.filter(pk=rendered.pk).update(status="running")
    assert client.get(download_url(application, rendered)).status_code == 404
    other = ApplicationFactory(
        status="submitted", candidate=application.candidate, call=make_call(1)
    )
    assert client.get(download_url(other, rendered)).status_code == 404


def test_only_the_ministry_relaunches_a_failed_rendering(
    client, application, rendered, hospital_user, ars_user, ministry_user, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    queued = []
    monkeypatch.setattr(render_dossier_task, "delay", lambda *args: queued.append(args))
    Dossier.objects.filter(pk=rendered.pk).update(status="failed", error="RuntimeError: boom")
    for user in (hospital_user, ars_user):
        client.force_login(user)
        page = client.get(detail_url(application)).content.decode()
        assert "En échec" in page and retry_url(application, rendered) not in page
        assert client.post(retry_url(application, rendered)).status_code == 403
    assert queued == []
    client.force_login(ministry_user)
    page = client.get(detail_url(application)).content.decode()
    assert retry_url(application, rendered) in page and "Relancer la génération" in page
    assert "RuntimeError: boom" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(application, rendered))
    assert response.status_code == 302 and response["Location"].endswith("#dossiers")
    rendered.refresh_from_db()
    assert rendered.status == "pending"
    assert queued == [(application.pk, "dossier", 1)]
    # A second click finds nothing to relaunch.
    client.post(retry_url(application, rendered))
    assert len(queued) == 1
    assert client.get(retry_url(application, rendered)).status_code == 405


def test_the_page_shows_the_rendering_status(client, hospital_user, application, renders):
    client.force_login(hospital_user)
    Transition.objects.filter(application=application).update(created_at=timezone.now())
    page = client.get(detail_url(application)).content.decode()
    assert "Dossier PDF" in page and "En attente" in page and "en préparation" in page
    assert "cette page se met à jour" in page and "rechargez" not in page
    dossier = dossier_render(application_id=application.pk)
    page = client.get(detail_url(application)).content.decode()
    assert "Disponible" in page and download_url(application, dossier) in page
    assert f"{dossier.pages} pages" in page


def test_the_page_says_the_eligibility_check_is_running(client, hospital, hospital_user):
    application = make_dossier_application(hospital, score=False)
    client.force_login(hospital_user)
    page = client.get(detail_url(application)).content.decode()
    assert "Vérification de l&#x27;éligibilité en cours" in page


@pytest.mark.parametrize("persona", ["ars_user", "ministry_user"])
def test_instructors_see_the_whole_eligibility_explanation(client, request, application, persona):
    client.force_login(request.getfixturevalue(persona))
    page = client.get(detail_url(application)).content.decode()
    result = application.eligibility
    for rule in result.rules:
        assert f"{rule['id']} – " in page
    for factor in result.factors:
        assert escape(factor["label"]) in page
        assert escape(factor["detail"]) in page
    assert "Décomposition du score de priorité" in page and "Score de priorité" in page


def test_the_candidate_sees_only_what_failed(client, hospital_user, application):
    client.force_login(hospital_user)
    result = application.eligibility
    page = client.get(detail_url(application)).content.decode()
    assert "Score de priorité" not in page and "Décomposition" not in page
    if result.eligible:
        assert "Éligible" in page
    # Now an ineligible result: its failed rules' details, and nothing of the others.
    rules = [dict(r) for r in result.rules]
    rules[-1].update(passed=False, blocking=True, detail="Montant au-delà du plafond : 999 €.")
    EligibilityResult.objects.filter(pk=result.pk).update(rules=rules, eligible=False)
    page = client.get(detail_url(application)).content.decode()
    assert "Candidature inéligible" in page and "Montant au-delà du plafond" in page
    assert escape(rules[0]["detail"]) not in page
    assert "Décomposition" not in page


# --- No dossier stuck pending -------------------------------------------------------------


def status_url(application):
    return reverse("applications:dossier-status", args=[application.public_id])


def relaunch_url(application):
    return reverse("applications:dossier-relaunch", args=[application.public_id])


def seeded_pending(application, *, minutes_ago=60):
    """A dossier row left pending, as the demo seeds them (nobody queued it)."""
    dossier = Dossier.objects.create(application=application, kind="dossier", version=1)
    Dossier.objects.filter(pk=dossier.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return dossier


def test_without_workers_the_pages_poll_renders_a_seeded_dossier(
    client, hospital_user, application, renders
):
    """The embedded default (tasks in process, no scheduler): the page follows its
    documents and its poll renders what nobody will, seeded rows included."""
    dossier = seeded_pending(application)
    client.force_login(hospital_user)
    page = client.get(detail_url(application)).content.decode()
    assert f'data-poll-url="{status_url(application)}"' in page and "fetch(" in page
    response = client.get(status_url(application))
    assert response.status_code == 200
    fragment = response.content.decode()
    dossier.refresh_from_db()
    assert dossier.status == "done" and len(renders) == 1
    assert download_url(application, dossier) in fragment and "data-poll-url" not in fragment
    assert 'id="dossiers-body"' in fragment and "<html" not in fragment
    assert client.get(status_url(application)).status_code == 200 and len(renders) == 1
    page = client.get(detail_url(application)).content.decode()
    assert "data-poll-url" not in page and "fetch(" not in page  # nothing left to follow


def test_with_workers_the_poll_only_reads(client, hospital_user, application, renders, monkeypatch):
    monkeypatch.setattr(dossiers, "in_process", lambda: False)
    dossier = seeded_pending(application, minutes_ago=1)
    client.force_login(hospital_user)
    fragment = client.get(status_url(application)).content.decode()
    dossier.refresh_from_db()
    assert dossier.status == "pending" and renders == []
    assert f'data-poll-url="{status_url(application)}"' in fragment


@pytest.mark.parametrize("persona", ["other_hospital_user", "other_region_ars_user"])
def test_outsiders_neither_poll_nor_relaunch(client, request, application, persona, renders):
    seeded_pending(application)
    client.force_login(request.getfixturevalue(persona))
    assert client.get(status_url(application)).status_code == 404
    assert client.post(relaunch_url(application), {"kind": "dossier"}).status_code == 404
    assert renders == []


def test_a_dossier_stuck_for_minutes_offers_its_owner_a_relaunch(
    client, application, hospital_user, ars_user, ministry_user, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    queued = []
    monkeypatch.setattr(dossiers, "in_process", lambda: False)  # workers, but none answers
    monkeypatch.setattr(render_dossier_task, "delay", lambda *args: queued.append(args))
    dossier = seeded_pending(application, minutes_ago=2)
    client.force_login(hospital_user)
    page = client.get(detail_url(application)).content.decode()
    assert relaunch_url(application) not in page  # waiting for two minutes only
    response = client.post(relaunch_url(application), {"kind": "dossier"}, follow=True)
    assert "réessayez dans quelques minutes" in response.content.decode() and queued == []
    Dossier.objects.filter(pk=dossier.pk).update(updated_at=timezone.now() - timedelta(minutes=6))
    for user, offered in ((ars_user, False), (ministry_user, True), (hospital_user, True)):
        client.force_login(user)
        page = client.get(detail_url(application)).content.decode()
        assert (relaunch_url(application) in page) is offered, user
        assert ("attend depuis plusieurs minutes" in page) is offered, user
    client.force_login(ars_user)
    assert client.post(relaunch_url(application), {"kind": "dossier"}).status_code == 403
    client.force_login(hospital_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(relaunch_url(application), {"kind": "dossier"})
    assert response.status_code == 302 and response["Location"].endswith("#dossiers")
    assert queued == [(application.pk, "dossier", 1)]
    # Relaunched just now: a second click waits.
    response = client.post(relaunch_url(application), {"kind": "dossier"}, follow=True)
    assert "réessayez dans quelques minutes" in response.content.decode()
    assert len(queued) == 1
    assert client.post(relaunch_url(application), {"kind": "nope"}).status_code == 404
    assert client.get(relaunch_url(application)).status_code == 405


def test_a_relaunch_without_workers_renders_at_once_and_a_done_one_is_refused(
    client, application, hospital_user, renders, django_capture_on_commit_callbacks
):
    dossier = seeded_pending(application)
    client.force_login(hospital_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(relaunch_url(application), {"kind": "dossier"}, follow=True)
    assert "est relancée" in response.content.decode()
    dossier.refresh_from_db()
    assert dossier.status == "done" and len(renders) == 1
    response = client.post(relaunch_url(application), {"kind": "dossier"}, follow=True)
    assert "déjà disponible" in response.content.decode() and len(renders) == 1


def test_a_relaunch_of_an_unscored_submission_queues_its_scoring(
    hospital, hospital_user, monkeypatch
):
    application = make_dossier_application(hospital, score=False)  # submitted 2 hours ago
    queued = []
    monkeypatch.setattr(dossiers, "in_process", lambda: False)
    monkeypatch.setattr(
        dossiers, "enqueue_on_commit", lambda name, *args: queued.append((name, args))
    )
    dossiers.dossier_relaunch(application=application, kind="dossier", by=hospital_user)
    assert queued == [("applications.score_application_task", (application.pk,))]
