"""Performance before labels: the champion's ROC AUC estimated from its scores alone.

Confidence-based performance estimation (NannyML's CBPE): if the model's calibration holds, an
application scored with calibrated probability p is a defaulter with probability p, so the ROC
curve expected on a day's traffic weighs each application as p of a positive and 1 - p of a
negative at its score. The calibration is the one measured at training: an isotonic map from
score to observed default rate over equal-count bins of the holdout, logged with the version as
``calibration.json``.

Its limit: the estimate sees only the scores. It follows a change in the inputs (a population
the model separates less well), but a change in P(y | x), concept drift, leaves the scores and
so the estimate where they were; the realized AUC (``performance.realized``) still guards that.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.monitoring import daily, performance

MONITOR = "performance/estimated"
CALIBRATION = "calibration.json"  # run artifact: the holdout's isotonic calibration map
METHOD = "CBPE: expected ROC AUC from scores calibrated on the training holdout"


CALIBRATION_BINS = 20  # at most; a holdout's few thousand rows give ~200 per bin


def calibration_map(y_true, scores) -> dict:
    """Isotonic regression of the observed default rate on the score, over equal-count bins of
    the holdout (mean score, rate, rows per bin). Fitted on single rows, the steps overfit the
    holdout's extremes (probabilities of exactly 0 and 1) and the estimate ran 0.013 AUC high;
    over 20 bins its bias was 0.004 on 14 simulated days (docs/monitoring.md)."""
    from sklearn.isotonic import IsotonicRegression

    y, s = np.asarray(y_true, dtype=float), np.asarray(scores, dtype=float)
    bins = max(1, min(CALIBRATION_BINS, len(y) // 100))
    parts = np.array_split(np.argsort(s, kind="stable"), bins)
    centre = np.array([s[p].mean() for p in parts])
    rate = np.array([y[p].mean() for p in parts])
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
        centre, rate, sample_weight=[len(p) for p in parts]
    )
    return {
        "method": f"isotonic over {bins} equal-count bins of the holdout",
        "rows": int(len(y)),
        "scores": [float(v) for v in fitted.X_thresholds_],
        "probabilities": [float(v) for v in fitted.y_thresholds_],
    }


def calibrated(mapping: dict, scores) -> np.ndarray:
    """The default probability the holdout observed at each score (linear between its steps)."""
    return np.interp(np.asarray(scores, dtype=float), mapping["scores"], mapping["probabilities"])


def expected_auc(scores, probabilities) -> float | None:
    """ROC AUC expected when each row is a positive with its probability: every row counted
    once as a positive weighing p and once as a negative weighing 1 - p, at its score.
    None when the probabilities leave no positive or no negative weight."""
    from sklearn.metrics import roc_auc_score

    s, p = np.asarray(scores, dtype=float), np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    if len(s) == 0 or p.sum() <= 0 or (1 - p).sum() <= 0:
        return None
    labels = np.r_[np.ones(len(s)), np.zeros(len(s))]
    return float(roc_auc_score(labels, np.r_[s, s], sample_weight=np.r_[p, 1 - p]))


def estimate(contract: Contract, day: date, *, settings: settings_module.Settings | None = None) -> dict:
    """The estimated AUC of the applications scored on ``day`` by the version that scored most of
    them, against the contract's floor; stored once, then read back."""
    from include.monitoring.reference import version_artifact

    s = settings or settings_module.get()
    found = daily.stored(contract.name, MONITOR, day, s)
    if found is not None:
        return found
    rows = daily.applications(daily.captured(contract, day, s), contract)
    version = daily.main_version(rows)
    record = {
        "dataset": contract.name,
        "day": day.isoformat(),
        "monitor": "estimated_performance",
        "method": METHOD,
        "model_version": version,
        "auc_floor": contract.auc_floor,
        "captured": int(len(rows)),
        "estimated_auc": None,
        "below_floor": False,
    }
    if version is None:
        return {**record, "status": "no_scored_rows"}  # nothing stored: the capture may come later
    mapping = version_artifact(s, contract.name, version, CALIBRATION)
    if mapping is None:
        detail = f"version {version} was registered without {CALIBRATION}"
        return daily.store(
            contract.name, MONITOR, day, {**record, "status": "no_calibration", "detail": detail}, s
        )
    scores = rows.loc[rows["model_version"].astype(str) == version, "score"].to_numpy(dtype=float)
    record["rows"] = int(len(scores))
    if len(scores) < performance.MIN_LABELLED:
        return daily.store(contract.name, MONITOR, day, {**record, "status": "too_few_rows"}, s)
    probability = calibrated(mapping, scores)
    auc = expected_auc(scores, probability)
    record |= {
        "status": "estimated" if auc is not None else "degenerate",
        "estimated_auc": auc,
        "expected_default_rate": float(probability.mean()),
        "below_floor": auc is not None and auc < contract.auc_floor,
    }
    return daily.store(contract.name, MONITOR, day, record, s)


def alert(
    contract: Contract, record: dict, *, dag_run_id: str, settings: settings_module.Settings | None = None
) -> bool:
    """Audit and notify an estimate below the floor (once per day); True when it is below."""
    from include.monitoring.alerts import alert_once, monitor_event

    if not record.get("below_floor"):
        return False
    s = settings or settings_module.get()
    day = date.fromisoformat(record["day"])
    message = (
        f"{contract.name}: estimated AUC {record['estimated_auc']:.4f} of v{record['model_version']} on the "
        f"{record['rows']} applications of {day} is below the floor {contract.auc_floor} ({METHOD}). "
        "Labels will confirm it; the inputs have moved where the model separates less well."
    )
    alert_once(
        contract,
        f"estimated-{day}",
        kind="estimated_performance_alert",
        subject=f"{contract.name}: estimated AUC below the floor on {day}",
        message=message,
        facts=monitor_event(
            "estimated_auc_below_floor",
            contract,
            dag_run_id,
            version=record["model_version"],
            day=record["day"],
            estimated_auc=record["estimated_auc"],
            auc_floor=contract.auc_floor,
            rows=record["rows"],
        ),
        interval=(day, day),
        dag_run_id=dag_run_id,
        task="estimated_performance",
        audit_key=f"estimated_performance:{day}",
        settings=s,
    )
    return True


def history(
    contract: Contract, first: date, last: date, *, settings: settings_module.Settings | None = None
) -> list[dict]:
    """Per application day: the estimated AUC and, once outcomes matured, the realized one."""
    estimated = {r["day"]: r for r in daily.history(contract.name, MONITOR, first, last, settings)}
    out, day = [], first
    while day <= last:
        path = performance.record_path(contract.name, day, settings)
        realized = json.loads(storage.read_bytes(path)) if storage.exists(path) else None
        e = estimated.get(day.isoformat())
        if e or realized:
            out.append(
                {
                    "day": day.isoformat(),
                    "estimated_auc": e and e.get("estimated_auc"),
                    "realized_auc": realized and realized.get("auc"),
                    "model_version": e and e.get("model_version"),
                    "auc_floor": contract.auc_floor,
                }
            )
        day += timedelta(days=1)
    return out
