"""Writing in chunks: bounded memory and a bounded number of queries per chunk.

`chunks` cuts any stream of parsed rows; `upsert` writes one chunk of one model by
its unique key in three queries at most (one read, one bulk insert of the new rows,
one bulk update of the changed rows only), so that a re-import of the same file
writes nothing and leaves `updated_at` where it was.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from django.db import models

from .report import Counts

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


def upsert(
    model: type[models.Model],
    key: str,
    values_by_key: Mapping[Any, dict[str, Any]],
    *,
    now: datetime,
    counts: Counts,
    touched: Collection[int] = (),
) -> dict[Any, int]:
    """Create or update the rows of `model` whose unique field `key` has these values;
    return key -> id. `touched`: ids already changed by an earlier statement of the
    import, counted as updated even when nothing else changes."""
    manager = model._default_manager
    existing = {
        getattr(obj, key): obj for obj in manager.filter(**{f"{key}__in": list(values_by_key)})
    }
    ids: dict[Any, int] = {}
    to_create: list[Any] = []
    to_update: list[Any] = []
    changed_fields: set[str] = set()
    for value, values in values_by_key.items():
        obj = existing.get(value)
        if obj is None:
            to_create.append(model(**{key: value}, **values))
            continue
        ids[value] = obj.pk
        if changed := assign_changes(obj, values):
            obj.updated_at = now  # type: ignore[attr-defined]
            to_update.append(obj)
            changed_fields.update(changed)
        elif obj.pk in touched:
            counts.updated += 1
        else:
            counts.unchanged += 1
    bulk_create_with_ids(model, to_create, key)
    ids.update({getattr(obj, key): obj.pk for obj in to_create})
    if to_update:
        manager.bulk_update(to_update, update_fields(model, changed_fields))
    counts.created += len(to_create)
    counts.updated += len(to_update)
    return ids
