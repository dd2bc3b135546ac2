"""Import of the establishment directory from a CSV file: one row per site (ET),
carrying its legal entity (EJ) and the GHT of that entity, in the spirit of the
FINESS open-data extract. Reading, columns, report and chunked writing are the
import core's (care_portal.imports); this module holds the directory's columns,
its row checks and its writer.

The file is read twice, row by row, and never held in memory:

1. validation: every row is checked on its own (identifiers, département, statut,
   integers) and against the other rows (a site twice, one legal entity described
   two ways, a GHT with two names or two supports). Only the per-file maps these
   checks need are kept (FINESS EJ -> its data, FINESS ET -> line, GHT code -> data).
2. writing, only when no row has an error, inside one transaction: GHTs by code,
   then, chunk by chunk, legal entities and sites by FINESS. Each chunk costs one
   read per kind, one `bulk_create` of the new rows and one `bulk_update` of the
   changed rows only, so a re-import of the same file writes nothing and leaves
   `updated_at` where it was.

The column specification below is data: the admin import page and
docs/import-establishments.md print it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from care_portal.errors import ImportFileError
from care_portal.imports.columns import MAX_INT, Column, parse_boolean, parse_integer
from care_portal.imports.lines import normalize_header
from care_portal.imports.report import MAX_STORED_ERRORS as MAX_STORED_ERRORS
from care_portal.imports.report import Counts
from care_portal.imports.report import ImportReport as BaseReport
from care_portal.imports.sources import CSVSource, seekable
from care_portal.imports.writer import chunks, upsert

from .identifiers import compact, finess_error, siren_error, siret_error
from .models import GHT, Department, LegalEntity, Site, StatusGroup

logger = logging.getLogger(__name__)

# Rows written per chunk: one read, one insert and one update per kind and chunk.
CHUNK_SIZE = 1000

# Required columns must be in the header and filled on every row; an optional column
# may be left out of the header, and then the value already in the directory is kept
# (the default applies on creation). Aliases: other French and English headers.
COLUMNS: tuple[Column, ...] = (
    Column(
        "finess_et",
        True,
        gettext_lazy(
            "Numéro FINESS de l'établissement (site, ET) : 9 caractères, clé comprise. "
            "Clé de l'import des sites ; une seule ligne par site."
        ),
        "690000017",
        aliases=("site_finess", "finess_site", "finess_etablissement"),
        width=9,
    ),
    Column(
        "nom_site",
        True,
        gettext_lazy("Nom de l'établissement (site)."),
        "Hôpital Nord",
        aliases=("site_name",),
    ),
    Column(
        "categorie_site",
        True,
        gettext_lazy(
            "Code de catégorie FINESS du site, 3 ou 4 chiffres (355 : centre hospitalier)."
        ),
        "355",
        aliases=("site_category",),
    ),
    Column(
        "departement_site",
        True,
        gettext_lazy("Code du département du site : 01, 2A, 971…"),
        "69",
        aliases=("site_department",),
        width=2,
    ),
    Column(
        "lits",
        False,
        gettext_lazy("Nombre de lits et places du site : entier positif ou nul, vide si inconnu."),
        "420",
        aliases=("beds", "nombre_de_lits"),
    ),
    Column(
        "siret", False, gettext_lazy("SIRET du site : 14 chiffres, vide si inconnu."), "", width=14
    ),
    Column(
        "finess_ej",
        True,
        gettext_lazy(
            "Numéro FINESS de l'entité juridique (EJ), clé de l'import des entités. Les "
            "données de l'entité sont répétées à l'identique sur chacun de ses sites."
        ),
        "690000009",
        aliases=("legal_entity_finess", "finess_entite_juridique"),
        width=9,
    ),
    Column(
        "nom_ej",
        True,
        gettext_lazy("Raison sociale de l'entité juridique."),
        "",
        aliases=("legal_entity_name", "raison_sociale"),
    ),
    Column("siren", False, gettext_lazy("SIREN de l'entité juridique : 9 chiffres."), "", width=9),
    Column(
        "statut",
        True,
        gettext_lazy(
            "Statut juridique de l'entité : public, prive_non_lucratif ou prive_lucratif."
        ),
        "public",
        aliases=("status", "statut_juridique"),
    ),
    Column(
        "categorie_ej",
        False,
        gettext_lazy("Code de catégorie FINESS de l'entité juridique, 3 ou 4 chiffres."),
        "",
        aliases=("legal_entity_category",),
    ),
    Column(
        "departement_ej",
        True,
        gettext_lazy("Code du département du siège de l'entité juridique."),
        "69",
        aliases=("legal_entity_department",),
        width=2,
    ),
    Column(
        "ght_code",
        False,
        gettext_lazy(
            "Code du GHT dont l'entité est membre ; vide si elle n'est membre d'aucun GHT."
        ),
        "",
    ),
    Column(
        "ght_nom",
        False,
        gettext_lazy(
            "Nom du GHT : obligatoire quand ght_code est renseigné, identique sur toutes les "
            "lignes du GHT."
        ),
        "",
        aliases=("ght_name",),
    ),
    Column(
        "ght_support",
        False,
        gettext_lazy(
            "oui (ou 1) si l'entité est l'établissement support de son GHT, un seul par GHT ; "
            "non, 0 ou vide sinon."
        ),
        "",
        aliases=("etablissement_support",),
    ),
    Column(
        "effectif",
        False,
        gettext_lazy(
            "Effectif SAE de l'entité (salariés et libéraux) : entier positif ou nul, vide si "
            "inconnu."
        ),
        "",
        aliases=("staff_count",),
    ),
    Column(
        "actif",
        False,
        gettext_lazy("oui ou non ; oui quand la valeur est vide."),
        "oui",
        aliases=("active",),
    ),
)

STATUS_VALUES: dict[str, str] = {
    "public": StatusGroup.PUBLIC,
    "prive_non_lucratif": StatusGroup.PRIVATE_NON_PROFIT,
    "prive_lucratif": StatusGroup.PRIVATE_FOR_PROFIT,
}
_CATEGORY = re.compile(r"^\d{3,4}$")


# Lines listed per group of set-aside lines (all of them are counted).
MAX_LINES_SHOWN = 20


@dataclass
class LineGroup:
    """Lines set aside for one reason (or one unknown code): counted, the first listed."""

    label: str
    count: int = 0
    lines: list[int] = field(default_factory=list)

    def add(self, line: int) -> None:
        self.count += 1
        if len(self.lines) < MAX_LINES_SHOWN:
            self.lines.append(line)

    @property
    def lines_text(self) -> str:
        text = ", ".join(str(line) for line in self.lines)
        return text + (" …" if self.count > len(self.lines) else "")


@dataclass
class ImportReport(BaseReport):
    ght: Counts = field(default_factory=Counts)
    legal_entity: Counts = field(default_factory=Counts)
    site: Counts = field(default_factory=Counts)
    # What the file was recognised as (formats.FORMAT_LABELS), in French.
    file_format: str = ""
    # Lines not imported on purpose (out of scope), and codes missing from the FINESS
    # code table: reported, never guessed; neither stops the import.
    ignored: dict[str, LineGroup] = field(default_factory=dict)
    unknown_codes: dict[str, LineGroup] = field(default_factory=dict)

    def ignore(self, reason: str, line: int) -> None:
        self.ignored.setdefault(reason, LineGroup(reason)).add(line)

    def unknown_code(self, label: str, line: int) -> None:
        self.unknown_codes.setdefault(label, LineGroup(label)).add(line)

    @property
    def ignored_groups(self) -> list[LineGroup]:
        return sorted(self.ignored.values(), key=lambda group: -group.count)

    @property
    def unknown_code_groups(self) -> list[LineGroup]:
        return sorted(self.unknown_codes.values(), key=lambda group: group.label)

    @property
    def kinds(self) -> list[tuple[str, Counts]]:
        """(French label, counts) per kind, in the order a summary prints them."""
        return [
            (_("GHT"), self.ght),
            (_("Entités juridiques"), self.legal_entity),
            (_("Établissements (sites)"), self.site),
        ]


_COLUMNS = {column.name: column for column in COLUMNS}


def _identifier(values: Mapping[str, str], column: str) -> tuple[str, str | None]:
    """An identifier cell compacted and repaired (Column.clean): (value, problem)."""
    return _COLUMNS[column].clean(compact(values.get(column, "")))


class _EJ(NamedTuple):
    """A legal entity as one row describes it: every row of the entity must agree."""

    finess: str
    name: str
    siren: str
    status_group: str
    category: str
    department_code: str
    ght_code: str
    is_support: bool
    staff_count: int | None
    active: bool


# _EJ field -> the column a user reads in a "différent de la ligne N" message.
_EJ_COLUMNS = {
    "name": "nom_ej",
    "siren": "siren",
    "status_group": "statut",
    "category": "categorie_ej",
    "department_code": "departement_ej",
    "ght_code": "ght_code",
    "is_support": "ght_support",
    "staff_count": "effectif",
    "active": "actif",
}


@dataclass(slots=True)
class _Row:
    line: int
    finess: str
    name: str
    category: str
    department_code: str
    beds: int | None
    siret: str
    ej: _EJ
    ght_name: str


@dataclass(slots=True)
class _GHTData:
    name: str
    line: int
    first_department_code: str
    support_finess: str = ""
    support_line: int = 0


class EstablishmentImporter:
    def __init__(self, *, file: BinaryIO, filename: str = "") -> None:
        self.upload = file
        self.report = ImportReport(filename=filename)
        self.departments: dict[str, tuple[int, int]] = {}  # code -> (id, region id)
        self.columns: frozenset[str] = frozenset()  # those of the header
        self.ej_seen: dict[str, tuple[_EJ, int]] = {}
        self.et_seen: dict[str, int] = {}
        self.ghts: dict[str, _GHTData] = {}
        self.cleared_supports: set[int] = set()
        self.legal_entity_ids: dict[str, int] = {}  # FINESS -> id of those written

    # Public entry point ---------------------------------------------------------

    def run(self) -> ImportReport:
        raw, _size, spooled = seekable(self.upload, settings.IMPORT_MAX_FILE_SIZE)
        try:
            source = CSVSource(raw, COLUMNS, on_header=self._check_header)
            self.departments = {
                code: (pk, region_id)
                for pk, code, region_id in Department.objects.values_list("id", "code", "region_id")
            }
            self._validate(source)
            if self.report.ok:
                with transaction.atomic(durable=True):
                    self._write(source)
        finally:
            if spooled:
                raw.close()
        logger.info(
            "establishments import %r: %d rows, %d errors, ght %s, legal entities %s, sites %s",
            self.report.filename,
            self.report.rows,
            self.report.error_count,
            self.report.ght,
            self.report.legal_entity,
            self.report.site,
        )
        return self.report

    def _check_header(self, names: list[str]) -> None:
        if "ght_code" in names and "ght_support" not in names:
            # Without it every entity of the file would lose its support flag.
            raise ImportFileError(
                _(
                    "Colonne ght_support absente de l'en-tête : elle accompagne ght_code "
                    "(sans elle, l'import retirerait à chaque entité son rôle "
                    "d'établissement support). Ajoutez-la, ou retirez ght_code."
                )
            )
        self.columns = frozenset(names)

    # Row parsing ----------------------------------------------------------------

    def _has(self, column: str) -> bool:
        return column in self.columns

    def _parse(self, line: int, values: Mapping[str, str]) -> tuple[_Row | None, list[str]]:
        """The row's data, or the French reasons why it is wrong (checked alone)."""
        problems: list[str] = []

        def get(column: str) -> str:
            return values.get(column, "").strip()

        def problem(column: str, message: str) -> None:
            problems.append(f"{column} : {message}")

        def required(column: str, max_length: int = 255) -> str:
            value = get(column)
            if not value:
                problem(column, _("valeur obligatoire manquante"))
            elif len(value) > max_length:
                problem(column, _("%(max)d caractères au plus") % {"max": max_length})
            return value

        def finess(column: str) -> str:
            value, error = _identifier(values, column)
            if not value:
                problem(column, _("valeur obligatoire manquante"))
            elif error := error or finess_error(value):
                problem(column, error)
            return value

        def department(column: str) -> str:
            code = _COLUMNS[column].clean(get(column))[0].upper()
            if not code:
                problem(column, _("valeur obligatoire manquante"))
            elif code not in self.departments:
                problem(column, _("département « %(code)s » inconnu") % {"code": code})
            return code

        def category(column: str, *, mandatory: bool) -> str:
            value = get(column)
            if not value and not mandatory:
                return ""
            if not _CATEGORY.match(value):
                problem(
                    column,
                    _("« %(value)s » n'est pas un code de catégorie FINESS (3 ou 4 chiffres)")
                    % {"value": value},
                )
            return value

        def integer(column: str) -> int | None:
            value = get(column)
            number = parse_integer(value) if value else None
            if value and (number is None or not 0 <= number <= MAX_INT):
                problem(
                    column,
                    _("« %(value)s » n'est pas un nombre entier positif ou nul") % {"value": value},
                )
                return None
            return number

        def boolean(column: str, default: bool) -> bool:
            value, error = parse_boolean(get(column))
            if error:
                problem(column, error)
            return default if value is None and not error else bool(value)

        def identifier(column: str, check: Any) -> str:
            value, error = _identifier(values, column)
            if value and (error := error or check(value)):
                problem(column, error)
            return value

        finess_et = finess("finess_et")
        nom_site = required("nom_site")
        categorie_site = category("categorie_site", mandatory=True)
        departement_site = department("departement_site")
        beds = integer("lits")
        siret = identifier("siret", siret_error)
        finess_ej = finess("finess_ej")
        nom_ej = required("nom_ej")
        siren = identifier("siren", siren_error)
        status_raw = get("statut")
        status_group = STATUS_VALUES.get(normalize_header(status_raw), "")
        if not status_raw:
            problem("statut", _("valeur obligatoire manquante"))
        elif not status_group:
            problem(
                "statut",
                _(
                    "« %(value)s » n'est pas un statut reconnu (public, prive_non_lucratif ou "
                    "prive_lucratif)"
                )
                % {"value": status_raw},
            )
        categorie_ej = category("categorie_ej", mandatory=False)
        departement_ej = department("departement_ej")
        ght_code = get("ght_code")
        ght_name = get("ght_nom")
        if len(ght_code) > 20:
            problem("ght_code", _("%(max)d caractères au plus") % {"max": 20})
        if ght_code and not ght_name:
            problem("ght_nom", _("obligatoire quand ght_code est renseigné"))
        elif len(ght_name) > 200:
            problem("ght_nom", _("%(max)d caractères au plus") % {"max": 200})
        is_support = boolean("ght_support", False)
        if is_support and not ght_code:
            problem("ght_support", _("un établissement support doit avoir un ght_code"))
        staff_count = integer("effectif")
        active = boolean("actif", True)

        if problems:
            return None, problems
        ej = _EJ(
            finess=finess_ej,
            name=nom_ej,
            siren=siren,
            status_group=status_group,
            category=categorie_ej,
            department_code=departement_ej,
            ght_code=ght_code,
            is_support=is_support,
            staff_count=staff_count,
            active=active,
        )
        row = _Row(
            line=line,
            finess=finess_et,
            name=nom_site,
            category=categorie_site,
            department_code=departement_site,
            beds=beds,
            siret=siret,
            ej=ej,
            ght_name=ght_name,
        )
        return row, []

    # Pass 1: validation ----------------------------------------------------------

    def _validate(self, source: CSVSource) -> None:
        for line, values, unreadable in source.records():
            self.report.rows += 1
            if values is None:
                self.report.add_error(line, " ; ".join(unreadable))
                continue
            row, problems = self._parse(line, values)
            finess_et, error = _identifier(values, "finess_et")
            if error is None and finess_error(finess_et) is None:
                if finess_et in self.et_seen:
                    problems.append(
                        _("finess_et : le site %(finess)s figure déjà à la ligne %(line)d")
                        % {"finess": finess_et, "line": self.et_seen[finess_et]}
                    )
                else:
                    self.et_seen[finess_et] = line
            if row is not None:
                problems.extend(self._cross_check(row))
            if problems:
                self.report.add_error(line, " ; ".join(problems))

    def _cross_check(self, row: _Row) -> list[str]:
        """Checks against the previous rows: one description per entity and per GHT."""
        problems: list[str] = []
        ej = row.ej
        if ej.finess in self.ej_seen:
            first, first_line = self.ej_seen[ej.finess]
            differing = [
                column
                for attr, column in _EJ_COLUMNS.items()
                if getattr(first, attr) != getattr(ej, attr)
            ]
            if differing:
                problems.append(
                    _(
                        "finess_ej : %(columns)s différent de la ligne %(line)d pour la même "
                        "entité juridique %(finess)s (ses données se répètent à l'identique sur "
                        "chacun de ses sites)"
                    )
                    % {"finess": ej.finess, "line": first_line, "columns": ", ".join(differing)}
                )
        else:
            self.ej_seen[ej.finess] = (ej, row.line)
        if ej.ght_code:
            ght = self.ghts.get(ej.ght_code)
            if ght is None:
                ght = self.ghts[ej.ght_code] = _GHTData(
                    name=row.ght_name, line=row.line, first_department_code=ej.department_code
                )
            elif ght.name != row.ght_name:
                problems.append(
                    _("ght_nom : le GHT %(code)s est nommé « %(name)s » à la ligne %(line)d")
                    % {"code": ej.ght_code, "name": ght.name, "line": ght.line}
                )
            if ej.is_support:
                if not ght.support_finess:
                    ght.support_finess, ght.support_line = ej.finess, row.line
                elif ght.support_finess != ej.finess:
                    problems.append(
                        _(
                            "ght_support : le GHT %(code)s a déjà un établissement support, "
                            "l'entité %(finess)s de la ligne %(line)d"
                        )
                        % {
                            "code": ej.ght_code,
                            "finess": ght.support_finess,
                            "line": ght.support_line,
                        }
                    )
        return problems

    # Pass 2: writing -------------------------------------------------------------

    def _write(self, source: CSVSource) -> None:
        now = timezone.now()
        if self._has("ght_code"):
            self._clear_moved_supports(now)
        ght_ids = self._upsert_ghts(now)
        for chunk in chunks(self._valid_rows(source), CHUNK_SIZE):
            legal_entity_ids = self._upsert_legal_entities(chunk, ght_ids, now)
            self._upsert_sites(chunk, legal_entity_ids, now)

    def _valid_rows(self, source: CSVSource) -> Iterator[_Row]:
        for line, values, _unreadable in source.records():
            row = None if values is None else self._parse(line, values)[0]
            if row is None:
                # The file validated a moment ago: it changed under us.
                raise ImportFileError(
                    _("Le fichier a changé pendant l'import : rien n'a été importé.")
                )
            yield row

    def _clear_moved_supports(self, now: Any) -> None:
        """Clear, before anything else, the support flags the file moves or removes, so
        that "one support per GHT" holds after every statement (PostgreSQL checks a
        unique index row by row, even within one UPDATE)."""
        to_clear: list[int] = []
        current = LegalEntity.objects.filter(is_ght_support=True).values_list(
            "id", "finess", "ght__code"
        )
        for pk, finess, ght_code in current:
            in_file = self.ej_seen.get(finess)
            moved = in_file is not None and (in_file[0].ght_code, in_file[0].is_support) != (
                ght_code,
                True,
            )
            ght = self.ghts.get(ght_code or "")
            replaced = ght is not None and ght.support_finess not in ("", finess)
            if moved or replaced:
                to_clear.append(pk)
                # One the file leaves out is counted here, the others when written.
                self.report.legal_entity.updated += in_file is None
        if to_clear:
            LegalEntity.objects.filter(id__in=to_clear).update(is_ght_support=False, updated_at=now)
            self.cleared_supports = set(to_clear)

    def _ght_region_id(self, ght: _GHTData) -> int:
        """The region of the support entity's département, else of the first member's."""
        department_code = ght.first_department_code
        if ght.support_finess:
            department_code = self.ej_seen[ght.support_finess][0].department_code
        return self.departments[department_code][1]

    def _upsert_ghts(self, now: Any) -> dict[str, int]:
        ids: dict[str, int] = {}
        for codes in chunks(self.ghts, CHUNK_SIZE):
            values = {
                code: {
                    "name": self.ghts[code].name,
                    "region_id": self._ght_region_id(self.ghts[code]),
                }
                for code in codes
            }
            ids.update(upsert(GHT, "code", values, now=now, counts=self.report.ght))
        return ids

    def _legal_entity_values(self, ej: _EJ, ght_ids: dict[str, int]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "name": ej.name,
            "status_group": ej.status_group,
            "department_id": self.departments[ej.department_code][0],
        }
        if self._has("siren"):
            values["siren"] = ej.siren
        if self._has("categorie_ej"):
            values["finess_category"] = ej.category
        if self._has("ght_code"):
            values["ght_id"] = ght_ids[ej.ght_code] if ej.ght_code else None
            values["is_ght_support"] = ej.is_support
        elif self._has("ght_support") and not ej.is_support:
            # Without ght_code the GHT is left as it is; "non" still removes the flag.
            values["is_ght_support"] = False
        if self._has("effectif"):
            values["staff_count"] = ej.staff_count
        if self._has("actif"):
            values["active"] = ej.active
        return values

    def _upsert_legal_entities(
        self, chunk: list[_Row], ght_ids: dict[str, int], now: Any
    ) -> dict[str, int]:
        # ej_seen holds the entities still to write: one written in an earlier chunk
        # only lends its id (legal_entity_ids) to its sites.
        values = {
            row.ej.finess: self._legal_entity_values(row.ej, ght_ids)
            for row in chunk
            if self.ej_seen.pop(row.ej.finess, None) is not None
        }
        counts = self.report.legal_entity
        touched = self.cleared_supports
        written = upsert(LegalEntity, "finess", values, now=now, counts=counts, touched=touched)
        self.legal_entity_ids.update(written)
        return self.legal_entity_ids

    def _upsert_sites(self, chunk: list[_Row], legal_entity_ids: dict[str, int], now: Any) -> None:
        values: dict[str, dict[str, Any]] = {}
        for row in chunk:
            site = values[row.finess] = {
                "name": row.name,
                "category": row.category,
                "department_id": self.departments[row.department_code][0],
                "legal_entity_id": legal_entity_ids[row.ej.finess],
            }
            if self._has("siret"):
                site["siret"] = row.siret
            if self._has("lits"):
                site["beds"] = row.beds
        upsert(Site, "finess", values, now=now, counts=self.report.site)


def import_establishments(*, file: BinaryIO, filename: str = "") -> ImportReport:
    """Import the directory CSV (COLUMNS): everything, or nothing when a row is bad.

    Raises ImportFileError when the file as a whole cannot be read (size, encoding,
    header); row problems are in the report, each with its physical line number.
    """
    return EstablishmentImporter(file=file, filename=filename).run()
