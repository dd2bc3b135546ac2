"""Helpers of the audit import tests: files built in memory, run through the services."""

import io
import json
import zipfile

from audits.services import audit_import_create, audit_import_run


def csv_bytes(header, rows, *, delimiter=";", bom=False):
    lines = [delimiter.join(header)]
    for row in rows:
        lines.append(delimiter.join(str(row.get(name, "")) for name in header))
    text = "\n".join(lines) + "\n"
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def json_bytes(items, *, wrap=None):
    data = {wrap: items} if wrap else items
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def zip_bytes(members):
    """members: {name: bytes}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def run_import(kind, content, filename, *, legal_entity=None, by=None):
    """Create the batch and process it now, as the task would."""
    batch = audit_import_create(
        kind=kind,
        uploaded_file=io.BytesIO(content),
        filename=filename,
        legal_entity=legal_entity,
        by=by,
    )
    return audit_import_run(batch=batch)
