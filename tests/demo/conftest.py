"""The demo seeded ONCE per test module at the size most demo tests use.

Seeding takes seconds: the module seeds in a transaction rolled back at its end, and
each test that asks for `seeded` runs in a savepoint of it, rolled back after the test,
so that what a test writes (a rerun, a deletion) never reaches the next one. Tests of
a module that do not ask for `seeded` must come before the first that does (they would
otherwise see the seeded rows)."""

from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from demo.directory import seed_demo
from establishments.models import Department, Region
from establishments.reference import load_territory

SIZE = 200


def run(*args: str) -> str:
    """`manage.py seed_demo` with these arguments: what it prints."""
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded_module(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple]:
    media: Path = tmp_path_factory.mktemp("demo-media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            load_territory(Region, Department)
            yield seed_demo(seed=2025, legal_entities=SIZE), media
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def seeded(seeded_module, settings, django_db_blocker):
    summary, media = seeded_module
    settings.MEDIA_ROOT = media
    with django_db_blocker.unblock(), transaction.atomic():
        yield summary
        transaction.set_rollback(True)
