"""Promotion gates: each returns a GateResult with its own pass/fail and numbers.

The challenger is promoted only when every gate passes; a failed gate is a normal outcome
(recorded, audited, notified), not an error. The fairness gates judge with the live monitor's
intervals (include/monitoring/bias.py); the per-group table of the model card comes from fairlearn.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# Gates that compare with the champion of the day. The others are "hard": a version that
# passed them stays a valid rollback target after a better champion has replaced it.
RELATIVE = ("no_regression", "min_improvement")


def hard_gates_passed(results: list[dict]) -> bool:
    return all(g["passed"] for g in results if g["name"] not in RELATIVE)


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    observed: float | str | None
    threshold: float | str | None
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def auc_floor(holdout_auc: float, floor: float) -> GateResult:
    ok = holdout_auc >= floor
    return GateResult(
        "auc_floor",
        ok,
        round(holdout_auc, 6),
        floor,
        f"holdout AUC {holdout_auc:.4f} {'>=' if ok else '<'} the contract floor {floor}",
    )


def _shown(c) -> str:
    return (
        f"challenger - champion AUC on the same holdout {c.difference:+.4f} ({c.auc_a:.4f} vs {c.auc_b:.4f}; "
        f"DeLong SE {c.standard_error:.4f}, p {c.p_value:.3g}; one-sided {c.confidence:.0%} bounds "
        f"[{c.lower:+.4f}, {c.upper:+.4f}])"
    )


def no_regression(comparison, margin: float) -> GateResult:
    """Non-inferiority: the lower bound of challenger - champion AUC (``compare.delong``) above
    ``-margin``. None: no champion (or its inputs are not in the holdout) to compare with."""
    if comparison is None:
        return GateResult("no_regression", True, None, -margin, "no champion to compare with on this holdout")
    ok = comparison.lower > -margin
    return GateResult(
        "no_regression",
        ok,
        round(comparison.lower, 6),
        -margin,
        f"{_shown(comparison)}: {'not worse' if ok else 'possibly worse'} than the champion by the "
        f"non-inferiority margin {margin} ({'lower bound above' if ok else 'lower bound at or below'} {-margin})",
    )


def min_improvement(comparison, margin: float, force: bool) -> GateResult:
    """Superiority: the lower bound of challenger - champion AUC above ``margin`` (0: significantly
    better at the comparison's level). ``force`` passes it (the hard gates still apply)."""
    if comparison is None:
        return GateResult(
            "min_improvement", True, None, margin, "no champion: the first model needs no improvement"
        )
    ok = comparison.lower > margin
    if not ok and force:
        return GateResult(
            "min_improvement",
            True,
            round(comparison.lower, 6),
            margin,
            f"{_shown(comparison)}: not shown better than the champion by {margin}; passed because the "
            "trigger forced it",
        )
    return GateResult(
        "min_improvement",
        ok,
        round(comparison.lower, 6),
        margin,
        f"{_shown(comparison)}: {'significantly better' if ok else 'not shown better'} than the champion "
        f"(lower bound {'above' if ok else 'at or below'} {margin})",
    )


def overfitting(train_auc: float, holdout_auc: float, max_gap: float = 0.1) -> GateResult:
    gap = train_auc - holdout_auc
    ok = gap <= max_gap
    return GateResult(
        "overfitting",
        ok,
        round(gap, 6),
        max_gap,
        f"train AUC {train_auc:.4f} - holdout AUC {holdout_auc:.4f} = {gap:.4f} "
        f"({'within' if ok else 'above'} {max_gap})",
    )


def fairness_table(y_true, scores, groups, contract) -> pd.DataFrame:
    """Per group of a protected attribute, with fairlearn on the favorable decision (the
    contract's ``labels.favorable`` at its threshold) against the favorable outcome: rows, the
    favorable-decision rate (``selection_rate``), the true-positive rate (favorable decisions
    among favorable outcomes) and the false-positive rate (among the others). Rows without a
    group are left out. ``y_true``: 1 where the label is the ``positive_value``."""
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    groups = pd.Series(groups).reset_index(drop=True)
    known = groups.notna().to_numpy()
    wanted = (np.asarray(y_true, dtype=int) == contract.labels.favorable_outcome).astype(int)[known]
    decided = contract.favorable_decision(scores)[known]
    frame = MetricFrame(
        metrics={
            "favorable_rate": selection_rate,
            # fairlearn answers 0 for a group without such rows; the card shows "-" instead.
            "true_positive_rate": lambda yt, yp: true_positive_rate(yt, yp) if yt.any() else np.nan,
            "false_positive_rate": lambda yt, yp: false_positive_rate(yt, yp) if (1 - yt).any() else np.nan,
            "rows": lambda yt, yp: len(yt),
            "favorable_outcomes": lambda yt, yp: int(np.sum(yt)),
        },
        y_true=wanted,
        y_pred=decided,
        sensitive_features=groups[known].astype(str).to_numpy(),
    )
    return frame.by_group


def fairness(checks: list[dict], labels, limits) -> list[GateResult]:
    """The fairness gates from the checks of include/monitoring/bias.py on the holdout
    (``fairness_checks`` with the gate limits): the same intervals, confidence and small-group
    policy as the live monitor. A gate fails when its interval lies wholly past the limit, or
    under ``small_groups: block`` when a group is too small to judge; groups too small are named
    in the message either way, and a check with fewer than two groups to judge passes, said so."""
    from include.monitoring import bias

    out = []
    for check in checks:
        blocked = bias.blocked([check], limits)
        passed = not check["crossed"] and not blocked
        message = bias.shown(check, labels, limits)
        if blocked:
            message += "; small_groups: block fails the gate until every group can be judged"
        elif check["status"] != "judged":
            message += "; not judged, so it does not block promotion"
        out.append(
            GateResult(
                f"fairness_{check['metric']}[{check['attribute']}]",
                passed,
                round(check["value"], 6) if check.get("value") is not None else None,
                check["limit"],
                message,
            )
        )
    return out


def schema_compatible(
    challenger_columns: list[str], champion_columns: list[str] | None, reason: str | None = None
) -> GateResult:
    if champion_columns is None:
        return GateResult("schema_compatible", True, None, None, "no champion signature to compare with")
    added = sorted(set(challenger_columns) - set(champion_columns))
    removed = sorted(set(champion_columns) - set(challenger_columns))
    if not added and not removed:
        return GateResult(
            "schema_compatible", True, "same inputs", None, "inputs match the champion's signature"
        )
    change = f"added {added or '[]'}, removed {removed or '[]'}"
    if reason:
        return GateResult(
            "schema_compatible", True, change, None, f"inputs changed ({change}); recorded reason: {reason}"
        )
    return GateResult(
        "schema_compatible",
        False,
        change,
        None,
        f"inputs differ from the champion's signature ({change}) and no reason was recorded",
    )


def schema_change(results: list[dict]) -> str | None:
    """The input change a passed ``schema_compatible`` gate recorded (with its reason), or None."""
    gate = next((g for g in results if g["name"] == "schema_compatible"), None)
    if gate is None or gate["observed"] in (None, "same inputs"):
        return None
    return gate["message"]


def latency(
    score, rows: pd.DataFrame, p99_limit_ms: float = 200.0, single_calls: int = 200, threads: int = 1
) -> tuple[GateResult, dict]:
    """p99 of ``score`` (a callable taking a frame: the loaded scoring pyfunc) on one application
    at a time, and batch throughput, measured on ``rows``; ``threads``: the BLAS/OpenMP threads
    the scorer runs on.

    The gate judges CPU time, which other processes cannot inflate the way they stretch wall
    time (a sound model measured 530 ms wall p99 on a loaded 2-core machine, 40 ms idle). With
    one thread every instruction of a call runs on the calling thread, so the calling thread's
    own CPU time is measured: spinning OpenMP workers, the other cost load used to add, are
    not there to count. With more threads the work spreads over the pool and the process's CPU
    time is what a call costs (spinning included). Wall figures are kept for the model card."""
    clock, method = (
        (time.thread_time, "CPU time of the calling thread")
        if threads == 1
        else (time.process_time, f"CPU time of the process ({threads} threads)")
    )
    singles = [rows.iloc[[i % len(rows)]] for i in range(single_calls)]
    score(singles[0])  # the first call pays lazy initialisation
    wall, cpu = [], []
    for row in singles:
        start, start_cpu = time.perf_counter(), clock()
        score(row)
        cpu.append((clock() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    score(rows)
    batch_seconds = time.perf_counter() - start
    p99 = float(np.percentile(cpu, 99))
    stats = {
        "cpu_p50_ms": float(np.percentile(cpu, 50)),
        "cpu_p99_ms": p99,
        "p50_ms": float(np.percentile(wall, 50)),
        "p99_ms": float(np.percentile(wall, 99)),
        "batch_rows_per_second": len(rows) / batch_seconds if batch_seconds > 0 else float("inf"),
        "threads": threads,
        "single_calls": single_calls,
    }
    return GateResult(
        "latency_p99",
        p99 <= p99_limit_ms,
        round(p99, 3),
        p99_limit_ms,
        f"p99 {method} of single-application scoring {p99:.1f} ms over {single_calls} calls on "
        f"{threads} BLAS/OpenMP thread(s) (wall p99 {stats['p99_ms']:.1f} ms); limit {p99_limit_ms} ms",
    ), stats
