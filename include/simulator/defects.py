"""The defects a real producer sends now and then, injected into a landed frame.

Driven by the contract feed, so it names no column: a resent row (a primary key repeated),
a value below a column's minimum, a category outside the allowed list, and a blank in a
column that may not be null. The row count never changes, so landed counts stay as set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from include.contract import Feed

KINDS = ("resent_key", "below_minimum", "unknown_category", "blank_required")


def inject(frame: pd.DataFrame, feed: Feed, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    """Damage about ``rate`` of the rows of ``frame`` (a copy), cycling through KINDS."""
    count = int(round(len(frame) * rate))
    if count == 0 or len(frame) < 2:
        return frame
    out = frame.copy()
    rows = np.sort(rng.choice(np.arange(1, len(frame)), size=min(count, len(frame) - 1), replace=False))
    keyless = [
        c for c in feed.columns if c.role not in ("id", "event_timestamp") and c.name not in feed.primary_key
    ]
    numeric = [c for c in keyless if c.dtype in ("int", "float") and c.min is not None]
    categories = [c for c in keyless if c.dtype == "category"]
    required = [c for c in keyless if not c.nullable]
    for n, row in enumerate(rows):
        kind = KINDS[n % len(KINDS)]
        if kind == "resent_key":
            source = int(rng.integers(0, row))
            for key in feed.primary_key:
                out.iloc[row, out.columns.get_loc(key)] = out.iloc[source, out.columns.get_loc(key)]
        elif kind == "below_minimum" and numeric:
            column = numeric[int(rng.integers(len(numeric)))]
            out[column.name] = out[column.name].astype(float) if column.dtype == "float" else out[column.name]
            out.iloc[row, out.columns.get_loc(column.name)] = column.min - 1
        elif kind == "unknown_category" and categories:
            column = categories[int(rng.integers(len(categories)))]
            out.iloc[row, out.columns.get_loc(column.name)] = "UNKNOWN"
        elif kind == "blank_required" and required:
            column = required[int(rng.integers(len(required)))]
            out[column.name] = (
                out[column.name].astype("object")
                if column.dtype in ("category", "string")
                else out[column.name].astype("Int64")
                if column.dtype == "int"
                else out[column.name]
            )
            out.iloc[row, out.columns.get_loc(column.name)] = None
    return out
