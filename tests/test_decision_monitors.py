"""The daily decision monitors' statistics, checked against published or independent values:
bias intervals (Newcombe 1998, Katz), the CBPE estimate against realized AUCs, the nDCG of
attribution rankings, and the promotion hold read from the audit trail."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from include.contract import FairnessLimits


# ------------------------------------------------------------------------------- bias
@pytest.mark.parametrize(
    "counts, published",
    [
        # Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10 (hybrid score).
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ],
)
def test_the_difference_interval_matches_newcombes_published_values(counts, published):
    from include.monitoring.bias import difference_interval

    d, low, high = difference_interval(*counts, 0.95)
    assert d == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert (round(low, 4), round(high, 4)) == published


def test_the_ratio_interval_is_katzs_log_interval():
    from include.monitoring.bias import ratio_interval

    ratio, low, high = ratio_interval(1800, 3000, 2700, 2900, 0.95)
    p1, p2 = 1800 / 3000, 2700 / 2900
    se = math.sqrt((1 - p1) / 1800 + (1 - p2) / 2700)  # sqrt(1/a - 1/n1 + 1/c - 1/n2)
    assert ratio == pytest.approx(p1 / p2)
    assert low == pytest.approx(p1 / p2 * math.exp(-1.959964 * se), rel=1e-5)
    assert high == pytest.approx(p1 / p2 * math.exp(1.959964 * se), rel=1e-5)


def _decisions(rates: dict[str, float], n: int, nulls: int = 0) -> pd.DataFrame:
    rows = []
    for group, rate in rates.items():
        approved = round(rate * n)
        rows += [(group, 1)] * approved + [(group, 0)] * (n - approved)
    rows += [(None, 1)] * nulls
    return pd.DataFrame(rows, columns=["gender", "favorable"])


def test_a_clear_four_fifths_breach_is_crossed_and_names_the_groups():
    from include.monitoring.bias import approval_check

    check = approval_check(_decisions({"F": 0.60, "M": 0.93}, 1500, nulls=40), "gender", FairnessLimits())
    assert check["status"] == "judged" and check["crossed"]
    assert (check["lowest_group"], check["highest_group"]) == ("F", "M")
    assert check["high"] < 0.8 and check["value"] == pytest.approx(0.60 / 0.93, abs=1e-3)
    assert [g["rows"] for g in check["groups"]] == [1500, 1500]  # rows without a group left out


def test_a_ratio_below_the_limit_whose_interval_reaches_it_is_not_crossed():
    from include.monitoring.bias import approval_check

    check = approval_check(_decisions({"F": 0.74, "M": 0.93}, 120), "gender", FairnessLimits())
    assert check["value"] < 0.8 < check["high"] and not check["crossed"]


def test_equal_rates_are_not_crossed_and_a_small_group_is_not_judged():
    from include.monitoring.bias import approval_check

    limits = FairnessLimits(min_group_rows=100)
    fine = approval_check(_decisions({"F": 0.93, "M": 0.93}, 1500), "gender", limits)
    assert fine["status"] == "judged" and not fine["crossed"] and fine["low"] < 1 < fine["high"]
    nobody = approval_check(_decisions({"F": 0.0, "M": 0.0}, 500), "gender", limits)
    assert nobody["status"] == "not_judged" and nobody["detail"] == "no favorable decision in any group"
    unknown = approval_check(_decisions({}, 0, nulls=500), "gender", limits)  # nullable, all null
    assert unknown["status"] == "not_judged" and unknown["groups"] == [] and not unknown["crossed"]
    small = approval_check(_decisions({"F": 0.2, "M": 0.93}, 50), "gender", limits)
    assert small["status"] == "not_judged" and not small["crossed"] and "100 rows" in small["detail"]


def test_a_rate_gap_counts_only_when_its_whole_interval_is_past_the_limit():
    from include.monitoring.bias import gap_check

    limits = FairnessLimits()
    wide = gap_check(_decisions({"F": 0.5, "M": 0.5 + 0.14}, 60), "gender", "tpr_gap", 0.1, limits)
    assert wide["value"] == pytest.approx(0.133, abs=0.01) and wide["low"] < 0.1 and not wide["crossed"]
    sure = gap_check(_decisions({"F": 0.4, "M": 0.7}, 400), "gender", "tpr_gap", 0.1, limits)
    assert sure["crossed"] and sure["low"] > 0.1 and sure["highest_group"] == "M"


# -------------------------------------------------------------------- estimated AUC
def _population(rows: int, seed: int):
    rng = np.random.default_rng(seed)
    probability = 1 / (1 + np.exp(-(-2.2 + 1.4 * rng.normal(size=rows))))
    return probability, (rng.random(rows) < probability).astype(int)


def test_the_estimate_tracks_the_realized_auc_of_a_calibrated_model():
    from sklearn.metrics import roc_auc_score

    from include.monitoring.estimated import calibrated, calibration_map, expected_auc

    p, y = _population(40_000, 1)
    scores = p**3  # a monotone, badly calibrated score: the same ranking, other probabilities
    holdout = slice(0, 20_000)
    mapping = calibration_map(y[holdout], scores[holdout])
    live = slice(20_000, None)
    realized = roc_auc_score(y[live], scores[live])
    estimate = expected_auc(scores[live], calibrated(mapping, scores[live]))
    assert abs(estimate - realized) < 0.01, (estimate, realized)
    # Without the calibration the raw scores are taken for probabilities, and the estimate is off.
    assert abs(expected_auc(scores[live], scores[live]) - realized) > 0.02


def test_the_estimate_follows_a_population_the_model_separates_less_and_misses_a_changed_concept():
    from sklearn.metrics import roc_auc_score

    from include.monitoring.estimated import calibrated, calibration_map, expected_auc

    p, y = _population(20_000, 2)
    mapping = calibration_map(y, p)
    narrow = (p > 0.05) & (p < 0.3)  # only mid-risk applicants: harder to rank
    estimate = expected_auc(p[narrow], calibrated(mapping, p[narrow]))
    assert estimate < expected_auc(p, calibrated(mapping, p)) - 0.05
    assert abs(estimate - roc_auc_score(y[narrow], p[narrow])) < 0.03
    flipped = 1 - y  # the same inputs, the opposite concept: the scores cannot tell
    assert roc_auc_score(flipped, p) < 0.5 < expected_auc(p, calibrated(mapping, p))


def test_an_estimate_without_any_positive_weight_is_none():
    from include.monitoring.estimated import expected_auc

    assert expected_auc(np.array([0.1, 0.2]), np.zeros(2)) is None
    assert expected_auc(np.array([]), np.array([])) is None


# --------------------------------------------------------------------- attribution
REFERENCE = {"features": ["a", "b", "c", "d"], "mean_abs_contribution": [0.4, 0.3, 0.2, 0.1], "rows": 100}


def _live(values) -> dict:
    return {"features": ["a", "b", "c", "d"], "mean_abs_contribution": values, "rows": 100}


def test_the_same_ranking_scores_one_and_a_reversed_one_falls_below_the_limit():
    from include.monitoring.attribution import compare

    same = compare(REFERENCE, _live([0.8, 0.6, 0.4, 0.2]))  # magnitudes differ, ranks do not
    assert same["ndcg"] == pytest.approx(1.0) and same["spearman"] == pytest.approx(1.0)
    swapped = compare(REFERENCE, _live([0.3, 0.4, 0.2, 0.1]))
    assert 0.9 < swapped["ndcg"] < 1.0
    reversed_ = compare(REFERENCE, _live([0.1, 0.2, 0.3, 0.4]))
    assert reversed_["ndcg"] < 0.9 and reversed_["spearman"] == pytest.approx(-1.0)
    ranks = {f["feature"]: (f["reference_rank"], f["live_rank"]) for f in reversed_["features"]}
    assert ranks == {"a": (1, 4), "b": (2, 3), "c": (3, 2), "d": (4, 1)}


def test_mean_attribution_samples_a_fixed_set_of_rows():
    from sklearn.linear_model import LogisticRegression

    from include.monitoring.attribution import mean_attribution

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"strong": rng.normal(size=500), "weak": rng.normal(size=500)})
    y = (x["strong"] * 2 + x["weak"] * 0.2 + rng.normal(size=500) > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    typical = {"strong": 0.0, "weak": 0.0}
    first = mean_attribution(model, x, typical, rows=200, seed=7)
    assert first == mean_attribution(model, x, typical, rows=200, seed=7) and first["rows"] == 200
    assert first["mean_abs_contribution"][0] > 3 * first["mean_abs_contribution"][1]


# --------------------------------------------------------------------- promotion hold
def _event(kind: str, seq_day: int, **extra) -> dict:
    return {
        "type": kind,
        "time": f"2026-05-{seq_day:02d}T05:00:00+00:00",
        "actor": "monitor" if kind == "bias_detected" else "user:ro",
        "dag_run_id": f"run-{kind}-{seq_day}",
        "model": "credit_applications",
        **extra,
    }


def test_a_bias_alert_holds_promotion_until_a_person_approves(tmp_path, use_env):
    from dataclasses import replace

    from include import audit, contract
    from include.monitoring.bias import promotion_hold

    s = use_env(MLOPS_LOCAL_DIR=str(tmp_path))
    credit = contract.load("credit_applications")
    day = date(2026, 5, 16)

    def record(event):
        audit.record([event], interval=(day, day), dag_run_id=event["dag_run_id"], task="t", settings=s)

    assert promotion_hold(credit, settings=s) is None
    record(_event("approved", 10, version="1"))
    record(_event("bias_detected", 16, day="2026-05-15"))
    held = promotion_hold(credit, settings=s)
    assert held is not None and held["day"] == "2026-05-15"
    off = replace(
        credit, monitoring=replace(credit.monitoring, fairness=FairnessLimits(hold_promotion=False))
    )
    assert promotion_hold(off, settings=s) is None
    record(_event("declined", 17, version="2"))
    assert promotion_hold(credit, settings=s) is not None  # a refusal lifts nothing
    record(_event("approved", 18, version="3"))
    assert promotion_hold(credit, settings=s) is None
