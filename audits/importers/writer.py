"""Writes checked records chunk by chunk, inside the caller's transaction.

Each chunk of CHUNK_SIZE records costs a bounded number of queries, whatever the
file's length: one SELECT of the chunk's FINESS numbers not met before, one INSERT
of its natural keys into a temporary table (duplicates inside the file are the keys
already there: a second SELECT only when there are some), one SELECT of the rows
that exist by natural key, one bulk INSERT of the new rows and one bulk UPDATE of the
rows whose values differ. Nothing else is kept per record, so memory does not grow
with the file; the temporary table holds the keys seen so far, in the database.

After the first error nothing more is written (the caller rolls back), but every
record is still checked so that every bad line is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from types import TracebackType
from typing import Any

from django.db import connection, models
from django.utils import timezone
from django.utils.translation import gettext as _

from care_portal.imports.report import ImportReport as BaseReport
from establishments.models import LegalEntity

from ..models import AuditKind, DirectoryAudit, DirectoryAuditRule, ExposureScan
from .rows import ParsedRow

CHUNK_SIZE = 2000
KEYS_TABLE = "audits_import_keys_tmp"


@dataclass
class ImportReport(BaseReport):
    legal_entity_ids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Spec:
    model: type[models.Model]
    key_fields: tuple[str, ...]  # after legal_entity_id
    value_fields: tuple[str, ...]
    boolean_fields: frozenset[str]
    duplicate_message: str


def _specs() -> dict[str, _Spec]:
    return {
        AuditKind.DIRECTORY: _Spec(
            model=DirectoryAudit,
            key_fields=("tool", "domain", "audit_date"),
            value_fields=(
                "global_score",
                "stale_objects_score",
                "privileged_accounts_score",
                "trusts_score",
                "anomalies_score",
                "maturity_level",
                "findings_critical",
                "findings_high",
                "findings_medium",
                "findings_low",
                "engine_version",
                "maturity_from_rules",
                "rules_fingerprint",
            ),
            boolean_fields=frozenset({"maturity_from_rules"}),
            duplicate_message=_(
                "doublon : un audit de la même entité, du même outil et du même domaine à la "
                "même date figure déjà dans ce fichier (%(where)s)"
            ),
        ),
        AuditKind.EXPOSURE: _Spec(
            model=ExposureScan,
            key_fields=("scan_date",),
            value_fields=(
                "exposed_services",
                "vulns_critical",
                "vulns_high",
                "vulns_medium",
                "vulns_low",
                "minimum_level_met",
            ),
            boolean_fields=frozenset({"minimum_level_met"}),
            duplicate_message=_(
                "doublon : un scan de la même entité à la même date figure déjà dans ce "
                "fichier (%(where)s)"
            ),
        ),
    }


def _iso(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


class ChunkWriter:
    """Use as a context manager inside a transaction: `add()` each record, then
    `flush()` once at the end."""

    def __init__(
        self,
        *,
        kind: str,
        batch_id: int,
        report: ImportReport,
        location: Callable[[int], str],
        finess_label: str = "finess_ej",
        on_chunk: Callable[[], None] | None = None,
    ) -> None:
        self.spec = _specs()[kind]
        self.batch_id = batch_id
        self.report = report
        self.location = location
        self.finess_label = finess_label
        self.on_chunk = on_chunk
        self.chunk: list[ParsedRow] = []
        # FINESS -> id of the entities met so far: bounded by the directory's size.
        self.entity_ids: dict[str, int] = {}
        self.now = timezone.now()
        self.quote = connection.ops.quote_name
        self.table = self.quote(self.spec.model._meta.db_table)
        self.temp_prefix = "pg_temp." if connection.vendor == "postgresql" else "temp."

    # The temporary table of the file's natural keys ---------------------------------

    def __enter__(self) -> ChunkWriter:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.temp_prefix}{KEYS_TABLE}")
            # One text column "FINESS|tool|domain|date": the narrowest index to fill.
            cursor.execute(
                f"CREATE TEMPORARY TABLE {KEYS_TABLE} "
                "(natural_key varchar(300) PRIMARY KEY, line integer NOT NULL)"
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # On an exception the caller's rollback removes the table (it was created in
        # the same transaction); a failed PostgreSQL transaction refuses any statement.
        if exc_type is None:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.temp_prefix}{KEYS_TABLE}")

    # Records --------------------------------------------------------------------------

    def add(self, row: ParsedRow) -> None:
        self.chunk.append(row)
        if len(self.chunk) >= CHUNK_SIZE:
            self.flush()

    def flush(self) -> None:
        rows, self.chunk = self.chunk, []
        if rows:
            self._resolve_entities(rows)
            self._check_duplicates(rows)
            valid = []
            for row in rows:
                if row.problems:
                    self.report.add_error(
                        row.line, " ; ".join(row.problems), self.location(row.line)
                    )
                else:
                    valid.append(row)
            if self.report.ok:
                self._upsert(valid)
        if self.on_chunk:
            self.on_chunk()

    def _resolve_entities(self, rows: list[ParsedRow]) -> None:
        unknown = {row.finess for row in rows if row.finess and row.finess not in self.entity_ids}
        if unknown:
            self.entity_ids.update(
                LegalEntity.objects.filter(finess__in=unknown).values_list("finess", "id")
            )
        for row in rows:
            if not row.finess:
                continue
            entity_id = self.entity_ids.get(row.finess)
            if entity_id is None:
                row.problems.append(
                    _(
                        "%(column)s : le FINESS %(finess)s n'est pas dans l'annuaire des "
                        "établissements"
                    )
                    % {"column": self.finess_label, "finess": row.finess}
                )
                row.key = None  # an unknown entity's rows are not compared with each other
            row.legal_entity_id = entity_id

    def _check_duplicates(self, rows: list[ParsedRow]) -> None:
        first: dict[str, int] = {}
        firsts: list[tuple[str, int]] = []
        for row in rows:
            if row.key is None:
                continue
            key = "|".join(row.key)
            if key in first:
                row.problems.append(self._duplicate(first[key]))
            else:
                first[key] = row.line
                firsts.append((key, row.line))
        if not firsts:
            return
        with connection.cursor() as cursor:
            # Only placeholders and constant names are formatted into these statements.
            cursor.execute(
                f"INSERT INTO {KEYS_TABLE} (natural_key, line) "  # noqa: S608
                f"VALUES {', '.join(['(%s, %s)'] * len(firsts))} ON CONFLICT DO NOTHING",
                [part for pair in firsts for part in pair],
            )
            if cursor.rowcount == len(firsts):
                return
            # Some keys were in the table already: met in an earlier chunk.
            cursor.execute(
                f"SELECT natural_key, line FROM {KEYS_TABLE} "  # noqa: S608
                f"WHERE natural_key IN ({', '.join(['%s'] * len(firsts))})",
                [key for key, _line in firsts],
            )
            earlier = dict(cursor.fetchall())
        by_line = {row.line: row for row in rows}
        for key, line in firsts:
            if earlier.get(key, line) != line:
                by_line[line].problems.append(self._duplicate(earlier[key]))

    def _duplicate(self, line: int) -> str:
        return self.spec.duplicate_message % {"where": self.location(line)}

    # Writing --------------------------------------------------------------------------

    def _natural_key(self, row: ParsedRow) -> tuple[Any, ...]:
        values = row.values
        return (row.legal_entity_id, *(_iso(values[name]) for name in self.spec.key_fields))

    def _existing(self, rows: Iterable[ParsedRow]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """Natural key -> (id, values) of the rows already stored, in one query."""
        spec = self.spec
        keys = ["legal_entity_id", *spec.key_fields]
        adapt = connection.ops.adapt_datefield_value
        params: list[Any] = []
        count = 0
        for row in rows:
            count += 1
            params.append(row.legal_entity_id)
            for name in spec.key_fields:
                value = row.values[name]
                params.append(adapt(value) if isinstance(value, date) else value)
        if not count:
            return {}
        columns = ", ".join(self.quote(name) for name in ["id", *keys, *spec.value_fields])
        tuple_sql = "(" + ", ".join(["%s"] * len(keys)) + ")"
        # Quoted model column names and placeholders only: the values are parameters.
        sql = (
            f"SELECT {columns} FROM {self.table} "  # noqa: S608
            f"WHERE ({', '.join(self.quote(name) for name in keys)}) IN "
            f"(VALUES {', '.join([tuple_sql] * count)})"
        )
        found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        width = len(keys)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for record in cursor.fetchall():
                key = (record[1], *(_iso(value) for value in record[2 : 1 + width]))
                values = tuple(
                    bool(value) if name in spec.boolean_fields and value is not None else value
                    for name, value in zip(spec.value_fields, record[1 + width :], strict=True)
                )
                found[key] = (record[0], *values)
        return found

    def _upsert(self, rows: list[ParsedRow]) -> None:
        if not rows:
            return
        spec = self.spec
        model = spec.model
        existing = self._existing(rows)
        to_create: list[ParsedRow] = []
        to_update: list[Any] = []
        changed: list[ParsedRow] = []
        for row in rows:
            stored = existing.get(self._natural_key(row))
            if stored is None:
                to_create.append(row)
                changed.append(row)
            elif stored[1:] != tuple(row.values[name] for name in spec.value_fields):
                changed.append(row)
                to_update.append(
                    model(
                        pk=stored[0],
                        legal_entity_id=row.legal_entity_id,
                        import_batch_id=self.batch_id,
                        updated_at=self.now,
                        **row.values,
                    )
                )
            else:
                self.report.unchanged += 1
                continue
            assert row.legal_entity_id is not None
            self.report.legal_entity_ids.add(row.legal_entity_id)
        self._insert(to_create)
        if to_update:
            model._default_manager.bulk_update(
                to_update, [*spec.value_fields, "updated_at", "import_batch"]
            )
        self.report.created += len(to_create)
        self.report.updated += len(to_update)
        if model is DirectoryAudit:
            self._write_rules(changed, updated=bool(to_update))

    def _write_rules(self, rows: list[ParsedRow], *, updated: bool) -> None:
        """Replace the triggered rules of the audits written from these rows: a fixed
        number of queries per chunk (ids, delete, bulk insert), whatever the rules."""
        if not updated and not any(row.rules for row in rows):
            return
        ids = {key: stored[0] for key, stored in self._existing(rows).items()}
        if updated:
            DirectoryAuditRule.objects.filter(audit_id__in=list(ids.values())).delete()
        rules = [
            DirectoryAuditRule(
                audit_id=ids[self._natural_key(row)],
                risk_id=rule.risk_id,
                category=rule.category,
                model=rule.model,
                points=rule.points,
                rationale=rule.rationale,
                maturity_level=rule.maturity_level,
            )
            for row in rows
            for rule in row.rules or ()
        ]
        DirectoryAuditRule.objects.bulk_create(rules, batch_size=1000)

    def _insert(self, rows: list[ParsedRow]) -> None:
        """INSERT the new rows, many per statement, with the values the row parser
        already typed. `bulk_create` would first build a model instance per row and
        prepare each value through its field: more than the rest of the import costs,
        for values that need no preparation here (integers, booleans, None), but
        dates, which the backend adapts (`adapt_datefield_value`)."""
        if not rows:
            return
        spec = self.spec
        ops = connection.ops
        names = [*spec.key_fields, *spec.value_fields]
        fields = {field.name: field for field in spec.model._meta.concrete_fields}
        date_fields = {name for name in names if fields[name].get_internal_type() == "DateField"}
        stamp = ops.adapt_datetimefield_value(self.now)
        columns = [
            self.quote(fields[name].column)
            for name in ("legal_entity", *names, "import_batch", "created_at", "updated_at")
        ]
        per_row = len(columns)
        limit = connection.features.max_query_params
        batch_size = max(1, limit // per_row) if limit else len(rows)
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            params: list[Any] = []
            for row in batch:
                values = row.values
                params.append(row.legal_entity_id)
                for name in names:
                    value = values[name]
                    params.append(
                        ops.adapt_datefield_value(value) if name in date_fields else value
                    )
                params.extend((self.batch_id, stamp, stamp))
            placeholders = "(" + ", ".join(["%s"] * per_row) + ")"
            with connection.cursor() as cursor:
                # Quoted column names and placeholders only: the values are parameters.
                cursor.execute(
                    f"INSERT INTO {self.table} ({', '.join(columns)}) "  # noqa: S608
                    f"VALUES {', '.join([placeholders] * len(batch))}",
                    params,
                )
