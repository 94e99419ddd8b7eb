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


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    return buffer.getvalue()


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
