"""The response that sends a piece of evidence; the view calling it checks the scope."""

from django.http import FileResponse, Http404

from .evidence import ALLOWED_CONTENT_TYPES, safe_filename
from .models import Evidence


def evidence_response(evidence: Evidence) -> FileResponse:
    """The stored file as an attachment, never rendered by the browser: the type found
    at upload, no sniffing, no caching, and a sandbox should it be opened anyway."""
    content_type = evidence.content_type
    if content_type not in ALLOWED_CONTENT_TYPES:
        content_type = "application/octet-stream"
    try:
        handle = evidence.file.storage.open(evidence.file.name, "rb")
    except FileNotFoundError:
        raise Http404("Evidence file missing from storage.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=safe_filename(evidence.original_name),
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
