"""Draft a contract from landed files (``python -m include.contract draft PATH --name NAME``).

A landed file, or a folder of them at any depth (CSV read as text, as ingestion reads it;
Parquet with its own types; both optionally gzip-compressed), is profiled column by column: the
dtype its values fit (judged by ingestion's own converter, ``include.ingestion.coerce``), the
range, the levels of a category with their counts, the null rate per batch, and the markers a
producer writes for a missing value (``?``, ``NA``, ``-``...). The flags name the roles; the
rest is guessed, and every guess a person must confirm is marked ``CHECK`` in the YAML. A
column it cannot place (mixed values that fit no dtype, no value at all) is listed at the top
and returned in ``Draft.unplaced``; it is declared as text outside the model, so the drafted
contract still ingests the files it was drafted from.

The files are read here with the same Arrow options as ``include.ingestion.reader`` rather than
through it: the reader lists storage through Airflow, and a draft should run anywhere in a
second without creating an Airflow home.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import re
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from include.contract import _NAME, SOURCE_MAX_CHARS, ContractError, _yaml_scalar, parse, suggest_name
from include.ingestion.coerce import coerce

# What producers write for a missing value. Read as null only in CSV files (Parquet has nulls).
MARKERS = (
    "?", "??", "NA", "N/A", "n/a", "na", "#N/A", "-", "--", "null", "NULL", "Null", "None", "none",
    "nan", "NaN", "NAN", "missing", "MISSING",
)  # fmt: skip
BOOL_WORDS = {"true", "false", "t", "f", "yes", "no", "y", "n"}
MAX_LEVELS = 100  # more distinct values than this and text is free text, not a category
FEW_NUMBERS = 12  # an int column with at most this many values may be codes: say so
RANGE_MARGIN = 0.10  # share of the observed span added below the minimum and above the maximum
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_LEADING_ZERO = re.compile(r"^\s*[+-]?0\d")
_DATE = re.compile(
    r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)?\s*$"
)
_PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_ID_WORDS = {"id", "key", "uuid", "guid", "number", "no", "nr", "ref", "code"}
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_RESERVED = ("_source_file", "_source_row")


class DraftError(ValueError):
    """The files or the flags do not allow a draft; the message says what to pass or fix."""


# ------------------------------------------------------------------------------------ reading
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


# ---------------------------------------------------------------------------------- profiling
@dataclass
class Profile:
    """What one column's values say."""

    header: str
    name: str
    dtype: str  # the guess; "string" for a column that cannot be placed
    rows: int
    nulls: int  # empty fields, Parquet nulls and markers
    batch_null_rates: dict[str, float]
    markers: dict[str, int] = field(default_factory=dict)  # CSV marker -> count
    guessed_markers: tuple[str, ...] = ()  # punctuation read as missing, not a conventional marker
    levels: list[tuple[str, int]] = field(default_factory=list)  # text levels, most frequent first
    distinct: int = 0
    low: float | None = None
    high: float | None = None
    numbers: list[float] | None = None  # the distinct numbers, when few
    first: str = ""  # timestamps: earliest and latest, ISO
    last: str = ""
    unplaced: str = ""  # why the column could not be typed (it is then declared as text)
    unsupported: bool = False  # a Parquet type nothing reads: left out of the contract
    text_kind: str = ""  # "category" or "free text" for text columns
    nonfinite: int = 0  # Parquet NaN or infinite numbers, which ingestion quarantines

    @property
    def present(self) -> int:
        return self.rows - self.nulls


def _text(array: pa.Array) -> pa.Array:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array.cast(pa.string())
    return pc.cast(array, pa.string())


def _counts(array: pa.Array) -> dict[str, int]:
    if not len(array):
        return {}
    counted = pc.value_counts(pc.drop_null(array)).to_pylist()
    return {entry["values"]: int(entry["counts"]) for entry in counted}


def _without(piece: Piece, markers: set[str]) -> pa.Array:
    """A piece's values with the CSV markers read as null (Parquet values stay as landed)."""
    values = piece.values
    if not piece.csv or not markers:
        return values
    hit = pc.fill_null(pc.is_in(values, pa.array(sorted(markers), pa.string())), False)
    return pc.if_else(hit, pa.scalar(None, pa.string()), values)


def _fits(array: pa.Array, dtype: str) -> bool:
    """Whether ingestion would accept every present value of ``array`` as ``dtype``."""
    coerced = coerce(array, dtype)
    if coerced.type_bad.any() or coerced.fractional.any():
        return False
    if coerced.floats is not None:
        present = array.is_valid().to_numpy(zero_copy_only=False)
        if not np.isfinite(coerced.floats[present]).all():
            return False
    return True


def _typed(array: pa.Array) -> str | None:
    """The dtype every present text value fits, or None (text)."""
    distinct = list(_counts(array))
    if not distinct:
        return None
    words = {v.strip().lower() for v in distinct}
    if words <= BOOL_WORDS | {"0", "1"} and words - {"0", "1"} and _fits(array, "bool"):
        return "bool"
    if any(_LEADING_ZERO.match(v) for v in distinct):
        return None  # codes such as 02134: text, or the zeros would be lost
    if all(_INT.match(v) for v in distinct) and _fits(array, "int"):
        return "int"
    if not any(_DATE.match(v) for v in distinct) and _fits(array, "float"):
        return "float"
    if all(_DATE.match(v) for v in distinct) and _fits(array, "timestamp"):
        return "timestamp"
    return None


def _native(values: pa.DataType) -> str | None:
    if pa.types.is_boolean(values):
        return "bool"
    if pa.types.is_integer(values):
        return "int"
    if pa.types.is_floating(values) or pa.types.is_decimal(values):
        return "float"
    if pa.types.is_timestamp(values) or pa.types.is_date(values):
        return "timestamp"
    if pa.types.is_string(values) or pa.types.is_large_string(values):
        return "text"
    if pa.types.is_null(values):
        return "null"
    return None


def _numbers_like(share_of: dict[str, int]) -> float:
    """Share of the values (by rows) that read as numbers or timestamps."""
    total = sum(share_of.values())
    if not total:
        return 0.0
    typed = 0
    for value, count in share_of.items():
        stripped = value.strip()
        if _DATE.match(stripped):
            typed += count
            continue
        try:
            number = float(stripped)
        except ValueError:
            continue
        typed += count if math.isfinite(number) else 0
    return typed / total


def profile(header: str, name: str, pieces: list[Piece]) -> Profile:
    """Guess one column's dtype, range, levels, nulls and markers from its landed values."""
    rows = sum(len(p.values) for p in pieces)
    kinds = {_native(p.values.type) for p in pieces if not p.csv}
    csv_counts: Counter[str] = Counter()
    for p in pieces:
        if p.csv:
            csv_counts.update(_counts(p.values))
    if None in kinds:
        types = sorted({str(p.values.type) for p in pieces if not p.csv})
        why = f"Parquet type {', '.join(types)} is none of the contract's dtypes; left out of the contract"
        return Profile(header, name, "string", rows, rows, {}, unplaced=why, unsupported=True)
    native = kinds - {"null"}
    if not csv_counts and len(native) == 1 and native != {"text"}:
        return _finish(header, name, native.pop(), pieces, set(), ())
    # Text, or files that disagree on the type: as ingestion does, every value is read as text.
    conventional = {v for v in csv_counts if v in MARKERS}
    punctuation = {v for v in csv_counts if v.strip() and not any(ch.isalnum() for ch in v)} - conventional
    # Punctuation (``?``, ``*``, ``.``) is a marker only where the other values are all typed.
    markers = conventional | punctuation
    dtype = _typed(_concat([_text(_without(p, markers)) for p in pieces]))
    if dtype is not None:
        return _finish(header, name, dtype, pieces, markers, tuple(sorted(punctuation)))
    markers = conventional
    values = _concat([_text(_without(p, markers)) for p in pieces])
    counts = _counts(values)
    result = _finish(header, name, "category", pieces, markers, ())
    levels = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    result.levels, result.distinct = levels, len(levels)
    if not counts:
        result.dtype = "string"
        result.unplaced = "no value in any row (every field empty or a missing marker)"
        return result
    category_like = len(levels) <= MAX_LEVELS and len(levels) <= max(2, result.present // 2)
    numbers_share = _numbers_like(counts)
    if not category_like and numbers_share >= 0.5:
        odd = [v for v, _ in levels if _numbers_like({v: 1}) == 0][:3]
        result.dtype = "string"
        result.unplaced = (
            f"mixed values: {numbers_share:.0%} of them read as numbers or timestamps, the others do not "
            f"(e.g. {', '.join(repr(v) for v in odd)}), and there are too many distinct values "
            f"({len(levels):,}) for a category"
        )
        return result
    result.text_kind = "category" if category_like else "free text"
    result.dtype = "category" if category_like else "string"
    return result


def _concat(arrays: list[pa.Array]) -> pa.Array:
    return pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0]


def _finish(
    header: str,
    name: str,
    dtype: str,
    pieces: list[Piece],
    markers: set[str],
    guessed: tuple[str, ...],
) -> Profile:
    """Null counts, marker counts and the numbers or timestamps of a typed column."""
    nulls_by_batch: Counter[str] = Counter()
    marker_counts: Counter[str] = Counter()
    arrays = []
    for p in pieces:
        values = _without(p, markers)
        if p.csv and markers:
            marker_counts.update({m: c for m, c in _counts(p.values).items() if m in markers})
        nulls_by_batch[p.batch] += values.null_count
        arrays.append(values)
    rows_by_batch: Counter[str] = Counter()
    for p in pieces:
        rows_by_batch[p.batch] += len(p.values)
    result = Profile(
        header,
        name,
        dtype,
        rows=sum(rows_by_batch.values()),
        nulls=sum(nulls_by_batch.values()),
        batch_null_rates={b: nulls_by_batch[b] / n for b, n in rows_by_batch.items() if n},
        markers=dict(sorted(marker_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        guessed_markers=guessed,
    )
    if dtype in ("int", "float", "bool", "timestamp"):
        typed = [coerce(a, dtype) for a in arrays]
        if dtype in ("int", "float"):
            floats = np.concatenate([c.floats for c in typed])
            present = np.concatenate([a.is_valid().to_numpy(zero_copy_only=False) for a in arrays])
            finite = floats[np.isfinite(floats)]
            result.nonfinite = int((present & ~np.isfinite(floats)).sum())
            if finite.size:
                result.low, result.high = float(finite.min()), float(finite.max())
                distinct = np.unique(finite)
                result.distinct = int(distinct.size)
                if distinct.size <= FEW_NUMBERS:
                    result.numbers = [float(x) for x in distinct]
        elif dtype == "timestamp":
            stamps = pc.drop_null(pa.chunked_array([c.values for c in typed]))
            if len(stamps):
                result.first = pc.min(stamps).as_py().isoformat()
                result.last = pc.max(stamps).as_py().isoformat()
    if dtype != "timestamp":
        # The levels as ingestion compares a category (the text of each value), when few.
        counts: Counter[str] = Counter()
        for a in arrays:
            counts.update(_counts(_text(a)))
        if len(counts) <= MAX_LEVELS:
            result.levels = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            result.distinct = result.distinct or len(counts)
    return result


# ------------------------------------------------------------------------------------- YAML
def _scalar(value) -> str:
    """A YAML scalar that reads back as ``value``, safe inside a flow list or after a key."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _number(float(value))
    text = _yaml_scalar(str(value))
    if not text.startswith('"') and (set(text) & set(",[]{}#&*!|>'%@`") or text[:1] in "-?:"):
        text = json.dumps(str(value), ensure_ascii=False)
    return text


def _number(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    text = repr(x)
    if "e" in text:
        mantissa, exponent = text.split("e")
        mantissa = mantissa if "." in mantissa else f"{mantissa}.0"
        exponent = exponent if exponent[0] in "+-" else f"+{exponent}"
        text = f"{mantissa}e{exponent}"  # PyYAML reads 1e-05 as text, 1.0e-05 as a number
    return text


def _flow(values) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def _comment(text: str) -> str:
    return " ".join(str(text).split())


def _wrap(text: str, indent: str = "", width: int = 100) -> list[str]:
    """``text`` as comment lines of at most ``width`` characters."""
    lines, line = [], ""
    for word in _comment(text).split(" "):
        if line and len(indent) + 2 + len(line) + 1 + len(word) > width:
            lines.append(f"{indent}# {line}")
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(f"{indent}# {line}")
    return lines


def _fold(lines: list[str], width: int = 110) -> list[str]:
    """A key line whose trailing comment runs past ``width`` gets the comment on lines above it."""
    folded = []
    for line in lines:
        key, sep, comment = line.partition("   # ")
        if len(line) <= width or not sep or key.lstrip().startswith("#"):
            folded.append(line)
            continue
        indent = key[: len(key) - len(key.lstrip())]
        folded += _wrap(comment, indent) + [key]
    return folded


def _rate(x: float) -> str:
    return f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x:.3%}"


def _nice_bounds(low: float, high: float, whole: bool) -> tuple[float, float]:
    """The observed range widened by RANGE_MARGIN of its span each side, rounded outward to
    two significant digits of the span, and not below 0 when no value was."""
    span = high - low
    margin = span * RANGE_MARGIN if span > 0 else max(abs(high) * RANGE_MARGIN, 1.0)
    scale = span if span > 0 else margin
    exponent = math.floor(math.log10(scale)) - 1
    step = 10.0**exponent
    if whole:
        step = max(step, 1.0)
    digits = max(0, -exponent)
    lo = round(math.floor((low - margin) / step) * step, digits)
    hi = round(math.ceil((high + margin) / step) * step, digits)
    if low >= 0:
        lo = max(lo, 0.0)
    return lo, hi


def _null_limit(p: Profile) -> float:
    worst = max(p.batch_null_rates.values(), default=0.0)
    return min(1.0, math.ceil((worst * 1.5 + 0.02) * 100) / 100)


def _row_limits(rows: list[int]) -> tuple[int, int]:
    low = min(rows) // 2 if min(rows) > 1 else min(rows)
    high = max(rows) * 2
    step = 10 ** max(0, len(str(high)) - 2)
    return low, int(math.ceil(high / step) * step)


# ---------------------------------------------------------------------------------- the draft
@dataclass
class Draft:
    text: str  # the YAML contract
    unplaced: list[str]  # "header: why" for each column it could not place
    warnings: list[str]  # what a person must look at besides the CHECK comments

    @property
    def messages(self) -> list[str]:
        return [f"could not place column {u}" for u in self.unplaced] + self.warnings


def _names(headers: list[str]) -> dict[str, str]:
    """Header -> a lower-case identifier, unique among the headers."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        base = suggest_name(header) if header else "column"
        name, n = base, 2
        while name in used:
            name, n = f"{base[:60]}_{n}", n + 1
        names[header] = name
        used.add(name)
    return names


def _resolve(flag: str, wanted: str, headers: list[str], names: dict[str, str], where: str) -> str:
    """The header a flag names: the header itself, its contract name, or the header in another case."""
    if wanted in headers:
        return wanted
    for header in headers:
        if names[header] == wanted or header.lower() == wanted.lower():
            return header
    shown = ", ".join(headers)
    raise DraftError(f"{flag} {wanted}: no such column in {where}; the headers found are: {shown}")


def _check_headers(headers: list[str], where: str) -> None:
    for header in headers:
        if header != header.strip() or "\n" in header or "\r" in header:
            raise DraftError(
                f"{where}: the header {header!r} has leading or trailing whitespace or a line break; "
                "a contract's source must match the header exactly: fix the producer's header first"
            )
        if len(header) > SOURCE_MAX_CHARS:
            raise DraftError(
                f"{where}: the header {header[:40]!r}... is longer than {SOURCE_MAX_CHARS} characters"
            )
        if header in _RESERVED:
            raise DraftError(f"{where}: the header {header!r} is a column ingestion adds to every table")


def _looks_like_id(header: str) -> bool:
    words = set(re.split(r"[^a-z0-9]+", suggest_name(header)))
    return bool(words & _ID_WORDS) or suggest_name(header).endswith("id")


def _key_values(sample: Sample, headers: list[str]) -> tuple[list[tuple], list[str]]:
    """The key of every row (as text) and the batch each row lands in."""
    columns = []
    for header in headers:
        columns.append(pa.chunked_array([_text(p.values) for p in sample.pieces[header]]).to_pylist())
    batches = [p.batch for p in sample.pieces[headers[0]] for _ in range(len(p.values))]
    return list(zip(*columns, strict=True)), batches


def _duplicates(sample: Sample, headers: list[str]) -> int:
    """Rows whose key repeats an earlier row of the same batch (ingestion's duplicate_key)."""
    keys, batches = _key_values(sample, headers)
    seen: set = set()
    repeats = 0
    for key, batch in zip(keys, batches, strict=True):
        if (batch, key) in seen:
            repeats += 1
        seen.add((batch, key))
    return repeats


def _timestamps(sample: Sample, header: str) -> list[tuple[str, pa.Array]]:
    return [(p.batch, coerce(p.values, "timestamp").values) for p in sample.pieces[header]]


def _freshness(sample: Sample, header: str, timezone: str) -> tuple[float | None, float | None]:
    """Over the dt= partitions: hours from the newest event to the partition end (worst), and
    minutes the latest event lies after it (worst)."""
    newest: dict[str, datetime] = {}
    for batch, stamps in _timestamps(sample, header):
        if sample.batch_day.get(batch) is None or not len(pc.drop_null(stamps)):
            continue
        top = pc.max(stamps).as_py()
        newest[batch] = max(newest.get(batch, top), top)
    if not newest:
        return None, None
    tz = ZoneInfo(timezone)
    ages, late = [], []
    for batch, top in newest.items():
        end = datetime.combine(sample.batch_day[batch] + timedelta(days=1), time(0), tzinfo=tz)
        ages.append((end - top).total_seconds() / 3600)
        late.append((top - end).total_seconds() / 60)
    return max(ages), max(late)


def _batch_lines(
    sample: Sample, ts_header: str, timezone: str, indent: str, defaults_min: int | None = None
) -> list[str]:
    rows = list(sample.batch_rows.values())
    low, high = _row_limits(rows)
    if defaults_min is not None:
        low = defaults_min
    kind = "dt= partitions" if any(sample.batch_day.values()) else "files (no dt= folder: one batch a file)"
    sizes = f"{min(rows):,} rows each" if min(rows) == max(rows) else f"{min(rows):,} to {max(rows):,} rows"
    lines = _wrap(
        f"{len(rows)} batch(es) ({kind}) of {sizes}; the row limits are half "
        "the fewest and twice the most, rounded: CHECK against the producer's busiest and quietest days",
        indent,
    )
    lines += [f"{indent}min_rows: {low}", f"{indent}max_rows: {high}"]
    lines.append(f"{indent}max_bad_row_share: 0.05   # the default: more quarantined rows reject the batch")
    age, late = _freshness(sample, ts_header, timezone)
    if age is None:
        lines.append(f"{indent}max_age_hours: 48   # the default (no dt= folder to measure freshness on)")
        lines.append(f"{indent}max_future_minutes: 5   # the default")
    else:
        max_age = max(48, math.ceil(max(age, 0) * 1.5))
        lines.append(
            f"{indent}max_age_hours: {max_age}   # newest event at most {max(age, 0):.1f} h before a "
            f"partition's end ({timezone}); CHECK"
        )
        future = max(5, math.ceil(max(late, 0) * 1.5) + 1)
        lines.append(
            f"{indent}max_future_minutes: {future}   # "
            + (
                f"latest event {late:.0f} min after its partition's end: CHECK the producer's clock"
                if late > 0
                else "the default: no event after its partition's end"
            )
        )
    return lines


def _column_lines(p: Profile, role: str, shared: set[str]) -> list[str]:
    """One column of the contract, with the comments that say what was guessed."""
    ind = "    "
    dtype = p.dtype
    lines: list[str] = []
    if p.unplaced:
        lines += _wrap(
            f"COULD NOT PLACE {p.header}: {p.unplaced}. Declared as text outside the model "
            "(role not_a_feature, nullable) so ingestion keeps it; CHECK: give it its dtype and role",
            "  ",
        )
    elif role == "id":
        lines += _wrap(f"{p.header}: the primary key, read as text (an identifier has no range)", "  ")
    else:
        seen = f"{p.present:,} values" + (f", {p.distinct:,} distinct" if p.distinct else "")
        what = f"{role}, " if role in ("protected", "target", "event_timestamp") else ""
        lines += _wrap(f"{p.header}: {what}{dtype} guessed from {seen}; CHECK", "  ")
    lines.append(f"  {_scalar(p.name)}:")
    if p.name != p.header:
        lines.append(f"{ind}source: {_scalar(p.header)}")
    lines.append(f"{ind}dtype: {dtype}")
    if role != "feature":
        lines.append(f"{ind}role: {role}")
    if p.unplaced:
        lines.append(f"{ind}nullable: true")
        return lines
    if role == "not_a_feature" and dtype == "timestamp":
        lines[-1] += "   # a timestamp is never a model feature: CHECK"
    if role == "not_a_feature" and p.text_kind == "free text":
        lines[-1] += (
            f"   # free text ({p.distinct:,} distinct values in {p.present:,}), so not a feature; "
            "CHECK: a category needs dtype category and its allowed levels"
        )
    if dtype in ("int", "float") and p.low is not None and not (role == "target" or p.numbers == [0.0, 1.0]):
        lo, hi = _nice_bounds(p.low, p.high, dtype == "int")
        note = f"seen {_number(p.low)}..{_number(p.high)}; {RANGE_MARGIN:.0%} of the span added each side"
        note += ", not below 0" if p.low >= 0 else ""
        lines.append(f"{ind}min: {_number(lo)}   # {note}: CHECK")
        lines.append(f"{ind}max: {_number(hi)}")
        if dtype == "int" and p.numbers is not None and role == "feature":
            codes = ", ".join(_number(x) for x in p.numbers)
            lines += _wrap(
                f"only {len(p.numbers)} distinct values ({codes}): CHECK whether they are codes "
                "(then dtype: category with allowed levels)",
                ind,
            )
    if dtype in ("int", "float") and p.numbers is not None and (role == "target" or p.numbers == [0.0, 1.0]):
        lines.append(f"{ind}allowed: {_flow(int(x) if x == int(x) else x for x in p.numbers)}")
    if dtype == "timestamp" and p.first:
        lines.append(f"{ind}# seen {p.first} .. {p.last}")
    if dtype == "category":
        lines.append(f"{ind}allowed:   # levels seen, with their rows: CHECK that none is missing")
        width = max(len(_scalar(v)) for v, _ in p.levels)
        for value, count in p.levels:
            lines.append(f"{ind}  - {_scalar(value).ljust(width)}   # {count:,}")
    if p.nulls:
        rate = p.nulls / p.rows if p.rows else 0
        worst = max(p.batch_null_rates.values(), default=0.0)
        lines.append(f"{ind}nullable: true")
        lines.append(
            f"{ind}max_null_rate: {_number(_null_limit(p))}   # missing in {_rate(rate)} of rows, "
            f"{_rate(worst)} in the worst batch; 1.5 x that plus 2 points: CHECK"
        )
    elif p.rows:
        lines.append(f"{ind}# no value missing in {p.rows:,} rows: a missing one will be quarantined (CHECK)")
    own = [m for m in p.markers if m not in shared]
    if p.markers:
        shown = ", ".join(f"{m!r} x{c:,}" for m, c in p.markers.items())
        guessed = (
            f"; {', '.join(map(repr, p.guessed_markers))} guessed from punctuation"
            if p.guessed_markers
            else ""
        )
        if own:
            lines.append(
                f"{ind}null_values: {_flow(own)}   # CSV markers read as missing: {shown}{guessed}; CHECK"
            )
        else:
            lines.append(f"{ind}# missing markers seen (top-level null_values): {shown}{guessed}")
    return lines


def draft(
    path: Path | str,
    name: str,
    *,
    target: str | None = None,
    favorable: str | None = None,
    timestamp: str | None = None,
    ids: list[str] | None = None,
    protected: list[str] | None = None,
    labels: Path | str | None = None,
    timezone: str = "UTC",
) -> Draft:
    """Draft the contract ``name`` from the files at ``path`` (and a separate label feed at
    ``labels``). Raises DraftError when the flags or the files do not allow one."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DraftError(
            f"--name {name!r} is not a lower-case identifier; use e.g. {suggest_name(str(name))}"
        )
    if favorable not in (None, "negative", "positive"):
        raise DraftError(f"--favorable {favorable!r}: give negative or positive")
    sample = read_sample(path)
    _check_headers(sample.headers, str(path))
    label_sample = read_sample(labels) if labels is not None else None
    if label_sample is not None:
        _check_headers(label_sample.headers, str(labels))
    plan = _Plan(name, Path(path), sample, label_sample, favorable, timezone)
    plan.decide(target, timestamp, ids or [], protected or [], labels)
    text = "\n".join(_fold(plan.render())) + "\n"
    _loads(text, name)
    return Draft(text, plan.unplaced, plan.warnings)


@dataclass
class _Plan:
    """The decisions of one draft: roles from the flags, the guesses, what to warn about."""

    name: str
    path: Path
    sample: Sample
    label_sample: Sample | None
    favorable: str | None
    timezone: str
    names: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    label_profiles: dict[str, Profile] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    id_headers: list[str] = field(default_factory=list)
    ts_header: str = ""
    target_header: str = ""
    observed_header: str = ""
    label_extra: list[str] = field(default_factory=list)
    maturity: int = 0
    maturity_note: str = "labels arrive with the events: nothing to wait for"
    positive: object = 1
    positive_note: str = ""
    class_names: dict = field(default_factory=dict)
    shared: set[str] = field(default_factory=set)  # markers written as the top-level null_values
    marker_columns: dict[str, set[str]] = field(default_factory=dict)
    guesses: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def target_profile(self) -> Profile:
        return (self.label_profiles if self.label_sample else self.profiles)[self.target_header]

    @property
    def every_profile(self) -> list[Profile]:
        return [*self.profiles.values(), *self.label_profiles.values()]

    @property
    def unplaced(self) -> list[str]:
        return [f"{p.header}: {p.unplaced}" for p in self.every_profile if p.unplaced]

    # ------------------------------------------------------------------------- decisions
    def decide(self, target, timestamp, ids: list[str], protected: list[str], labels) -> None:
        sample, where = self.sample, str(self.path)
        self.names = _names(sample.headers)
        self.warnings += sample.notes + [f"skipped {s}" for s in sample.skipped]
        self.id_headers = [_resolve("--id", c, sample.headers, self.names, where) for c in ids]
        if timestamp:
            self.ts_header = _resolve("--timestamp", timestamp, sample.headers, self.names, where)
        protected_headers = [_resolve("--protected", c, sample.headers, self.names, where) for c in protected]
        if self.label_sample is None:
            if target is None:
                raise DraftError(
                    "--target is required: name the outcome column (the headers found are: "
                    f"{', '.join(sample.headers)}); with a separate label feed, give --labels PATH"
                )
            self.target_header = _resolve("--target", target, sample.headers, self.names, where)
        self.profiles = {h: profile(h, self.names[h], sample.pieces[h]) for h in sample.headers}
        self._event_timestamp()
        self._primary_key()
        if self.label_sample is not None:
            self._label_feed(target, labels)
        self._roles(protected_headers)
        self.positive, self.positive_note, self.class_names = _target(self.target_profile, self.warnings)
        for p in self.every_profile:
            if p.nonfinite:
                self.warnings.append(
                    f"column {p.header} holds {p.nonfinite:,} NaN or infinite Parquet values: ingestion "
                    "quarantines them (write a null instead)"
                )
        for h in sample.headers:
            missing = sample.missing_from(h)
            if missing:
                self.warnings.append(
                    f"column {h} is missing from {len(missing)} of {len(sample.files)} files (e.g. "
                    f"{missing[0]}): ingestion rejects a batch whose file lacks a declared column"
                )
        if "feature" not in self.roles.values():
            self.warnings.append("no column is a model feature: CHECK the roles")
        self._shared_markers()

    def _event_timestamp(self) -> None:
        headers = self.sample.headers
        if not self.ts_header:
            stamps = [h for h in headers if self.profiles[h].dtype == "timestamp"]
            if not stamps:
                raise DraftError(
                    f"no column of {self.path} holds timestamps (the headers found are: {', '.join(headers)}); "
                    "the contract needs an event timestamp: have the producer add when each event "
                    "happened, then name it with --timestamp"
                )
            self.ts_header = stamps[0]
            others = f" (other timestamp columns: {', '.join(stamps[1:])})" if stamps[1:] else ""
            self.guesses.append(
                f"event_timestamp {self.names[self.ts_header]} is the first timestamp column{others}: CHECK"
            )
        elif self.profiles[self.ts_header].dtype != "timestamp":
            p = self.profiles[self.ts_header]
            raise DraftError(
                f"--timestamp {self.ts_header}: its values are not ISO 8601 timestamps (read as {p.dtype}"
                + (f": {p.unplaced}" if p.unplaced else "")
                + ")"
            )

    def _primary_key(self) -> None:
        """Named by --id, else a unique id-like column, else a refusal that names the flag."""
        if not self.id_headers:
            self.id_headers = [_guess_key(self.sample, self.profiles, self.ts_header, str(self.path))]
            self.guesses.append(
                f"primary_key {self.names[self.id_headers[0]]}: a column whose name says id and whose "
                "values are present and unique (or nearly: see the warnings); CHECK"
            )
        repeats = _duplicates(self.sample, self.id_headers)
        if repeats:
            self.warnings.append(
                f"the primary key {', '.join(self.id_headers)} repeats in {repeats:,} row(s) of the same "
                "batch: ingestion quarantines each repeat as duplicate_key"
            )
        for h in self.id_headers:
            if self.profiles[h].nulls:
                self.warnings.append(
                    f"the key column {h} is missing in {self.profiles[h].nulls:,} row(s): they will be "
                    "quarantined"
                )

    def _label_feed(self, target: str | None, labels) -> None:
        """The label files: the key, when each outcome became known, and the outcome."""
        label_sample = self.label_sample
        taken = set(self.names.values())
        lnames = {
            h: self.names[h] if h in self.names else _free(suggest_name(h), taken, "_label")
            for h in label_sample.headers
        }
        for h in self.id_headers:
            if h not in label_sample.headers:
                raise DraftError(
                    f"the label files at {labels} lack the key column {h}; the headers found there are: "
                    f"{', '.join(label_sample.headers)}"
                )
        rest = [h for h in label_sample.headers if h not in self.id_headers]
        self.label_profiles = {h: profile(h, lnames[h], label_sample.pieces[h]) for h in rest}
        if target is not None:
            self.target_header = _resolve("--target", target, rest, lnames, f"the label files at {labels}")
        else:
            candidates = [h for h in rest if self.label_profiles[h].dtype != "timestamp"]
            if len(candidates) != 1:
                raise DraftError(
                    f"--target is required: the label files at {labels} have {len(candidates)} columns "
                    f"besides the key and timestamps ({', '.join(candidates) or 'none'})"
                )
            self.target_header = candidates[0]
            self.guesses.append(
                f"labels.column {lnames[self.target_header]}: the label files' only value column; CHECK"
            )
        if self.target_header in self.sample.headers:
            raise DraftError(
                f"the target {self.target_header} is in the events files too; with a separate label feed "
                "it arrives only in the label files (drop --labels to read it from the events)"
            )
        stamps = [h for h in rest if h != self.target_header and self.label_profiles[h].dtype == "timestamp"]
        if not stamps:
            raise DraftError(
                f"the label files at {labels} have no timestamp column besides the key and "
                f"{self.target_header}: a separate label feed needs when each outcome became known"
            )
        self.observed_header = stamps[0]
        self.guesses.append(
            f"labels.observed_timestamp: {self.observed_header}, the label files' first timestamp column; CHECK"
        )
        self.label_extra = [h for h in rest if h not in (self.target_header, self.observed_header)]
        if self.label_extra:
            self.warnings.append(
                f"the label files have columns the label feed does not carry ({', '.join(self.label_extra)}): "
                "extra_columns is ignore, so ingestion drops them with a warning"
            )
        self.maturity, self.maturity_note = _maturity(
            self.sample, label_sample, self.id_headers, self.ts_header, self.observed_header
        )

    def _roles(self, protected_headers: list[str]) -> None:
        for h in self.sample.headers:
            p = self.profiles[h]
            if h == self.ts_header:
                self.roles[h] = "event_timestamp"  # part of the key too, when --id names it
            elif h in self.id_headers:
                if h == self.target_header:
                    raise DraftError(f"--id {h} is the target too: the outcome cannot identify a row")
                self.roles[h] = "id"
                if not p.unplaced:
                    p.dtype = "string"  # an identifier is text: no range, leading zeros kept
            elif h == self.target_header:
                self.roles[h] = "target"
            elif h in protected_headers:
                self.roles[h] = "protected"
                if not _as_category(p):
                    self.warnings.append(
                        f"the protected attribute {h} is {p.dtype} with {p.distinct:,} distinct values: "
                        "fairness is judged per value, so group it (e.g. age bands) upstream"
                    )
            elif p.unplaced or p.dtype == "timestamp" or p.text_kind == "free text":
                self.roles[h] = "not_a_feature"
            else:
                self.roles[h] = "feature"

    def _shared_markers(self) -> None:
        """A marker goes to the top-level null_values when several columns read it as missing and
        no column reads it as a value; otherwise it stays with its column."""
        considered = [p for p in self.profiles.values() if not p.unsupported]
        considered += [
            self.label_profiles[h]
            for h in (self.target_header, self.observed_header)
            if h in self.label_profiles
        ]
        for p in considered:
            for m in p.markers:
                self.marker_columns.setdefault(m, set()).add(p.header)
        pieces = {**self.sample.pieces, **(self.label_sample.pieces if self.label_sample else {})}
        for m, columns in self.marker_columns.items():
            appears = {
                h
                for h, ps in pieces.items()
                if any(p.csv and pc.any(pc.equal(p.values, m)).as_py() for p in ps)
            }
            if len(columns) >= 2 and columns == appears:
                self.shared.add(m)

    # ---------------------------------------------------------------------------- the YAML
    def render(self) -> list[str]:
        out = self._header()
        out.append(f"name: {self.name}")
        out.append(f"description: {_scalar(f'Drafted from {self.path.name}: describe the dataset here.')}")
        out.append(f"primary_key: {_flow(self.names[h] for h in self.id_headers)}")
        out.append(f"event_timestamp: {_scalar(self.names[self.ts_header])}")
        if any(p.unsupported for p in self.every_profile) or self.label_extra:
            out.append(
                "extra_columns: ignore   # a column left out of the draft is dropped with a warning: CHECK"
            )
        else:
            out.append(
                "extra_columns: reject   # a landed column the contract does not declare rejects the batch"
            )
        if self.shared:
            shown = ", ".join(f"{m!r} in {len(self.marker_columns[m])} columns" for m in sorted(self.shared))
            out.append(
                f"null_values: {_flow(sorted(self.shared))}   # CSV markers read as missing everywhere: "
                f"{shown}; CHECK"
            )
        out.append("columns:")
        for h in self.sample.headers:
            if not self.profiles[h].unsupported:
                out += _column_lines(self.profiles[h], self.roles[h], self.shared)
        if self.label_sample is not None:
            out += _wrap("from the label files:", "  ")
            out += _column_lines(self.target_profile, "target", self.shared)
        out.append("batch:")
        out += _batch_lines(self.sample, self.ts_header, self.timezone, "  ")
        out += self._labels()
        out.append("model:")
        out.append(
            "  auc_floor: 0.5   # the package default, only better than chance: CHECK, set the AUC you require"
        )
        decision = (
            "the favorable decision (select)"
            if self.favorable == "positive"
            else "the adverse decision (decline)"
        )
        out.append(f"  decision_threshold: 0.5   # a score at or above it is {decision}: CHECK")
        out.append("monitoring:")
        features = [self.names[h] for h in self.sample.headers if self.roles[h] == "feature"]
        out += _monitoring_lines(self.sample, features, "protected" in self.roles.values())
        return out

    def _header(self) -> list[str]:
        sample, label_sample = self.sample, self.label_sample
        source = f"{len(sample.files)} file(s), {sample.rows:,} rows, under {self.path}"
        if label_sample is not None:
            source += (
                f"; labels: {len(label_sample.files)} file(s), {label_sample.rows:,} rows, under "
                f"{label_sample.path}"
            )
        out = _wrap(f"Drafted by `python -m include.contract draft` from {source}.")
        out += _wrap(
            "A draft: every line marked CHECK is a guess a person must confirm or correct before the "
            "contract is used (docs/contracts.md#drafting-a-contract)."
        )
        if self.unplaced:
            out.append(
                "# Columns it could not place (declared as text outside the model, or left out): CHECK each:"
            )
            for u in self.unplaced:
                wrapped = _wrap(u, "", 96)
                out += [f"#   - {wrapped[0][2:]}"] + [f"#     {line[2:]}" for line in wrapped[1:]]
        else:
            out.append("# Columns it could not place: none.")
        for g in self.guesses:
            out += _wrap(f"Guessed: {g}")
        for w in self.warnings:
            out += _wrap(f"Warning: {w}")
        return out

    def _labels(self) -> list[str]:
        out = ["labels:", f"  column: {_scalar(self.target_profile.name)}"]
        if self.label_sample is None:
            out.append("  delivery: inline   # the outcome is a column of the events files")
        else:
            taken = {*self.names.values(), self.target_profile.name}
            observed = _free(suggest_name(self.observed_header), taken, "_observed")
            out.append("  delivery: separate   # the outcome arrives in its own feed: landing/<name>_labels/")
            out.append(f"  observed_timestamp: {_scalar(observed)}   # when the outcome became known: CHECK")
            if observed != self.observed_header:
                out.append(f"  observed_timestamp_source: {_scalar(self.observed_header)}")
        out.append(f"  maturity_days: {self.maturity}   # {self.maturity_note}: CHECK")
        out.append(f"  positive_value: {_scalar(self.positive)}   # {self.positive_note}: CHECK")
        if self.favorable is None:
            out += _wrap(
                "CHECK: favorable is the default, negative: the class other than positive_value is the "
                "outcome a person wants (credit: repaid when positive_value is defaulted). Write positive "
                "when positive_value itself is wanted (hired, approved, a high income).",
                "  ",
            )
            out.append("  favorable: negative")
        else:
            out.append(f"  favorable: {self.favorable}   # from --favorable")
        if self.class_names:
            names = self.class_names
            out.append(
                f"  names: {{1: {_scalar(names[1])}, 0: {_scalar(names[0])}}}   # how messages call the classes: CHECK"
            )
        else:
            out.append("  # names: {1: defaulted, 0: repaid}   # optional: how messages call the two classes")
        if self.label_sample is not None:
            out.append("  batch:   # the label feed's limits")
            out += _batch_lines(
                self.label_sample, self.observed_header, self.timezone, "    ", defaults_min=0
            )
        return out


def _guess_key(sample: Sample, profiles: dict[str, Profile], ts_header: str, where: str) -> str:
    """The column whose name says id and whose values are all present and unique, else the one
    whose repeats are under 1 % of the rows (a producer resending rows); a refusal otherwise."""
    repeats = {
        h: _duplicates_anywhere(sample, h)
        for h in sample.headers
        if not profiles[h].unplaced
        and profiles[h].nulls == 0
        and profiles[h].dtype in ("string", "int", "category")
        and h != ts_header
    }
    id_like = [h for h in repeats if _looks_like_id(h)]
    for h in sorted(id_like, key=lambda h: repeats[h] > 0):
        if repeats[h] <= 0.01 * sample.rows:
            return h
    unique = [h for h, n in repeats.items() if n == 0]
    hint = (
        f"; columns unique in this sample: {', '.join(unique)} (pass --id with one of them if it identifies a row)"
        if unique
        else ""
    )
    near = [f"{h} ({repeats[h]:,} repeats)" for h in id_like]
    hint += f"; id-like columns that repeat too often: {', '.join(near)}" if near else ""
    raise DraftError(
        f"no id column found in {where}: every contract needs a primary key, and the package requires "
        f"producers to add one (a unique id per row) when the data has none; name it with --id COL{hint}"
    )


def _free(name: str, taken: set[str], suffix: str) -> str:
    return name if name not in taken else f"{name[: 64 - len(suffix)]}{suffix}"


def _duplicates_anywhere(sample: Sample, header: str) -> int:
    values = pa.chunked_array([_text(p.values) for p in sample.pieces[header]])
    return len(values) - len(pc.unique(values))


def _as_category(p: Profile) -> bool:
    """Make a column a category of the levels seen (as text), when there are few; False if not."""
    if p.unplaced or p.dtype in ("float", "timestamp") or not p.levels or len(p.levels) > MAX_LEVELS:
        return p.dtype == "category"
    p.dtype, p.text_kind = "category", "category"
    return True


def _target(p: Profile, warnings: list[str]) -> tuple[object, str, dict]:
    """The positive_value guess, its comment, and class names when the levels are words."""
    if p.unplaced:
        raise DraftError(f"the target {p.header} cannot be typed: {p.unplaced}")
    counts = ", ".join(f"{v} x{c:,}" for v, c in p.levels)
    if p.dtype == "bool":
        return True, f"the bool's true ({counts})", {}
    if p.dtype in ("int", "float"):
        if p.numbers is None:
            raise DraftError(
                f"the target {p.header} has {p.distinct:,} distinct numbers: the package models a two-class "
                "outcome (land it as two levels, e.g. 0 and 1)"
            )
        if set(p.numbers) <= {0.0, 1.0}:
            return 1, f"1 of 0/1 ({counts})", {}
        rarest = float(p.levels[-1][0]) if p.levels else p.numbers[-1]
        value = int(rarest) if rarest == int(rarest) else rarest
        if len(p.numbers) > 2:
            warnings.append(
                f"the target {p.header} has {len(p.numbers)} values: every value but positive_value "
                "counts as the other class"
            )
        return value, f"the rarest value ({counts})", {}
    if not _as_category(p):
        raise DraftError(f"the target {p.header} has {p.distinct:,} distinct values: not a two-class outcome")
    value = p.levels[-1][0]
    if len(p.levels) > 2:
        warnings.append(
            f"the target {p.header} has {len(p.levels)} levels: every level but positive_value counts "
            "as the other class"
        )
        return value, f"the rarest level ({counts})", {}
    if len(p.levels) == 1:
        return value, f"the only level seen ({counts})", {}
    return value, f"the rarer level ({counts})", {1: str(value), 0: str(p.levels[0][0])}


def _maturity(
    sample: Sample, label_sample: Sample, id_headers: list[str], ts_header: str, observed_header: str
) -> tuple[int, str]:
    """Days from an event to its outcome, from the events whose outcome is in the label files."""
    events, _ = _key_values(sample, id_headers)
    when = pa.chunked_array([stamps for _, stamps in _timestamps(sample, ts_header)]).to_pylist()
    happened = {k: t for k, t in zip(events, when, strict=True) if t is not None}
    outcomes, _ = _key_values(label_sample, id_headers)
    known = pa.chunked_array([stamps for _, stamps in _timestamps(label_sample, observed_header)]).to_pylist()
    delays = [
        (t - happened[k]).total_seconds() / 86_400
        for k, t in zip(outcomes, known, strict=True)
        if t is not None and k in happened
    ]
    if not delays:
        return 0, "no outcome in the label files matches an event in the sample, so 0"
    shortest = max(0, math.floor(min(delays)))
    return shortest, (
        f"the shortest delay from an event to its outcome over {len(delays):,} matched rows is "
        f"{min(delays):.2f} days (the longest {max(delays):.2f}); say how long an outcome takes to be final"
    )


def _monitoring_lines(sample: Sample, features: list[str], protected: bool) -> list[str]:
    days = sum(1 for d in set(sample.batch_day.values()) if d is not None)
    lines = []
    if days:
        per_hour = sample.rows / days / 24
        lookback = 6
        if per_hour * lookback < 200:
            lookback = min(24, math.ceil(200 / max(per_hour, 1e-9)))
        rows = per_hour * lookback
        few = " (fewer than min_window_rows: windows are not judged)" if rows < 200 else ""
        lines.append(
            f"  lookback_hours: {lookback}   # each hourly drift check reads this many hours of capture: "
            f"about {rows:,.0f} rows{few} at the sample's {sample.rows / days:,.0f} a day; CHECK"
        )
    else:
        lines.append(
            "  lookback_hours: 6   # the default (no dt= folder to measure the daily volume on): CHECK"
        )
    lines.append("  min_window_rows: 200   # fewer rows and a window is recorded as too_few_rows, not judged")
    example = ", ".join(features[:2]) or "..."
    lines.append(f"  # critical_features: [{example}]   # features whose drift alone is dataset drift: CHECK")
    if protected:
        lines.append("  fairness:")
        lines.append("    small_groups: not_judged   # a group too small to measure is reported, not judged")
    return lines


def _loads(text: str, name: str) -> None:
    """The draft must load as it is; a failure here is a bug in the draft, not in the data."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{name}.yaml"
        target.write_text(text, encoding="utf-8")
        try:
            parse(target)
        except ContractError as exc:
            raise RuntimeError(f"the drafted contract does not load ({exc}); the draft was:\n{text}") from exc


__all__ = ["Draft", "DraftError", "MARKERS", "draft", "profile", "read_sample"]
