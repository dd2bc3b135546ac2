"""PingCastle health-check reports (the XML `ad_hc_<domain>.xml` PingCastle writes
beside its HTML report), alone or many in a zip, for the legal entity chosen at upload.

What is read (element names as PingCastle's `HealthcheckData` serializes them, the
same in the 2.x and 3.x formats): EngineVersion, DomainFQDN, GenerationDate,
GlobalScore, StaleObjectsScore, PrivilegiedGroupScore (sic), TrustScore, AnomalyScore,
MaturityLevel (written by recent engines only) and, under RiskRules, each
HealthcheckRiskRule's Points, Category, Model, RiskId and Rationale: every triggered
rule is stored (DirectoryAuditRule).

Maturity levels. PingCastle gives each rule an ANSSI maturity level in its own code,
not in the XML: the level comes from the table shipped with the portal
(audits/pingcastle_rules.py), or from the rule's own `MaturityLevel` element when a
report carries one. The domain's `MaturityLevel` is the headline; a report without one
(2.x) gets the lowest level of its triggered rules (`maturity_from_rules`). The counts
of findings by severity follow the rules' levels (1 -> critical, 2 -> high, 3 ->
medium, 4 and 5 -> low; rules of unknown level are not counted), never their points.

Safety: the XML is parsed by defusedxml with DTDs forbidden, so entity expansion
("billion laughs") and external entities (XXE) are refused before anything is read.
A zip is read member by member through `zipfile` with bounded reads, never extracted;
absolute or ".." names, nested archives, encrypted members, too many members, and
members too large or too compressed (zip bombs) are refused.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from typing import IO, Any, Protocol
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree as safe_etree
from django.utils.translation import gettext as _

from care_portal.errors import ImportFileError
from care_portal.imports.columns import MAX_INT, MAX_INT_DIGITS
from care_portal.imports.sources import Record

from .. import pingcastle_rules
from ..models import DirectoryAudit
from .columns import AD_COLUMNS

ROOT_ELEMENT = "HealthcheckData"
# Zip limits (docs/import-audits.md).
ZIP_MAX_MEMBERS = 200
ZIP_MAX_MEMBER_SIZE = 20 * 1024 * 1024  # uncompressed bytes of one report
ZIP_MAX_TOTAL_SIZE = 200 * 1024 * 1024  # uncompressed bytes of the whole archive
ZIP_MAX_RATIO = 100  # uncompressed / compressed, checked beyond ZIP_RATIO_FLOOR
ZIP_RATIO_FLOOR = 1024 * 1024
_ARCHIVE_SUFFIXES = (".zip", ".jar", ".7z", ".rar", ".gz", ".tgz", ".tar", ".bz2", ".xz")
_DRIVE = re.compile(r"^[A-Za-z]:")

# PingCastle element -> import column (the CSV names, audits/importers/columns.py).
_REPORT_FIELDS = {
    column.pingcastle_element: column.name for column in AD_COLUMNS if column.pingcastle_element
}
# Error messages name the PingCastle element, not the CSV column.
LABELS = {
    **{name: element for element, name in _REPORT_FIELDS.items()},
    "finess_ej": "finess",
    "constats_critiques": "RiskRules",
    "constats_eleves": "RiskRules",
    "constats_moyens": "RiskRules",
    "constats_faibles": "RiskRules",
}
SEVERITY_COLUMNS = {
    "critical": "constats_critiques",
    "high": "constats_eleves",
    "medium": "constats_moyens",
    "low": "constats_faibles",
}
MAX_RULES = 2000  # a report lists about 100 rules at most
MAX_RULE_TEXT = 4000  # characters of a rationale kept


@dataclass(frozen=True)
class RuleRecord:
    """A triggered rule as read from a report, with its level (None: unknown)."""

    risk_id: str
    category: str
    model: str
    points: int
    rationale: str
    maturity_level: int | None


class ReportValues(dict[str, str]):
    """A report's values under the import's column names, and its triggered rules."""

    rules: list[RuleRecord]
    engine_version: str
    maturity_from_rules: bool


def _nested_archive_message() -> str:
    return _("archive imbriquée refusée : placez les rapports XML directement dans le zip")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ReportError(Exception):
    """One report cannot be read; the message says why, in French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def rule_severity(*, level: int | None) -> str | None:
    """The severity of a triggered rule: its maturity level decides (module docstring)."""
    return pingcastle_rules.severity(level)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _int(text: str | None) -> int | None:
    """A rule's number, or None when it is none or too large to be one (int() would
    refuse more than 4,300 digits)."""
    text = (text or "").strip()
    if not (text.isdigit() and text.isascii()) or len(text.lstrip("0")) > MAX_INT_DIGITS:
        return None
    return int(text)


def _text(element: Any, name: str, limit: int) -> str:
    return (element.findtext(name) or "").strip()[:limit]


def _rule(element: Any) -> RuleRecord | None:
    risk_id = _text(element, "RiskId", 100)
    if not risk_id:
        return None
    level = _int(element.findtext("MaturityLevel"))
    if level is None or not 1 <= level <= pingcastle_rules.BEST_LEVEL:
        level = pingcastle_rules.table_level(risk_id)
    points = _int(element.findtext("Points"))
    return RuleRecord(
        risk_id=risk_id,
        category=_text(element, "Category", 50),
        model=_text(element, "Model", 100),
        points=min(points or 0, MAX_INT),
        rationale=_text(element, "Rationale", MAX_RULE_TEXT).replace("\x00", ""),
        maturity_level=level,
    )


def rules_fingerprint(rules: list[RuleRecord]) -> str:
    """A digest of the rules, so that a re-import of the same report is unchanged."""
    digest = hashlib.sha256()
    for rule in sorted(rules, key=lambda r: (r.risk_id, r.category, r.model, r.points)):
        digest.update(repr(astuple(rule)).encode())
    return digest.hexdigest()


def read_report(stream: _Readable, *, finess: str) -> ReportValues:
    """The report's values under the import's column names; raises ReportError."""
    fields: dict[str, str] = {}
    rules: list[RuleRecord] = []
    engine = ""
    path: list[str] = []  # tags from the root to the current element
    try:
        for event, element in safe_etree.iterparse(
            stream, events=("start", "end"), forbid_dtd=True
        ):
            tag = _local(element.tag)
            if event == "start":
                if not path and tag != ROOT_ELEMENT:
                    raise ReportError(
                        _(
                            "ce n'est pas un rapport PingCastle (élément racine « %(tag)s », "
                            "« %(expected)s » attendu)"
                        )
                        % {"tag": tag, "expected": ROOT_ELEMENT}
                    )
                path.append(tag)
                continue
            path.pop()
            depth = len(path)  # of the element's parent
            if depth == 1 and tag in _REPORT_FIELDS:
                fields[_REPORT_FIELDS[tag]] = (element.text or "").strip()
            elif depth == 1 and tag == "EngineVersion":
                engine = (element.text or "").strip()[:40]
            elif depth == 2 and tag == "HealthcheckRiskRule" and path[1] == "RiskRules":
                rule = _rule(element)
                if rule is not None and len(rules) < MAX_RULES:
                    rules.append(rule)
            if depth >= 1 and not (depth >= 3 and path[2] == "HealthcheckRiskRule"):
                # Free what was read: a full report lists every account and GPO.
                element.clear()
    except defusedxml.DefusedXmlException:
        raise ReportError(
            _(
                "déclaration DTD ou entité XML refusée : un rapport PingCastle n'en contient "
                "pas (protection contre l'expansion d'entités et les entités externes)"
            )
        ) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise ReportError(
            _("XML mal formé (ligne %(line)d, colonne %(column)d)")
            % {"line": line, "column": column + 1}
        ) from None
    level = fields.get("niveau_maturite", "").strip()
    derived = level in ("", "0")  # 0: PingCastle did not compute it; absent in 2.x
    if derived:
        computed = pingcastle_rules.domain_level(rule.maturity_level for rule in rules)
        level = "" if computed is None else str(computed)
    severities = Counter(
        pingcastle_rules.severity(rule.maturity_level)
        for rule in rules
        if rule.maturity_level is not None
    )
    values = ReportValues(
        {
            **fields,
            # GenerationDate is an ISO date-time (2025-03-14T10:22:31.1234567+01:00).
            "date_audit": fields.get("date_audit", "")[:10],
            "niveau_maturite": level,
            "finess_ej": finess,
            "outil": DirectoryAudit.Tool.PINGCASTLE.value,
            **{column: str(severities[severity]) for severity, column in SEVERITY_COLUMNS.items()},
        }
    )
    values.rules = rules
    values.engine_version = engine
    values.maturity_from_rules = derived and bool(level)
    return values


class PingCastleXMLSource:
    """One XML report: one audit."""

    rows_total: int | None = 1

    def __init__(self, raw: IO[bytes], *, finess: str, filename: str) -> None:
        self.raw = raw
        self.finess = finess
        self.filename = filename
        self.done = False

    def location(self, line: int) -> str:
        return _("fichier %(name)s") % {"name": self.filename}

    def fraction_done(self) -> float:
        return 1.0 if self.done else 0.0

    def records(self) -> Iterator[Record]:
        self.raw.seek(0)
        try:
            yield 1, read_report(self.raw, finess=self.finess), []
        except ReportError as exc:
            yield 1, None, [exc.message]
        self.done = True


class _BoundedReader:
    """A zip member read through a byte budget: a member whose header lies about
    its size is stopped at the limit, not decompressed to the end."""

    def __init__(self, member: IO[bytes], limit: int) -> None:
        self.member = member
        self.limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        want = self.limit + 1 - self.count if size < 0 else min(size, self.limit + 1 - self.count)
        data = self.member.read(max(want, 1))
        self.count += len(data)
        if self.count > self.limit:
            raise ReportError(
                _("taille décompressée supérieure à %(max)d Mo : archive refusée")
                % {"max": self.limit // (1024 * 1024)}
            )
        return data


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f}"


class PingCastleZipSource:
    """A zip of XML reports: one audit per member, each for the chosen entity."""

    def __init__(self, raw: IO[bytes], *, finess: str) -> None:
        self.finess = finess
        raw.seek(0)
        try:
            self.archive = zipfile.ZipFile(raw)
            infos = [info for info in self.archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
            raise ImportFileError(_("L'archive zip est illisible ou corrompue.")) from None
        if not infos:
            raise ImportFileError(_("L'archive zip ne contient aucun fichier."))
        if len(infos) > ZIP_MAX_MEMBERS:
            raise ImportFileError(
                _("L'archive contient %(count)d fichiers : %(max)d au plus.")
                % {"count": len(infos), "max": ZIP_MAX_MEMBERS}
            )
        declared = sum(info.file_size for info in infos)
        if declared > ZIP_MAX_TOTAL_SIZE:
            raise ImportFileError(
                _(
                    "L'archive décompressée ferait %(size)s Mo : %(max)s Mo au plus "
                    "(protection contre les bombes zip)."
                )
                % {"size": _mb(declared), "max": _mb(ZIP_MAX_TOTAL_SIZE)}
            )
        self.infos = infos
        self.rows_total: int | None = len(infos)
        self.read_members = 0
        self.budget = ZIP_MAX_TOTAL_SIZE

    def location(self, line: int) -> str:
        return _("fichier %(name)s") % {"name": self.infos[line - 1].filename[:200]}

    def fraction_done(self) -> float:
        return self.read_members / len(self.infos)

    def _refusal(self, info: zipfile.ZipInfo) -> str | None:
        name = info.filename
        parts = re.split(r"[/\\]", name)
        if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
            return _("chemin refusé (absolu ou contenant « .. »)")
        if name.lower().endswith(_ARCHIVE_SUFFIXES):
            return _nested_archive_message()
        if info.flag_bits & 0x1:
            return _("fichier chiffré refusé")
        if not name.lower().endswith(".xml"):
            return _("seuls les rapports XML de PingCastle (.xml) sont acceptés")
        if info.file_size > ZIP_MAX_MEMBER_SIZE:
            return _("taille décompressée de %(size)s Mo : %(max)s Mo au plus par rapport") % {
                "size": _mb(info.file_size),
                "max": _mb(ZIP_MAX_MEMBER_SIZE),
            }
        if info.file_size > ZIP_RATIO_FLOOR and info.file_size > ZIP_MAX_RATIO * max(
            info.compress_size, 1
        ):
            return _(
                "taux de compression supérieur à %(ratio)d : fichier refusé "
                "(protection contre les bombes zip)"
            ) % {"ratio": ZIP_MAX_RATIO}
        return None

    def records(self) -> Iterator[Record]:
        try:
            for index, info in enumerate(self.infos, start=1):
                self.read_members = index - 1
                refusal = self._refusal(info)
                if refusal:
                    yield index, None, [refusal]
                    continue
                try:
                    values = self._read(info)
                except ReportError as exc:
                    yield index, None, [exc.message]
                    continue
                yield index, values, []
            self.read_members = len(self.infos)
        finally:
            self.archive.close()

    def _read(self, info: zipfile.ZipInfo) -> ReportValues:
        limit = min(ZIP_MAX_MEMBER_SIZE, self.budget)
        try:
            with self.archive.open(info) as member:
                head = member.read(4)
                if head == b"PK\x03\x04":
                    raise ReportError(_nested_archive_message())
                reader = _BoundedReader(member, limit)
                reader.count = len(head)
                values = read_report(_Prefixed(head, reader), finess=self.finess)
                self.budget -= reader.count
                return values
        except (
            zipfile.BadZipFile,
            zlib.error,  # a corrupt deflate stream
            OSError,
            EOFError,
            NotImplementedError,
            RuntimeError,
        ):
            raise ReportError(_("fichier illisible dans l'archive (corrompu ou chiffré)")) from None


class _Prefixed:
    """Bytes already read, then the rest of a stream."""

    def __init__(self, head: bytes, rest: _BoundedReader) -> None:
        self.head = head
        self.rest = rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            return head
        return self.rest.read(size)
