"""Commit a validated batch: data files first, then the report, which is the commit marker.

A partition is what its ``_validation_report.json`` lists. Data files are named by their
content hash, so a rerun on the same landing data rewrites byte-identical files under the
same names; files a new report no longer lists are removed only after it is written.
"""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from include import storage

REPORT_NAME = "_validation_report.json"


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
    return f"part-{sha256(data)[:16]}.parquet"


def publish(directory, files: dict[str, bytes], report: dict) -> None:
    """Write ``files`` and then ``report`` into ``directory``; drop files it no longer lists."""
    for name, data in files.items():
        storage.write_bytes_atomic(directory / name, data)
    storage.write_bytes_atomic(directory / REPORT_NAME, report_bytes(report))
    keep = set(files) | {REPORT_NAME}
    for stale in storage.list_files(directory):
        if stale.name not in keep:
            storage.delete(stale)


def read_report(directory) -> dict | None:
    path = directory / REPORT_NAME
    if not storage.exists(path):
        return None
    return json.loads(storage.read_bytes(path))
