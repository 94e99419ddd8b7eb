"""The simulator: contract-exact, deterministic, calibrated, and landed through storage."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from include import contract as contract_module
from include import settings as settings_module
from include import storage
from include.simulator import breast_cancer, credit, land

DAY = date(2026, 11, 2)
NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)
SEED = 42


# ---------------------------------------------------------------------------- helpers
def make_settings(tmp_path, **overrides) -> settings_module.Settings:
    env = {
        "MLOPS_STORAGE_ROOT": tmp_path.as_uri(),
        "MLOPS_SIMULATOR_ROWS_PER_DAY": "300",
        "MLOPS_SIMULATOR_SEED": str(SEED),
        **overrides,
    }
    return settings_module.load(env)


def load_contract(name: str):
    return contract_module.load(name, settings_module.load({}).contracts_dir)


CREDIT = load_contract("credit_applications")
BREAST_CANCER = load_contract("breast_cancer")


def contract_violations(frame: pd.DataFrame, feed) -> list[str]:
    """Every way ``frame`` breaks the feed's column rules, checked directly on the Columns."""
    problems = []
    for column in feed.columns:
        values = frame[column.name]
        nulls = values.isna()
        if not column.nullable and nulls.any():
            problems.append(f"{column.name}: {nulls.sum()} nulls in a non-nullable column")
        if column.max_null_rate is not None and nulls.mean() > column.max_null_rate:
            problems.append(f"{column.name}: null rate {nulls.mean():.3f} > {column.max_null_rate}")
        present = values[~nulls]
        if column.min is not None and (present < column.min).any():
            problems.append(f"{column.name}: {present.min()} < min {column.min}")
        if column.max is not None and (present > column.max).any():
            problems.append(f"{column.name}: {present.max()} > max {column.max}")
        if column.allowed is not None and not present.isin(column.allowed).all():
            problems.append(
                f"{column.name}: values outside {column.allowed}: {set(present) - set(column.allowed)}"
            )
        if column.dtype == "int" and not pd.api.types.is_integer_dtype(values.dtype):
            problems.append(f"{column.name}: dtype {values.dtype} is not an integer dtype")
        if column.dtype == "timestamp" and str(values.dtype) != "datetime64[us, UTC]":
            problems.append(f"{column.name}: dtype {values.dtype} is not UTC microseconds")
    return problems


def landed_bytes(uris: list[str], settings) -> dict[str, bytes]:
    """Bytes of landed files keyed by path below the storage root (the root differs per test)."""
    root = settings.storage_root.removeprefix("file://")
    result = {}
    for uri in uris:
        relative = uri.removeprefix("file://").removeprefix(root).strip("/")
        result[relative] = storage.read_bytes(storage.path(*relative.split("/"), settings=settings))
    return result


def apps(day=DAY, rows=600, scenario="stable", onset=None, seed=SEED) -> pd.DataFrame:
    return credit.applications(day, seed=seed, rows=rows, scenario=scenario, onset=onset)


# ----------------------------------------------------------------------------- schema
def test_frames_have_exactly_the_contract_feed_columns():
    events, labels = CREDIT.events_feed(), CREDIT.label_feed()
    assert tuple(apps().columns) == events.column_names
    assert "defaulted" not in apps().columns
    out = credit.outcomes(DAY, seed=SEED, rows=200, maturity_days=CREDIT.labels.maturity_days)
    assert tuple(out.columns) == labels.column_names
    assert tuple(breast_cancer.batch(DAY).columns) == BREAST_CANCER.events_feed().column_names


def test_stable_credit_data_passes_every_contract_rule():
    events = apps(rows=5000)
    assert contract_violations(events, CREDIT.events_feed()) == []
    out = credit.outcomes(DAY, seed=SEED, rows=5000, maturity_days=7)
    assert contract_violations(out, CREDIT.label_feed()) == []
    assert events["application_id"].is_unique
    assert events["application_ts"].is_monotonic_increasing
    assert events["application_ts"].min() >= pd.Timestamp(DAY, tz="UTC")
    assert events["application_ts"].max() < pd.Timestamp(DAY + timedelta(days=1), tz="UTC")
    assert events["application_id"].str.fullmatch(r"APP-20261102-\d{6}").all()


def test_stable_credit_marginals_and_correlations_are_realistic():
    events = apps(rows=8000)
    assert 420_000 < events["annual_income"].mean() < 480_000
    assert events["age"].mean() > events["age"].median()  # right-skewed
    assert 660 < events["credit_score"].mean() < 700
    assert 0.01 < events["employment_years"].isna().mean() < 0.03
    assert 0.004 < events["debt_to_income"].isna().mean() < 0.02
    assert 0.01 < events["gender"].isna().mean() < 0.03
    assert (events["recent_delinquencies"] == 0).mean() > 0.6
    assert (
        events["employment_years"].dropna() <= events.loc[events["employment_years"].notna(), "age"] - 18
    ).all()
    corr = events[["age", "annual_income", "loan_amount", "credit_score", "recent_delinquencies"]].corr()
    assert corr.loc["annual_income", "loan_amount"] > 0.5
    assert corr.loc["age", "annual_income"] > 0.1
    assert corr.loc["credit_score", "recent_delinquencies"] < -0.2


def test_default_probability_ignores_gender_and_gives_a_realistic_rate():
    events = apps(rows=8000)
    flipped = events.assign(gender=events["gender"].map({"F": "M", "M": "F"}))
    probability = credit.default_probability(events, "stable", None)
    np.testing.assert_array_equal(probability, credit.default_probability(flipped, "stable", None))
    assert 0.10 <= probability.mean() <= 0.15


# ------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_landed_bytes_are_identical_for_the_same_seed_and_day(tmp_path, fmt):
    first, second = (
        make_settings(tmp_path / "a", MLOPS_SIMULATOR_FORMAT=fmt),
        make_settings(tmp_path / "b", MLOPS_SIMULATOR_FORMAT=fmt),
    )
    for contract in (CREDIT, BREAST_CANCER):
        a = landed_bytes(land.land_day(contract, DAY, settings=first), first)
        b = landed_bytes(land.land_day(contract, DAY, settings=second), second)
        assert a == b and all(a.values())
        later = make_settings(tmp_path / "c", MLOPS_SIMULATOR_FORMAT=fmt)
        c = landed_bytes(land.land_day(contract, DAY + timedelta(days=1), settings=later), later)
        assert set(a.values()).isdisjoint(c.values())


def test_a_day_is_landed_once_whatever_the_settings_of_a_later_run(tmp_path):
    """A rerun or a backfill (or services started with other simulator settings) finds the export
    it landed instead of rewriting what curated data came from; a new format adds no second file."""
    first = land.land_day(CREDIT, DAY, settings=make_settings(tmp_path))
    before = landed_bytes(first, make_settings(tmp_path))
    later = make_settings(tmp_path, MLOPS_SIMULATOR_ROWS_PER_DAY="900", MLOPS_SIMULATOR_FORMAT="parquet")
    again = land.land_day(CREDIT, DAY, settings=later)
    assert again == first and landed_bytes(again, later) == before


def test_a_different_seed_gives_different_data(tmp_path):
    assert not apps(seed=1).equals(apps(seed=2))
    one, two = make_settings(tmp_path / "a"), make_settings(tmp_path / "b", MLOPS_SIMULATOR_SEED="7")
    assert landed_bytes(land.land_day(CREDIT, DAY, settings=one), one) != landed_bytes(
        land.land_day(CREDIT, DAY, settings=two), two
    )


def test_generation_does_not_depend_on_what_ran_before():
    first = apps(rows=300)
    apps(day=DAY + timedelta(days=3), rows=50)  # unrelated draws in between
    np.random.seed(0)  # global state must not matter
    pd.testing.assert_frame_equal(first, apps(rows=300))


# --------------------------------------------------------------------------- outcomes
def test_outcomes_are_the_applications_made_maturity_days_earlier():
    maturity = CREDIT.labels.maturity_days
    out = credit.outcomes(DAY, seed=SEED, rows=500, maturity_days=maturity)
    applied = apps(day=DAY - timedelta(days=maturity), rows=500)
    assert set(out["application_id"]) <= set(applied["application_id"])
    assert len(out) == len(applied) and out["application_id"].is_unique
    assert set(out["application_id"]).isdisjoint(apps(rows=500)["application_id"])

    joined = out.merge(applied[["application_id", "application_ts"]], on="application_id")
    assert (joined["outcome_ts"] >= joined["application_ts"] + pd.Timedelta(days=maturity)).all()
    assert (joined["outcome_ts"].dt.date == DAY).all()
    assert out["defaulted"].dtype == np.int64 and set(out["defaulted"]) <= {0, 1}


def test_outcomes_before_the_first_application_day_are_an_empty_typed_frame():
    out = credit.outcomes(
        DAY, seed=SEED, rows=500, maturity_days=7, first_application_day=DAY - timedelta(days=3)
    )
    assert out.empty and tuple(out.columns) == CREDIT.label_feed().column_names
    assert str(out["outcome_ts"].dtype) == "datetime64[us, UTC]" and out["defaulted"].dtype == np.int64
    history_starts = DAY - timedelta(days=7)
    assert (
        len(credit.outcomes(DAY, seed=SEED, rows=500, maturity_days=7, first_application_day=history_starts))
        == 500
    )


# -------------------------------------------------------------------------- scenarios
def split_at_noon(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    after = frame["application_ts"] >= pd.Timestamp(NOON)
    return frame[~after], frame[after]


@pytest.mark.parametrize(
    "scenario", ["income_shift", "employment_bimodal", "concept_drift", "data_quality_incident"]
)
def test_scenarios_leave_rows_before_the_onset_untouched(scenario):
    stable_before, _ = split_at_noon(apps(rows=2400))
    changed_before, _ = split_at_noon(apps(rows=2400, scenario=scenario, onset=NOON))
    pd.testing.assert_frame_equal(stable_before, changed_before)


def test_income_shift_raises_the_mean_income_to_about_520k():
    _, stable_after = split_at_noon(apps(rows=6000))
    _, shifted_after = split_at_noon(apps(rows=6000, scenario="income_shift", onset=NOON))
    ratio = shifted_after["annual_income"].mean() / stable_after["annual_income"].mean()
    assert ratio == pytest.approx(520 / 450, rel=0.02)
    assert shifted_after["annual_income"].mean() == pytest.approx(520_000, rel=0.05)


def test_employment_becomes_bimodal_after_the_onset():
    def shares(years: pd.Series) -> tuple[float, float, float]:
        years = years.dropna()
        return (years < 3).mean(), years.between(5, 8).mean(), years.between(11, 19).mean()

    _, stable_after = split_at_noon(apps(rows=4000))
    _, bimodal_after = split_at_noon(apps(rows=4000, scenario="employment_bimodal", onset=NOON))
    low, middle, high = shares(bimodal_after["employment_years"])
    assert low > 0.45 and high > 0.25 and middle < 0.05  # two clusters, a valley between
    assert shares(stable_after["employment_years"])[1] > 0.1  # the valley is new
    assert bimodal_after["employment_years"].dropna().between(0, 60).all()


def test_data_quality_incident_reports_income_in_thousands_and_loses_tenure():
    _, stable_after = split_at_noon(apps(rows=4000))
    _, broken_after = split_at_noon(apps(rows=4000, scenario="data_quality_incident", onset=NOON))
    np.testing.assert_allclose(
        broken_after["annual_income"], stable_after["annual_income"] / 1000, atol=0.006
    )
    assert 0.35 < broken_after["employment_years"].isna().mean() < 0.47
    assert stable_after["employment_years"].isna().mean() < 0.05


def test_concept_drift_changes_outcomes_not_features():
    stable, drifted = apps(rows=2400), apps(rows=2400, scenario="concept_drift", onset=NOON)
    pd.testing.assert_frame_equal(stable, drifted)
    after = (drifted["application_ts"] >= pd.Timestamp(NOON)).to_numpy()
    p_stable = credit.default_probability(stable, "stable", None)
    p_drift = credit.default_probability(drifted, "concept_drift", NOON)
    np.testing.assert_array_equal(p_stable[~after], p_drift[~after])
    assert np.corrcoef(p_stable[after], p_drift[after])[0, 1] < 0.5


def test_naive_onset_from_settings_is_utc(tmp_path):
    settings = make_settings(
        tmp_path,
        MLOPS_SIMULATOR_SCENARIO="income_shift",
        MLOPS_SIMULATOR_ONSET="2026-11-02T12:00:00",
        MLOPS_SIMULATOR_FORMAT="parquet",
    )
    assert land.onset_of(settings) == NOON
    land.land_day(CREDIT, DAY, settings=settings)
    path = storage.partition("landing", CREDIT.name, DAY, settings=settings) / f"{CREDIT.name}-{DAY}.parquet"
    landed = pd.read_parquet(io.BytesIO(storage.read_bytes(path)))
    expected = apps(rows=300, scenario="income_shift", onset=NOON)
    np.testing.assert_array_equal(landed["annual_income"], expected["annual_income"])


# ------------------------------------------------------------------------ calibration
def labelled(day: date, rows: int, scenario: str = "stable") -> tuple[pd.DataFrame, np.ndarray]:
    """Applications of ``day`` joined with the outcomes the label feed delivers later."""
    maturity = CREDIT.labels.maturity_days
    events = credit.applications(day, seed=SEED, rows=rows, scenario=scenario)
    out = credit.outcomes(
        day + timedelta(days=maturity), seed=SEED, rows=rows, maturity_days=maturity, scenario=scenario
    )
    joined = events.merge(out, on="application_id", validate="one_to_one")
    return model_matrix(joined), joined["defaulted"].to_numpy()


def model_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    x = frame[list(CREDIT.features)].copy()
    for name in ("home_ownership", "loan_purpose"):
        x[name] = x[name].map({v: i for i, v in enumerate(CREDIT.events_feed().column(name).allowed)})
    return x.astype(float)


def auc(model, data) -> float:
    x, y = data
    return roc_auc_score(y, model.predict_proba(x)[:, 1])


@pytest.fixture(scope="module")
def stable_model():
    x, y = labelled(date(2026, 3, 1), 20_000)
    return HistGradientBoostingClassifier(random_state=0).fit(x, y), y.mean()


def test_a_good_model_reaches_the_calibrated_auc_on_stable_data(stable_model):
    model, default_rate = stable_model
    assert 0.10 <= default_rate <= 0.15
    assert 0.86 <= auc(model, labelled(date(2026, 3, 2), 10_000)) <= 0.90


def test_concept_drift_defeats_the_old_model_and_a_retrained_one_recovers(stable_model):
    old_model, _ = stable_model
    drifted_test = labelled(date(2026, 3, 4), 10_000, "concept_drift")
    assert auc(old_model, drifted_test) < 0.85
    retrained = HistGradientBoostingClassifier(random_state=0).fit(
        *labelled(date(2026, 3, 3), 20_000, "concept_drift")
    )
    assert auc(retrained, drifted_test) >= 0.85


# ---------------------------------------------------------------------- breast cancer
def test_breast_cancer_batches_are_deterministic_and_cover_the_table_once_per_cycle():
    pd.testing.assert_frame_equal(breast_cancer.batch(DAY), breast_cancer.batch(DAY))
    cycle = breast_cancer.cycle_length(40)
    assert cycle == 15
    days = [DAY + timedelta(days=i) for i in range(cycle)]
    batches = [breast_cancer.batch(d, rows_per_day=40) for d in days]
    rows = pd.concat([b["sample_id"].str[-4:] for b in batches])
    assert len(rows) == 569 and rows.is_unique
    assert sum(int(b["malignant"].sum()) for b in batches) == 212  # the table's malignant count
    assert all(10 <= len(b) <= 40 for b in batches)  # near-equal slices: no tiny last batch
    for d, b in zip(days, batches, strict=True):
        assert b["sample_id"].is_unique and b["sample_id"].str.startswith(f"BC-{d:%Y%m%d}-").all()
        assert (b["observed_ts"].dt.date == d).all()
        assert contract_violations(b, BREAST_CANCER.events_feed()) == []
    next_cycle = breast_cancer.batch(days[0] + timedelta(days=cycle))
    assert next_cycle["sample_id"].str[-4:].tolist() == batches[0]["sample_id"].str[-4:].tolist()


# ---------------------------------------------------------------------------- capture
def test_capture_logs_each_hour_of_the_days_applications():
    hours = [datetime(2026, 11, 2, h, tzinfo=UTC) for h in range(24)]
    captures = [credit.capture(h, seed=SEED, rows_per_day=500) for h in hours]
    sizes = [len(c) for c in captures]
    assert set(sizes) <= {500 // 24, 500 // 24 + 1} and sum(sizes) == 500
    assert (
        pd.concat(c["application_id"] for c in captures).tolist() == apps(rows=500)["application_id"].tolist()
    )

    one = captures[13]
    assert tuple(one.columns) == (
        "request_id",
        "request_ts",
        "application_id",
        *CREDIT.features,
        "score",
        "model_version",
    )
    hour_13 = pd.Timestamp(hours[13])
    assert one["request_ts"].between(hour_13, hour_13 + pd.Timedelta(minutes=59, seconds=59)).all()
    assert one["score"].isna().all() and one["model_version"].isna().all()
    assert one["request_id"].is_unique


def test_capture_records_the_scorers_scores_and_version():
    def scorer(features: pd.DataFrame):
        assert tuple(features.columns) == CREDIT.features
        return features["credit_score"].to_numpy() / 1000, "model-7"

    logged = credit.capture(datetime(2026, 11, 2, 9, 30), seed=SEED, rows_per_day=240, scorer=scorer)
    assert len(logged) == 10
    np.testing.assert_allclose(logged["score"], logged["credit_score"] / 1000)
    assert (logged["model_version"] == "model-7").all()


def test_prescreening_calls_fill_the_hour_up_to_the_scoring_volume():
    hour = datetime(2026, 11, 2, 9, tzinfo=UTC)
    own = credit.capture(hour, seed=SEED, rows_per_day=240)
    full = credit.capture(hour, seed=SEED, rows_per_day=240, scoring_calls_per_hour=2000)
    assert len(full) == 2000 and full["request_id"].is_unique and full["request_ts"].is_monotonic_increasing
    # The applications keep their ids and features; the other calls carry no application id.
    applied = full.dropna(subset=["application_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(applied.drop(columns=["request_id"]), own.drop(columns=["request_id"]))
    hour_end = pd.Timestamp(hour) + pd.Timedelta(hours=1)
    assert full["request_ts"].between(pd.Timestamp(hour), hour_end, inclusive="left").all()
    # Same population: the pre-screens' median income is the applications' one within noise.
    prescreens = full[full["application_id"].isna()]
    stable_day = apps(rows=20_000)
    assert abs(prescreens["annual_income"].median() / stable_day["annual_income"].median() - 1) < 0.06
    # Deterministic, and a volume below the hour's applications adds nothing.
    pd.testing.assert_frame_equal(
        full, credit.capture(hour, seed=SEED, rows_per_day=240, scoring_calls_per_hour=2000)
    )
    assert len(credit.capture(hour, seed=SEED, rows_per_day=240, scoring_calls_per_hour=3)) == len(own)


def test_prescreening_calls_follow_the_scenario_from_the_onset():
    onset = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    calls = credit.prescreens(
        datetime(2026, 11, 2, 9, tzinfo=UTC), 4000, seed=SEED, scenario="income_shift", onset=onset
    )
    stable = credit.prescreens(datetime(2026, 11, 2, 9, tzinfo=UTC), 4000, seed=SEED)
    after = (calls["application_ts"] >= pd.Timestamp(onset)).to_numpy()
    assert 0.4 < after.mean() < 0.6
    np.testing.assert_allclose(
        calls.loc[after, "annual_income"], (stable.loc[after, "annual_income"] * credit.INCOME_SHIFT).round(2)
    )
    pd.testing.assert_frame_equal(calls[~after], stable[~after])


def test_land_capture_hour_writes_typed_parquet(tmp_path):
    settings = make_settings(tmp_path)
    uri = land.land_capture_hour(CREDIT, datetime(2026, 11, 2, 5, 17, tzinfo=UTC), settings=settings)
    assert uri.endswith("/capture/credit_applications/dt=2026-11-02/hour=05/capture.parquet")
    path = (
        storage.path("capture", CREDIT.name, "dt=2026-11-02", "hour=05", settings=settings)
        / "capture.parquet"
    )
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(storage.read_bytes(path)))
    assert str(table.schema.field("request_ts").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("model_version").type) == "string"
    assert table.num_rows == 300 // 24 or table.num_rows == 300 // 24 + 1

    busy = make_settings(tmp_path / "busy", MLOPS_SIMULATOR_SCORING_CALLS_PER_HOUR="500")
    land.land_capture_hour(CREDIT, datetime(2026, 11, 2, 5, tzinfo=UTC), settings=busy)
    busy_path = (
        storage.path("capture", CREDIT.name, "dt=2026-11-02", "hour=05", settings=busy) / "capture.parquet"
    )
    assert pq.read_table(io.BytesIO(storage.read_bytes(busy_path))).num_rows == 500


# ---------------------------------------------------------------------------- landing
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_land_day_writes_every_feed_readable_by_pandas(tmp_path, fmt):
    settings = make_settings(tmp_path, MLOPS_SIMULATOR_FORMAT=fmt)
    uris = land.land_day(CREDIT, DAY, settings=settings)
    assert len(uris) == 2
    for feed, uri in zip(CREDIT.feeds(), uris, strict=True):
        path = storage.partition("landing", feed.name, DAY, settings=settings) / f"{feed.name}-{DAY}.{fmt}"
        assert uri == storage.describe(path)
        data = storage.read_bytes(path)
        frame = pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.read_parquet(io.BytesIO(data))
        assert tuple(frame.columns) == feed.column_names and len(frame) == 300
        if fmt == "parquet":
            assert str(frame[feed.event_timestamp].dtype) == "datetime64[us, UTC]"


def test_csv_formats_timestamps_integers_and_nulls_stably():
    text = land.to_csv_bytes(apps(rows=200)).decode("utf-8")
    lines = text.split("\n")
    assert text.endswith("\n") and "\r" not in text
    first = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert re.fullmatch(r"2026-11-02T\d\d:\d\d:\d\dZ", first["application_ts"])
    assert re.fullmatch(r"\d+", first["credit_score"]) and re.fullmatch(r"\d+", first["loan_term_months"])

    small = pd.DataFrame(
        {
            "n": pd.array([3, None], dtype="Int64"),
            "x": [0.1 + 0.2, np.nan],
            "t": pd.to_datetime(["2026-11-02 13:45:07", None]).tz_localize("UTC"),
        }
    )
    assert land.to_csv_bytes(small) == b"n,x,t\n3,0.3,2026-11-02T13:45:07Z\n,,\n"


def test_an_unknown_dataset_is_refused_with_the_known_ones(tmp_path):
    stranger = dataclasses.replace(CREDIT, name="mystery_loans")
    known = "breast_cancer, card_defaults, census_income, credit_applications"
    with pytest.raises(ValueError, match=f"mystery_loans.*{known}"):
        land.land_day(stranger, DAY, settings=make_settings(tmp_path))


def test_land_day_on_s3_writes_the_same_bytes_as_on_a_file_root(tmp_path, s3_settings):
    """The simulator only speaks include.storage, so an s3:// root gets identical objects."""
    on_s3 = dataclasses.replace(s3_settings, simulator_rows_per_day=300, simulator_format="parquet")
    on_disk = make_settings(tmp_path, MLOPS_SIMULATOR_FORMAT="parquet")
    s3_uris = land.land_day(CREDIT, DAY, settings=on_s3)
    assert all(uri.startswith("s3://") for uri in s3_uris)
    land.land_day(CREDIT, DAY, settings=on_disk)
    for feed in CREDIT.feeds():
        name = f"{feed.name}-{DAY}.parquet"
        s3_object = storage.partition("landing", feed.name, DAY, settings=on_s3) / name
        local_file = storage.partition("landing", feed.name, DAY, settings=on_disk) / name
        assert storage.read_bytes(s3_object) == storage.read_bytes(local_file)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_producer_defects_are_quarantined_with_their_kinds_and_nothing_else_is(tmp_path, fmt):
    from include.ingestion.partition import ingest_partition

    rates = {"0.01": 30, "0": 0}
    for rate, expected in rates.items():
        settings = settings_module.load(
            {
                "MLOPS_STORAGE_ROOT": (tmp_path / rate).as_uri(),
                "MLOPS_SIMULATOR_FORMAT": fmt,
                "MLOPS_SIMULATOR_DEFECT_RATE": rate,
            }
        )
        land.land_day(CREDIT, DAY, settings=settings)
        report = ingest_partition(CREDIT, CREDIT.name, DAY, settings=settings)
        assert report["counts"]["landed"] == 3000
        assert report["counts"]["quarantined"] == expected
        if expected:
            assert set(report["quarantine_reasons"]) == {"duplicate_key", "range", "allowed", "null"}
