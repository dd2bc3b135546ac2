"""Small helpers shared by the demo seeds (directory, Volet 1, applications)."""

import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from django.db import models
from django.utils.text import slugify

T = TypeVar("T")

# The French texts of the demo data: names, calls, the words of the applications.
TEXTS: dict[str, Any] = tomllib.loads(Path(__file__).with_name("texts.toml").read_text("utf-8"))
STOP_WORDS = frozenset({"de", "du", "des", "la", "le", "les", "d", "l", "et", "en", "sur"})


def chunks(values: Sequence[T], size: int = 900) -> Iterator[Sequence[T]]:
    """Slices below SQLite's historical limit of 999 query parameters."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def rows_in(query: Any, key: str, values: Sequence[Any]) -> Iterator[Any]:
    """The rows of a query whose `key` is in `values`, looked up in chunks."""
    for chunk in chunks(values):
        yield from query.filter(**{f"{key}__in": chunk})


def words(name: str) -> list[str]:
    """The significant words of a name, as slugs: domain and e-mail names are made of them."""
    return [w for w in slugify(name.replace("'", " ").replace("’", " ")).split("-") if w]


def count(value: int) -> str:
    """12 345 with a narrow no-break space, as French writes it."""
    return f"{value:,}".replace(",", "\u202f")


def share(part: int, total: int) -> str:
    """A percentage with one decimal and a decimal comma: 84,5."""
    return f"{100 * part / (total or 1):.1f}".replace(".", ",")


def allocate(total: int, weights: Mapping[str, float], minimum: int = 0) -> dict[str, int]:
    """Split `total` over the keys by weight (largest remainder), each key getting at
    least `minimum` when the total allows it. Deterministic."""
    keys = sorted(weights)
    minimum = minimum if total >= minimum * len(keys) else 0
    quotas = {k: total * weights[k] / (sum(weights.values()) or 1.0) for k in keys}
    result = {k: max(minimum, int(quotas[k])) for k in keys}
    while (left := total - sum(result.values())) != 0:  # largest remainders first
        more = [k for k in keys if left > 0 or result[k] > minimum]
        key = (max if left > 0 else min)(more, key=lambda k: (quotas[k] - result[k], k))
        result[key] += 1 if left > 0 else -1
    return result


@contextmanager
def counting(created: Counter[Any], *model_classes: type[models.Model]) -> Iterator[None]:
    """Add to `created` the rows each model gained meanwhile."""
    before = [m._default_manager.count() for m in model_classes]
    yield
    for model, n in zip(model_classes, before, strict=True):
        created[model] += model._default_manager.count() - n
