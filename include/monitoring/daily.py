"""What the daily monitors share: the day's captured decisions, one stored record per monitor
and day, and their alerts.

``monitoring/<dataset>/<monitor>/dt=<day>.json`` holds a monitor's result for one application
day. The first write wins, so a retried or backfilled run reports what the original run found
and alerts at most once (``alerts.alert_once``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.monitoring import window as window_module


def decision_day(interval_end: datetime, timezone_name: str) -> date:
    """The application day a daily run judges: the day before its data interval ends (local)."""
    from zoneinfo import ZoneInfo

    return interval_end.astimezone(ZoneInfo(timezone_name)).date() - timedelta(days=1)


def record_path(dataset: str, monitor: str, day: date, settings: settings_module.Settings | None = None):
    return storage.path(
        "monitoring", dataset, *monitor.split("/"), f"dt={day.isoformat()}.json", settings=settings
    )


def stored(
    dataset: str, monitor: str, day: date, settings: settings_module.Settings | None = None
) -> dict | None:
    path = record_path(dataset, monitor, day, settings)
    return json.loads(storage.read_bytes(path)) if storage.exists(path) else None


def store(
    dataset: str, monitor: str, day: date, record: dict, settings: settings_module.Settings | None = None
) -> dict:
    """Keep ``record`` unless the day already has one; return the kept record."""
    path = record_path(dataset, monitor, day, settings)
    if storage.exists(path):
        return json.loads(storage.read_bytes(path))
    storage.write_bytes_atomic(path, json.dumps(record, sort_keys=True, indent=1, default=str).encode())
    return record


def history(
    dataset: str, monitor: str, first: date, last: date, settings: settings_module.Settings | None = None
) -> list[dict]:
    """The stored records of the days ``first``..``last``, oldest first."""
    directory = storage.path("monitoring", dataset, *monitor.split("/"), settings=settings)
    records = []
    for path in storage.list_files(directory):
        if path.name.startswith("dt=") and path.name.endswith(".json"):
            day = date.fromisoformat(path.name[3:-5])
            if first <= day <= last:
                records.append(json.loads(storage.read_bytes(path)))
    return sorted(records, key=lambda r: r["day"])


def captured(contract: Contract, day: date, settings: settings_module.Settings | None = None) -> pd.DataFrame:
    """The scored requests of the UTC day ``day`` (every hour the capture holds)."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    frame = window_module.read(contract.name, start, start + timedelta(days=1), settings).frame
    if len(frame) and "score" in frame:
        frame = frame.dropna(subset=["score"])
    return frame


def applications(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The captured requests that are applications (a primary key; pre-screening calls have none),
    each once: a request scored again keeps its latest score."""
    keys = list(contract.primary_key)
    if not len(frame) or not set(keys) <= set(frame.columns):
        return frame.iloc[0:0]
    keyed = frame.dropna(subset=keys)
    order = "request_ts" if "request_ts" in keyed else keys[0]
    return (
        keyed.sort_values(order, kind="mergesort").drop_duplicates(keys, keep="last").reset_index(drop=True)
    )


def main_version(frame: pd.DataFrame) -> str | None:
    """The model version that scored most of ``frame`` (ties: the lower version)."""
    if "model_version" not in frame or frame["model_version"].dropna().empty:
        return None
    counts = frame["model_version"].dropna().astype(str).value_counts()
    return str(sorted(counts.index[counts == counts.max()], key=lambda v: (len(v), v))[0])
