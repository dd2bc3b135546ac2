"""The line reader both CSV imports (directory, Volet 1 results) share."""

import io

import pytest

from care_portal.errors import ImportFileError
from care_portal.imports.lines import NumberedLines, normalize_header


def read_all(data: bytes) -> list[str]:
    lines = NumberedLines(io.BytesIO(data))
    try:
        return list(lines)
    finally:
        lines.close()


def test_lines_are_read_and_numbered():
    lines = NumberedLines(io.BytesIO(b"a;b\r\nc;d\n"))

    assert lines.read_header() == (";", ["a", "b"])
    assert next(lines) == "c;d\n"
    assert lines.number == 2


def test_a_nul_character_is_a_file_error_naming_its_line():
    with pytest.raises(ImportFileError, match=r"La ligne 3 contient un caractère nul"):
        read_all(b"a;b\nc;d\ne;f\x00g\nh;i\n")


def test_a_utf16_file_is_refused_for_its_nul_characters():
    with pytest.raises(ImportFileError, match=r"caractère nul.*CSV UTF-8"):
        read_all("a;b\n".encode("utf-16-le"))


def test_header_names_ignore_case_accents_and_spaces():
    assert normalize_header(" Privé non-lucratif ") == "prive_non_lucratif"
