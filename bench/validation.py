"""Validating a 1,000,000-row batch next to simply reading it with pandas.

Each measurement runs in a fresh child process. After its imports the child resets the
kernel's peak-RSS mark (/proc/self/clear_refs), so the reported peak is the measured step's
own high-water mark, minus the resident size it started from. The batch is the simulator's credit
applications with 1 % of rows damaged, so the quarantine path is exercised too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

DAY = date(2026, 3, 2)
FEED = "credit_applications"

_CHILD = r"""
import json, sys, time
from datetime import date
mode, fmt, root = sys.argv[1], sys.argv[2], sys.argv[3]
import pandas as pd, pyarrow
from include import contract, settings, storage
from include.ingestion.reader import read_partition
from include.ingestion.validate import validate
from include.ingestion.partition import ingest_partition, partition_window
s = settings.load({"MLOPS_STORAGE_ROOT": root})
feed = contract.load("credit_applications", settings.PROJECT_ROOT / "include/contracts").events_feed()
directory = storage.partition("landing", "credit_applications", date.fromisoformat(sys.argv[4]), settings=s)
path = [p for p in storage.list_files(directory)][0].path

def status(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field + ":"))

def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    return status("VmRSS")

base = reset_peak()
t = time.perf_counter()
if mode == "pandas_read":
    frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    rows = len(frame)
elif mode == "read":
    batch = read_partition(directory, s); rows = sum(t.num_rows for _, t in batch.tables)
elif mode == "validate":
    batch = read_partition(directory, s)
    base = reset_peak()
    t = time.perf_counter()
    result = validate(feed, batch, *partition_window(date.fromisoformat(sys.argv[4]), "UTC")); rows = result.landed_rows
elif mode == "ingest":
    c = contract.load("credit_applications", settings.PROJECT_ROOT / "include/contracts")
    c = type(c)(**{**c.__dict__, "limits": type(c.limits)(**{**c.limits.__dict__, "max_rows": 10_000_000})})
    report = ingest_partition(c, "credit_applications", date.fromisoformat(sys.argv[4]), settings=s)
    rows = report["counts"]["landed"]
elapsed = time.perf_counter() - t
peak = status("VmHWM")
print(json.dumps({"seconds": round(elapsed, 3), "peak_mb_above_start": round((peak - base) / 1024, 1), "rows": rows}))
"""


def _land(rows: int, root: Path) -> dict[str, str]:
    """Write the damaged batch once as CSV and once as Parquet, each in its own storage root."""
    import numpy as np

    from include import settings, storage
    from include.simulator import credit
    from include.simulator.land import to_csv_bytes, to_parquet_bytes

    frame = credit.applications(DAY, seed=7, rows=rows)
    rng = np.random.default_rng(7)
    damaged = rng.choice(rows, size=rows // 100, replace=False)
    frame.loc[damaged[: len(damaged) // 2], "annual_income"] = -1.0  # range violations
    frame.loc[damaged[len(damaged) // 2 :], "credit_score"] = None  # nulls in a non-nullable column
    roots = {}
    for fmt in ("csv", "parquet"):
        uri = (root / fmt).as_uri()
        s = settings.load({"MLOPS_STORAGE_ROOT": uri})
        directory = storage.partition("landing", FEED, DAY, settings=s)
        data = to_csv_bytes(frame) if fmt == "csv" else to_parquet_bytes(frame)
        storage.write_bytes_atomic(directory / f"batch.{fmt}", data)
        roots[fmt] = uri
    return roots


def _measure(mode: str, fmt: str, root: str) -> dict:
    from include import settings

    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, fmt, root, DAY.isoformat()],
        check=True,
        capture_output=True,
        text=True,
        cwd=settings.PROJECT_ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(rows: int = 1_000_000) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as tmp:
        roots = _land(rows, Path(tmp))
        result = {"rows": rows, "bad_rows": rows // 100, "peer": "pandas.read_csv / pandas.read_parquet"}
        for fmt, root in roots.items():
            m = {mode: _measure(mode, fmt, root) for mode in ("pandas_read", "read", "validate", "ingest")}
            short = {mode: r["rows"] for mode, r in m.items() if r["rows"] != rows}
            if short:  # a measure that read less than was landed would compare nothing
                raise RuntimeError(f"{fmt}: rows counted differ from the {rows} landed: {short}")
            m["file_mb"] = round(sum(p.stat().st_size for p in Path(tmp, fmt).rglob("batch.*")) / 2**20, 1)
            m["validation_costs_no_more_than_pandas_read"] = (
                m["validate"]["seconds"] <= m["pandas_read"]["seconds"]
            )
            result[fmt] = m
        return result
