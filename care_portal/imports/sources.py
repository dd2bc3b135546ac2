"""Import files read as a stream of records, in bounded memory.

A source yields `Record`s: (line, values by column name or None, problems). `line` is
the physical line of a CSV row (the header is line 1) or the 1-based index of a JSON
element; `values` is None when the record cannot be read at all, and `problems` then
says why (or lists what is wrong besides the values, e.g. an unknown JSON key). A
problem with the file as a whole (encoding, header, JSON syntax) raises
ImportFileError: what was read before it stays reported.

JSON is read as UTF-8 only (RFC 8259); CSV in UTF-8, Windows-1252 or Latin-1
(lines.sniff).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, Protocol

from django.core.files.base import File
from django.utils.translation import gettext as _

from care_portal.errors import ImportFileError

from .columns import Column, resolve_header
from .lines import NumberedLines, sniff

Record = tuple[int, dict[str, str] | None, list[str]]

# A JSON element (one audit or scan) longer than this is not one of ours.
MAX_JSON_ITEM_CHARS = 1_000_000
READ_CHARS = 64 * 1024
_WHITESPACE = " \t\r\n"


def max_size_message(limit: int) -> str:
    return _("Le fichier dépasse la taille maximale autorisée (%(max)s Mo).") % {
        "max": f"{limit / (1024 * 1024):g}"
    }


def seekable(upload: IO[bytes] | File, limit: int) -> tuple[IO[bytes], int, bool]:
    """The upload as a seekable binary file, its size, and whether that file is a copy
    (of a stream that cannot seek) for the caller to close; refused beyond `limit`."""
    source: Any = upload
    # Django's uploaded files proxy a real binary file; read that one.
    raw: Any = source.file if isinstance(source, File) and source.file is not None else source
    if getattr(raw, "seekable", lambda: False)():
        raw.seek(0, io.SEEK_END)
        size = raw.tell()
        raw.seek(0)
        if size > limit:
            raise ImportFileError(max_size_message(limit))
        return raw, size, False
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=5 * 1024 * 1024)  # noqa: SIM115
    size = 0
    while chunk := raw.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            spool.close()
            raise ImportFileError(max_size_message(limit))
        spool.write(chunk)
    spool.seek(0)
    return spool, size, True


class Source(Protocol):
    """What an import reads records from (CSV, JSON, or an app's own format)."""

    rows_total: int | None

    def records(self) -> Iterator[Record]: ...

    def location(self, line: int) -> str:
        """Where a record is, in words: "ligne 12", "élément 3", "fichier x.xml"."""
        ...

    def fraction_done(self) -> float:
        """How much of the file has been read, from 0 to 1 (for the progress bar)."""
        ...


class FileSource:
    """A source read from a seekable binary file: its progress is the position."""

    rows_total: int | None = None

    def __init__(self, raw: IO[bytes], columns: Sequence[Column]) -> None:
        self.raw = raw
        self.columns = columns
        position = raw.tell()
        raw.seek(0, io.SEEK_END)
        self.size = raw.tell()
        raw.seek(position)

    def fraction_done(self) -> float:
        return min(1.0, self.raw.tell() / self.size) if self.size else 1.0


class CSVSource(FileSource):
    """A CSV file: a header line, then one record per line, `;`, `,` or tab separated.
    `records()` may be called again to read the file once more. `on_header` gets the
    column names the header holds (aliases resolved), for an app's own header rules."""

    def __init__(
        self,
        raw: IO[bytes],
        columns: Sequence[Column],
        *,
        on_header: Callable[[list[str]], None] | None = None,
    ) -> None:
        super().__init__(raw, columns)
        self.on_header = on_header
        sniffed = sniff(raw)
        self.encoding = sniffed.encoding
        self.rows_total: int | None = sniffed.lines - 1 if self.size else 0
        self.delimiter = ";"
        self.header: list[str] = []

    def location(self, line: int) -> str:
        return _("ligne %(line)d") % {"line": line}

    def records(self) -> Iterator[Record]:
        self.raw.seek(0)
        lines = NumberedLines(self.raw, self.encoding)
        try:
            self.delimiter, names = lines.read_header()
            self.header = header = resolve_header(names, self.columns)
            if self.on_header:
                self.on_header(header)
            width = len(header)
            for start, values, problem in csv_rows(lines, self.delimiter):
                if values is None:
                    yield start, None, [problem]
                    continue
                if len(values) != width:
                    yield (
                        start,
                        None,
                        [
                            _(
                                "la ligne compte %(given)d champs au lieu de %(expected)d "
                                "(séparateur « %(delimiter)s »)"
                            )
                            % {
                                "given": len(values),
                                "expected": width,
                                "delimiter": self.delimiter,
                            }
                        ],
                    )
                    continue
                yield start, dict(zip(header, values, strict=True)), []
        finally:
            lines.close()


def csv_rows(lines: NumberedLines, delimiter: str) -> Iterator[tuple[int, list[str] | None, str]]:
    """(line number, values, problem) of each CSV row of `lines` that holds something:
    blank lines and the ";;;;" rows spreadsheets leave are skipped; an unreadable row
    comes with no values and the reason."""
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        start = lines.number + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, None, _("ligne illisible (%(error)s)") % {"error": exc}
            continue
        if any(value.strip() for value in values):
            yield start, values, ""


def _json_text(value: Any) -> str | None:
    """A JSON value as the text a CSV cell would hold; None for an object or array."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, str):
        return value
    return None


def _printable(text: str) -> str:
    """A key as an error message may quote it: PostgreSQL stores no NUL character."""
    return text.replace("\x00", "\\u0000")


class _JSONStream:
    """Incremental reading of JSON text: values are decoded one at a time from a
    bounded buffer, so that an array of any length is never held whole."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text
        self.buffer = ""
        self.position = 0
        self.eof = False
        self.lines_before = 0  # newlines in the text already dropped from the buffer
        # Integers stay text, as in a CSV cell: the row parser checks their size before
        # int(), which refuses more than 4,300 digits (a ValueError, not a JSON error).
        self.decoder = json.JSONDecoder(parse_int=str)

    def _more(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.text.read(READ_CHARS)
        except UnicodeDecodeError:
            raise ImportFileError(
                _("Le fichier n'est pas encodé en UTF-8 : enregistrez-le en UTF-8.")
            ) from None
        if not chunk:
            self.eof = True
            return False
        if self.position:
            self.lines_before += self.buffer.count("\n", 0, self.position)
            self.buffer = self.buffer[self.position :]
            self.position = 0
        self.buffer += chunk
        return True

    def fail(self, message: str, at: int | None = None) -> ImportFileError:
        at = self.position if at is None else at
        line = self.lines_before + self.buffer.count("\n", 0, at) + 1
        column = at - self.buffer.rfind("\n", 0, at)
        return ImportFileError(
            _("JSON mal formé (ligne %(line)d, colonne %(column)d) : %(message)s")
            % {"line": line, "column": column, "message": message}
        )

    def peek(self) -> str:
        """The next significant character, not consumed; "" at the end of the text."""
        while True:
            buffer, position = self.buffer, self.position
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            self.position = position
            if position < len(buffer):
                return buffer[position]
            if not self._more():
                return ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.fail(_("« %(char)s » attendu") % {"char": char})
        self.position += 1

    def value(self) -> Any:
        if not self.peek():
            raise self.fail(_("fin du fichier inattendue"))
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.position)
            except json.JSONDecodeError as exc:
                if self._can_read_more():
                    continue
                raise self.fail(exc.msg, exc.pos) from None
            # A number or literal that ends the buffer may go on in the next read.
            if end == len(self.buffer) and self._can_read_more():
                continue
            self.position = end
            return value

    def _can_read_more(self) -> bool:
        if len(self.buffer) - self.position > MAX_JSON_ITEM_CHARS:
            raise self.fail(
                _("un élément dépasse %(max)d caractères") % {"max": MAX_JSON_ITEM_CHARS}
            )
        return self._more()

    def closed(self, close: str) -> bool:
        """After an item of an array or an object: consumes "," (False: an item follows)
        or `close` (True: the end of the container); fails on anything else."""
        char = self.peek()
        if char == close:
            self.position += 1
            return True
        if char != ",":
            raise self.fail(
                _("« , » ou « ] » attendu") if close == "]" else _("« , » ou « } » attendu")
            )
        self.position += 1
        return False

    def array(self) -> Iterator[Any]:
        self.expect("[")
        if self.peek() == "]":
            self.position += 1
            return
        while True:
            yield self.value()
            if self.closed("]"):
                return


# Public name for the apps' own JSON layouts (the FINESS+ structures file).
JSONStream = _JSONStream


class JSONSource(FileSource):
    """A JSON file: an array of objects keyed like the CSV columns, or an object
    holding that array under `array_key` (other keys of the object are ignored)."""

    def __init__(self, raw: IO[bytes], columns: Sequence[Column], array_key: str) -> None:
        super().__init__(raw, columns)
        self.names = {column.name for column in columns}
        self.array_key = array_key

    def location(self, line: int) -> str:
        return _("élément %(index)d") % {"index": line}

    def records(self) -> Iterator[Record]:
        self.raw.seek(0)
        text = io.TextIOWrapper(self.raw, encoding="utf-8-sig", errors="strict")
        try:
            stream = _JSONStream(text)
            for index, item in enumerate(self._items(stream), start=1):
                yield self._record(index, item)
            if stream.peek():
                raise stream.fail(_("contenu inattendu après la fin des données"))
        finally:
            text.detach()

    def _items(self, stream: _JSONStream) -> Iterator[Any]:
        first = stream.peek()
        if first == "[":
            yield from stream.array()
            return
        if first != "{":
            if not first:
                raise ImportFileError(_("Le fichier est vide."))
            raise stream.fail(
                _('un tableau [ … ] ou un objet { "%(key)s": [ … ] } est attendu')
                % {"key": self.array_key}
            )
        stream.position += 1
        found = False
        if stream.peek() == "}":
            stream.position += 1
        else:
            while True:
                # A key is a string: with integers decoded as text, its first character
                # tells it from a number ("": value() says the file ended too soon).
                if stream.peek() not in ('"', ""):
                    raise stream.fail(_("nom de clé attendu"))
                key = stream.value()
                stream.expect(":")
                if key == self.array_key and not found:
                    found = True
                    if stream.peek() != "[":
                        raise stream.fail(
                            _("la valeur de « %(key)s » doit être un tableau")
                            % {"key": self.array_key}
                        )
                    yield from stream.array()
                else:
                    stream.value()  # other keys (a version, a source…) are ignored
                if stream.closed("}"):
                    break
        if not found:
            raise ImportFileError(
                _("Le fichier JSON n'a pas de clé « %(key)s » contenant la liste à importer.")
                % {"key": self.array_key}
            )

    def _record(self, index: int, item: Any) -> Record:
        if not isinstance(item, dict):
            return index, None, [_("l'élément n'est pas un objet JSON { … }")]
        values: dict[str, str] = {}
        problems: list[str] = []
        unknown = [key for key in item if key not in self.names]
        if unknown:
            problems.append(
                _("clé inconnue : %(keys)s")
                % {"keys": ", ".join(_printable(key) for key in unknown[:10])}
            )
        for key, value in item.items():
            if key in self.names:
                text = _json_text(value)
                if text is None:
                    problems.append(
                        _("%(key)s : un nombre, un texte ou un booléen est attendu") % {"key": key}
                    )
                else:
                    values[key] = text
        return index, values, problems
