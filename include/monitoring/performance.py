"""Realized performance from delayed labels: how concept drift is caught.

Drift statistics see the inputs only; when the link between inputs and outcome moves they stay
quiet. Once a day's outcomes have matured (the contract's delay), its captured scores are joined
with the curated outcomes and the realized AUC of that cohort is compared with the contract's
floor. ``monitoring/<dataset>/performance/dt=<cohort>.json`` keeps each cohort's result; the first
write wins, so a rerun reports the same.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.monitoring import window as window_module

MIN_LABELLED = 200  # fewer matured outcomes (or no defaulter / no non-defaulter) and the AUC is not judged


def cohort_for(contract: Contract, interval_end: datetime, timezone_name: str) -> date:
    """The newest application day whose outcomes are all curated by a run ending at ``interval_end``:
    outcomes of day D are observed on D + maturity and ingested the next night."""
    from zoneinfo import ZoneInfo

    return interval_end.astimezone(ZoneInfo(timezone_name)).date() - timedelta(
        days=contract.labels.maturity_days + 1
    )


def record_path(dataset: str, cohort: date, settings: settings_module.Settings | None = None):
    return storage.path(
        "monitoring", dataset, "performance", f"dt={cohort.isoformat()}.json", settings=settings
    )


def matured_outcomes(
    contract: Contract, cohort: date, *, settings: settings_module.Settings | None = None
) -> pd.DataFrame:
    """The curated outcomes of ``cohort``'s applications (primary key and target), each once: from
    the label feed, or from the events themselves when labels arrive inline. Raises
    FileNotFoundError, naming the partition, while the outcomes are not ingested."""
    from include.ingestion.partition import read_curated

    keys = list(contract.primary_key)
    if contract.labels.delivery == "inline":  # the outcome came with the event, in its own partition
        events = read_curated(contract.name, cohort, settings=settings)
        return events.dropna(subset=[contract.target])[[*keys, contract.target]].drop_duplicates(keys)
    labels = []
    for offset in (0, 1):  # outcomes of day D are observed on D + maturity, a late one the day after
        day = cohort + timedelta(days=contract.labels.maturity_days + offset)
        try:
            labels.append(read_curated(contract.label_feed_name, day, settings=settings))
        except FileNotFoundError as exc:
            if offset == 0:
                raise FileNotFoundError(
                    f"no curated {contract.label_feed_name} partition for {day}: {exc}"
                ) from None
    return pd.concat(labels, ignore_index=True)[[*keys, contract.target]].drop_duplicates(keys)


def realized(contract: Contract, cohort: date, *, settings: settings_module.Settings | None = None) -> dict:
    """The cohort's realized AUC against the floor; stored once, then read back."""
    from sklearn.metrics import roc_auc_score

    s = settings or settings_module.get()
    path = record_path(contract.name, cohort, s)
    if storage.exists(path):
        return json.loads(storage.read_bytes(path))
    start = datetime.combine(cohort, time(0), tzinfo=UTC)
    captured = window_module.read(contract.name, start, start + timedelta(days=1), s).frame
    try:
        outcome = matured_outcomes(contract, cohort, settings=s)
    except FileNotFoundError as exc:  # not ingested (yet): said in the result, nothing stored
        return {
            "dataset": contract.name,
            "cohort": cohort.isoformat(),
            "status": "labels_missing",
            "detail": str(exc),
        }
    joined = (
        captured.dropna(subset=["score"]).merge(outcome, on=list(contract.primary_key), how="inner")
        if len(captured) and "score" in captured
        else pd.DataFrame()
    )
    record = {
        "dataset": contract.name,
        "cohort": cohort.isoformat(),
        "captured": len(captured),
        "labelled": len(joined),
        "auc_floor": contract.auc_floor,
        "model_versions": {str(k): int(v) for k, v in joined["model_version"].value_counts().items()}
        if len(joined)
        else {},
    }
    outcome = contract.outcome(joined) if len(joined) else []
    positives = int(sum(outcome))
    if len(joined) < MIN_LABELLED or positives == 0 or positives == len(joined):
        record |= {"status": "too_few_labels", "auc": None, "below_floor": False}
    else:
        auc = float(roc_auc_score(outcome, joined["score"]))
        record |= {
            "status": "judged",
            "auc": auc,
            "below_floor": auc < contract.auc_floor,
            "default_rate": positives / len(joined),
        }
    # Beside it, what the scores alone said the morning after (decision_monitoring), if it ran.
    from include.monitoring import daily, estimated

    estimate = daily.stored(contract.name, estimated.MONITOR, cohort, s)
    record["estimated_auc"] = estimate.get("estimated_auc") if estimate else None
    storage.write_bytes_atomic(path, json.dumps(record, sort_keys=True, indent=1).encode())
    return record
