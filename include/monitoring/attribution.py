"""Feature-attribution drift: is the champion deciding for the reasons it was validated on?

The reason codes come from occlusion contributions (``include/training/reasons.py``): how much
each feature moved an application's score. At training, the mean absolute contribution of every
feature on the holdout is logged with the version (``attribution_reference.json``). Each day the
same contributions are computed, by the version that scored the traffic, on a fixed-seed sample
of its captured requests, and the two rankings are compared with nDCG (the reference's mean
contributions as relevance, as SageMaker Model Monitor does) and Spearman's rank correlation.
An nDCG below the contract's ``monitoring.attribution.min_ndcg`` alerts.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include import settings as settings_module
from include.contract import Contract
from include.monitoring import daily

MONITOR = "attribution"
REFERENCE = "attribution_reference.json"  # run artifact: mean |contribution| on the holdout
MIN_ROWS = 50  # fewer captured requests and the day's ranking is not judged


def mean_attribution(model, x: pd.DataFrame, typical: dict, *, rows: int, seed: int) -> dict:
    """Mean absolute contribution per feature on a ``seed``-fixed sample of up to ``rows`` of ``x``."""
    from include.training.reasons import contributions

    sample = x.sample(n=min(rows, len(x)), random_state=seed) if len(x) > rows else x
    table = contributions(model, sample, typical)
    return {
        "features": list(table.columns),
        "mean_abs_contribution": [float(v) for v in table.abs().mean().to_numpy()],
        "rows": int(len(sample)),
    }


def compare(reference: dict, live: dict) -> dict:
    """nDCG of the live ranking with the reference's mean contributions as relevance, and
    Spearman's correlation of the two, over the reference's features."""
    from scipy.stats import spearmanr
    from sklearn.metrics import ndcg_score

    names = reference["features"]
    ref = np.asarray(reference["mean_abs_contribution"], dtype=float)
    by_name = dict(zip(live["features"], live["mean_abs_contribution"], strict=True))
    now = np.asarray([by_name.get(n, 0.0) for n in names], dtype=float)
    ndcg = float(ndcg_score(ref[None, :], now[None, :])) if ref.sum() > 0 else None
    rho = spearmanr(ref, now).statistic if len(names) > 1 else np.nan
    ref_rank = pd.Series(ref, index=names).rank(ascending=False, method="first").astype(int)
    now_rank = pd.Series(now, index=names).rank(ascending=False, method="first").astype(int)
    return {
        "ndcg": ndcg,
        "spearman": None if np.isnan(rho) else float(rho),
        "features": [
            {
                "feature": n,
                "reference": round(float(r), 6),
                "live": round(float(v), 6),
                "reference_rank": int(ref_rank[n]),
                "live_rank": int(now_rank[n]),
            }
            for n, r, v in sorted(zip(names, ref, now, strict=True), key=lambda t: ref_rank[t[0]])
        ],
    }


def _live(settings, contract: Contract, version: str, rows: pd.DataFrame, day: date) -> dict:
    """The day's mean contributions, computed by the registered version's own scorer."""
    import mlflow

    from include import registry
    from include.model_input import frame as model_frame

    registry.use(settings)
    model = registry.call(
        registry.client(settings),
        f"load {contract.name} v{version}",
        mlflow.pyfunc.load_model,
        f"models:/{contract.name}/{version}",
    ).unwrap_python_model()
    x = model_frame(rows[list(contract.features)], model.numeric, model.categorical)
    with model.pools.limit(limits=model.threads):
        return mean_attribution(
            model.pipeline,
            x,
            model.typical,
            rows=contract.monitoring.attribution.sample_rows,
            seed=day.toordinal(),
        )


def check(contract: Contract, day: date, *, settings: settings_module.Settings | None = None) -> dict:
    """Compare the day's attribution ranking with the scoring version's reference; stored once."""
    from include.monitoring.reference import version_artifact

    s = settings or settings_module.get()
    found = daily.stored(contract.name, MONITOR, day, s)
    if found is not None:
        return found
    frame = daily.captured(contract, day, s)
    version = daily.main_version(frame)
    limit = contract.monitoring.attribution.min_ndcg
    record = {
        "dataset": contract.name,
        "day": day.isoformat(),
        "monitor": "attribution",
        "model_version": version,
        "min_ndcg": limit,
        "alert": False,
    }
    if version is None:
        return {**record, "status": "no_scored_rows"}
    reference = version_artifact(s, contract.name, version, REFERENCE)
    if reference is None:
        detail = f"version {version} was registered without {REFERENCE}"
        return daily.store(
            contract.name, MONITOR, day, {**record, "status": "no_reference", "detail": detail}, s
        )
    rows = frame[frame["model_version"].astype(str) == version]
    if len(rows) < MIN_ROWS:
        return daily.store(
            contract.name, MONITOR, day, {**record, "status": "too_few_rows", "rows": len(rows)}, s
        )
    live = _live(s, contract, version, rows, day)
    result = compare(reference, live)
    record |= {
        "status": "judged",
        "rows": live["rows"],
        "captured": int(len(rows)),
        "reference_rows": reference["rows"],
        **result,
        "alert": result["ndcg"] is not None and result["ndcg"] < limit,
    }
    return daily.store(contract.name, MONITOR, day, record, s)


def alert(
    contract: Contract, record: dict, *, dag_run_id: str, settings: settings_module.Settings | None = None
) -> bool:
    """Audit and notify a day whose ranking fell below the limit (once per day)."""
    from include.monitoring.alerts import alert_once, monitor_event

    if not record.get("alert"):
        return False
    s = settings or settings_module.get()
    day = date.fromisoformat(record["day"])
    moved = [f for f in record["features"] if f["live_rank"] != f["reference_rank"]][:5]
    shown = ", ".join(f"{f['feature']} {f['reference_rank']}->{f['live_rank']}" for f in moved)
    alert_once(
        contract,
        f"attribution-{day}",
        kind="attribution_alert",
        subject=f"{contract.name}: the model decides for other reasons on {day}",
        message=(
            f"{contract.name} v{record['model_version']} on {day}: nDCG {record['ndcg']:.3f} of the features' "
            f"ranking by mean contribution against the training holdout, below {record['min_ndcg']} "
            f"(Spearman {record['spearman']}). Ranks moved: {shown or '-'}."
        ),
        facts=monitor_event(
            "attribution_drift_detected",
            contract,
            dag_run_id,
            version=record["model_version"],
            day=record["day"],
            ndcg=record["ndcg"],
            spearman=record["spearman"],
            min_ndcg=record["min_ndcg"],
            moved=moved,
        ),
        interval=(day, day),
        dag_run_id=dag_run_id,
        task="attribution_drift",
        audit_key=f"attribution:{day}",
        settings=s,
    )
    return True
