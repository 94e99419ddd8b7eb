"""Reference profiles: what an hourly drift monitor compares live traffic against.

A profile summarises each model feature of a dataset (the contract's ``feature`` columns,
numeric or categorical exactly as the model pipelines decide): rows and nulls; for numbers
the count, mean and M2 (sum of squared deviations, for the variance), min, max and a KLL
quantile sketch; for categories the value counts.

Profiles are built once per partition (one landed day) and stored; a reference window of any
length is the merge of its days' profiles, so moving the window re-merges small stored
profiles instead of rereading the data (merging cannot subtract a day: re-merge instead).

Every statistic merges exactly (Chan's parallel formula for the variance) except the
quantiles. Those come from a KLL sketch (Apache DataSketches), chosen because it is
*mergeable* (merging sketches gives the same error guarantee as sketching the union), has a
bounded error that does not depend on the data (about 1.33% on a single rank, 1.65% on a CDF
or PMF, at 99% confidence, for k=200) and a fixed size (a few KB whatever the row count).
Exact quantiles would need every value of the window; fixed histograms would need the bins
chosen before seeing the data.
"""

from __future__ import annotations

import base64
import functools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from datasketches import kll_doubles_sketch

from include.contract import Contract
from include.training.candidates import feature_columns

FORMAT_VERSION = 1
NULL_KEY = "__null__"


class ProfileError(ValueError):
    """A profile cannot be built, merged, read or queried; the message names the feature."""


@dataclass(frozen=True)
class Numeric:
    rows: int
    nulls: int
    count: int
    mean: float
    m2: float
    min: float | None
    max: float | None
    sketch: kll_doubles_sketch = field(compare=False, repr=False)

    def merge(self, other: Numeric) -> Numeric:
        n = self.count + other.count
        delta = other.mean - self.mean
        sketch = _copy(self.sketch)
        sketch.merge(other.sketch)
        return Numeric(
            self.rows + other.rows, self.nulls + other.nulls, n,
            self.mean + delta * other.count / n if n else 0.0,
            self.m2 + other.m2 + delta * delta * self.count * other.count / n if n else 0.0,
            _pick(min, self.min, other.min), _pick(max, self.max, other.max), sketch)


@dataclass(frozen=True)
class Categorical:
    rows: int
    nulls: int
    counts: dict[str, int]

    def merge(self, other: Categorical) -> Categorical:
        return Categorical(self.rows + other.rows, self.nulls + other.nulls,
                           dict(Counter(self.counts) + Counter(other.counts)))


def _copy(sketch: kll_doubles_sketch) -> kll_doubles_sketch:
    return kll_doubles_sketch.deserialize(sketch.serialize())


def _pick(fn, a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else fn(a, b)


def _numeric(name: str, column: pd.Series, k: int) -> Numeric:
    try:
        values = column.astype(float).to_numpy()
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"feature {name!r}: not numeric ({exc})") from None
    present = values[~np.isnan(values)]
    if not np.isfinite(present).all():
        raise ProfileError(f"feature {name!r}: infinite values")
    sketch = kll_doubles_sketch(k)
    sketch.update(present)
    mean = float(present.mean()) if present.size else 0.0
    return Numeric(len(values), len(values) - present.size, int(present.size), mean,
                   float(((present - mean) ** 2).sum()), float(present.min()) if present.size else None,
                   float(present.max()) if present.size else None, sketch)


def _categorical(column: pd.Series) -> Categorical:
    present = column[column.notna()].astype(str)
    return Categorical(len(column), len(column) - len(present), {k: int(v) for k, v in present.value_counts().items()})


@dataclass(frozen=True)
class Profile:
    rows: int
    partitions: tuple[str, ...]
    features: dict[str, Numeric | Categorical]

    def merge(self, other: Profile) -> Profile:
        for name in self.features.keys() ^ other.features.keys():
            raise ProfileError(f"feature {name!r} is in only one of the profiles; cannot merge")
        for name, mine in self.features.items():
            if type(mine) is not type(other.features[name]):
                raise ProfileError(f"feature {name!r} is {_kind(mine)} in one profile and "
                                   f"{_kind(other.features[name])} in the other; cannot merge")
        overlap = set(self.partitions) & set(other.partitions)
        if overlap:
            raise ProfileError(f"partitions {sorted(overlap)} are in both profiles; merging would count them twice")
        return Profile(self.rows + other.rows, self.partitions + other.partitions,
                       {name: s.merge(other.features[name]) for name, s in self.features.items()})

    # ------------------------------------------------------------------ queries
    def _get(self, name: str, kind: type, nonempty: bool = True):
        stats = self.features.get(name)
        if stats is None:
            raise ProfileError(f"feature {name!r} is not in the profile; features: {list(self.features)}")
        if not isinstance(stats, kind):
            raise ProfileError(f"feature {name!r} is {_kind(stats)}, not {_kind(kind)}")
        if nonempty and (stats.count if kind is Numeric else stats.rows) == 0:
            raise ProfileError(f"feature {name!r} has no {'non-null values' if kind is Numeric else 'rows'}")
        return stats

    def quantiles(self, feature: str, qs: Sequence[float]) -> list[float]:
        """Reference quantiles (smallest value whose inclusive rank reaches q). q=0 and q=1 give
        the exact min and max: a compacted sketch may have dropped them."""
        qs = [float(q) for q in qs]
        if any(not 0 <= q <= 1 for q in qs):
            raise ProfileError(f"feature {feature!r}: quantiles must be within 0..1, got {qs}")
        stats = self._get(feature, Numeric)
        return [stats.min if q == 0 else stats.max if q == 1 else v
                for q, v in zip(qs, stats.sketch.get_quantiles(qs, True))]

    def cdf(self, feature: str, points: Sequence[float]) -> np.ndarray:
        """Reference CDF, P(X <= point), at each point (any order)."""
        sketch = self._get(feature, Numeric).sketch
        points = np.asarray(points, dtype=float)
        if np.isnan(points).any():
            raise ProfileError(f"feature {feature!r}: CDF points must not be NaN")
        unique, where = np.unique(points, return_inverse=True)
        return np.asarray(sketch.get_cdf(unique.tolist(), True))[:-1][where.reshape(points.shape)]

    def bin_edges(self, feature: str, bins: int = 10) -> list[float]:
        """Strictly increasing reference quantile edges from min to max, for PSI; heavy ties
        (or a constant feature) give fewer than ``bins + 1`` edges."""
        if bins < 1:
            raise ProfileError(f"feature {feature!r}: bins must be at least 1, got {bins}")
        return np.unique(self.quantiles(feature, np.linspace(0, 1, bins + 1).tolist())).tolist()

    def frequencies(self, feature: str) -> dict[str, float]:
        """Share of each category among all rows; nulls under ``__null__`` when there are any."""
        stats = self._get(feature, Categorical)
        shares = {value: n / stats.rows for value, n in stats.counts.items()}
        return shares | ({NULL_KEY: stats.nulls / stats.rows} if stats.nulls else {})

    def mean(self, feature: str) -> float:
        return self._get(feature, Numeric).mean

    def std(self, feature: str, ddof: int = 1) -> float:
        stats = self._get(feature, Numeric)
        return math.sqrt(stats.m2 / (stats.count - ddof)) if stats.count > ddof else float("nan")

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        def one(s: Numeric | Categorical) -> dict:
            if isinstance(s, Categorical):
                return {"kind": "categorical", "rows": s.rows, "nulls": s.nulls, "counts": dict(s.counts)}
            return {"kind": "numeric", "rows": s.rows, "nulls": s.nulls, "count": s.count, "mean": s.mean,
                    "m2": s.m2, "min": s.min, "max": s.max,
                    "sketch": base64.b64encode(s.sketch.serialize()).decode("ascii")}
        return {"format_version": FORMAT_VERSION, "rows": self.rows, "partitions": list(self.partitions),
                "features": {name: one(s) for name, s in self.features.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Profile:
        version = d.get("format_version") if isinstance(d, dict) else None
        if version != FORMAT_VERSION:
            raise ProfileError(f"profile format_version {version!r} is not supported (expected {FORMAT_VERSION})")
        name = None
        try:
            rows, partitions, features = int(d["rows"]), tuple(map(str, d["partitions"])), {}
            for name, s in d["features"].items():
                if s["kind"] == "categorical":
                    counts = {str(k): int(v) for k, v in s["counts"].items()}
                    features[name] = Categorical(int(s["rows"]), int(s["nulls"]), counts)
                elif s["kind"] == "numeric":
                    sketch = kll_doubles_sketch.deserialize(base64.b64decode(s["sketch"], validate=True))
                    features[name] = Numeric(int(s["rows"]), int(s["nulls"]), int(s["count"]), float(s["mean"]),
                                             float(s["m2"]), _float(s["min"]), _float(s["max"]), sketch)
                else:
                    raise ValueError(f"unknown kind {s['kind']!r}")
            return cls(rows, partitions, features)
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            where = f"feature {name!r}" if name is not None else "profile"
            raise ProfileError(f"{where}: malformed ({exc!r})") from None


def _float(value) -> float | None:
    return None if value is None else float(value)


def _kind(stats) -> str:
    cls = stats if isinstance(stats, type) else type(stats)
    return "numeric" if cls is Numeric else "categorical"


def profile(frame: pd.DataFrame, contract: Contract, *, partition: str | None = None, k: int = 200) -> Profile:
    """Profile the contract's model features in ``frame`` (one partition, usually)."""
    numeric, categorical = feature_columns(contract)
    for name in numeric + categorical:
        if name not in frame.columns:
            raise ProfileError(f"feature {name!r} of contract {contract.name!r} is not a column of the frame")
    stats = {name: _numeric(name, frame[name], k) if name in numeric else _categorical(frame[name])
             for name in contract.features}
    return Profile(len(frame), (partition,) if partition is not None else (), stats)


def merge_all(profiles: Iterable[Profile]) -> Profile:
    """Merge profiles in order (e.g. the partitions of a reference window)."""
    profiles = list(profiles)
    if not profiles:
        raise ProfileError("no profiles to merge")
    return functools.reduce(Profile.merge, profiles)
