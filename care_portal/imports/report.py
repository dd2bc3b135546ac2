"""What an import did: rows read, objects created, updated or unchanged, and every
refused line with its number (only the first MAX_STORED_ERRORS kept, all counted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# At most this many row errors are kept for display; all of them are counted.
MAX_STORED_ERRORS = 1000


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    where: str = ""  # "ligne 12", "élément 3", "fichier rapport.xml"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "where": self.where, "message": self.message}


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport(Counts):
    filename: str = ""
    rows: int = 0
    rows_total: int | None = None
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_error: str = ""  # the file as a whole could not be read

    @property
    def ok(self) -> bool:
        return self.error_count == 0 and not self.file_error

    @property
    def errors_truncated(self) -> bool:
        return self.error_count > len(self.errors)

    def add_error(self, line: int, message: str, where: str = "") -> None:
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append(RowError(line, message, where))
