"""`manage.py import_audits`, the admin upload and batch pages, the claim that runs a
batch once, the live progress, and the admin of audits and scans."""

import io
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone

from audits import importers, services
from audits.importers import batch_progress, progress
from audits.models import AuditImport, DirectoryAudit, ExposureScan, Volet1Level, Volet1Status
from audits.services import audit_import_create, audit_import_run
from audits.tasks import audit_import_task
from tests.factories import UserFactory

from .conftest import csv_bytes
from .test_import_csv_json import EXPOSURE_HEADER, UNKNOWN_FINESS, scan
from .test_import_pingcastle import report

EXAMPLES = Path(settings.BASE_DIR) / "examples" / "audits"


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_audits", *[str(a) for a in args], stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


# The command (eager tasks: it runs the import when the batch is committed) ---------------------


@pytest.mark.django_db(transaction=True)
def test_command_imports_a_good_file_and_prints_a_summary(hospital, tmp_path):
    path = write(
        tmp_path,
        "scans.csv",
        csv_bytes(
            EXPOSURE_HEADER,
            [scan(hospital.finess, "2025-01-13"), scan(hospital.finess, "2025-03-03")],
        ),
    )

    code, out, _err = run_command(path, "--kind", "exposure")

    assert code == 0
    assert "scans.csv : 2 ligne(s) lue(s) ; 2 créée(s), 0 modifiée(s), 0 inchangée(s)." in out
    batch = AuditImport.objects.get()
    assert (batch.status, batch.created_by) == (AuditImport.Status.SUCCEEDED, None)
    assert Volet1Status.objects.get(legal_entity=hospital).level == Volet1Level.EXPOSURE_MET


@pytest.mark.django_db(transaction=True)
def test_command_prints_one_line_per_bad_row_and_exits_1(hospital, tmp_path):
    rows = [
        scan(hospital.finess, "2025-01-13"),
        scan(UNKNOWN_FINESS, "2025-01-14"),
        scan(hospital.finess, "2025-01-15"),
        scan(hospital.finess, "2025-01-16", vulns_critiques="-4"),
    ]
    path = write(tmp_path, "scans.csv", csv_bytes(EXPOSURE_HEADER, rows))

    code, _out, err = run_command(path, "--kind", "exposure")

    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith("ligne 3 : finess_ej : le FINESS")
    assert lines[1].startswith("ligne 5 : vulns_critiques : nombre négatif")
    assert "2 lignes en erreur : rien n'a été importé" in lines[2]
    assert ExposureScan.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_command_imports_a_pingcastle_report_for_the_finess_given(hospital, tmp_path):
    path = write(tmp_path, "ad_hc_ch-exemple.local.xml", report())

    code, out, _err = run_command(path, "--kind", "ad", "--finess", hospital.finess)

    assert code == 0, out
    assert DirectoryAudit.objects.get().legal_entity == hospital


@pytest.mark.django_db(transaction=True)
def test_command_names_the_bad_member_of_a_zip(hospital, tmp_path):
    path = tmp_path / "r.zip"
    from .conftest import zip_bytes

    path.write_bytes(zip_bytes({"ok.xml": report(), "../evil.xml": report()}))

    code, _out, err = run_command(path, "--kind", "ad", "--finess", hospital.finess)

    assert code == 1
    assert "fichier ../evil.xml : chemin refusé" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["absent.csv", "--kind", "exposure"], "Fichier introuvable"),
        (["scans.csv", "--kind", "vulns"], "Type inconnu « vulns »"),
        (["r.xml", "--kind", "ad"], "donnez le FINESS de l'entité juridique auditée avec --finess"),
        (["r.xml", "--kind", "ad", "--finess", UNKNOWN_FINESS], "aucune entité juridique"),
        (["r.xml", "--kind", "ad", "--finess", "690000000"], "clé de contrôle"),
        (["r.xml", "--kind", "exposure", "--finess", "HOSPITAL"], "type ad, pas exposure"),
        (["scans.csv", "--kind", "exposure", "--finess", "HOSPITAL"], "ne se choisit que pour"),
    ],
)
def test_command_refuses_bad_arguments_in_french(hospital, tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "scans.csv", csv_bytes(EXPOSURE_HEADER, [scan(hospital.finess, "2025-01-13")]))
    write(tmp_path, "r.xml", report())
    args = [hospital.finess if a == "HOSPITAL" else a for a in args]

    code, _out, err = run_command(*args)

    assert code == 1
    assert expected in err
    assert not AuditImport.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_command_reports_a_batch_whose_task_failed_unexpectedly(hospital, tmp_path):
    path = write(
        tmp_path, "scans.csv", csv_bytes(EXPOSURE_HEADER, [scan(hospital.finess, "2025-01-13")])
    )

    # The task is queued with on_commit(robust=True): its exception is logged, and the
    # batch it marked failed says what happened.
    with mock.patch.object(services, "_refresh_statuses", side_effect=RuntimeError("boom")):
        code, _out, err = run_command(path, "--kind", "exposure")

    assert code == 1
    assert "Erreur inattendue pendant l'import (RuntimeError)" in err
    assert AuditImport.objects.get().status == AuditImport.Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_command_raises_a_failed_commit_as_it_is(hospital, tmp_path):
    path = write(
        tmp_path, "scans.csv", csv_bytes(EXPOSURE_HEADER, [scan(hospital.finess, "2025-01-13")])
    )

    # E.g. PostgreSQL checking a deferred foreign key at COMMIT: the batch is gone.
    with (
        mock.patch.object(connection, "commit", side_effect=OperationalError("commit failed")),
        pytest.raises(OperationalError, match="commit failed"),
    ):
        run_command(path, "--kind", "exposure")

    assert not AuditImport.objects.exists()


def test_command_with_a_worker_says_the_batch_id(
    hospital, tmp_path, django_capture_on_commit_callbacks
):
    path = write(
        tmp_path, "scans.csv", csv_bytes(EXPOSURE_HEADER, [scan(hospital.finess, "2025-01-13")])
    )

    # The batch goes to the broker (here: a recorded delay) and no worker has run yet.
    with (
        mock.patch.object(audit_import_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        code, out, _err = run_command(path, "--kind", "exposure")

    batch = AuditImport.objects.get()
    assert code == 0
    assert f"Import {batch.public_id} créé (scans.csv) : un worker va le traiter" in out
    assert batch.status == AuditImport.Status.PENDING
    assert ExposureScan.objects.count() == 0
    delay.assert_called_once_with(batch.pk)


@pytest.mark.django_db(transaction=True)
def test_examples_import_cleanly_with_the_command(tmp_path):
    from establishments.models import Department, LegalEntity

    # The FINESS numbers the examples use, from the demo data (seed_demo).
    finess = {
        "420005118",
        "690005020",
        "010005023",
        "330006149",
        "820005064",
        "430005058",
        "740005285",
    }
    department = Department.objects.get(code="69")
    LegalEntity.objects.bulk_create(
        LegalEntity(
            finess=number, name=f"Entité {number}", department=department, status_group="public"
        )
        for number in finess
    )
    commands = [
        ("ad.csv", "ad", []),
        ("ad.json", "ad", []),
        ("exposure.csv", "exposure", []),
        ("exposure.json", "exposure", []),
        ("pingcastle-healthcheck.xml", "ad", ["--finess", "420005118"]),
        ("pingcastle-reports.zip", "ad", ["--finess", "420005118"]),
    ]
    for name, kind, extra in commands:
        code, out, err = run_command(EXAMPLES / name, "--kind", kind, *extra)
        assert code == 0, (name, err)
    assert DirectoryAudit.objects.count() == 11
    assert ExposureScan.objects.count() == 10
    for name, kind, extra in commands:  # a second time: nothing changes
        _code, out, _err = run_command(EXAMPLES / name, "--kind", kind, *extra)
        assert "0 créée(s), 0 modifiée(s)" in out


# Claiming a batch ---------------------------------------------------------------------------


def pending_batch(hospital):
    content = csv_bytes(EXPOSURE_HEADER, [scan(hospital.finess, "2025-01-13")])
    return audit_import_create(kind="exposure", uploaded_file=io.BytesIO(content), filename="s.csv")


def test_running_a_batch_twice_processes_it_once(hospital):
    batch = pending_batch(hospital)
    with mock.patch.object(
        importers, "import_batch_file", wraps=importers.import_batch_file
    ) as spy:
        first = audit_import_run(batch=batch)
        second = audit_import_run(batch=AuditImport.objects.get(pk=batch.pk))

    assert spy.call_count == 1
    assert first.status == second.status == AuditImport.Status.SUCCEEDED
    assert second.created_count == 1
    assert ExposureScan.objects.count() == 1


def test_a_batch_running_elsewhere_is_left_alone_until_it_is_abandoned(hospital, settings):
    batch = pending_batch(hospital)
    started = timezone.now() - timedelta(seconds=60)
    AuditImport.objects.filter(pk=batch.pk).update(status="running", started_at=started)

    assert audit_import_run(batch=batch).status == AuditImport.Status.RUNNING
    assert ExposureScan.objects.count() == 0

    # Its worker died an hour ago: its transaction is gone, a re-delivery takes over.
    settings.CELERY_TASK_TIME_LIMIT = 30
    assert audit_import_run(batch=batch).status == AuditImport.Status.SUCCEEDED
    assert ExposureScan.objects.count() == 1


def test_task_runs_the_service_and_ignores_a_deleted_batch(hospital):
    batch = pending_batch(hospital)

    audit_import_task(batch.pk)
    audit_import_task(batch.pk + 1000)

    batch.refresh_from_db()
    assert batch.status == AuditImport.Status.SUCCEEDED
    assert audit_import_task.acks_late is True


def test_an_unexpected_error_fails_the_batch_and_is_raised(hospital):
    batch = pending_batch(hospital)

    with (
        mock.patch.object(services, "_refresh_statuses", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        audit_import_run(batch=batch)

    batch.refresh_from_db()
    assert batch.status == AuditImport.Status.FAILED
    assert "Erreur inattendue pendant l'import (RuntimeError)" in batch.message
    assert batch.finished_at is not None
    assert ExposureScan.objects.count() == 0


def test_statuses_are_refreshed_at_most_200_entities_at_a_time(db):
    from establishments.models import LegalEntity

    from ..factories import LegalEntityFactory

    LegalEntityFactory.create_batch(201)
    ids = list(LegalEntity.objects.values_list("pk", flat=True))
    with mock.patch.object(services, "volet1_statuses", wraps=services.volet1_statuses) as statuses:
        changed = services.volet1_status_refresh(legal_entity_ids=ids)

    assert changed == 201
    assert [len(call.args[0]) for call in statuses.call_args_list] == [200, 1]
    assert Volet1Status.objects.count() == 201


# Progress --------------------------------------------------------------------------------------


def test_progress_comes_from_the_cache_while_running_and_from_the_row_after(hospital):
    batch = pending_batch(hospital)
    assert batch_progress(batch)["phase"] == progress.Phase.PENDING

    AuditImport.objects.filter(pk=batch.pk).update(status="running")
    batch.refresh_from_db()
    progress.publish(
        batch.pk, phase="reading", rows_processed=40, rows_total=100, percent=40, error_count=2
    )
    live = batch_progress(batch)
    assert (live["rows_processed"], live["percent"], live["error_count"]) == (40, 40, 2)
    assert live["finished"] is False
    assert live["phase_label"] == "Lecture, vérification et écriture"

    batch.status = "pending"
    batch.save()
    done = audit_import_run(batch=batch)
    assert cache.get(progress.progress_key(batch.pk)) is None
    final = batch_progress(done)
    assert (final["status"], final["percent"], final["finished"]) == ("succeeded", 100, True)


def test_progress_is_published_chunk_by_chunk(hospital, monkeypatch):
    from audits.importers import writer

    monkeypatch.setattr(writer, "CHUNK_SIZE", 2)
    rows = [scan(hospital.finess, f"2025-01-{day:02d}") for day in range(1, 6)]
    content = csv_bytes(EXPOSURE_HEADER, rows)
    batch = audit_import_create(
        kind="exposure", uploaded_file=io.BytesIO(content), filename="s.csv"
    )
    published = []
    with mock.patch.object(progress, "publish", side_effect=lambda *a, **k: published.append(k)):
        audit_import_run(batch=batch)

    assert [p["rows_processed"] for p in published] == [0, 2, 4, 5, 5]
    assert published[2]["rows_total"] == 5
    assert published[-1]["phase"] == progress.Phase.STATUSES


# The admin ---------------------------------------------------------------------------------------


def upload(client, name, content, **data):
    return client.post(
        reverse("admin:audits_auditimport_add"),
        {"kind": "exposure", "file": SimpleUploadedFile(name, content), **data},
    )


def test_ministry_uploads_a_file_and_follows_its_batch(
    client, ministry_user, hospital, django_capture_on_commit_callbacks
):
    client.force_login(ministry_user)
    content = csv_bytes(
        EXPOSURE_HEADER, [scan(hospital.finess, "2025-01-13"), scan(hospital.finess, "2025-03-03")]
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "scans.csv", content)

    batch = AuditImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:audits_auditimport_change", args=[batch.pk])
    assert batch.created_by == ministry_user
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "Terminé" in html
    assert '<progress id="import-progress-bar" max="100" value="100">' in html
    assert 'http-equiv="refresh"' not in html
    assert '<table id="import-counts">' in html
    assert "<td>2</td>" in html
    assert hospital.volet1.level == Volet1Level.EXPOSURE_MET


def test_batch_page_lists_the_errors_of_a_failed_file(
    client, ministry_user, hospital, django_capture_on_commit_callbacks
):
    client.force_login(ministry_user)
    content = csv_bytes(
        EXPOSURE_HEADER, [scan(hospital.finess, "2025-01-13", niveau_minimal_atteint="?")]
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "scans.csv", content)

    html = client.get(response["Location"]).content.decode()
    assert "En erreur" in html
    assert '<table id="import-errors">' in html
    assert "<td>ligne 2</td>" in html
    assert "niveau_minimal_atteint : « ? » n&#x27;est pas une valeur reconnue" in html
    assert ExposureScan.objects.count() == 0


def test_batch_page_refreshes_itself_while_running(client, ministry_user, hospital):
    batch = pending_batch(hospital)
    AuditImport.objects.filter(pk=batch.pk).update(status="running")
    progress.publish(
        batch.pk, phase="reading", rows_processed=3, rows_total=10, percent=30, error_count=0
    )
    client.force_login(ministry_user)

    html = client.get(reverse("admin:audits_auditimport_change", args=[batch.pk])).content.decode()

    assert '<meta http-equiv="refresh" content="2">' in html
    assert '<progress id="import-progress-bar" max="100" value="30">' in html
    assert "3 sur 10 lignes lues" in html


def test_pingcastle_upload_needs_the_legal_entity(
    client, ministry_user, hospital, django_capture_on_commit_callbacks
):
    client.force_login(ministry_user)

    missing = upload(client, "r.xml", report(), kind="ad")
    assert missing.status_code == 200
    assert "Choisissez l&#x27;entité juridique auditée" in missing.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        done = upload(client, "r.xml", report(), kind="ad", legal_entity=hospital.pk)
    assert done.status_code == 302
    batch = AuditImport.objects.get()
    assert (batch.legal_entity, batch.status) == (hospital, AuditImport.Status.SUCCEEDED)
    assert DirectoryAudit.objects.get().legal_entity == hospital


def test_upload_page_refuses_an_oversized_file(client, ministry_user, settings):
    settings.AUDIT_IMPORT_MAX_FILE_SIZE = 10
    client.force_login(ministry_user)

    response = upload(client, "scans.csv", b"finess_ej;date_scan;niveau_minimal_atteint\n")

    assert response.status_code == 200
    assert "taille maximale autorisée" in response.content.decode()
    assert not AuditImport.objects.exists()


def test_upload_page_shows_the_form_and_the_columns(client, ministry_user):
    client.force_login(ministry_user)

    html = client.get(reverse("admin:audits_auditimport_add")).content.decode()

    assert 'enctype="multipart/form-data"' in html
    assert "niveau_minimal_atteint" in html and "score_comptes_privilegies" in html
    assert "admin/js/autocomplete.js" in html


@pytest.mark.parametrize("object_id", ["²", "999999", "x"])
def test_batch_page_of_an_id_that_names_no_batch_goes_back_to_the_index(
    client, ministry_user, object_id
):
    client.force_login(ministry_user)

    response = client.get(reverse("admin:audits_auditimport_change", args=[object_id]))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    page = client.get(response["Location"]).content.decode()
    assert "n’existe pas" in page


def test_establishment_user_is_sent_to_the_admin_login(client, hospital_user):
    client.force_login(hospital_user)

    for url in (
        reverse("admin:audits_auditimport_add"),
        reverse("admin:audits_auditimport_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_permission_cannot_upload(client, db):
    client.force_login(UserFactory(is_staff=True))

    assert client.get(reverse("admin:audits_auditimport_add")).status_code == 403


def test_admin_lists_load(client, ministry_user, hospital):
    DirectoryAudit.objects.create(
        legal_entity=hospital, audit_date=date(2025, 3, 1), tool="oradad", domain="ch.local"
    )
    ExposureScan.objects.create(
        legal_entity=hospital, scan_date=date(2025, 3, 1), minimum_level_met=True
    )
    pending_batch(hospital)
    client.force_login(ministry_user)

    for name in ("directoryaudit", "exposurescan", "auditimport"):
        response = client.get(reverse(f"admin:audits_{name}_changelist"), {"q": hospital.finess})
        assert response.status_code == 200, name
    response = client.get(reverse("admin:audits_exposurescan_changelist"), {"q": hospital.finess})
    assert hospital.finess in response.content.decode()


def test_audit_added_in_the_admin_refreshes_the_volet1_status(client, ministry_user, hospital):
    client.force_login(ministry_user)

    response = client.post(
        reverse("admin:audits_directoryaudit_add"),
        {
            "legal_entity": hospital.pk,
            "audit_date": "2025-03-01",
            "tool": "oradad",
            "domain": "ch.local",
            "findings_critical": 0,
            "findings_high": 0,
            "findings_medium": 0,
            "findings_low": 0,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Volet1Status.objects.get(legal_entity=hospital).level == Volet1Level.AD_DONE


def test_scans_deleted_in_the_admin_refresh_the_volet1_status(client, hospital, db):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    for day in (date(2025, 1, 1), date(2025, 2, 20)):
        ExposureScan.objects.create(legal_entity=hospital, scan_date=day, minimum_level_met=True)
    services.volet1_status_refresh(legal_entity_ids=[hospital.pk])
    assert hospital.volet1.level == Volet1Level.EXPOSURE_MET
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:audits_exposurescan_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": list(ExposureScan.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
    )

    assert response.status_code == 302
    hospital.volet1.refresh_from_db()
    assert hospital.volet1.level == Volet1Level.NONE


def test_sweeper_requeues_batches_left_pending_or_abandoned(db):
    from datetime import timedelta

    from django.utils import timezone

    from audits.models import AuditImport
    from audits.services import audit_imports_needing_work

    def batch(**fields):
        return AuditImport.objects.create(
            kind="exposure",
            file_format="csv",
            file="audit-imports/x.csv",
            original_filename="x.csv",
            **fields,
        )

    lost = batch(status="pending")
    fresh = batch(status="pending")
    dead = batch(status="running", started_at=timezone.now() - timedelta(hours=2))
    live = batch(status="running", started_at=timezone.now())
    done = batch(status="succeeded")
    AuditImport.objects.filter(pk__in=[lost.pk, dead.pk, live.pk, done.pk]).update(
        created_at=timezone.now() - timedelta(hours=3)
    )
    assert set(audit_imports_needing_work()) == {lost.pk, dead.pk}
    assert fresh.pk not in audit_imports_needing_work()


def test_volet1_statuses_are_listed_read_only_in_the_admin(client, ministry_user, hospital):
    from audits.services import volet1_status_refresh

    volet1_status_refresh(legal_entity_ids=[hospital.id])
    client.force_login(ministry_user)
    page = client.get("/admin/audits/volet1status/", {"q": hospital.name})
    assert page.status_code == 200
    assert hospital.name in page.content.decode()
    assert client.get("/admin/audits/volet1status/add/").status_code == 403
