"""Read the files of a landing partition into Arrow tables, never losing a row.

CSV columns are read as text so that a bad value becomes a row-level finding instead of a
failed file; Parquet keeps its own types. Bytes that are not UTF-8 are cut out line by
line and kept as undecodable rows. Names starting with ``_`` or ``.`` are producer markers
(``_SUCCESS``) or temporary files and are listed, not read.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from include import storage

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class LandedFile:
    name: str
    uri: str
    format: str  # csv, parquet, marker, unsupported
    size: int
    rows: int = 0
    status: str = "read"  # read, empty, marker, unreadable, unsupported
    message: str = ""
    columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in ("name", "uri", "format", "size", "rows", "status", "message", "columns")
        }


@dataclass
class UndecodableRow:
    file: str
    row: int
    text: str
    reason: str


@dataclass
class LandedBatch:
    files: list[LandedFile]
    tables: list[tuple[LandedFile, pa.Table]]  # one table per readable file, same row order as the file
    undecodable: list[UndecodableRow]
    raw_bytes: dict[str, bytes]  # bytes of unreadable files, preserved in quarantine


def _format_of(name: str) -> str:
    if name.startswith(("_", ".")):
        return "marker"
    for suffix, fmt in FORMATS.items():
        if name.lower().endswith(suffix):
            return fmt
    return "unsupported"


def _strip_non_utf8(name: str, data: bytes) -> tuple[bytes, list[int], list[UndecodableRow]]:
    """Drop lines that are not UTF-8; return the kept bytes, the original data-row number of
    each kept data row, and the dropped rows. Only used when the whole file does not decode."""
    lines = data.split(b"\n")
    kept, row_numbers, bad = [lines[0]], [], []
    for index, line in enumerate(lines[1:], start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(
                UndecodableRow(
                    name,
                    index,
                    line.decode("utf-8", "backslashreplace"),
                    f"row is not valid UTF-8 (byte 0x{line[exc.start]:02X} at column {exc.start + 1})",
                )
            )
            continue
        kept.append(line)
        if line.strip():
            row_numbers.append(index)
    return b"\n".join(kept), row_numbers, bad


def _read_csv(entry: LandedFile, data: bytes) -> tuple[pa.Table | None, list[UndecodableRow]]:
    undecodable: list[UndecodableRow] = []
    row_numbers = None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data, row_numbers, undecodable = _strip_non_utf8(entry.name, data)
    header = data.split(b"\n", 1)[0].decode("utf-8").strip()
    if not header:
        entry.status, entry.message = "empty", "file has no header line"
        return None, undecodable
    names = next(csv.reader([header]))
    if len(set(names)) != len(names):
        entry.status, entry.message = "unreadable", f"header repeats a column name: {names}"
        return None, undecodable
    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(use_threads=True, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )
    rows = pa.array(row_numbers if row_numbers is not None else range(1, table.num_rows + 1), pa.int64())
    return table.append_column(SOURCE_ROW, rows), undecodable


def _read_parquet(data: bytes) -> pa.Table:
    table = pq.read_table(io.BytesIO(data))
    return table.append_column(SOURCE_ROW, pa.array(range(1, table.num_rows + 1), pa.int64()))


def read_partition(directory) -> LandedBatch:
    """Read every file of a landing partition directory (an ObjectStoragePath)."""
    batch = LandedBatch(files=[], tables=[], undecodable=[], raw_bytes={})
    for path in storage.list_files(directory):
        entry = LandedFile(name=path.name, uri=storage.describe(path), format=_format_of(path.name), size=0)
        batch.files.append(entry)
        if entry.format == "marker":
            entry.status, entry.message = "marker", "producer marker or temporary file, not data"
            continue
        data = storage.read_bytes(path)
        entry.size = len(data)
        if entry.format == "unsupported":
            entry.status = "unsupported"
            entry.message = f"unsupported file type (expected one of {', '.join(FORMATS)})"
            batch.raw_bytes[entry.name] = data
            continue
        if not data.strip():
            entry.status, entry.message = "empty", "file is empty (0 data bytes)"
            continue
        try:
            if entry.format == "csv":
                table, undecodable = _read_csv(entry, data)
                batch.undecodable.extend(undecodable)
            else:
                table = _read_parquet(data)
        except (pa.ArrowInvalid, pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            entry.status = "unreadable"
            entry.message = f"cannot parse {entry.format}: {exc}".replace("\n", " ")[:500]
            batch.raw_bytes[entry.name] = data
            continue
        if table is None:
            continue
        entry.rows = table.num_rows
        entry.columns = [c for c in table.column_names if c != SOURCE_ROW]
        table = table.append_column(SOURCE_FILE, pa.array([entry.name] * table.num_rows, pa.string()))
        batch.tables.append((entry, table))
    return batch
