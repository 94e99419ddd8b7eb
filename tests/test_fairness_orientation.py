"""Every fairness number is measured on the favorable decision (``labels.favorable``), and the
monitor's numbers equal fairlearn's on the same rows, for both orientations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from include.contract import load
from include.monitoring import bias


def _contract(favorable: str):
    contract = load("credit_applications")
    return replace(contract, labels=replace(contract.labels, favorable=favorable))


def _rows(seed: int = 3, n: int = 6000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gender = rng.choice(["F", "M", "X"], n, p=[0.45, 0.45, 0.10])
    positive = (rng.random(n) < np.where(gender == "F", 0.3, 0.2)).astype(int)
    score = np.clip(0.35 * positive + rng.normal(np.where(gender == "M", 0.35, 0.30), 0.2), 0, 1)
    return pd.DataFrame({"gender": gender, "score": score, "positive": positive})


@pytest.mark.parametrize("favorable", ["negative", "positive"])
def test_the_monitor_measures_what_fairlearn_measures_on_the_favorable_decision(favorable):
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    contract, rows = _contract(favorable), _rows()
    checks = {c["metric"]: c for c in bias.fairness_checks(rows, contract)}
    # fairlearn on the same rows: y_true 1 where the outcome is the favorable one, y_pred 1 where
    # the decision is (for credit: repaid and approved; for "positive": selected).
    wanted_outcome = 0 if favorable == "negative" else 1
    decided = (rows["score"] >= contract.decision_threshold).astype(int)
    y_pred = 1 - decided if favorable == "negative" else decided
    y_true = (rows["positive"] == wanted_outcome).astype(int)
    frame = MetricFrame(
        metrics={"selection": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=rows["gender"],
    )
    by = frame.by_group
    assert checks["approval_ratio"]["value"] == pytest.approx(
        by["selection"].min() / by["selection"].max(), abs=1e-12
    )
    assert checks["tpr_gap"]["value"] == pytest.approx(by["tpr"].max() - by["tpr"].min(), abs=1e-12)
    assert checks["fpr_gap"]["value"] == pytest.approx(by["fpr"].max() - by["fpr"].min(), abs=1e-12)
    rates = {g["group"]: g["rate"] for g in checks["approval_ratio"]["groups"]}
    assert rates == pytest.approx(by["selection"].to_dict(), abs=1e-12)


def test_the_two_orientations_give_different_verdicts_on_the_same_decisions():
    """A model that selects F at 0.29 of M's rate breaks the four-fifths rule when selection is
    what a person wants; read as the adverse decision the same rows pass (the bug of issue 22)."""
    gender = np.array(["F"] * 2000 + ["M"] * 2000)
    selected = np.r_[np.arange(2000) < 80, np.arange(2000) < 280]  # F 0.04, M 0.14
    rows = pd.DataFrame({"gender": gender, "score": np.where(selected, 0.9, 0.1), "positive": 0})
    wanted = bias.fairness_checks(rows, _contract("positive"), outcome=None)[0]
    adverse = bias.fairness_checks(rows, _contract("negative"), outcome=None)[0]
    assert wanted["value"] == pytest.approx(0.04 / 0.14, abs=1e-9) and wanted["crossed"]
    assert adverse["value"] == pytest.approx(0.86 / 0.96, abs=1e-9) and not adverse["crossed"]
    assert wanted["lowest_group"] == "F" and adverse["lowest_group"] == "M"


def test_messages_use_the_contract_names_or_neutral_words():
    contract = _contract("negative")
    named = replace(contract, labels=replace(contract.labels, names={1: "defaulted", 0: "repaid"}))
    checks = bias.fairness_checks(_rows(), named)
    tpr = next(c for c in checks if c["metric"] == "tpr_gap")
    assert "among repaid rows" in bias.shown(tpr, named.labels, named.monitoring.fairness)
    neutral = next(c for c in bias.fairness_checks(_rows(), contract) if c["metric"] == "fpr_gap")
    text = bias.shown(neutral, contract.labels, contract.monitoring.fairness)
    assert "among unfavorable outcome rows" in text and "default" not in text
