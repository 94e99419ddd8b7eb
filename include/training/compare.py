"""Two models' ROC AUCs on the same rows, compared as the statistics allow.

On a holdout of a few thousand rows an AUC's standard error is about 0.01, so a fixed margin
between two AUCs decides partly by chance. Both models score the same applications, so their
AUCs are correlated; DeLong, DeLong & Clarke-Pearson (1988) give the variance of their
difference from each row's placement values, computed here by midranks (Sun & Xu 2014,
O(n log n)). The difference comes with a one-sided confidence bound on each side, which the
promotion gates read: non-inferiority (the lower bound above minus a margin) and superiority
(the lower bound above the required improvement).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on the same rows: AUCs, their difference a - b, its standard error,
    the two-sided p-value of "no difference" and the one-sided bounds at ``confidence``."""

    auc_a: float
    auc_b: float
    difference: float
    standard_error: float
    p_value: float
    lower: float
    upper: float
    confidence: float
    positives: int
    negatives: int

    def as_dict(self) -> dict:
        return asdict(self)


def _placements(scores: np.ndarray, positive: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(AUC, each positive's share of negatives it outranks, each negative's share of positives
    that outrank it); ties count a half."""
    from scipy.stats import rankdata

    x, y = scores[positive], scores[~positive]
    m, n = len(x), len(y)
    combined = rankdata(np.concatenate([x, y]))
    rank_x, rank_y = combined[:m], combined[m:]
    v10 = (rank_x - rankdata(x)) / n
    v01 = 1.0 - (rank_y - rankdata(y)) / m
    return float(v10.mean()), v10, v01


def delong(y_true, scores_a, scores_b, confidence: float = 0.95) -> Comparison:
    """DeLong's test for two correlated ROC AUCs on the same labelled rows."""
    from scipy.stats import norm

    positive = np.asarray(y_true).astype(int) == 1
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if not (len(a) == len(b) == len(positive)):
        raise ValueError(
            f"scores of {len(a)} and {len(b)} rows for {len(positive)} labels: the same rows are needed"
        )
    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        raise ValueError(f"{m} positives and {n} negatives: DeLong's variance needs at least two of each")
    auc_a, v10_a, v01_a = _placements(a, positive)
    auc_b, v10_b, v01_b = _placements(b, positive)
    s10 = np.cov(np.vstack([v10_a, v10_b]))
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    covariance = s10 / m + s01 / n
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    difference = auc_a - auc_b
    se = float(np.sqrt(max(variance, 0.0)))
    if se == 0.0:  # the same ranking of every pair: no uncertainty about the difference
        p_value = 1.0 if difference == 0 else 0.0
    else:
        p_value = float(2 * norm.sf(abs(difference) / se))
    margin = float(norm.ppf(confidence)) * se
    return Comparison(
        auc_a=auc_a,
        auc_b=auc_b,
        difference=difference,
        standard_error=se,
        p_value=p_value,
        lower=difference - margin,
        upper=difference + margin,
        confidence=confidence,
        positives=m,
        negatives=n,
    )
