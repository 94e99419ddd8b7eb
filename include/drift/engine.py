"""The hourly drift check: a live window of scored traffic against a stored reference profile.

``detect(profile, window, contract)`` judges every model feature (and the model's score, when
both sides have it) the way Evidently 0.7's ``DataDriftPreset`` does on raw data, but from the
reference *profile* only (``include.drift.profile``): the reference rows are never read, so an
hour is checked in a fraction of a second against a reference of millions of rows.

Method per column, as Evidently's ``_get_default_stattest`` chooses it from the number of
non-null reference values and the number of distinct non-null values in reference and current
together (unless the contract's ``monitoring.columns`` overrides method and/or threshold):

==========================  ==========================================  ============================
reference non-null values   numeric, > 5 distinct                       categorical, or numeric <= 5
==========================  ==========================================  ============================
<= 1000                     ``ks`` (p <= 0.05)                          ``chisquare`` (> 2 values) or
                                                                        ``z`` (<= 2 values), p < 0.05
> 1000                      ``wasserstein`` normed by the reference     ``jensenshannon`` >= 0.1
                            std (``max(std, 0.001)``), >= 0.1
==========================  ==========================================  ============================

``psi`` (threshold 0.1) bins as Evidently's ``get_binned_data``: a numeric column with more than
20 distinct reference values in equal-width "sturges" bins over reference and current
combined, anything else by value, empty bins filled as ``feel_zeroes=True`` does.
Jensen-Shannon bins the same way without filling. Nulls (and infinities) are left out of every
drift statistic, as Evidently drops them before testing; they are judged by the quality checks.

Two deliberate differences from Evidently:

- Multiple testing: the p-value tests of a window (KS, chi-square, Z; features and score
  together) are adjusted with Benjamini-Hochberg and a column drifts on its *adjusted* p-value.
  Evidently applies no correction; ``ColumnResult.p_value`` keeps the raw value for comparison.
- Dataset drift: ``share_drifted >= contract.monitoring.drift_share`` (the team's 0.3 rather
  than Evidently's 0.5) *or* any of the contract's critical features drifted. The score's drift
  is reported (``prediction``) but does not count in the share.

Precision: statistics come from the profile's exact value counts or exact values when the
feature has few distinct values or few rows, and otherwise from its KLL sketch (k=8000 by default), whose
retained items with their weights stand in for the reference sample. The agreement with
Evidently on raw data is tested in ``tests/test_drift_engine.py`` and measured in
``bench/drift.py`` (within 1 % relative or 0.002 absolute).

A column without a non-null value on either side cannot be tested (Evidently raises); it gets
no ``ColumnResult`` and shows up as a ``null_rate`` quality issue instead.

Data quality of the window, against the profile and the contract (module constants below):
null-rate spikes, values outside the contract's range or allowed set, categories the reference
never saw, and scale changes (a median moving by more than 5x, e.g. income reported in
thousands). Any issue sets ``data_quality_incident``: drift on broken data is not a reason
to retrain.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from include.contract import DRIFT_METHODS, Contract
from include.drift.profile import MAX_EXACT_COUNTS, Categorical, Numeric, Profile
from include.errors import MlopsError

# scipy.stats is imported where a p-value test needs it: the usual hourly path (references of
# more than 1,000 rows: Wasserstein, Jensen-Shannon, PSI) runs on numpy alone, which keeps
# the check's process small (scipy.stats alone is about 0.7 s and 70 MB).

# Evidently's defaults (legacy/calculations/stattests/*: ``default_threshold`` of each StatTest).
DEFAULT_THRESHOLDS = {
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
}
P_VALUE_METHODS = ("ks", "chisquare", "z")
SMALL_REFERENCE = 1000  # Evidently: p-value tests up to this many reference values, distances above
FEW_VALUES = 5  # Evidently: a numeric column with at most this many distinct values is tested on counts
VALUE_BINS_UP_TO = 20  # Evidently's get_binned_data: bins by value up to this many distinct reference values
WASSERSTEIN_MIN_NORM = 0.001  # Evidently divides by max(reference std, 0.001)

# Data-quality limits. A null rate may rise by 10 points above the reference's before it counts:
# hourly windows of a few thousand rows wobble by a point or two, a broken upstream field jumps
# by tens of points. When the contract caps the null rate, the window must also break that cap.
NULL_RATE_SPIKE = 0.10
# Ingestion quarantines out-of-contract rows, so the reference has none; 1 % of a live window
# outside the contract's range or allowed set is an upstream change, not noise.
OUT_OF_RANGE_SHARE = 0.01
# New categories: the share of the window's values that the reference never saw (1 %, as above).
UNSEEN_CATEGORY_SHARE = 0.01
# A median moving by more than 5x is a unit or scale change (thousands, cents, percent vs share)
# rather than drift: real populations do not move their median that far within hours. Checked for
# features whose reference is of one sign (amounts, counts, ages, rates), where the median
# measures the scale; a feature centred on zero has a median that is mostly noise.
SCALE_CHANGE_FACTOR = 5.0


class DriftError(MlopsError, ValueError):
    """The window cannot be judged against the profile; the message names the column."""


@dataclass(frozen=True)
class ColumnResult:
    """One column's verdict. ``statistic`` is the method's statistic: the normed Wasserstein
    distance, the Jensen-Shannon distance or the PSI (drift when ``statistic >= threshold``), or
    for a p-value test the test's statistic (KS D, chi-square, |z|) with the raw and the
    Benjamini-Hochberg adjusted p-value (drift when ``p_adjusted < threshold``, ``<=`` for KS as
    in Evidently). Row counts are the non-null values tested."""

    column: str
    kind: str  # "numeric" | "categorical"
    method: str  # one of contract.DRIFT_METHODS
    statistic: float
    threshold: float
    p_value: float | None
    p_adjusted: float | None
    drifted: bool
    reference_rows: int
    current_rows: int
    # A category: the share of the window's values at each level the reference never saw, each
    # its own bin in the statistic and listed here however small (a contract drafted from one
    # month must not hide the next month's new level); empty for numbers.
    unseen: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class QualityIssue:
    """A data-quality problem of one column in the window. ``observed`` is the window's value;
    ``expected`` what it was held against: the reference null rate (``null_rate``), the share
    allowed (``out_of_range``, ``unseen_category``), or 1.0 for the ratio of the window's median
    to the reference's (``scale_change``, checked for features whose reference values are all
    of one sign)."""

    column: str
    check: str  # "null_rate" | "out_of_range" | "unseen_category" | "scale_change"
    observed: float
    expected: float
    message: str


@dataclass(frozen=True)
class DriftResult:
    rows: int
    columns: list[ColumnResult]
    share_drifted: float
    drifted_columns: list[str]
    critical_drifted: list[str]
    dataset_drift: bool
    prediction: ColumnResult | None  # drift of the score column when the profile and the window have it
    quality: list[QualityIssue]
    data_quality_incident: bool

    def column(self, name: str) -> ColumnResult:
        for c in self.columns + ([self.prediction] if self.prediction else []):
            if c.column == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict:
        """JSON-able (strict JSON: infinite statistics, e.g. chi-square on an unseen category,
        are written as the strings "inf"/"-inf"/"nan")."""
        d = asdict(self)
        d["columns"] = [_encode(c) for c in d["columns"]]
        d["prediction"] = _encode(d["prediction"]) if d["prediction"] else None
        d["quality"] = [_encode(q) for q in d["quality"]]
        d["share_drifted"] = _number(d["share_drifted"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DriftResult:
        try:
            return cls(
                rows=int(d["rows"]),
                columns=[_column_result(c) for c in d["columns"]],
                share_drifted=float(d["share_drifted"]),
                drifted_columns=[str(c) for c in d["drifted_columns"]],
                critical_drifted=[str(c) for c in d["critical_drifted"]],
                dataset_drift=bool(d["dataset_drift"]),
                prediction=_column_result(d["prediction"]) if d["prediction"] is not None else None,
                quality=[
                    QualityIssue(
                        str(q["column"]),
                        str(q["check"]),
                        float(q["observed"]),
                        float(q["expected"]),
                        str(q["message"]),
                    )
                    for q in d["quality"]
                ],
                data_quality_incident=bool(d["data_quality_incident"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DriftError(f"malformed drift result: {exc!r}") from None


def _number(x):
    return x if x is None or isinstance(x, (bool, int, str)) or math.isfinite(x) else str(float(x))


def _encode(d: dict) -> dict:
    return {k: _number(v) if isinstance(v, float) else v for k, v in d.items()}


def _optional(x) -> float | None:
    return None if x is None else float(x)


def _column_result(c: dict) -> ColumnResult:
    return ColumnResult(
        str(c["column"]),
        str(c["kind"]),
        str(c["method"]),
        float(c["statistic"]),
        float(c["threshold"]),
        _optional(c["p_value"]),
        _optional(c["p_adjusted"]),
        bool(c["drifted"]),
        int(c["reference_rows"]),
        int(c["current_rows"]),
        {str(k): float(v) for k, v in (c.get("unseen") or {}).items()},  # older records have none
    )


# ----------------------------------------------------------------------------- the window
@dataclass
class _Window:
    """One column of the live window, prepared once for every test and quality check."""

    rows: int
    nulls: int
    values: np.ndarray | None = None  # numeric: non-null values (infinities included), unsorted
    sorted: np.ndarray | None = None  # numeric: finite values, sorted
    counts: dict | None = None  # categorical: non-null values as text -> count

    @property
    def tested(self) -> int:
        return int(self.sorted.size) if self.sorted is not None else sum(self.counts.values())


def _numeric_window(name: str, column: pd.Series) -> _Window:
    try:
        x = column.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DriftError(f"column {name!r} of the window is not numeric ({exc})") from None
    present = x[~np.isnan(x)]
    finite = present[np.isfinite(present)] if present.size and not np.isfinite(present).all() else present
    return _Window(len(x), len(x) - present.size, values=present, sorted=np.sort(finite))


def _categorical_window(column: pd.Series) -> _Window:
    counts: Counter = Counter()
    for value, n in column.value_counts(dropna=True).items():
        if n:  # a pandas Categorical lists its unused categories with a count of 0
            counts[str(value)] += int(n)  # text, as the profile keeps categories
    return _Window(len(column), len(column) - sum(counts.values()), counts=dict(counts))


def _distinct(sorted_values: np.ndarray) -> np.ndarray:
    if sorted_values.size == 0:
        return sorted_values
    return sorted_values[np.concatenate(([True], sorted_values[1:] != sorted_values[:-1]))]


# ------------------------------------------------------------------------------ statistics
def _reference_counts(ref: Numeric | Categorical) -> dict | None:
    """Exact counts of the non-null reference values, or None when the profile has none."""
    if isinstance(ref, Categorical):
        return ref.counts
    if ref.counts is not None:
        return ref.counts
    if ref.values is not None:
        return dict(Counter(ref.values))
    return None


def _window_counts(win: _Window) -> dict:
    if win.counts is not None:
        return win.counts
    values, counts = np.unique(win.sorted, return_counts=True)
    return {float(v): int(n) for v, n in zip(values, counts, strict=True)}


def _n_distinct(ref: Numeric | Categorical, win: _Window) -> int:
    """Distinct non-null values of reference and window together; beyond MAX_EXACT_COUNTS the
    profile does not know the exact number, but it is then far above every limit that matters."""
    ref_counts = _reference_counts(ref)
    if isinstance(ref, Categorical):
        return len(set(ref_counts) | set(win.counts))
    if ref_counts is None:
        return MAX_EXACT_COUNTS + 1
    window = _distinct(win.sorted)
    if window.size > FEW_VALUES:  # only "more than 5" matters then
        return int(window.size)
    return len(set(ref_counts) | set(window.tolist()))


def _default_method(kind: str, reference_values: int, n_distinct: int) -> str:
    few = kind == "categorical" or n_distinct <= FEW_VALUES
    if reference_values <= SMALL_REFERENCE:
        return ("chisquare" if n_distinct > 2 else "z") if few else "ks"
    return "jensenshannon" if few else "wasserstein"


def _wasserstein(ref: Numeric, win: _Window) -> float:
    """scipy.stats.wasserstein_distance between the weighted reference points and the window,
    divided by max(reference std (ddof=0), 0.001) as Evidently does."""
    items, weights = ref.distribution
    cur = win.sorted
    both = np.sort(np.concatenate((items, cur)), kind="stable")  # two sorted runs: linear
    deltas = np.diff(both)
    cumulative = np.concatenate(([0.0], np.cumsum(weights)))
    ref_cdf = cumulative[np.searchsorted(items, both[:-1], "right")] / cumulative[-1]
    cur_cdf = np.searchsorted(cur, both[:-1], "right") / cur.size
    norm = max(math.sqrt(ref.m2 / ref.count), WASSERSTEIN_MIN_NORM)
    return float(np.sum(np.abs(ref_cdf - cur_cdf) * deltas)) / norm


def _ks(ref: Numeric, win: _Window) -> tuple[float, float]:
    from scipy import stats

    if ref.values is not None:  # exact: the very call Evidently makes
        result = stats.ks_2samp(np.asarray(ref.values), win.sorted)
        return float(result.statistic), float(result.pvalue)
    # More than 2,000 reference values (only when the contract asks for KS on a large reference):
    # the largest CDF gap to the profile's distribution, and scipy's asymptotic p-value, which is
    # what ks_2samp itself uses once either sample has more than 10,000 values.
    items, weights = ref.distribution
    cur = win.sorted
    both = np.concatenate((items, cur))
    cumulative = np.concatenate(([0.0], np.cumsum(weights)))
    gap = np.abs(
        cumulative[np.searchsorted(items, both, "right")] / cumulative[-1]
        - np.searchsorted(cur, both, "right") / cur.size
    )
    d = float(gap.max())
    m, n = sorted([float(ref.count), float(cur.size)], reverse=True)
    return d, float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def _need_counts(name: str, method: str, counts: dict | None) -> dict:
    if counts is None:
        raise DriftError(
            f"column {name!r}: method {method!r} needs exact reference value counts, and the profile "
            "has them only for numeric features with at most 64 distinct values; choose another method"
        )
    return counts


def _chisquare(name: str, ref: Numeric | Categorical, win: _Window) -> tuple[float, float]:
    from scipy import stats

    ref_counts = _need_counts(name, "chisquare", _reference_counts(ref))
    cur_counts = _window_counts(win)
    keys = list(set(ref_counts) | set(cur_counts))
    k_norm = sum(cur_counts.values()) / sum(ref_counts.values())
    f_exp = [ref_counts.get(key, 0) * k_norm for key in keys]
    f_obs = [cur_counts.get(key, 0) for key in keys]
    with np.errstate(divide="ignore", invalid="ignore"):
        result = stats.chisquare(f_obs, f_exp)
    return float(result.statistic), float(result.pvalue)


def _z(name: str, ref: Numeric | Categorical, win: _Window) -> tuple[float, float]:
    """Evidently's two-proportion Z-test: the first value (sorted) against all the others."""
    from scipy import stats

    ref_counts = _need_counts(name, "z", _reference_counts(ref))
    cur_counts = _window_counts(win)
    ref_keys, cur_keys = [k for k, n in ref_counts.items() if n], [k for k, n in cur_counts.items() if n]
    if len(ref_keys) == 1 and len(cur_keys) == 1 and ref_keys[0] == cur_keys[0]:
        return 0.0, 1.0
    first = sorted(set(ref_keys) | set(cur_keys))[0]
    n1, n2 = sum(ref_counts.values()), sum(cur_counts.values())
    p1, p2 = (n1 - ref_counts.get(first, 0)) / n1, (n2 - cur_counts.get(first, 0)) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(abs(z)), float(2 * (1 - stats.norm.cdf(np.abs(z))))


def _sturges_edges(lo: float, hi: float, n: int, integer: bool) -> np.ndarray:
    """numpy.histogram_bin_edges(combined, bins="sturges") from the combined min, max and size."""
    first, last = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
    width = np.float64(hi - lo) / (np.log2(n) + 1.0)
    if width:
        if integer and width < 1:
            width = 1
        bins = int(np.ceil(np.float64(last - first) / width))
    else:
        bins = 1
    return np.linspace(first, last, bins + 1, endpoint=True, dtype=float)


def _binned(
    name: str, kind: str, ref: Numeric | Categorical, win: _Window, integer: bool, fill_zeroes: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's get_binned_data: reference and window shares per bin."""
    ref_counts = _reference_counts(ref)
    if kind == "numeric" and (ref_counts is None or len(ref_counts) > VALUE_BINS_UP_TO):
        cur = win.sorted
        edges = _sturges_edges(min(ref.min, cur[0]), max(ref.max, cur[-1]), ref.count + cur.size, integer)
        items, weights = ref.distribution
        ref_share = np.histogram(items, edges, weights=weights)[0] / ref.count
        cur_share = np.histogram(cur, edges)[0] / cur.size
    else:
        cur_counts = _window_counts(win)
        keys = list(set(ref_counts) | set(cur_counts))
        n_ref, n_cur = sum(ref_counts.values()), sum(cur_counts.values())
        ref_share = np.array([ref_counts.get(k, 0) / n_ref for k in keys])
        cur_share = np.array([cur_counts.get(k, 0) / n_cur for k in keys])
    if fill_zeroes:
        for share in (ref_share, cur_share):
            smallest = share[share != 0].min()
            np.place(share, share == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return ref_share, cur_share


def _jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    """scipy.spatial.distance.jensenshannon(p, q) (natural log), without importing scipy."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        right = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(np.sqrt((left + right) / 2.0))


def _test(
    name: str, kind: str, method: str, ref: Numeric | Categorical, win: _Window, integer: bool
) -> tuple[float, float | None]:
    """(statistic, raw p-value or None) of one column."""
    if method == "wasserstein":
        if kind != "numeric":
            raise DriftError(f"column {name!r}: wasserstein needs a numeric column")
        return _wasserstein(ref, win), None
    if method == "ks":
        if kind != "numeric":
            raise DriftError(f"column {name!r}: ks needs a numeric column")
        return _ks(ref, win)
    if method == "chisquare":
        return _chisquare(name, ref, win)
    if method == "z":
        return _z(name, ref, win)
    if method == "jensenshannon":
        ref_share, cur_share = _binned(name, kind, ref, win, integer, fill_zeroes=False)
        return _jensenshannon(ref_share, cur_share), None
    if method == "psi":
        ref_share, cur_share = _binned(name, kind, ref, win, integer, fill_zeroes=True)
        return float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share))), None
    raise DriftError(f"column {name!r}: unknown drift method {method!r}; methods: {', '.join(DRIFT_METHODS)}")


# ----------------------------------------------------------------------------- quality
def _median(items: np.ndarray, weights: np.ndarray) -> float:
    """Median of the points repeated by their (whole) weights, as numpy.median would give it:
    the mean of the values at positions (n - 1) // 2 and n // 2 of the sorted expansion."""
    cumulative = np.cumsum(weights)
    n = int(round(cumulative[-1]))
    low, high = items[np.searchsorted(cumulative, [(n - 1) // 2, n // 2], "right")]
    return float((low + high) / 2)


def _quality(
    name: str, kind: str, ref: Numeric | Categorical, win: _Window, contract: Contract
) -> list[QualityIssue]:
    issues = []
    spec = next((c for c in contract.columns if c.name == name), None)
    ref_rate = ref.nulls / ref.rows if ref.rows else 0.0
    rate = win.nulls / win.rows if win.rows else 0.0
    cap = spec.max_null_rate if spec is not None else None
    if rate > ref_rate + NULL_RATE_SPIKE and (cap is None or rate > cap):
        limit = f" and the contract's cap {cap:.1%}" if cap is not None else ""
        issues.append(
            QualityIssue(
                name,
                "null_rate",
                rate,
                ref_rate,
                f"{name}: {rate:.1%} of the window's {win.rows} values are null, against "
                f"{ref_rate:.1%} in the reference (allowed: +{NULL_RATE_SPIKE:.0%}{limit})",
            )
        )
    present = win.rows - win.nulls
    if spec is None or present == 0:
        return issues
    allowed = spec.allowed
    if kind == "numeric":
        values = win.values
        outside = np.zeros(values.size, dtype=bool)
        if spec.min is not None:
            outside |= values < spec.min
        if spec.max is not None:
            outside |= values > spec.max
        if allowed is not None:
            outside |= ~np.isin(values, np.asarray([float(a) for a in allowed]))
        out = int(outside.sum())
        rule = f"outside {spec.min}..{spec.max}" if allowed is None else f"not in {list(allowed)}"
    else:
        allowed_text = {str(a) for a in allowed} if allowed is not None else None
        out = sum(n for v, n in win.counts.items() if allowed_text is not None and v not in allowed_text)
        rule = f"not in {list(allowed or ())}"
        unseen = {v: n for v, n in win.counts.items() if v not in ref.counts}
        share = sum(unseen.values()) / present
        if share > UNSEEN_CATEGORY_SHARE:
            examples = sorted(unseen, key=unseen.get, reverse=True)[:5]
            issues.append(
                QualityIssue(
                    name,
                    "unseen_category",
                    share,
                    UNSEEN_CATEGORY_SHARE,
                    f"{name}: {share:.1%} of the window's values are categories the reference "
                    f"never saw ({examples}); allowed {UNSEEN_CATEGORY_SHARE:.0%}",
                )
            )
    share = out / present
    if share > OUT_OF_RANGE_SHARE:
        issues.append(
            QualityIssue(
                name,
                "out_of_range",
                share,
                OUT_OF_RANGE_SHARE,
                f"{name}: {share:.1%} of the window's values are {rule} (the contract); "
                f"allowed {OUT_OF_RANGE_SHARE:.0%}",
            )
        )
    # The median of a feature centred on zero says nothing about its scale, nor does a bool's.
    one_signed = kind == "numeric" and spec.dtype != "bool" and ref.count and (ref.min >= 0 or ref.max <= 0)
    if one_signed and win.sorted.size:
        ref_median = _median(*ref.distribution)
        if ref_median != 0:
            ratio = float(np.median(win.sorted)) / ref_median
            if not 1 / SCALE_CHANGE_FACTOR <= ratio <= SCALE_CHANGE_FACTOR:
                issues.append(
                    QualityIssue(
                        name,
                        "scale_change",
                        ratio,
                        1.0,
                        f"{name}: the window's median is {ratio:.4g} times the reference's "
                        f"({ref_median:.6g}); more than {SCALE_CHANGE_FACTOR:g}x either way "
                        "looks like a change of unit or scale",
                    )
                )
    return issues


# ----------------------------------------------------------------------------- detect
def _judge(
    name: str, kind: str, ref: Numeric | Categorical, win: _Window, contract: Contract, integer: bool
) -> tuple[str, float, float, float | None, int, int] | None:
    reference_values = ref.count if kind == "numeric" else ref.rows - ref.nulls
    if reference_values == 0 or win.tested == 0:
        return None
    column = contract.monitoring.columns.get(name)  # overrides exist for features only
    method = (
        column.method
        if column is not None and column.method
        else _default_method(kind, reference_values, _n_distinct(ref, win))
    )
    threshold = (
        column.threshold
        if column is not None and column.threshold is not None
        else DEFAULT_THRESHOLDS[method]
    )
    statistic, p_value = _test(name, kind, method, ref, win, integer)
    return method, float(threshold), statistic, p_value, reference_values, win.tested


def detect(
    reference: Profile, current: pd.DataFrame, contract: Contract, *, score_column: str = "score"
) -> DriftResult:
    """Judge the window ``current`` against the ``reference`` profile (see the module docstring)."""
    numeric = set(contract.numeric_features)
    planned = [(name, "numeric" if name in numeric else "categorical") for name in contract.features]
    has_score = score_column in reference.features and score_column in current.columns
    if has_score:
        planned.append((score_column, "numeric"))
    judged, issues, unseen = [], [], {}
    for name, kind in planned:
        ref = reference.features.get(name)
        if ref is None:
            raise DriftError(
                f"feature {name!r} is not in the reference profile (built for another contract?); "
                f"profile features: {list(reference.features)}"
            )
        if (kind == "numeric") != isinstance(ref, Numeric):
            raise DriftError(
                f"feature {name!r} is {kind} in contract {contract.name!r} but not in the profile"
            )
        if name not in current.columns:
            raise DriftError(
                f"feature {name!r} is not a column of the window; columns: {list(current.columns)}"
            )
        column = current[name]
        win = _numeric_window(name, column) if kind == "numeric" else _categorical_window(column)
        spec = next((c for c in contract.columns if c.name == name), None)
        integer = (
            spec is not None
            and spec.dtype == "int"
            and ref.nulls == 0
            and win.nulls == 0
            and pd.api.types.is_integer_dtype(column.dtype)
        )
        issues += _quality(name, kind, ref, win, contract)  # the score has no contract column: null rate only
        if kind == "categorical" and win.counts:
            present = sum(win.counts.values())
            new = {v: n for v, n in win.counts.items() if v not in ref.counts}
            unseen[name] = {v: new[v] / present for v in sorted(new, key=lambda v: (-new[v], v))}
        verdict = _judge(name, kind, ref, win, contract, integer)
        if verdict is not None:
            judged.append((name, kind) + verdict)

    p_values = [row[5] for row in judged if row[2] in P_VALUE_METHODS]
    adjusted = iter([])
    if p_values:
        from scipy import stats

        adjusted = iter(stats.false_discovery_control(p_values, method="bh").tolist())
    results = []
    for name, kind, method, threshold, statistic, p_value, ref_rows, cur_rows in judged:
        p_adjusted = next(adjusted) if method in P_VALUE_METHODS else None
        if method == "ks":
            drifted = p_adjusted <= threshold
        elif method in P_VALUE_METHODS:
            drifted = p_adjusted < threshold
        else:
            drifted = statistic >= threshold
        results.append(
            ColumnResult(
                name,
                kind,
                method,
                statistic,
                threshold,
                p_value,
                p_adjusted,
                bool(drifted),
                ref_rows,
                cur_rows,
                unseen.get(name, {}),
            )
        )
    prediction = next((r for r in results if has_score and r.column == score_column), None)
    features = [r for r in results if r is not prediction]
    drifted = [r.column for r in features if r.drifted]
    share = len(drifted) / len(features) if features else 0.0
    critical = [name for name in drifted if name in contract.monitoring.critical_features]
    dataset_drift = bool(features) and share >= contract.monitoring.drift_share or bool(critical)
    return DriftResult(
        len(current), features, share, drifted, critical, dataset_drift, prediction, issues, bool(issues)
    )
