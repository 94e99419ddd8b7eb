"""Reference profiles: per-partition feature summaries that merge exactly (counts, moments,
min/max, value counts) or within the KLL error bound (quantiles), and survive JSON."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from include import contract as contract_module
from include.drift.profile import FORMAT_VERSION, Categorical, Numeric, Profile, ProfileError, merge_all, profile
from include.settings import PROJECT_ROOT
from include.simulator import credit as simulator

CREDIT = contract_module.load("credit_applications", PROJECT_ROOT / "include" / "contracts")
NUMERIC = ["age", "annual_income", "employment_years", "loan_amount", "loan_term_months", "debt_to_income",
           "credit_score", "open_accounts", "recent_delinquencies"]
CATEGORICAL = ["home_ownership", "loan_purpose"]
DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(3)]


SCENARIOS = ["stable", "income_shift", "employment_bimodal"]


@pytest.fixture(scope="module")
def days() -> list[pd.DataFrame]:
    # 10,000 rows a day, far beyond k=200, so every sketch is compacted (approximate); the days
    # differ in income and employment, so a merge that lost a partition would show.
    return [simulator.applications(day, seed=7, rows=10_000, scenario=scenario)
            for day, scenario in zip(DAYS, SCENARIOS)]


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
    first, second = profile(whole.iloc[:half], CREDIT, partition="a"), profile(whole.iloc[half:], CREDIT, partition="b")
    merged = first.merge(second)
    assert first.rows == half and first.features["age"].sketch.n == half  # the inputs are left alone
    assert merged.rows == len(whole) and merged.partitions == ("a", "b")
    for name in NUMERIC:
        s, x = merged.features[name], whole[name].astype(float)
        assert (s.rows, s.nulls, s.count) == (len(whole), int(x.isna().sum()), int(x.notna().sum())), name
        assert np.isclose(s.mean, x.mean(), rtol=1e-12) and np.isclose(merged.mean(name), x.mean(), rtol=1e-12)
        assert np.isclose(merged.std(name) ** 2, x.var(ddof=1), rtol=1e-9), name
        assert (s.min, s.max) == (x.min(), x.max()), name
    for name in CATEGORICAL:
        s = merged.features[name]
        assert s.counts == whole[name].value_counts().to_dict() and s.nulls == 0 and s.rows == len(whole)


def test_merged_sketch_quantiles_are_within_the_kll_rank_error(days, whole):
    merged = merge_all(profile(frame, CREDIT, partition=f"dt={day}") for day, frame in zip(DAYS, days))
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
    assert p.frequencies("home_ownership") == {"RENT": 3 / 8, "OWN": 2 / 8, "MORTGAGE": 1 / 8, "__null__": 2 / 8}
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
    assert p.bin_edges("loan_term_months", bins=20) == [12.0, 24.0, 36.0, 48.0, 60.0, 72.0, 84.0]  # ties collapse


def test_merging_profiles_of_different_features_or_kinds_names_the_feature(days):
    p = profile(days[0], CREDIT)
    no_age = profile(days[1], _with_column(CREDIT, "age", role="not_a_feature"))
    with pytest.raises(ProfileError, match="feature 'age' is in only one"):
        p.merge(no_age)
    with pytest.raises(ProfileError, match="feature 'age' is in only one"):
        no_age.merge(p)
    term_as_category = _with_column(CREDIT, "loan_term_months", dtype="category")
    with pytest.raises(ProfileError, match="feature 'loan_term_months' is numeric in one profile and categorical"):
        p.merge(profile(days[1], term_as_category))


def test_a_partition_is_merged_at_most_once(days):
    p = profile(days[0], CREDIT, partition="dt=2026-03-01")
    with pytest.raises(ProfileError, match=r"\['dt=2026-03-01'\] are in both"):
        merge_all([p, profile(days[1], CREDIT, partition="dt=2026-03-02"), p])
    with pytest.raises(ProfileError, match="no profiles"):
        merge_all([])


def test_unknown_or_malformed_documents_are_rejected(days):
    d = profile(days[0].head(100), CREDIT).to_dict()
    for version in (FORMAT_VERSION + 1, None, "1"):
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
