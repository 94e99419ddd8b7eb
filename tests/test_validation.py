"""Row checks, batch checks and bad inputs, each through ``ingest_partition`` on file://
storage. Every ingestion is followed by the accounting check: landed == curated +
quarantined, and the committed files hold exactly those rows.

Row numbers: ``_source_row`` counts data rows from 1 (the header is not a row), so the
frame row ``i`` of a landed CSV is ``_source_row == i + 1``.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest

from include import storage
from include.ingestion import commit
from include.ingestion.partition import BatchRejected, ingest_partition, read_curated
from tests.support.data import credit_frame, credit_labels_frame, land_bytes, to_csv, to_parquet
from tests.support.ingestion import DAY, FEED, files_of, ingest, relaxed

LABELS = "credit_applications_labels"
N = 200


@pytest.fixture
def frame() -> pd.DataFrame:
    return credit_frame(DAY, N)


# --------------------------------------------------------------------------- the good path


def test_a_valid_batch_is_curated_entirely_with_contract_types(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N, "quarantined": 0}
    assert out.report["quarantine_files"] == [] and out.report["quarantine_reasons"] == {}
    assert out.check("row_count")["status"] == "passed"
    assert out.check("freshness")["status"] == "passed"
    curated = out.curated
    assert list(curated.columns) == list(frame.columns)
    assert str(curated["application_ts"].dtype) == "datetime64[us, UTC]"
    assert str(curated["age"].dtype) == "Int64" and curated["annual_income"].dtype == np.float64
    assert curated["application_ts"].is_monotonic_increasing
    assert sorted(curated["application_id"]) == sorted(frame["application_id"])
    first = curated.set_index("application_id").loc[frame.loc[0, "application_id"]]
    assert first["age"] == frame.loc[0, "age"] and first["annual_income"] == frame.loc[0, "annual_income"]


def test_label_feed_is_validated_on_its_own(settings, credit, land):
    labels = credit_labels_frame(DAY, 30)
    labels.loc[4, "defaulted"] = 2
    land(LABELS, DAY, "labels.csv", to_csv(labels))
    out = ingest(settings, credit, feed=LABELS)
    assert out.counts == {"landed": 30, "curated": 29, "quarantined": 1}
    assert out.reason(5, "labels.csv") == "allowed: defaulted=2 is not one of [0, 1]"
    assert list(out.curated.columns) == ["application_id", "outcome_ts", "defaulted"]


def test_breast_cancer_with_inline_labels_is_ingested(settings, breast, land):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame.head(120)
    frame = data.drop(columns="target").rename(columns=lambda c: c.replace(" ", "_"))
    frame.insert(
        0,
        "observed_ts",
        [
            f"2024-05-01T{h:02d}:{m:02d}:00Z"
            for h, m in zip(np.arange(120) // 6, np.arange(120) % 6 * 10, strict=True)
        ],
    )
    frame.insert(0, "sample_id", [f"s{i:04d}" for i in range(120)])
    frame["malignant"] = 1 - data["target"]  # scikit-learn's target is 1 for benign
    assert set(frame.columns) == set(breast.events_feed().column_names)
    land("breast_cancer", DAY, "batch.csv", to_csv(frame))
    out = ingest(settings, breast, feed="breast_cancer")
    assert out.counts == {"landed": 120, "curated": 120, "quarantined": 0}
    curated = out.curated.set_index("sample_id").loc[frame["sample_id"]]
    assert curated["malignant"].tolist() == (1 - data["target"]).tolist()
    assert int(curated["malignant"].sum()) == int((data["target"] == 0).sum())
    np.testing.assert_allclose(curated["worst_radius"].to_numpy(), frame["worst_radius"].to_numpy())


# --------------------------------------------------------------------------- bad files


def test_empty_zero_byte_file_is_listed_and_the_other_files_are_read(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame))
    land(FEED, DAY, "b.csv", b"")
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N, "quarantined": 0}
    empty = [f for f in out.report["files"] if f["name"] == "b.csv"][0]
    assert (empty["status"], empty["size"], empty["rows"]) == ("empty", 0, 0)
    warning = out.check("file_readable")
    assert warning["status"] == "warning" and warning["file"] == "b.csv"


def test_only_an_empty_file_fails_the_row_count(settings, credit, land):
    land(FEED, DAY, "a.csv", b"")
    out = ingest(settings, credit, expect="failed")
    assert out.counts == {"landed": 0, "curated": 0, "quarantined": 0}
    assert "row_count: 0 rows landed; the contract allows 100..250000" in str(out.error)
    assert not files_of(settings, "curated")


def test_header_only_csv_has_zero_rows(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame.iloc[:0]))
    out = ingest(settings, credit, expect="failed")
    assert out.counts == {"landed": 0, "curated": 0, "quarantined": 0}
    header = out.report["files"][0]
    assert (header["status"], header["rows"], header["columns"]) == ("read", 0, list(frame.columns))
    assert out.check("row_count")["observed"] == 0


def test_header_only_csv_next_to_a_valid_file_adds_nothing(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame))
    land(FEED, DAY, "b.csv", to_csv(frame.iloc[:0]))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N, "quarantined": 0}


def test_missing_column_fails_naming_file_and_column_and_leaves_curated_untouched(
    settings, credit, land, frame
):
    land(FEED, DAY, "a.csv", to_csv(frame))
    ingest(settings, credit)
    before = files_of(settings, "curated")
    assert len(before) == 2  # part file + report

    storage.delete(storage.partition("landing", FEED, DAY, settings=settings) / "a.csv")
    land(FEED, DAY, "b.csv", to_csv(frame.drop(columns=["credit_score"])))
    out = ingest(settings, credit, expect="failed")
    assert "schema_missing_columns [credit_score]: b.csv lacks required column(s) credit_score" in str(
        out.error
    )
    check = out.check("schema_missing_columns")
    assert (check["file"], check["column"]) == ("b.csv", "credit_score")
    assert files_of(settings, "curated") == before  # byte-identical
    # The rows of the rejected file are counted and quarantined, not silently dropped.
    assert out.counts == {"landed": N, "curated": 0, "quarantined": N}
    assert out.reason(1, "b.csv").startswith(
        "null: credit_score is missing (the column is not nullable); "
        "batch_rejected: schema_missing_columns: b.csv lacks required column(s) credit_score"
    )


def test_extra_column_fails_naming_it(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame.assign(favourite_colour="blue")))
    out = ingest(settings, credit, expect="failed")
    message = "a.csv has column(s) favourite_colour that the contract does not declare"
    assert message in str(out.error)
    assert out.check("schema_extra_columns")["column"] == "favourite_colour"
    assert out.counts == {"landed": N, "curated": 0, "quarantined": N}
    assert out.reason(1) == f"batch_rejected: schema_extra_columns: {message}"
    assert out.report["quarantine_reasons"] == {"batch_rejected": N}


def test_extra_column_is_dropped_with_a_warning_when_the_contract_says_ignore(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame.assign(favourite_colour="blue")))
    contract = dataclasses.replace(credit, extra_columns="ignore")
    out = ingest(settings, contract)
    assert out.check("schema_extra_columns")["status"] == "warning"
    assert "favourite_colour" not in out.curated.columns and len(out.curated) == N


def test_wrong_types_are_quarantined_naming_column_and_value(settings, credit, land, frame):
    frame.loc[2, "age"] = "forty"
    frame.loc[3, "annual_income"] = "lots"
    frame.loc[4, "application_ts"] = "yesterday"
    frame.loc[5, "credit_score"] = "700.5"
    frame.loc[6, "age"] = "42.0"  # a whole number written as a float is fine
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N - 4, "quarantined": 4}
    assert out.reason(3) == "type: age='forty' is not a valid int"
    assert out.reason(4) == "type: annual_income='lots' is not a valid float"
    assert out.reason(5) == "type: application_ts='yesterday' is not a valid timestamp"
    assert out.reason(6) == "type: credit_score='700.5' is not a whole number"
    assert out.report["quarantine_reasons"] == {"type": 4}
    assert out.curated.set_index("application_id").loc[frame.loc[6, "application_id"], "age"] == 42
    # Quarantine keeps the raw text, not a parsed value.
    assert out.quarantine.loc[out.quarantine["_source_row"] == 3, "age"].item() == "forty"


def test_non_utf8_row_is_quarantined_and_the_other_rows_are_kept(settings, credit, land, frame):
    frame.loc[2, "age"] = 5  # data rows before and after the undecodable one keep their numbers
    frame.loc[11, "age"] = 6
    lines = to_csv(frame).split(b"\n")
    lines[8] = lines[8].replace(
        b"," + frame.loc[7, "home_ownership"].encode(), b",\xe9" + frame.loc[7, "home_ownership"].encode(), 1
    )  # data row 8
    assert b"\xe9" in lines[8]
    land(FEED, DAY, "a.csv", b"\n".join(lines))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N - 3, "quarantined": 3}
    assert out.reason(3) == "range: age=5 is below the minimum 18"
    assert out.reason(12) == "range: age=6 is below the minimum 18"
    column = lines[8].index(b"\xe9") + 1
    assert out.reason(8) == f"encoding: row is not valid UTF-8 (byte 0xE9 at column {column})"
    raw_line = out.quarantine.loc[out.quarantine["_source_row"] == 8, "_raw_line"].item()
    assert raw_line.startswith(frame.loc[7, "application_id"]) and "\\xe9" in raw_line
    assert frame.loc[7, "application_id"] not in set(out.curated["application_id"])
    assert frame.loc[8, "application_id"] in set(out.curated["application_id"])


def test_non_utf8_row_of_a_rejected_batch_keeps_its_own_reason(settings, credit, land):
    small = credit_frame(DAY, 50)
    lines = to_csv(small).split(b"\n")
    lines[2] = b"\xff" + lines[2]
    land(FEED, DAY, "a.csv", b"\n".join(lines))
    out = ingest(settings, credit, expect="failed")
    assert out.counts == {"landed": 50, "curated": 0, "quarantined": 50}
    rejected = "batch_rejected: row_count: 50 rows landed, the contract allows 100..250000"
    assert out.reason(2) == f"encoding: row is not valid UTF-8 (byte 0xFF at column 1); {rejected}"
    assert out.reason(1) == rejected
    assert out.report["quarantine_reasons"] == {"batch_rejected": 50, "encoding": 1}


def test_nan_and_infinite_values(settings, credit, land, frame):
    frame.loc[0, "annual_income"] = "NaN"
    frame.loc[1, "loan_amount"] = "inf"
    frame.loc[2, "debt_to_income"] = "-inf"
    frame.loc[3, "age"] = "inf"  # an int column
    frame.loc[4, "open_accounts"] = "nan"
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N - 5, "quarantined": 5}
    assert out.reason(1) == "nan: annual_income is NaN"
    assert out.reason(2) == "infinite: loan_amount=inf is not finite"
    assert out.reason(3) == "infinite: debt_to_income=-inf is not finite"
    assert out.reason(4) == "infinite: age=inf is not finite"
    assert out.reason(5) == "nan: open_accounts is NaN"
    # NaN is not a missing value: it does not count towards the null rate.
    assert out.check("bad_row_share")["observed"] == 0.025
    null_checks = {c["column"]: c["observed"] for c in out.report["checks"] if c["name"] == "null_rate"}
    assert null_checks["annual_income"] == 0


def test_out_of_range_values(settings, credit, land, frame):
    frame.loc[0, "annual_income"] = -1
    frame.loc[1, "debt_to_income"] = 3.5
    frame.loc[2, "age"] = 17
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N - 3, "quarantined": 3}
    assert out.reason(1) == "range: annual_income=-1 is below the minimum 0"
    assert out.reason(2) == "range: debt_to_income=3.5 is above the maximum 3"
    assert out.reason(3) == "range: age=17 is below the minimum 18"
    assert out.report["quarantine_reasons"] == {"range": 3}


def test_values_outside_the_allowed_list(settings, credit, land, frame):
    frame.loc[0, "loan_term_months"] = 13
    frame.loc[1, "home_ownership"] = "CASTLE"
    frame.loc[2, "gender"] = "X"
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts["quarantined"] == 3
    assert out.reason(1) == "allowed: loan_term_months=13 is not one of [12, 24, 36, 48, 60, 72, 84]"
    assert (
        out.reason(2) == "allowed: home_ownership='CASTLE' is not one of ['RENT', 'OWN', 'MORTGAGE', 'OTHER']"
    )
    assert out.reason(3) == "allowed: gender='X' is not one of ['F', 'M']"


def test_nulls_in_non_nullable_columns_are_quarantined_and_kept_in_nullable_ones(
    settings, credit, land, frame
):
    frame.loc[0, "age"] = None
    frame.loc[1, "application_id"] = None
    frame.loc[2, "annual_income"] = None  # nullable
    frame.loc[3, "gender"] = None  # nullable
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N - 2, "quarantined": 2}
    assert out.reason(1) == "null: age is missing (the column is not nullable)"
    assert out.reason(2) == "null: application_id is missing (the column is not nullable)"
    kept = out.curated.set_index("application_id")
    assert np.isnan(kept.loc[frame.loc[2, "application_id"], "annual_income"])
    assert kept.loc[frame.loc[3, "application_id"], "gender"] is None


def test_several_problems_in_one_row_are_joined(settings, credit, land, frame):
    frame.loc[0, "age"] = 5
    frame.loc[0, "home_ownership"] = "CASTLE"
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.reason(1) == (
        "range: age=5 is below the minimum 18; "
        "allowed: home_ownership='CASTLE' is not one of ['RENT', 'OWN', 'MORTGAGE', 'OTHER']"
    )
    assert out.report["quarantine_reasons"] == {"allowed": 1, "range": 1}


def test_future_timestamps_beyond_the_allowed_skew(settings, credit, land, frame):
    frame.loc[0, "application_ts"] = "2024-05-02T00:06:00Z"  # 6 min after the partition end: future
    frame.loc[1, "application_ts"] = "2024-05-02T00:04:00Z"  # within the 5 min skew: kept
    frame.loc[2, "application_ts"] = "2031-01-01T00:00:00+00:00"
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N - 2, "quarantined": 2}
    assert out.reason(1) == (
        "future: application_ts=2024-05-02T00:06:00+00:00 is after "
        "2024-05-02T00:05:00+00:00 (future timestamp)"
    )
    assert out.reason(3).startswith("future: application_ts=2031-01-01T00:00:00+00:00 is after")
    assert frame.loc[1, "application_id"] in set(out.curated["application_id"])


def test_duplicate_ids_within_a_file_keep_the_first(settings, credit, land, frame):
    frame.loc[9, "application_id"] = frame.loc[2, "application_id"]
    frame.loc[9, "age"] = 77
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N - 1, "quarantined": 1}
    key = frame.loc[2, "application_id"]
    assert (
        out.reason(10) == f"duplicate_key: application_id='{key}' repeats the row first seen in a.csv row 3"
    )
    kept = out.curated[out.curated["application_id"] == key]
    assert len(kept) == 1 and kept["age"].item() == frame.loc[2, "age"]


def test_duplicate_ids_across_two_files_name_the_first_file_and_row(settings, credit, land, frame):
    second = credit_frame(DAY, 50, seed=1, id_prefix="b")
    key = frame.loc[41, "application_id"]
    second.loc[6, "application_id"] = key
    second.loc[6, "credit_score"] = 333
    land(FEED, DAY, "a.csv", to_csv(frame))
    land(FEED, DAY, "b.csv", to_csv(second))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N + 50, "curated": N + 49, "quarantined": 1}
    assert (
        out.reason(7, "b.csv")
        == f"duplicate_key: application_id='{key}' repeats the row first seen in a.csv row 42"
    )
    kept = out.curated[out.curated["application_id"] == key]
    assert kept["credit_score"].item() == frame.loc[41, "credit_score"] != 333


def test_truncated_parquet_fails_naming_the_file_and_keeps_its_bytes(settings, credit, land, frame):
    truncated = to_parquet(credit_frame(DAY, 50, id_prefix="p"))[:700]
    land(FEED, DAY, "a.csv", to_csv(frame))
    land(FEED, DAY, "b.parquet", truncated)
    out = ingest(settings, credit, expect="failed")
    assert "file_readable: b.parquet: cannot parse parquet" in str(out.error)
    assert out.check("file_readable")["file"] == "b.parquet"
    entry = [f for f in out.report["files"] if f["name"] == "b.parquet"][0]
    assert (entry["status"], entry["size"]) == ("unreadable", 700)
    raw = {n: d for n, d in files_of(settings, "quarantine").items() if n.startswith("raw-")}
    assert list(raw) == [f"raw-{commit.sha256(truncated)[:16]}-b.parquet"]
    assert raw[next(iter(raw))] == truncated
    # The readable file's rows are all quarantined with the batch-level reason.
    assert out.counts == {"landed": N, "curated": 0, "quarantined": N}
    assert out.reason(1).startswith("batch_rejected: file_readable: b.parquet: cannot parse parquet")
    assert not files_of(settings, "curated")


def test_unsupported_file_type_fails_and_is_preserved(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame))
    land(FEED, DAY, "notes.txt", b"hello")
    out = ingest(settings, credit, expect="failed")
    assert "notes.txt: unsupported file type" in str(out.error)
    assert files_of(settings, "quarantine")[f"raw-{commit.sha256(b'hello')[:16]}-notes.txt"] == b"hello"


def test_zero_byte_success_marker_is_ignored_and_listed(settings, credit, land, frame):
    land(FEED, DAY, "_SUCCESS", b"")
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N, "quarantined": 0}
    marker = out.report["files"][0]
    assert (marker["name"], marker["format"], marker["status"], marker["size"]) == (
        "_SUCCESS",
        "marker",
        "marker",
        0,
    )
    assert [c for c in out.report["checks"] if c.get("file") == "_SUCCESS"] == []


def test_only_a_marker_fails_files_present(settings, credit, land):
    land(FEED, DAY, "_SUCCESS", b"")
    out = ingest(settings, credit, expect="failed")
    assert "files_present: the landing partition holds no data file (only markers)" in str(out.error)


def test_mixed_csv_and_parquet_in_one_partition_are_both_read(settings, credit, land, frame):
    native = credit_frame(DAY, 150, seed=3, id_prefix="pq")
    native["application_ts"] = pd.to_datetime(native["application_ts"], utc=True)
    for column in ("age", "loan_term_months", "credit_score", "open_accounts", "recent_delinquencies"):
        native[column] = native[column].astype("int64")
    for column in ("annual_income", "employment_years", "loan_amount", "debt_to_income"):
        native[column] = native[column].astype("float64")
    native.loc[5, "age"] = 12  # out of range in the parquet file
    land(FEED, DAY, "a.csv", to_csv(frame))
    land(FEED, DAY, "b.parquet", to_parquet(native))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N + 150, "curated": N + 149, "quarantined": 1}
    assert [(f["name"], f["format"], f["rows"]) for f in out.report["files"]] == [
        ("a.csv", "csv", N),
        ("b.parquet", "parquet", 150),
    ]
    assert out.reason(6, "b.parquet") == "range: age=12 is below the minimum 18"
    curated = out.curated.set_index("application_id")
    assert (
        curated.index.str.startswith("pq-").sum() == 149 and curated.index.str.startswith("app-").sum() == N
    )
    row = native.loc[0]
    assert curated.loc[row["application_id"], "application_ts"] == row["application_ts"]
    assert curated.loc[row["application_id"], "annual_income"] == row["annual_income"]


# --------------------------------------------------------------------------- batch checks


def test_row_count_below_the_minimum(settings, credit, land):
    land(FEED, DAY, "a.csv", to_csv(credit_frame(DAY, 99)))
    out = ingest(settings, credit, expect="failed")
    assert out.check("row_count") == {
        "name": "row_count",
        "status": "failed",
        "observed": 99,
        "limit": "100..250000",
        "message": "99 rows landed; the contract allows 100..250000",
    }
    assert out.counts == {"landed": 99, "curated": 0, "quarantined": 99}
    assert out.reason(1) == "batch_rejected: row_count: 99 rows landed, the contract allows 100..250000"


def test_row_count_at_the_minimum_passes(settings, credit, land):
    land(FEED, DAY, "a.csv", to_csv(credit_frame(DAY, 100)))
    assert ingest(settings, credit).counts["curated"] == 100


def test_row_count_above_the_maximum(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, relaxed(credit, max_rows=N - 1), expect="failed")
    assert "row_count: 200 rows landed; the contract allows 100..199" in str(out.error)
    assert out.counts["quarantined"] == N


def test_null_rate_over_the_contract_limit_fails_naming_column_and_rate(settings, credit, land, frame):
    frame.loc[:30, "annual_income"] = None  # 31 of 200 = 15.50% > 5%
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit, expect="failed")
    assert "null_rate [annual_income]: annual_income is missing in 15.50% of rows; limit 5.00%" in str(
        out.error
    )
    failed = [c for c in out.report["checks"] if c["status"] == "failed"]
    assert [(c["name"], c["column"], c["observed"], c["limit"]) for c in failed] == [
        ("null_rate", "annual_income", 0.155, 0.05)
    ]
    assert out.counts == {"landed": N, "curated": 0, "quarantined": N}
    assert (
        out.reason(100)
        == "batch_rejected: null_rate: annual_income is missing in 15.50% of rows, limit 5.00%"
    )
    assert out.report["quarantine_reasons"] == {"batch_rejected": N}


def test_null_rate_at_the_limit_passes(settings, credit, land, frame):
    frame.loc[:9, "annual_income"] = None  # 10 of 200 = 5%
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N, "quarantined": 0}
    assert [c["observed"] for c in out.report["checks"] if c.get("column") == "annual_income"] == [0.05]


def test_bad_row_share_above_the_limit_fails(settings, credit, land, frame):
    frame.loc[:10, "age"] = 5  # 11 of 200 = 5.5% > 5%
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit, expect="failed")
    assert "bad_row_share: 11 of 200 rows failed row checks (5.50%); limit 5.00%" in str(out.error)
    assert out.counts == {"landed": N, "curated": 0, "quarantined": N}
    assert out.reason(1) == (
        "range: age=5 is below the minimum 18; batch_rejected: bad_row_share: "
        "11 of 200 rows failed row checks (5.50%), limit 5.00%"
    )
    assert out.reason(12) == (
        "batch_rejected: bad_row_share: 11 of 200 rows failed row checks (5.50%), limit 5.00%"
    )
    assert out.report["quarantine_reasons"] == {"batch_rejected": N, "range": 11}


def test_bad_row_share_at_the_limit_passes(settings, credit, land, frame):
    frame.loc[:9, "age"] = 5  # 10 of 200 = 5%
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N - 10, "quarantined": 10}


def test_stale_batch_fails_freshness(settings, credit, land):
    # Newest event 2024-04-28 23:xx; the partition ends 2024-05-02 00:00; 48 h allowed.
    stale = credit_frame(date(2024, 4, 28), N)
    land(FEED, DAY, "a.csv", to_csv(stale))
    out = ingest(settings, credit, expect="failed")
    newest = pd.Timestamp(stale["application_ts"].max()).isoformat()
    check = out.check("freshness")
    assert check["status"] == "failed" and check["observed"] == newest
    assert check["limit"] == "2024-04-30T00:00:00+00:00"
    assert (
        f"freshness [application_ts]: newest application_ts is {newest}; it must be at or after "
        "2024-04-30T00:00:00+00:00 (48 h before the partition end)" in str(out.error)
    )
    assert out.counts == {"landed": N, "curated": 0, "quarantined": N}


def test_late_but_fresh_enough_batch_passes_with_a_warning(settings, credit, land):
    late = credit_frame(date(2024, 4, 30), N)  # within 48 h of the partition end
    land(FEED, DAY, "a.csv", to_csv(late))
    out = ingest(settings, credit)
    assert out.check("freshness")["status"] == "passed"
    assert out.check("late_arrivals")["observed"] == N


def test_dry_run_writes_nothing(settings, credit, land, frame):
    frame.loc[0, "age"] = "forty"
    land(FEED, DAY, "a.csv", to_csv(frame))
    landing = files_of(settings, "landing")
    report = ingest_partition(credit, FEED, DAY, settings=settings, dry_run=True)
    assert report["dry_run"] is True and report["status"] == "passed"
    assert report["counts"] == {"landed": N, "curated": N - 1, "quarantined": 1}
    assert report["data_version"].startswith("sha256:")
    assert files_of(settings, "curated") == {} and files_of(settings, "quarantine") == {}
    assert files_of(settings, "landing") == landing
    # The same run for real gives the same data version.
    assert ingest(settings, credit).report["data_version"] == report["data_version"]


def test_dry_run_of_a_failing_batch_writes_nothing(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame.assign(extra=1)))
    with pytest.raises(BatchRejected, match="nothing was written \\(dry run\\)") as info:
        ingest_partition(credit, FEED, DAY, settings=settings, dry_run=True)
    assert info.value.report["counts"] == {"landed": N, "curated": 0, "quarantined": N}
    assert files_of(settings, "curated") == {} and files_of(settings, "quarantine") == {}


# --------------------------------------------------------------------------- idempotency


def _messy(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[0, "age"] = "forty"
    frame.loc[1, "annual_income"] = -3
    return frame


def test_rerun_on_the_same_landing_is_byte_identical(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(_messy(frame)))
    land(FEED, DAY, "b.csv", to_csv(credit_frame(DAY, 40, seed=2, id_prefix="b")))
    first = ingest(settings, credit)
    curated, quarantine = files_of(settings, "curated"), files_of(settings, "quarantine")
    second = ingest(settings, credit)
    assert second.report == first.report
    assert second.report["data_version"] == first.report["data_version"]
    assert files_of(settings, "curated") == curated
    assert files_of(settings, "quarantine") == quarantine
    assert len(curated) == 2 and len(quarantine) == 2
    assert first.counts == {"landed": N + 40, "curated": N + 38, "quarantined": 2}


def test_same_data_in_another_storage_root_gives_the_same_data_version(tmp_path, credit, frame):
    from include import settings as settings_module

    versions = []
    for name in ("one", "two"):
        root = tmp_path / name
        root.mkdir()
        s = settings_module.load({"MLOPS_STORAGE_ROOT": root.as_uri(), "MLOPS_TIMEZONE": "UTC"})
        land_bytes(s, FEED, DAY, "a.csv", to_csv(frame))
        versions.append(ingest(s, credit).report["data_version"])
    assert versions[0] == versions[1]


def test_changed_landing_data_replaces_the_partition(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(_messy(frame.copy())))
    first = ingest(settings, credit)
    old_curated = set(files_of(settings, "curated"))
    old_quarantine = set(files_of(settings, "quarantine"))

    frame.loc[5, "loan_amount"] = 12345.0
    frame.loc[6, "credit_score"] = 10  # a new bad row
    land(FEED, DAY, "a.csv", to_csv(frame))
    second = ingest(settings, credit)
    assert second.report["data_version"] != first.report["data_version"]
    assert second.counts == {"landed": N, "curated": N - 1, "quarantined": 1}
    assert second.reason(7) == "range: credit_score=10 is below the minimum 300"
    new_curated, new_quarantine = files_of(settings, "curated"), files_of(settings, "quarantine")
    # Curated: the new part file and the report, and the old version kept for the models trained on
    # it (read_curated reads only what the report lists). Quarantine: only the new one.
    assert len(new_curated) == 3 and old_curated <= set(new_curated)
    assert len(new_quarantine) == 2 and not (old_quarantine - {commit.REPORT_NAME}) & set(new_quarantine)
    assert (
        second.curated.set_index("application_id").loc[frame.loc[5, "application_id"], "loan_amount"]
        == 12345.0
    )


def test_rerun_of_a_now_failing_batch_keeps_the_previous_curated_partition(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame))
    good = ingest(settings, credit)
    before = files_of(settings, "curated")
    land(FEED, DAY, "a.csv", to_csv(credit_frame(DAY, 50)))  # now too few rows
    ingest(settings, credit, expect="failed")
    assert files_of(settings, "curated") == before
    assert read_curated(FEED, DAY, settings=settings).equals(good.curated)


def test_quarantine_of_a_clean_rerun_is_emptied(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(_messy(frame.copy())))
    ingest(settings, credit)
    assert len(files_of(settings, "quarantine")) == 2
    land(FEED, DAY, "a.csv", to_csv(credit_frame(DAY, N)))
    out = ingest(settings, credit)
    assert out.counts["quarantined"] == 0
    assert list(files_of(settings, "quarantine")) == [commit.REPORT_NAME]


# --------------------------------------------------------------------------- source headers

LOANS = """\
name: loans
primary_key: [id]
event_timestamp: application_time
extra_columns: reject
columns:
  id: {dtype: string, role: id, source: ID}
  application_time: {dtype: timestamp, role: event_timestamp, source: Application Time}
  limit_bal: {dtype: float, min: 0, source: LIMIT_BAL}
  education: {dtype: category, allowed: [graduate, university, high_school], source: EDUCATION}
  age: {dtype: int, min: 18, max: 100}
  default_payment_next_month: {dtype: int, role: target, allowed: [0, 1], source: default.payment.next.month}
batch: {min_rows: 1}
"""
LOANS_NAMES = ["id", "application_time", "limit_bal", "education", "age", "default_payment_next_month"]
LOANS_N = 20


def loans_contract(tmp_path, labels: str = "labels: {column: default_payment_next_month}\n"):
    from include import contract

    folder = tmp_path / "contracts"
    folder.mkdir(exist_ok=True)
    (folder / "loans.yaml").write_text(LOANS + labels)
    return contract.load("loans", folder)


def loans_frame(n: int = LOANS_N) -> pd.DataFrame:
    """``n`` valid loans under the producer's headers."""
    return pd.DataFrame(
        {
            "ID": [f"L{i:04d}" for i in range(n)],
            "Application Time": [f"2024-05-01T{i:02d}:30:00Z" for i in range(n)],
            "LIMIT_BAL": [10_000.0 * (i + 1) for i in range(n)],
            "EDUCATION": [("graduate", "university", "high_school")[i % 3] for i in range(n)],
            "age": [20 + i for i in range(n)],
            "default.payment.next.month": [i % 2 for i in range(n)],
        }
    ).astype(object)


def test_landed_headers_are_matched_on_source_and_curated_under_contract_names(settings, land, tmp_path):
    loans = loans_contract(tmp_path)
    frame = loans_frame()
    land("loans", DAY, "part-1.csv", to_csv(frame))
    out = ingest(settings, loans, feed="loans")
    assert out.counts == {"landed": LOANS_N, "curated": LOANS_N, "quarantined": 0}
    assert out.report["files"][0]["columns"] == list(frame.columns)  # the report lists the file as landed
    curated = read_curated("loans", DAY, settings=settings)
    assert list(curated.columns) == LOANS_NAMES
    assert str(curated["application_time"].dtype) == "datetime64[us, UTC]"
    assert curated["limit_bal"].dtype == np.float64 and str(curated["age"].dtype) == "Int64"
    assert str(curated["default_payment_next_month"].dtype) == "Int64"
    assert curated["id"].tolist() == frame["ID"].tolist()
    assert curated["limit_bal"].tolist() == frame["LIMIT_BAL"].tolist()
    assert curated["default_payment_next_month"].tolist() == frame["default.payment.next.month"].tolist()
    assert curated["application_time"].iloc[3] == pd.Timestamp("2024-05-01T03:30:00Z")


def test_csv_and_parquet_with_source_headers_are_read_together(settings, land, tmp_path):
    loans = loans_contract(tmp_path)
    frame = loans_frame()
    land("loans", DAY, "a.csv", to_csv(frame.iloc[:10]))
    land("loans", DAY, "b.parquet", to_parquet(frame.iloc[10:].infer_objects()))
    out = ingest(settings, loans, feed="loans")
    assert out.counts == {"landed": LOANS_N, "curated": LOANS_N, "quarantined": 0}
    assert list(out.curated.columns) == LOANS_NAMES
    assert out.curated["age"].tolist() == frame["age"].tolist()


def test_row_reasons_and_quarantine_use_contract_names(settings, land, tmp_path):
    loans = relaxed(loans_contract(tmp_path), max_bad_row_share=0.5)
    frame = loans_frame()
    frame.loc[2, "LIMIT_BAL"] = "lots"
    frame.loc[4, "default.payment.next.month"] = 2
    land("loans", DAY, "a.csv", to_csv(frame))
    out = ingest(settings, loans, feed="loans")
    assert out.counts == {"landed": LOANS_N, "curated": LOANS_N - 2, "quarantined": 2}
    assert out.reason(3) == "type: limit_bal='lots' is not a valid float"
    assert out.reason(5) == "allowed: default_payment_next_month=2 is not one of [0, 1]"
    assert [c for c in out.quarantine.columns if not c.startswith("_")] == LOANS_NAMES
    assert out.quarantine.loc[out.quarantine["_source_row"] == 3, "limit_bal"].item() == "lots"


def test_a_file_without_a_source_header_fails_naming_it_as_the_producer_wrote_it(settings, land, tmp_path):
    loans = loans_contract(tmp_path)
    land("loans", DAY, "part-1.csv", to_csv(loans_frame().drop(columns=["LIMIT_BAL"])))
    out = ingest(settings, loans, feed="loans", expect="failed")
    message = "part-1.csv lacks required column(s) LIMIT_BAL (limit_bal)"
    assert f"schema_missing_columns [LIMIT_BAL]: {message}" in str(out.error)
    check = out.check("schema_missing_columns")
    assert (check["file"], check["column"]) == ("part-1.csv", "LIMIT_BAL")
    assert out.reason(1, "part-1.csv").startswith(
        f"null: limit_bal is missing (the column is not nullable); batch_rejected: schema_missing_columns: {message}"
    )


def test_a_column_under_the_contract_name_instead_of_the_source_is_extra(settings, land, tmp_path):
    loans = loans_contract(tmp_path)
    land("loans", DAY, "a.csv", to_csv(loans_frame().rename(columns={"LIMIT_BAL": "limit_bal"})))
    out = ingest(settings, loans, feed="loans", expect="failed")
    assert out.check("schema_missing_columns")["column"] == "LIMIT_BAL"
    extra = out.check("schema_extra_columns")
    assert (extra["status"], extra["column"]) == ("failed", "limit_bal")
    assert extra["message"] == (
        "a.csv has column(s) limit_bal that the contract does not declare "
        "(files are matched on source headers: use LIMIT_BAL for limit_bal)"
    )


def test_with_extra_columns_ignore_a_contract_name_column_is_dropped_not_taken(settings, land, tmp_path):
    loans = dataclasses.replace(loans_contract(tmp_path), extra_columns="ignore")
    frame = loans_frame().assign(limit_bal=-1.0, Age="old")  # would be out of range / not an int if taken
    land("loans", DAY, "a.csv", to_csv(frame))
    out = ingest(settings, loans, feed="loans")
    extra = out.check("schema_extra_columns")
    assert (extra["status"], extra["column"]) == ("warning", "Age,limit_bal")
    assert extra["message"].endswith(
        "(files are matched on source headers: use LIMIT_BAL for limit_bal) (dropped)"
    )
    assert out.counts == {"landed": LOANS_N, "curated": LOANS_N, "quarantined": 0}
    assert list(out.curated.columns) == LOANS_NAMES
    assert out.curated["limit_bal"].tolist() == frame["LIMIT_BAL"].tolist()
    assert out.curated["age"].tolist() == frame["age"].tolist()


def test_a_separate_label_feed_matches_the_observed_timestamp_source(settings, land, tmp_path):
    loans = loans_contract(
        tmp_path,
        "labels:\n  column: default_payment_next_month\n  delivery: separate\n"
        "  observed_timestamp: outcome_ts\n  observed_timestamp_source: Outcome Time\n",
    )
    frame = loans_frame()
    land("loans", DAY, "events.csv", to_csv(frame.drop(columns=["default.payment.next.month"])))
    assert ingest(settings, loans, feed="loans").counts["curated"] == LOANS_N
    labels = pd.DataFrame(
        {
            "ID": frame["ID"],
            "Outcome Time": frame["Application Time"],
            "default.payment.next.month": frame["default.payment.next.month"],
        }
    )
    land("loans_labels", DAY, "labels.csv", to_csv(labels))
    out = ingest(settings, loans, feed="loans_labels")
    assert out.counts == {"landed": LOANS_N, "curated": LOANS_N, "quarantined": 0}
    curated = read_curated("loans_labels", DAY, settings=settings)
    assert list(curated.columns) == ["id", "outcome_ts", "default_payment_next_month"]
    assert str(curated["outcome_ts"].dtype) == "datetime64[us, UTC]"
    assert curated["default_payment_next_month"].tolist() == frame["default.payment.next.month"].tolist()

    # The label file must carry the source header, not the timestamp's contract name.
    land("loans_labels", DAY, "labels.csv", to_csv(labels.rename(columns={"Outcome Time": "outcome_ts"})))
    failed = ingest(settings, loans, feed="loans_labels", expect="failed")
    assert "labels.csv lacks required column(s) Outcome Time (outcome_ts)" in str(failed.error)


# --------------------------------------------------------------------------- missing-value markers


def _with_markers(contract, markers, column_markers=None):
    """``contract`` with top-level ``markers`` and per-column ones, merged as the parser merges."""
    columns = tuple(
        dataclasses.replace(
            c, null_values=tuple(dict.fromkeys([*markers, *(column_markers or {}).get(c.name, [])]))
        )
        for c in contract.columns
    )
    return dataclasses.replace(contract, columns=columns, null_values=tuple(markers))


def test_csv_missing_markers_are_read_as_null_and_counted_per_column(settings, credit, land, frame):
    text = frame.astype(object)
    text.loc[[1, 2, 3], "annual_income"] = "?"
    text.loc[4, "debt_to_income"] = "NA"
    text.loc[5, "home_ownership"] = "n/a"  # a column's own marker
    text.loc[6, "gender"] = "?"  # a nullable category
    text.loc[7, "age"] = "?"  # not nullable: missing, quarantined as such
    text.loc[8, "credit_score"] = "na"  # not a marker: markers match exactly
    land(FEED, DAY, "a.csv", to_csv(text))
    contract = relaxed(_with_markers(credit, ["?", "NA"], {"home_ownership": ["n/a"]}), max_bad_row_share=0.5)
    contract = dataclasses.replace(
        contract,
        columns=tuple(
            dataclasses.replace(c, nullable=True) if c.name == "home_ownership" else c
            for c in contract.columns
        ),
    )
    out = ingest(settings, contract)
    assert out.counts == {"landed": N, "curated": N - 2, "quarantined": 2}
    assert out.reason(8) == "null: age is missing (the column is not nullable)"
    assert out.reason(9) == "type: credit_score='na' is not a valid int"
    # The quarantined row keeps the value as it landed.
    assert out.quarantine.set_index("_source_row").loc[8, "age"] == "?"
    curated = out.curated.set_index("application_id")
    ids = frame["application_id"]
    assert curated.loc[ids[[1, 2, 3]], "annual_income"].isna().all()
    assert pd.isna(curated.loc[ids[4], "debt_to_income"]) and pd.isna(curated.loc[ids[5], "home_ownership"])
    assert pd.isna(curated.loc[ids[6], "gender"])
    counted = {
        c["column"]: (c["observed"], c["message"])
        for c in out.report["checks"]
        if c["name"] == "null_markers"
    }
    assert set(counted) == {"annual_income", "debt_to_income", "home_ownership", "gender", "age"}
    assert counted["annual_income"][0] == 3 and "'?' x3" in counted["annual_income"][1]
    assert counted["home_ownership"] == (
        1,
        "home_ownership: 1 CSV values read as null by null_values ('n/a' x1)",
    )


def test_markers_leave_parquet_values_and_marker_free_batches_as_they_are(settings, credit, land, frame):
    native = credit_frame(DAY, 50, seed=5, id_prefix="pq")
    native["application_ts"] = pd.to_datetime(native["application_ts"], utc=True)
    native.loc[2, "home_ownership"] = "?"  # Parquet's nulls are native: "?" is a value
    land(FEED, DAY, "a.csv", to_csv(frame))
    land(FEED, DAY, "b.parquet", to_parquet(native))
    out = ingest(settings, _with_markers(credit, ["?"]))
    assert out.counts == {"landed": N + 50, "curated": N + 49, "quarantined": 1}
    assert out.reason(3, "b.parquet").startswith("allowed: home_ownership='?' is not one of")
    assert [c for c in out.report["checks"] if c["name"] == "null_markers"] == []
