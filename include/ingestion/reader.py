"""Read the files of a landing partition into Arrow tables, never losing a row.

CSV columns are read as text so that a bad value becomes a row-level finding instead of a
failed file; Parquet keeps its own types. Bytes that are not UTF-8 are cut out line by
line and kept as undecodable rows. Every file at any depth is read, named by its path below
the partition (``late/part2.csv``); a path with a segment starting with ``_`` or ``.`` is a
producer marker (``_SUCCESS``, ``_temporary/``) or a temporary file and is listed, not read.
Links and what resolves outside the storage root are listed as refused and never read.
Gzip-compressed files (``.csv.gz``, or gzip bytes under any name) are read decompressed.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from include import settings as settings_module
from include import storage
from include.errors import MlopsError

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
GZIP_MAGIC = b"\x1f\x8b"
# Arrow parses a CSV in blocks of this size; quoted newlines are tracked across blocks.
CSV_BLOCK_BYTES = 1 << 24


@dataclass
class LandedFile:
    name: str
    uri: str
    format: str  # csv, parquet, marker, unsupported
    size: int
    rows: int = 0
    status: str = "read"  # read, empty, marker, unreadable, unsupported, refused
    message: str = ""
    columns: list[str] = field(default_factory=list)
    compression: str | None = None  # "gzip" when the landed bytes were compressed
    sha256: str | None = None  # of the landed bytes, for each file that was read
    state: storage.FileState | None = field(default=None, repr=False)  # size and mtime before the read

    def as_dict(self) -> dict:
        keys = (
            "name",
            "uri",
            "format",
            "compression",
            "size",
            "sha256",
            "rows",
            "status",
            "message",
            "columns",
        )
        return {k: getattr(self, k) for k in keys}


class LandingChanged(MlopsError, RuntimeError):
    """A landed file changed while the run read it (a producer still writing): nothing was
    committed, and a retry once the file has settled reads it whole."""


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
    directory: object = None  # the landing partition (an ObjectStoragePath)
    paths: dict[str, object] = field(default_factory=dict)  # relative name -> path of every listed file

    def verify_unchanged(self, settings: settings_module.Settings | None = None) -> None:
        """Raise LandingChanged when a file read has since changed size or mtime, or the
        partition lists a file it did not: what was read is not what the producer landed."""
        changed = []
        for entry in self.files:
            if entry.state is None:
                continue
            try:
                now = storage.file_state(self.paths[entry.name])
            except storage.StorageError:
                changed.append(f"{entry.uri} (gone)")
                continue
            if now != entry.state:
                changed.append(f"{entry.uri} ({entry.state.size} -> {now.size} bytes)")
        if self.directory is not None:
            listed = {f.relative for f in storage.list_tree(self.directory, settings)}
            changed += [
                f"{storage.describe(self.directory / n)} (new)" for n in sorted(listed - set(self.paths))
            ]
        if changed:
            raise LandingChanged(
                f"{len(changed)} landed file(s) changed while the run read them: {', '.join(changed)}; "
                "nothing was committed, retry once the producer has finished"
            )


def is_marker(relative: str) -> bool:
    """A producer marker or temporary file: a segment of its path starts with ``_`` or ``.``."""
    return any(segment.startswith(("_", ".")) for segment in relative.split("/"))


def _format_of(name: str) -> str:
    if is_marker(name):
        return "marker"
    lower = name.lower().removesuffix(".gz")
    for suffix, fmt in FORMATS.items():
        if lower.endswith(suffix):
            return fmt
    return "unsupported"


def _decompressed(entry: LandedFile, data: bytes) -> bytes:
    """The bytes of a gzip member, whatever the file is called."""
    if not data.startswith(GZIP_MAGIC):
        if entry.name.lower().endswith(".gz"):
            raise OSError("named .gz but not gzip-compressed")
        return data
    entry.compression = "gzip"
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise OSError(f"gzip-compressed but cannot be decompressed ({exc})") from exc


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
    blank = [n for n, name in enumerate(names, start=1) if not name.strip()]
    if blank:
        entry.status = "unreadable"
        entry.message = (
            f"header has an empty column name at position(s) {', '.join(map(str, blank))} of "
            f"{len(names)} (a trailing comma?)"
        )
        return None, undecodable
    if len(set(names)) != len(names):
        entry.status, entry.message = "unreadable", f"header repeats a column name: {names}"
        return None, undecodable
    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(use_threads=True, block_size=CSV_BLOCK_BYTES),
        # A quoted value may hold a newline (RFC 4180): the same verdict at any offset of the file.
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )
    rows = pa.array(row_numbers if row_numbers is not None else range(1, table.num_rows + 1), pa.int64())
    return table.append_column(SOURCE_ROW, rows), undecodable


def _is_nested(type_: pa.DataType) -> bool:
    if pa.types.is_dictionary(type_):
        return _is_nested(type_.value_type)
    return pa.types.is_nested(type_) or pa.types.is_union(type_)


def _read_parquet(entry: LandedFile, data: bytes) -> pa.Table | None:
    table = pq.read_table(io.BytesIO(data))
    nested = [f for f in table.schema if _is_nested(f.type)]
    if nested:
        # No contract dtype holds a struct, list or map: refuse the file, never flatten or guess.
        entry.status = "unreadable"
        entry.message = "; ".join(
            f"{entry.uri} column {f.name} has Arrow type {f.type}; no contract dtype holds a nested value"
            for f in nested
        )[:500]
        return None
    return table.append_column(SOURCE_ROW, pa.array(range(1, table.num_rows + 1), pa.int64()))


def read_partition(directory, settings: settings_module.Settings | None = None) -> LandedBatch:
    """Read every file below a landing partition directory (an ObjectStoragePath)."""
    batch = LandedBatch(files=[], tables=[], undecodable=[], raw_bytes={}, directory=directory)
    for found in storage.list_tree(directory, settings):
        entry = LandedFile(
            name=found.relative, uri=storage.describe(found.path), format=_format_of(found.relative), size=0
        )
        batch.files.append(entry)
        batch.paths[entry.name] = found.path
        if found.refused:
            entry.status, entry.message = (
                "refused",
                f"{found.relative} {found.refused}; nothing of it was read",
            )
            continue
        if entry.format == "marker":
            entry.status, entry.message = "marker", "producer marker or temporary file, not data"
            continue
        entry.state = storage.file_state(found.path)
        landed = storage.read_bytes(found.path)
        entry.size, entry.sha256 = len(landed), hashlib.sha256(landed).hexdigest()
        if entry.size != entry.state.size:
            raise LandingChanged(
                f"{entry.uri} changed while it was read ({entry.state.size} bytes listed, {entry.size} read); "
                "nothing was committed, retry once the producer has finished"
            )
        try:
            data = _decompressed(entry, landed)
        except OSError as exc:
            entry.status, entry.message = "unreadable", str(exc)
            batch.raw_bytes[entry.name] = landed
            continue
        if entry.format == "unsupported":
            entry.status = "unsupported"
            entry.message = (
                "gzip-compressed, " if entry.compression else ""
            ) + f"unsupported file type (expected one of {', '.join(FORMATS)}, optionally .gz)"
            batch.raw_bytes[entry.name] = landed
            continue
        if not data.strip():
            entry.status, entry.message = "empty", "file is empty (0 data bytes)"
            continue
        try:
            if entry.format == "csv":
                table, undecodable = _read_csv(entry, data)
                batch.undecodable.extend(undecodable)
            else:
                table = _read_parquet(entry, data)
                if table is None:
                    batch.raw_bytes[entry.name] = landed
                    continue
        except (pa.ArrowInvalid, pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            entry.status = "unreadable"
            entry.message = f"cannot parse {entry.format}: {exc}".replace("\n", " ")[:500]
            batch.raw_bytes[entry.name] = landed
            continue
        if table is None:
            continue
        entry.rows = table.num_rows
        entry.columns = [c for c in table.column_names if c != SOURCE_ROW]
        table = table.append_column(SOURCE_FILE, pa.array([entry.name] * table.num_rows, pa.string()))
        batch.tables.append((entry, table))
    return batch
