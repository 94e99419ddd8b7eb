"""Train a challenger end to end and judge it against the champion on the same holdout.

What the weekly DAG's main task calls: assemble matured data, split by time, search,
evaluate the challenger and the current champion on the same holdout, run every gate,
log and register the challenger, point ``challenger`` at it and record the audit events.
Promotion itself is a separate step (automatic or after a person's approval).
"""

from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from include import audit, registry
from include import settings as settings_module
from include.contract import Contract, GateLimits
from include.drift.profile import merge_all, profile
from include.monitoring import bias
from include.training import gates, tracking
from include.training.candidates import features, search
from include.training.compare import Comparison, delong
from include.training.dataset import assemble, time_split
from include.training.evaluation import evaluate
from include.training.reasons import typical_values


@dataclass(frozen=True)
class Policy:
    """How a challenger is trained and judged: the gate limits (the contract's ``model.gates``),
    the length of the search plan and its seed."""

    gates: GateLimits = field(default_factory=GateLimits)
    search_candidates: int | None = None  # the first N of candidates.plan(); None: the whole plan
    seed: int = 0

    @classmethod
    def of(cls, contract: Contract, **overrides) -> Policy:
        return cls(gates=contract.gates, **overrides)

    def as_dict(self) -> dict:
        return {**asdict(self.gates), "search_candidates": self.search_candidates, "seed": self.seed}


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
    steps: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _champion_scores(settings, contract: Contract, champion, holdout: pd.DataFrame):
    """The champion's scores on the challenger's holdout rows, from its own inputs (with changed
    inputs too, while the curated rows hold every column it needs), and those inputs; (None,
    None) without a champion."""
    if champion is None:
        return None, None
    return tracking.version_scores(settings, contract, champion.version, holdout)


def reference_profile(frame, contract: Contract, model=None) -> dict:
    """What the drift monitor compares live traffic with: the training rows' feature profile,
    plus the model's ``score`` on them (for prediction drift), computed per event day and merged."""
    extra = ()
    if model is not None:
        frame, extra = frame.assign(score=model.predict_proba(features(frame, contract))[:, 1]), ("score",)
    days = frame[contract.event_timestamp].dt.date
    return merge_all(
        profile(part, contract, partition=f"dt={day}", extra_numeric=extra)
        for day, part in frame.groupby(days)
    ).to_dict()


def monitoring_reference(contract: Contract, evaluation, model, typical: dict, seed: int) -> dict:
    """What the daily monitors compare live traffic with, measured on the holdout: the calibration
    map the AUC estimate applies (with the holdout's own estimate and band, the reference the
    drop rule compares with) and the features' mean contributions (the reason codes)."""
    from include.monitoring import attribution, estimated

    return {
        estimated.CALIBRATION: estimated.calibration_artifact(
            evaluation.y_holdout, evaluation.scores, contract.monitoring.estimated.confidence
        ),
        attribution.REFERENCE: attribution.mean_attribution(
            model,
            evaluation.x_holdout,
            typical,
            rows=contract.monitoring.attribution.sample_rows,
            seed=seed,
        ),
    }


def _reuse(settings, version) -> Outcome:
    """The outcome of a registration this DAG run already completed (a task retry)."""
    import json
    from pathlib import Path

    client = registry.client(settings)

    def artifact(path):
        local = registry.call(
            client, f"read {path} of run {version.run_id}", client.download_artifacts, version.run_id, path
        )
        return json.loads(Path(local).read_text())

    gate_dicts, comparison = artifact("gates.json"), artifact("comparison.json")
    return Outcome(
        version.name,
        version.version,
        version.run_id,
        version.tags[registry.GATES_TAG] == "true",
        gate_dicts,
        artifact("evaluation/holdout.json"),
        comparison["champion_version"],
        comparison["champion_auc"],
        artifact("latency.json"),
    )


def train_challenger(
    contract: Contract,
    *,
    end: date,
    window_days: int,
    force: bool,
    reason: str,
    actor: str,
    dag_run_id: str,
    created: str,
    policy: Policy | None = None,
    schema_change_reason: str | None = None,
    settings: settings_module.Settings | None = None,
) -> Outcome:
    """Train, judge and register a challenger. ``policy`` defaults to the team guides' gates with
    the search of ``MLOPS_SEARCH_CANDIDATES``; every BLAS/OpenMP pool runs on ``MLOPS_THREADS``."""
    from threadpoolctl import threadpool_limits

    s = settings or settings_module.get()
    policy = policy or Policy.of(contract, search_candidates=s.search_candidates)
    client = registry.client(s)
    # The registry is read before any training: when it is down the run fails in seconds.
    champion = registry.by_alias(client, contract.name, registry.CHAMPION)
    for earlier in registry.registered_by_run(client, contract.name, dag_run_id):
        if registry.GATES_TAG in earlier.tags:
            return _reuse(s, earlier)  # a retry of a run that registered its challenger: no second version
        registry.discard(client, contract.name, earlier.version)  # a retry of a run that died half way
    with threadpool_limits(limits=s.threads):
        return _train(
            contract,
            end=end,
            window_days=window_days,
            force=force,
            reason=reason,
            actor=actor,
            dag_run_id=dag_run_id,
            created=created,
            policy=policy,
            schema_change_reason=schema_change_reason,
            settings=s,
            champion=champion,
        )


def _train(
    contract: Contract,
    *,
    end,
    window_days,
    force,
    reason,
    actor,
    dag_run_id,
    created,
    policy: Policy,
    schema_change_reason,
    settings: settings_module.Settings,
    champion,
) -> Outcome:
    s, client, steps = settings, registry.client(settings), Steps()
    with steps("assemble"):
        training = assemble(contract, end, window_days, min_rows=policy.gates.min_rows, settings=s)
    with steps("split"):
        splits = time_split(training.frame, contract)
    with steps("search"):
        result = search(
            contract, splits.train, splits.validation, seed=policy.seed, candidates=policy.search_candidates
        )
    with steps("evaluate"):
        evaluation = _evaluate(contract, splits, result.best, s, champion, policy.gates.confidence)
    with ExitStack() as packaged:
        with steps("package_model"):
            typical = typical_values(features(splits.train, contract))
            scoring = packaged.enter_context(
                tracking.scoring_model(result.best, contract, splits.holdout, typical, threads=s.threads)
            )
        with steps("gates"):
            results, fairness, latency = _gates(
                contract,
                policy,
                splits,
                evaluation,
                scoring,
                force=force,
                schema_change_reason=schema_change_reason,
                threads=s.threads,
            )
        gate_dicts = [g.as_dict() for g in results]
        passed = all(g.passed for g in results)
        with steps("reference_profile"):
            reference = reference_profile(training.frame, contract, result.best)
            monitoring_references = monitoring_reference(
                contract, evaluation, result.best, typical, policy.seed
            )
        with steps("log_and_register"):
            run_id, version = tracking.log_and_register(
                settings=s,
                contract=contract,
                model_name=contract.name,
                model=result.best,
                family=result.best_trial.family,
                params=result.params,
                x_holdout=evaluation.x_holdout,
                y_holdout=evaluation.y_holdout,
                holdout=evaluation.holdout,
                train_auc=evaluation.train_auc,
                trials=result.trials,
                gates=gate_dicts,
                fairness=fairness,
                training_frame=training.frame,
                scoring=scoring,
                reference=reference,
                monitoring_references=monitoring_references,
                lineage=training.lineage,
                counts=training.counts,
                window=(training.window[0].isoformat(), training.window[1].isoformat()),
                author=actor,
                reason=reason,
                created=created,
                dag_run_id=dag_run_id,
                latency=latency,
                comparison={
                    "champion_version": champion.version if champion else None,
                    "champion_auc": evaluation.champion_auc,
                    "delong": evaluation.comparison.as_dict() if evaluation.comparison else None,
                },
                plan=result.plan,
                seed=policy.seed,
                threads=s.threads,
            )
    common = {
        "time": created,
        "actor": actor,
        "dag_run_id": dag_run_id,
        "model": contract.name,
        "version": version,
    }
    try:
        audit.record(
            [
                {
                    **common,
                    "type": "registered",
                    "run_id": run_id,
                    "reason": reason,
                    "window": [training.window[0].isoformat(), training.window[1].isoformat()],
                    "data_versions": training.lineage,
                    "metrics": {k: evaluation.holdout[k] for k in ("roc_auc", "pr_auc", "ks", "brier")},
                    "schema_change_reason": schema_change_reason or None,
                }
            ]
            + [{**common, "type": "gate_result", **g} for g in gate_dicts],
            interval=training.window,
            dag_run_id=dag_run_id,
            task="train_challenger",
            settings=s,
        )
        registry.set_challenger(client, contract.name, version, passed, gates.hard_gates_passed(gate_dicts))
    except Exception as exc:
        _discard_after(s, common, version, exc, training.window)
        raise
    return Outcome(
        contract.name,
        version,
        run_id,
        passed,
        gate_dicts,
        evaluation.holdout,
        champion.version if champion else None,
        evaluation.champion_auc,
        latency,
        steps.records,
    )


@dataclass
class Evaluation:
    """The challenger on its time-based holdout, and the champion on the same rows."""

    x_holdout: pd.DataFrame  # model input
    y_holdout: np.ndarray  # outcome as 1/0
    scores: np.ndarray
    holdout: dict  # evaluation.evaluate's metrics
    train_auc: float
    comparison: Comparison | None  # DeLong's, challenger against champion; None without a champion to score
    champion_columns: list[str] | None

    @property
    def champion_auc(self) -> float | None:
        return None if self.comparison is None else self.comparison.auc_b


def _evaluate(contract: Contract, splits, model, settings, champion, confidence: float) -> Evaluation:
    x_holdout, y_holdout = features(splits.holdout, contract), contract.outcome(splits.holdout)
    scores = model.predict_proba(x_holdout)[:, 1]
    train_scores = model.predict_proba(features(splits.train, contract))[:, 1]
    champion_scores, champion_columns = _champion_scores(settings, contract, champion, splits.holdout)
    comparison = None if champion_scores is None else delong(y_holdout, scores, champion_scores, confidence)
    return Evaluation(
        x_holdout,
        y_holdout,
        scores,
        evaluate(y_holdout, scores, contract.decision_threshold),
        float(roc_auc_score(contract.outcome(splits.train), train_scores)),
        comparison,
        champion_columns,
    )


def fairness_limits(contract: Contract, policy: Policy):
    """The live monitor's fairness settings (confidence, group minimums, small-group policy)
    with the promotion gates' limits."""
    return replace(
        contract.monitoring.fairness,
        min_approval_ratio=policy.gates.min_approval_ratio,
        max_tpr_gap=policy.gates.max_tpr_gap,
        max_fpr_gap=policy.gates.max_fpr_gap,
    )


def _gates(
    contract: Contract,
    policy: Policy,
    splits,
    evaluation: Evaluation,
    scoring: dict,
    *,
    force: bool,
    schema_change_reason: str | None,
    threads: int,
):
    """Every gate's result, the fairness tables and the latency figures."""
    e, fairness = evaluation, {}
    results = [
        gates.auc_floor(e.holdout["roc_auc"], contract.auc_floor),
        gates.no_regression(e.comparison, policy.gates.non_inferiority_margin),
        gates.min_improvement(e.comparison, policy.gates.min_improvement, force),
        gates.overfitting(e.train_auc, e.holdout["roc_auc"], policy.gates.max_overfit_gap),
    ]
    limits = fairness_limits(contract, policy)
    frame = pd.DataFrame(
        {
            **{a: splits.holdout[a].to_numpy() for a in contract.protected},
            "score": np.asarray(e.scores, dtype=float),
            "positive": np.asarray(e.y_holdout, dtype=int),
        }
    )
    checks = bias.fairness_checks(frame, contract, "score", limits)
    for attribute in contract.protected:
        table = gates.fairness_table(e.y_holdout, e.scores, splits.holdout[attribute], contract)
        fairness[attribute] = table.reset_index(names="group").to_dict("records")
        mine = [c for c in checks if c["attribute"] == attribute]
        judged = {c["metric"]: {g["group"] for g in c["groups"] if g["judged"]} for c in mine}
        for row in fairness[attribute]:
            row["judged"] = {m: str(row["group"]) in groups for m, groups in judged.items()}
    results += gates.fairness(checks, contract.labels, limits)
    results.append(
        gates.schema_compatible(list(e.x_holdout.columns), e.champion_columns, schema_change_reason)
    )
    # Timed as production calls it: the registered pyfunc, saved and loaded back, on curated rows.
    scorer = tracking.load_scoring_model(scoring)
    latency_gate, latency = gates.latency(
        scorer.predict,
        splits.holdout[list(contract.features)].head(500),
        policy.gates.p99_latency_ms,
        threads=threads,
    )
    results.append(latency_gate)
    return results, fairness, latency


class Steps:
    """Wall time of each step of a run (perf_counter clock), kept in the outcome for the task
    log and for bench/retraining.py, which samples memory on the same clock."""

    def __init__(self):
        self.records: list[dict] = []

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.records.append({"step": name, "start": start, "seconds": time.perf_counter() - start})


def _discard_after(
    settings, common: dict, version: str, cause: Exception, interval: tuple[date, date]
) -> None:
    """Delete a version whose registration could not complete and say so in the audit trail;
    if even that fails, the original error still surfaces and the next retry discards it."""
    try:
        registry.discard(registry.client(settings), common["model"], version)
    except Exception as exc:
        cause.add_note(
            f"{common['model']} v{version} could not be discarded ({exc}); the next retry of this "
            "DAG run discards it"
        )
        return
    try:
        audit.record(
            [{**common, "type": "deleted", "reason": f"registration did not complete: {cause}"}],
            interval=interval,
            dag_run_id=common["dag_run_id"],
            task="train_challenger",
            settings=settings,
        )
    except Exception as exc:
        cause.add_note(
            f"{common['model']} v{version} was discarded; recording that in the audit trail failed "
            f"too ({exc})"
        )
