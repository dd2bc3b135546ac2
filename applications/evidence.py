"""Evidence uploaded with an application: its checks (name, type by content, size,
quota, active content), its storage, and adding, superseding or deleting it
(`evidence_add`, `evidence_delete`).

Evidence uploaded before a submission may be deleted by the applicant; once it went to
the reviewers (with a submission or an objective declaration) it is never erased, only
superseded by a new version (`evidence_add(replaces=…)`), and stays visible to the
reviewers marked "remplacée le …".

An upload is accepted only when its extension is allowed *and* its content is what the
extension says; PDFs with active content, office files with macros and spreadsheets
(CSV, XLSX, ODS) whose formulas call a program or an external source (DDE, web
services, hyperlinks, external links) are refused with a French message that names the
file and the reason. `evidence_add` calls
`inspect_upload`, `store_upload` and `check_application_quota`, then creates the
`Evidence` row.
"""

import codecs
import errno
import hashlib
import html
import logging
import re
import struct
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TypeGuard, cast
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as safe_etree
import pikepdf
from defusedxml import DefusedXmlException
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts import audit
from care_portal.errors import ApplicationError, CarePortalError

from .drafting import editing, require_editor
from .lifecycle import Status
from .models import Answer, Application, Evidence, Transition

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
MAX_NAME_LENGTH = 150  # Evidence.original_name
FALLBACK_STEM = "piece-jointe"

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "csv": "text/csv",
    "txt": "text/plain",
}
ALLOWED_EXTENSIONS = frozenset(CONTENT_TYPES)
# Text types carry the charset found at upload (see _check_text).
ALLOWED_CONTENT_TYPES = frozenset(
    {*CONTENT_TYPES.values()}
    | {
        f"{CONTENT_TYPES[ext]}; charset={charset}"
        for ext in ("csv", "txt")
        for charset in ("utf-8", "windows-1252")
    }
)
ALLOWED_FORMATS_LABEL = "PDF, ODT, ODS, DOCX, XLSX, PNG, JPEG, CSV, TXT"

# Archive limits (zip bombs): checked on the central directory before anything is
# inflated, and reads of the few parts we look at are capped as well.
ZIP_MAX_MEMBERS = 2000
ZIP_MAX_TOTAL_SIZE = 100 * 1024 * 1024
ZIP_MAX_RATIO = 100
# Below this size a high ratio cannot make a bomb (and small XML parts compress well).
ZIP_RATIO_FLOOR = 1024 * 1024
ZIP_MAX_PART_READ = 2 * 1024 * 1024
# Decoders of the people who open evidence must not be asked for absurd bitmaps.
IMAGE_MAX_PIXELS = 100_000_000

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
ZIP_SIGNATURE = b"PK\x03\x04"
PDF_SIGNATURE = b"%PDF-"

OOXML_MAIN_PARTS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
ODF_MIMETYPES = {"odt": CONTENT_TYPES["odt"], "ods": CONTENT_TYPES["ods"]}

# Unsafe in a file name on some system or in a header; the rest is kept (accents…).
_UNSAFE_CHARS = re.compile(r"[\"'`<>:|?*;]")
_WHITESPACE = re.compile(r"\s+")
_DIRECTORY_SEPARATORS = re.compile(r"[\\/]")
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}
)

# OOXML: macro and ActiveX parts, by content type ([Content_Types].xml) or by
# relationship type (*.rels): vbaProject, vbaData, macroEnabled, macrosheet, activeX.
_OOXML_ACTIVE = re.compile(r"vba|macro|activex", re.IGNORECASE)
_OOXML_ACTIVE_PARTS = frozenset({"vbaproject.bin", "vbaprojectsignature.bin", "vbadata.xml"})
_XML_TYPE_ATTRIBUTE = re.compile(r"\b(?:ContentType|Type)\s*=\s*([\"'])(.*?)\1", re.DOTALL)
# ODF: macro libraries live in Basic/ and Scripts/; Basic/*-lc.xml are only their
# (possibly empty) indexes, each library being other files. Events bound to macros are
# <…:event-listener> elements.
_ODF_SCRIPT_DIRS = frozenset({"basic", "scripts"})
_ODF_LIBRARY_INDEXES = frozenset({("basic", "script-lc.xml"), ("basic", "dialog-lc.xml")})
_ODF_EVENT_LISTENER = b"event-listener"
_ODF_SCANNED_PARTS = ("content.xml", "styles.xml")

# C0 controls that no text file carries (tab, LF, VT, FF, CR, SUB and ESC are allowed).
_TEXT_FORBIDDEN_BYTES = re.compile(rb"[\x00-\x08\x0e-\x19\x1c-\x1f]")

# Spreadsheet formulas that reach outside the workbook: run a program (DDE, as in
# =cmd|' /C calc'!A0, or the DDE() function), call a library or a macro sheet's code,
# fetch or send data over the network (web services, hyperlinks, imports, images by
# URL). Refused in CSV, XLSX and ODS evidence; ordinary formulas (=SUM(A1:A3)) are not.
# Names may be prefixed (_xlfn. in XLSX, of: or ORG.OPENOFFICE. in ODS): \b still
# matches after the dot or colon.
_EXTERNAL_FUNCTIONS = re.compile(
    r"\b(HYPERLINK|WEBSERVICE|IMPORTXML|IMPORTDATA|IMPORTHTML|IMPORTFEED"
    r"|IMPORTRANGE|IMAGE|DDE|DDEAUTO|CALL|REGISTER|REGISTER\.ID|EXEC|RTD|SQL\.REQUEST"
    r"|FOPEN|FREAD|FWRITE)\s*\(",
    re.IGNORECASE,
)
# DDE: application|topic!item, the application and topic possibly quoted.
_DDE_REFERENCE = re.compile(r"""[\w.'"\]]\s*\|[^|]*!""")
# A CSV cell a spreadsheet reads as a formula: at the start of a line or after a
# separator, maybe after spaces and a quote, one of = + - @ (or their full-width forms).
_CSV_FORMULA_START = re.compile(r"""(?:^|[,;\t])[ \t]*"?[ \t\r]*[=+\-@\uff1d\uff0b\uff0d\uff20]""")
_CSV_MAX_LINE = 1024 * 1024  # a longer "line" is scanned whole anyway, in pieces
# XLSX parts that link to other sources: DDE and OLE links, other workbooks, data
# connections (web queries, ODBC) and their query tables.
_XLSX_EXTERNAL_PARTS = re.compile(r"^xl/(externallinks/|connections\.xml$|querytables/)")
_XLSX_SHEET = re.compile(r"^xl/(worksheets|macrosheets|dialogsheets|chartsheets)/[^/]+\.xml$")
# DOCX parts that carry field codes, and the fields that run a program (DDE links).
_DOCX_FIELD_PARTS = re.compile(r"^word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml$")
_DOCX_DDE_FIELD = re.compile(r"\bDDE(?:AUTO)?\b", re.IGNORECASE)
# ODF elements that link a cell range or a table to another source (DDE, other files).
_ODF_EXTERNAL_ELEMENTS = frozenset(
    {"dde-source", "dde-link", "dde-connection-decl", "table-source", "cell-range-source"}
)

# PDF active content (ISO 32000: 12.6.4 actions, 7.11.4 embedded files, 12.7.8 XFA).
_PDF_JAVASCRIPT = "javascript"
_PDF_LAUNCH = "launch"
_PDF_EMBEDDED = "embedded"
_PDF_XFA = "xfa"
_PDF_RICH_MEDIA = "rich_media"
_PDF_KEYS = {
    "/JS": _PDF_JAVASCRIPT,
    "/JavaScript": _PDF_JAVASCRIPT,
    "/EmbeddedFiles": _PDF_EMBEDDED,
    "/EF": _PDF_EMBEDDED,
    "/XFA": _PDF_XFA,
    "/RichMediaContent": _PDF_RICH_MEDIA,
}
_PDF_TYPE_VALUES = {  # values of /S (action type), /Type and /Subtype
    "/JavaScript": _PDF_JAVASCRIPT,
    "/Launch": _PDF_LAUNCH,
    "/GoToE": _PDF_EMBEDDED,
    "/EmbeddedFile": _PDF_EMBEDDED,
    "/RichMedia": _PDF_RICH_MEDIA,
    "/RichMediaExecute": _PDF_RICH_MEDIA,
}
_PDF_TYPE_KEYS = ("/S", "/Type", "/Subtype")
# Raw scan, a second opinion on what qpdf may have skipped while repairing a file:
# name tokens, with their #xx escapes decoded (/J#61vaScript is /JavaScript).
_PDF_RAW_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]{1,40})")
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_RAW_NAMES = {
    b"JS": _PDF_JAVASCRIPT,
    b"JavaScript": _PDF_JAVASCRIPT,
    b"Launch": _PDF_LAUNCH,
    b"EmbeddedFile": _PDF_EMBEDDED,
    b"EmbeddedFiles": _PDF_EMBEDDED,
    b"GoToE": _PDF_EMBEDDED,
    b"XFA": _PDF_XFA,
    b"RichMedia": _PDF_RICH_MEDIA,
}
_PDF_TAIL = 1024  # %%EOF must be in the last 1024 bytes (ISO 32000 7.5.5)


class EvidenceRejected(CarePortalError):
    """An upload refused, with a message naming the (neutralised) file and the reason."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        if name:
            message = _("Le fichier « %(name)s » est refusé : %(reason)s") % {
                "name": name,
                "reason": reason,
            }
        else:
            message = _("Fichier refusé : %(reason)s") % {"reason": reason}
        super().__init__(message)


class EvidenceNotStored(CarePortalError):
    """An accepted upload that the storage could not write (disk full, I/O error):
    nothing was kept, the user may send it again later."""

    def __init__(self, name: str, error: OSError) -> None:
        self.name = name
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = _("l'espace de stockage des pièces du portail est momentanément plein.")
        else:
            reason = _("le stockage des pièces du portail est momentanément indisponible.")
        message = _(
            "Le fichier « %(name)s » n'a pas été enregistré : %(reason)s Rien n'a été "
            "conservé ; envoyez-le de nouveau dans quelques instants."
        ) % {"name": name, "reason": reason}
        super().__init__(message)


class EvidenceKept(ApplicationError):
    """A deletion refused: the file went to the reviewers and is kept for the record."""

    def __init__(self, evidence: Evidence, sent: datetime) -> None:
        super().__init__(
            _(
                "La pièce « %(name)s » a été transmise aux instructeurs le %(date)s : elle "
                "ne peut plus être supprimée. Pour la corriger, déposez une nouvelle version "
                "en choisissant de remplacer cette pièce ; l'ancienne restera consultable, "
                "marquée comme remplacée."
            )
            % {
                "name": evidence.original_name,
                "date": formats.date_format(timezone.localtime(sent), "DATETIME_FORMAT"),
            }
        )


@dataclass(frozen=True)
class InspectedFile:
    safe_name: str
    extension: str
    content_type: str
    size: int
    sha256: str

    def evidence_fields(self, stored_as: str) -> dict[str, Any]:
        """The fields of the Evidence row of this file, stored as `stored_as`."""
        return {
            "file": stored_as,
            "original_name": self.safe_name,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


def safe_filename(name: str) -> str:
    """A file name safe to store, show and send in a header, derived from the user's.

    Keeps the base name only (either separator), removes control and bidi characters
    ("facture<U+202E>fdp.exe" is displayed "factureexe.pdf"), replaces characters unsafe
    in names or headers, and truncates to 150 characters keeping the extension.
    """
    base = _DIRECTORY_SEPARATORS.split(name)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(
        " " if c.isspace() else c
        for c in base
        if c.isspace() or not unicodedata.category(c).startswith("C")
    )
    base = _UNSAFE_CHARS.sub("_", base)
    # Trailing dots and spaces are dropped by Windows, which would change the extension.
    base = _WHITESPACE.sub(" ", base).strip().rstrip(". ")
    stem, dot, extension = base.rpartition(".")
    extension = extension.strip()
    if not dot or not extension.isalnum() or len(extension) > 10:
        stem, extension = base, ""
    extension = extension.lower()
    stem = stem.lstrip(". ").rstrip(". ")
    if stem.upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    suffix = f".{extension}" if extension else ""
    stem = stem[: MAX_NAME_LENGTH - len(suffix)].rstrip(". ") or FALLBACK_STEM
    return stem + suffix


def storage_name(extension: str) -> str:
    """A server-generated storage name, never derived from what the user sent.

    Store it with `store_upload` (or `default_storage.save`), not with
    `FieldFile.save`, which would prefix the field's upload_to a second time.
    """
    now = timezone.localtime()
    return f"evidence/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.{extension}"


def store_upload(file: IO[bytes], inspected: InspectedFile) -> str:
    """Write an inspected upload to private storage; returns the name for `Evidence.file`.

    A write that fails (disk full…) leaves no partial file (the storage removes it) and
    raises `EvidenceNotStored`, whose message tells the user to send the file again."""
    file.seek(0)
    name = storage_name(inspected.extension)
    try:
        return default_storage.save(name, File(file))
    except OSError as error:
        logger.error("Evidence not stored (%s bytes as %s): %s", inspected.size, name, error)
        raise EvidenceNotStored(inspected.safe_name, error) from error


def check_application_quota(
    application: "Application", incoming_size: int, *, name: str = ""
) -> None:
    """Refuse an upload that would take the application over its total evidence size
    (one aggregate query). `name` is the safe name, for the message.

    The caller serialises concurrent uploads to one application (lock its row) when it
    needs the bound to be exact.
    """
    from .models import Evidence

    limit = settings.EVIDENCE_MAX_APPLICATION_SIZE
    totals = Evidence.objects.filter(application=application).aggregate(total=Sum("size"))
    used = totals["total"] or 0
    if used + incoming_size > limit:
        raise EvidenceRejected(
            name,
            _(
                "les pièces justificatives d'une candidature ne peuvent dépasser %(limit)s "
                "au total (%(used)s déjà déposés)."
            )
            % {"limit": filesizeformat(limit), "used": filesizeformat(used)},
        )


def inspect_upload(file: IO[bytes], *, name: str) -> InspectedFile:
    """Check an upload and describe it; raises `EvidenceRejected` with the reason.

    The file is read in chunks (SHA-256, size) and its content must match its
    extension; PDFs and office files are then checked for active content. The file is
    left rewound.
    """
    safe_name = safe_filename(name)
    extension = safe_name.rpartition(".")[2] if "." in safe_name else ""
    if extension not in ALLOWED_EXTENSIONS:
        raise EvidenceRejected(
            safe_name,
            _("ce type de fichier n'est pas accepté (formats acceptés : %(formats)s).")
            % {"formats": ALLOWED_FORMATS_LABEL},
        )
    limit = settings.EVIDENCE_MAX_FILE_SIZE
    declared = getattr(file, "size", None)
    if isinstance(declared, int) and declared > limit:
        raise _too_large(safe_name, limit)

    digest = hashlib.sha256()
    size = 0
    head = b""
    tail = b""
    file.seek(0)
    while chunk := file.read(CHUNK_SIZE):
        size += len(chunk)
        if size > limit:
            raise _too_large(safe_name, limit)
        digest.update(chunk)
        if len(head) < CHUNK_SIZE:
            head += chunk[: CHUNK_SIZE - len(head)]
        tail = (tail + chunk)[-_PDF_TAIL:]
    if size == 0:
        raise EvidenceRejected(safe_name, _("le fichier est vide."))

    content_type = CONTENT_TYPES[extension]
    try:
        if extension == "pdf":
            _check_pdf(file, safe_name, head, tail)
        elif extension in OOXML_MAIN_PARTS or extension in ODF_MIMETYPES:
            _check_office(file, safe_name, extension, head)
        elif extension == "png":
            _check_png(safe_name, head)
        elif extension in ("jpg", "jpeg"):
            _check_jpeg(file, safe_name, head)
        else:
            charset = _check_text(file, safe_name)
            content_type = f"{content_type}; charset={charset}"
            if extension == "csv":
                _check_csv_formulas(file, safe_name, charset)
    finally:
        file.seek(0)
    return InspectedFile(
        safe_name=safe_name,
        extension=extension,
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
    )


def _too_large(name: str, limit: int) -> EvidenceRejected:
    return EvidenceRejected(
        name,
        _("il dépasse la taille maximale de %(limit)s par fichier.")
        % {"limit": filesizeformat(limit)},
    )


def _mismatch(name: str, extension: str) -> EvidenceRejected:
    return EvidenceRejected(
        name,
        _("son contenu ne correspond pas à un fichier %(format)s.") % {"format": extension.upper()},
    )


# PDF -----------------------------------------------------------------------------------


def _pdf_reason(kind: str) -> str:
    reasons = {
        _PDF_JAVASCRIPT: _("il contient du JavaScript."),
        _PDF_LAUNCH: _("il contient une action qui lance un programme ou ouvre un fichier."),
        _PDF_EMBEDDED: _("il contient des fichiers incorporés (pièces jointes au PDF)."),
        _PDF_XFA: _("il contient un formulaire dynamique (XFA)."),
        _PDF_RICH_MEDIA: _("il contient un contenu multimédia actif."),
    }
    return "{} {}".format(
        reasons[kind],
        _("Imprimez-le en PDF (ou exportez-le en PDF simple) puis déposez-le à nouveau."),
    )


def _check_pdf(file: IO[bytes], name: str, head: bytes, tail: bytes) -> None:
    if not head.startswith(PDF_SIGNATURE):
        raise _mismatch(name, "pdf")
    unreadable = EvidenceRejected(name, _("fichier PDF illisible ou endommagé."))
    if b"%%EOF" not in tail:  # truncated: an interrupted upload or a damaged file
        raise unreadable
    file.seek(0)
    try:
        with pikepdf.open(cast("BinaryIO", file)) as pdf:
            if len(pdf.pages) == 0:
                raise unreadable
            found = _pdf_active_content(pdf)
    except pikepdf.PasswordError:
        raise EvidenceRejected(
            name,
            _(
                "il est protégé par un mot de passe et ne peut pas être vérifié. "
                "Déposez une version sans mot de passe."
            ),
        ) from None
    except (pikepdf.PikepdfError, RecursionError, ValueError, RuntimeError):
        raise unreadable from None
    if found is None:
        found = _pdf_raw_active_content(file)
    if found is not None:
        raise EvidenceRejected(name, _pdf_reason(found))


def _pdf_active_content(pdf: pikepdf.Pdf) -> str | None:
    """Every object of the file (object streams included, names unescaped by qpdf),
    each walked through its direct sub-objects without recursion."""
    for root in pdf.objects:
        stack = [root]
        while stack:
            obj = stack.pop()
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                for key in obj.keys():  # noqa: SIM118 - pikepdf objects are not dicts
                    if key in _PDF_KEYS:
                        return _PDF_KEYS[key]
                    value = obj.get(key)
                    if key in _PDF_TYPE_KEYS and isinstance(value, pikepdf.Name):
                        kind = _PDF_TYPE_VALUES.get(str(value))
                        if kind is not None:
                            return kind
                    if _is_direct_container(value):
                        stack.append(value)
            elif isinstance(obj, pikepdf.Array):
                stack.extend(item for item in obj if _is_direct_container(item))
    return None


def _is_direct_container(value: object) -> TypeGuard[pikepdf.Object]:
    """Indirect objects are walked from `pdf.objects`; scalars come back as Python
    values (int, Decimal, bool), names and strings have nothing inside."""
    return isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect


def _pdf_raw_active_content(file: IO[bytes]) -> str | None:
    """Chunked; a name starting in the last 64 bytes of a window (longer than any name
    token matched) is left for the next window, so that none is seen cut."""
    window = b""
    file.seek(0)
    while True:
        chunk = file.read(CHUNK_SIZE)
        window += chunk
        end = max(len(window) - 64, 0) if chunk else len(window)
        for match in _PDF_RAW_NAME.finditer(window, 0, len(window)):
            if match.start() >= end:
                break
            token = _PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), match[1])
            if token in _PDF_RAW_NAMES:
                return _PDF_RAW_NAMES[token]
        if not chunk:
            return None
        window = window[end:]


# Office documents (OOXML and ODF) -------------------------------------------------------


def _check_office(file: IO[bytes], name: str, extension: str, head: bytes) -> None:
    if not head.startswith(ZIP_SIGNATURE):
        raise _mismatch(name, extension)
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            infos = _checked_members(archive, name)
            members = {info.filename for info in infos}
            if extension in OOXML_MAIN_PARTS:
                _check_ooxml(archive, name, extension, members)
            else:
                _check_odf(archive, name, extension, members)
    except EvidenceRejected:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
        raise EvidenceRejected(name, _("document illisible ou endommagé.")) from exc
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        # Unsupported compression or an encrypted member: nothing can be checked.
        raise EvidenceRejected(name, _("document illisible ou protégé.")) from exc


def _checked_members(archive: zipfile.ZipFile, name: str) -> list[zipfile.ZipInfo]:
    """The central directory, checked before anything is inflated."""
    infos = archive.infolist()
    if len(infos) > ZIP_MAX_MEMBERS:
        raise EvidenceRejected(name, _("le document contient trop d'éléments."))
    bomb = EvidenceRejected(
        name, _("le document se décompresse en un volume anormal (bombe de décompression).")
    )
    total = 0
    for info in infos:
        member = info.filename.replace("\\", "/")
        if (
            member.startswith("/")
            or re.match(r"^[A-Za-z]:", member)
            or ".." in PurePosixPath(member).parts
            or "\x00" in member
        ):
            raise EvidenceRejected(name, _("le document contient un chemin interdit."))
        if info.flag_bits & 0x1:
            raise EvidenceRejected(name, _("le document est chiffré et ne peut être vérifié."))
        total += info.file_size
        if total > ZIP_MAX_TOTAL_SIZE:
            raise bomb
        if info.file_size > ZIP_RATIO_FLOOR and info.file_size > ZIP_MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise bomb
    return infos


def _read_part(archive: zipfile.ZipFile, member: str, name: str) -> bytes:
    """A small part, read with a cap whatever its header declares."""
    with archive.open(member) as part:
        data = part.read(ZIP_MAX_PART_READ + 1)
    if len(data) > ZIP_MAX_PART_READ:
        raise EvidenceRejected(name, _("le document contient un élément anormalement grand."))
    return data


def _xml_text(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8", "replace")


def _macros(name: str) -> EvidenceRejected:
    return EvidenceRejected(
        name,
        _(
            "il contient des macros ou des contrôles actifs. Enregistrez-le sans macros "
            "(ou exportez-le en PDF) puis déposez-le à nouveau."
        ),
    )


def _check_ooxml(archive: zipfile.ZipFile, name: str, extension: str, members: set[str]) -> None:
    if "[Content_Types].xml" not in members or OOXML_MAIN_PARTS[extension] not in members:
        raise _mismatch(name, extension)
    for member in members:
        lowered = member.lower()
        if PurePosixPath(lowered).name in _OOXML_ACTIVE_PARTS or re.match(
            r"^(word|xl)/(activex|macrosheets)/", lowered
        ):
            raise _macros(name)
    # Content types and relationship types name macro parts whatever the part is called.
    for member in sorted(members):
        if member == "[Content_Types].xml" or member.endswith(".rels"):
            text = _xml_text(_read_part(archive, member, name))
            for match in _XML_TYPE_ATTRIBUTE.finditer(text):
                if _OOXML_ACTIVE.search(html.unescape(match[2])):
                    raise _macros(name)
    if extension == "xlsx":
        _check_xlsx_formulas(archive, name, members)
    else:
        _check_docx_fields(archive, name, members)


def _check_odf(archive: zipfile.ZipFile, name: str, extension: str, members: set[str]) -> None:
    if "mimetype" not in members:
        raise _mismatch(name, extension)
    mimetype = _read_part(archive, "mimetype", name)[:200].strip()
    if mimetype != ODF_MIMETYPES[extension].encode():
        raise _mismatch(name, extension)
    for member in members:
        parts = PurePosixPath(member.lower()).parts
        if member.endswith("/") or parts[-2:] in _ODF_LIBRARY_INDEXES:
            continue
        if any(part in _ODF_SCRIPT_DIRS for part in parts[:-1]):
            raise _macros(name)
    for member in _ODF_SCANNED_PARTS:
        if member in members and _odf_has_event_listener(archive, member):
            raise _macros(name)
    _check_odf_formulas(archive, name, members)  # spreadsheets, and text's DDE links


def _odf_has_event_listener(archive: zipfile.ZipFile, member: str) -> bool:
    """Streamed: content.xml may be large; its inflated size was bounded above."""
    overlap = b""
    with archive.open(member) as part:
        while chunk := part.read(CHUNK_SIZE):
            window = overlap + chunk
            if _ODF_EVENT_LISTENER in window:
                return True
            overlap = window[-len(_ODF_EVENT_LISTENER) :]
    return False


# Formulas and fields calling outside (CSV, XLSX, ODS; DDE in DOCX, ODT) -------------------


def _external_formula(name: str, what: str) -> EvidenceRejected:
    return EvidenceRejected(
        name,
        _(
            "il contient des formules qui appellent un programme ou une source externe "
            "(%(what)s). Enregistrez le tableau avec les valeurs seules, sans ces "
            "formules (ou exportez-le en PDF), puis déposez-le à nouveau."
        )
        % {"what": what},
    )


def _formula_danger(formula: str) -> str | None:
    """What reaches outside in a formula's text (a function name, or "DDE"), or None."""
    found = _EXTERNAL_FUNCTIONS.search(formula)
    if found:
        return found[1].upper()
    if _DDE_REFERENCE.search(formula):
        return "DDE"
    return None


def _check_csv_formulas(file: IO[bytes], name: str, charset: str) -> None:
    """Every cell a spreadsheet would read as a formula is checked, up to the end of its
    line (a formula's arguments hold separators). Streamed, line by line."""
    decoder = codecs.getincrementaldecoder("utf-8-sig" if charset == "utf-8" else "cp1252")(
        errors="replace"
    )
    pending = ""
    file.seek(0)
    while True:
        chunk = file.read(CHUNK_SIZE)
        pending += decoder.decode(chunk, final=not chunk)
        lines = pending.splitlines(keepends=True)
        # The last line may go on in the next chunk (unless too long to wait for).
        pending = lines.pop() if chunk and lines and len(lines[-1]) < _CSV_MAX_LINE else ""
        for line in lines:
            _check_csv_line(line, name)
        if not chunk:
            if pending:
                _check_csv_line(pending, name)
            return


def _check_csv_line(line: str, name: str) -> None:
    for start in _CSV_FORMULA_START.finditer(line):
        danger = _formula_danger(line[start.end() - 1 :])
        if danger:
            raise _external_formula(name, danger)


def _check_xlsx_formulas(archive: zipfile.ZipFile, name: str, members: set[str]) -> None:
    for member in sorted(members):
        lowered = member.lower()
        if _XLSX_EXTERNAL_PARTS.match(lowered):
            raise _external_formula(name, _("liaison externe"))
        if _XLSX_SHEET.match(lowered):
            for element in _xml_elements(archive, member, name):
                if _local_name(element.tag) == "f" and element.text:
                    danger = _formula_danger(element.text)
                    if danger:
                        raise _external_formula(name, danger)


def _check_odf_formulas(archive: zipfile.ZipFile, name: str, members: set[str]) -> None:
    for member in _ODF_SCANNED_PARTS:
        if member not in members:
            continue
        for element in _xml_elements(archive, member, name):
            if _local_name(element.tag) in _ODF_EXTERNAL_ELEMENTS:
                raise _external_formula(name, _("liaison externe"))
            for attribute, value in element.attrib.items():
                if _local_name(attribute) == "formula":
                    danger = _formula_danger(value)
                    if danger:
                        raise _external_formula(name, danger)


def _check_docx_fields(archive: zipfile.ZipFile, name: str, members: set[str]) -> None:
    """A DDE field (DDE, DDEAUTO) runs a program when the document is opened. Field
    codes may be split over several runs: each part's codes are read as one text."""
    for member in sorted(members):
        if not _DOCX_FIELD_PARTS.match(member.lower()):
            continue
        codes: list[str] = []
        for element in _xml_elements(archive, member, name):
            tag = _local_name(element.tag)
            if tag == "instrText" and element.text:
                codes.append(element.text)
            elif tag == "fldSimple":
                codes.extend(v for k, v in element.attrib.items() if _local_name(k) == "instr")
        if _DOCX_DDE_FIELD.search(" ".join(codes)) or _DOCX_DDE_FIELD.search("".join(codes)):
            raise _external_formula(name, "DDE")


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _xml_elements(archive: zipfile.ZipFile, member: str, name: str) -> Iterator[Any]:
    """The elements of an XML part, streamed (its inflated size was bounded above),
    parsed without DTDs nor entities (billion laughs, XXE); each is cleared once seen."""
    try:
        with archive.open(member) as part:
            for _event, element in safe_etree.iterparse(part, events=("end",), forbid_dtd=True):
                yield element
                element.clear()
    except (ParseError, DefusedXmlException) as exc:
        raise EvidenceRejected(name, _("document illisible ou endommagé.")) from exc


# Images --------------------------------------------------------------------------------


def _too_many_pixels(name: str) -> EvidenceRejected:
    return EvidenceRejected(name, _("les dimensions de l'image sont anormales."))


def _check_png(name: str, head: bytes) -> None:
    if not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise _mismatch(name, "png")
    width, height = struct.unpack(">II", head[16:24])
    if not width or not height or width * height > IMAGE_MAX_PIXELS:
        raise _too_many_pixels(name)


# Start-of-frame markers, which carry the dimensions (ITU T.81, table B.1).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _check_jpeg(file: IO[bytes], name: str, head: bytes) -> None:
    if not head.startswith(JPEG_SIGNATURE):
        raise _mismatch(name, "jpeg")
    dimensions = _jpeg_dimensions(file)
    if dimensions is None:
        raise EvidenceRejected(name, _("image JPEG illisible ou endommagée."))
    width, height = dimensions
    if not width or not height or width * height > IMAGE_MAX_PIXELS:
        raise _too_many_pixels(name)


def _jpeg_dimensions(file: IO[bytes]) -> tuple[int, int] | None:
    """Walk the marker segments up to the frame header, skipping their bodies."""
    file.seek(2)
    for _segment in range(1000):
        byte = file.read(1)
        if byte != b"\xff":
            return None
        marker = file.read(1)
        while marker == b"\xff":  # fill bytes
            marker = file.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _JPEG_STANDALONE:
            continue
        raw_length = file.read(2)
        if len(raw_length) < 2:
            return None
        (length,) = struct.unpack(">H", raw_length)
        if code in _JPEG_SOF:
            frame = file.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        if code == 0xDA or length < 2:  # image data before any frame header
            return None
        file.seek(length - 2, 1)
    return None


# Text ----------------------------------------------------------------------------------


def _check_text(file: IO[bytes], name: str) -> str:
    """The charset of a text file: UTF-8 (BOM allowed), else Windows-1252/Latin-1,
    which decodes any byte; either way no NUL or other binary control bytes."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    charset = "utf-8"
    file.seek(0)
    while chunk := file.read(CHUNK_SIZE):
        if _TEXT_FORBIDDEN_BYTES.search(chunk):
            raise EvidenceRejected(
                name, _("ce n'est pas un fichier texte (il contient des caractères binaires).")
            )
        if charset == "utf-8":
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                charset = "windows-1252"
    if charset == "utf-8":
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            charset = "windows-1252"
    return charset


# --- Adding and deleting evidence ------------------------------------------------------


def evidence_add(
    *,
    application: Application,
    answer: Answer | None,
    uploaded_file: Any,
    by: "User",
    replaces: Evidence | None = None,
) -> Evidence:
    """Check an uploaded file (type by content, active content, size, quota) and store
    it under a server-generated name in private storage, with its SHA-256.

    With `replaces` (a current file of the same answer), the new file supersedes it:
    the old one is kept, marked "remplacée le …", never erased."""
    require_editor(application, by)  # fail fast, before reading the file
    if answer is not None and answer.application_id != application.pk:
        raise ApplicationError(_("Cette réponse n'appartient pas à la candidature."))
    if replaces is not None and (
        replaces.application_id != application.pk or replaces.answer_id != answer_id(answer)
    ):
        raise ApplicationError(_("La pièce à remplacer n'appartient pas à cette exigence."))
    inspected = inspect_upload(uploaded_file, name=getattr(uploaded_file, "name", "") or "")
    stored_as = store_upload(uploaded_file, inspected)
    try:
        # The row lock also keeps two uploads at once from both passing the quota.
        with editing(application, by):
            check_application_quota(application, inspected.size, name=inspected.safe_name)
            evidence = Evidence(
                application=application,
                answer=answer,
                uploaded_by=by,
                **inspected.evidence_fields(stored_as),
            )
            evidence._history_user = by  # type: ignore[attr-defined]  # field history's author
            evidence.save(force_insert=True)
            if replaces is not None:
                _supersede(replaces, evidence, by)
            return evidence
    except BaseException:
        default_storage.delete(stored_as)  # nothing half-written
        raise


def answer_id(answer: Answer | None) -> int | None:
    return answer.pk if answer is not None else None


def _supersede(old: Evidence, new: Evidence, by: "User") -> None:
    """Mark `old` superseded by `new`, unless another upload did so first (the caller
    holds the application's row; the file's row is locked and read again). Saved, not
    updated in bulk, so that the field history records it with its author."""
    current = Evidence.objects.select_for_update().filter(pk=old.pk).first()
    if current is None or current.superseded_at is not None:
        raise ApplicationError(
            _("La pièce « %(name)s » a déjà été remplacée : rechargez la page.")
            % {"name": old.original_name}
        )
    current.superseded_at, current.superseded_by = new.created_at, new
    current._history_user = by  # type: ignore[attr-defined]
    current.save(update_fields=["superseded_at", "superseded_by", "updated_at"])
    old.superseded_at, old.superseded_by = current.superseded_at, new


def transmitted_at(evidence: Evidence) -> datetime | None:
    """When the file first went to the reviewers (the first submission of the
    application, or declaration of its objectives, after the upload), or None if it
    never did. One query."""
    first = (
        Transition.objects.filter(
            application_id=evidence.application_id,
            to_status__in=(Status.SUBMITTED, Status.OBJECTIVES_DECLARED),
            created_at__gte=evidence.created_at,
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return first


def evidence_delete(*, evidence: Evidence, by: "User") -> None:
    with editing(evidence.application, by):
        evidence_remove(evidence=evidence, by=by)


def evidence_remove(*, evidence: Evidence, by: "User") -> None:
    """Delete a file's row (audited) in the caller's transaction, which checked the
    user may; the stored file goes once that transaction has committed.

    Only a file that never went to the reviewers may go: one transmitted with a
    submission (or an objective declaration) is refused with `EvidenceKept`."""
    sent = transmitted_at(evidence)
    if sent is not None:
        raise EvidenceKept(evidence, sent)
    name = evidence.file.name
    audit.record(
        audit.Action.EVIDENCE_DELETED,
        actor=by,
        obj=evidence.application,
        file=evidence.original_name,
        sha256=evidence.sha256,
    )
    evidence._history_user = by  # type: ignore[attr-defined]
    evidence.delete()
    transaction.on_commit(lambda: default_storage.delete(name), robust=True)
