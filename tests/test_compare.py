"""DeLong's comparison of two correlated AUCs, checked against the 1988 paper's formulas written
out pair by pair, and against a paired bootstrap on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from include.training.compare import delong


def _two_models(rows: int, seed: int, gap: float = 0.3):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=rows)
    y = (rng.random(rows) < 1 / (1 + np.exp(-(-1.5 + 1.5 * signal)))).astype(int)
    a = signal + rng.normal(0, 0.8, rows)  # the better model
    b = signal + rng.normal(0, 0.8 + gap, rows)
    return y, np.round(a, 2), np.round(b, 2)  # rounded: ties occur, as in real scores


def _by_definition(y, a, b):
    """DeLong et al. (1988): placement values psi(X_i, Y_j) over every positive-negative pair."""
    x_a, y_a, x_b, y_b = a[y == 1], a[y == 0], b[y == 1], b[y == 0]

    def psi(x, z):
        return (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])

    pa, pb = psi(x_a, y_a), psi(x_b, y_b)
    m, n = pa.shape
    v10 = np.vstack([pa.mean(axis=1), pb.mean(axis=1)])
    v01 = np.vstack([pa.mean(axis=0), pb.mean(axis=0)])
    s = np.cov(v10) / m + np.cov(v01) / n
    return pa.mean() - pb.mean(), np.sqrt(s[0, 0] + s[1, 1] - 2 * s[0, 1])


def test_the_fast_computation_equals_the_pairwise_definition():
    y, a, b = _two_models(600, 1)
    found = delong(y, a, b)
    difference, se = _by_definition(y, a, b)
    assert found.auc_a == pytest.approx(roc_auc_score(y, a)) and found.auc_b == pytest.approx(
        roc_auc_score(y, b)
    )
    assert found.difference == pytest.approx(difference, abs=1e-12)
    assert found.standard_error == pytest.approx(se, rel=1e-9)


def test_the_standard_error_agrees_with_a_paired_bootstrap():
    y, a, b = _two_models(3000, 2)
    found = delong(y, a, b)
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(400):
        rows = rng.integers(0, len(y), len(y))
        differences.append(roc_auc_score(y[rows], a[rows]) - roc_auc_score(y[rows], b[rows]))
    assert found.standard_error == pytest.approx(np.std(differences, ddof=1), rel=0.15)
    assert found.difference > 0 and found.lower > 0 and found.p_value < 0.01  # a is truly better


def test_equally_good_models_are_told_apart_about_as_often_as_the_level_says():
    """200 pairs of equally good models on 800 rows each: "significant" at 5 % in about 5 % of
    them (binomial 95 % range 2-8.5 %), and the one-sided bound clears zero in about 5 %."""
    found = [delong(*_two_models(800, seed, gap=0.0)) for seed in range(200)]
    significant = sum(f.p_value < 0.05 for f in found) / len(found)
    above_zero = sum(f.lower > 0 for f in found) / len(found)
    assert 0.02 <= significant <= 0.085, significant
    assert 0.02 <= above_zero <= 0.085, above_zero
    first = found[0]
    assert first.upper - first.difference == pytest.approx(1.6449 * first.standard_error, rel=1e-4)


def test_a_model_against_itself_differs_by_nothing_for_certain():
    y, a, _ = _two_models(500, 1)
    same = delong(y, a, a)
    assert (same.difference, same.standard_error, same.p_value, same.lower) == (0.0, 0.0, 1.0, 0.0)


def test_unusable_inputs_are_refused_naming_the_counts():
    with pytest.raises(ValueError, match="1 positives and 3 negatives"):
        delong([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], [0.8, 0.2, 0.1, 0.3])
    with pytest.raises(ValueError, match="scores of 3 and 4 rows for 4 labels"):
        delong([1, 1, 0, 0], [0.9, 0.1, 0.2], [0.8, 0.2, 0.1, 0.3])
