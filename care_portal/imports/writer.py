"""Writing in chunks: bounded memory and a bounded number of queries per chunk.

`chunks` cuts any stream of parsed rows; `assign_changes` tells an unchanged object
from a changed one (only the changed ones are written, so a re-import of the same
file writes nothing and leaves `updated_at` where it was); `bulk_create_with_ids`
inserts and makes sure each object has its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from django.db import models

T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def assign_changes(obj: models.Model, values: dict[str, Any]) -> list[str]:
    """Set the attributes that differ; return their names (attnames)."""
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return changed


def update_fields(model: type[models.Model], attnames: Iterable[str]) -> list[str]:
    """The field names of these attnames, with updated_at, for bulk_update."""
    by_attname = {f.attname: f.name for f in model._meta.concrete_fields}
    return sorted({by_attname[name] for name in attnames} | {"updated_at"})


def bulk_create_with_ids(model: type[models.Model], objs: list[Any], key: str) -> None:
    if not objs:
        return
    model._default_manager.bulk_create(objs)
    if any(obj.pk is None for obj in objs):
        # Backends that do not return ids from a bulk insert: read them back.
        ids = dict(
            model._default_manager.filter(
                **{f"{key}__in": [getattr(o, key) for o in objs]}
            ).values_list(key, "pk")
        )
        for obj in objs:
            obj.pk = ids[getattr(obj, key)]
