"""The tabular import core: the directory import (establishments) and the Volet 1
import (audits) plug into it. It imports nothing from the apps.

- lines: encoding (UTF-8 with or without BOM, else Windows-1252 or Latin-1),
  delimiter (`;`, `,`, tab) and numbered physical lines;
- columns: declarative columns (name, French/English aliases, required, width),
  header resolution, and the repair of identifiers a spreadsheet mangled;
- sources: a file as a stream of records (line, values by column, problems):
  CSVSource, JSONSource, and `seekable` for uploads of any kind;
- report: ImportReport (created, updated, unchanged, refused lines);
- writer: chunking and change detection for bounded-memory batched writes;
- progress: live progress in the cache, final state on the batch row;
- models: ImportBatchBase, the abstract stored batch (status, counts, errors).

An app's import is a column set (a tuple of Column, or a subclass adding its own
fields), a row parser turning a record's values into model values or line
problems, and a writer upserting a chunk of parsed rows.

Adding a source format: write a class with `records()`, `location(line)`,
`fraction_done()` and `rows_total` (sources.Source), yielding Records keyed by the
column names, and choose it where the app picks its source (the Volet 1 import picks
by file format; PingCastle XML reports are such a source, in audits). Adding a
column set for another layout of the same data (another extract of the same
registry): declare its columns with aliases for the headers that layout uses, or a
new tuple of Column mapped to the same names, and the row parser and writer stay.
"""
