"""Train a challenger end to end and judge it against the champion on the same holdout.

What the weekly DAG's main task calls: assemble matured data, split by time, search,
evaluate the challenger and the current champion on the same holdout, run every gate,
log and register the challenger, point ``challenger`` at it and record the audit events.
Promotion itself is a separate step (automatic or after a person's approval).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sklearn.metrics import roc_auc_score

from include import audit, registry
from include import settings as settings_module
from include.contract import Contract
from include.training import gates
from include.training.candidates import features, search
from include.training.dataset import assemble, time_split
from include.training.evaluation import evaluate
from include.training.tracking import log_and_register


@dataclass(frozen=True)
class Policy:
    """Gate thresholds besides the contract's AUC floor (the team guides' defaults)."""

    min_rows: int = 1000
    regression_tolerance: float = 0.005
    min_improvement: float = 0.002
    max_overfit_gap: float = 0.1
    min_approval_ratio: float = 0.8
    max_tpr_gap: float = 0.1
    p99_latency_ms: float = 200.0
    search_budget_seconds: float = 300.0
    seed: int = 0


@dataclass
class Outcome:
    model_name: str
    version: str
    run_id: str
    gates_passed: bool
    gates: list[dict]
    holdout: dict
    champion_version: str | None
    champion_auc: float | None
    latency: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _champion(settings, name: str, x_holdout, y_holdout):
    import mlflow

    client = registry.client(settings)
    current = registry.by_alias(client, name, registry.CHAMPION)
    if current is None:
        return None, None, None
    registry.use(settings)
    model = mlflow.sklearn.load_model(f"models:/{name}/{current.version}")
    columns = list(getattr(model, "feature_names_in_", x_holdout.columns))
    if set(columns) - set(x_holdout.columns):
        return current, None, columns  # the schema gate reports the difference
    return current, float(roc_auc_score(y_holdout, model.predict_proba(x_holdout[columns])[:, 1])), columns


def train_challenger(contract: Contract, *, end: date, window_days: int, force: bool, reason: str, actor: str,
                     dag_run_id: str, created: str, policy: Policy = Policy(), schema_change_reason: str | None = None,
                     settings: settings_module.Settings | None = None) -> Outcome:
    s = settings or settings_module.get()
    training = assemble(contract, end, window_days, min_rows=policy.min_rows, settings=s)
    splits = time_split(training.frame, contract)
    result = search(contract, splits.train, splits.validation, seed=policy.seed,
                    budget_seconds=policy.search_budget_seconds)
    x_holdout, y_holdout = features(splits.holdout, contract), splits.holdout[contract.target].astype(int)
    scores = result.best.predict_proba(x_holdout)[:, 1]
    holdout = evaluate(y_holdout, scores, contract.decision_threshold)
    train_auc = float(roc_auc_score(splits.train[contract.target].astype(int),
                                    result.best.predict_proba(features(splits.train, contract))[:, 1]))
    champion, champion_auc, champion_columns = _champion(s, contract.name, x_holdout, y_holdout)
    fairness = {}
    results = [gates.auc_floor(holdout["roc_auc"], contract.auc_floor),
               gates.no_regression(holdout["roc_auc"], champion_auc, policy.regression_tolerance),
               gates.min_improvement(holdout["roc_auc"], champion_auc, policy.min_improvement, force),
               gates.overfitting(train_auc, holdout["roc_auc"], policy.max_overfit_gap)]
    for attribute in contract.protected:
        table = gates.fairness_table(y_holdout, scores, splits.holdout[attribute], contract.decision_threshold)
        fairness[attribute] = table.reset_index(names="group").to_dict("records")
        results += gates.fairness(attribute, table, policy.min_approval_ratio, policy.max_tpr_gap)
    results.append(gates.schema_compatible(list(x_holdout.columns), champion_columns, schema_change_reason))
    latency_gate, latency = gates.latency(result.best, x_holdout.head(500), policy.p99_latency_ms)
    results.append(latency_gate)
    gate_dicts = [g.as_dict() for g in results]
    passed = all(g.passed for g in results)
    run_id, version = log_and_register(
        settings=s, contract=contract, model_name=contract.name, model=result.best,
        family=result.best_trial.family, params=result.best_trial.params, x_holdout=x_holdout, y_holdout=y_holdout,
        holdout=holdout, train_auc=train_auc, trials=result.trials, gates=gate_dicts, fairness=fairness,
        training_frame=training.frame, lineage=training.lineage, counts=training.counts,
        window=(training.window[0].isoformat(), training.window[1].isoformat()), author=actor, reason=reason,
        created=created, seed=policy.seed)
    registry.set_challenger(registry.client(s), contract.name, version, passed)
    common = {"time": created, "actor": actor, "dag_run_id": dag_run_id, "model": contract.name, "version": version}
    audit.record([{**common, "type": "registered", "run_id": run_id, "reason": reason,
                   "window": [training.window[0].isoformat(), training.window[1].isoformat()],
                   "data_versions": training.lineage, "metrics": {k: holdout[k] for k in ("roc_auc", "pr_auc", "ks",
                                                                                          "brier")}}]
                 + [{**common, "type": "gate_result", **g} for g in gate_dicts],
                 day=end, dag_run_id=dag_run_id, task="train_challenger", settings=s)
    return Outcome(contract.name, version, run_id, passed, gate_dicts, holdout,
                   champion.version if champion else None, champion_auc, latency)
