"""Every string a user reads is French with an English translation (STYLE.md)."""

import re
from pathlib import Path

import polib

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
