"""Training quality on simulator data: the search's best candidate on a time-based holdout.

Six days of 1,500 stable credit applications (seed 11) with their matured outcomes, split
by time 70/15/15; the whole search plan of both families. The same data and seed give the same
figures, so this is the reference for the AUC quoted in notes and docs.
"""

from __future__ import annotations

import time
from datetime import date, timedelta


def run() -> dict:
    from threadpoolctl import threadpool_limits

    from include import contract, settings
    from include.settings import PROJECT_ROOT
    from include.simulator.credit import labelled_applications
    from include.training.candidates import features, search
    from include.training.dataset import time_split
    from include.training.evaluation import evaluate

    credit = contract.load("credit_applications", PROJECT_ROOT / "include" / "contracts")
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(6)]
    data = labelled_applications(days, seed=11, rows=1500, maturity_days=credit.labels.maturity_days)
    splits = time_split(data, credit)
    started = time.perf_counter()
    with threadpool_limits(limits=settings.get().threads):  # MLOPS_THREADS, as a retraining runs
        result = search(credit, splits.train, splits.validation, seed=0)
    seconds = time.perf_counter() - started
    holdout = evaluate(
        credit.outcome(splits.holdout),
        result.best.predict_proba(features(splits.holdout, credit))[:, 1],
        credit.decision_threshold,
    )
    return {
        "rows": {
            "train": len(splits.train),
            "validation": len(splits.validation),
            "holdout": len(splits.holdout),
        },
        "search_seconds": round(seconds, 2),
        "best": {
            "family": result.best_trial.family,
            "params": result.best_trial.params,
            "validation_auc": round(result.best_trial.validation_auc, 4),
            "train_auc": round(result.best_trial.train_auc, 4),
        },
        "holdout": {k: round(holdout[k], 4) for k in ("roc_auc", "pr_auc", "ks", "brier")},
        "best_per_family": {
            f: round(max(t.validation_auc for t in result.trials if t.family == f), 4)
            for f in sorted({t.family for t in result.trials})
        },
        "auc_floor": credit.auc_floor,
    }
