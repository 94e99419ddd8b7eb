"""The drift engine against Evidently 0.7 on the same data, Benjamini-Hochberg, the dataset rule,
contract overrides, data-quality checks and the JSON form of a result."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from include import contract as contract_module
from include.contract import Column, ColumnDrift, Monitoring
from include.drift.engine import DriftError, DriftResult, detect
from include.drift.profile import merge_all, profile
from include.simulator import credit as simulator
from tests.support.paths import CONTRACTS_DIR

CREDIT = contract_module.load("credit_applications", CONTRACTS_DIR)
NO_OVERRIDES = dataclasses.replace(CREDIT, monitoring=dataclasses.replace(CREDIT.monitoring, columns={}))
REFERENCE_DAYS = [date(2026, 3, 1), date(2026, 3, 2)]
WINDOW_DAY = date(2026, 3, 9)
WINDOW_ROWS = 5_000


def _scored(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's score stands in as the true default probability of the reported features."""
    frame = frame.copy()
    frame["score"] = simulator.default_probability(frame)
    return frame


def _within_tolerance(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= max(0.01 * abs(theirs), 0.002)


def _category_shift(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    rng = np.random.default_rng(3)
    moved = rng.random(len(frame)) < 0.35
    frame.loc[moved, "loan_purpose"] = "small_business"  # 6 % -> about 39 %
    return frame


WINDOWS = {
    "stable": lambda: simulator.applications(WINDOW_DAY, seed=5, rows=WINDOW_ROWS),
    "income_shift": lambda: simulator.applications(
        WINDOW_DAY, seed=5, rows=WINDOW_ROWS, scenario="income_shift"
    ),
    "employment_bimodal": lambda: simulator.applications(
        WINDOW_DAY, seed=5, rows=WINDOW_ROWS, scenario="employment_bimodal"
    ),
    "category_shift": lambda: _category_shift(simulator.applications(WINDOW_DAY, seed=5, rows=WINDOW_ROWS)),
}
# What each window must show, so that the engine and Evidently cannot agree by both being blind.
EXPECTED_DRIFT = {
    "stable": set(),
    "income_shift": {"annual_income"},
    "employment_bimodal": {"employment_years"},
    "category_shift": {"loan_purpose"},
}


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    # 20,000 applications over two days, far beyond the sketch's k, so the numeric features
    # are judged from compacted sketches.
    return pd.concat(
        [_scored(simulator.applications(day, seed=5, rows=10_000)) for day in REFERENCE_DAYS],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def reference_profile(reference):
    halves = [reference.iloc[:10_000], reference.iloc[10_000:]]
    return merge_all(
        profile(frame, CREDIT, partition=f"dt={day}", extra_numeric=["score"])
        for day, frame in zip(REFERENCE_DAYS, halves, strict=True)
    )


@pytest.fixture(scope="module")
def windows() -> dict[str, pd.DataFrame]:
    return {name: _scored(make()) for name, make in WINDOWS.items()}


@pytest.fixture(scope="module")
def evidently(reference, windows):
    from include.drift.report import evidently_columns

    return {name: evidently_columns(reference, window, CREDIT) for name, window in windows.items()}


# ------------------------------------------------------------------- agreement with Evidently
@pytest.mark.parametrize("window", list(WINDOWS))
def test_verdicts_and_statistics_match_evidently(reference_profile, windows, evidently, window):
    result = detect(reference_profile, windows[window], CREDIT)
    theirs = evidently[window]
    ours = {c.column: c for c in result.columns + [result.prediction]}
    assert set(ours) == set(theirs) == set(CREDIT.features) | {"score"}
    for name, mine in ours.items():
        assert mine.method == theirs[name].method, (name, mine.method, theirs[name].method)
        assert mine.threshold == theirs[name].threshold, name
        assert mine.drifted == theirs[name].drifted, (name, mine.statistic, theirs[name].statistic)
        assert _within_tolerance(mine.statistic, theirs[name].statistic), (
            name,
            mine.statistic,
            theirs[name].statistic,
        )
    assert set(result.drifted_columns) == EXPECTED_DRIFT[window]
    delinquencies = ours["recent_delinquencies"]
    assert (delinquencies.method, delinquencies.threshold) == ("psi", 0.2)  # the contract's override
    assert {c.method for c in result.columns} == {
        "wasserstein",
        "jensenshannon",
        "psi",
    }  # 20,000 reference rows
    assert result.rows == WINDOW_ROWS and not result.data_quality_incident, result.quality


def test_psi_and_jensen_shannon_in_sturges_bins_match_evidently(reference, reference_profile, windows):
    from include.drift.report import evidently_columns

    # PSI and Jensen-Shannon on continuous features bin reference and window together in
    # equal-width bins; the shifted income reaches beyond the reference's range, so empty
    # reference bins are filled as Evidently fills them.
    overrides = {
        "annual_income": ColumnDrift(method="psi"),
        "loan_amount": ColumnDrift(method="jensenshannon"),
        "credit_score": ColumnDrift(method="psi", threshold=0.01),
        "loan_purpose": ColumnDrift(method="psi"),
        "recent_delinquencies": ColumnDrift(method="psi", threshold=0.2),
    }
    contract = _with_monitoring(CREDIT, columns=overrides)
    window = windows["income_shift"].copy()
    window.loc[window.index % 10 == 0, "annual_income"] *= 6  # a long upper tail the reference lacks
    # A count the reference never had, while its rarest count is at most 1 in 10,000: Evidently
    # then fills the empty reference share with a millionth of the rarest share, not 0.0001.
    window.loc[window.index % 500 == 0, "recent_delinquencies"] = 25
    counts = reference["recent_delinquencies"].value_counts()
    assert counts.min() <= 2 and 25 not in counts.index
    result = detect(reference_profile, window, contract)
    theirs = evidently_columns(reference, window, contract)
    for name in overrides:
        mine = result.column(name)
        assert mine.method == theirs[name].method == overrides[name].method, name
        assert mine.drifted == theirs[name].drifted, name
        assert _within_tolerance(mine.statistic, theirs[name].statistic), (
            name,
            mine.statistic,
            theirs[name].statistic,
        )
    assert result.column("annual_income").drifted and result.column("annual_income").statistic > 0.3


def _small(frame: pd.DataFrame) -> pd.DataFrame:
    """Few distinct values where Evidently switches test: delinquencies 0-3 (chi-square on a
    number), home ownership as RENT or not (Z-test on two values)."""
    frame = frame.copy()
    frame["recent_delinquencies"] = frame["recent_delinquencies"].clip(0, 3)
    frame["home_ownership"] = np.where(frame["home_ownership"] == "RENT", "RENT", "OWN")
    return frame


def test_small_reference_p_values_match_evidently_before_adjustment():
    from include.drift.report import evidently_columns

    reference = _small(simulator.applications(REFERENCE_DAYS[0], seed=5, rows=800))
    window = _small(simulator.applications(WINDOW_DAY, seed=5, rows=3_000, scenario="income_shift"))
    result = detect(profile(reference, NO_OVERRIDES), window, NO_OVERRIDES)
    theirs = evidently_columns(reference, window, NO_OVERRIDES)
    methods = {c.column: c.method for c in result.columns}
    assert methods == {name: theirs[name].method for name in methods}
    assert methods["recent_delinquencies"] == "chisquare" and methods["loan_purpose"] == "chisquare"
    assert methods["home_ownership"] == "z" and methods["annual_income"] == "ks"
    for c in result.columns:
        assert c.p_value == pytest.approx(theirs[c.column].statistic, rel=1e-9, abs=1e-15), c.column
        assert c.p_adjusted >= c.p_value
        assert (c.reference_rows, c.current_rows) == (
            reference[c.column].notna().sum(),
            window[c.column].notna().sum(),
        )
        raw = c.p_value <= c.threshold if c.method == "ks" else c.p_value < c.threshold
        assert raw == theirs[c.column].drifted, c.column
    assert result.column("annual_income").drifted


# ----------------------------------------------------------------------- Benjamini-Hochberg
def _binary_contract(names) -> contract_module.Contract:
    columns = tuple(Column(name, "category", allowed=("A", "B")) for name in names)
    return dataclasses.replace(
        CREDIT, columns=columns, critical_features=(), monitoring=Monitoring(drift_share=0.5)
    )


def _binary(a_counts: dict[str, int], rows: int) -> pd.DataFrame:
    return pd.DataFrame({name: ["A"] * n + ["B"] * (rows - n) for name, n in a_counts.items()})


def test_benjamini_hochberg_clears_a_raw_p_value_below_the_threshold():
    contract = _binary_contract(["f1", "f2", "f3"])
    reference = _binary({"f1": 500, "f2": 500, "f3": 500}, 1000)
    window = _binary({"f1": 453, "f2": 500, "f3": 500}, 1000)
    # By hand: Z-test of "not A" shares 0.5 (reference) and 0.547 (window), 1000 rows each.
    pooled = (0.5 + 0.547) / 2
    z = (0.5 - 0.547) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    p = math.erfc(abs(z) / math.sqrt(2))  # two-sided, about 0.035
    # BH over three tests with raw p = (p, 1, 1): the smallest is multiplied by 3 / 1, about 0.106.
    result = detect(profile(reference, contract), window, contract)
    f1 = result.column("f1")
    assert f1.method == "z" and f1.p_value == pytest.approx(p, rel=1e-9) and f1.p_value < 0.05
    assert f1.p_adjusted == pytest.approx(3 * p, rel=1e-9) and f1.p_adjusted >= 0.05
    assert not f1.drifted and result.drifted_columns == [] and not result.dataset_drift
    assert [result.column(n).p_adjusted for n in ("f2", "f3")] == [1.0, 1.0]
    # Alone, the same column is judged on its raw p-value and drifts.
    alone = _binary_contract(["f1"])
    single = detect(profile(reference[["f1"]], alone), window[["f1"]], alone).column("f1")
    assert single.p_adjusted == pytest.approx(p, rel=1e-9) and single.drifted


# --------------------------------------------------------------------------- dataset rule
def _with_monitoring(contract, **changes):
    return dataclasses.replace(contract, monitoring=dataclasses.replace(contract.monitoring, **changes))


def test_a_critical_feature_drifting_is_dataset_drift_even_below_the_share(reference_profile, windows):
    result = detect(reference_profile, windows["income_shift"], CREDIT)
    assert result.drifted_columns == ["annual_income"] and result.share_drifted == pytest.approx(1 / 11)
    assert result.critical_drifted == ["annual_income"] and result.dataset_drift
    not_critical = _with_monitoring(CREDIT, critical_features=())
    assert not detect(reference_profile, windows["income_shift"], not_critical).dataset_drift
    low_share = _with_monitoring(not_critical, drift_share=0.09)
    assert detect(reference_profile, windows["income_shift"], low_share).dataset_drift
    # employment_years is critical in the shipped contract (the team's bimodal incident);
    # without that, one feature in eleven stays below the 30 % share.
    bimodal = detect(reference_profile, windows["employment_bimodal"], CREDIT)
    assert bimodal.drifted_columns == ["employment_years"] and bimodal.critical_drifted == [
        "employment_years"
    ]
    assert bimodal.dataset_drift
    assert not detect(reference_profile, windows["employment_bimodal"], not_critical).dataset_drift


def test_prediction_drift_is_reported_but_not_counted_in_the_share(reference_profile, windows):
    window = windows["stable"].copy()
    window["score"] = (window["score"] * 3).clip(0, 1)
    result = detect(reference_profile, window, CREDIT)
    assert result.prediction.column == "score" and result.prediction.method == "wasserstein"
    assert result.prediction.drifted and result.drifted_columns == [] and not result.dataset_drift
    assert "score" not in [c.column for c in result.columns]
    unscored = detect(reference_profile, window.drop(columns="score"), CREDIT)
    assert unscored.prediction is None and unscored.columns == result.columns


def test_contract_overrides_choose_method_and_threshold(reference_profile, windows):
    overrides = {
        "employment_years": ColumnDrift(threshold=0.6),
        "annual_income": ColumnDrift(method="ks"),
        "loan_purpose": ColumnDrift(method="psi", threshold=0.05),
    }
    contract = _with_monitoring(CREDIT, columns=overrides)
    result = detect(reference_profile, windows["employment_bimodal"], contract)
    employment = result.column("employment_years")
    assert (employment.method, employment.threshold) == ("wasserstein", 0.6)
    assert 0.1 < employment.statistic < 0.6 and not employment.drifted  # drifts at Evidently's 0.1
    income = result.column("annual_income")
    assert income.method == "ks" and income.threshold == 0.05 and income.p_value is not None
    assert income.p_adjusted == pytest.approx(income.p_value) and not income.drifted  # the only p-value test
    assert (result.column("loan_purpose").method, result.column("loan_purpose").threshold) == ("psi", 0.05)
    assert detect(reference_profile, windows["income_shift"], contract).column("annual_income").drifted
    assert detect(reference_profile, windows["category_shift"], contract).column("loan_purpose").drifted


def test_a_test_that_needs_counts_the_profile_lacks_names_the_column(reference_profile, windows):
    contract = _with_monitoring(CREDIT, columns={"credit_score": ColumnDrift(method="chisquare")})
    with pytest.raises(
        DriftError, match="'credit_score': method 'chisquare' needs exact reference value counts"
    ):
        detect(reference_profile, windows["stable"], contract)
    with pytest.raises(DriftError, match="'age' is not a column of the window"):
        detect(reference_profile, windows["stable"].drop(columns="age"), CREDIT)


# ------------------------------------------------------------------------------ quality
def _checks(result) -> set[tuple[str, str]]:
    return {(issue.column, issue.check) for issue in result.quality}


def test_income_in_thousands_and_lost_tenure_are_a_data_quality_incident(reference_profile):
    window = _scored(
        simulator.applications(WINDOW_DAY, seed=5, rows=WINDOW_ROWS, scenario="data_quality_incident")
    )
    result = detect(reference_profile, window, CREDIT)
    assert _checks(result) == {("annual_income", "scale_change"), ("employment_years", "null_rate")}
    assert result.data_quality_incident
    by_check = {issue.check: issue for issue in result.quality}
    assert by_check["scale_change"].observed == pytest.approx(1 / 1000, rel=0.05)
    assert "annual_income" in by_check["scale_change"].message
    null_rate = by_check["null_rate"]
    assert 0.35 < null_rate.observed < 0.5 and null_rate.expected == pytest.approx(0.02, abs=0.005)
    assert "employment_years" in null_rate.message and "5.0%" in null_rate.message  # the contract's cap


def test_unseen_categories_and_out_of_range_values_name_the_column(reference_profile, windows):
    window = windows["stable"].copy()
    rows = np.arange(len(window))
    window.loc[rows % 20 == 0, "home_ownership"] = "CARAVAN"  # 5 %: unseen and not allowed
    window.loc[rows % 50 == 1, "credit_score"] = 900  # 2 % above the contract's 850
    window.loc[rows % 200 == 2, "open_accounts"] = 81  # 0.5 %: below the 1 % limit
    result = detect(reference_profile, window, CREDIT)
    assert _checks(result) == {
        ("home_ownership", "unseen_category"),
        ("home_ownership", "out_of_range"),
        ("credit_score", "out_of_range"),
    }
    assert result.data_quality_incident
    score = next(i for i in result.quality if i.column == "credit_score")
    assert score.observed == pytest.approx(0.02) and "outside 300..850" in score.message
    unseen = next(i for i in result.quality if i.check == "unseen_category")
    assert unseen.observed == pytest.approx(0.05) and "CARAVAN" in unseen.message


def test_scale_change_is_judged_where_the_median_measures_scale():
    contract = dataclasses.replace(
        CREDIT,
        columns=(Column("amount", "float"), Column("centred", "float")),
        critical_features=(),
        monitoring=Monitoring(),
    )
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"amount": rng.gamma(2, 500, 20_000), "centred": rng.normal(0, 1, 20_000)})
    window = pd.DataFrame({"amount": rng.gamma(2, 500, 2_000) * 1000, "centred": rng.normal(0, 1, 2_000)})
    # The centred feature's median ratio is noise (its medians are both near 0): not judged.
    result = detect(profile(reference, contract), window, contract)
    assert _checks(result) == {("amount", "scale_change")}
    assert result.quality[0].observed == pytest.approx(1000, rel=0.1)
    window["amount"] /= 4000  # a quarter of the reference's median: within 5x
    assert detect(profile(reference, contract), window, contract).quality == []


def test_a_null_rate_within_the_spike_allowance_is_not_an_issue(reference_profile, windows):
    window = windows["stable"].copy()
    window.loc[window.index % 100 < 8, "loan_amount"] = np.nan  # 8 %: reference 0 % + 10 points allowed
    assert detect(reference_profile, window, CREDIT).quality == []
    window.loc[window.index % 100 < 12, "loan_amount"] = np.nan  # 12 %, and no cap in the contract
    assert _checks(detect(reference_profile, window, CREDIT)) == {("loan_amount", "null_rate")}


def test_an_all_null_column_is_not_judged_but_flagged(reference_profile, windows):
    window = windows["stable"].copy()
    window["debt_to_income"] = np.nan
    result = detect(reference_profile, window, CREDIT)
    assert "debt_to_income" not in [c.column for c in result.columns] and len(result.columns) == 10
    assert _checks(result) == {("debt_to_income", "null_rate")}


# ------------------------------------------------------------------------ JSON and speed
def test_drift_result_survives_json(reference_profile, windows):
    result = detect(reference_profile, windows["income_shift"], CREDIT)
    back = DriftResult.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
    assert back == result and back.prediction == result.prediction
    # A category the small reference never saw gives chi-square an infinite statistic.
    reference = simulator.applications(REFERENCE_DAYS[0], seed=5, rows=500)
    window = simulator.applications(WINDOW_DAY, seed=5, rows=500)
    window.loc[:9, "loan_purpose"] = "crypto"
    small = detect(profile(reference, NO_OVERRIDES), window, NO_OVERRIDES)
    assert math.isinf(small.column("loan_purpose").statistic) and small.column("loan_purpose").p_value == 0
    text = json.dumps(small.to_dict(), allow_nan=False)
    assert DriftResult.from_dict(json.loads(text)) == small
    with pytest.raises(DriftError, match="malformed"):
        DriftResult.from_dict({"rows": 1})


def test_an_hour_of_100k_rows_is_checked_well_within_a_second(reference_profile):
    window = _scored(simulator.applications(WINDOW_DAY, seed=6, rows=100_000))
    fresh = type(reference_profile).from_dict(reference_profile.to_dict())  # nothing cached yet
    start = time.perf_counter()
    result = detect(fresh, window, CREDIT)
    assert time.perf_counter() - start < 1.0
    assert result.rows == 100_000 and len(result.columns) == 11


def test_render_html_writes_evidently_report_opened_by_the_packages_verdict(
    settings, reference, reference_profile, windows
):
    """The report of a window that retrains on a critical feature: Evidently's own headline (few
    columns of twelve drifted, below its share) says no dataset drift; the package's verdict,
    the rule that fired and both statistics of each column come first."""
    from include import storage
    from include.drift.report import columns_from_snapshot, render_html, run

    window = windows["income_shift"].iloc[:1000]
    result = detect(reference_profile, window, CREDIT)
    target = storage.path("reports", "drift.html", settings=settings)
    sample = reference.iloc[:2000]
    uri = render_html(sample, window, CREDIT, target, result=result, reference_rows=reference_profile.rows)
    assert uri == storage.describe(target) and uri.startswith("file://")
    html = storage.read_bytes(target).decode("utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") or "<html" in html[:500].lower()
    assert "annual_income" in html and "loan_purpose" in html
    # Evidently's own headline (rendered from the data in <head>) disagrees: one column of twelve.
    assert "Dataset Drift is NOT detected" in html[: html.index("<body")]
    banner = html.index('id="package-verdict"')
    assert html.index("<body") < banner < html.index('<div id="root_metric')  # the first thing shown
    block = html[banner : html.index("</table></div>", banner)]
    assert "Package verdict: DATASET DRIFT DETECTED" in block
    assert "critical feature annual_income drifted (one alone is dataset drift); " in block
    assert f"{result.share_drifted:.0%} of 11 features drifted (limit 30%)" in block
    assert (
        "random sample of 2,000 of the reference rows, while the package uses the reference "
        f"profile of all {reference_profile.rows:,}" in block
    )
    theirs = columns_from_snapshot(run(sample, window, CREDIT).dict())["annual_income"]
    ours = result.column("annual_income")
    cells = re.sub(r"<td[^>]*>", "<td>", block)
    row = cells[cells.index("<td>annual_income *</td>") :].split("</tr>")[0]
    assert f"<td>{ours.statistic:.4f}</td><td>drifted</td>" in row, row
    assert f"<td>{theirs.statistic:.4f}</td><td>drifted</td>" in row, row


def test_a_new_level_shows_as_its_own_share_however_small(reference_profile, windows):
    """A contract drafted from one month must not hide the next month's new level: the window's
    unseen levels are listed with their shares in the column's result, even under the 1 % that
    makes a quality issue, and count as their own bin in the statistic."""
    stable = detect(reference_profile, windows["stable"], CREDIT)
    window = windows["stable"].copy()
    rows = np.arange(len(window))
    window.loc[rows % 200 == 0, "loan_purpose"] = "solar_panels"  # 0.5 %
    window.loc[rows % 20 == 1, "home_ownership"] = "CARAVAN"  # 5 %
    result = detect(reference_profile, window, CREDIT)
    by = {c.column: c for c in result.columns}
    assert by["loan_purpose"].unseen == pytest.approx({"solar_panels": 0.005}, abs=1e-9)
    assert by["home_ownership"].unseen == pytest.approx({"CARAVAN": 0.05}, abs=1e-9)
    assert not any(i.column == "loan_purpose" for i in result.quality)  # below the issue's 1 %
    before = {c.column: c for c in stable.columns}
    assert (
        before["loan_purpose"].unseen == {}
        and by["home_ownership"].statistic > before["home_ownership"].statistic
    )
    assert DriftResult.from_dict(json.loads(json.dumps(result.to_dict()))).columns == result.columns
