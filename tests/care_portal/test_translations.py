"""Every string a user reads is French with an English translation."""

import os
import re
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def test_every_french_string_has_an_english_translation():
    catalogue = polib.pofile(str(ROOT / "locale/en/LC_MESSAGES/django.po"))
    entries = [e for e in catalogue if not e.obsolete]
    assert len(entries) > 500
    untranslated = [e.msgid for e in entries if not e.translated()]
    assert not untranslated, untranslated[:10]
    for entry in entries:
        if entry.msgid_plural:
            pairs = [
                (entry.msgid, entry.msgstr_plural[0]),
                (entry.msgid_plural, entry.msgstr_plural[1]),
            ]
        else:
            pairs = [(entry.msgid, entry.msgstr)]
        for source, text in pairs:
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), source


def test_the_compiled_catalogue_is_up_to_date():
    po = ROOT / "locale/en/LC_MESSAGES/django.po"
    mo = ROOT / "locale/en/LC_MESSAGES/django.mo"
    compiled = {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(mo)) if not e.msgid_plural}
    for entry in polib.pofile(str(po)):
        if entry.obsolete or entry.msgid_plural or not entry.msgid:
            continue
        assert compiled.get((entry.msgctxt, entry.msgid)) == entry.msgstr, entry.msgid


def test_the_catalogue_holds_every_string_of_the_source(tmp_path, settings):
    """makemessages on a copy of the project finds no string missing from the catalogue."""
    import shutil
    import subprocess
    import sys

    if shutil.which("xgettext") is None:
        if settings.CARE_REQUIRE_SERVICES:
            pytest.fail("xgettext (Debian package gettext) is required")
        pytest.skip("xgettext is not installed (apt-get install gettext)")
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "media", ".test-media", "staticfiles", "node_modules", "*.pyc"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "en",
            "--ignore=.venv",
            "--ignore=tests",
            "--ignore=bench",
            "--ignore=examples",
            "--ignore=staticfiles",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "care_portal.settings.dev"},
    )

    def msgids(path: Path) -> set[tuple[str | None, str]]:
        return {(e.msgctxt, e.msgid) for e in polib.pofile(str(path)) if not e.obsolete}

    catalogue = "locale/en/LC_MESSAGES/django.po"
    missing = msgids(copy / catalogue) - msgids(ROOT / catalogue)
    assert not missing, sorted(m for _c, m in missing)[:10]
