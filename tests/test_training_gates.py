"""Each promotion gate, crafted to pass and to fail; fairness against a hand-computed table."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from include.training import gates


def test_auc_floor():
    assert gates.auc_floor(0.85, 0.85).passed
    failed = gates.auc_floor(0.8499, 0.85)
    assert not failed.passed and "0.8499 < the contract floor 0.85" in failed.message


def _compared(difference: float, se: float = 0.004):
    from include.training.compare import Comparison

    margin = 1.6449 * se
    return Comparison(
        0.88 + difference,
        0.88,
        difference,
        se,
        0.5,
        difference - margin,
        difference + margin,
        0.95,
        300,
        2700,
    )


def test_no_regression_is_non_inferiority_on_the_lower_bound():
    assert gates.no_regression(_compared(-0.002), margin=0.01).passed  # lower bound -0.0086
    failed = gates.no_regression(_compared(-0.005), margin=0.01)  # lower bound -0.0116
    assert not failed.passed and failed.observed == pytest.approx(-0.005 - 1.6449 * 0.004, abs=1e-6)
    assert "possibly worse than the champion by the non-inferiority margin 0.01" in failed.message
    assert not gates.no_regression(_compared(-0.002, se=0.006), margin=0.01).passed  # wider: unsure
    assert gates.no_regression(None, margin=0.01).passed  # first model: no champion


def test_min_improvement_needs_significance_unless_forced():
    noisy = _compared(0.006)  # a gain the old 0.002 margin took, inside the noise: bound -0.0006
    assert not gates.min_improvement(noisy, margin=0.0, force=False).passed
    forced = gates.min_improvement(noisy, margin=0.0, force=True)
    assert forced.passed and "passed because the trigger forced it" in forced.message
    clear = gates.min_improvement(_compared(0.012), margin=0.0, force=False)
    assert clear.passed and "significantly better" in clear.message and "DeLong SE 0.0040" in clear.message
    assert not gates.min_improvement(_compared(0.012), margin=0.01, force=False).passed


def test_overfitting_gap():
    assert gates.overfitting(0.95, 0.86).passed
    failed = gates.overfitting(0.99, 0.85)
    assert not failed.passed and failed.observed == pytest.approx(0.14)


GROUPS = ["F", "F", "F", "F", "M", "M", "M", "M", None]
Y_TRUE = [1, 1, 0, 0, 1, 1, 0, 0, 1]
UNFAIR_SCORES = [0.9, 0.2, 0.1, 0.1, 0.9, 0.8, 0.7, 0.1, 0.9]


def test_fairness_table_matches_hand_computed_rates():
    # F: flagged [1,0,0,0] -> approval 3/4, TPR 1/2.  M: flagged [1,1,1,0] -> approval 1/4, TPR 2/2.
    # The row without a group is left out.
    table = gates.fairness_table(Y_TRUE, UNFAIR_SCORES, GROUPS, threshold=0.5)
    assert table.loc["F", "approval_rate"] == pytest.approx(0.75)
    assert table.loc["M", "approval_rate"] == pytest.approx(0.25)
    assert table.loc["F", "true_positive_rate"] == pytest.approx(0.5)
    assert table.loc["M", "true_positive_rate"] == pytest.approx(1.0)
    assert table["rows"].to_dict() == {"F": 4, "M": 4} and table["defaulters"].to_dict() == {"F": 2, "M": 2}


def test_fairness_gates_fail_the_four_fifths_rule_and_the_tpr_gap():
    ratio, tpr = gates.fairness("gender", gates.fairness_table(Y_TRUE, UNFAIR_SCORES, GROUPS, 0.5))
    assert not ratio.passed and ratio.observed == pytest.approx(1 / 3, abs=1e-6)
    assert not tpr.passed and tpr.observed == pytest.approx(0.5)
    assert ratio.name == "fairness_approval_ratio[gender]"


def test_the_tpr_gap_is_not_judged_on_groups_with_too_few_defaulters():
    fair = [0.9, 0.2, 0.1, 0.1, 0.9, 0.2, 0.1, 0.1, 0.9]
    table = gates.fairness_table(Y_TRUE, fair, GROUPS, 0.5)
    ratio, tpr = gates.fairness("gender", table, min_group_defaulters=3)
    assert ratio.passed and not tpr.passed and tpr.observed is None
    assert "too few defaulters by gender" in tpr.message and "{'F': 2, 'M': 2}" in tpr.message
    assert gates.fairness("gender", table, min_group_defaulters=2)[1].passed


def test_fairness_gates_pass_on_equal_treatment():
    fair = [0.9, 0.2, 0.1, 0.1, 0.9, 0.2, 0.1, 0.1, 0.9]
    assert all(g.passed for g in gates.fairness("gender", gates.fairness_table(Y_TRUE, fair, GROUPS, 0.5)))


def test_schema_change_needs_a_recorded_reason():
    assert gates.schema_compatible(["a", "b"], ["b", "a"]).passed
    assert gates.schema_compatible(["a", "b"], None).passed
    failed = gates.schema_compatible(["a", "c"], ["a", "b"])
    assert not failed.passed and "added ['c'], removed ['b']" in failed.message
    assert gates.schema_compatible(["a", "c"], ["a", "b"], reason="bureau replaced b by c").passed


class _SlowModel:
    """Burns 250 ms of CPU a call, as a model too big for real-time scoring would."""

    def predict_proba(self, rows):
        start = time.process_time()
        while time.process_time() - start < 0.25:
            pass
        return np.zeros((len(rows), 2))


class _WaitedModel:
    """Fast, but its calls wait 250 ms for a CPU another process holds (as on a loaded worker)."""

    def predict_proba(self, rows):
        time.sleep(0.25)
        return np.zeros((len(rows), 2))


def test_latency_gate_measures_p99_and_throughput():
    rows = pd.DataFrame({"x": np.arange(1000.0)})
    model = LogisticRegression().fit(rows, (rows["x"] > 500).astype(int))
    fast, stats = gates.latency(model.predict_proba, rows, single_calls=50)
    assert fast.passed and stats["p99_ms"] < 200 and stats["batch_rows_per_second"] > 1000
    slow, _ = gates.latency(_SlowModel().predict_proba, rows.head(3), single_calls=3)
    assert not slow.passed and slow.observed > 200


def test_latency_gate_judges_cpu_time_so_a_busy_machine_does_not_fail_a_fast_model():
    rows = pd.DataFrame({"x": np.arange(3.0)})
    waited, stats = gates.latency(_WaitedModel().predict_proba, rows, single_calls=3)
    assert waited.passed and stats["cpu_p99_ms"] < 50
    assert stats["p99_ms"] >= 250 and "wall p99" in waited.message
