"""The model's input: the contract's features in the types the pipelines are trained on.

Callers hand over rows as the package stores them (curated partitions read with
``read_curated``: nullable ``Int64`` ints, ``boolean`` bools, text categories; or capture rows,
plain numpy types) and never cast them: numbers (ints, floats, bools as 0/1) become float64
with NaN for a missing value, categories become text with None for a missing value. Training,
the gates and the registered scoring model all go through ``frame``, so what the model was
fitted on and what it scores cannot differ.

Light on purpose (pandas and numpy only): the registered model's code imports it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from include.errors import PermanentError


class ModelInputError(PermanentError, ValueError):
    """A column the model needs is missing or cannot be read as its type; names the column."""


def _numbers(name: str, column: pd.Series) -> np.ndarray:
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
        # Plain numpy numbers and bools (what MLflow's schema enforcement hands the scoring model):
        # the same float64 values as the nullable route below, without its per-column cost.
        return np.array(column.to_numpy(), dtype=float)
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if column.dtype == object:
        # Nullable columns arrive as objects holding numbers and pd.NA/None (MLflow's schema
        # enforcement turns them so); True/False count as 1/0 as in a boolean column.
        column = column.map(lambda v: float(v) if isinstance(v, (bool, np.bool_)) else v)
    try:
        return pd.to_numeric(column, errors="raise").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ModelInputError(f"column {name!r} must hold numbers for the model: {exc}") from None


def _text(column: pd.Series) -> np.ndarray:
    values = column.to_numpy(dtype=object)
    if column.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        # Already text and missing values: only the missing ones change (to None).
        return np.where(pd.isna(values), None, values)
    return column.astype("string").astype(object).where(column.notna(), None).to_numpy(dtype=object)


def frame(data: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The model input of ``data``: ``numeric`` columns as float64, then ``categorical`` as text."""
    missing = [c for c in (*numeric, *categorical) if c not in data.columns]
    if missing:
        raise ModelInputError(f"the model needs column(s) {missing}; the rows have {list(data.columns)}")
    out = {name: _numbers(name, data[name]) for name in numeric}
    out |= {name: _text(data[name]) for name in categorical}
    return pd.DataFrame(out, index=data.index, columns=[*numeric, *categorical])
