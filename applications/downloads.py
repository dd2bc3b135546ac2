"""The responses that send a private file (a piece of evidence, a rendered PDF); the
view calling them checks the scope."""

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404

from .evidence import ALLOWED_CONTENT_TYPES, safe_filename
from .models import Dossier, Evidence


def private_file_response(
    field_file: FieldFile, *, filename: str, content_type: str
) -> FileResponse:
    """A stored file as an attachment, never rendered by the browser: the given type,
    no sniffing, no caching, and a sandbox should it be opened anyway. A file missing
    from storage is a 404, not a 500."""
    name = field_file.name
    if not name:
        raise Http404("No file stored.")
    try:
        handle = field_file.storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("File missing from storage.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=safe_filename(filename), content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def evidence_response(evidence: Evidence) -> FileResponse:
    """A piece of evidence, with the type found at upload (when still an allowed one)."""
    content_type = evidence.content_type
    if content_type not in ALLOWED_CONTENT_TYPES:
        content_type = "application/octet-stream"
    return private_file_response(
        evidence.file, filename=evidence.original_name, content_type=content_type
    )


def dossier_response(dossier: Dossier) -> FileResponse:
    """A rendered dossier or decision letter, named after the application."""
    return private_file_response(
        dossier.file,
        filename=f"{dossier.application.reference}-{dossier.kind}-v{dossier.version}.pdf",
        content_type="application/pdf",
    )
