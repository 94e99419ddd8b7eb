"""Values that were changed or lost without a word (issue 23): integers above 2^53 and outside
int64, nested Parquet columns, and a file that changes while the run reads it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include import contract, storage
from include.ingestion.coerce import coerce
from tests.support.data import credit_frame, to_csv
from tests.support.ingestion import DAY, FEED, files_of, ingest
from tests.support.paths import CONTRACTS_DIR

N = 200
BIG = [9007199254740993, 9223372036854775807, -9223372036854775808]


@pytest.fixture
def wide(tmp_path_factory):
    """The credit contract with ``open_accounts`` unbounded and ``recent_delinquencies`` bounded at 2^53."""
    folder = tmp_path_factory.mktemp("contracts")
    for source in Path(CONTRACTS_DIR).glob("*.yaml"):
        text = source.read_text()
        if source.stem == "credit_applications":
            text = text.replace("open_accounts: {dtype: int, min: 0, max: 80,", "open_accounts: {dtype: int,")
            text = text.replace(
                "recent_delinquencies: {dtype: int, min: 0, max: 30,",
                "recent_delinquencies: {dtype: int, min: -9007199254740992, max: 9007199254740992,",
            )
        (folder / source.name).write_text(text)
    return contract.load("credit_applications", folder)


def test_coerce_keeps_big_ints_exact_and_marks_out_of_int64_range():
    text = pa.array(["9007199254740993", "9223372036854775807", "-9223372036854775808", None])
    out = coerce(text, "int")
    assert out.values.to_pylist() == [*BIG, None]
    mixed = pa.array(["9007199254740993", " 7 ", "9223372036854775808", "-9223372036854775809", "1.5", "x"])
    out = coerce(mixed, "int")
    assert out.values.to_pylist() == [9007199254740993, 7, None, None, None, None]
    assert out.out_of_range.tolist() == [False, False, True, True, False, False]
    assert out.fractional.tolist() == [False, False, False, False, True, False]
    assert out.type_bad.tolist() == [False, False, False, False, False, True]
    assert coerce(pa.array(BIG, pa.int64()), "int").values.to_pylist() == BIG
    unsigned = coerce(pa.array([2**63 - 1, 2**63, 5], pa.uint64()), "int")
    assert unsigned.values.to_pylist() == [2**63 - 1, None, 5]
    assert unsigned.out_of_range.tolist() == [False, True, False]


def test_csv_big_ints_are_curated_exactly_and_out_of_range_is_a_range_reason(settings, wide, land):
    frame = credit_frame(DAY, N)
    frame["open_accounts"] = frame["open_accounts"].astype(object)
    frame.loc[0, "open_accounts"] = "9007199254740993"
    frame.loc[1, "open_accounts"] = "9223372036854775807"
    frame.loc[2, "open_accounts"] = "-9223372036854775808"
    frame.loc[3, "open_accounts"] = "9223372036854775808"
    frame.loc[4, "open_accounts"] = "-9223372036854775809"
    frame.loc[5, "open_accounts"] = "1.5"
    frame["recent_delinquencies"] = frame["recent_delinquencies"].astype(object)
    frame.loc[6, "recent_delinquencies"] = "9007199254740993"  # one above the maximum 2^53
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, wide)
    assert out.counts == {"landed": N, "curated": N - 4, "quarantined": 4}
    curated = out.curated.set_index("application_id")["open_accounts"]
    for row, value in enumerate(BIG):
        assert curated[frame.loc[row, "application_id"]] == value
    assert out.reason(4) == "range: open_accounts='9223372036854775808' is outside the int64 range"
    assert out.reason(5) == "range: open_accounts='-9223372036854775809' is outside the int64 range"
    assert out.reason(6) == "type: open_accounts='1.5' is not a whole number"
    assert out.reason(7) == (
        "range: recent_delinquencies=9007199254740993 is above the maximum 9007199254740992"
    )


def _parquet(frame: pd.DataFrame, **types) -> bytes:
    table = pa.Table.from_pandas(frame.astype(dict.fromkeys(types, str)), preserve_index=False)
    for name, type_ in types.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pa.array(frame[name].tolist(), type_))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def test_parquet_big_ints_ingest_exactly_and_uint64_above_int64_is_a_range_reason(settings, wide, land):
    frame = credit_frame(DAY, N)
    frame["open_accounts"] = frame["open_accounts"].astype("int64")
    frame.loc[0:2, "open_accounts"] = BIG
    land(FEED, DAY, "a.parquet", _parquet(frame, open_accounts=pa.int64()))
    out = ingest(settings, wide)
    assert out.counts == {"landed": N, "curated": N, "quarantined": 0}
    curated = out.curated.set_index("application_id")["open_accounts"]
    assert [curated[frame.loc[r, "application_id"]] for r in range(3)] == BIG

    values = [int(v) for v in frame["open_accounts"]]
    values[0:3] = [2**63, 2**64 - 1, 2**63 - 1]
    frame["open_accounts"] = pd.Series(values, dtype=object)
    land(FEED, DAY, "a.parquet", _parquet(frame, open_accounts=pa.uint64()))
    out = ingest(settings, wide)
    assert out.counts == {"landed": N, "curated": N - 2, "quarantined": 2}
    assert out.reason(1, "a.parquet") == "range: open_accounts=9223372036854775808 is outside the int64 range"
    curated = out.curated.set_index("application_id")["open_accounts"]
    assert curated[frame.loc[2, "application_id"]] == 2**63 - 1


@pytest.mark.parametrize(
    "nested",
    [
        pa.array([{"a": 1}] * N, pa.struct([("a", pa.int64())])),
        pa.array([[1, 2]] * N, pa.list_(pa.int64())),
        pa.array([[("k", 1)]] * N, pa.map_(pa.string(), pa.int64())),
    ],
    ids=["struct", "list", "map"],
)
def test_a_nested_parquet_column_refuses_the_file_by_uri_column_and_type(settings, credit, land, nested):
    frame = credit_frame(DAY, N)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    i = table.schema.get_field_index("open_accounts")
    table = table.set_column(i, "open_accounts", nested)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data = sink.getvalue().to_pybytes()
    path = land(FEED, DAY, "a.parquet", data)
    out = ingest(settings, credit, expect="failed")
    check = out.check("file_readable")
    assert check["file"] == "a.parquet"
    assert storage.describe(path) in check["message"]
    landed_type = pq.read_schema(pa.BufferReader(data)).field("open_accounts").type
    assert f"column open_accounts has Arrow type {landed_type}; no contract dtype" in check["message"]
    assert out.report["counts"]["curated"] == 0
    assert not files_of(settings, "curated")
    assert [n for n in files_of(settings, "quarantine") if n.startswith("raw-")]


def test_a_file_that_changes_while_it_is_read_is_refused_retryably_and_nothing_is_committed(
    settings, credit, land, monkeypatch
):
    from include.errors import PermanentError
    from include.ingestion.partition import ingest_partition
    from include.ingestion.reader import LandingChanged

    frame = credit_frame(DAY, N)
    path = land(FEED, DAY, "a.csv", to_csv(frame.iloc[:150]))
    real = storage.read_bytes

    def appending(p):
        data = real(p)
        if p.name == "a.csv":  # the producer appends while the run reads
            with open(p.path, "ab") as handle:
                handle.write(to_csv(frame.iloc[150:]).split(b"\n", 1)[1])
            os.utime(p.path, (time.time() + 5, time.time() + 5))
        return data

    monkeypatch.setattr(storage, "read_bytes", appending)
    with pytest.raises(LandingChanged) as caught:
        ingest_partition(credit, FEED, DAY, settings=settings)
    assert not isinstance(caught.value, PermanentError)
    assert storage.describe(path) in str(caught.value)
    assert not files_of(settings, "curated") and not files_of(settings, "quarantine")
    monkeypatch.setattr(storage, "read_bytes", real)
    first = ingest(settings, credit)
    again = ingest(settings, credit)
    assert first.counts == again.counts == {"landed": N, "curated": N, "quarantined": 0}
    assert first.report["data_version"] == again.report["data_version"]
    assert len([n for n in files_of(settings, "curated") if n.startswith("part-")]) == 1


def _sensor_target(day) -> dict:
    return {
        "dataset": "breast_cancer",
        "date": day.isoformat(),
        "feeds": ["breast_cancer"],
        "dry_run": False,
        "feed": "breast_cancer",
    }


def test_the_landing_sensor_waits_until_every_file_is_quiet(tmp_path, use_env):
    from mlops_plugins.landing_sensor import LandingPartitionSensor

    use_env(MLOPS_STORAGE_ROOT=tmp_path.as_uri(), MLOPS_LANDING_QUIET_SECONDS="60")
    directory = Path(storage.partition("landing", "breast_cancer", DAY).path)
    directory.mkdir(parents=True)
    old, fresh = directory / "a.csv", directory / "b.csv"
    old.write_bytes(b"a,b\n")
    os.utime(old, (time.time() - 120, time.time() - 120))
    fresh.write_bytes(b"a,b\n")  # the producer is still at it
    sensor = LandingPartitionSensor(task_id="wait", targets=[_sensor_target(DAY)], mode="poke", timeout=0)
    assert sensor.poke({}) is False
    _, pending = sensor._pending()
    assert len(pending) == 1 and "b.csv (modified 0 s ago), within 60 s" in pending[0]
    assert "a.csv" not in pending[0]
    # A file this run wrote whole (the simulator's atomic write) needs no quiet period.
    whole = LandingPartitionSensor(
        task_id="wait2",
        targets=[_sensor_target(DAY)],
        whole=[storage.describe(storage.path("landing", "breast_cancer", f"dt={DAY}", "b.csv"))],
        mode="poke",
        timeout=0,
    )
    assert whole.poke({}) is True
    os.utime(fresh, (time.time() - 61, time.time() - 61))
    assert sensor.poke({}) is True
    use_env(MLOPS_LANDING_QUIET_SECONDS="0")
    fresh.write_bytes(b"a,b\n1,2\n")
    assert sensor.poke({}) is True  # 0 disables the wait


def test_the_landing_sensor_waits_for_success_when_the_contract_asks(tmp_path, use_env):
    from mlops_plugins.landing_sensor import LandingPartitionSensor

    folder = tmp_path / "contracts"
    folder.mkdir()
    for source in Path(CONTRACTS_DIR).glob("*.yaml"):
        text = source.read_text()
        if source.stem == "breast_cancer":
            assert "\nbatch:\n" in text
            text = text.replace("\nbatch:\n", "\nbatch:\n  success_marker: true\n")
        (folder / source.name).write_text(text)
    use_env(
        MLOPS_STORAGE_ROOT=(tmp_path / "root").as_uri(),
        MLOPS_CONTRACTS_DIR=str(folder),
        MLOPS_LANDING_QUIET_SECONDS="3600",
    )
    assert contract.load("breast_cancer", folder).feed("breast_cancer").limits.success_marker
    directory = Path(storage.partition("landing", "breast_cancer", DAY).path)
    directory.mkdir(parents=True)
    (directory / "a.csv").write_bytes(b"a,b\n")
    sensor = LandingPartitionSensor(task_id="wait", targets=[_sensor_target(DAY)], mode="poke", timeout=0)
    assert sensor.poke({}) is False
    (directory / "_SUCCESS").write_bytes(b"")
    assert sensor.poke({}) is True  # the marker, not the quiet period, says the producer is done


def test_file_state_on_s3_is_the_size_and_last_modified(s3_settings):
    path = storage.path("landing", "x", "a.csv", settings=s3_settings)
    storage.write_bytes_atomic(path, b"a,b\n1,2\n")
    state = storage.file_state(path)
    assert state.size == 8 and abs(time.time() - state.modified) < 300


def test_allowed_values_of_an_int_column_are_compared_exactly(settings, wide, land):
    contract_text = wide.source.read_text().replace(
        "open_accounts: {dtype: int,", "open_accounts: {dtype: int, allowed: [9007199254740992, 3],"
    )
    wide.source.write_text(contract_text)
    strict = contract.load("credit_applications", wide.source.parent)
    frame = credit_frame(DAY, N)
    frame["open_accounts"] = 3
    frame["open_accounts"] = frame["open_accounts"].astype(object)
    frame.loc[0, "open_accounts"] = "9007199254740992"
    frame.loc[1, "open_accounts"] = "9007199254740993"  # 2^53 + 1: the same float as 2^53
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, strict)
    assert out.counts == {"landed": N, "curated": N - 1, "quarantined": 1}
    assert out.reason(2).startswith("allowed: open_accounts=9007199254740993 is not one of")
