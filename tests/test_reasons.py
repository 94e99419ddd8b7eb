"""Reason codes on a model whose true reasons are known, and on the credit pipeline."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from include import contract as contract_module
from include.simulator import credit as simulator
from include.training.candidates import features, logistic_scorecard
from include.training.reasons import contributions, reason_codes, typical_values
from tests.support.paths import CONTRACTS_DIR

CREDIT = contract_module.load("credit_applications", CONTRACTS_DIR)


def test_only_the_features_the_model_uses_are_named_and_in_the_right_order():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(
        {"debt": rng.normal(size=2000), "late": rng.normal(size=2000), "noise": rng.normal(size=2000)}
    )
    y = (2 * x["debt"] + x["late"] + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    model = LogisticRegression().fit(x[["debt", "late"]].assign(noise=0.0), y)  # noise has weight 0
    typical = typical_values(x)
    applicant = pd.DataFrame({"debt": [2.0], "late": [1.0], "noise": [5.0]})
    codes = reason_codes(model, applicant, typical)[0]
    assert [c["feature"] for c in codes] == ["debt", "late"]
    assert codes[0]["value"] == 2.0 and codes[0]["contribution"] > codes[1]["contribution"] > 0
    safe = pd.DataFrame({"debt": [-2.0], "late": [-1.0], "noise": [0.0]})
    assert reason_codes(model, safe, typical)[0] == []  # nothing raised this applicant's risk


def test_credit_scorecard_explains_a_risky_application_with_its_risky_features():
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(3)]
    data = simulator.labelled_applications(days, seed=5, rows=2000, maturity_days=CREDIT.labels.maturity_days)
    x = features(data, CREDIT)
    model = logistic_scorecard(CREDIT, seed=0, C=1.0).fit(x, data["defaulted"])
    typical = typical_values(x)
    risky = x.iloc[[0]].copy()
    risky["credit_score"], risky["debt_to_income"], risky["recent_delinquencies"] = 480.0, 1.4, 6.0
    codes = reason_codes(model, risky, typical)[0]
    assert {c["feature"] for c in codes} == {"credit_score", "debt_to_income", "recent_delinquencies"}
    table = contributions(model, x.head(50), typical)
    assert list(table.columns) == list(x.columns) and "gender" not in table.columns


def test_a_selection_model_approves_high_scores_and_names_what_held_a_score_down():
    """With ``favorable: positive`` (hired, >50K) a score at or above the threshold is the
    favorable decision, and the reasons of a decline are the features that lowered the score."""
    from include.training.reasons import explain

    rng = np.random.default_rng(1)
    x = pd.DataFrame({"skill": rng.normal(size=2000), "hours": rng.normal(size=2000)})
    y = (2 * x["skill"] + x["hours"] + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    typical = typical_values(x)
    weak = pd.DataFrame({"skill": [-2.0, 2.0], "hours": [-1.0, 1.0]})
    credit = explain(model, weak, typical, 0.5)
    selection = explain(model, weak, typical, 0.5, favorable="positive")
    assert list(credit["decision"]) == ["approve", "decline"]
    assert list(selection["decision"]) == ["decline", "approve"]
    assert (selection["reason_1"][0], selection["reason_2"][0]) == ("skill", "hours")  # lowered it
    assert (credit["reason_1"][1], credit["reason_2"][1]) == ("skill", "hours")  # raised it
    assert selection["reason_1"][1] == "" and list(selection["score"]) == list(credit["score"])
