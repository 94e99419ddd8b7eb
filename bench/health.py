"""How fast the Model health page's JSON is with a year of history, against a named peer.

``history`` writes a year (or any number of days) of what the monitors store for one dataset:
an hourly drift record per window, shaped by the drift engine's own ``DriftResult`` (seeded
statistics, a drifted stretch with alerts and a trigger), a realized and an estimated AUC per
day, a bias record per day, and a promotion a month in the audit trail. The tests use it at a
small size.

The benchmark times ``include.health.overview.build`` (what ``api/health/<dataset>`` returns) on
365 days: cold (a fresh process: every day summary is built from the hourly records and stored),
warm-storage (a fresh process reading the stored day summaries) and warm (the same process
again), with the JSON and gzip sizes. Each process first opens its MLflow client, as an API
server does once; that is timed apart. **Peer**: reading the same hourly records one by one as
the package's own ``history.between`` does for the drift plot, the naive way to draw the page.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

DAYS = 365
FIRST = date(2026, 1, 1)


def _drift_record(contract, end: datetime, rng, drifting: bool, version: str) -> dict:
    from include.drift.engine import ColumnResult, DriftResult

    columns = []
    for name in contract.features:
        numeric = name in contract.numeric_features
        statistic = float(rng.gamma(2.0, 0.012)) + (0.12 if drifting and name == "annual_income" else 0.0)
        threshold = 0.1
        columns.append(
            ColumnResult(
                name,
                "numeric" if numeric else "categorical",
                "wasserstein" if numeric else "jensenshannon",
                statistic,
                threshold,
                None,
                None,
                statistic >= threshold,
                20_000,
                750,
            )
        )
    drifted = [c.column for c in columns if c.drifted]
    critical = [c for c in drifted if c in contract.monitoring.critical_features]
    result = DriftResult(
        rows=750,
        columns=columns,
        share_drifted=len(drifted) / len(columns),
        drifted_columns=drifted,
        critical_drifted=critical,
        dataset_drift=bool(critical) or len(drifted) / len(columns) >= contract.monitoring.drift_share,
        prediction=ColumnResult(
            "score",
            "numeric",
            "wasserstein",
            float(rng.gamma(2.0, 0.02)),
            0.1,
            None,
            None,
            False,
            20_000,
            750,
        ),
        quality=[],
        data_quality_incident=False,
    )
    alert = result.dataset_drift
    return {
        "dataset": contract.name,
        "window_start": (end - timedelta(hours=contract.monitoring.lookback_hours)).isoformat(),
        "window_end": end.isoformat(),
        "rows": 750,
        "hours_read": [],
        "hours_missing": [],
        "model_version": version,
        "status": "judged",
        "reference_run_id": "bench",
        "reference_rows": 20_000,
        "result": result.to_dict(),
        "alert": alert,
        "report": None,
    }


def history(contract, days: int, *, settings, first: date = FIRST, seed: int = 0) -> dict:
    """Write ``days`` days of monitor records for ``contract`` under ``settings``' storage root."""
    import numpy as np

    from include import audit, storage
    from include.monitoring import bias, daily, estimated
    from include.monitoring import history as drift_history
    from include.monitoring.performance import record_path

    rng = np.random.default_rng(seed)
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    drift_from, drift_to = start + timedelta(days=days // 2), start + timedelta(days=days // 2, hours=30)
    windows = 0
    for hour in range(days * 24):
        end = start + timedelta(hours=hour + 1)
        version = str(1 + hour // (24 * 30))
        record = _drift_record(contract, end, rng, drift_from <= end < drift_to, version)
        drift_history.write_record(contract.name, end, record, settings)
        windows += 1
    trigger_end = drift_from + timedelta(hours=2)
    conf = {
        "dataset": contract.name,
        "reason": "drift: annual_income",
        "evidence": {"kind": "drift", "window_end": trigger_end.isoformat(), "windows": [], "reports": []},
    }
    drift_history.record_trigger(contract.name, trigger_end, {"dag_run_id": "bench", **conf}, settings)
    for n in range(days):
        day = first + timedelta(days=n)
        auc = float(0.88 + rng.normal(0, 0.006))
        storage.write_bytes_atomic(
            record_path(contract.name, day, settings),
            json.dumps(
                {
                    "dataset": contract.name,
                    "cohort": day.isoformat(),
                    "status": "judged",
                    "auc": auc,
                    "labelled": 3000,
                    "below_floor": auc < contract.auc_floor,
                    "model_versions": {"1": 3000},
                    "estimated_auc": auc + 0.004,
                }
            ).encode(),
        )
        daily.store(
            contract.name,
            estimated.MONITOR,
            day,
            {
                "day": day.isoformat(),
                "status": "estimated",
                "estimated_auc": auc + 0.004,
                "model_version": "1",
            },
            settings,
        )
        rates = {"F": float(0.9 + rng.normal(0, 0.01)), "M": float(0.92 + rng.normal(0, 0.01))}
        groups = [
            {
                "group": g,
                "rows": 1500,
                "count": int(r * 1500),
                "rate": r,
                "low": r - 0.015,
                "high": r + 0.015,
                "judged": True,
            }
            for g, r in rates.items()
        ]
        check = {
            "attribute": contract.protected[0],
            "metric": "approval_ratio",
            "limit": 0.8,
            "groups": groups,
            "status": "judged",
            "value": min(rates.values()) / max(rates.values()),
            "low": min(rates.values()) / max(rates.values()) - 0.03,
            "high": min(rates.values()) / max(rates.values()) + 0.03,
            "crossed": False,
        }
        daily.store(
            contract.name,
            bias.DECISIONS,
            day,
            {
                "dataset": contract.name,
                "day": day.isoformat(),
                "status": "judged",
                "checks": [check],
                "alert": False,
            },
            settings,
        )
        if n % 30 == 0:
            version = str(1 + n // 30)
            audit.record(
                [
                    {
                        "type": "promoted",
                        "time": f"{day.isoformat()}T03:10:00+00:00",
                        "actor": "schedule",
                        "dag_run_id": f"scheduled__{day.isoformat()}",
                        "model": contract.name,
                        "version": version,
                        "replaced_version": str(int(version) - 1) if version != "1" else None,
                        "mode": "auto",
                        "reason": "weekly schedule",
                        "metrics": {"roc_auc": auc},
                    }
                ],
                interval=(day, day),
                dag_run_id=f"scheduled__{day.isoformat()}",
                task="promote",
                key=f"{version}:promoted",
                settings=settings,
            )
    return {"windows": windows, "days": days}


def _time_in_child(root: str, days: int, mode: str) -> dict:
    """Run one measurement in a fresh interpreter (a cold or warm-storage process)."""
    code = (
        "import json, sys, time; from bench.health import measure; "
        f"print(json.dumps(measure({root!r}, {days}, {mode!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _settings(root: str):
    from include import settings as settings_module

    return settings_module.load(
        {**os.environ, "MLOPS_LOCAL_DIR": root, "MLOPS_DATASET": "credit_applications"}
    )


def measure(root: str, days: int, mode: str) -> dict:
    """Time ``overview.build`` (or the peer) in this process over the history under ``root``."""
    from include import contract as contract_module
    from include.health import overview
    from include.monitoring import history as drift_history
    from include.settings import PROJECT_ROOT

    s = _settings(root)
    credit = contract_module.load("credit_applications", PROJECT_ROOT / "include" / "contracts")
    until = datetime.combine(FIRST + timedelta(days=days - 1), datetime.min.time(), tzinfo=UTC)
    out = {}
    if mode == "peer":
        started = time.perf_counter()
        records = drift_history.between(
            credit.name, until - timedelta(days=days), until + timedelta(days=1), s
        )
        out["seconds"] = time.perf_counter() - started
        out["records"] = len(records)
        return out
    from include import registry

    started = time.perf_counter()
    registry.exists(registry.client(s), credit.name)  # once per server process, not per request
    out["registry_client_seconds"] = time.perf_counter() - started
    runs = 2 if mode == "warm" else 1
    for n in range(runs):
        started = time.perf_counter()
        page = overview.build(credit, days=days, until=until, settings=s)
        seconds = time.perf_counter() - started
        out["seconds" if n == runs - 1 else "first_seconds"] = seconds
    body = json.dumps(page).encode()
    out |= {
        "windows": len(page["drift"]["ends"]),
        "json_bytes": len(body),
        "gzip_bytes": len(gzip.compress(body)),
    }
    return out


def run(days: int = DAYS) -> dict:
    from include import contract as contract_module
    from include.settings import PROJECT_ROOT

    credit = contract_module.load("credit_applications", PROJECT_ROOT / "include" / "contracts")
    with tempfile.TemporaryDirectory(prefix="bench-health-") as root:
        s = _settings(root)
        from include import registry

        registry.exists(registry.client(s), credit.name)  # creates the local MLflow store, untimed
        started = time.perf_counter()
        written = history(credit, days, settings=s)
        setup = time.perf_counter() - started
        peer = _time_in_child(root, days, "peer")
        cold = _time_in_child(root, days, "cold")
        stored = _time_in_child(root, days, "cold")  # the day summaries are stored now
        warm = _time_in_child(root, days, "warm")
    return {
        "history": {**written, "features": len(credit.features) + 1, "setup_seconds": round(setup, 1)},
        "ours": {
            "registry_client_seconds_once_per_process": round(cold["registry_client_seconds"], 3),
            "cold_seconds": round(cold["seconds"], 3),
            "stored_summaries_seconds": round(stored["seconds"], 3),
            "warm_seconds": round(warm["seconds"], 4),
            "windows": warm["windows"],
            "json_bytes": warm["json_bytes"],
            "gzip_bytes": warm["gzip_bytes"],
        },
        "peer": {
            "what": "history.between: every hourly record read and parsed, as the drift plot does",
            "seconds": round(peer["seconds"], 3),
            "records": peer["records"],
        },
        "peer_over_ours_stored": round(peer["seconds"] / stored["seconds"], 1),
        "peer_over_ours_warm": round(peer["seconds"] / warm["seconds"], 1),
    }
