"""Read a sample of landed files as ingestion would: CSV as text, Parquet with its own types.

The files are read here with the same Arrow options as ``include.ingestion.reader`` rather than
through it: the reader lists storage through Airflow, and a draft should run anywhere in a
second without creating an Airflow home.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa

from include.contract.draft.errors import DraftError
from include.ingestion.coerce import coerce

_PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Piece:
    """One landed file's values of one column."""

    batch: str  # the dt= partition the file lands in, else the file itself
    csv: bool
    values: pa.Array


@dataclass
class Sample:
    """What a path holds: every readable file's columns, by header."""

    path: Path
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: why"
    headers: list[str] = field(default_factory=list)  # first-seen order
    pieces: dict[str, list[Piece]] = field(default_factory=dict)
    file_headers: dict[str, list[str]] = field(default_factory=dict)
    batch_rows: Counter = field(default_factory=Counter)
    batch_day: dict[str, date | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.batch_rows.values())

    def missing_from(self, header: str) -> list[str]:
        return [f for f, h in self.file_headers.items() if header not in h]


def _is_marker_path(relative: str) -> bool:
    """A producer marker or temporary file (``_SUCCESS``, ``.tmp``), as ingestion skips it."""
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def _format_of(name: str) -> str | None:
    lower = name.lower().removesuffix(".gz")
    return next((fmt for suffix, fmt in _FORMATS.items() if lower.endswith(suffix)), None)


def _partition_day(path: Path) -> date | None:
    for part in reversed(path.parts):
        match = _PARTITION.match(part)
        if match:
            try:
                return date.fromisoformat(match.group(1))
            except ValueError:
                return None
    return None


def _read_csv(name: str, data: bytes, sample: Sample) -> pa.Table | None:
    """As ingestion reads a CSV: every column as text, only the empty field is null."""
    import pyarrow.csv as pacsv

    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        lines = data.split(b"\n")
        kept = [lines[0]] + [line for line in lines[1:] if _utf8(line)]
        sample.notes.append(
            f"{name}: {len(lines) - len(kept)} line(s) are not UTF-8 and were left out "
            "(ingestion quarantines them as encoding)"
        )
        data = b"\n".join(kept)
    header = data.split(b"\n", 1)[0].decode("utf-8").strip()
    if not header:
        sample.skipped.append(f"{name}: no header line")
        return None
    names = next(csv.reader([header]))
    if any(not n.strip() for n in names) or len(set(names)) != len(names):
        sample.skipped.append(
            f"{name}: the header has an empty or repeated column name ({names}); ingestion refuses the file"
        )
        return None
    return pacsv.read_csv(
        io.BytesIO(data),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _listing(path: Path) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(path.name, path)]
    if not path.is_dir():
        raise DraftError(f"{path} is neither a file nor a folder")
    found = []
    for current, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for f in files:
            full = Path(current) / f
            found.append((full.relative_to(path).as_posix(), full))
    return sorted(found)


def read_sample(path: Path | str) -> Sample:
    """Every data file at ``path`` (a file, or a folder at any depth), as ingestion would read it."""
    import pyarrow.parquet as pq

    path = Path(path)
    sample = Sample(path)
    for relative, full in _listing(path):
        if _is_marker_path(relative):
            sample.skipped.append(f"{relative}: a producer marker or temporary file (ingestion skips it)")
            continue
        if full.is_symlink():
            sample.skipped.append(f"{relative}: a symbolic link (ingestion refuses it)")
            continue
        fmt = _format_of(relative)
        data = full.read_bytes()
        try:
            if data.startswith(b"\x1f\x8b"):
                data = gzip.decompress(data)
            if fmt is None:
                sample.skipped.append(f"{relative}: not CSV or Parquet (ingestion rejects the batch)")
                continue
            if not data.strip():
                sample.skipped.append(f"{relative}: empty")
                continue
            table = _read_csv(relative, data, sample) if fmt == "csv" else pq.read_table(io.BytesIO(data))
        except (OSError, EOFError, zlib.error, pa.ArrowException, UnicodeDecodeError) as exc:
            sample.skipped.append(f"{relative}: cannot be read ({str(exc).splitlines()[0][:200]})")
            continue
        if table is None:
            continue
        day = _partition_day(full)
        batch = f"dt={day.isoformat()}" if day else relative
        sample.files.append(relative)
        sample.file_headers[relative] = list(table.column_names)
        sample.batch_rows[batch] += table.num_rows
        sample.batch_day[batch] = day
        for header in table.column_names:
            if header not in sample.pieces:
                sample.headers.append(header)
                sample.pieces[header] = []
            values = table.column(header).combine_chunks()
            if pa.types.is_dictionary(values.type):
                values = values.dictionary_decode()
            sample.pieces[header].append(Piece(batch, fmt == "csv", values))
    if not sample.files:
        why = "; ".join(sample.skipped) or "the folder is empty"
        raise DraftError(f"{path}: no CSV or Parquet file could be read ({why})")
    return sample


def timestamps(sample: Sample, header: str) -> list[tuple[str, pa.Array]]:
    """A column's values read as timestamps, batch by batch."""
    return [(p.batch, coerce(p.values, "timestamp").values) for p in sample.pieces[header]]
