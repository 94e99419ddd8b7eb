"""Reference profiles: per-partition feature summaries that merge exactly (counts, moments,
min/max, value counts) or within the KLL error bound (quantiles), and survive JSON."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from include import contract as contract_module
from include.drift.profile import (
    DEFAULT_K,
    FORMAT_VERSION,
    MAX_EXACT_COUNTS,
    TAIL_VALUES,
    Categorical,
    Numeric,
    Profile,
    ProfileError,
    merge_all,
    profile,
)
from include.simulator import credit as simulator
from tests.support.paths import CONTRACTS_DIR

CREDIT = contract_module.load("credit_applications", CONTRACTS_DIR)
NUMERIC = [
    "age",
    "annual_income",
    "employment_years",
    "loan_amount",
    "loan_term_months",
    "debt_to_income",
    "credit_score",
    "open_accounts",
    "recent_delinquencies",
]
CATEGORICAL = ["home_ownership", "loan_purpose"]
DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(3)]


SCENARIOS = ["stable", "income_shift", "employment_bimodal"]


@pytest.fixture(scope="module")
def days() -> list[pd.DataFrame]:
    # 10,000 rows a day, far beyond k=200, so every sketch is compacted (approximate); the days
    # differ in income and employment, so a merge that lost a partition would show.
    return [
        simulator.applications(day, seed=7, rows=10_000, scenario=scenario)
        for day, scenario in zip(DAYS, SCENARIOS, strict=True)
    ]


@pytest.fixture(scope="module")
def whole(days) -> pd.DataFrame:
    return pd.concat(days, ignore_index=True)


def _with_column(contract, name: str, **changes):
    columns = tuple(dataclasses.replace(c, **changes) if c.name == name else c for c in contract.columns)
    return dataclasses.replace(contract, columns=columns)


def test_features_and_kinds_follow_the_contract(whole):
    p = profile(whole, CREDIT)
    assert list(p.features) == list(CREDIT.features)
    assert [n for n, s in p.features.items() if isinstance(s, Numeric)] == NUMERIC
    assert [n for n, s in p.features.items() if isinstance(s, Categorical)] == CATEGORICAL
    assert "gender" not in p.features and "application_id" not in p.features


def test_merging_the_halves_gives_the_profile_of_the_whole(whole):
    half = len(whole) // 2
    first, second = (
        profile(whole.iloc[:half], CREDIT, partition="a"),
        profile(whole.iloc[half:], CREDIT, partition="b"),
    )
    merged = first.merge(second)
    assert first.rows == half and first.features["age"].sketch.n == half  # the inputs are left alone
    assert merged.rows == len(whole) and merged.partitions == ("a", "b")
    for name in NUMERIC:
        s, x = merged.features[name], whole[name].astype(float)
        assert (s.rows, s.nulls, s.count) == (len(whole), int(x.isna().sum()), int(x.notna().sum())), name
        assert np.isclose(s.mean, x.mean(), rtol=1e-12) and np.isclose(
            merged.mean(name), x.mean(), rtol=1e-12
        )
        assert np.isclose(merged.std(name) ** 2, x.var(ddof=1), rtol=1e-9), name
        assert (s.min, s.max) == (x.min(), x.max()), name
    for name in CATEGORICAL:
        s = merged.features[name]
        assert s.counts == whole[name].value_counts().to_dict() and s.nulls == 0 and s.rows == len(whole)


def test_merged_sketch_quantiles_are_within_the_kll_rank_error(days, whole):
    merged = merge_all(
        profile(frame, CREDIT, partition=f"dt={day}") for day, frame in zip(DAYS, days, strict=True)
    )
    assert merged.partitions == tuple(f"dt={day}" for day in DAYS)
    qs = np.linspace(0.01, 0.99, 25)
    for name in NUMERIC:
        sketch = merged.features[name].sketch
        assert sketch.is_estimation_mode() and sketch.n == merged.features[name].count, name
        exact = np.sort(whole[name].dropna().to_numpy(float))
        estimate = np.asarray(merged.quantiles(name, qs))
        # With ties a value covers a range of ranks: [share below it, share at or below it].
        below = np.searchsorted(exact, estimate, "left") / exact.size
        at_or_below = np.searchsorted(exact, estimate, "right") / exact.size
        distance = np.maximum(below - qs, qs - at_or_below).clip(0)
        assert distance.max() <= 0.02, (name, distance.max())
        assert merged.quantiles(name, [0, 1]) == [exact[0], exact[-1]]
        points = np.quantile(exact, [0.1, 0.5, 0.9])
        ecdf = np.searchsorted(exact, points, "right") / exact.size
        assert np.abs(merged.cdf(name, points) - ecdf).max() <= 0.02, name


def test_json_round_trip_preserves_everything(days):
    p = profile(days[0], CREDIT, partition="dt=2026-03-01")
    back = Profile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert back == p  # rows, partitions and every statistic but the sketch
    assert back.to_dict() == p.to_dict()  # the sketch bytes too
    assert back.to_dict()["format_version"] == FORMAT_VERSION
    for name in NUMERIC:
        assert back.quantiles(name, [0.1, 0.5, 0.9]) == p.quantiles(name, [0.1, 0.5, 0.9])
        assert back.bin_edges(name) == p.bin_edges(name)
    assert back.merge(profile(days[1], CREDIT, partition="dt=2026-03-02")).rows == 20_000


def test_nulls_are_counted_and_left_out_of_the_statistics():
    frame = simulator.applications(DAYS[0], seed=3, rows=8)
    frame["annual_income"] = [1.0, np.nan, 3.0, np.nan, 5.0, 6.0, 7.0, 8.0]
    frame["age"] = pd.array([30, None, 40, 50, None, 20, 60, 70], dtype="Int64")
    frame["home_ownership"] = ["RENT", None, "OWN", "RENT", np.nan, "RENT", "OWN", "MORTGAGE"]
    p = profile(frame, CREDIT)
    income = p.features["annual_income"]
    assert (income.rows, income.nulls, income.count, income.min, income.max) == (8, 2, 6, 1.0, 8.0)
    assert p.mean("annual_income") == pytest.approx(5.0)
    assert p.std("annual_income") == pytest.approx(np.std([1, 3, 5, 6, 7, 8], ddof=1))
    assert income.sketch.n == 6 and p.quantiles("annual_income", [0, 1]) == [1.0, 8.0]
    assert (p.features["age"].nulls, p.mean("age")) == (2, 45.0)
    home = p.features["home_ownership"]
    assert (home.nulls, home.counts) == (2, {"RENT": 3, "OWN": 2, "MORTGAGE": 1})
    assert p.frequencies("home_ownership") == {
        "RENT": 3 / 8,
        "OWN": 2 / 8,
        "MORTGAGE": 1 / 8,
        "__null__": 2 / 8,
    }
    assert "__null__" not in p.frequencies("loan_purpose")


def test_an_all_null_feature_profiles_and_merges_but_cannot_be_queried():
    frame = simulator.applications(DAYS[0], seed=3, rows=5)
    frame["debt_to_income"] = np.nan
    empty = profile(frame, CREDIT)
    assert empty.features["debt_to_income"].count == 0 and empty.features["debt_to_income"].min is None
    with pytest.raises(ProfileError, match="'debt_to_income' has no non-null values"):
        empty.quantiles("debt_to_income", [0.5])
    merged = empty.merge(profile(simulator.applications(DAYS[1], seed=3, rows=50), CREDIT))
    assert merged.features["debt_to_income"].nulls == 5 and merged.features["debt_to_income"].count > 0
    Profile.from_dict(json.loads(json.dumps(empty.to_dict())))


def test_frequencies_sum_to_one_and_bin_edges_strictly_increase(whole):
    p = profile(whole, CREDIT)
    for name in CATEGORICAL:
        assert sum(p.frequencies(name).values()) == pytest.approx(1.0)
    for name in NUMERIC:
        edges = p.bin_edges(name, bins=10)
        assert np.all(np.diff(edges) > 0), (name, edges)
        assert edges[0] == whole[name].min() and edges[-1] == whole[name].max()
    assert len(p.bin_edges("credit_score", bins=10)) == 11
    assert p.bin_edges("loan_term_months", bins=20) == [
        12.0,
        24.0,
        36.0,
        48.0,
        60.0,
        72.0,
        84.0,
    ]  # ties collapse


def test_merging_profiles_of_different_features_or_kinds_names_the_feature(days):
    p = profile(days[0], CREDIT)
    no_age = profile(days[1], _with_column(CREDIT, "age", role="not_a_feature"))
    with pytest.raises(ProfileError, match="feature 'age' is in only one"):
        p.merge(no_age)
    with pytest.raises(ProfileError, match="feature 'age' is in only one"):
        no_age.merge(p)
    term_as_category = _with_column(CREDIT, "loan_term_months", dtype="category")
    with pytest.raises(
        ProfileError, match="feature 'loan_term_months' is numeric in one profile and categorical"
    ):
        p.merge(profile(days[1], term_as_category))


def test_a_partition_is_merged_at_most_once(days):
    p = profile(days[0], CREDIT, partition="dt=2026-03-01")
    with pytest.raises(ProfileError, match=r"\['dt=2026-03-01'\] are in both"):
        merge_all([p, profile(days[1], CREDIT, partition="dt=2026-03-02"), p])
    with pytest.raises(ProfileError, match="no profiles"):
        merge_all([])


def test_unknown_or_malformed_documents_are_rejected(days):
    d = profile(days[0].head(100), CREDIT).to_dict()
    for version in (FORMAT_VERSION + 1, 1, None, "2"):
        with pytest.raises(ProfileError, match="format_version"):
            Profile.from_dict(d | {"format_version": version})
    broken = json.loads(json.dumps(d))
    broken["features"]["credit_score"]["sketch"] = "not base64!"
    with pytest.raises(ProfileError, match="feature 'credit_score'"):
        Profile.from_dict(broken)
    with pytest.raises(ProfileError, match="profile: malformed"):
        Profile.from_dict(d | {"features": []})


def test_bad_frames_and_bad_queries_name_the_feature(days):
    with pytest.raises(ProfileError, match="feature 'credit_score' .* not a column"):
        profile(days[0].drop(columns="credit_score"), CREDIT)
    bad = days[0].head(10).copy()
    bad["annual_income"] = ["x"] * 10
    with pytest.raises(ProfileError, match="feature 'annual_income': not numeric"):
        profile(bad, CREDIT)
    bad["annual_income"] = [np.inf] + [1.0] * 9
    with pytest.raises(ProfileError, match="feature 'annual_income': infinite values"):
        profile(bad, CREDIT)
    p = profile(days[0].head(100), CREDIT)
    with pytest.raises(ProfileError, match="'home_ownership' is categorical, not numeric"):
        p.quantiles("home_ownership", [0.5])
    with pytest.raises(ProfileError, match="'age' is numeric, not categorical"):
        p.frequencies("age")
    with pytest.raises(ProfileError, match="'gender' is not in the profile"):
        p.mean("gender")


def _numeric_frame(values, rows: int | None = None) -> pd.DataFrame:
    frame = simulator.applications(DAYS[0], seed=3, rows=len(values) if rows is None else rows)
    frame["recent_delinquencies"] = values
    return frame


def test_few_distinct_values_keep_exact_counts_until_the_merged_set_is_too_large():
    low = profile(_numeric_frame(np.arange(5_000) % 40), CREDIT, partition="a")  # 0..39
    high = profile(_numeric_frame(np.arange(5_000) % 40 + 20), CREDIT, partition="b")  # 20..59
    assert low.value_counts("recent_delinquencies") == {float(v): 125 for v in range(40)}
    merged = low.merge(high)
    assert len(merged.value_counts("recent_delinquencies")) == 60 <= MAX_EXACT_COUNTS
    assert merged.value_counts("recent_delinquencies")[25.0] == 250
    wider = profile(_numeric_frame(np.arange(5_000) % 40 + 40), CREDIT, partition="c")  # 40..79
    assert merged.merge(wider).value_counts("recent_delinquencies") is None  # 80 distinct values
    assert profile(_numeric_frame(np.arange(5_000) % 65), CREDIT).value_counts("recent_delinquencies") is None
    # The counts, not the sketch, describe such a feature: its distribution is exact.
    items, weights = merged.distribution("recent_delinquencies")
    assert items.tolist() == [float(v) for v in range(60)] and weights.sum() == 10_000
    assert weights[0] == 125 and weights[30] == 250


def test_small_features_keep_all_their_values_in_the_exact_tails():
    first = profile(simulator.applications(DAYS[0], seed=3, rows=600), CREDIT, partition="a")
    second = profile(simulator.applications(DAYS[1], seed=3, rows=400), CREDIT, partition="b")
    third = profile(simulator.applications(DAYS[2], seed=3, rows=1_500), CREDIT, partition="c")
    both = first.merge(second)
    credit = both.features["credit_score"]
    assert credit.count == 1000 == TAIL_VALUES and credit.values == credit.smallest == credit.largest
    assert list(credit.values) == sorted(
        first.features["credit_score"].values + second.features["credit_score"].values
    )
    dti = both.features["debt_to_income"]  # nulls are not values
    assert len(dti.values) == dti.count < 1000
    every = both.merge(third).features["credit_score"]  # 2,500 values: more than the two tails hold
    assert every.values is None and len(every.smallest) == len(every.largest) == TAIL_VALUES
    scores = np.sort(
        np.concatenate(
            [
                simulator.applications(day, seed=3, rows=n)["credit_score"].to_numpy(float)
                for day, n in zip(DAYS, (600, 400, 1_500), strict=True)
            ]
        )
    )
    assert every.smallest == tuple(scores[:1000]) and every.largest == tuple(scores[-1000:])
    two_thousand = profile(simulator.applications(DAYS[0], seed=3, rows=2_000), CREDIT).features["age"]
    assert sorted(two_thousand.values) == list(two_thousand.values) and len(two_thousand.values) == 2_000
    items, weights = both.distribution("credit_score")  # more than 64 distinct: the exact values
    assert items.tolist() == list(credit.values) and set(weights.tolist()) == {1.0}


def test_large_features_are_exact_tails_around_the_weighted_sketch(days, whole):
    # k=200 and three merged partitions: iterating such a merged sketch reports weight 1 for
    # every item (datasketches 5.2.0), so weights must come from the sketch's CDF.
    merged = merge_all(profile(frame, CREDIT, partition=str(n), k=200) for n, frame in enumerate(days))
    income = merged.features["annual_income"]
    assert sum(weight for _, weight in income.sketch) < income.count  # the iterator's weights are wrong
    exact = np.sort(whole["annual_income"].to_numpy(float))
    items, weights = merged.distribution("annual_income")
    assert (
        weights.sum() == income.count and np.all(np.diff(items) >= 0) and np.all(weights == np.round(weights))
    )
    assert income.smallest == tuple(exact[:1000]) and income.largest == tuple(exact[-1000:])
    assert np.isin(exact[:1000], items).all() and np.isin(exact[-1000:], items).all()
    assert (items[0], items[-1]) == (exact[0], exact[-1])
    ranks = np.cumsum(weights) / weights.sum()
    middle = (ranks > 0.1) & (ranks < 0.9)
    true_ranks = np.searchsorted(exact, items[middle], "right") / exact.size
    assert np.abs(true_ranks - ranks[middle]).max() < 0.03  # the sketch's error at k=200
    assert merged.distribution("annual_income") is merged.distribution("annual_income")  # computed once
    assert profile(whole, CREDIT).features["annual_income"].sketch.k == DEFAULT_K


def test_extra_numeric_columns_are_profiled_after_the_features(whole):
    frame = whole.assign(score=np.linspace(0, 1, len(whole)))
    p = profile(frame, CREDIT, extra_numeric=["score"])
    assert list(p.features) == list(CREDIT.features) + ["score"]
    assert isinstance(p.features["score"], Numeric) and p.quantiles("score", [0, 1]) == [0.0, 1.0]
    assert Profile.from_dict(json.loads(json.dumps(p.to_dict()))).features["score"] == p.features["score"]
    with pytest.raises(ProfileError, match="extra numeric column 'score' .* not a column"):
        profile(whole, CREDIT, extra_numeric=["score"])
    with pytest.raises(ProfileError, match="'age' is already profiled"):
        profile(frame, CREDIT, extra_numeric=["age"])
    with pytest.raises(ProfileError, match="feature 'score' is in only one"):
        p.merge(profile(whole, CREDIT))


def test_exact_records_survive_json():
    p = profile(_numeric_frame(np.arange(300) % 7), CREDIT)
    d = json.loads(json.dumps(p.to_dict()))
    assert d["format_version"] == 2 and d["features"]["recent_delinquencies"]["counts"][0] == [0.0, 43]
    back = Profile.from_dict(d)
    assert back.features["recent_delinquencies"].counts == p.features["recent_delinquencies"].counts
    assert back.features["age"].values == p.features["age"].values and len(back.features["age"].values) == 300
    short = np.frombuffer(base64.b64decode(d["features"]["age"]["smallest"]), "<f8")[:-1]
    d["features"]["age"]["smallest"] = base64.b64encode(short.tobytes()).decode()  # one value short
    with pytest.raises(ProfileError, match="feature 'age': malformed.*tails"):
        Profile.from_dict(d)
