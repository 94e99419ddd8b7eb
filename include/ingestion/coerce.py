"""Turn landed Arrow columns (text from CSV, native types from Parquet) into the
contract's dtypes, marking each value that cannot be converted instead of failing.

Arrow's vectorised casts handle clean columns; only a column holding a bad value falls
back to pandas' element-wise parsing, which turns that value into a marked null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]
_NAN_TEXT = ["nan", "+nan", "-nan"]
TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass
class Coerced:
    values: pa.Array  # contract type; null where missing or not convertible
    type_bad: np.ndarray  # a value is present but is not of the dtype
    fractional: np.ndarray  # int columns: a number that is not whole
    floats: np.ndarray | None = None  # numeric columns: float64 with NaN/inf as landed, null as NaN
    out_of_range: np.ndarray | None = None  # int columns: a whole number outside int64


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGRAL = r"[+-]?\d+"


def _is_text(array: pa.Array) -> bool:
    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)


def _none(n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool)


def _bool_mask(array: pa.Array) -> np.ndarray:
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def _floats(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    n = len(array)
    if _is_text(array):
        try:
            cast = pc.cast(array, pa.float64())  # fast path: every value parses
        except pa.ArrowInvalid:
            text = array.to_pandas().str.strip()
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            # "nan" parses to NaN; the NaN check reports it, so it is not a type error.
            bad = text.notna().to_numpy() & np.isnan(values) & ~text.str.lower().isin(_NAN_TEXT).to_numpy()
            return values, bad
    elif (
        pa.types.is_boolean(array.type)
        or pa.types.is_integer(array.type)
        or pa.types.is_floating(array.type)
        or pa.types.is_decimal(array.type)
        or pa.types.is_null(array.type)
    ):
        cast = pc.cast(array, pa.float64())
    else:
        return np.full(n, np.nan), _bool_mask(pc.is_valid(array))
    # A float64 array converts with its nulls as NaN; no fill needed.
    return cast.to_numpy(zero_copy_only=False), _none(n)


# An ISO 8601 time of day ending in a zone designator: Z, +HH, +HHMM or +HH:MM.
_ZONED = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _parse_iso(text: pd.Series, zoned: bool) -> pd.Series:
    if zoned:
        return pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    return pd.to_datetime(text, errors="coerce", format="ISO8601").dt.tz_localize("UTC")


def _timestamps(array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Each value on its own: a naive timestamp is UTC, an offset is converted to UTC. Parsers
    that infer one format per column let a naive value inherit an earlier value's offset."""
    n = len(array)
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            array = pc.assume_timezone(array, "UTC")  # a naive timestamp is taken as UTC
        return pc.cast(array, TIMESTAMP), _none(n)
    if pa.types.is_null(array.type):
        return pa.nulls(n, TIMESTAMP), _none(n)
    text = _text(array)
    zoned = _bool_mask(pc.match_substring_regex(pc.utf8_trim_whitespace(text), _ZONED))
    present = text.is_valid().to_numpy(zero_copy_only=False)
    if zoned[present].all():
        try:
            return pc.cast(text, TIMESTAMP), _none(n)  # fast path: every value carries an offset
        except pa.ArrowInvalid:
            pass
    if not zoned[present].any():
        try:
            return pc.assume_timezone(pc.cast(text, pa.timestamp("us")), "UTC"), _none(n)  # every value naive
        except pa.ArrowInvalid:
            pass
    series = text.to_pandas().astype(object)
    parsed = pd.Series(pd.NaT, index=series.index, dtype="datetime64[us, UTC]")
    for kind in (True, False):
        chosen = present & (zoned == kind)
        if chosen.any():
            parsed[chosen] = _parse_iso(series[chosen], kind).astype("datetime64[us, UTC]")
    bad = present & parsed.isna().to_numpy()
    return pa.array(parsed, TIMESTAMP), bad


def _text(array: pa.Array) -> pa.Array:
    if _is_text(array):
        return array
    if pa.types.is_floating(array.type):
        # A float column of whole numbers (1.0, as Parquet writers produce for int columns
        # with nulls) stands for the text "1".
        floats = pc.drop_null(array).to_numpy(zero_copy_only=False)
        if np.all(np.isfinite(floats) & (floats == np.round(floats))):
            return pc.cast(pc.cast(array, pa.int64()), pa.string())
    return pc.cast(array, pa.string())


def _ints(array: pa.Array) -> Coerced:
    """An int column exactly: int64 values are never routed through float64, so 2^53 + 1 stays
    itself; a whole number outside int64 is marked ``out_of_range`` instead of wrapping."""
    n = len(array)
    if pa.types.is_integer(array.type) or pa.types.is_null(array.type):
        oor = _none(n)
        if pa.types.is_unsigned_integer(array.type) and array.type.bit_width == 64:
            oor = _bool_mask(pc.greater(array, pa.scalar(INT64_MAX, pa.uint64())))
            array = pc.if_else(pa.array(oor), pa.scalar(None, array.type), array)
        ints = pc.cast(array, pa.int64())
        floats = pc.cast(ints, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return Coerced(ints, _none(n), _none(n), floats, oor)
    if _is_text(array):
        try:
            ints = pc.cast(array, pa.int64())  # fast path: every value is an int64 literal
            floats = pc.cast(ints, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
            return Coerced(ints, _none(n), _none(n), floats, _none(n))
        except pa.ArrowInvalid:
            pass
    floats, bad = _floats(array)
    finite = np.isfinite(floats)
    fractional = finite & (floats != np.round(floats))
    whole = finite & ~fractional
    oor = whole & ((floats < -(2.0**63)) | (floats >= 2.0**63))
    values = np.where(whole & ~oor, floats, 0).astype(np.int64)
    present = whole & ~oor
    if _is_text(array):
        # Integer literals exactly, with Python ints: floats round above 2^53.
        text = pc.utf8_trim_whitespace(array)
        literal = _bool_mask(pc.match_substring_regex(text, f"^{_INTEGRAL}$"))
        short = literal & (pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False) <= 18)
        if short.any():  # up to 18 digits always fit in int64: one vectorised cast
            values[short] = pc.cast(pc.filter(text, pa.array(short)), pa.int64()).to_numpy()
        for i in np.flatnonzero(literal & ~short):
            value = int(text[int(i)].as_py())
            inside = INT64_MIN <= value <= INT64_MAX
            values[i] = value if inside else 0
            present[i], oor[i] = inside, not inside
    return Coerced(pa.array(values, mask=~present), bad, fractional, floats, oor)


def coerce(array: pa.Array | pa.ChunkedArray, dtype: str) -> Coerced:
    """Convert one landed column to the contract ``dtype``."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    n = len(array)
    if dtype == "int":
        return _ints(array)
    if dtype == "float":
        floats, bad = _floats(array)
        missing = array.is_null().to_numpy(zero_copy_only=False) | bad
        return Coerced(pa.array(floats, mask=missing), bad, _none(n), floats)
    if dtype == "timestamp":
        values, bad = _timestamps(array)
        return Coerced(values, bad, _none(n))
    if dtype in ("category", "string"):
        return Coerced(_text(array), _none(n), _none(n))
    if dtype == "bool":
        if pa.types.is_boolean(array.type):
            return Coerced(array, _none(n), _none(n))
        text = pc.utf8_lower(pc.utf8_trim_whitespace(_text(array)))
        true, false = (
            _bool_mask(pc.is_in(text, pa.array(_TRUE))),
            _bool_mask(pc.is_in(text, pa.array(_FALSE))),
        )
        bad = _bool_mask(text.is_valid()) & ~true & ~false
        return Coerced(pa.array(true, mask=~(true | false)), bad, _none(n))
    raise ValueError(f"unknown contract dtype {dtype!r}")
