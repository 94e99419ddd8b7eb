"""Profile one column of a sample: the dtype its values fit (judged by ingestion's own converter,
``include.ingestion.coerce``), its range, levels, null rate per batch and missing markers."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from include.contract.draft.sample import Piece
from include.ingestion.coerce import coerce

# What producers write for a missing value. Read as null only in CSV files (Parquet has nulls).
MARKERS = (
    "?", "??", "NA", "N/A", "n/a", "na", "#N/A", "-", "--", "null", "NULL", "Null", "None", "none",
    "nan", "NaN", "NAN", "missing", "MISSING",
)  # fmt: skip
BOOL_WORDS = {"true", "false", "t", "f", "yes", "no", "y", "n"}
MAX_LEVELS = 100  # more distinct values than this and text is free text, not a category
FEW_NUMBERS = 12  # an int column with at most this many values may be codes: say so
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_LEADING_ZERO = re.compile(r"^\s*[+-]?0\d")
_DATE = re.compile(
    r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)?\s*$"
)


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


def as_text(array: pa.Array) -> pa.Array:
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
    dtype = _typed(_concat([as_text(_without(p, markers)) for p in pieces]))
    if dtype is not None:
        return _finish(header, name, dtype, pieces, markers, tuple(sorted(punctuation)))
    markers = conventional
    values = _concat([as_text(_without(p, markers)) for p in pieces])
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
            counts.update(_counts(as_text(a)))
        if len(counts) <= MAX_LEVELS:
            result.levels = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            result.distinct = result.distinct or len(counts)
    return result


def as_category(p: Profile) -> bool:
    """Make a column a category of the levels seen (as text), when there are few; False if not."""
    if p.unplaced or p.dtype in ("float", "timestamp") or not p.levels or len(p.levels) > MAX_LEVELS:
        return p.dtype == "category"
    p.dtype, p.text_kind = "category", "category"
    return True
