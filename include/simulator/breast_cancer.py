"""scikit-learn's bundled breast cancer table, cut into daily batches.

Pure: no storage, no download (the table ships with scikit-learn). The 569 rows are
shuffled once with a fixed seed, split into ``ceil(569 / rows_per_day)`` slices of
near-equal size, and the day's ordinal picks the slice, so one cycle of consecutive days
lands every row exactly once.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from functools import lru_cache

import numpy as np
import pandas as pd

from include.simulator.credit import Scorer, as_utc, hour_slice, request_log

DEFAULT_ROWS_PER_DAY = 40
_SHUFFLE_SEED = 569  # fixed: the order of the table never depends on the simulator seed
_TIMESTAMP_STREAM = 1


def snake_case(sklearn_name: str) -> str:
    """'mean concave points' -> 'mean_concave_points', as the contract names them."""
    return sklearn_name.lower().replace(" ", "_")


@lru_cache(maxsize=1)
def _shuffled_table() -> pd.DataFrame:
    """The table in its fixed shuffled order; ``row`` keeps the original row number."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    table = pd.DataFrame(data.data, columns=[snake_case(n) for n in data.feature_names])
    # scikit-learn encodes malignant as 0 and benign as 1; the contract wants malignant = 1.
    table["malignant"] = (data.target == 0).astype(np.int64)
    table.insert(0, "row", np.arange(len(table)))
    order = np.random.default_rng(_SHUFFLE_SEED).permutation(len(table))
    return table.iloc[order].reset_index(drop=True)


def cycle_length(rows_per_day: int = DEFAULT_ROWS_PER_DAY) -> int:
    """How many consecutive days land the whole table once."""
    if rows_per_day < 1:
        raise ValueError(f"rows_per_day must be >= 1, got {rows_per_day}")
    return math.ceil(len(_shuffled_table()) / rows_per_day)


def batch(day: date, *, rows_per_day: int = DEFAULT_ROWS_PER_DAY) -> pd.DataFrame:
    """The samples observed on ``day``: sample_id, observed_ts, 30 features, malignant."""
    table = _shuffled_table()
    slices = np.array_split(np.arange(len(table)), cycle_length(rows_per_day))
    rows = table.iloc[slices[day.toordinal() % len(slices)]].reset_index(drop=True)

    rng = np.random.default_rng([_SHUFFLE_SEED, day.toordinal(), _TIMESTAMP_STREAM])
    seconds = np.sort(rng.integers(0, 86_400, len(rows)))
    start = np.datetime64(day.isoformat(), "s")
    observed = pd.DatetimeIndex(start + seconds.astype("timedelta64[s]")).tz_localize("UTC")

    frame = rows.drop(columns="row")
    # The original row number makes each id traceable to the source table.
    frame.insert(0, "observed_ts", pd.Series(observed).astype("datetime64[us, UTC]"))
    frame.insert(0, "sample_id", [f"BC-{day:%Y%m%d}-{r:04d}" for r in rows["row"]])
    return frame


def capture(
    hour_start: datetime, *, rows_per_day: int = DEFAULT_ROWS_PER_DAY, scorer: Scorer | None = None
) -> pd.DataFrame:
    """The scoring service's log for one hour: the day's samples observed in that hour,
    without the diagnosis (not known when scoring)."""
    start = as_utc(hour_start).replace(minute=0, second=0, microsecond=0)
    rows = hour_slice(batch(start.date(), rows_per_day=rows_per_day), "observed_ts", start)
    features = [c for c in rows.columns if c not in ("sample_id", "observed_ts", "malignant")]
    log = request_log(rows.drop(columns="malignant"), start, "observed_ts", features, scorer)
    return log.drop(columns="observed_ts")
