"""Reference profiles: what an hourly drift monitor compares live traffic against.

A profile summarises each model feature of a dataset (the contract's ``feature`` columns,
numeric or categorical exactly as the model pipelines decide), plus any extra numeric
columns asked for (the model's ``score``, so prediction drift can be checked): rows and
nulls; for numbers the count, mean and M2 (sum of squared deviations, for the variance),
min, max and a KLL quantile sketch; for categories the value counts.

Profiles are built once per partition (one landed day) and stored; a reference window of any
length is the merge of its days' profiles, so moving the window re-merges small stored
profiles instead of rereading the data (merging cannot subtract a day: re-merge instead).

Every statistic merges exactly (Chan's parallel formula for the variance) except the
quantiles. Those come from a KLL sketch (Apache DataSketches), chosen because it is
*mergeable* (merging sketches gives the same error guarantee as sketching the union), has a
bounded error that does not depend on the data and a fixed size whatever the row count.
Exact quantiles would need every value of the window; fixed histograms would need the bins
chosen before seeing the data.

Precision: the drift engine (``include.drift.engine``) must reproduce Evidently's statistics,
computed on the raw reference, within 1 % relative or 0.002 absolute. The sketch alone is not
enough: a KLL sketch's rank error is additive (0.072 % of the rows for k=4000, DataSketches'
``get_normalized_rank_error``), so the tails, where a few high-weight items stand for many
rows, are coarse, and the normed Wasserstein distance of a heavy-tailed feature and above all
PSI (whose log ratio magnifies small reference shares) depend on the tails. So a numeric
feature also keeps its ``TAIL_VALUES`` (1,000) smallest and largest values exactly (a merge
keeps the smallest and largest of both sides, which is exact), and the engine describes the
reference as those exact tails plus the sketch's items for the ranks in between.

Measured on the credit simulator: 1,000,000 reference rows profiled as 10 partitions of
100,000 and merged, against 100,000 current rows (stable and income-shifted); the five
continuous features; four shuffles of the reference; the worst error against the exact value
on the raw reference (scipy for Wasserstein, Evidently's binning for PSI), as a share of the
tolerance max(1 % of the exact value, 0.002):

=====  ============================  ============================  =====================
k      Wasserstein: sketch / +tails  PSI: sketch / +tails          per numeric feature
=====  ============================  ============================  =====================
200    6.90 / 10.36                  140.0 / 43.7                  3 KB + 16 KB tails
1000   1.02 / 0.81                   20.5 / 0.72                   24 KB + 16 KB
2000   - / 0.59                      - / 0.33                      45 KB + 16 KB
4000   0.50 / 0.24 (0.33 over 8)     3.89 / 0.10                   90 KB + 16 KB
8000   0.17 / 0.18                   3.64 / 0.09                   170 KB + 16 KB
=====  ============================  ============================  =====================

(With k=200 a loan_amount distance whose exact value is 0.0051 came out 0.0207 off.) Numeric
features default to ``DEFAULT_K = 4000`` with exact tails: a third of the tolerance at worst, about
11,300 retained values, 106 KB (140 KB in the JSON) per numeric feature once it has more than
a few thousand values, and about 50 ms to sketch a million values. Sketches of different k
merge (the result keeps the smaller k).

Exact counts make the small cases exact, as Evidently's choice of test depends on them:

- ``counts``: the exact value counts of a numeric feature while it has at most
  ``MAX_EXACT_COUNTS`` distinct values (summed on merge, dropped once the merged set is
  larger). Evidently judges a numeric column with at most 5 distinct values (reference and
  current together) by Jensen-Shannon, chi-square or a Z-test on value counts, and bins PSI
  and Jensen-Shannon by value when the reference has at most 20 distinct values.
- ``values``: the tails hold every value of a feature with at most 2,000 non-null values, so
  a Kolmogorov-Smirnov test against a reference of up to 1,000 rows (Evidently's limit for
  p-value tests) is exact.

``counts is None`` exactly when the feature has more than ``MAX_EXACT_COUNTS`` distinct values,
whatever the merge order.
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
from include.errors import MlopsError

FORMAT_VERSION = 2
NULL_KEY = "__null__"
DEFAULT_K = 4000  # with the exact tails, a third of the tolerance at worst (module docstring)
MAX_EXACT_COUNTS = (
    64  # Evidently needs exact counts up to 5 (test choice) and 20 (PSI/JS binning) distinct values
)
TAIL_VALUES = 1000  # exact smallest and largest values kept: see the module docstring


class ProfileError(MlopsError, ValueError):
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
    counts: dict[float, int] | None = field(
        default=None, repr=False
    )  # exact, while <= MAX_EXACT_COUNTS distinct
    smallest: tuple[float, ...] = field(default=(), repr=False)  # the TAIL_VALUES smallest values, ascending
    largest: tuple[float, ...] = field(default=(), repr=False)  # the TAIL_VALUES largest values, ascending

    def merge(self, other: Numeric) -> Numeric:
        n = self.count + other.count
        delta = other.mean - self.mean
        sketch = _copy(self.sketch)
        sketch.merge(other.sketch)
        counts = None
        if self.counts is not None and other.counts is not None:
            counts = dict(Counter(self.counts) + Counter(other.counts))
            counts = counts if len(counts) <= MAX_EXACT_COUNTS else None
        return Numeric(
            self.rows + other.rows,
            self.nulls + other.nulls,
            n,
            self.mean + delta * other.count / n if n else 0.0,
            self.m2 + other.m2 + delta * delta * self.count * other.count / n if n else 0.0,
            _pick(min, self.min, other.min),
            _pick(max, self.max, other.max),
            sketch,
            counts,
            tuple(sorted(self.smallest + other.smallest)[:TAIL_VALUES]),
            tuple(sorted(self.largest + other.largest)[-TAIL_VALUES:]),
        )

    @property
    def values(self) -> tuple[float, ...] | None:
        """All non-null values, sorted, while the two tails hold them all (count <= 2 x TAIL_VALUES)."""
        if self.count > len(self.smallest) + len(self.largest):
            return None
        rest = self.count - len(self.smallest)
        return self.smallest + (self.largest[len(self.largest) - rest :] if rest > 0 else ())

    @functools.cached_property
    def distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """The most precise description of the non-null values as sorted points with whole
        weights summing to ``count``: the exact value counts, else the exact values, else the
        exact tails with the sketch's items in between. Computed once per object (cached)."""
        if self.counts is not None:
            items = np.fromiter(self.counts, float, len(self.counts))
            weights = np.fromiter(self.counts.values(), float, len(self.counts))
        elif self.values is not None:
            items, weights = np.asarray(self.values, float), np.ones(self.count)
        else:
            items, weights = self._spliced()
        order = np.argsort(items, kind="stable")
        items, weights = items[order], weights[order]
        items.flags.writeable = weights.flags.writeable = False
        return items, weights

    def _spliced(self) -> tuple[np.ndarray, np.ndarray]:
        # The sketch's weights come from its own CDF: iterating a merged kll_doubles_sketch
        # (datasketches 5.2.0) can report weight 1 for every item.
        items = np.unique(np.fromiter((item for item, _ in self.sketch), float))
        cdf = np.asarray(self.sketch.get_cdf(items.tolist(), True))[:-1]
        upper = np.round(cdf * self.count)
        lower = np.concatenate(([0.0], upper[:-1]))
        # Ranks (low, high] are the sketch's; the tails' ranks are exact.
        low, high = len(self.smallest), self.count - len(self.largest)
        weights = np.clip(np.minimum(upper, high) - np.maximum(lower, low), 0, None)
        keep = weights > 0
        return (
            np.concatenate((self.smallest, items[keep], self.largest)),
            np.concatenate((np.ones(low), weights[keep], np.ones(len(self.largest)))),
        )


@dataclass(frozen=True)
class Categorical:
    rows: int
    nulls: int
    counts: dict[str, int]

    def merge(self, other: Categorical) -> Categorical:
        return Categorical(
            self.rows + other.rows,
            self.nulls + other.nulls,
            dict(Counter(self.counts) + Counter(other.counts)),
        )


def _copy(sketch: kll_doubles_sketch) -> kll_doubles_sketch:
    return kll_doubles_sketch.deserialize(sketch.serialize())


def _pick(fn, a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else fn(a, b)


def _exact_counts(present: np.ndarray) -> dict[float, int] | None:
    # A cheap look at a prefix first: most continuous features show > 64 distinct values in it,
    # which spares sorting the whole column.
    if np.unique(present[:4096]).size > MAX_EXACT_COUNTS:
        return None
    values, counts = np.unique(present, return_counts=True)
    if values.size > MAX_EXACT_COUNTS:
        return None
    return {float(v): int(n) for v, n in zip(values, counts, strict=True)}


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
    if present.size > 2 * TAIL_VALUES:
        cut = np.partition(present, (TAIL_VALUES - 1, present.size - TAIL_VALUES))
        smallest, largest = np.sort(cut[:TAIL_VALUES]), np.sort(cut[-TAIL_VALUES:])
    else:
        smallest = largest = np.sort(present)
    return Numeric(
        len(values),
        len(values) - present.size,
        int(present.size),
        mean,
        float(((present - mean) ** 2).sum()),
        float(present.min()) if present.size else None,
        float(present.max()) if present.size else None,
        sketch,
        _exact_counts(present),
        tuple(smallest[:TAIL_VALUES].tolist()),
        tuple(largest[-TAIL_VALUES:].tolist()),
    )


def _categorical(column: pd.Series) -> Categorical:
    present = column[column.notna()].astype(str)
    return Categorical(
        len(column), len(column) - len(present), {k: int(v) for k, v in present.value_counts().items()}
    )


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
                raise ProfileError(
                    f"feature {name!r} is {_kind(mine)} in one profile and "
                    f"{_kind(other.features[name])} in the other; cannot merge"
                )
        overlap = set(self.partitions) & set(other.partitions)
        if overlap:
            raise ProfileError(
                f"partitions {sorted(overlap)} are in both profiles; merging would count them twice"
            )
        return Profile(
            self.rows + other.rows,
            self.partitions + other.partitions,
            {name: s.merge(other.features[name]) for name, s in self.features.items()},
        )

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
        return [
            stats.min if q == 0 else stats.max if q == 1 else v
            for q, v in zip(qs, stats.sketch.get_quantiles(qs, True), strict=True)
        ]

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

    def distribution(self, feature: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted reference points and weights (see ``Numeric.distribution``); read-only arrays."""
        return self._get(feature, Numeric).distribution

    def value_counts(self, feature: str) -> dict[float, int] | None:
        """Exact counts of each value of a numeric feature, or None when it has more than
        ``MAX_EXACT_COUNTS`` distinct values."""
        return self._get(feature, Numeric, nonempty=False).counts

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
            return {
                "kind": "numeric",
                "rows": s.rows,
                "nulls": s.nulls,
                "count": s.count,
                "mean": s.mean,
                "m2": s.m2,
                "min": s.min,
                "max": s.max,
                "sketch": base64.b64encode(s.sketch.serialize()).decode("ascii"),
                "counts": None if s.counts is None else [[v, n] for v, n in sorted(s.counts.items())],
                "smallest": _pack(s.smallest),
                "largest": _pack(s.largest),
            }

        return {
            "format_version": FORMAT_VERSION,
            "rows": self.rows,
            "partitions": list(self.partitions),
            "features": {name: one(s) for name, s in self.features.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> Profile:
        version = d.get("format_version") if isinstance(d, dict) else None
        if version != FORMAT_VERSION:
            raise ProfileError(
                f"profile format_version {version!r} is not supported (expected {FORMAT_VERSION})"
            )
        name = None
        try:
            rows, partitions, features = int(d["rows"]), tuple(map(str, d["partitions"])), {}
            for name, s in d["features"].items():
                if s["kind"] == "categorical":
                    counts = {str(k): int(v) for k, v in s["counts"].items()}
                    features[name] = Categorical(int(s["rows"]), int(s["nulls"]), counts)
                elif s["kind"] == "numeric":
                    sketch = kll_doubles_sketch.deserialize(base64.b64decode(s["sketch"], validate=True))
                    counts = None if s["counts"] is None else {float(v): int(n) for v, n in s["counts"]}
                    stats = Numeric(
                        int(s["rows"]),
                        int(s["nulls"]),
                        int(s["count"]),
                        float(s["mean"]),
                        float(s["m2"]),
                        _float(s["min"]),
                        _float(s["max"]),
                        sketch,
                        counts,
                        _unpack(s["smallest"]),
                        _unpack(s["largest"]),
                    )
                    tail = min(stats.count, TAIL_VALUES)
                    if sketch.n != stats.count or len(stats.smallest) != tail or len(stats.largest) != tail:
                        raise ValueError(
                            f"count {stats.count} disagrees with the sketch ({sketch.n}) or the "
                            f"tails ({len(stats.smallest)}, {len(stats.largest)})"
                        )
                    features[name] = stats
                else:
                    raise ValueError(f"unknown kind {s['kind']!r}")
            return cls(rows, partitions, features)
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            where = f"feature {name!r}" if name is not None else "profile"
            raise ProfileError(f"{where}: malformed ({exc!r})") from None


def _pack(values: tuple[float, ...]) -> str:
    return base64.b64encode(np.asarray(values, "<f8").tobytes()).decode("ascii")


def _unpack(text: str) -> tuple[float, ...]:
    values = np.frombuffer(base64.b64decode(text, validate=True), "<f8")
    if np.any(np.diff(values) < 0) or not np.isfinite(values).all():
        raise ValueError("tail values must be finite and ascending")
    return tuple(values.tolist())


def _float(value) -> float | None:
    return None if value is None else float(value)


def _kind(stats) -> str:
    cls = stats if isinstance(stats, type) else type(stats)
    return "numeric" if cls is Numeric else "categorical"


def profile(
    frame: pd.DataFrame,
    contract: Contract,
    *,
    partition: str | None = None,
    extra_numeric: Sequence[str] = (),
    k: int = DEFAULT_K,
) -> Profile:
    """Profile the contract's model features in ``frame`` (one partition, usually), then the
    ``extra_numeric`` columns (e.g. the model's ``score``, for prediction drift) as numbers."""
    numeric, categorical = list(contract.numeric_features), list(contract.categorical_features)
    extra = list(extra_numeric)
    for name in extra:
        if name in contract.features or extra.count(name) > 1:
            raise ProfileError(
                f"extra numeric column {name!r} is already profiled (a feature or listed twice)"
            )
    for name in numeric + categorical + extra:
        if name not in frame.columns:
            what = "feature" if name in contract.features else "extra numeric column"
            raise ProfileError(f"{what} {name!r} of contract {contract.name!r} is not a column of the frame")
    stats = {
        name: _numeric(name, frame[name], k) if name in numeric else _categorical(frame[name])
        for name in contract.features
    }
    stats |= {name: _numeric(name, frame[name], k) for name in extra}
    return Profile(len(frame), (partition,) if partition is not None else (), stats)


def merge_all(profiles: Iterable[Profile]) -> Profile:
    """Merge profiles in order (e.g. the partitions of a reference window)."""
    profiles = list(profiles)
    if not profiles:
        raise ProfileError("no profiles to merge")
    return functools.reduce(Profile.merge, profiles)
