"""Hourly drift by feature for the health page: one compact row per judged window.

A year of hourly windows is 8,760 records of several kilobytes each; reading them all for every
page view would take seconds on a local disk and minutes on S3. So each day's windows are kept
as one small summary beside them (``monitoring/<dataset>/drift_days/dt=<day>.json``), built
from the records and rebuilt whenever the day's listing holds a window the summary lacks (a late
hour, a backfill). One recursive listing of the records tells which days are complete; a page
over a year then reads 365 summaries at most, and a warm process none.
"""

from __future__ import annotations

import json
import math
import threading
from datetime import UTC, date, datetime

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.health import records as records_module
from include.training.request import monitor_run_id

DIGITS = 3  # a score's precision on the page: statistic / threshold, 1.0 is the drift line

_days: dict[tuple[str, str], dict] = {}  # (dataset, day) -> summary, while its hours match the listing
_lock = threading.Lock()


def ratio(column: dict) -> float | None:
    """A column's statistic over its threshold (above 1: drifted), comparable across methods:
    distance / threshold, or threshold / p for tests. None when undefined."""
    try:
        if column.get("p_adjusted") is not None:
            value = float(column["threshold"]) / max(float(column["p_adjusted"]), 1e-12)
        else:
            threshold = float(column["threshold"])
            value = float(column["statistic"]) / threshold if threshold else math.nan
    except (TypeError, ValueError):
        return None
    if math.isnan(value):
        return None
    return round(min(value, 1e6), DIGITS)  # an infinite statistic (unseen category) is capped


def compact(record: dict) -> dict:
    """What the page needs of one window's record."""
    row = {
        "end": record["window_end"],
        "status": record["status"],
        "rows": record.get("rows"),
        "version": record.get("model_version"),
        "alert": bool(record.get("alert")),
        "report": record.get("report"),
    }
    result = record.get("result")
    if result:
        columns = list(result["columns"]) + ([result["prediction"]] if result.get("prediction") else [])
        row |= {
            "scores": {c["column"]: ratio(c) for c in columns},
            "share": result["share_drifted"],
            "drifted": result["drifted_columns"],
            "critical": result["critical_drifted"],
            "dataset_drift": result["dataset_drift"],
            "quality_incident": result["data_quality_incident"],
        }
    return row


def _summary_path(dataset: str, day: str, settings):
    return storage.path("monitoring", dataset, "drift_days", f"dt={day}.json", settings=settings)


def _day_summary(dataset: str, day: str, names: list[str], settings) -> dict:
    """The day's summary holding exactly the record files ``names`` (``hour=HH.json``, from the
    listing): from memory, from storage, or rebuilt from the records (and stored)."""
    names = sorted(names)
    with _lock:
        cached = _days.get((dataset, day))
    if cached is not None and cached["hours"] == names:
        return cached
    path = _summary_path(dataset, day, settings)
    stored = json.loads(storage.read_bytes(path)) if storage.exists(path) else None
    if stored is None or stored["hours"] != names:
        directory = storage.path("monitoring", dataset, "drift", f"dt={day}", settings=settings)
        windows = [compact(r) for r in records_module.read_many(directory, names)]
        stored = {"day": day, "hours": names, "windows": windows}
        storage.write_bytes_atomic(path, json.dumps(stored, sort_keys=True).encode())
    with _lock:
        _days[(dataset, day)] = stored
    return stored


def windows(
    contract: Contract, first: date, last: date, *, settings: settings_module.Settings | None = None
) -> list[dict]:
    """The compact rows of every stored window whose UTC day is ``first``..``last``, oldest first."""
    s = settings or settings_module.get()
    root = storage.path("monitoring", contract.name, "drift", settings=s)
    by_day: dict[str, list[str]] = {}
    for relative in storage.list_names(root):
        day, _, name = relative.partition("/")
        if not day.startswith("dt=") or "/" in name or not name.endswith(".json"):
            continue
        if first.isoformat() <= day[3:] <= last.isoformat():
            by_day.setdefault(day[3:], []).append(name)
    rows = []
    for day in sorted(by_day):
        rows += _day_summary(contract.name, day, by_day[day], s)["windows"]
    return sorted(rows, key=lambda r: r["end"])


def heatmap(contract: Contract, rows: list[dict], trigger_facts: list[dict]) -> dict:
    """Column-oriented, for the browser: epoch seconds of each window end, each feature's scores
    (None where the window was not judged), the share drifted, alerts, triggers and reports."""
    features = [*contract.features, "score"]

    def epoch(text: str) -> int:
        return int(datetime.fromisoformat(text).astimezone(UTC).timestamp())

    return {
        "features": features,
        "critical": list(contract.monitoring.critical_features),
        "ends": [epoch(r["end"]) for r in rows],
        "scores": [[(r.get("scores") or {}).get(f) for r in rows] for f in features],
        "share": [r.get("share") for r in rows],
        "status": [r["status"] for r in rows],
        "alerts": [i for i, r in enumerate(rows) if r["alert"]],
        "reports": [[i, r["report"]] for i, r in enumerate(rows) if r.get("report")],
        "triggers": [
            {
                "end": epoch(t["evidence"]["window_end"]),
                "run_id": monitor_run_id(t),
                "reason": t.get("reason"),
            }
            for t in trigger_facts
        ],
        "rule": {
            "drift_line": 1.0,
            "drift_share": contract.monitoring.drift_share,
            "critical_features": list(contract.monitoring.critical_features),
            "consecutive_windows": contract.monitoring.consecutive_windows,
            "cooldown_hours": contract.monitoring.cooldown_hours,
        },
    }
