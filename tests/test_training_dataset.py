"""Training-set assembly from real curated partitions (simulator -> ingestion -> assemble)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from include import contract as contract_module
from include import settings as settings_module
from include.ingestion.partition import ingest_partition, read_curated
from include.simulator.land import land_day
from include.training.dataset import TrainingDataError, assemble, time_split
from tests.support.data import simulate_days
from tests.support.paths import CONTRACTS_DIR

FIRST = date(2026, 3, 1)
DAYS = [FIRST + timedelta(days=n) for n in range(14)]


@pytest.fixture(scope="module")
def credit():
    return contract_module.load("credit_applications", CONTRACTS_DIR)


@pytest.fixture(scope="module")
def curated_fortnight(tmp_path_factory, credit):
    root = tmp_path_factory.mktemp("training")
    s = settings_module.load({"MLOPS_STORAGE_ROOT": root.as_uri(), "MLOPS_SIMULATOR_ROWS_PER_DAY": "300"})
    simulate_days(credit, DAYS, settings=s)
    return s


def test_only_events_whose_label_matured_by_the_window_end_are_kept(curated_fortnight, credit):
    s = curated_fortnight
    training = assemble(credit, DAYS[-1], 14, min_rows=100, settings=s)
    curated_rows = {day: len(read_curated(credit.name, day, settings=s)) for day in DAYS}
    # maturity 7 days: applications of 03-01..03-07 have outcomes observed by the end of 03-14
    assert training.counts["labelled"] == sum(curated_rows[d] for d in DAYS[:7])
    assert training.counts["not_matured"] == sum(curated_rows[d] for d in DAYS[7:])
    assert training.counts["matured_without_label"] == 0
    assert set(training.frame[credit.target].unique()) <= {0, 1}
    newest_event = training.frame[credit.event_timestamp].max()
    assert newest_event < pd.Timestamp(DAYS[7], tz="UTC")
    assert training.window == (DAYS[0], DAYS[-1])


def test_lineage_names_every_partition_and_its_data_version(curated_fortnight, credit):
    from include import storage
    from include.ingestion.commit import read_report

    training = assemble(credit, DAYS[-1], 14, min_rows=100, settings=curated_fortnight)
    assert len(training.lineage) == 28
    for entry in training.lineage:
        day = date.fromisoformat(entry["partition"])
        report = read_report(storage.partition("curated", entry["feed"], day, settings=curated_fortnight))
        assert entry["data_version"] == report["data_version"]


def test_no_label_from_after_the_window_leaks_in(curated_fortnight, credit):
    # Ending the window on 03-10: applications up to 03-03 are matured, and only outcomes
    # observed by the end of 03-10 may be used.
    training = assemble(credit, DAYS[9], 10, min_rows=100, settings=curated_fortnight)
    assert training.frame[credit.event_timestamp].max() < pd.Timestamp(DAYS[3], tz="UTC")
    assert training.counts["labelled"] == sum(
        len(read_curated(credit.name, d, settings=curated_fortnight)) for d in DAYS[:3]
    )


def test_too_little_matured_data_names_window_counts_and_minimum(curated_fortnight, credit):
    with pytest.raises(
        TrainingDataError,
        match=r"only 0 labelled rows in the window 2026-03-01\.\.2026-03-05 "
        r"\(minimum 100\): \d+ events, \d+ younger than the 7-day",
    ):
        assemble(credit, DAYS[4], 5, min_rows=100, settings=curated_fortnight)


def test_a_window_without_curated_partitions_names_the_path(curated_fortnight, credit):
    with pytest.raises(
        TrainingDataError,
        match=r"no curated credit_applications partition between "
        r"2025-01-01 and 2025-01-07 under file://",
    ):
        assemble(credit, date(2025, 1, 7), 7, min_rows=1, settings=curated_fortnight)


def test_time_split_is_ordered_disjoint_and_complete(curated_fortnight, credit):
    training = assemble(credit, DAYS[-1], 14, min_rows=100, settings=curated_fortnight)
    splits = time_split(training.frame, credit)
    ts, key = credit.event_timestamp, credit.primary_key[0]
    assert splits.train[ts].max() < splits.validation[ts].min()
    assert splits.validation[ts].max() < splits.holdout[ts].min()
    ids = [set(p[key]) for p in (splits.train, splits.validation, splits.holdout)]
    assert not (ids[0] & ids[1]) and not (ids[1] & ids[2]) and not (ids[0] & ids[2])
    assert sum(map(len, ids)) == len(training.frame)
    assert abs(len(splits.holdout) / len(training.frame) - 0.15) < 0.02


def test_an_id_seen_in_two_splits_is_kept_only_in_the_latest(credit):
    frame = pd.DataFrame(
        {
            "application_id": ["a", "b", "c", "a", "d", "e", "f", "g", "h", "i"],
            "application_ts": pd.date_range("2026-03-01", periods=10, freq="h", tz="UTC"),
            "defaulted": [0, 1] * 5,
        }
    )
    splits = time_split(frame, credit, validation_share=0.3, holdout_share=0.3)
    assert "a" not in set(splits.train["application_id"])
    assert list(splits.validation["application_id"]).count("a") == 1


def test_inline_labels_need_no_label_feed(tmp_path):
    breast = contract_module.load("breast_cancer", CONTRACTS_DIR)
    s = settings_module.load({"MLOPS_STORAGE_ROOT": tmp_path.as_uri()})
    for day in DAYS[:3]:
        land_day(breast, day, settings=s)
        ingest_partition(breast, breast.name, day, settings=s)
    training = assemble(breast, DAYS[2], 3, min_rows=10, settings=s)
    assert training.counts["labelled"] == training.counts["events"] > 100
    assert len(training.lineage) == 3


def test_an_early_outcome_for_a_young_application_is_not_used(tmp_path, credit):
    # An early default reported 1 day after the application: known, but not matured by the
    # contract's 7-day delay, so training on it would favour early defaults.
    from include import storage
    from include.ingestion.partition import ingest_partition as ingest
    from include.simulator.land import to_csv_bytes

    s = settings_module.load({"MLOPS_STORAGE_ROOT": tmp_path.as_uri(), "MLOPS_SIMULATOR_ROWS_PER_DAY": "300"})
    for day in DAYS[:9]:
        land_day(credit, day, settings=s)
        ingest(credit, credit.name, day, settings=s)
    day8_ids = read_curated(credit.name, DAYS[7], settings=s)["application_id"].head(3).tolist()
    early = pd.DataFrame(
        {
            "application_id": day8_ids,
            "outcome_ts": pd.Timestamp(DAYS[8], tz="UTC") + pd.Timedelta(hours=12),
            "defaulted": 1,
        }
    )
    labels_dir = storage.partition("landing", credit.label_feed_name, DAYS[8], settings=s)
    storage.write_bytes_atomic(labels_dir / "early-defaults.csv", to_csv_bytes(early))
    for day in DAYS[:9]:
        ingest(credit, credit.label_feed_name, day, settings=s)
    training = assemble(credit, DAYS[8], 9, min_rows=1, settings=s)
    assert not set(day8_ids) & set(training.frame["application_id"])
    assert training.counts["labelled"] == sum(len(read_curated(credit.name, d, settings=s)) for d in DAYS[:2])


def test_a_models_training_set_is_rebuilt_exactly_after_a_reingest_and_a_changed_file_is_named(
    tmp_path, credit
):
    from include import storage
    from include.ingestion.commit import CuratedVersionError, data_file_name_of

    s = settings_module.load({"MLOPS_STORAGE_ROOT": tmp_path.as_uri(), "MLOPS_SIMULATOR_ROWS_PER_DAY": "300"})
    days = DAYS[:9]
    simulate_days(credit, days, settings=s)
    trained = assemble(credit, days[-1], 9, min_rows=50, settings=s)
    # The producer re-exports the first day without its last 40 applications; the night is re-ingested.
    (landed,) = storage.list_files(storage.partition("landing", credit.name, days[0], settings=s))
    lines = storage.read_bytes(landed).split(b"\n")
    storage.write_bytes_atomic(landed, b"\n".join(lines[:-41] + [b""]))
    ingest_partition(credit, credit.name, days[0], settings=s)
    now = assemble(credit, days[-1], 9, min_rows=50, settings=s)
    assert now.lineage[0]["data_version"] != trained.lineage[0]["data_version"]
    assert now.counts["events"] < trained.counts["events"]
    # The partition's report history: both versions, the re-ingested one current.
    from include.ingestion.commit import history

    versions = history(storage.partition("curated", credit.name, days[0], settings=s))
    assert {(v["data_version"], v["current"]) for v in versions} == {
        (trained.lineage[0]["data_version"], False),
        (now.lineage[0]["data_version"], True),
    }
    assert (
        sorted(v["counts"]["landed"] for v in versions)[1]
        - sorted(v["counts"]["landed"] for v in versions)[0]
        == 40
    )
    ingest_partition(credit, credit.name, days[0], settings=s)  # a rerun adds no history
    assert len(history(storage.partition("curated", credit.name, days[0], settings=s))) == 2

    rebuilt = assemble(credit, days[-1], 9, min_rows=50, pinned=trained.lineage, settings=s)
    assert rebuilt.lineage == trained.lineage
    pd.testing.assert_frame_equal(rebuilt.frame, trained.frame)

    first = trained.lineage[0]
    old = storage.partition("curated", credit.name, days[0], settings=s) / data_file_name_of(
        first["data_version"]
    )
    storage.write_bytes_atomic(old, storage.read_bytes(old) + b"\0")
    with pytest.raises(CuratedVersionError, match=f"{storage.describe(old)} no longer hashes to"):
        assemble(credit, days[-1], 9, min_rows=50, pinned=trained.lineage, settings=s)
    storage.delete(old)
    with pytest.raises(CuratedVersionError, match=f"data version {first['data_version']} is gone"):
        assemble(credit, days[-1], 9, min_rows=50, pinned=trained.lineage, settings=s)
