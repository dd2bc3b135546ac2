"""The private media storage (evidence, dossiers, import files): a file is written whole
or not at all."""

import contextlib
import os
from typing import Any

from django.core.files.storage import FileSystemStorage


class PrivateFileSystemStorage(FileSystemStorage):
    """A write that fails (disk full, quota, I/O error) removes what it had written before
    raising, so that no partial file stays behind, without a row pointing to it.

    The names saved here are made by the server and unique (a random part): a file found
    at the name after a failed write is the one this write began."""

    def _save(self, name: str, content: Any) -> str:
        full_path = self.path(name)
        existed = os.path.lexists(full_path)
        try:
            return super()._save(name, content)  # type: ignore[misc]
        except OSError:
            if not existed:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(full_path)
            raise
