"""The embedded default (SQLite) takes parallel writers without "database is locked"."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Eight processes each write 30 rows in short transactions into one SQLite file with the
# dev settings' connection options, as parallel uploads do on `make run`.
SCRIPT = textwrap.dedent(
    """
    import os, sys
    import django
    django.setup()
    from django.db import connection, transaction
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS probe (n INTEGER)")
    for i in range(30):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM probe")
                cursor.execute("INSERT INTO probe (n) VALUES (%s)", [i])
    print("ok")
    """
)


def test_parallel_writers_wait_for_the_lock_instead_of_failing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="care_portal.settings.dev",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONPATH=str(ROOT),
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [err for _out, err in outputs]
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
            "print(c.execute('select count(*) from probe').fetchone()[0], "
            "c.execute('pragma journal_mode').fetchone()[0])",
            str(tmp_path / "db.sqlite3"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as check:
        count, mode = check.communicate(timeout=30)[0].split()
    assert int(count) == 8 * 30
    assert mode == "wal"
