"""Small helpers shared by the demo seeds (directory, Volet 1, applications)."""

import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# The French texts of the demo data: names, calls, the words of the applications.
TEXTS: dict[str, Any] = tomllib.loads(Path(__file__).with_name("texts.toml").read_text("utf-8"))

# Lookups by key go in chunks below SQLite's historical limit of 999 query parameters.
LOOKUP_CHUNK = 900

# Little words left out of the names that demo domains and e-mail addresses are made of.
STOP_WORDS = frozenset({"de", "du", "des", "la", "le", "les", "d", "l", "et", "en", "sur"})


class Writer(Protocol):
    """Where progress goes: a file, or a management command's stdout."""

    def write(self, msg: str, /) -> Any: ...


def chunks(values: Sequence[T], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def rows_in(query: Any, key: str, values: Sequence[Any]) -> Iterator[Any]:
    """The rows of a query whose `key` is in `values`, looked up in chunks."""
    for chunk in chunks(values):
        yield from query.filter(**{f"{key}__in": chunk})


def count(value: int) -> str:
    """12 345 with a narrow no-break space, as French writes it."""
    return f"{value:,}".replace(",", "\u202f")


def share(part: int, total: int) -> str:
    """A percentage with one decimal and a decimal comma: 84,5."""
    return f"{100 * part / (total or 1):.1f}".replace(".", ",")
