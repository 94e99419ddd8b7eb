"""The shadow version's scores of the captured traffic, one file per capture day.

The file holds each application of the UTC capture day once (as ``daily.applications`` keeps
it): its primary key, the shadow score, and the score and version the champion gave it live.
Written once and atomically: a rerun, a retry or a backfill finds it and scores nothing again,
and the scores are a pure function of the capture and the registered version.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import pandas as pd

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.monitoring import daily


def scores_path(dataset: str, version: str, day: date, settings: settings_module.Settings | None = None):
    return storage.path(
        "shadow", dataset, f"v{version}", f"dt={day.isoformat()}", "scores.parquet", settings=settings
    )


def score_day(
    contract: Contract, version: str, day: date, scorer, settings: settings_module.Settings
) -> dict:
    """Score ``day``'s captured applications with ``scorer`` (``capture.version_scorer``) unless
    the day is stored already. A day without capture is reported and not stored (it may land late)."""
    path = scores_path(contract.name, version, day, settings)
    if storage.exists(path):
        return {"day": day.isoformat(), "status": "stored", "uri": storage.describe(path)}
    rows = daily.applications(daily.captured(contract, day, settings), contract)
    if not len(rows):
        return {"day": day.isoformat(), "status": "no_capture"}
    keys = list(contract.primary_key)
    scores, _ = scorer(rows)
    frame = rows[keys].copy()
    frame["score"] = scores
    frame["champion_score"] = rows["score"].to_numpy()
    frame["champion_version"] = rows["model_version"].astype(str).to_numpy()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    storage.write_bytes_atomic(path, buffer.getvalue())
    return {
        "day": day.isoformat(),
        "status": "scored",
        "rows": int(len(frame)),
        "uri": storage.describe(path),
    }


def score_period(
    contract: Contract,
    version: str,
    first: date,
    last: date,
    *,
    settings: settings_module.Settings | None = None,
) -> list[dict]:
    """Score every capture day ``first``..``last`` not stored yet (a day the DAG missed too);
    the model is loaded only when a day needs it."""
    from include.monitoring.capture import version_scorer

    s = settings or settings_module.get()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    missing = [d for d in days if not storage.exists(scores_path(contract.name, version, d, s))]
    if not missing:
        return []
    scorer = version_scorer(s, contract.name, version)
    return [score_day(contract, version, d, scorer, s) for d in missing]


def read(contract: Contract, version: str, day: date, settings: settings_module.Settings | None = None):
    """The stored scores of ``day``, or None when the day was not scored (no capture)."""
    path = scores_path(contract.name, version, day, settings)
    if not storage.exists(path):
        return None
    return pd.read_parquet(io.BytesIO(storage.read_bytes(path)))
