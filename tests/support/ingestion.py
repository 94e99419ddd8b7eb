"""Ingest a landing partition in a test and check its accounting: landed == curated +
quarantined, and the committed files hold exactly those rows."""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass
from datetime import date

import pandas as pd
import pyarrow.parquet as pq

from include import storage
from include.ingestion import commit
from include.ingestion.partition import BatchRejected, ingest_partition, read_curated

FEED = "credit_applications"
DAY = date(2024, 5, 1)


@dataclass
class Outcome:
    report: dict
    error: BatchRejected | None
    quarantine: pd.DataFrame  # rows of the committed quarantine parquet (empty when none)
    curated: pd.DataFrame | None  # committed curated rows (None when the batch failed)

    @property
    def counts(self) -> dict:
        return self.report["counts"]

    def reason(self, row: int, file: str = "a.csv") -> str:
        """The ``_reason`` of landed data row ``row`` (1-based) of ``file``."""
        match = self.quarantine[
            (self.quarantine["_source_file"] == file) & (self.quarantine["_source_row"] == row)
        ]
        assert len(match) == 1, f"{file} row {row} is quarantined {len(match)} times"
        return match["_reason"].iloc[0]

    def check(self, name: str) -> dict:
        found = [c for c in self.report["checks"] if c["name"] == name]
        assert len(found) == 1, f"{name}: {found}"
        return found[0]


def files_of(settings, zone: str, feed: str = FEED, day: date = DAY) -> dict[str, bytes]:
    directory = storage.partition(zone, feed, day, settings=settings)
    return {p.name: storage.read_bytes(p) for p in storage.list_files(directory)}


def _parquet_rows(data: bytes) -> pd.DataFrame:
    return commit.to_pandas(pq.read_table(io.BytesIO(data)))


def assert_accounting(
    settings, report: dict, feed: str, day: date
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """landed == curated + quarantined, and the committed parquet files hold exactly those rows."""
    counts = report["counts"]
    assert counts["landed"] == counts["curated"] + counts["quarantined"], counts
    quarantine_files = files_of(settings, "quarantine", feed, day)
    assert json.loads(quarantine_files.pop(commit.REPORT_NAME)) == json.loads(commit.report_bytes(report))
    listed = {uri.rsplit("/", 1)[1] for uri in report["quarantine_files"]}
    assert set(quarantine_files) == listed  # nothing unlisted is left behind
    parts = [
        _parquet_rows(data) for name, data in sorted(quarantine_files.items()) if name.startswith("part-")
    ]
    assert len(parts) <= 1
    quarantine = parts[0] if parts else pd.DataFrame(columns=["_source_file", "_source_row", "_reason"])
    assert len(quarantine) == counts["quarantined"]
    assert quarantine["_reason"].notna().all()
    curated = None
    if report["status"] == "passed":
        curated_files = files_of(settings, "curated", feed, day)
        assert json.loads(curated_files.pop(commit.REPORT_NAME)) == json.loads(commit.report_bytes(report))
        # Every data file is named by its hash; earlier versions stay beside the listed one.
        assert [f"part-{commit.sha256(d)[:16]}.parquet" for d in curated_files.values()] == list(
            curated_files
        )
        listed = [uri.rsplit("/", 1)[1] for uri in report["curated_files"]]
        assert len(listed) == 1
        data = curated_files[listed[0]]
        assert report["data_version"] == f"sha256:{commit.sha256(data)}"
        curated = _parquet_rows(data)
        assert len(curated) == counts["curated"]
        pd.testing.assert_frame_equal(read_curated(feed, day, settings=settings), curated)
    else:
        assert counts["curated"] == 0 and report["data_version"] is None
    return quarantine, curated


def ingest(settings, contract, feed: str = FEED, day: date = DAY, expect: str = "passed") -> Outcome:
    try:
        report, error = ingest_partition(contract, feed, day, settings=settings), None
    except BatchRejected as exc:
        report, error = exc.report, exc
    assert report["status"] == expect, (error, report["checks"])
    assert (error is None) == (expect == "passed")
    quarantine, curated = assert_accounting(settings, report, feed, day)
    return Outcome(report, error, quarantine, curated)


def relaxed(contract, **limits):
    return dataclasses.replace(contract, limits=dataclasses.replace(contract.limits, **limits))
