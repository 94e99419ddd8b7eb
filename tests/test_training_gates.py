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


def _credit(**labels):
    from dataclasses import replace

    from include.contract import load

    contract = load("credit_applications")
    return replace(contract, labels=replace(contract.labels, **labels))


def test_fairness_table_matches_hand_computed_rates_on_the_favorable_decision():
    # Credit (favorable: negative): a score below 0.5 approves. F approves [0,1,1,1] -> 3/4;
    # M [0,0,0,1] -> 1/4. Among the repaid (y=0): F approves 2/2, M 1/2 (TPR); among the
    # defaulters: F 1/2, M 0/2 (FPR). The row without a group is left out.
    table = gates.fairness_table(Y_TRUE, UNFAIR_SCORES, GROUPS, _credit())
    assert table["favorable_rate"].to_dict() == pytest.approx({"F": 0.75, "M": 0.25})
    assert table["true_positive_rate"].to_dict() == pytest.approx({"F": 1.0, "M": 0.5})
    assert table["false_positive_rate"].to_dict() == pytest.approx({"F": 0.5, "M": 0.0})
    assert table["rows"].to_dict() == {"F": 4, "M": 4} and table["favorable_outcomes"].to_dict() == {
        "F": 2,
        "M": 2,
    }
    # The positive class wanted (hired): a score at or above 0.5 selects.
    flipped = gates.fairness_table(Y_TRUE, UNFAIR_SCORES, GROUPS, _credit(favorable="positive"))
    assert flipped["favorable_rate"].to_dict() == pytest.approx({"F": 0.25, "M": 0.75})
    assert flipped["true_positive_rate"].to_dict() == pytest.approx({"F": 0.5, "M": 1.0})


def _checks(contract, groups, y, scores, **limits):
    from dataclasses import replace

    from include.monitoring import bias

    frame = pd.DataFrame({"gender": groups, "score": scores, "positive": y})
    fairness = replace(contract.monitoring.fairness, **limits)
    return gates.fairness(
        bias.fairness_checks(frame, contract, "score", fairness), contract.labels, fairness
    ), fairness


def test_a_gate_fails_only_when_its_interval_lies_past_the_limit():
    rng = np.random.default_rng(7)
    n = 4000
    groups = np.where(np.arange(n) < n // 2, "F", "M")
    # Selected (favorable, score >= 0.5): F at 0.10, M at 0.35 -> ratio 0.29, far below 0.8.
    selected = rng.random(n) < np.where(groups == "F", 0.10, 0.35)
    scores = np.where(selected, 0.8, 0.2)
    y = rng.integers(0, 2, n)
    results, _ = _checks(_credit(favorable="positive"), groups, y, scores)
    ratio = next(g for g in results if g.name == "fairness_approval_ratio[gender]")
    assert not ratio.passed and ratio.observed == pytest.approx(0.29, abs=0.03)
    # The same decisions read with the negative class favorable: the rates are 0.90 and 0.65.
    results, _ = _checks(_credit(), groups, y, scores)
    ratio = next(g for g in results if g.name == "fairness_approval_ratio[gender]")
    assert not ratio.passed and ratio.observed == pytest.approx(0.72, abs=0.03)
    # 0.79 on 150 rows a group: its interval reaches 0.8, so it is not a violation.
    small = np.where(np.arange(300) < 150, "F", "M")
    picks = np.r_[np.arange(150) < 79, np.arange(150) < 100]
    results, _ = _checks(_credit(favorable="positive"), small, np.zeros(300, int), np.where(picks, 0.9, 0.1))
    ratio = next(g for g in results if g.name == "fairness_approval_ratio[gender]")
    assert ratio.passed and ratio.observed == pytest.approx(0.79) and "not wholly past" in ratio.message


def test_a_small_group_is_named_and_not_judged_unless_the_contract_blocks():
    groups = np.array(["F"] * 2000 + ["M"] * 2000 + ["X"] * 20)
    y = np.tile([0, 1], 2010)
    scores = np.tile([0.2, 0.7, 0.3, 0.8], 1005)
    results, _ = _checks(_credit(), groups, y, scores)
    assert all(g.passed for g in results)
    assert all("X (n=" in g.message for g in results) and not any("too few" in g.message for g in results)
    blocked, _ = _checks(_credit(), groups, y, scores, small_groups="block")
    assert not any(g.passed for g in blocked) and all("small_groups: block" in g.message for g in blocked)
    # Only small groups: nothing to judge, said so, and it does not block promotion.
    lonely, _ = _checks(_credit(), np.array(["F"] * 20 + ["M"] * 20), y[:40], scores[:40])
    assert all(g.passed and g.observed is None and "not judged" in g.message for g in lonely)


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
