"""Turn landed Arrow columns (text from CSV, native types from Parquet) into the
contract's dtypes, marking each value that cannot be converted instead of failing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _float(array: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        try:
            values = pc.cast(array, pa.float64())  # fast path: every value parses
        except pa.ArrowInvalid:
            text = array.to_pandas()
            values_pd = pd.to_numeric(text.str.strip(), errors="coerce")
            values_np = values_pd.to_numpy(dtype=float, na_value=np.nan)
            # "nan"/"inf" are parsed by to_numeric; they are reported by the NaN/inf check, not as type errors.
            bad = text.notna().to_numpy() & np.isnan(values_np) & ~text.str.strip().str.lower().isin(
                ["nan", "+nan", "-nan"]).to_numpy()
            return values_np, bad
    elif pa.types.is_boolean(array.type) or pa.types.is_integer(array.type) or pa.types.is_floating(array.type) \
            or pa.types.is_decimal(array.type):
        values = pc.cast(array, pa.float64())
    else:
        return np.full(len(array), np.nan), pc.is_valid(array).to_numpy(zero_copy_only=False)
    return values.to_numpy(zero_copy_only=False).astype(float, copy=False), np.zeros(len(array), dtype=bool)


def _int(array: pa.ChunkedArray) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Integers are read as floats first so '3.0' is accepted and '3.5' is flagged."""
    values, bad = _float(array)
    finite = np.isfinite(values)
    fractional = finite & (values != np.round(values))
    ints = pd.array(np.where(finite & ~fractional, values, np.nan), dtype="Float64").astype("Int64")
    return pd.Series(ints), bad, fractional


def _timestamp(array: pa.ChunkedArray) -> tuple[pd.Series, np.ndarray]:
    if pa.types.is_timestamp(array.type):
        series = array.to_pandas()
        series = series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")
        return series.astype("datetime64[us, UTC]"), np.zeros(len(array), dtype=bool)
    text = array.to_pandas() if not pa.types.is_string(array.type) else array.to_pandas()
    text = text.astype("string") if text.dtype != object else text
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = text.notna().to_numpy() & parsed.isna().to_numpy()
    return parsed.astype("datetime64[us, UTC]"), bad


def _text(array: pa.ChunkedArray) -> tuple[pd.Series, np.ndarray]:
    if not pa.types.is_string(array.type):
        if pa.types.is_floating(array.type):
            # A float column holding whole numbers (1.0) stands for the text "1".
            floats = array.to_pandas()
            whole = floats.dropna().eq(floats.dropna().round()).all()
            text = floats.map(lambda v: None if pd.isna(v) else (str(int(v)) if whole else repr(v)))
            return text.astype(object), np.zeros(len(array), dtype=bool)
        array = pc.cast(array, pa.string())
    return array.to_pandas().astype(object), np.zeros(len(array), dtype=bool)


def _bool(array: pa.ChunkedArray) -> tuple[pd.Series, np.ndarray]:
    if pa.types.is_boolean(array.type):
        return array.to_pandas().astype("boolean"), np.zeros(len(array), dtype=bool)
    text = _text(array)[0].str.strip().str.lower()
    result = pd.Series(pd.array([None] * len(text), dtype="boolean"))
    result[text.isin(_TRUE).to_numpy()] = True
    result[text.isin(_FALSE).to_numpy()] = False
    bad = text.notna().to_numpy() & result.isna().to_numpy()
    return result, bad


def coerce(array: pa.ChunkedArray, dtype: str) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Return (typed values, type-error mask, fractional-int mask) for one column."""
    none = np.zeros(len(array), dtype=bool)
    if pa.types.is_null(array.type):
        array = pa.chunked_array([pa.nulls(len(array), pa.string())])
    if dtype == "float":
        values, bad = _float(array)
        return pd.Series(values), bad, none
    if dtype == "int":
        return _int(array)
    if dtype == "timestamp":
        values, bad = _timestamp(array)
        return values, bad, none
    if dtype == "bool":
        values, bad = _bool(array)
        return values, bad, none
    if dtype == "category" or dtype == "string":
        values, bad = _text(array)
        return values, bad, none
    raise ValueError(f"unknown contract dtype {dtype!r}")
