"""Commit a validated batch: data files first, then the report, which is the commit marker.

A partition is what its ``_validation_report.json`` lists. Data files are named by their
content hash, so a rerun on the same landing data rewrites byte-identical files under the
same names. In the curated zone, a file a new report no longer lists is kept: a model trained
on it names it by its data version (``read_version``), so its training set can be rebuilt and
verified; ``_report_history/`` keeps the report of every version published, and ``history`` says
which one is current. In quarantine, unlisted files are removed after the new report is written.
"""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from include import storage
from include.errors import PermanentError

REPORT_NAME = "_validation_report.json"
HISTORY_DIR = "_report_history"  # one report per curated data version ever published


def parquet_bytes(data: pd.DataFrame | pa.Table) -> bytes:
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """A committed table as pandas, with contract ints and bools as nullable dtypes."""
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def report_bytes(report: dict) -> bytes:
    return (json.dumps(report, indent=2, sort_keys=True, default=str) + "\n").encode()


def data_file_name(data: bytes) -> str:
    return data_file_name_of(f"sha256:{sha256(data)}")


class CuratedVersionError(PermanentError, RuntimeError):
    """A data version named by a model's lineage is missing or its bytes changed."""


def publish(directory, files: dict[str, bytes], report: dict, *, keep_previous: bool = False) -> None:
    """Write ``files`` and then ``report`` into ``directory``; drop the files it no longer lists,
    unless ``keep_previous`` (curated data, which models name by version)."""
    for name, data in files.items():
        storage.write_bytes_atomic(directory / name, data)
    storage.write_bytes_atomic(directory / REPORT_NAME, report_bytes(report))
    if keep_previous:
        version = report.get("data_version")
        if version:  # each version's report stays, as the one that first published it wrote it
            storage.write_once(directory / HISTORY_DIR / _history_name(version), report_bytes(report))
        return
    keep = set(files) | {REPORT_NAME}
    for stale in storage.list_files(directory):
        if stale.name not in keep:
            storage.delete(stale)


def _history_name(data_version: str) -> str:
    return data_file_name_of(data_version).removesuffix(".parquet") + ".json"


def history(directory) -> list[dict]:
    """Every curated version of the partition with the report that published it, and whether it
    is the current one (the version the partition's report names)."""
    current_path = directory / REPORT_NAME
    current = json.loads(storage.read_bytes(current_path)) if storage.exists(current_path) else {}
    versions = []
    for path in storage.list_files(directory / HISTORY_DIR):
        report = json.loads(storage.read_bytes(path))
        versions.append(
            {
                "data_version": report["data_version"],
                "current": report["data_version"] == current.get("data_version"),
                "counts": report.get("counts"),
                "landed_files": [f.get("name") for f in report.get("files", [])],
                "report": storage.describe(path),
            }
        )
    return versions


def read_version(directory, data_version: str) -> pd.DataFrame:
    """The rows of ``data_version`` (``sha256:<hex>``) of a curated partition, current or not,
    after checking that its bytes still hash to it."""
    path = directory / data_file_name_of(data_version)
    if not storage.exists(path):
        raise CuratedVersionError(f"data version {data_version} is gone: no {storage.describe(path)}")
    data = storage.read_bytes(path)
    if f"sha256:{sha256(data)}" != data_version:
        raise CuratedVersionError(
            f"{storage.describe(path)} no longer hashes to {data_version} (sha256:{sha256(data)})"
        )
    return to_pandas(pq.read_table(io.BytesIO(data)))


def data_file_name_of(data_version: str) -> str:
    return f"part-{data_version.removeprefix('sha256:')[:16]}.parquet"


def read_report(directory) -> dict | None:
    path = directory / REPORT_NAME
    if not storage.exists(path):
        return None
    return json.loads(storage.read_bytes(path))
