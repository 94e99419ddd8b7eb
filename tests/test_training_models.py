"""Candidate pipelines, the search and the holdout metrics, on simulator data."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from include import contract as contract_module
from include.simulator import credit as simulator
from include.training.candidates import features, plan, search
from include.training.dataset import time_split
from include.training.evaluation import evaluate
from tests.support.paths import CONTRACTS_DIR

CREDIT = contract_module.load("credit_applications", CONTRACTS_DIR)


def test_metrics_match_values_computed_by_hand():
    # Positives score 0.35 and 0.8, negatives 0.1 and 0.4: 3 of 4 pairs ordered -> AUC 0.75;
    # best cut gives TPR-FPR = 0.5; Brier = (0.01 + 0.16 + 0.4225 + 0.04) / 4; average precision
    # = 0.5 * 1 + 0.5 * 2/3.
    m = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.5, calibration_bins=2)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["ks"] == pytest.approx(0.5)
    assert m["brier"] == pytest.approx(0.158125)
    assert m["pr_auc"] == pytest.approx(5 / 6)
    assert m["confusion"] == {"threshold": 0.5, "tn": 2, "fp": 0, "fn": 1, "tp": 1}
    assert m["positive_rate"] == 0.5 and m["rows"] == 4


def test_a_single_class_holdout_is_refused():
    with pytest.raises(ValueError, match="single class"):
        evaluate([0, 0, 0], [0.1, 0.2, 0.3], threshold=0.5)


def test_only_contract_features_enter_the_model():
    numeric, categorical = list(CREDIT.numeric_features), list(CREDIT.categorical_features)
    assert "gender" not in numeric + categorical  # protected
    assert "application_id" not in numeric + categorical and "application_ts" not in numeric + categorical
    assert categorical == ["home_ownership", "loan_purpose"]
    frame = pd.DataFrame({c: [1] for c in numeric} | {c: ["x"] for c in categorical} | {"gender": ["F"]})
    frame["age"] = pd.array([None], dtype="Int64")
    x = features(frame, CREDIT)
    assert list(x.columns) == numeric + categorical and np.isnan(x.loc[0, "age"])


@pytest.fixture(scope="module")
def labelled():
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(6)]
    data = simulator.labelled_applications(
        days, seed=11, rows=1500, maturity_days=CREDIT.labels.maturity_days
    )
    return time_split(data, CREDIT)


@pytest.fixture(scope="module")
def searched(labelled):
    return search(CREDIT, labelled.train, labelled.validation, seed=0)


def test_search_tries_both_families_and_the_best_generalises(searched, labelled):
    assert {t.family for t in searched.trials} == {"hist_gradient_boosting", "logistic_scorecard"}
    assert len(searched.trials) == len(plan()) == 11 and all(c["fitted"] for c in searched.plan)
    assert searched.best_trial.validation_auc == max(t.validation_auc for t in searched.trials)
    holdout = evaluate(
        labelled.holdout["defaulted"],
        searched.best.predict_proba(features(labelled.holdout, CREDIT))[:, 1],
        threshold=CREDIT.decision_threshold,
    )
    assert 0.84 <= holdout["roc_auc"] <= 0.93
    assert "gender" not in searched.best.feature_names_in_


def test_a_second_smaller_search_fits_the_same_first_candidates_to_the_same_metrics(searched, labelled):
    """Same data and seed, same models: the first 4 candidates of a second search score exactly
    as in the first, and cover both families."""
    smaller = search(CREDIT, labelled.train, labelled.validation, seed=0, candidates=4)
    assert [(t.family, t.params) for t in smaller.trials] == [
        (t.family, t.params) for t in searched.trials[:4]
    ]
    assert [t.validation_auc for t in smaller.trials] == [t.validation_auc for t in searched.trials[:4]]
    assert {t.family for t in smaller.trials} == {"hist_gradient_boosting", "logistic_scorecard"}
    assert [c["fitted"] for c in smaller.plan] == [True] * 4 + [False] * 7
    with pytest.raises(ValueError, match="1 to 11 candidates, not 0"):
        search(CREDIT, labelled.train, labelled.validation, candidates=0)


def test_a_single_class_split_is_refused_before_training(labelled):
    train = labelled.train.assign(defaulted=0)
    with pytest.raises(ValueError, match=r"the train split \(\d+ rows\) holds a single class"):
        search(CREDIT, train, labelled.validation)
