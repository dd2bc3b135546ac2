"""Import of the directory from the files FINESS publishes, recognised by content.

- The etalab extract of establishments (ET, "etalab-cs1100507-stock"): a first
  metadata line `finess;etalab;NN;date`, no header, then `structureet` lines and
  `geolocalisation` lines (coordinates with their reference system), `;` separated,
  usually in Windows-1252. Départements overseas are coded 9A-9F
  (reference.FINESS_OVERSEAS_DEPARTMENTS). Older variants carry a header line naming
  the columns instead of the section prefix (ET_FIELDS, HEADER_ALIASES), with the
  coordinates on the same line when they have any.
- The etalab extract of legal entities (EJ): `structureej` lines, same conventions.
- The FINESS+ JSON structures file: `pmej` (legal entities, with their `ege` sites)
  and `gcc`, the groupings, whose type "001" are the GHTs: members with role S (the
  support establishment) and M, named by `pmSmsseId`, resolved through `pmej`'s
  `informationsGeneralesPMEJ.pmSmsseId` -> `numFinessPm`.

What is imported: the établissements de santé (category codes marked health in the
code table, finess_codes) and their legal entities. Codes missing from the table are
reported ("codes inconnus"), lines out of scope are counted as set aside; neither
stops the import. Bad lines (identifiers, a number Excel turned into scientific
notation, a wrong number of fields…) are refused with their line number and, as for
the portal's CSV, then nothing is imported. Leading zeros a spreadsheet dropped are
restored (care_portal.imports.columns.clean_identifier).

Files are read twice as streams (validation, then writing in chunks of CHUNK_SIZE
through care_portal.imports.writer.upsert): memory holds only per-file maps of the
kept establishments (number -> line, coordinates), never the file.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, NamedTuple, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from care_portal.errors import ImportFileError
from care_portal.imports.columns import clean_identifier
from care_portal.imports.lines import NumberedLines, detect_delimiter, normalize_header, sniff
from care_portal.imports.sources import JSONStream, csv_rows, seekable
from care_portal.imports.writer import chunks, upsert

from .finess_codes import finess_codes
from .identifiers import compact, finess_error, siren_error, siret_error
from .importers import CHUNK_SIZE, EstablishmentImporter, ImportReport
from .models import GHT, Department, LegalEntity, Site
from .reference import FINESS_OVERSEAS_DEPARTMENTS, department_code_from_finess_extract

logger = logging.getLogger(__name__)

PORTAL_CSV = "portal_csv"
FINESS_ET = "finess_et"
FINESS_EJ = "finess_ej"
FINESS_PLUS = "finess_plus"

# Columns of the etalab extracts, in their order after the section name. Both extracts
# give the name and address in the same columns, after the FINESS numbers.
NAME_AND_ADDRESS = (
    "rs",
    "rslongue",
    "complrs",
    "compldistrib",
    "numvoie",
    "typvoie",
    "voie",
    "compvoie",
    "lieuditbp",
    "commune",
    "departement",
    "libdepartement",
    "ligneacheminement",
    "telephone",
    "telecopie",
)
ET_FIELDS = (
    "nofinesset",
    "nofinessej",
    *NAME_AND_ADDRESS,
    "categetab",
    "libcategetab",
    "categagretab",
    "libcategagretab",
    "siret",
    "codeape",
    "codemft",
    "libmft",
    "codesph",
    "libsph",
    "dateouv",
    "dateautor",
    "datemaj",
    "numuai",
)
GEO_FIELDS = ("nofinesset", "coordxet", "coordyet", "sourcecoordet", "datemaj")
EJ_FIELDS = (
    "nofinessej",
    *NAME_AND_ADDRESS,
    "statutjuridique",
    "libstatutjuridique",
    "siren",
    "codeape",
    "datecrea",
    "datemaj",
)
# The last fields of a section may be missing (older extracts end earlier).
_MIN_FIELDS = {"structureet": 22, "geolocalisation": 4, "structureej": 17}
_SECTION_FIELDS = {
    "structureet": ET_FIELDS,
    "geolocalisation": GEO_FIELDS,
    "structureej": EJ_FIELDS,
}
# Header names of older extracts and hand-made excerpts -> the names above.
HEADER_ALIASES = {
    "numero_finess_et": "nofinesset",
    "finess_geographique": "nofinesset",
    "numero_finess_ej": "nofinessej",
    "finess_juridique": "nofinessej",
    "raison_sociale": "rs",
    "raison_sociale_longue": "rslongue",
    "categorie": "categetab",
    "categorie_etablissement": "categetab",
    "code_categorie": "categetab",
    "dep": "departement",
    "code_departement": "departement",
    "maj": "datemaj",
    "date_maj": "datemaj",
    "statut_juridique": "statutjuridique",
    "statutjur": "statutjuridique",
    "code_statut_juridique": "statutjuridique",
    "coordx": "coordxet",
    "coordy": "coordyet",
    "x": "coordxet",
    "y": "coordyet",
    "source_coordonnees": "sourcecoordet",
}
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")
_SYSTEM = re.compile(r"^(?:LAMBERT|UTM|WGS|RGF|RGR|RGFG|RGM|RGSPM)[A-Z0-9_]*$")
_TERRITORY = re.compile(r"^(?:\d{2,3}|2A|2B)$")


def format_label(kind: str) -> str:
    labels = {
        PORTAL_CSV: _("CSV du portail"),
        FINESS_ET: _("extraction FINESS des établissements (ET)"),
        FINESS_EJ: _("extraction FINESS des entités juridiques (EJ)"),
        FINESS_PLUS: _("fichier JSON des structures FINESS+"),
    }
    return labels[kind]


# --- Recognising a file ----------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    kind: str
    metadata: bool = False  # a first line `finess;etalab;NN;date`
    header: tuple[str, ...] = ()  # the columns of a header line, when there is one
    delimiter: str = ";"


_HEAD_BYTES = 64 * 1024


def detect_format(raw: IO[bytes]) -> Layout:
    """What a (seekable) file is, from its first lines; the file is rewound."""
    raw.seek(0)
    head = raw.read(_HEAD_BYTES)
    raw.seek(0)
    text = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
    if text.startswith("{"):
        return Layout(FINESS_PLUS)
    lines = [line for line in text.splitlines() if line.strip()][:5]
    if not lines:
        return Layout(PORTAL_CSV)
    delimiter = detect_delimiter(lines[0])
    metadata = False
    first = [normalize_header(v.strip().strip('"')) for v in lines[0].split(delimiter)]
    if first[:2] == ["finess", "etalab"]:
        metadata = True
        lines = lines[1:]
    for line in lines:
        values = [normalize_header(v.strip().strip('"')) for v in line.split(delimiter)]
        section = values[0]
        if section in ("structureet", "geolocalisation"):
            return Layout(FINESS_ET, metadata, delimiter=delimiter)
        if section == "structureej":
            return Layout(FINESS_EJ, metadata, delimiter=delimiter)
        names = tuple(HEADER_ALIASES.get(v, v) for v in values)
        if "nofinesset" in names:
            return Layout(FINESS_ET, metadata, names, delimiter)
        if "nofinessej" in names and "statutjuridique" in names:
            return Layout(FINESS_EJ, metadata, names, delimiter)
        break
    if metadata:
        raise ImportFileError(
            _(
                "Extraction FINESS non reconnue : après la ligne « finess;etalab », les lignes "
                "doivent commencer par structureet, geolocalisation ou structureej."
            )
        )
    return Layout(PORTAL_CSV)


# --- Shared parsing helpers ------------------------------------------------------------


def _float(text: str) -> float | None:
    text = text.strip().replace(" ", "")
    if not _NUMBER.match(text):
        return None
    return float(text.replace(",", "."))


def coordinate_system(source: str) -> str:
    """The reference system a FINESS `sourcecoordet` names in its last part
    ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93" -> LAMBERT_93), or ""."""
    last = source.rsplit(",", 1)[-1].strip().upper()
    return last if _SYSTEM.match(last) else ""


class _Context:
    """What the importers share: the report, the départements, the code table."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        self.departments: dict[str, tuple[int, int]] = {
            code: (pk, region_id)
            for pk, code, region_id in Department.objects.values_list("id", "code", "region_id")
        }
        self.codes = finess_codes()
        self.checking = True  # False in pass 2: rows are only read again
        self.checked_ej: dict[str, str | None] = {}

    def department(self, line: int, raw_code: str, problems: list[str]) -> str | None:
        """The portal's département code, or None when the line is set aside (a
        territory outside the portal, an unknown code: both reported)."""
        cleaned, error = clean_identifier(raw_code, 2)
        code = department_code_from_finess_extract(cleaned)
        if error:
            problems.append(f"departement : {error}")
            return None
        if not code:
            problems.append(_("departement : valeur obligatoire manquante"))
            return None
        if code in self.departments:
            return code
        if code in FINESS_OVERSEAS_DEPARTMENTS.values() or _TERRITORY.match(code):
            self.report.ignore(
                _("Territoire absent de l'annuaire du portail (département %(code)s)")
                % {"code": code},
                line,
            )
        else:
            self.report.unknown_code(
                _("Code de département « %(code)s »") % {"code": cleaned}, line
            )
        return None

    def finess(self, column: str, raw: str, problems: list[str]) -> str:
        value, error = clean_identifier(compact(raw), 9)
        if not value:
            problems.append(_("%(column)s : valeur obligatoire manquante") % {"column": column})
        elif error := error or self._finess_error(column, value):
            problems.append(f"{column} : {error}")
        return value

    def _finess_error(self, column: str, value: str) -> str | None:
        if not self.checking:
            return None  # pass 2: the lines were checked by pass 1
        if column != "nofinessej":
            return finess_error(value)
        # The legal entity's number repeats on each of its sites: checked once.
        if value not in self.checked_ej:
            self.checked_ej[value] = finess_error(value)
        return self.checked_ej[value]

    def identifier(self, column: str, raw: str, width: int, check: Any, problems: list[str]) -> str:
        value, error = clean_identifier(compact(raw), width)
        if value and (error := error or (check(value) if self.checking else None)):
            problems.append(f"{column} : {error}")
        return value


def _name(values: dict[str, str], problems: list[str]) -> str:
    name = (values.get("rslongue") or "").strip() or (values.get("rs") or "").strip()
    if not name:
        problems.append(_("rs : raison sociale manquante"))
    elif len(name) > 255:
        problems.append(_("rs : %(max)d caractères au plus") % {"max": 255})
    return name


# --- The etalab extracts (ET and EJ) ---------------------------------------------------


class _SiteRow(NamedTuple):
    line: int
    finess: str
    ej: str
    name: str
    category: str
    department: str
    siret: str
    coords: tuple[float, float, str, str] | None


class _EJRow(NamedTuple):
    line: int
    finess: str
    name: str
    status_code: str
    status_group: str
    department: str
    siren: str


class ExtractImporter:
    """The etalab extracts: ET (sites and their coordinates) or EJ (legal entities)."""

    def __init__(self, raw: IO[bytes], layout: Layout, report: ImportReport) -> None:
        self.raw = raw
        self.layout = layout
        self.report = report
        self.context = _Context(report)
        self.encoding = sniff(raw).encoding
        self.kept: dict[str, int] = {}  # FINESS -> line of the rows to write
        self.site_ej: dict[str, str] = {}  # FINESS ET -> FINESS EJ of the kept sites
        self.coords: dict[str, tuple[float, float, str, str]] = {}
        self.ej_ids: dict[str, int] = {}
        self.uncategorised: set[str] = set()  # EJs of kept sites without a category
        self.first_category: dict[str, str] = {}  # EJ -> category of its first site

    # Reading -----------------------------------------------------------------------

    def _records(self) -> Iterator[tuple[int, str, dict[str, str] | None, str]]:
        """(line, section, values by name or None, problem) of every data line."""
        self.raw.seek(0)
        lines = NumberedLines(self.raw, self.encoding)
        default_section = "structureet" if self.layout.kind == FINESS_ET else "structureej"
        try:
            skip = int(self.layout.metadata) + int(bool(self.layout.header))
            for start, values, problem in csv_rows(lines, self.layout.delimiter):
                if values is None:
                    yield start, "", None, problem
                    continue
                if skip:
                    skip -= 1
                    continue
                if self.layout.header:
                    yield start, default_section, *self._by_header(values)
                    continue
                section = normalize_header(values[0])
                names = _SECTION_FIELDS.get(section)
                if names is None:
                    yield start, section, {}, ""
                    continue
                fields = values[1:]
                while len(fields) > len(names) and not fields[-1].strip():
                    fields.pop()  # the empty cells a spreadsheet adds at the end
                if not _MIN_FIELDS[section] <= len(fields) <= len(names):
                    yield (
                        start,
                        section,
                        None,
                        _("la ligne %(section)s compte %(given)d champs au lieu de %(expected)d")
                        % {"section": section, "given": len(fields), "expected": len(names)},
                    )
                    continue
                yield start, section, dict(zip(names, fields, strict=False)), ""
        finally:
            lines.close()

    def _by_header(self, values: list[str]) -> tuple[dict[str, str] | None, str]:
        header = self.layout.header
        while len(values) > len(header) and not values[-1].strip():
            values = values[:-1]
        if len(values) != len(header):
            return None, _("la ligne compte %(given)d champs au lieu de %(expected)d") % {
                "given": len(values),
                "expected": len(header),
            }
        return dict(zip(header, values, strict=True)), ""

    # Parsing -----------------------------------------------------------------------

    def _parse_site(self, line: int, values: dict[str, str]) -> tuple[_SiteRow | None, list[str]]:
        problems: list[str] = []
        context = self.context
        finess = context.finess("nofinesset", values.get("nofinesset", ""), problems)
        ej = context.finess("nofinessej", values.get("nofinessej", ""), problems)
        name = _name(values, problems)
        siret = context.identifier("siret", values.get("siret", ""), 14, siret_error, problems)
        category = (values.get("categetab") or "").strip()
        coords = None
        if "coordxet" in values:
            coords = self._coords(values, problems)
        if not category:
            problems.append(_("categetab : valeur obligatoire manquante"))
        if problems:
            return None, problems
        known = context.codes.categories.get(category)
        if known is None:
            self.context.report.unknown_code(
                _("Catégorie d'établissement « %(code)s »%(label)s")
                % {"code": category, "label": _label(values.get("libcategetab", ""))},
                line,
            )
            return None, []
        if not known.health:
            self.context.report.ignore(
                _("Établissement hors du champ sanitaire (catégorie FINESS)"), line
            )
            return None, []
        department = context.department(line, values.get("departement", ""), problems)
        if department is None:
            return None, problems
        return _SiteRow(line, finess, ej, name, category, department, siret, coords), []

    def _coords(
        self, values: dict[str, str], problems: list[str]
    ) -> tuple[float, float, str, str] | None:
        raw_x, raw_y = values.get("coordxet", "").strip(), values.get("coordyet", "").strip()
        if not raw_x and not raw_y:
            return None
        x, y = _float(raw_x), _float(raw_y)
        if x is None or y is None:
            problems.append(
                _("coordonnées : « %(x)s ; %(y)s » ne sont pas des nombres")
                % {"x": raw_x, "y": raw_y}
            )
            return None
        source = values.get("sourcecoordet", "").strip()
        # Interned: a national file repeats a handful of sources for every site.
        return x, y, sys.intern(coordinate_system(source)), sys.intern(source[:120])

    def _parse_ej(self, line: int, values: dict[str, str]) -> tuple[_EJRow | None, list[str]]:
        problems: list[str] = []
        context = self.context
        finess = context.finess("nofinessej", values.get("nofinessej", ""), problems)
        name = _name(values, problems)
        siren = context.identifier("siren", values.get("siren", ""), 9, siren_error, problems)
        code = (values.get("statutjuridique") or "").strip()
        if code.isdigit() and len(code) == 1:
            code = "0" + code  # the leading zero a spreadsheet dropped
        if not code:
            problems.append(_("statutjuridique : valeur obligatoire manquante"))
        if problems:
            return None, problems
        department = context.department(line, values.get("departement", ""), problems)
        if problems:
            return None, problems
        status = context.codes.statuses.get(code)
        if status is None:
            self.context.report.unknown_code(
                _("Statut juridique « %(code)s »%(label)s")
                % {"code": code, "label": _label(values.get("libstatutjuridique", ""))},
                line,
            )
            return None, []
        if department is None:
            return None, []
        return _EJRow(line, finess, name, code, status.status_group, department, siren), []

    # Pass 1: validation --------------------------------------------------------------

    def validate(self) -> None:
        seen: dict[str, int] = {}
        for line, section, values, problem in self._records():
            self.report.rows += 1
            if values is None:
                self.report.add_error(line, problem)
                continue
            if section == "geolocalisation":
                self._validate_geolocation(line, values)
                continue
            expected = "structureet" if self.layout.kind == FINESS_ET else "structureej"
            if section != expected:
                self.context.report.ignore(
                    _("Section « %(section)s » non importée") % {"section": section}, line
                )
                continue
            row: _SiteRow | _EJRow | None
            if self.layout.kind == FINESS_ET:
                row, problems = self._parse_site(line, values)
            else:
                row, problems = self._parse_ej(line, values)
            key = compact(
                values.get("nofinesset" if expected == "structureet" else "nofinessej", "")
            )
            key = clean_identifier(key, 9)[0]
            if key:
                if key in seen:
                    problems.append(
                        _("le numéro FINESS %(finess)s figure déjà à la ligne %(line)d")
                        % {"finess": key, "line": seen[key]}
                    )
                else:
                    seen[key] = line
            if problems:
                self.report.add_error(line, " ; ".join(problems))
            elif row is not None:
                self.kept[row.finess] = line
                if isinstance(row, _SiteRow):
                    self.site_ej[row.finess] = row.ej
                    self.first_category.setdefault(row.ej, row.category)
                    if row.coords:
                        self.coords[row.finess] = row.coords
        if self.layout.kind == FINESS_ET and self.report.ok:
            self._check_legal_entities()

    def _validate_geolocation(self, line: int, values: dict[str, str]) -> None:
        finess = clean_identifier(compact(values.get("nofinesset", "")), 9)[0]
        if finess not in self.kept:
            return  # an establishment not imported (out of scope, or refused)
        problems: list[str] = []
        coords = self._coords(values, problems)
        if problems:
            self.report.add_error(line, " ; ".join(problems))
        elif coords:
            self.coords[finess] = coords

    def _check_legal_entities(self) -> None:
        """Sites are imported under legal entities the directory knows (the EJ extract
        or FINESS+ is imported first); the others are set aside and reported."""
        wanted = set(self.first_category)
        for batch in chunks(sorted(wanted), CHUNK_SIZE):
            rows = LegalEntity.objects.filter(finess__in=batch).values_list(
                "finess", "id", "finess_category"
            )
            for finess, pk, category in rows:
                self.ej_ids[finess] = pk
                if not category:
                    self.uncategorised.add(finess)
        for finess, ej in self.site_ej.items():
            if ej not in self.ej_ids:
                self.context.report.ignore(
                    _(
                        "Entité juridique absente de l'annuaire : importez d'abord "
                        "l'extraction des entités juridiques (EJ) ou le fichier FINESS+"
                    ),
                    self.kept.pop(finess),
                )
        for ej in list(self.first_category):
            if ej not in self.ej_ids:
                del self.first_category[ej]

    # Pass 2: writing -----------------------------------------------------------------

    def write(self) -> None:
        now = timezone.now()
        if self.layout.kind == FINESS_EJ:
            for chunk in chunks(self._kept_rows(), CHUNK_SIZE):
                values = {
                    row.finess: _ej_values(row, self.context.departments)
                    for row in chunk
                    if isinstance(row, _EJRow)
                }
                upsert(LegalEntity, "finess", values, now=now, counts=self.report.legal_entity)
            return
        for chunk in chunks(self._kept_rows(), CHUNK_SIZE):
            site_values: dict[str, dict[str, Any]] = {}
            for row in chunk:
                if not isinstance(row, _SiteRow):
                    continue
                x, y, system, source = self.coords.get(row.finess) or (None, None, "", "")
                site_values[row.finess] = {
                    "name": row.name,
                    "category": row.category,
                    "department_id": self.context.departments[row.department][0],
                    "legal_entity_id": self.ej_ids[row.ej],
                    "siret": row.siret,
                    "coord_x": x,
                    "coord_y": y,
                    "coord_system": system,
                    "coord_source": source,
                }
            upsert(Site, "finess", site_values, now=now, counts=self.report.site)
        _fill_categories(
            {ej: c for ej, c in self.first_category.items() if ej in self.uncategorised},
            now,
            self.report,
        )

    def _kept_rows(self) -> Iterator[_SiteRow | _EJRow]:
        for line, section, values, _problem in self._records():
            if values is None or self.kept.get(self._key(values)) != line:
                continue
            row = (
                self._parse_site(line, values)[0]
                if self.layout.kind == FINESS_ET and section == "structureet"
                else self._parse_ej(line, values)[0]
                if section == "structureej"
                else None
            )
            if row is None:
                raise ImportFileError(
                    _("Le fichier a changé pendant l'import : rien n'a été importé.")
                )
            if isinstance(row, _SiteRow) and row.ej not in self.ej_ids:
                continue
            yield row

    def _key(self, values: dict[str, str]) -> str:
        column = "nofinesset" if self.layout.kind == FINESS_ET else "nofinessej"
        return clean_identifier(compact(values.get(column, "")), 9)[0]


def _ej_values(row: _EJRow, departments: dict[str, tuple[int, int]]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": row.name,
        "status_group": row.status_group,
        "legal_status_code": row.status_code,
        "department_id": departments[row.department][0],
    }
    if row.siren:  # a file without SIREN leaves the one the directory knows
        values["siren"] = row.siren
    return values


def _label(text: str) -> str:
    text = text.strip()
    return f" ({text})" if text else ""


def _fill_categories(categories: dict[str, str], now: Any, report: ImportReport) -> None:
    """Give a legal entity without a FINESS category that of its first health
    establishment (rule E1 reads it); a category already set is never replaced."""
    by_category: dict[str, list[str]] = {}
    for ej, category in categories.items():
        by_category.setdefault(category, []).append(ej)
    for category, numbers in sorted(by_category.items()):
        for batch in chunks(numbers, CHUNK_SIZE):
            report.legal_entity.updated += LegalEntity.objects.filter(
                finess__in=batch, finess_category=""
            ).update(finess_category=category, updated_at=now)


# --- FINESS+ (JSON) --------------------------------------------------------------------

GHT_TYPE = "001"


@dataclass
class _GHTPlan:
    code: str
    name: str
    line: int
    members: dict[str, str] = field(default_factory=dict)  # pmSmsseId -> role S/M


def _where(section: str, index: int) -> str:
    return _("%(section)s, élément %(index)d") % {"section": section, "index": index}


def _section_label(label: str, section: str) -> str:
    """A note of the FINESS+ file: its numbers are element numbers of a section."""
    return _("%(label)s — éléments de %(section)s") % {"label": label, "section": section}


class FinessPlusImporter:
    """The FINESS+ structures file: legal entities (`pmej`) with their sites (`ege`),
    and the GHTs (`gcc` of type 001). An element's "line" is its index in its array."""

    def __init__(self, raw: IO[bytes], report: ImportReport) -> None:
        self.raw = raw
        self.report = report
        self.context = _Context(report)
        self.ghts: dict[str, _GHTPlan] = {}
        self.gcc_read = False
        self.needed_ids: set[str] = set()
        self.pm_finess: dict[str, str] = {}  # pmSmsseId -> FINESS EJ of GHT members
        self.kept_ej: dict[str, int] = {}  # FINESS EJ -> element index
        self.kept_et: dict[str, int] = {}
        self.ej_departments: dict[str, str] = {}
        self.membership: dict[str, tuple[str, bool]] = {}  # FINESS EJ -> (GHT, support)

    def _ignore(self, reason: str, index: int, section: str = "pmej") -> None:
        self.context.report.ignore(_section_label(reason, section), index)

    def _unknown(self, label: str, index: int) -> None:
        self.context.report.unknown_code(_section_label(label, "pmej"), index)

    # Reading -------------------------------------------------------------------------

    def _sections(self) -> Iterator[tuple[str, int, Any]]:
        """(section, index, element) of the `gcc` and `pmej` arrays, in file order."""
        self.raw.seek(0)
        text = io.TextIOWrapper(self.raw, encoding="utf-8-sig", errors="strict")
        try:
            stream = JSONStream(text)
            stream.expect("{")
            if stream.peek() == "}":
                return
            while True:
                if stream.peek() != '"':
                    raise stream.fail(_("nom de clé attendu"))
                key = stream.value()
                stream.expect(":")
                if stream.peek() == "[":
                    for index, item in enumerate(stream.array(), start=1):
                        if key in ("gcc", "pmej"):
                            yield key, index, item
                else:
                    stream.value()
                if stream.closed("}"):
                    break
        finally:
            text.detach()

    # Pass 1 --------------------------------------------------------------------------

    def validate(self) -> None:
        for section, index, item in self._sections():
            self.report.rows += 1
            if not isinstance(item, dict):
                self.report.add_error(
                    index, _("l'élément n'est pas un objet JSON { … }"), _where(section, index)
                )
            elif section == "gcc":
                self._validate_gcc(index, item)
            else:
                self._validate_pmej(index, item)
        for plan in list(self.ghts.values()):
            for pm_id, role in plan.members.items():
                finess = self.pm_finess.get(pm_id)
                if finess is None:
                    self._ignore(_("Membre de GHT absent de la section pmej"), plan.line, "gcc")
                elif finess not in self.kept_ej:
                    self._ignore(
                        _("Membre de GHT non importé (entité fermée, hors champ ou inconnue)"),
                        plan.line,
                        "gcc",
                    )
                else:
                    self.membership[finess] = (plan.code, role == "S")
            if not any(code == plan.code for code, _s in self.membership.values()):
                self._ignore(_("GHT sans membre importé"), plan.line, "gcc")
                del self.ghts[plan.code]

    def _validate_gcc(self, index: int, item: dict[str, Any]) -> None:
        self.gcc_read = True
        if str(item.get("typeGcc", "")) != GHT_TYPE:
            self._ignore(_("Groupement qui n'est pas un GHT (typeGcc ≠ 001)"), index, "gcc")
            return
        if str(item.get("etatObjet", "A")) != "A":
            self._ignore(_("GHT fermé (etatObjet ≠ A)"), index, "gcc")
            return
        code = str(item.get("gccIdentifiantExterne") or item.get("gccId") or "").strip()
        name = str(item.get("nomGcc") or "").strip()
        problems = []
        if not code or len(code) > 20:
            problems.append(_("gccIdentifiantExterne : identifiant du GHT manquant ou trop long"))
        if not name or len(name) > 200:
            problems.append(_("nomGcc : nom du GHT manquant ou trop long"))
        members = item.get("pmejDuGcc") or []
        plan = _GHTPlan(code, name, index)
        if not isinstance(members, list):
            problems.append(_("pmejDuGcc : une liste est attendue"))
            members = []
        for member in members:
            pm_id = str((member or {}).get("pmSmsseId", "")).strip()
            role = str((member or {}).get("typeRoleEntiteGroupe", "")).strip()
            if not pm_id or role not in ("S", "M"):
                problems.append(
                    _("pmejDuGcc : membre sans pmSmsseId ou de rôle « %(role)s » (S ou M attendu)")
                    % {"role": role}
                )
                continue
            plan.members[pm_id] = role
        if sum(role == "S" for role in plan.members.values()) > 1:
            problems.append(_("pmejDuGcc : plusieurs établissements support (rôle S)"))
        if code in self.ghts:
            problems.append(
                _("le GHT %(code)s figure déjà à l'élément %(line)d")
                % {"code": code, "line": self.ghts[code].line}
            )
        if problems:
            self.report.add_error(index, " ; ".join(problems), _where("gcc", index))
            return
        self.ghts[code] = plan
        self.needed_ids.update(plan.members)

    def _ej_of(self, item: dict[str, Any]) -> dict[str, Any]:
        general = item.get("informationsGeneralesPMEJ")
        return general if isinstance(general, dict) else {}

    def _department(self, index: int, addresses: Any, problems: list[str]) -> str | None:
        commune = ""
        if isinstance(addresses, list):
            for address in addresses:
                if isinstance(address, dict) and address.get("cogCommune"):
                    commune = str(address["cogCommune"]).strip().upper()
                    break
        if not commune:
            problems.append(_("adresse : code commune (cogCommune) manquant"))
            return None
        code = commune[:3] if commune.startswith("97") else commune[:2]
        return self.context.department(index, code, problems)

    def _validate_pmej(self, index: int, item: dict[str, Any]) -> None:
        general = self._ej_of(item)
        pm_id = str(general.get("pmSmsseId", "")).strip()
        problems: list[str] = []
        finess = self.context.finess("numFinessPm", str(general.get("numFinessPm", "")), problems)
        if not problems and (not self.gcc_read or pm_id in self.needed_ids):
            self.pm_finess[pm_id] = finess
        if str(item.get("etatObjet", "A")) != "A":
            self._ignore(_("Entité juridique fermée (etatObjet ≠ A)"), index)
            return
        row, site_rows, problems = self._parse_pmej(index, item, problems)
        if problems:
            self.report.add_error(index, " ; ".join(problems), _where("pmej", index))
            return
        if row is None:
            return
        in_ght = pm_id in self.needed_ids
        if not site_rows and not in_ght:
            self._ignore(_("Entité juridique sans établissement de santé"), index)
            return
        if row.finess in self.kept_ej:
            self.report.add_error(
                index,
                _("le numéro FINESS %(finess)s figure déjà à l'élément %(line)d")
                % {"finess": row.finess, "line": self.kept_ej[row.finess]},
                _where("pmej", index),
            )
            return
        self.kept_ej[row.finess] = index
        self.ej_departments[row.finess] = row.department
        for site in site_rows:
            if site.finess in self.kept_et:
                self.report.add_error(
                    index,
                    _("le numéro FINESS %(finess)s figure déjà à l'élément %(line)d")
                    % {"finess": site.finess, "line": self.kept_et[site.finess]},
                    _where("pmej", index),
                )
            self.kept_et[site.finess] = index

    def _parse_pmej(
        self, index: int, item: dict[str, Any], problems: list[str]
    ) -> tuple[_EJRow | None, list[_SiteRow], list[str]]:
        general = self._ej_of(item)
        context = self.context
        finess = clean_identifier(compact(str(general.get("numFinessPm", ""))), 9)[0]
        name = str(general.get("denominationLonguePmSmsse") or general.get("denominationPm") or "")
        name = name.strip()
        if not name or len(name) > 255:
            problems.append(_("denominationPm : raison sociale manquante ou trop longue"))
        siren = context.identifier(
            "siren", str(general.get("siren") or ""), 9, siren_error, problems
        )
        code = str(general.get("statutJuridique") or "").strip()
        if not code:
            problems.append(_("statutJuridique : valeur obligatoire manquante"))
        department = self._department(index, item.get("adresse"), problems)
        sites: list[_SiteRow] = []
        for ege in item.get("ege") or []:
            site = self._parse_ege(index, finess, ege, problems) if isinstance(ege, dict) else None
            if site is not None:
                sites.append(site)
        if problems:
            return None, [], problems
        status = context.codes.statuses.get(code)
        if status is None:
            self._unknown(_("Statut juridique « %(code)s »") % {"code": code}, index)
            return None, [], []
        if department is None:
            return None, [], []
        return _EJRow(index, finess, name, code, status.status_group, department, siren), sites, []

    def _parse_ege(
        self, index: int, ej: str, ege: dict[str, Any], problems: list[str]
    ) -> _SiteRow | None:
        if str(ege.get("etatObjet", "A")) != "A":
            self._ignore(_("Établissement fermé (etatObjet ≠ A)"), index)
            return None
        general = ege.get("informationsGeneralesEGE")
        general = general if isinstance(general, dict) else {}
        context = self.context
        own: list[str] = []
        finess = context.finess("numFinessEge", str(general.get("numFinessEge", "")), own)
        name = str(general.get("nomEgeLong") or general.get("nomEgeCourt") or "").strip()
        if not name or len(name) > 255:
            own.append(_("nomEge : nom manquant ou trop long"))
        siret = context.identifier("siret", str(general.get("siret") or ""), 14, siret_error, own)
        category = str(ege.get("categorieentiteGeographiqueExercice") or "").strip()
        coords = None
        for address in ege.get("adresse") or []:
            geo = address.get("coordonneesGeographique") if isinstance(address, dict) else None
            if isinstance(geo, dict):
                lon = _float(str(geo.get("directionLongitude") or ""))
                lat = _float(str(geo.get("directionLatitude") or ""))
                if lon is not None and lat is not None:
                    coords = (lon, lat, "WGS84", "FINESS+")
                    break
        department = self._department(index, ege.get("adresse"), own)
        if own:
            problems.extend(f"ege {finess or '?'} : {problem}" for problem in own)
            return None
        known = context.codes.categories.get(category)
        if known is None:
            self._unknown(_("Catégorie d'établissement « %(code)s »") % {"code": category}, index)
            return None
        if not known.health:
            self._ignore(_("Établissement hors du champ sanitaire (catégorie FINESS)"), index)
            return None
        if department is None:
            return None
        return _SiteRow(index, finess, ej, name, category, department, siret, coords)

    # Pass 2 --------------------------------------------------------------------------

    def write(self) -> None:
        now = timezone.now()
        ght_ids = self._write_ghts(now)
        touched = self._clear_memberships(now)
        for chunk in chunks(self._kept(), CHUNK_SIZE):
            ej_values: dict[str, dict[str, Any]] = {}
            for row, _sites in chunk:
                ght_code, support = self.membership.get(row.finess, ("", False))
                ej_values[row.finess] = {
                    **_ej_values(row, self.context.departments),
                    "ght_id": ght_ids[ght_code] if ght_code else None,
                    "is_ght_support": support,
                }
            current = dict(
                LegalEntity.objects.filter(finess__in=list(ej_values)).values_list(
                    "finess", "finess_category"
                )
            )
            for row, sites in chunk:
                if sites and not current.get(row.finess):
                    # The category of its first health establishment (rule E1 reads
                    # it); one already set is never replaced.
                    ej_values[row.finess]["finess_category"] = sites[0].category
            ids = upsert(
                LegalEntity,
                "finess",
                ej_values,
                now=now,
                counts=self.report.legal_entity,
                touched=touched,
            )
            site_values: dict[str, dict[str, Any]] = {}
            for row, sites in chunk:
                for site in sites:
                    x, y, system, source = site.coords or (None, None, "", "")
                    site_values[site.finess] = {
                        "name": site.name,
                        "category": site.category,
                        "department_id": self.context.departments[site.department][0],
                        "legal_entity_id": ids[row.finess],
                        "siret": site.siret,
                        "coord_x": x,
                        "coord_y": y,
                        "coord_system": system,
                        "coord_source": source,
                    }
            upsert(Site, "finess", site_values, now=now, counts=self.report.site)

    def _kept(self) -> Iterator[tuple[_EJRow, list[_SiteRow]]]:
        for section, index, item in self._sections():
            if section != "pmej" or not isinstance(item, dict):
                continue
            finess = clean_identifier(compact(str(self._ej_of(item).get("numFinessPm", ""))), 9)[0]
            if self.kept_ej.get(finess) != index:
                continue
            row, sites, _problems = self._parse_pmej(index, item, [])
            if row is None:
                raise ImportFileError(
                    _("Le fichier a changé pendant l'import : rien n'a été importé.")
                )
            yield row, sites

    def _write_ghts(self, now: Any) -> dict[str, int]:
        """The GHTs, in the region of their support (else of a member)."""
        values: dict[str, dict[str, Any]] = {}
        anchors: dict[str, str] = {}
        for finess, (code, support) in self.membership.items():
            if support or code not in anchors:
                anchors[code] = finess
        for plan in self.ghts.values():
            department = self.ej_departments[anchors[plan.code]]
            values[plan.code] = {
                "name": plan.name,
                "region_id": self.context.departments[department][1],
            }
        return upsert(GHT, "code", values, now=now, counts=self.report.ght)

    def _clear_memberships(self, now: Any) -> set[int]:
        """The file is the truth of the GHTs it lists: members it no longer lists leave
        them, and support flags it moves are cleared first (one support per GHT holds
        after every statement)."""
        if not self.ghts:
            return set()
        stale = LegalEntity.objects.filter(
            ght__code__in=list(self.ghts), is_ght_support=True
        ).exclude(finess__in=[f for f, (_g, s) in self.membership.items() if s])
        touched = set(stale.values_list("id", flat=True))
        leaving = LegalEntity.objects.filter(ght__code__in=list(self.ghts)).exclude(
            finess__in=list(self.membership)
        )
        touched |= set(leaving.values_list("id", flat=True))
        moved = LegalEntity.objects.filter(is_ght_support=True).filter(
            finess__in=[f for f, (_g, s) in self.membership.items() if not s]
        )
        touched |= set(moved.values_list("id", flat=True))
        if touched:
            LegalEntity.objects.filter(id__in=touched).update(is_ght_support=False, updated_at=now)
            leaving.update(ght=None)
            self.report.legal_entity.updated += (
                LegalEntity.objects.filter(id__in=touched)
                .exclude(finess__in=list(self.kept_ej))
                .count()
            )
        return touched


# --- Entry point -----------------------------------------------------------------------


def import_finess(*, raw: IO[bytes], layout: Layout, filename: str = "") -> ImportReport:
    report = ImportReport(filename=filename, file_format=format_label(layout.kind))
    importer: ExtractImporter | FinessPlusImporter
    if layout.kind == FINESS_PLUS:
        importer = FinessPlusImporter(raw, report)
    else:
        importer = ExtractImporter(raw, layout, report)
    importer.validate()
    if report.ok:
        # Pass 2 parses the same lines again: their notes are already in the report.
        importer.context.report = ImportReport()
        importer.context.checking = False
        with transaction.atomic(durable=True):
            importer.write()
    logger.info(
        "FINESS import %r (%s): %d rows, %d errors, ght %s, legal entities %s, sites %s",
        filename,
        layout.kind,
        report.rows,
        report.error_count,
        report.ght,
        report.legal_entity,
        report.site,
    )
    return report


def import_file(*, file: BinaryIO, filename: str = "") -> ImportReport:
    """Any directory file, recognised by content: the portal CSV or a FINESS file."""
    raw, _size, spooled = seekable(file, settings.IMPORT_MAX_FILE_SIZE)
    try:
        layout = detect_format(raw)
        if layout.kind == PORTAL_CSV:
            report = EstablishmentImporter(file=cast(BinaryIO, raw), filename=filename).run()
            report.file_format = format_label(PORTAL_CSV)
            return report
        return import_finess(raw=raw, layout=layout, filename=filename)
    finally:
        if spooled:
            raw.close()
