"""The drift engine, the profile and Evidently's report on every dtype mix a contract allows,
read back the way the package reads them (curated Parquet: nullable Int64 ints, boolean bools,
text categories), with and without a single missing value anywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from include import contract as contract_module
from include.drift.engine import detect
from include.drift.profile import Profile, profile
from include.ingestion.commit import to_pandas

CONTRACT = """
name: mixed
primary_key: [row_id]
event_timestamp: ts
columns:
  row_id: {dtype: string, role: id}
  ts: {dtype: timestamp, role: event_timestamp}
  count_no_nulls: {dtype: int, min: 0, max: 1000}
  count_nullable: {dtype: int, min: 0, max: 1000, nullable: true}
  amount: {dtype: float, min: 0, nullable: true}
  flag: {dtype: bool}
  flag_nullable: {dtype: bool, nullable: true}
  grade: {dtype: category, allowed: [1, 2, 3, 4]}
  segment: {dtype: category, allowed: [A, B, C], nullable: true}
  outcome: {dtype: int, role: target, allowed: [0, 1]}
labels: {column: outcome, delivery: inline, maturity_days: 0}
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contracts")
    (folder / "mixed.yaml").write_text(CONTRACT)
    return contract_module.load("mixed", folder)


def curated(rows: int, seed: int, *, nulls: bool, shift: float = 1.0) -> pd.DataFrame:
    """Rows as ``read_curated`` returns them: built as Arrow with the curated zone's types."""
    rng = np.random.default_rng(seed)
    missing = (rng.random(rows) < 0.1) if nulls else np.zeros(rows, dtype=bool)
    table = pa.table(
        {
            "row_id": pa.array([f"r{seed}-{i}" for i in range(rows)]),
            "ts": pa.array(pd.date_range("2026-05-01", periods=rows, freq="min", tz="UTC")),
            "count_no_nulls": pa.array(np.round(rng.gamma(3, 20 * shift, rows)).astype(np.int64)),
            "count_nullable": pa.array(rng.integers(0, 50, rows), mask=missing),
            "amount": pa.array(rng.lognormal(8, 1, rows), mask=missing),
            "flag": pa.array(rng.random(rows) < 0.3),
            "flag_nullable": pa.array(rng.random(rows) < 0.6, mask=missing),
            "grade": pa.array(rng.choice(["1", "2", "3", "4"], rows)),
            "segment": pa.array(rng.choice(["A", "B", "C"], rows), mask=missing),
            "outcome": pa.array(rng.integers(0, 2, rows)),
        }
    )
    return to_pandas(table)


@pytest.mark.parametrize("nulls", [False, True], ids=["no_missing_value_anywhere", "missing_values"])
def test_profile_and_engine_judge_every_dtype_and_find_the_shifted_column(mixed, nulls):
    reference = curated(3000, 1, nulls=nulls)
    assert str(reference["count_no_nulls"].dtype) == "Int64" and str(reference["flag"].dtype) == "boolean"
    assert reference.isna().any().any() == nulls
    stored = Profile.from_dict(profile(reference, mixed).to_dict())
    stable = detect(stored, curated(800, 2, nulls=nulls), mixed)
    assert {c.column for c in stable.columns} == set(mixed.features)
    assert not stable.dataset_drift and not stable.data_quality_incident, stable.to_dict()
    shifted = detect(stored, curated(800, 3, nulls=nulls, shift=2.0), mixed)
    assert shifted.drifted_columns == ["count_no_nulls"] and not shifted.data_quality_incident


@pytest.mark.parametrize("nulls", [False, True], ids=["no_missing_value_anywhere", "missing_values"])
def test_evidently_report_renders_on_every_dtype(mixed, nulls, tmp_path):
    """Evidently 0.7 fails on nullable Int64 ("'float' object has no attribute 'shape'") when the
    reference holds no missing value at all: the report must hand it plain columns."""
    from include.drift.report import evidently_columns, render_html

    reference, current = curated(1500, 1, nulls=nulls), curated(600, 3, nulls=nulls, shift=2.0)
    uri = render_html(reference, current, mixed, (tmp_path / "report.html").as_uri())
    assert (tmp_path / "report.html").stat().st_size > 10_000 and uri.endswith("report.html")
    columns = evidently_columns(reference, current, mixed)
    assert set(columns) == set(mixed.features) and columns["count_no_nulls"].drifted
