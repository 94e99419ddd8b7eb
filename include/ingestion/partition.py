"""Ingest one landing partition of one feed: read, validate, commit, report.

``ingest_partition`` is what the nightly DAG calls per feed; it is idempotent for a given
landing partition (same input, same output bytes, same data version).
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow.parquet as pq

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.errors import PermanentError
from include.ingestion import commit
from include.ingestion.reader import read_partition
from include.ingestion.validate import ValidationResult, validate

REPORT_VERSION = 1


class BatchRejected(PermanentError, RuntimeError):
    """A batch-level check failed; the curated zone was left untouched."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


def partition_window(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The partition for ``day`` covers [day 00:00, day+1 00:00) in ``timezone``."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def _report(
    contract: Contract,
    day: date,
    window: tuple[datetime, datetime],
    batch_files,
    result: ValidationResult,
    status: str,
    curated_files: list[str],
    quarantine_files: list[str],
    data_version: str | None,
    dry_run: bool,
    quarantined: pd.DataFrame,
) -> dict:
    return {
        "report_version": REPORT_VERSION,
        "contract": contract.name,
        "contract_sha256": commit.sha256(contract.source.read_bytes()),
        "feed": result.feed,
        "partition": day.isoformat(),
        "window": {"start": window[0].isoformat(), "end": window[1].isoformat()},
        "status": status,
        "dry_run": dry_run,
        "files": [f.as_dict() for f in batch_files],
        "counts": {
            "landed": result.landed_rows,
            "curated": result.valid.num_rows if status == "passed" else 0,
            "quarantined": result.landed_rows - (result.valid.num_rows if status == "passed" else 0),
        },
        "quarantine_reasons": result.reason_counts(quarantined),
        "checks": [c.as_dict() for c in result.checks],
        "data_version": data_version,
        "curated_files": curated_files,
        "quarantine_files": quarantine_files,
    }


def ingest_partition(
    contract: Contract,
    feed_name: str,
    day: date,
    *,
    settings: settings_module.Settings | None = None,
    dry_run: bool = False,
) -> dict:
    """Validate ``landing/<feed>/dt=<day>`` and publish curated + quarantine partitions.

    Returns the report. Raises BatchRejected (after quarantining every row and writing the
    report to the quarantine partition) when a batch-level check fails.
    """
    s = settings or settings_module.get()
    feed = contract.feed(feed_name)
    window = partition_window(day, s.timezone)
    landing = storage.partition("landing", feed.name, day, settings=s)
    batch = read_partition(landing, s)
    result = validate(feed, batch, *window)
    batch.verify_unchanged(s)  # a producer still writing: refuse before anything is committed
    curated_dir = storage.partition("curated", feed.name, day, settings=s)
    quarantine_dir = storage.partition("quarantine", feed.name, day, settings=s)

    if result.passed:
        curated_bytes = commit.parquet_bytes(result.valid)
        data_version = f"sha256:{commit.sha256(curated_bytes)}"
        quarantined = result.quarantined
    else:
        curated_bytes, data_version = None, None
        why = " | ".join(f"{c.name}: {c.message}" for c in result.failed_checks)
        quarantined = result.reject_all(why)
    quarantine_files: dict[str, bytes] = {}
    if len(quarantined):
        data = commit.parquet_bytes(quarantined)
        quarantine_files[commit.data_file_name(data)] = data
    for name, raw in batch.raw_bytes.items():
        # Unreadable or unsupported files are kept byte for byte, so nothing is lost.
        quarantine_files[_raw_file_name(name, raw)] = raw
    curated_files = {commit.data_file_name(curated_bytes): curated_bytes} if curated_bytes is not None else {}
    report = _report(
        contract,
        day,
        window,
        batch.files,
        result,
        "passed" if result.passed else "failed",
        [storage.describe(curated_dir / n) for n in curated_files],
        [storage.describe(quarantine_dir / n) for n in quarantine_files],
        data_version,
        dry_run,
        quarantined,
    )
    if not dry_run:
        commit.publish(quarantine_dir, quarantine_files, report)
        if result.passed:
            commit.publish(curated_dir, curated_files, report, keep_previous=True)
    if not result.passed:
        raise BatchRejected(
            _rejection_message(feed.name, day, report, result, curated_dir, quarantine_dir, dry_run), report
        )
    return report


def _raw_file_name(name: str, data: bytes) -> str:
    """``raw-<hash>-<landed path>`` (``/`` as ``_``); a name that is not a safe path segment is dropped."""
    try:
        suffix = storage.safe_segment(name.replace("/", "_"))
    except storage.StorageError:
        suffix = "file"
    return f"raw-{commit.sha256(data)[:16]}-{suffix}"


def _rejection_message(
    feed: str, day: date, report: dict, result: ValidationResult, curated_dir, quarantine_dir, dry_run: bool
) -> str:
    failed = "\n".join(
        f"  - {c.name}" + (f" [{c.column}]" if c.column else "") + f": {c.message}"
        for c in result.failed_checks
    )
    where = (
        "nothing was written (dry run)"
        if dry_run
        else (
            f"the curated partition {storage.describe(curated_dir)} was left untouched; all "
            f"{report['counts']['quarantined']} landed rows and the report are in {storage.describe(quarantine_dir)}"
        )
    )
    return f"batch {feed} dt={day} rejected by {len(result.failed_checks)} check(s):\n{failed}\n{where}"


def read_curated(
    feed_name: str, day: date, *, settings: settings_module.Settings | None = None
) -> pd.DataFrame:
    """The committed curated rows of a partition, resolved through its report."""
    directory = storage.partition("curated", feed_name, day, settings=settings)
    report = commit.read_report(directory)
    if report is None or report["status"] != "passed":
        raise FileNotFoundError(f"no committed curated partition at {storage.describe(directory)}")
    frames = []
    for name in (uri.rsplit("/", 1)[1] for uri in report["curated_files"]):
        table = pq.read_table(io.BytesIO(storage.read_bytes(directory / name)))
        frames.append(commit.to_pandas(table))
    return pd.concat(frames, ignore_index=True)
